-- Issue 22: a person sees their browser sessions on /account/sessions (and operators in the
-- admin API): from which device (the User-Agent it signed in with, at most 512 characters)
-- and address (the client address as the rate limiter sees it: the peer, or the forwarded
-- address from a trusted proxy; updated with last_seen_at, in the same statement).
-- Sessions from before have neither and show as unknown.
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
ALTER TABLE sessions ADD COLUMN ip TEXT;
