ALTER TABLE clients DROP COLUMN instance;
