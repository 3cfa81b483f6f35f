-- Second factors (issue 20). A user's TOTP authenticator and passkeys, one row each. A TOTP
-- row holds its secret sealed under the master key (like signing keys) and stays
-- unconfirmed until the first valid code; `last_step` is the last time step accepted, so a
-- code is taken once. A passkey row holds webauthn-rs's credential (public key, counter,
-- backup flags: nothing secret) and its credential id, unique, by which a passkey-only
-- sign-in finds its user.
CREATE TABLE user_factors (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_sealed BLOB,
    credential TEXT,
    credential_id BLOB,
    confirmed BOOLEAN NOT NULL,
    last_step BIGINT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX user_factors_user_idx ON user_factors (user_id);
CREATE UNIQUE INDEX user_factors_credential_id_idx ON user_factors (credential_id);

-- Recovery codes: digests only, each spent once (`used_at`).
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, digest)
);

-- What the client asked for with `acr_values` (space-separated, as sent, known values only),
-- and the WebAuthn ceremony the request's page started (webauthn-rs state as JSON; taken,
-- so used once).
ALTER TABLE authorization_requests ADD COLUMN acr_values TEXT;
ALTER TABLE authorization_requests ADD COLUMN ceremony TEXT;
-- The `acr` a code's ID token states (`oauth::mfa::level::acr_claim`), fixed when the
-- request finished. NULL for codes issued before this column existed: no `acr` then.
ALTER TABLE authorization_codes ADD COLUMN acr TEXT;
-- The passkey registration an account page started for this session (taken when finished).
ALTER TABLE sessions ADD COLUMN ceremony TEXT;
