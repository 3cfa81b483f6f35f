//! Diesel and nothing else: connections, migrations, the shared schema and the models.
//! Everything above this module sees `Store` and plain Rust types.

pub mod account;
pub mod agreement;
pub mod audit;
pub mod backup;
pub mod browser;
pub mod clients;
pub mod coalesce;
pub mod conn;
pub mod factors;
pub mod grants;
pub mod mail;
pub mod migrate;
pub mod models;
pub mod schema;
pub mod self_service;
pub mod standing;
pub mod threads;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

pub use conn::{Backend, DatabaseUrl, DbConnection};
pub use mail::{MailStatus, NewMail, OutboxMail};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or the pool is exhausted: callers answer 503.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("not found")]
    NotFound,
    /// A unique constraint said no: the thing already exists.
    #[error("already exists")]
    Conflict,
    #[error("database error: {0}")]
    Query(#[source] DieselError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl From<DieselError> for StoreError {
    // diesel's error is #[non_exhaustive]: a catch-all arm is unavoidable, and every
    // unknown kind lands on the safe side (a query error, never success).
    #[allow(clippy::wildcard_enum_match_arm)]
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::Conflict,
            DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
            | DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _)
            | DieselError::BrokenTransactionManager => Self::Unavailable(Box::new(err)),
            // Transient contention (Postgres: a serialization failure, or a deadlock it broke
            // by aborting us): the same work may succeed at once, so callers answer 503 with
            // Retry-After, never 500. Postgres reports a deadlock only by its message.
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                Self::Unavailable(Box::new(err))
            }
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if info.message().starts_with("deadlock detected") =>
            {
                Self::Unavailable(Box::new(err))
            }
            other => Self::Query(other),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(err: r2d2::Error) -> Self {
        Self::Unavailable(Box::new(err))
    }
}

type Pool = r2d2::Pool<conn::ConnectionManager>;

/// The pool and the one way to use it: `run` moves diesel work off the async executor.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: Backend,
    /// Permits for the pool's connections and two more, taken before a database thread
    /// is used: work waits here, as a cheap future, instead of as one blocked thread per
    /// request. Under 64 concurrent requests the blocking pool had grown to 74 threads,
    /// all but eight of them fighting over the pool's lock. One thread per permit.
    permits: Arc<tokio::sync::Semaphore>,
    wait: Duration,
    threads: Arc<threads::DbThreads>,
    /// Bumped by `run_revoking` after this replica revokes anything, so what was
    /// remembered about a token's standing before (see `oauth::standing`) is no longer
    /// used here.
    revocations: Arc<AtomicU64>,
    /// This replica's lease and the database epoch it has applied (see `agreement`).
    agreement: Arc<agreement::Agreement>,
    /// Units of work sent to the database (`run` calls): a cheap measure of round trips
    /// per request, read by tests that keep the browser flow from growing chattier.
    round_trips: Arc<AtomicU64>,
    /// The keys that link audit rows (see `audit`): the first links, all verify.
    audit_keys: audit::AuditKeys,
    /// Bumped after this process writes a client (`note_client_change`), so what a cache
    /// derived from every client (`oauth::client::origins`) knows is read again.
    client_changes: Arc<AtomicU64>,
    /// Audit events meant but not stored (`note_unstored`), for the metric of that name.
    audit_failures: Arc<AtomicU64>,
    /// Notified by `enqueue_mail`, so this replica's mail worker sends a new message at
    /// once instead of at its next poll.
    mail_waiting: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// `Store::pool_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub pool_size: u32,
    pub connect_timeout: Duration,
    /// How long a database thread that ran out of work polls for more (see `threads`).
    pub idle_poll: Duration,
    /// How long a replica may answer from memory between renewals of its lease
    /// (`tokens.replica_lease_ms`; see `agreement`). Zero, or SQLite: no lease.
    pub replica_lease: Duration,
    /// The keys of the audit chain (`crypto::audit_key` derives them from the master key
    /// unless `keys.audit_keys` is set).
    pub audit_keys: audit::AuditKeys,
}

