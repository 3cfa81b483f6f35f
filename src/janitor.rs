//! Keeps storage bounded: every replica runs a janitor that deletes expired codes,
//! pending authorization requests, sessions, refresh tokens and grants, deny-list rows and
//! throttling rows, a bounded batch at a time. It also writes each closed window of
//! throttled login attempts to the audit chain as one event, and prunes audit rows older
//! than `audit.retention_days` behind a checkpoint (see `crate::audit`). Replicas take
//! turns by lease so the work is not repeated, but nothing breaks if two purge at once
//! (see `store::models::janitor`; a window is written once, a prune is serialised).
//! Clients that registered themselves and have gone unused for `registration.idle_days`
//! are deleted too, each with its audit event (`idle_clients`). Sent and failed mail leaves
//! the outbox `email.keep_days` after it finished.

use crate::audit::{self, AuditActor, AuditEvent, Pruned};
use crate::config::Config;
use crate::store::audit::Change;
use crate::store::models::clients as client_rows;
use crate::store::models::janitor::Purgeable;
use crate::store::models::keys as leases;
use crate::store::{Store, StoreError};
use crate::telemetry::Metrics;

const LEASE: &str = leases::JANITOR_LEASE;

/// A server's presence (`store::models::keys::note_replica`) lasts this many janitor
/// intervals, so a tick or two late does not make it look gone.
pub const REPLICA_TICKS: i64 = 3;

/// A consumed code is kept this long after it expires, so a replay still finds it and
/// revokes what the first exchange issued.
pub const CODE_REPLAY_MEMORY_SECS: i64 = 600;

/// What one run did, per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub purged: Vec<(&'static str, usize)>,
    pub rows: Vec<(&'static str, i64)>,
}

impl Report {
    pub fn purged(&self, table: &str) -> usize {
        self.purged
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }
}

/// The moment before which a row of `table` is dead at `now`.
fn cutoff(config: &Config, table: Purgeable, now: i64) -> i64 {
    match table {
        // Deny-list rows already carry the clock skew in their expiry.
        Purgeable::AuthorizationRequests
        | Purgeable::Sessions
        | Purgeable::RefreshTokens
        | Purgeable::RevokedTokens
        | Purgeable::InitialAccessTokens
        | Purgeable::AccountTokens => now,
        Purgeable::AuthorizationCodes => now - CODE_REPLAY_MEMORY_SECS,
        // Sent and failed messages are kept a while for diagnosis (`email.keep_days`).
        Purgeable::MailOutbox => now.saturating_sub(config.email.keep_secs),
        // Judged by the database's clock instead (see `Purgeable::purge`).
        Purgeable::ReplicaLeases => now,
        // Tokens are accepted up to `clock_skew` past `exp`, and a missing grant counts as
        // revoked: grants outlive their expiry by as much.
        Purgeable::Grants => now - config.tokens.clock_skew,
        // A throttling row matters while its failures count or its lock lasts.
        Purgeable::LoginFailures => {
            let (user, ip) = (&config.login.user, &config.login.ip);
            let longest = [
                user.window_secs,
                user.lock_secs,
                user.max_delay_secs,
                ip.window_secs,
                ip.lock_secs,
                ip.max_delay_secs,
            ]
            .into_iter()
            .max()
            .unwrap_or(0);
            now - longest
        }
    }
}

/// Purges every table once (up to `max_batches` statements each) and counts what is
/// left. Used by the background task and directly by tests with a moved clock.
pub async fn purge(store: &Store, config: &Config, now: i64) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let (limit, max_batches) = (
        i64::from(config.janitor.batch_size),
        config.janitor.max_batches,
    );
    for table in Purgeable::ALL {
        let before = cutoff(config, table, now);
        let mut total = 0;
        for _ in 0..max_batches {
            // One statement per `run`: each batch commits on its own and holds its
            // locks only as long as it takes.
            let n = store
                .run(move |conn| table.purge(conn, before, limit))
                .await?;
            total += n;
            if i64::try_from(n).unwrap_or(i64::MAX) < limit {
                break;
            }
        }
        report.purged.push((table.table(), total));
        let rows = store.run(move |conn| table.count(conn)).await?;
        report.rows.push((table.table(), rows));
    }
    audit_volume(store, config, now, &mut report).await?;
    idle_clients(store, config, now, &mut report).await?;
    Ok(report)
}

/// Origins whose clients the janitor deletes when idle: the self-registered ones.
const IDLE_ORIGINS: [&str; 2] = ["registration", "metadata_document"];

