-- Issue 20: a client may demand a second factor of every user who signs in through it,
-- whatever their roles. Existing clients keep asking for what they asked for before.
ALTER TABLE clients ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT 0;
