//! Reading the audit log: filtered, paged queries and verification of the hash chain.

use serde::Serialize;

use super::{ManageError, Service, invalid};
use crate::audit::{self, ChainBreak, ChainHead};
/// The filter of `Service::query_audit`, in storage's own terms (it is a plain struct).
pub use crate::store::models::audit::AuditFilter;
use crate::store::models::audit::{self as rows, AuditRow};

pub const MAX_PAGE: i64 = 1000;

/// One audit row as operators see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    pub id: String,
    /// Unix seconds.
    pub occurred_at: i64,
    pub event_type: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    /// The event's details as stored (never secrets).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Hex HMAC-SHA-256 (under the audit key `key_id`) of the previous row's hash and
    /// this row's canonical form; plain SHA-256 for rows from before the chain was keyed.
    pub hash: String,
    /// The audit key that links this row (its id); absent on rows from before keying.
    pub key_id: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        Self {
            details: serde_json::from_str(&row.details)
                // A row whose details no longer parse is shown as the raw text: verify
                // will name it, the query must still show it.
                .unwrap_or(serde_json::Value::String(row.details)),
            hash: crate::encoding::hex(&row.hash),
            key_id: row.key_id,
            seq: row.seq,
            id: row.id,
            occurred_at: row.occurred_at,
            event_type: row.event_type,
            actor: row.actor,
            subject: row.subject,
        }
    }
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AuditVerification {
    /// True when every row links to the one before it and its hash matches its content.
    pub intact: bool,
    /// Rows in the log when the check ran.
    pub rows: i64,
    /// The first row that was changed, deleted, reordered or rewritten without the key.
    pub first_broken: Option<ChainBreak>,
    /// The newest row when the check ran: write it down (`SEQ:HASH`) and pass it as
    /// `head` to a later check to find rows cut off the end.
    pub head: Option<ChainHead>,
}

impl Service {
    pub async fn query_audit(
        &self,
        filter: AuditFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, ManageError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(invalid("limit", format!("must be 1..={MAX_PAGE}")));
        }
        if offset < 0 {
            return Err(invalid("offset", "must be >= 0"));
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from > to
        {
            return Err(invalid("from", "must not be after `to`"));
        }
        let found = self
            .store
            .run(move |conn| rows::query(conn, &filter, offset, limit))
            .await?;
        Ok(found.into_iter().map(AuditEntry::from).collect())
    }

    pub async fn verify_audit(&self) -> Result<AuditVerification, ManageError> {
        let first_broken = audit::verify(&self.store).await?;
        self.verification(first_broken).await
    }

    /// `verify_audit`, and that `head` (written down earlier) is still in the chain,
    /// unchanged: nothing after it was cut off.
    pub async fn verify_audit_from(
        &self,
        head: &ChainHead,
    ) -> Result<AuditVerification, ManageError> {
        let first_broken = audit::verify_from(&self.store, head).await?;
        self.verification(first_broken).await
    }

    async fn verification(
        &self,
        first_broken: Option<ChainBreak>,
    ) -> Result<AuditVerification, ManageError> {
        let (rows, head) = self
            .store
            .run(|conn| Ok((rows::count(conn)?, rows::head(conn)?)))
            .await?;
        Ok(AuditVerification {
            intact: first_broken.is_none(),
            rows,
            first_broken,
            head: head.map(|(seq, hash)| ChainHead {
                seq,
                hash: crate::encoding::hex(&hash),
            }),
        })
    }
}