/// Deletes self-registered clients no token was issued to for `registration.idle_days`
/// (or, never used, registered that long ago), each in a transaction of its own with its
/// `client.idle_deleted` event. Whether it is still idle is decided again on the locked
/// row, so a client used (or promoted) meanwhile stays. Its grants and tokens go with it.
async fn idle_clients(
    store: &Store,
    config: &Config,
    now: i64,
    report: &mut Report,
) -> Result<(), StoreError> {
    let before = now.saturating_sub(config.registration.idle_secs);
    let idle_days = config.registration.idle_secs / 86_400;
    let limit = i64::from(config.janitor.batch_size);
    let mut deleted = 0;
    for _ in 0..config.janitor.max_batches {
        let idle = store
            .run(move |conn| client_rows::idle(conn, &IDLE_ORIGINS, before, limit))
            .await?;
        let found = idle.len();
        for client_id in idle {
            let gone = store
                .run_audited(Change::Revokes, now, None, move |conn| {
                    let Some(record) = client_rows::lock(conn, &client_id)? else {
                        return Ok(None);
                    };
                    let row = &record.row;
                    let still_idle = IDLE_ORIGINS.contains(&row.origin.as_str())
                        && row.last_used_at.unwrap_or(row.created_at) < before;
                    if !still_idle {
                        return Ok(None);
                    }
                    client_rows::delete(conn, &client_id)?;
                    let event = AuditEvent::new("client.idle_deleted")
                        .by(AuditActor::System)
                        .subject(client_id)
                        .details(serde_json::json!({
                            "origin": row.origin,
                            "created_at": row.created_at,
                            "last_used_at": row.last_used_at,
                            "idle_days": idle_days,
                        }));
                    Ok(Some(((), event)))
                })
                .await?;
            if gone.is_some() {
                deleted += 1;
            }
        }
        if i64::try_from(found).unwrap_or(i64::MAX) < limit {
            break;
        }
    }
    if deleted > 0 {
        // What is cached of clients (the browser origins) is read again.
        store.note_client_change();
    }
    report.purged.push(("clients", deleted));
    Ok(())
}

/// The audit log's share: closed windows of throttled attempts become events (counted as
/// `audit_throttled` rows purged), then rows past `audit.retention_days` are pruned
/// (`audit_events`), each batch in a transaction of its own behind its own checkpoint.
async fn audit_volume(
    store: &Store,
    config: &Config,
    now: i64,
    report: &mut Report,
) -> Result<(), StoreError> {
    let (limit, max_batches) = (
        i64::from(config.janitor.batch_size),
        config.janitor.max_batches,
    );
    let mut flushed = 0;
    for _ in 0..max_batches {
        let n = audit::flush_throttled(store, now, limit).await?;
        flushed += n;
        if i64::try_from(n).unwrap_or(i64::MAX) < limit {
            break;
        }
    }
    report.purged.push(("audit_throttled", flushed));
    let pending = store
        .run(crate::store::models::audit::count_pending_throttled)
        .await?;
    report.rows.push(("audit_throttled", pending));

    let Some(days) = config.audit.retention_days else {
        return Ok(());
    };
    let before = now.saturating_sub(days.saturating_mul(86_400));
    let mut pruned = 0;
    for _ in 0..max_batches {
        match audit::prune(store, before, now, limit).await {
            Ok(Pruned::Rows {
                from_seq,
                through_seq,
                ..
            }) => {
                pruned += usize::try_from(through_seq - from_seq + 1).unwrap_or(0);
            }
            Ok(Pruned::Nothing) => break,
            Ok(Pruned::Refused(broken)) => {
                // Kept as evidence; the operator has to look (`audit verify`).
                tracing::error!(
                    seq = broken.seq,
                    reason = broken.reason,
                    "audit rows not pruned: the chain does not verify there"
                );
                break;
            }
            // Another replica pruned the same rows meanwhile: its checkpoint stands.
            Err(StoreError::Conflict) => break,
            Err(err) => return Err(err),
        }
    }
    report.purged.push(("audit_events", pruned));
    Ok(())
}

/// One tick of the background task: purge if this replica gets the lease.
pub async fn tick(
    store: &Store,
    config: &Config,
    metrics: &Metrics,
    holder: &str,
    now: i64,
) -> Result<Option<Report>, StoreError> {
    let lease_secs = i64::try_from(config.janitor.interval.as_secs()).unwrap_or(60);
    // Every server says it is here, lease or not (`crate::manage::doctor` counts them).
    let (h, present_until) = (holder.to_owned(), now + REPLICA_TICKS * lease_secs);
    store
        .run(move |conn| leases::note_replica(conn, &h, now, present_until))
        .await?;
    let (h, until) = (holder.to_owned(), now + lease_secs);
    let leased = store
        .run(move |conn| leases::try_lease(conn, LEASE, &h, now, until))
        .await?;
    if !leased {
        metrics.janitor_runs.with_label_values(&["skipped"]).inc();
        return Ok(None);
    }
    let report = purge(store, config, now).await?;
    for (table, n) in &report.purged {
        metrics
            .janitor_purged
            .with_label_values(&[table])
            .inc_by(u64::try_from(*n).unwrap_or(0));
    }
    for (table, n) in &report.rows {
        metrics.table_rows.with_label_values(&[table]).set(*n);
    }
    metrics.janitor_runs.with_label_values(&["purged"]).inc();
    metrics.janitor_succeeded_at.set(now);
    let total: usize = report.purged.iter().map(|(_, n)| n).sum();
    if total > 0 {
        tracing::info!(purged = total, "janitor purged expired rows");
    }
    Ok(Some(report))
}
