-- The account pages (issue 20) sign their user in through pending requests of a client
-- built into the server, not registered (`oauth::client::ACCOUNT_CLIENT_ID`). It must stay
-- out of the clients table, where /authorize and /token would find it; so a request's
-- client_id no longer references that table. A deleted client's requests are deleted with
-- it by `store::models::clients::delete`, as the cascade did.
-- SQLite cannot drop a constraint: the table is rebuilt with the same columns and indexes.
CREATE TABLE authorization_requests_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    redirect_uri_given BOOLEAN NOT NULL,
    scope TEXT NOT NULL,
    state TEXT,
    nonce TEXT,
    code_challenge TEXT,
    prompt TEXT,
    max_age BIGINT,
    login_hint TEXT,
    csrf_digest BLOB NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    resources TEXT NOT NULL DEFAULT '[]',
    id_token_hint_subject TEXT,
    login_session_id TEXT,
    client_key TEXT,
    acr_values TEXT,
    ceremony TEXT
);
INSERT INTO authorization_requests_rebuilt (
    id, client_id, redirect_uri, redirect_uri_given, scope, state, nonce, code_challenge,
    prompt, max_age, login_hint, csrf_digest, user_id, session_id, created_at, expires_at,
    resources, id_token_hint_subject, login_session_id, client_key, acr_values, ceremony
)
SELECT
    id, client_id, redirect_uri, redirect_uri_given, scope, state, nonce, code_challenge,
    prompt, max_age, login_hint, csrf_digest, user_id, session_id, created_at, expires_at,
    resources, id_token_hint_subject, login_session_id, client_key, acr_values, ceremony
FROM authorization_requests;
DROP TABLE authorization_requests;
ALTER TABLE authorization_requests_rebuilt RENAME TO authorization_requests;
CREATE INDEX authorization_requests_expires_idx ON authorization_requests (expires_at);
CREATE INDEX authorization_requests_client_key_idx ON authorization_requests (client_key, expires_at);
