//! POST /token: extract, call `oauth::token`, map. Nothing protocol-specific here.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::client_ip::client_ip;
use crate::app::AppState;
use crate::oauth::context::Ctx;
use crate::oauth::error::OAuthError;
use crate::oauth::form::FormMap;

pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let form_encoded = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return Err(OAuthError::invalid_request(
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    let form = FormMap::parse(&body)?;
    let authorization = match req.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| OAuthError::invalid_client(true))?,
        ),
    };
    let ctx = Ctx {
        config: &state.config,
        store: &state.store,
        keys: &state.keys,
        service: &state.service,
        clients: &state.clients,
        metrics: &state.metrics,
        now: state.clock.now(),
        client_ip: client_ip(
            req.peer_addr().map(|a| a.ip()),
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok()),
            &state.config.rate_limit.trusted_proxies,
        ),
    };
    let response = crate::oauth::token::exchange(&ctx, authorization, &form).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}