impl Store {
    /// Builds the pool without requiring the database to be up: a server that starts
    /// during an outage reports not-ready and recovers by itself.
    pub fn open(url: &DatabaseUrl, options: &StoreOptions) -> Result<Self, StoreError> {
        if let DatabaseUrl::Sqlite(path) = url {
            conn::create_private_sqlite(path).map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        }
        let manager = conn::ConnectionManager::new(url.clone(), options.connect_timeout);
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            // r2d2 opens connections on its own threads, three by default; one is enough
            // to open a pool's worth, and each thread costs a malloc arena.
            .thread_pool(Arc::new(
                scheduled_thread_pool::ScheduledThreadPool::builder()
                    .num_threads(1)
                    .thread_name_pattern("r2d2-{}")
                    .build(),
            ))
            .build_unchecked(manager);
        // The pool plus two: a couple of threads wait at the pool itself, so a connection
        // coming back is taken at once rather than after a thread wakes up. Each thread
        // beyond that only added a malloc arena (0.4-0.9 MiB resident each under load).
        let in_process = url.backend().in_process();
        let in_flight = usize::try_from(options.pool_size.max(1))
            .unwrap_or(1)
            .saturating_add(2);
        Ok(Self {
            pool,
            backend: url.backend(),
            permits: Arc::new(tokio::sync::Semaphore::new(in_flight)),
            wait: options.connect_timeout,
            // Database threads poll only for in-process SQLite (see `threads`); leases
            // only where the database is another process (see `agreement`).
            threads: Arc::new(threads::DbThreads::new(
                in_flight,
                if in_process {
                    options.idle_poll
                } else {
                    Duration::ZERO
                },
            )),
            revocations: Arc::new(AtomicU64::new(0)),
            agreement: Arc::new(agreement::Agreement::new(if in_process {
                Duration::ZERO
            } else {
                options.replica_lease
            })),
            round_trips: Arc::new(AtomicU64::new(0)),
            audit_keys: options.audit_keys.clone(),
            client_changes: Arc::new(AtomicU64::new(0)),
            audit_failures: Arc::new(AtomicU64::new(0)),
            mail_waiting: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// The keys that link and verify the audit chain.
    pub fn audit_keys(&self) -> &audit::AuditKeys {
        &self.audit_keys
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool as a gauge sees it: open connections, idle ones, and the bound.
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max: self.pool.max_size(),
        }
    }

    /// Audit events this store was asked to record and could not, since it was opened.
    pub fn audit_failures(&self) -> u64 {
        self.audit_failures.load(Ordering::Relaxed)
    }

    /// Logs an audit event whose storing failed and counts it.
    pub fn note_unstored(&self, event: &audit::AuditEvent, err: &StoreError) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
        audit::log_unstored(event, err);
    }

    /// How many units of work (`run` calls, each one connection checkout and usually one
    /// transaction) this store has sent to the database since it was opened.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Changes every time this replica revokes something or learns that another did;
    /// compare two readings to tell whether one happened in between.
    pub fn revocation_epoch(&self) -> u64 {
        self.revocations.load(Ordering::SeqCst)
    }

    /// Changes every time this process has written a client; compare two readings to
    /// tell whether a write happened in between. Writes by another process (the CLI,
    /// another replica, SQL by hand) do not show here: caches that read it also expire.
    pub fn client_generation(&self) -> u64 {
        self.client_changes.load(Ordering::SeqCst)
    }

    /// Called by every client write path (`manage`), after the write whether or not it
    /// committed: a needless re-read costs one query, a missed one a stale answer.
    pub fn note_client_change(&self) {
        self.client_changes.fetch_add(1, Ordering::SeqCst);
    }

    /// This replica holds a good lease at `now`: it may answer from what it remembers
    /// under the current `revocation_epoch` (see `agreement`).
    pub fn holds_lease(&self, now: Instant) -> bool {
        self.agreement.holds(now)
    }

    /// Whether this replica takes part in leases at all.
    pub fn uses_lease(&self) -> bool {
        !self.agreement.lease().is_zero()
    }

    /// `run` for a change that revokes or disables a token, grant, user or client. The
    /// revocation epoch is bumped after the change and before the caller can answer, so a
    /// standing remembered from a query that began earlier counts as stale; even after an
    /// error, since the change may have been committed before the connection broke.
    /// On Postgres it then waits until every other replica holding a lease has applied
    /// the change or lost its lease (`agreement`); if that cannot be confirmed the
    /// caller gets `Unavailable` (a 503), never a success the other replicas contradict.
    pub async fn run_revoking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
    {
        let done = self.run(work).await;
        self.revocations.fetch_add(1, Ordering::SeqCst);
        let value = done?;
        if !self.backend.in_process() {
            self.await_agreement().await?;
        }
        Ok(value)
    }

    /// Waits until no other replica's live lease shows an epoch older than the one
    /// committed now. One round trip when no other replica holds a lease.
    async fn await_agreement(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + agreement::MAX_LEASE + Duration::from_secs(1);
        // The epoch to wait for is read once, in the first round trip.
        let mut target = None;
        loop {
            let me = self.agreement.id.clone();
            let (epoch, lagging) = self
                .run(move |conn| {
                    let epoch = match target {
                        Some(epoch) => epoch,
                        None => models::agreement::current_epoch(conn)?,
                    };
                    Ok((epoch, models::agreement::lagging(conn, &me, epoch)?))
                })
                .await?;
            if lagging == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StoreError::Unavailable(
                    "other replicas did not confirm a revocation in time".into(),
                ));
            }
            target = Some(epoch);
            tokio::time::sleep(agreement::AGREEMENT_POLL).await;
        }
    }

    /// Renews this replica's lease for as long as the future is polled (the server
    /// spawns it); returns at once when the replica holds none. A failed renewal is only
    /// logged: the lease then runs out and introspection asks the database again.
    pub async fn keep_lease(&self) {
        if !self.uses_lease() {
            return;
        }
        let every = self.agreement.renewal_interval();
        loop {
            let sent = Instant::now();
            let (id, applied, lease_ms) = (
                self.agreement.id.clone(),
                self.agreement.applied(),
                self.agreement.lease_ms(),
            );
            let renewed = self
                .run(move |conn| models::agreement::renew(conn, &id, applied, lease_ms))
                .await;
            let news = match renewed {
                Ok(current) => self.agreement.renewed(sent, current, || {
                    self.revocations.fetch_add(1, Ordering::SeqCst);
                }),
                Err(err) => {
                    tracing::debug!(error = %err, "replica lease not renewed");
                    false
                }
            };
            // News is acknowledged by the next renewal, which a revocation waits for.
            let pause = if news {
                agreement::AGREEMENT_POLL.min(every)
            } else {
                every
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Gives the lease up (a replica stopping), so no revocation waits for it.
    pub async fn release_lease(&self) {
        if !self.uses_lease() {
            return;
        }
        let id = self.agreement.id.clone();
        if let Err(err) = self
            .run(move |conn| models::agreement::release(conn, &id))
            .await
        {
            tracing::debug!(error = %err, "replica lease not released; it expires by itself");
        }
    }

    /// Runs `work` with a pooled connection on the store's own threads (see `threads`).
    /// Works under actix and plain tokio alike (the CLI has no actix system).
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
    {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let pool = self.pool.clone();
        // Waiting longer than a connection attempt may take means the database is not
        // keeping up or not there: the caller answers 503 rather than queueing forever.
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|elapsed| StoreError::Unavailable(Box::new(elapsed)))?
            .map_err(|closed| StoreError::Unavailable(Box::new(closed)))?;
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job = move || {
            let _permit = permit;
            let mut pooled = pool.get()?;
            match work(&mut pooled.conn) {
                Err(StoreError::Unavailable(err)) => {
                    pooled.broken = true;
                    Err(StoreError::Unavailable(err))
                }
                // Postgres reports a server shutting down as an ordinary error: if the
                // connection no longer answers, this was an outage, not a bad query.
                Err(StoreError::Query(err)) if pooled.conn.batch_execute("SELECT 1").is_err() => {
                    pooled.broken = true;
                    Err(StoreError::Unavailable(Box::new(err)))
                }
                done @ (Ok(_)
                | Err(
                    StoreError::Query(_)
                    | StoreError::NotFound
                    | StoreError::Conflict
                    | StoreError::Corrupt(_),
                )) => done,
            }
        };
        self.threads
            .submit(Box::new(move || {
                // The caller may have gone away; its answer is then not needed.
                let _gone = answer.send(job());
            }))
            .map_err(|none| StoreError::Unavailable(Box::new(none)))?;
        answered
            .await
            .map_err(|lost| StoreError::Unavailable(Box::new(lost)))?
    }

    /// Applies pending migrations. When this run applies the migration that keys the
    /// audit chain, it then writes the first keyed row (`audit.chain_keyed`), linked to
    /// the last row written before: from then on the rows before it cannot be rewritten
    /// without the key either. Only the run that applied the migration seals, so an
    /// attacker who deletes the seal does not get a fresh one at the next start.
    pub async fn migrate(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let keys = self.audit_keys.clone();
        let (applied, sealed) = self
            .run(move |conn| {
                let applied = migrate::run_pending(conn).map_err(StoreError::Unavailable)?;
                let sealed = if applied.iter().any(|v| v == migrate::AUDIT_KEY_VERSION) {
                    Some(audit::seal(conn, &keys, now)?)
                } else {
                    None
                };
                Ok((applied, sealed))
            })
            .await?;
        if let Some((event, row)) = sealed {
            audit::log_event(&event, &row);
        }
        Ok(applied)
    }

    /// The database answers and its schema is current.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.run(|conn| {
            conn.batch_execute("SELECT 1")?;
            if migrate::has_pending(conn).map_err(StoreError::Unavailable)? {
                return Err(StoreError::Corrupt("migrations are pending".into()));
            }
            Ok(())
        })
        .await
    }
}
