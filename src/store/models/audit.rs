use diesel::prelude::*;

use super::escape_like;
use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::{audit_events, audit_throttled};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub seq: i64,
    pub id: String,
    pub occurred_at: i64,
    pub event_type: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub details: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    /// The audit key that links this row (its id, never the key); `None` for rows written
    /// before the chain was keyed.
    pub key_id: Option<String>,
}

/// The newest row's sequence number and hash, the link the next row chains to.
pub fn head(conn: &mut DbConnection) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
    Ok(audit_events::table
        .select((audit_events::seq, audit_events::hash))
        .order(audit_events::seq.desc())
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConnection, row: &AuditRow) -> Result<(), StoreError> {
    diesel::insert_into(audit_events::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Rows in chain order starting after `after_seq`.
pub fn page(
    conn: &mut DbConnection,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    Ok(audit_events::table
        .filter(audit_events::seq.gt(after_seq))
        .order(audit_events::seq.asc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?)
}

/// What an audit query selects; every field narrows the result.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Inclusive bounds on `occurred_at`.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// An exact event type, or a prefix when it ends in `*` (`user.*`).
    pub event_type: Option<String>,
    pub actor: Option<String>,
    pub subject: Option<String>,
}

/// Matching rows in chain order.
pub fn query(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    offset: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, StoreError> {
    let mut query = audit_events::table
        .select(AuditRow::as_select())
        .into_boxed();
    if let Some(from) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_events::occurred_at.le(to));
    }
    if let Some(event_type) = &filter.event_type {
        query = match event_type.strip_suffix('*') {
            // A bound parameter; LIKE wildcards in the prefix are escaped.
            Some(prefix) => query.filter(
                audit_events::event_type
                    .like(format!("{}%", escape_like(prefix)))
                    .escape('\\'),
            ),
            None => query.filter(audit_events::event_type.eq(event_type.clone())),
        };
    }
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_events::actor.eq(actor.clone()));
    }
    if let Some(subject) = &filter.subject {
        query = query.filter(audit_events::subject.eq(subject.clone()));
    }
    Ok(query
        .order(audit_events::seq.asc())
        .offset(offset)
        .limit(limit)
        .load(conn)?)
}

pub fn count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(audit_events::table.count().get_result(conn)?)
}

/// The lowest sequence number left (1 until the chain is first pruned).
pub fn first_seq(conn: &mut DbConnection) -> Result<Option<i64>, StoreError> {
    Ok(audit_events::table
        .select(diesel::dsl::min(audit_events::seq))
        .first::<Option<i64>>(conn)?)
}

/// The first row at or after `at` by time, if any: rows before it are old enough to prune.
pub fn first_seq_from(conn: &mut DbConnection, at: i64) -> Result<Option<i64>, StoreError> {
    Ok(audit_events::table
        .filter(audit_events::occurred_at.ge(at))
        .select(diesel::dsl::min(audit_events::seq))
        .first::<Option<i64>>(conn)?)
}

/// Every row of one event type, in chain order (the checkpoints, which are few: one per
/// prune, and pruned in their turn).
pub fn of_type(conn: &mut DbConnection, event_type: &str) -> Result<Vec<AuditRow>, StoreError> {
    Ok(audit_events::table
        .filter(audit_events::event_type.eq(event_type))
        .order(audit_events::seq.asc())
        .select(AuditRow::as_select())
        .load(conn)?)
}

/// Deletes the rows up to and including `seq`; returns how many went.
pub fn delete_through(conn: &mut DbConnection, seq: i64) -> Result<usize, StoreError> {
    Ok(diesel::delete(audit_events::table.filter(audit_events::seq.le(seq))).execute(conn)?)
}

