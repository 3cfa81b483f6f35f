-- Issue 22: the pages of a sign-in speak the language the application asked for
-- (OpenID Connect Core's ui_locales, space-separated BCP 47 tags, at most 256 characters),
-- so it is kept with the pending request. Requests from before have none and follow the
-- browser's Accept-Language.
ALTER TABLE authorization_requests ADD COLUMN ui_locales TEXT;
