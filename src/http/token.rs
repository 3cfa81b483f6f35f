//! POST /token: extract, call `oauth::token`, map. Nothing protocol-specific here.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::context::ctx;
use super::form_post;
use crate::app::AppState;
use crate::oauth::error::OAuthError;

pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let post = form_post::parse(&req, &body, "token")?;
    let ctx = ctx(&state, &req);
    let response = crate::oauth::token::exchange(&ctx, post.authorization, &post.form).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response))
}
