//! The audit chain's storage side: an event, the hash that links it to the row before it,
//! and the append that runs on a connection, so a store operation can commit a change and
//! its audit row in one transaction. `crate::audit` is the facade the rest of the crate
//! uses (`record`, `verify`); it re-exports what is here.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::hmac;
use diesel::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::models::audit::{self as rows, AuditRow};
use super::{DbConnection, Store, StoreError};
use crate::encoding::hex;

/// Who did something, typed so that no name a client or user can choose reads as another
/// kind of actor: a client called `cli` is stored as `client:cli`, never as `cli`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditActor {
    /// An operator at the command line.
    Cli,
    /// The server itself (key rotation, the first admin at bootstrap, sealing the chain).
    System,
    /// A person, by user id (through the browser flow or the admin API).
    User(String),
    /// An OAuth client, by `client_id` (at the token endpoint or the admin API).
    Client(String),
}

impl AuditActor {
    pub fn user(id: &str) -> Self {
        Self::User(id.to_owned())
    }
    pub fn client(client_id: &str) -> Self {
        Self::Client(client_id.to_owned())
    }
    pub fn cli() -> Self {
        Self::Cli
    }
    pub fn system() -> Self {
        Self::System
    }
}

/// The stored and logged form: `cli`, `system`, `user:<id>` or `client:<client_id>`.
impl fmt::Display for AuditActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cli => f.write_str("cli"),
            Self::System => f.write_str("system"),
            Self::User(id) => write!(f, "user:{id}"),
            Self::Client(client_id) => write!(f, "client:{client_id}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub event_type: &'static str,
    pub actor: Option<AuditActor>,
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
    /// Who did it.
    pub fn by(mut self, actor: AuditActor) -> Self {
        self.actor = Some(actor);
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
    fn actor_text(&self) -> Option<String> {
        self.actor.as_ref().map(AuditActor::to_string)
    }
}

/// Length of an audit key: HMAC-SHA-256 keys of the hash's own size.
pub const AUDIT_KEY_LEN: usize = 32;

/// The event type of the row that seals the rows written before the chain was keyed.
pub const CHAIN_KEYED: &str = "audit.chain_keyed";

/// A key that links audit rows: HMAC-SHA-256, so that someone who can write to the
/// database but does not hold the key cannot rewrite a row and recompute the chain.
/// Rows name it by [`id`](AuditKey::id); the key itself is never printed.
pub struct AuditKey {
    key: hmac::Key,
    id: String,
}

impl AuditKey {
    /// A key from its secret bytes (configured, or derived from the master key by
    /// `crypto::audit_key`).
    pub fn new(secret: &[u8; AUDIT_KEY_LEN]) -> Self {
        let digest = Sha256::digest(secret);
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            // The first 4 bytes of SHA-256 of the key, as master keys are named: safe to
            // show, and tells keys apart.
            id: hex(digest.get(..4).unwrap_or_default()),
        }
    }

    /// The 8 hex digits rows and `config check` name this key by.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn tag(&self, prev_hash: &[u8], canonical: &[u8]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(prev_hash);
        ctx.update(canonical);
        ctx.sign().as_ref().to_vec()
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditKey({}, <hidden>)", self.id)
    }
}

/// The audit keys in order: the first links new rows, every one verifies (so a key can be
/// rotated and the rows it linked still verify while it is listed).
#[derive(Clone)]
pub struct AuditKeys(Arc<Vec<AuditKey>>);

impl AuditKeys {
    /// `None` when `keys` is empty: the chain always has a key to link with.
    pub fn new(keys: Vec<AuditKey>) -> Option<Self> {
        if keys.is_empty() {
            None
        } else {
            Some(Self(Arc::new(keys)))
        }
    }

    pub fn single(key: AuditKey) -> Self {
        Self(Arc::new(vec![key]))
    }

    /// The key that links new rows.
    pub fn current(&self) -> Option<&AuditKey> {
        self.0.first()
    }

    /// The key a row names, if it is one of ours.
    pub fn find(&self, id: &str) -> Option<&AuditKey> {
        self.0.iter().find(|k| k.id == id)
    }

    /// Key ids in order, current first.
    pub fn ids(&self) -> Vec<String> {
        self.0.iter().map(|k| k.id.clone()).collect()
    }
}

impl fmt::Debug for AuditKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditKeys({:?})", self.ids())
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
    /// Only in keyed rows, so a row's key cannot be swapped for another without the MAC
    /// changing; rows from before keying hash exactly what they hashed then.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
}

fn canonical(row: &AuditRow) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&Canonical {
        seq: row.seq,
        id: &row.id,
        occurred_at: row.occurred_at,
        event_type: &row.event_type,
        actor: row.actor.as_deref(),
        subject: row.subject.as_deref(),
        details: &row.details,
        key_id: row.key_id.as_deref(),
    })
}

