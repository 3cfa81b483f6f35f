//! The outbox worker (issue 22): every replica runs one, like the janitor. It claims due
//! messages from the outbox one at a time (`Store::claim_mail`: a claim is one guarded
//! update, so two replicas never hold, and so never send, the same message), hands each to
//! the mailer (`outbound::mail`: SMTP, or the log in development) and records the outcome.
//! A failed attempt is retried with exponential backoff (`RETRY_BASE_SECS` doubling up to
//! `RETRY_MAX_SECS`); after `email.max_attempts` attempts, `email.give_up_after_secs` after
//! it was enqueued, or a refusal the server says is final, the message is marked failed
//! and logged without its body. A request that enqueues mail never waits on any of this,
//! and an unreachable mail server loses nothing: the message waits in the database.
//!
//! Delivery is at least once: a replica that stops between the server's acceptance and
//! the row's update leaves a claim that runs out (`Mailer::max_send_time` plus
//! `CLAIM_MARGIN_SECS`), and the message is sent again.

use crate::clock::SharedClock;
use crate::config::EmailConfig;
use crate::outbound::mail::Mailer;
use crate::store::{OutboxMail, Store, StoreError};
use crate::telemetry::Metrics;

/// The first retry waits this long; each further one twice as long as the one before.
pub const RETRY_BASE_SECS: i64 = 30;
/// The longest wait between two attempts.
pub const RETRY_MAX_SECS: i64 = 3600;
/// A claim outlives the longest send by this much, so a slow send is not taken over.
pub const CLAIM_MARGIN_SECS: i64 = 60;
/// Messages one tick sends at most before it looks at the clock and the gauge again.
const MAX_PER_TICK: usize = 100;

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

/// How long to wait after failed attempt number `attempts` (1 for the first).
pub fn backoff_secs(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    RETRY_BASE_SECS
        .saturating_mul(1_i64 << doublings)
        .min(RETRY_MAX_SECS)
}

/// Sends what is due: claims, sends and records one message at a time until none is due
/// (or `MAX_PER_TICK`), reading the clock for each. `holder` names this worker in claims.
pub async fn tick(
    store: &Store,
    mailer: &Mailer,
    config: &EmailConfig,
    metrics: &Metrics,
    clock: &SharedClock,
    holder: &str,
) -> Result<TickReport, StoreError> {
    let mut report = TickReport::default();
    let claim_secs = i64::try_from(mailer.max_send_time().as_secs())
        .unwrap_or(i64::MAX)
        .saturating_add(CLAIM_MARGIN_SECS);
    for _ in 0..MAX_PER_TICK {
        let now = clock.now();
        let claimed = store
            .claim_mail(holder, now, now.saturating_add(claim_secs), 1)
            .await?;
        let Some(message) = claimed.into_iter().next() else {
            break;
        };
        deliver(
            store,
            mailer,
            config,
            metrics,
            clock,
            holder,
            message,
            &mut report,
        )
        .await?;
    }
    metrics.mail_queued.set(store.mail_queued().await?);
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn deliver(
    store: &Store,
    mailer: &Mailer,
    config: &EmailConfig,
    metrics: &Metrics,
    clock: &SharedClock,
    holder: &str,
    message: OutboxMail,
    report: &mut TickReport,
) -> Result<(), StoreError> {
    let attempt = message.attempts.saturating_add(1);
    let outcome = mailer.send(&message.mail).await;
    let now = clock.now();
    match outcome {
        Ok(()) => {
            if !store.mail_sent(&message.id, holder, attempt, now).await? {
                // Our claim ran out mid-send and another worker has it now: it may send
                // it again (delivery is at least once), but its row is its own.
                tracing::warn!(mail_id = %message.id, "email sent after its claim ran out");
            }
            metrics.mail_sent.inc();
            report.sent += 1;
            tracing::info!(mail_id = %message.id, attempt, "email sent");
        }
        Err(err) => {
            let too_many = attempt >= i64::from(config.max_attempts);
            let too_old = now.saturating_sub(message.created_at) >= config.give_up_after;
            if err.permanent || too_many || too_old {
                store
                    .mail_failed(&message.id, holder, attempt, None, &err.reason, now)
                    .await?;
                metrics.mail_failed.inc();
                report.failed += 1;
                // Never the body: it may hold a single-use link.
                tracing::error!(
                    mail_id = %message.id,
                    attempts = attempt,
                    permanent = err.permanent,
                    error = %err.reason,
                    "email given up and marked failed"
                );
            } else {
                let wait = backoff_secs(attempt);
                store
                    .mail_failed(
                        &message.id,
                        holder,
                        attempt,
                        Some(now.saturating_add(wait)),
                        &err.reason,
                        now,
                    )
                    .await?;
                metrics.mail_retried.inc();
                report.retried += 1;
                tracing::warn!(
                    mail_id = %message.id,
                    attempt,
                    retry_in_secs = wait,
                    error = %err.reason,
                    "email not sent; will retry"
                );
            }
        }
    }
    Ok(())
}

/// The background task `app` spawns on every replica: a tick every
/// `email.poll_interval_secs`, and at once when this replica enqueues a message.
pub async fn run(
    store: Store,
    mailer: Mailer,
    config: EmailConfig,
    metrics: Metrics,
    clock: SharedClock,
) {
    let holder = uuid::Uuid::now_v7().to_string();
    loop {
        if let Err(err) = tick(&store, &mailer, &config, &metrics, &clock, &holder).await {
            tracing::warn!(error = %err, "mail worker tick failed; retrying at the next");
        }
        tokio::select! {
            () = tokio::time::sleep(config.poll_interval) => {}
            () = store.mail_enqueued() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
        let waits: Vec<i64> = (1..=9).map(backoff_secs).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff_secs(0), 30);
        assert_eq!(backoff_secs(i64::MAX), 3600);
    }
}
