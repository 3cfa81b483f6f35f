-- Which registration of a client_id a row is. A client deleted and registered again with
-- the same client_id gets a new value, and access tokens carry the value they were issued
-- under (`client_instance`), so the old registration's tokens never come back to life.
-- Not a secret: only ever compared for equality, never used to authenticate.
ALTER TABLE clients ADD COLUMN instance TEXT NOT NULL DEFAULT '';
UPDATE clients SET instance = lower(hex(randomblob(16)));