/// The plain SHA-256 link of a row written before the chain was keyed (`key_id` unset).
/// Anyone can compute it: such rows are protected only by the keyed rows after them.
pub fn unkeyed_chain_hash(prev_hash: &[u8], row: &AuditRow) -> Result<Vec<u8>, serde_json::Error> {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash);
    hasher.update(canonical(row)?);
    Ok(hasher.finalize().to_vec())
}

/// The HMAC-SHA-256 link of a keyed row under `key`.
pub fn keyed_chain_hash(
    key: &AuditKey,
    prev_hash: &[u8],
    row: &AuditRow,
) -> Result<Vec<u8>, serde_json::Error> {
    Ok(key.tag(prev_hash, &canonical(row)?))
}

/// Logs an event that `append` stored (target `audit`; one JSON line per event with
/// `log.format = "json"`), with its sequence number and hash so a log archive can anchor
/// the chain's head.
pub fn log_event(event: &AuditEvent, row: &AuditRow) {
    tracing::info!(
        target: "audit",
        seq = row.seq,
        hash = %hex(&row.hash),
        occurred_at = row.occurred_at,
        event_type = event.event_type,
        actor = event.actor_text(),
        subject = event.subject.as_deref(),
        details = %event.details,
        "audit event"
    );
}

/// Logs an event whose storing failed, so the log still shows what was attempted.
pub fn log_unstored(event: &AuditEvent, err: &StoreError) {
    tracing::warn!(
        target: "audit",
        event_type = event.event_type,
        actor = event.actor_text(),
        subject = event.subject.as_deref(),
        details = %event.details,
        error = %err,
        "audit event NOT stored"
    );
}

/// Appends an event on `conn` (inside the caller's transaction, if any, so a change and
/// its audit row commit together). Concurrent writers race for the next sequence number;
/// the loser's insert fails on the primary key and it retries on the new head.
pub fn append(
    conn: &mut DbConnection,
    keys: &AuditKeys,
    now: i64,
    event: &AuditEvent,
) -> Result<AuditRow, StoreError> {
    append_with(conn, keys, now, event, Attempt::InSavepoint)
}

/// `append` for an event that goes with no other change, outside any transaction: the
/// head is read and the row inserted in two statements with no BEGIN and COMMIT around
/// them (two round trips on Postgres instead of four). The primary key on `seq` keeps the
/// chain whole just the same: an insert that lost the race fails and is retried.
pub fn append_alone(
    conn: &mut DbConnection,
    keys: &AuditKeys,
    now: i64,
    event: &AuditEvent,
) -> Result<AuditRow, StoreError> {
    append_with(conn, keys, now, event, Attempt::Bare)
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
    keys: &AuditKeys,
    now: i64,
    event: &AuditEvent,
    attempt: Attempt,
) -> Result<AuditRow, StoreError> {
    let key = keys
        .current()
        .ok_or_else(|| StoreError::Corrupt("no audit key".into()))?;
    let details = event.details.to_string();
    let actor = event.actor_text();
    let link = |conn: &mut DbConnection| -> Result<AuditRow, StoreError> {
        let (prev_seq, prev_hash) = rows::head(conn)?.unwrap_or((0, vec![0u8; 32]));
        let mut row = AuditRow {
            seq: prev_seq + 1,
            id: uuid::Uuid::now_v7().to_string(),
            occurred_at: now,
            event_type: event.event_type.to_owned(),
            actor: actor.clone(),
            subject: event.subject.clone(),
            details: details.clone(),
            prev_hash: prev_hash.clone(),
            hash: Vec::new(),
            key_id: Some(key.id().to_owned()),
        };
        row.hash = keyed_chain_hash(key, &prev_hash, &row)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        rows::insert(conn, &row)?;
        Ok(row)
    };
    let mut last_err = StoreError::Conflict;
    for round in 0..APPEND_ROUNDS {
        let linked = match attempt {
            Attempt::InSavepoint => conn.transaction(link),
            Attempt::Bare => link(conn),
        };
        match linked {
            Ok(row) => return Ok(row),
            // Lost the race for the next seq (or SQLite's write lock): try again.
            Err(err @ (StoreError::Conflict | StoreError::Query(_))) => {
                last_err = err;
                std::thread::sleep(append_backoff(round));
            }
            Err(other) => return Err(other),
        }
    }
    // Every round lost the race for the head: the chain is too contended to link now.
    // That is the database being busy, which callers answer with 503 and Retry-After, not
    // a failure of the request (a CI run under load saw a 500 here).
    Err(StoreError::Unavailable(Box::new(last_err)))
}

/// How often an append races for the head before it gives up.
const APPEND_ROUNDS: u32 = 40;

