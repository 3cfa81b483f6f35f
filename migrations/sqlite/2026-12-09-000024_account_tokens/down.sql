ALTER TABLE users DROP COLUMN pending_email;
DROP INDEX account_tokens_user_idx;
DROP INDEX account_tokens_expiry_idx;
DROP TABLE account_tokens;
