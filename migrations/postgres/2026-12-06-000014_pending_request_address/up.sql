-- The network a pending authorization request came from (the rate limits' counting key:
-- an IPv4 address, or an IPv6 network of `rate_limit.ipv6_prefix_len` bits), so an
-- unauthenticated flood can be refused once one address holds
-- `authorize.max_pending_per_address` live requests. NULL for rows stored before this
-- column existed, and when the server saw no peer address: those count only in total.
ALTER TABLE authorization_requests ADD COLUMN client_key TEXT;
CREATE INDEX authorization_requests_client_key_idx ON authorization_requests (client_key, expires_at);
