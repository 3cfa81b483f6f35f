-- Back to a client_id that references the clients table: the account pages' requests,
-- whose client is not registered, go first.
DELETE FROM authorization_requests WHERE client_id NOT IN (SELECT client_id FROM clients);
ALTER TABLE authorization_requests
    ADD CONSTRAINT authorization_requests_client_id_fkey
    FOREIGN KEY (client_id) REFERENCES clients (client_id) ON DELETE CASCADE;
