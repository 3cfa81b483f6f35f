-- Rows written with a key cannot be verified by a binary from before this migration.
ALTER TABLE audit_events DROP COLUMN key_id;
