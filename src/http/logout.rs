//! GET and POST /logout (the `end_session_endpoint`): extract, let `oauth::flow::logout`
//! end the session, render where the browser goes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::context::{SESSION, cookie_value};
use super::pages;
use crate::http::state::AppState;
use crate::oauth::flow;
use crate::oauth::form::FormMap;

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
    let cookie = cookie_value(req, state, SESSION);
    let mut response = match flow::logout(&state.ctx(req), &form, cookie.as_deref()).await {
        Ok(Some(location)) => pages::redirect(state, &location),
        Ok(None) => pages::logged_out_page(state),
        Err(e) => return pages::browser_error(state, e),
    };
    pages::clear_cookie(state, &mut response);
    response
}
