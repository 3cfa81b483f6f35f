DROP INDEX initial_access_tokens_expiry_idx;
DROP TABLE initial_access_tokens;
DROP INDEX clients_origin_idx;
ALTER TABLE clients DROP COLUMN logo_uri;
ALTER TABLE clients DROP COLUMN client_uri;
ALTER TABLE clients DROP COLUMN application_type;
ALTER TABLE clients DROP COLUMN registration_token_digest;
ALTER TABLE clients DROP COLUMN last_used_at;
ALTER TABLE clients DROP COLUMN origin;
