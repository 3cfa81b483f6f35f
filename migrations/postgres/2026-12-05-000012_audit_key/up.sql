-- The audit chain becomes keyed (HMAC-SHA-256): each new row names the audit key that
-- links it. Rows written before have no key id and keep their plain SHA-256 links; the
-- first keyed row (`audit.chain_keyed`, written when this migration is applied) seals them.
ALTER TABLE audit_events ADD COLUMN key_id TEXT;
