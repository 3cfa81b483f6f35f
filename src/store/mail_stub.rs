//! TEMPORARY stand-in for the outbox of issue 22 item 1 (`Store::enqueue_mail`, being built
//! beside this): the same `NewMail` and `enqueue_mail`, so the self-service flows and their
//! tests work before it lands. It SENDS NOTHING: each message is kept in this process's
//! memory (the tests read it with `sent`) and a warning names its recipient and subject
//! (never its body, which holds a live link). Replaced by the outbox when it lands.

use std::sync::Mutex;

use super::{Store, StoreError};

#[derive(Clone, PartialEq, Eq)]
pub struct NewMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

impl std::fmt::Debug for NewMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

static SENT: Mutex<Vec<NewMail>> = Mutex::new(Vec::new());

/// Every message enqueued in this process (the stand-in's sink).
pub fn sent() -> Vec<NewMail> {
    SENT.lock().map(|s| s.clone()).unwrap_or_default()
}

impl Store {
    pub async fn enqueue_mail(&self, mail: NewMail, _now: i64) -> Result<(), StoreError> {
        tracing::warn!(
            to = %mail.to,
            subject = %mail.subject,
            "no outbound email yet: the message is not sent"
        );
        if let Ok(mut sent) = SENT.lock() {
            // Bounded: a long-running server must not keep every message.
            if sent.len() >= 10_000 {
                sent.clear();
            }
            sent.push(mail);
        }
        Ok(())
    }
}
