ALTER TABLE authorization_requests DROP COLUMN login_session_id;
ALTER TABLE authorization_requests DROP COLUMN id_token_hint_subject;
