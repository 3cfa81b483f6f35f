ALTER TABLE authorization_codes DROP COLUMN acr;
ALTER TABLE sessions DROP COLUMN ceremony;
ALTER TABLE authorization_requests DROP COLUMN ceremony;
ALTER TABLE authorization_requests DROP COLUMN acr_values;
DROP TABLE recovery_codes;
DROP INDEX user_factors_credential_id_idx;
DROP INDEX user_factors_user_idx;
DROP TABLE user_factors;
