-- Issue 21. Who registered each client (`cli`, `api`, `registration`,
-- `metadata_document`; clients made before this are operators' from the CLI), when a token
-- was last issued to it (written at most once an hour, for the janitor's idle rule), and
-- what dynamic registration keeps of it: the digest of its RFC 7592 registration access
-- token, its OIDC `application_type`, `client_uri` and `logo_uri`.
ALTER TABLE clients ADD COLUMN origin TEXT NOT NULL DEFAULT 'cli';
ALTER TABLE clients ADD COLUMN last_used_at BIGINT;
ALTER TABLE clients ADD COLUMN registration_token_digest BLOB;
ALTER TABLE clients ADD COLUMN application_type TEXT;
ALTER TABLE clients ADD COLUMN client_uri TEXT;
ALTER TABLE clients ADD COLUMN logo_uri TEXT;
CREATE INDEX clients_origin_idx ON clients (origin);

-- RFC 7591 initial access tokens: digests only, a count of uses left and an expiry; each
-- registration spends one use in the transaction that creates its client. The janitor
-- deletes spent and expired ones.
CREATE TABLE initial_access_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    digest BLOB NOT NULL UNIQUE,
    uses_left BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX initial_access_tokens_expiry_idx ON initial_access_tokens (expires_at);
