//! GET and POST /userinfo with RFC 6750 bearer errors.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::bearer::{Accepts, BearerError, bearer_token};
use crate::http::state::AppState;

pub async fn userinfo(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, BearerError> {
    let token = bearer_token(&req, Accepts::HeaderOrForm(&body))?;
    let ctx = state.ctx(&req);
    let claims = crate::oauth::userinfo::userinfo(&ctx, &token)
        .await
        .map_err(BearerError::new)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(claims))
}
