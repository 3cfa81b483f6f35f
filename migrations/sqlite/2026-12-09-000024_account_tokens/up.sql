-- Issue 22. Single-use account tokens: the links mailed to verify an address, to reset a
-- password and to finish a self sign-up. Only the SHA-256 digest of a token is stored;
-- `consumed_at` is set by one guarded UPDATE, so of two redemptions one wins. A sign-up
-- has no user yet: its token carries the chosen username and password hash, and the user
-- row is made only when the address is verified. The janitor deletes expired rows.
CREATE TABLE account_tokens (
    digest BLOB PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    email TEXT,
    username TEXT,
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX account_tokens_expiry_idx ON account_tokens (expires_at);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id);

-- An address a user asked to change to, in force only once verified; until then `email`
-- (and `email_verified`) stay as they were.
ALTER TABLE users ADD COLUMN pending_email TEXT;
