-- The subject of the id_token_hint an authorization request carried (OpenID Connect Core
-- 3.1.2.1): the request may only finish for that user, so the hint is verified once at
-- /authorize and its subject frozen with the request's other parameters.
ALTER TABLE authorization_requests ADD COLUMN id_token_hint_subject TEXT;
-- The session whose login was made for this request. `session_id` is also set when a
-- session is shown the consent page or chosen on the account page; only a login made for
-- the request satisfies `prompt=login` and `max_age` whenever it is checked.
ALTER TABLE authorization_requests ADD COLUMN login_session_id TEXT;
