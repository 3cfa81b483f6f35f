-- Access tokens are self-contained JWTs; revoking one before it expires (RFC 7009) puts
-- its `jti` here until its own `exp`, after which the janitor deletes the row: a token
-- past `exp` is refused anyway, so the list only ever holds live tokens.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expires_idx ON revoked_tokens (expires_at);

-- The janitor deletes throttling rows whose window has closed.
CREATE INDEX login_failures_last_failure_idx ON login_failures (last_failure_at);
-- ... and sessions that went idle (absolute expiry has an index already).
CREATE INDEX sessions_idle_expires_idx ON sessions (idle_expires_at);
