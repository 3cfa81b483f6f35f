//! `/admin/v1/audit`: query the hash-chained audit log and verify the chain.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::error::{AdminError, ErrorBody};
use super::extract::Query;
use crate::audit::ChainHead;
use crate::http::state::AppState;
use crate::manage::audit::{AuditEntry, AuditFilter, AuditVerification};
use crate::manage::invalid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Earliest `occurred_at` (unix seconds, inclusive).
    pub from: Option<i64>,
    /// Latest `occurred_at` (unix seconds, inclusive).
    pub to: Option<i64>,
    /// An event type (`user.created`), or a prefix ending in `*` (`user.*`).
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// `cli`, `system`, `user:<id>` or `client:<client_id>`.
    pub actor: Option<String>,
    /// The user id, client_id, kid or grant id the event is about.
    pub subject: Option<String>,
    /// Default 0.
    pub offset: Option<i64>,
    /// 1 to 1000; default 100.
    pub limit: Option<i64>,
}

/// One page of audit events, in chain order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub offset: i64,
    pub limit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<i64>,
}

#[utoipa::path(
    get, path = "/admin/v1/audit", tag = "audit", operation_id = "query_audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Matching events, oldest first", body = AuditPage),
        (status = 400, description = "Invalid query (the parameter is named)", body = ErrorBody),
    )
)]
pub async fn query(
    state: web::Data<AppState>,
    Query(q): Query<AuditQuery>,
) -> Result<HttpResponse, AdminError> {
    let (offset, limit) = (q.offset.unwrap_or(0), q.limit.unwrap_or(100));
    let filter = AuditFilter {
        from: q.from,
        to: q.to,
        event_type: q.event_type,
        actor: q.actor,
        subject: q.subject,
    };
    let items = state.service.query_audit(filter, offset, limit).await?;
    Ok(HttpResponse::Ok().json(AuditPage {
        next_offset: super::next_offset(offset, limit, items.len()),
        items,
        offset,
        limit,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// A head written down earlier, `SEQ:HASH` (hex): the check also fails when the chain
    /// no longer holds it unchanged (rows cut off the end).
    pub head: Option<String>,
}

#[utoipa::path(
    get, path = "/admin/v1/audit/verify", tag = "audit", operation_id = "verify_audit",
    params(VerifyQuery),
    responses(
        (status = 200, description = "Whether the chain is intact, and if not the first row that was changed, deleted, reordered, rewritten without the audit key or cut off", body = AuditVerification),
        (status = 400, description = "`head` is not SEQ:HASH", body = ErrorBody),
    )
)]
pub async fn verify(
    state: web::Data<AppState>,
    Query(q): Query<VerifyQuery>,
) -> Result<HttpResponse, AdminError> {
    let report = match q.head {
        Some(head) => {
            let head: ChainHead = head.parse().map_err(|e: &str| invalid("head", e))?;
            state.service.verify_audit_from(&head).await?
        }
        None => state.service.verify_audit().await?,
    };
    Ok(HttpResponse::Ok().json(report))
}
