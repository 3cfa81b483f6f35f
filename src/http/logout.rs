//! GET and POST /logout (the `end_session_endpoint`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::pages::{self, ctx, session_value};
use crate::audit::{self, AuditEvent};
use crate::http::state::AppState;
use crate::oauth::flow;
use crate::oauth::form::FormMap;
use crate::oauth::logout::{self, LogoutError};

pub async fn logout_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    logout(&req, &state, req.query_string().as_bytes()).await
}

pub async fn logout_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    logout(&req, &state, &body).await
}

async fn logout(req: &HttpRequest, state: &AppState, raw: &[u8]) -> HttpResponse {
    let form = match FormMap::parse(raw) {
        Ok(f) => f,
        Err(e) => {
            return pages::error_html(
                state,
                StatusCode::BAD_REQUEST,
                e.description().unwrap_or("The request is malformed."),
            );
        }
    };
    let ctx = ctx(state, req);
    let target = match logout::target(&ctx, &form).await {
        Ok(t) => t,
        Err(LogoutError::Page(message)) => {
            return pages::error_html(state, StatusCode::BAD_REQUEST, message);
        }
        Err(LogoutError::Unavailable) => {
            return pages::error_html(
                state,
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is busy. Please try again.",
            );
        }
    };
    if let Some(cookie) = session_value(state, req) {
        match flow::end_session(&ctx, &cookie).await {
            Ok(Some(ended)) => {
                let event = AuditEvent::new("logout")
                    .actor(ended.user_id.clone())
                    .subject(ended.user_id)
                    .details(serde_json::json!({ "sid": ended.sid }));
                if let Err(err) = audit::record(ctx.store, ctx.now, event).await {
                    tracing::warn!(error = %err, "could not audit a logout");
                }
            }
            Ok(None) => {}
            Err(_) => {
                return pages::error_html(
                    state,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is busy. Please try again.",
                );
            }
        }
    }
    let mut response = match target {
        Some(location) => pages::redirect(state, &location),
        None => pages::logged_out_page(state),
    };
    pages::clear_cookie(state, &mut response);
    response
}
