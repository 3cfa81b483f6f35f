-- A grant is what a user (or client) authorised a client to do; every refresh token and
-- every access token issued under it carries its id, so revoking the grant revokes them
-- all (introspection and userinfo check revoked_at).
CREATE TABLE grants (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    auth_time BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX grants_expires_idx ON grants (expires_at);
CREATE INDEX grants_user_idx ON grants (user_id);

-- Refresh tokens are stored as SHA-256 digests; each is used once (rotated_at), and a
-- second use of a rotated one revokes its grant.
CREATE TABLE refresh_tokens (
    digest BYTEA PRIMARY KEY NOT NULL,
    grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT
);
CREATE INDEX refresh_tokens_grant_idx ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Failed logins per key (`user:<name>` or `ip:<addr>`), shared by every replica and by
-- both the login page and the password grant.
CREATE TABLE login_failures (
    throttle_key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    window_start BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL
);
