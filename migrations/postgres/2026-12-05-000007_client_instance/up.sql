-- Which registration of a client_id a row is. A client deleted and registered again with
-- the same client_id gets a new value, and access tokens carry the value they were issued
-- under (`client_instance`), so the old registration's tokens never come back to life.
-- Not a secret: only ever compared for equality, never used to authenticate, so
-- md5 over random() is enough for rows that exist already; new rows get a v4 UUID.
ALTER TABLE clients ADD COLUMN instance TEXT;
UPDATE clients SET instance = md5(client_id || random()::text || clock_timestamp()::text);
ALTER TABLE clients ALTER COLUMN instance SET NOT NULL;