/// Serialises the transactions that prune the chain's start, before their first read: on
/// Postgres a transaction-scoped advisory lock (appends at the head go on meanwhile); on
/// SQLite the database's write lock, taken by a write that changes nothing, so the
/// transaction never has to upgrade a read to a write after another writer committed.
pub fn lock_chain_start(conn: &mut DbConnection) -> Result<(), StoreError> {
    use diesel::connection::SimpleConnection as _;
    match conn {
        DbConnection::Postgres(pg) => pg.batch_execute(PG_PRUNE_LOCK)?,
        DbConnection::Sqlite(_) => {
            diesel::update(audit_events::table.filter(audit_events::seq.lt(0)))
                .set(audit_events::seq.eq(audit_events::seq))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Any constant of our own (the migration lock is 7207301).
const PG_PRUNE_LOCK: &str = "SELECT pg_advisory_xact_lock(7207313)";

/// Makes the reads of one transaction see one snapshot: a walk down the chain in pages
/// must not see a prune that commits between two of them. SQLite's read transactions are
/// snapshots already; Postgres needs asking, before the transaction's first query.
pub fn snapshot(conn: &mut DbConnection) -> Result<(), StoreError> {
    use diesel::connection::SimpleConnection as _;
    if let DbConnection::Postgres(pg) = conn {
        pg.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
    }
    Ok(())
}

/// Login attempts refused by the throttle, counted for one key in one window until the
/// window becomes an audit event (see `crate::audit::flush_throttled`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_throttled)]
pub struct ThrottledRow {
    pub throttle_key: String,
    pub window_start: i64,
    pub window_end: i64,
    pub attempts: i64,
    pub first_at: i64,
    pub last_at: i64,
}

/// Counts one refused attempt in its key's window, in one statement whatever the number of
/// attempts at once: the first makes the row, the others add to it.
pub fn count_throttled(
    conn: &mut DbConnection,
    key: &str,
    window: (i64, i64),
    now: i64,
) -> Result<(), StoreError> {
    use diesel::upsert::excluded;
    let row = ThrottledRow {
        throttle_key: key.to_owned(),
        window_start: window.0,
        window_end: window.1,
        attempts: 1,
        first_at: now,
        last_at: now,
    };
    // diesel's multi-backend connection cannot express ON CONFLICT: the same statement is
    // written once and run on the concrete connection.
    macro_rules! upsert {
        ($conn:expr) => {
            diesel::insert_into(audit_throttled::table)
                .values(&row)
                .on_conflict((audit_throttled::throttle_key, audit_throttled::window_start))
                .do_update()
                .set((
                    audit_throttled::attempts.eq(audit_throttled::attempts + 1),
                    audit_throttled::last_at.eq(excluded(audit_throttled::last_at)),
                ))
                .execute($conn)
        };
    }
    match conn {
        DbConnection::Sqlite(c) => upsert!(c),
        DbConnection::Postgres(c) => upsert!(c),
    }?;
    Ok(())
}

/// Up to `limit` windows that ended by `now`, oldest first.
pub fn due_throttled(
    conn: &mut DbConnection,
    now: i64,
    limit: i64,
) -> Result<Vec<ThrottledRow>, StoreError> {
    Ok(audit_throttled::table
        .filter(audit_throttled::window_end.le(now))
        .order((
            audit_throttled::window_end.asc(),
            audit_throttled::throttle_key.asc(),
        ))
        .limit(limit)
        .select(ThrottledRow::as_select())
        .load(conn)?)
}

/// Every window still counting or not yet written to the chain.
pub fn pending_throttled(conn: &mut DbConnection) -> Result<Vec<ThrottledRow>, StoreError> {
    Ok(audit_throttled::table
        .order((
            audit_throttled::window_start.asc(),
            audit_throttled::throttle_key.asc(),
        ))
        .select(ThrottledRow::as_select())
        .load(conn)?)
}

/// Deletes a window as it was read: 0 when an attempt was counted in it since (or another
/// replica took it), so no attempt is lost between the read and the event.
pub fn take_throttled(conn: &mut DbConnection, row: &ThrottledRow) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        audit_throttled::table
            .filter(audit_throttled::throttle_key.eq(&row.throttle_key))
            .filter(audit_throttled::window_start.eq(row.window_start))
            .filter(audit_throttled::attempts.eq(row.attempts))
            .filter(audit_throttled::last_at.eq(row.last_at)),
    )
    .execute(conn)?)
}

pub fn count_pending_throttled(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(audit_throttled::table.count().get_result(conn)?)
}
