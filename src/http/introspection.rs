//! POST /introspect (RFC 7662) and POST /revoke (RFC 7009): extract, authenticate the
//! caller, call the protocol code, map.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::form_post;
use crate::http::state::AppState;
use crate::oauth::client::caller;
use crate::oauth::error::OAuthError;
use crate::oauth::form::FormLimits;
use crate::oauth::{introspection, revocation};

pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let post = form_post::parse(&req, &body, "introspection", &FormLimits::introspection())?;
    let ctx = state.ctx(&req);
    let caller = caller::authenticate(&ctx, post.authorization, &post.form).await?;
    let answer = introspection::introspect(&ctx, &caller, &post.form).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(answer))
}

pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let post = form_post::parse(&req, &body, "revocation", &FormLimits::revocation())?;
    let ctx = state.ctx(&req);
    let client = caller::authenticate(&ctx, post.authorization, &post.form).await?;
    revocation::revoke(&ctx, &client, &post.form).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .finish())
}
