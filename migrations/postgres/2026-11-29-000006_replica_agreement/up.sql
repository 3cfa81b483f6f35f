-- Agreement across replicas without a database round trip per introspection.
--
-- `revocation_epoch.epoch` counts every change that can end a live token: a jti put on
-- the deny-list, a grant revoked or deleted, a user or client disabled, renamed or
-- deleted. Triggers bump it, so no code path (nor an operator's hand-written SQL) can
-- forget to. A replica may answer introspection from what it remembers only while it
-- holds an unexpired row in `replica_leases`, and it writes `epoch` there only after it
-- has dropped everything remembered under older epochs. Whoever revokes waits until
-- every live lease shows the new epoch or has expired (see `store::agreement`): when
-- the revocation answers, no replica can still say `active: true`.
CREATE TABLE revocation_epoch (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO revocation_epoch (id, epoch) VALUES (1, 0);

-- Expiry in milliseconds of the database's own clock, so replicas' clocks never meet.
CREATE TABLE replica_leases (
    id TEXT PRIMARY KEY NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

CREATE FUNCTION portcullis_bump_revocation_epoch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

-- Statement-level, once per statement that touched a row: the janitor's batched deletes
-- bump once, and a delete that matched nothing does not bump at all.
CREATE FUNCTION portcullis_bump_revocation_epoch_if_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed) THEN
        UPDATE revocation_epoch SET epoch = epoch + 1 WHERE id = 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER revoked_tokens_bump_epoch AFTER INSERT ON revoked_tokens
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_bump_revocation_epoch_if_rows();

CREATE TRIGGER grants_revoked_bump_epoch AFTER UPDATE ON grants
    FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION portcullis_bump_revocation_epoch();
CREATE TRIGGER grants_deleted_bump_epoch AFTER DELETE ON grants
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_bump_revocation_epoch_if_rows();

CREATE TRIGGER users_changed_bump_epoch AFTER UPDATE ON users
    FOR EACH ROW WHEN (OLD.disabled IS DISTINCT FROM NEW.disabled
        OR OLD.username IS DISTINCT FROM NEW.username)
    EXECUTE FUNCTION portcullis_bump_revocation_epoch();
CREATE TRIGGER users_deleted_bump_epoch AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_bump_revocation_epoch_if_rows();

CREATE TRIGGER clients_changed_bump_epoch AFTER UPDATE ON clients
    FOR EACH ROW WHEN (OLD.disabled IS DISTINCT FROM NEW.disabled)
    EXECUTE FUNCTION portcullis_bump_revocation_epoch();
CREATE TRIGGER clients_deleted_bump_epoch AFTER DELETE ON clients
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_bump_revocation_epoch_if_rows();
