-- Back to a client_id that references the clients table: the account pages' requests,
-- whose client is not registered, go first.
DELETE FROM authorization_requests WHERE client_id NOT IN (SELECT client_id FROM clients);
CREATE TABLE authorization_requests_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
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
