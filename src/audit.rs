//! Security events, stored as a hash chain (each row commits to the one before it) and
//! echoed to the log as structured lines for log shippers. Details never carry secrets:
//! callers pass identifiers, never passwords, tokens or client secrets.

use diesel::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::encoding::hex;
use crate::store::models::audit::{self as rows, AuditRow};
use crate::store::{DbConnection, Store, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    pub event_type: &'static str,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn new(event_type: &'static str) -> Self {
        Self {
            event_type,
            actor: None,
            subject: None,
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// The bytes a row's hash covers, in a fixed field order.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    id: &'a str,
    occurred_at: i64,
    event_type: &'a str,
    actor: Option<&'a str>,
    subject: Option<&'a str>,
    details: &'a str,
}

pub fn chain_hash(prev_hash: &[u8], row: &AuditRow) -> Result<Vec<u8>, serde_json::Error> {
    let canonical = serde_json::to_vec(&Canonical {
        seq: row.seq,
        id: &row.id,
        occurred_at: row.occurred_at,
        event_type: &row.event_type,
        actor: row.actor.as_deref(),
        subject: row.subject.as_deref(),
        details: &row.details,
    })?;
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(&canonical);
    Ok(hasher.finalize().to_vec())
}

/// Appends an event to the chain and echoes it to the log (target `audit`; one JSON line
/// per event with `log.format = "json"`), with its sequence number and hash so a log
/// archive can anchor the chain's head.
pub async fn record(store: &Store, now: i64, event: AuditEvent) -> Result<(), StoreError> {
    let stored = {
        let event = event.clone();
        store.run(move |conn| append_alone(conn, now, &event)).await
    };
    match &stored {
        Ok(row) => log_event(&event, row),
        Err(err) => tracing::warn!(
            target: "audit",
            event_type = event.event_type,
            actor = event.actor.as_deref(),
            subject = event.subject.as_deref(),
            details = %event.details,
            error = %err,
            "audit event NOT stored"
        ),
    }
    stored.map(|_| ())
}

/// Logs an event that `append` stored.
pub fn log_event(event: &AuditEvent, row: &AuditRow) {
    tracing::info!(
        target: "audit",
        seq = row.seq,
        hash = %hex(&row.hash),
        occurred_at = row.occurred_at,
        event_type = event.event_type,
        actor = event.actor.as_deref(),
        subject = event.subject.as_deref(),
        details = %event.details,
        "audit event"
    );
}

/// Appends an event on `conn` (inside the caller's transaction, if any, so a change and
/// its audit row commit together). Concurrent writers race for the next sequence number;
/// the loser's insert fails on the primary key and it retries on the new head.
pub fn append(
    conn: &mut DbConnection,
    now: i64,
    event: &AuditEvent,
) -> Result<AuditRow, StoreError> {
    append_with(conn, now, event, Attempt::InSavepoint)
}

/// `append` for an event that goes with no other change, outside any transaction: the
/// head is read and the row inserted in two statements with no BEGIN and COMMIT around
/// them (two round trips on Postgres instead of four). The primary key on `seq` keeps the
/// chain whole just the same: an insert that lost the race fails and is retried.
fn append_alone(
    conn: &mut DbConnection,
    now: i64,
    event: &AuditEvent,
) -> Result<AuditRow, StoreError> {
    append_with(conn, now, event, Attempt::Bare)
}

/// How one attempt at linking a row runs.
#[derive(Clone, Copy)]
enum Attempt {
    /// In a savepoint of the caller's transaction (or a transaction of its own): on
    /// Postgres a failed insert would otherwise abort the caller's whole transaction, and
    /// there would be no retrying.
    InSavepoint,
    /// As two plain statements, outside any transaction.
    Bare,
}

fn append_with(
    conn: &mut DbConnection,
    now: i64,
    event: &AuditEvent,
    attempt: Attempt,
) -> Result<AuditRow, StoreError> {
    let details = event.details.to_string();
    let link = |conn: &mut DbConnection| -> Result<AuditRow, StoreError> {
        let (prev_seq, prev_hash) = rows::head(conn)?.unwrap_or((0, vec![0u8; 32]));
        let mut row = AuditRow {
            seq: prev_seq + 1,
            id: uuid::Uuid::now_v7().to_string(),
            occurred_at: now,
            event_type: event.event_type.to_owned(),
            actor: event.actor.clone(),
            subject: event.subject.clone(),
            details: details.clone(),
            prev_hash: prev_hash.clone(),
            hash: Vec::new(),
        };
        row.hash = chain_hash(&prev_hash, &row).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        rows::insert(conn, &row)?;
        Ok(row)
    };
    let mut last_err = StoreError::Conflict;
    for _attempt in 0..20 {
        let linked = match attempt {
            Attempt::InSavepoint => conn.transaction(link),
            Attempt::Bare => link(conn),
        };
        match linked {
            Ok(row) => return Ok(row),
            // Lost the race for the next seq (or SQLite's write lock): try again.
            Err(err @ (StoreError::Conflict | StoreError::Query(_))) => {
                last_err = err;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(other) => return Err(other),
        }
    }
    Err(last_err)
}

/// Where the chain first breaks, if it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: &'static str,
}

/// Walks the whole chain in pages and reports the first row that was changed, deleted or
/// reordered.
pub async fn verify(store: &Store) -> Result<Option<ChainBreak>, StoreError> {
    store
        .run(|conn| {
            let mut expected_seq = 1;
            let mut prev_hash = vec![0u8; 32];
            loop {
                let page = rows::page(conn, expected_seq - 1, 500)?;
                if page.is_empty() {
                    return Ok(None);
                }
                for row in page {
                    if row.seq != expected_seq {
                        return Ok(Some(ChainBreak {
                            seq: expected_seq,
                            reason: "row missing",
                        }));
                    }
                    if row.prev_hash != prev_hash {
                        return Ok(Some(ChainBreak {
                            seq: row.seq,
                            reason: "link to previous row broken",
                        }));
                    }
                    let hash = chain_hash(&prev_hash, &row)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    if hash != row.hash {
                        return Ok(Some(ChainBreak {
                            seq: row.seq,
                            reason: "row content changed",
                        }));
                    }
                    prev_hash = row.hash;
                    expected_seq += 1;
                }
            }
        })
        .await
}
