-- Signing keys and their lifecycle: pending (published, not signing) -> active (signs)
-- -> retired (published until every token it signed has expired) -> deleted.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'retired')),
    -- AES-256-GCM sealed PKCS#8 (see src/crypto/key_material.rs); never plaintext.
    sealed_private_key BLOB NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    activate_after BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at BIGINT,
    delete_after BIGINT
);
-- The database itself refuses a second active (or pending) key for one algorithm,
-- whatever replicas race to do.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE status = 'active';
CREATE UNIQUE INDEX signing_keys_one_pending ON signing_keys (alg) WHERE status = 'pending';

-- Short leases so that one replica at a time runs a background job (key rotation).
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
