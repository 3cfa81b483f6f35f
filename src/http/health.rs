use std::sync::atomic::Ordering;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::http::state::AppState;

pub async fn live() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "status": "live" }))
}

/// 200 when the database answers and its schema is current; 503 otherwise, and from the
/// moment shutdown begins so load balancers stop sending traffic before listeners close.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let unavailable = |reason: &str| {
        HttpResponse::ServiceUnavailable()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::RETRY_AFTER, "5"))
            .json(json!({ "status": "unavailable", "reason": reason }))
    };
    if state.shutting_down.load(Ordering::SeqCst) {
        state.metrics.observe_readiness(false);
        return unavailable("shutting down");
    }
    let checked = state.store.ready().await;
    state.metrics.observe_readiness(checked.is_ok());
    match checked {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({ "status": "ready", "database": state.store.backend() })),
        Err(crate::store::StoreError::Corrupt(reason)) => unavailable(&reason),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            unavailable("database unavailable")
        }
    }
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // Read at the scrape: the pool's state is a moment's, and the store keeps its own count
    // of unstored audit events.
    let pool = state.store.pool_state();
    state.metrics.observe_store(&crate::telemetry::StoreGauges {
        connections: pool.connections,
        idle: pool.idle,
        max: pool.max,
        audit_failures: state.store.audit_failures(),
    });
    match state.metrics.render() {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Err(err) => {
            tracing::error!(error = %err, "metrics encoding failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
