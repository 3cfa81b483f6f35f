DROP INDEX sessions_idle_expires_idx;
DROP INDEX login_failures_last_failure_idx;
DROP TABLE revoked_tokens;
