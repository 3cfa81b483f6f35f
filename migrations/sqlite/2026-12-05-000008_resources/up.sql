-- RFC 8707 resource indicators. `clients.resources` is the allow-list of resource URIs a
-- client may name (a JSON list, like the other list columns); the request, the code and
-- the grant carry what was granted from it, so the access token's `aud` and every refresh
-- stay within what the user's authorization covered. '[]' means "this server only".
ALTER TABLE clients ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE authorization_requests ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE authorization_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
ALTER TABLE grants ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
