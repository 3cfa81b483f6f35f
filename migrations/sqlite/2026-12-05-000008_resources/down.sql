ALTER TABLE grants DROP COLUMN resources;
ALTER TABLE authorization_codes DROP COLUMN resources;
ALTER TABLE authorization_requests DROP COLUMN resources;
ALTER TABLE clients DROP COLUMN resources;