/// The pause after losing round `round` of the race for the head: random, so the writers
/// that lost together do not meet again at once, and growing (to 64 ms), so a burst of
/// writers (a hundred parallel login failures, each its own event) spreads out instead of
/// starving the unlucky ones within a few milliseconds.
fn append_backoff(round: u32) -> std::time::Duration {
    use rand::Rng;
    let ceiling = 2u64 << round.min(5);
    std::time::Duration::from_millis(rand::thread_rng().gen_range(1..=ceiling))
}

/// Writes the first keyed row, which links to (and so seals) every row written before the
/// chain was keyed. Returns the event and its row for the log.
pub(super) fn seal(
    conn: &mut DbConnection,
    keys: &AuditKeys,
    now: i64,
) -> Result<(AuditEvent, AuditRow), StoreError> {
    let sealed_through = rows::head(conn)?.map_or(0, |(seq, _)| seq);
    let event = AuditEvent::new(CHAIN_KEYED)
        .by(AuditActor::System)
        .details(serde_json::json!({ "sealed_through_seq": sealed_through }));
    let row = append(conn, keys, now, &event)?;
    Ok((event, row))
}

/// Whether a change revokes something: such a change runs through `Store::run_revoking`,
/// so answers remembered from before it are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Revokes,
    Other,
}

/// Why a recorded change did not commit: the store failed, or the operation refused
/// (its own error, which rolls the transaction back like any other).
enum Failure<E> {
    Store(StoreError),
    Refused(E),
}

impl<E> From<diesel::result::Error> for Failure<E> {
    fn from(err: diesel::result::Error) -> Self {
        Self::Store(err.into())
    }
}

impl<E> From<StoreError> for Failure<E> {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// The error of an operation run by `Store::run_recorded`: either the store's (which goes
/// back through `Store::run`, so a broken connection is retired) or the operation's own.
pub trait RecordedError: From<StoreError> + Sized {
    /// The store's error, when that is what this is; otherwise the operation's own.
    fn store_cause(self) -> Result<StoreError, Self>;
}

impl RecordedError for StoreError {
    fn store_cause(self) -> Result<StoreError, Self> {
        Ok(self)
    }
}

impl Store {
    /// Makes a change and appends the audit event that records it in one transaction, so
    /// neither is stored without the other. `work` returns its value and that event, or
    /// `None` when it changed nothing (then nothing is recorded). The event goes to the log
    /// once committed; when the transaction fails, `meant` (the event as far as it is known
    /// beforehand) is logged as not stored.
    pub async fn run_audited<T, F>(
        &self,
        change: Change,
        now: i64,
        meant: Option<AuditEvent>,
        work: F,
    ) -> Result<Option<T>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<Option<(T, AuditEvent)>, StoreError>
            + Send
            + 'static,
    {
        self.run_recorded(change, now, meant, move |conn| {
            Ok(match work(conn)? {
                Some((value, event)) => (Some(value), Some(event)),
                None => (None, None),
            })
        })
        .await
    }

    /// `run_audited` for an operation with its own error type `E`, whose value comes back
    /// whether or not it changed anything: `work` returns the value and the event that
    /// records its change (`None`: nothing changed, nothing recorded). An `Err` from `work`
    /// (a refusal decided on rows read in the transaction, say) rolls the change back and
    /// comes back as it is.
    pub async fn run_recorded<T, E, F>(
        &self,
        change: Change,
        now: i64,
        meant: Option<AuditEvent>,
        work: F,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: RecordedError + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<(T, Option<AuditEvent>), E> + Send + 'static,
    {
        let keys = self.audit_keys.clone();
        let job = move |conn: &mut DbConnection| {
            let done = conn.transaction::<_, Failure<E>, _>(|conn| {
                let (value, event) = work(conn).map_err(|err| match err.store_cause() {
                    Ok(cause) => Failure::Store(cause),
                    Err(refused) => Failure::Refused(refused),
                })?;
                let recorded = match event {
                    Some(event) => {
                        let row = append(conn, &keys, now, &event)?;
                        Some((event, row))
                    }
                    None => None,
                };
                Ok((value, recorded))
            });
            // A store failure goes back through `run`, which retires a broken connection;
            // a refusal rides inside its answer.
            match done {
                Ok(outcome) => Ok(Ok(outcome)),
                Err(Failure::Store(err)) => Err(err),
                Err(Failure::Refused(err)) => Ok(Err(err)),
            }
        };
        let outcome = match change {
            Change::Revokes => self.run_revoking(job).await,
            Change::Other => self.run(job).await,
        };
        match outcome {
            Ok(Ok((value, recorded))) => {
                if let Some((event, row)) = recorded {
                    log_event(&event, &row);
                }
                Ok(value)
            }
            Ok(Err(refused)) => Err(refused),
            Err(err) => {
                if let Some(meant) = &meant {
                    self.note_unstored(meant, &err);
                }
                Err(err.into())
            }
        }
    }
}
