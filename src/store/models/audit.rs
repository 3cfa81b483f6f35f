use diesel::prelude::*;

use super::escape_like;
use crate::store::StoreError;
use crate::store::conn::DbConnection;
use crate::store::schema::audit_events;

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
