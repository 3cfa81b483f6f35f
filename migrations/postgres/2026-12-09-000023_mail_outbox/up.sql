-- Issue 22. Outbound mail waits here until the background worker (`crate::mail`) has
-- handed it to the mail server, so a request never waits on SMTP and an unreachable server
-- loses nothing. `state` is `queued`, `sent` or `failed` (given up after
-- `email.max_attempts` or `email.give_up_after_secs`). A replica claims a row by setting
-- `claimed_by` and `claimed_until` in one guarded UPDATE, so two replicas never send one
-- message; a claim that runs out (a replica died mid-send) lets another try again. Sent and
-- failed rows are deleted by the janitor after `email.keep_days`.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by TEXT,
    claimed_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (state, next_attempt_at);
CREATE INDEX mail_outbox_finished_idx ON mail_outbox (finished_at);
