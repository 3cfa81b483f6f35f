-- The same counter and leases as on Postgres (see that migration for the protocol).
-- SQLite triggers are per row only; a batched delete bumps once per row, which costs
-- nothing that matters in-process.
CREATE TABLE revocation_epoch (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO revocation_epoch (id, epoch) VALUES (1, 0);

CREATE TABLE replica_leases (
    id TEXT PRIMARY KEY NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

CREATE TRIGGER revoked_tokens_bump_epoch AFTER INSERT ON revoked_tokens
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER grants_revoked_bump_epoch AFTER UPDATE OF revoked_at ON grants
    WHEN OLD.revoked_at IS NOT NEW.revoked_at
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER grants_deleted_bump_epoch AFTER DELETE ON grants
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER users_changed_bump_epoch AFTER UPDATE OF disabled, username ON users
    WHEN OLD.disabled IS NOT NEW.disabled OR OLD.username IS NOT NEW.username
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER users_deleted_bump_epoch AFTER DELETE ON users
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;

CREATE TRIGGER clients_changed_bump_epoch AFTER UPDATE OF disabled ON clients
    WHEN OLD.disabled IS NOT NEW.disabled
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER clients_deleted_bump_epoch AFTER DELETE ON clients
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
