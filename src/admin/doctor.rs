//! `/admin/v1/doctor`: is this deployment safe? The same checks as `portcullis doctor`
//! (`crate::manage::doctor`), plus what only the running server sees: the forwarding
//! headers of the requests it has served.

use std::sync::atomic::Ordering;

use actix_web::{HttpResponse, web};

use super::error::AdminError;
use crate::http::state::AppState;
use crate::manage::doctor::{DoctorReport, Observed, Vantage};

#[utoipa::path(
    get, path = "/admin/v1/doctor", tag = "doctor", operation_id = "doctor",
    description = "Runs every check of `portcullis doctor` against this server's running configuration and its database, and reports findings worst first. Each finding has a stable `id` (explained in docs/doctor.md), a `severity` (`high`, `medium`, `low`, `info`), the `subject` it is about (`client:ID`, `user:NAME`, `key:KID`, `rate_limit:BUCKET`), what was `found` and the `fix`; never a secret. A deployment gate fails on any `high` finding. The audit chain is walked whole, so the answer takes longer on a large log (`audit_check_ms`).",
    responses(
        (status = 200, description = "The findings, worst first (an empty list when nothing was found)", body = DoctorReport),
    )
)]
pub async fn report(state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let observed = Observed {
        vantage: Vantage::Server,
        forwarding_ignored: Some(state.forwarding_ignored.load(Ordering::Relaxed)),
    };
    let report = state.service.doctor(&state.config, observed).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(report))
}
