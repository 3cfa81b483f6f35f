//! GET and POST /userinfo with RFC 6750 bearer errors.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::context::ctx;
use super::errors::BearerError;
use crate::app::AppState;
use crate::oauth::error::OAuthError;
use crate::oauth::form::FormMap;

/// The token from `Authorization: Bearer` or, for POST, a form body (RFC 6750 2.1, 2.2).
/// Using both is `invalid_request`; query strings are not accepted (they end up in logs).
fn bearer(req: &HttpRequest, body: &[u8]) -> Result<String, BearerError> {
    let header_token = match req.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v.to_str().map_err(|_| {
                BearerError::new(OAuthError::invalid_request(
                    "malformed Authorization header",
                ))
            })?;
            let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
            if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                return Err(BearerError::new(OAuthError::invalid_request(
                    "use the Bearer authentication scheme",
                )));
            }
            Some(token.trim().to_owned())
        }
    };
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body_token = if is_form && !body.is_empty() {
        FormMap::parse(body)
            .map_err(BearerError::new)?
            .get("access_token")
            .map(str::to_owned)
    } else {
        None
    };
    match (header_token, body_token) {
        (Some(_), Some(_)) => Err(BearerError::new(OAuthError::invalid_request(
            "send the access token once, in the header or the body",
        ))),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(BearerError::missing_token()),
    }
}

pub async fn userinfo(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, BearerError> {
    let token = bearer(&req, &body)?;
    let ctx = ctx(&state, &req);
    let claims = crate::oauth::userinfo::userinfo(&ctx, &token)
        .await
        .map_err(BearerError::new)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(claims))
}
