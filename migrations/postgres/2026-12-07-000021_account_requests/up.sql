-- The account pages (issue 20) sign their user in through pending requests of a client
-- built into the server, not registered (`oauth::client::ACCOUNT_CLIENT_ID`). It must stay
-- out of the clients table, where /authorize and /token would find it; so a request's
-- client_id no longer references that table. A deleted client's requests are deleted with
-- it by `store::models::clients::delete`, as the cascade did.
ALTER TABLE authorization_requests DROP CONSTRAINT authorization_requests_client_id_fkey;
