-- Login attempts refused by the throttle before any password check, counted per throttling
-- key and fixed window instead of one audit row each (issue 19). The janitor turns every
-- closed window into one `login.throttled` event of the audit chain with its count, and
-- deletes the row in the same transaction.
CREATE TABLE audit_throttled (
    throttle_key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    -- The window's end as configured when it began: a later change of
    -- `audit.throttled_window_secs` does not move windows already counting.
    window_end BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (throttle_key, window_start)
);
CREATE INDEX audit_throttled_end_idx ON audit_throttled (window_end);
