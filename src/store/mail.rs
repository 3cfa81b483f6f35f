//! The outbox, as the rest of the server sees it: `enqueue_mail` writes a message for the
//! background worker (`crate::mail`) to send, and returns without waiting on any mail
//! server. The worker's side (claim, sent, failed) is here too. Plain types in and out.

use super::models::mail::{self as rows, MailRow};
use super::{Store, StoreError};

/// A message to send: one recipient, a subject, a plain-text body and optionally an HTML
/// alternative (sent together as `multipart/alternative`).
#[derive(Clone, PartialEq, Eq)]
pub struct NewMail {
    /// One address (`alice@example.com`); a malformed one is given up on by the worker,
    /// so callers check addresses they take from people before they get here.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

// Bodies carry single-use links (password reset, verification): never in Debug output.
impl std::fmt::Debug for NewMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A claimed message as the worker sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: String,
    pub mail: NewMail,
    /// Attempts made before this one.
    pub attempts: i64,
    pub created_at: i64,
}

impl std::fmt::Debug for OutboxMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMail")
            .field("id", &self.id)
            .field("mail", &self.mail)
            .field("attempts", &self.attempts)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// What became of one message (tests and diagnostics): no bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailStatus {
    pub id: String,
    pub to: String,
    pub subject: String,
    /// `queued`, `sent` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub finished_at: Option<i64>,
}

impl NewMail {
    /// The row `enqueue_mail` writes, for callers in the store that enqueue a message in
    /// the same transaction as the change it reports (`models::mail::insert`).
    pub fn into_row(self, now: i64) -> MailRow {
        MailRow {
            id: uuid::Uuid::now_v7().to_string(),
            recipient: self.to,
            subject: self.subject,
            body_text: self.text,
            body_html: self.html,
            state: rows::QUEUED.into(),
            attempts: 0,
            next_attempt_at: now,
            claimed_by: None,
            claimed_until: None,
            last_error: None,
            created_at: now,
            finished_at: None,
        }
    }
}

impl Store {
    /// Writes `mail` to the outbox, due at once; the worker sends it (on this replica
    /// right away, woken by `mail_enqueued`) and retries while the mail server is away.
    pub async fn enqueue_mail(&self, mail: NewMail, now: i64) -> Result<(), StoreError> {
        let row = mail.into_row(now);
        self.run(move |conn| rows::insert(conn, &row)).await?;
        self.mail_waiting.notify_one();
        Ok(())
    }

    /// For callers that insert with `models::mail::insert` inside a transaction of their
    /// own: after it commits, wakes this replica's worker as `enqueue_mail` does.
    pub fn note_mail_enqueued(&self) {
        self.mail_waiting.notify_one();
    }

    /// Resolves when a message was enqueued through this `Store` since the last time it
    /// resolved (the worker waits on it between polls).
    pub async fn mail_enqueued(&self) {
        self.mail_waiting.notified().await;
    }

    /// Claims up to `limit` due messages for `holder` until `until` (see
    /// `models::mail::claim`: no two holders get the same message).
    pub async fn claim_mail(
        &self,
        holder: &str,
        now: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let holder = holder.to_owned();
        let claimed = self
            .run(move |conn| rows::claim(conn, &holder, now, until, limit))
            .await?;
        Ok(claimed
            .into_iter()
            .map(|row| OutboxMail {
                id: row.id,
                mail: NewMail {
                    to: row.recipient,
                    subject: row.subject,
                    text: row.body_text,
                    html: row.body_html,
                },
                attempts: row.attempts,
                created_at: row.created_at,
            })
            .collect())
    }

    /// `holder` sent message `id` in attempt number `attempts`. False when its claim had
    /// run out and another replica holds the message now.
    pub async fn mail_sent(
        &self,
        id: &str,
        holder: &str,
        attempts: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (id, holder) = (id.to_owned(), holder.to_owned());
        self.run(move |conn| rows::sent(conn, &id, &holder, attempts, now))
            .await
    }

    /// Attempt number `attempts` of `holder` failed with `error` (never the body): retry
    /// at `retry_at`, or give up for good when it is `None`.
    pub async fn mail_failed(
        &self,
        id: &str,
        holder: &str,
        attempts: i64,
        retry_at: Option<i64>,
        error: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (id, holder, error) = (id.to_owned(), holder.to_owned(), error.to_owned());
        self.run(move |conn| {
            rows::failed_attempt(conn, &id, &holder, attempts, retry_at, &error, now)
        })
        .await
    }

    /// Messages waiting to be sent (the `mail_queued` gauge).
    pub async fn mail_queued(&self) -> Result<i64, StoreError> {
        self.run(rows::count_queued).await
    }

    /// Every message in the outbox, oldest first, without bodies.
    pub async fn mail_statuses(&self) -> Result<Vec<MailStatus>, StoreError> {
        let rows = self.run(rows::all).await?;
        Ok(rows
            .into_iter()
            .map(|row| MailStatus {
                id: row.id,
                to: row.recipient,
                subject: row.subject,
                state: row.state,
                attempts: row.attempts,
                next_attempt_at: row.next_attempt_at,
                last_error: row.last_error,
                finished_at: row.finished_at,
            })
            .collect())
    }
}
