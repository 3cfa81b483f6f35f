//! POST /token: extract, call `oauth::token`, map. Nothing protocol-specific here.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::form_post;
use crate::http::state::AppState;
use crate::oauth::error::OAuthError;
use crate::oauth::form::FormLimits;

pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let post = form_post::parse(&req, &body, "token", &FormLimits::with_resources())?;
    let ctx = state.ctx(&req);
    let response = crate::oauth::token::exchange(&ctx, post.authorization, &post.form).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}
