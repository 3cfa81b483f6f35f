//! GET and POST /logout (the `end_session_endpoint`): extract, let `oauth::flow` decide
//! whether the session ends now or after the user confirms, render that. A POST carrying
//! `csrf_token` is the confirmation page's form; any other request is the client's.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::context::{BrowserBinding, session_value};
use super::pages::{self, LogoutConfirmHtml};
use crate::http::state::AppState;
use crate::oauth::flow::{self, Cookies, LogoutStep};
use crate::oauth::form::FormMap;

pub async fn logout_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let form = match parse(&state, &req, req.query_string().as_bytes()) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    ask(&req, &state, &form).await
}

pub async fn logout_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !FormMap::parse(&body).is_ok_and(|f| f.contains("csrf_token")) {
        let form = match parse(&state, &req, &body) {
            Ok(f) => f,
            Err(r) => return *r,
        };
        return ask(&req, &state, &form).await;
    }
    let form = match pages::posted_form(&state, &req, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let session = session_value(&state, &req);
    let browser = BrowserBinding::sent(&state, &req);
    let cookies = Cookies {
        session: session.as_deref(),
        browser: browser.as_deref(),
    };
    match flow::confirm_logout(&state.ctx(&req), &form, cookies).await {
        Ok(step) => render(&state, &req, step),
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

fn parse(state: &AppState, req: &HttpRequest, raw: &[u8]) -> Result<FormMap, Box<HttpResponse>> {
    FormMap::parse(raw).map_err(|e| {
        Box::new(pages::error_html(
            state,
            req,
            StatusCode::BAD_REQUEST,
            e.description().unwrap_or("The request is malformed."),
        ))
    })
}

/// The client's logout request: end the session at once, or ask.
async fn ask(req: &HttpRequest, state: &AppState, form: &FormMap) -> HttpResponse {
    let session = session_value(state, req);
    let browser = BrowserBinding::of(state, req);
    let cookies = Cookies {
        session: session.as_deref(),
        browser: Some(browser.value()),
    };
    let mut response = match flow::logout(&state.ctx(req), form, cookies).await {
        Ok(step) => render(state, req, step),
        Err(e) => pages::browser_error(state, req, e),
    };
    browser.set_on(state, &mut response);
    response
}

fn render(state: &AppState, req: &HttpRequest, step: LogoutStep) -> HttpResponse {
    match step {
        LogoutStep::Confirm {
            request,
            csrf_token,
        } => {
            let mut fields = Vec::new();
            let named = [
                ("client_id", request.client_id.as_deref()),
                (
                    "post_logout_redirect_uri",
                    request.post_logout_redirect_uri.as_deref(),
                ),
                ("state", request.state.as_deref()),
            ];
            for (name, value) in named {
                if let Some(value) = value {
                    fields.push((name, value));
                }
            }
            pages::logout_confirm_page(
                state,
                req,
                LogoutConfirmHtml {
                    client_name: request.client_name.as_deref(),
                    csrf_token: &csrf_token,
                    fields,
                },
            )
        }
        LogoutStep::Done(location) => {
            let mut response = match location {
                Some(location) => pages::redirect(state, &location),
                None => pages::logged_out_page(state, req),
            };
            pages::clear_cookie(state, &mut response);
            response
        }
    }
}
