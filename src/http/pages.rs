//! The browser endpoints: /authorize, /login, /consent, /logout, and the HTML they send.
//! Every page carries the headers SECURITY.md asks for; every POST answers with a 303.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use zeroize::Zeroizing;

use super::client_ip::client_ip;
use crate::config::UiConfig;
use crate::http::state::AppState;
use crate::oauth::context::Ctx;
use crate::oauth::flow::{self, FlowError, Step};
use crate::oauth::form::FormMap;
use crate::oauth::login::{self, LoginFailure};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginHtml<'a> {
    ui: &'a UiConfig,
    client_name: &'a str,
    request_id: &'a str,
    csrf_token: &'a str,
    login_hint: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentHtml<'a> {
    ui: &'a UiConfig,
    client_name: &'a str,
    request_id: &'a str,
    csrf_token: &'a str,
    scopes: Vec<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorHtml<'a> {
    ui: &'a UiConfig,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub(crate) struct LogoutHtml<'a> {
    pub ui: &'a UiConfig,
}

/// The generic login failure: the same words for every reason.
pub const LOGIN_FAILED: &str = "Incorrect username or password.";

const STYLESHEET: &str = include_str!("../../static/portcullis.css");

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(STYLESHEET)
}

fn origin_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
}

fn csp(ui: &UiConfig) -> String {
    let extra = |v: &Option<String>| {
        v.as_deref()
            .and_then(origin_of)
            .map(|o| format!(" {o}"))
            .unwrap_or_default()
    };
    format!(
        "default-src 'none'; style-src 'self'{}; img-src 'self' data:{}; frame-ancestors 'none'; base-uri 'none'",
        extra(&ui.extra_stylesheet),
        extra(&ui.logo_url)
    )
}

/// Headers for every HTML response and redirect of the login flow.
fn secured(builder: &mut actix_web::HttpResponseBuilder, ui: &UiConfig) {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CONTENT_SECURITY_POLICY, csp(ui)))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
}

fn html(state: &AppState, status: StatusCode, body: Result<String, askama::Error>) -> HttpResponse {
    let mut b = HttpResponse::build(status);
    secured(&mut b, &state.config.ui);
    match body {
        Ok(text) => b.content_type("text/html; charset=utf-8").body(text),
        Err(err) => {
            tracing::error!(error = %err, "template rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn error_page(state: &AppState, status: StatusCode, message: &str) -> HttpResponse {
    html(
        state,
        status,
        ErrorHtml {
            ui: &state.config.ui,
            message,
        }
        .render(),
    )
}

fn see_other(state: &AppState, location: &str) -> HttpResponse {
    let mut b = HttpResponse::SeeOther();
    secured(&mut b, &state.config.ui);
    b.insert_header((header::LOCATION, location)).finish()
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.config.issuer.is_https() {
        "__Host-portcullis_session"
    } else {
        "portcullis_session"
    }
}

fn session_cookie<'a>(state: &AppState, value: String) -> Cookie<'a> {
    let mut c = Cookie::new(cookie_name(state), value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_path("/");
    c.set_secure(state.config.issuer.is_https());
    c
}

pub(crate) fn ctx<'a>(state: &'a AppState, req: &HttpRequest) -> Ctx<'a> {
    Ctx {
        config: &state.config,
        store: &state.store,
        keys: &state.keys,
        accounts: &state.accounts,
        clients: &state.clients,
        standings: &state.standings,
        metrics: &state.metrics,
        now: state.clock.now(),
        started: std::time::Instant::now(),
        client_ip: client_ip(
            req.peer_addr().map(|a| a.ip()),
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok()),
            &state.config.rate_limit.trusted_proxies,
        ),
    }
}

pub(crate) fn session_value(state: &AppState, req: &HttpRequest) -> Option<String> {
    req.cookie(cookie_name(state)).map(|c| c.value().to_owned())
}

fn flow_error(state: &AppState, err: FlowError) -> HttpResponse {
    match err {
        FlowError::Page(message) => error_page(state, StatusCode::BAD_REQUEST, message),
        FlowError::Unavailable(_) => {
            let mut r = error_page(
                state,
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is busy. Please try again in a moment.",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
            r
        }
    }
}

/// Plain words for the consent page.
fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Sign you in with your account".into(),
        "profile" => "See your name and username".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Keep access while you are away".into(),
        other => format!("Use \u{201c}{other}\u{201d}"),
    }
}

/// Sign-in first, then what the client will see, then standing access, then the rest:
/// the order a person reads a request in, not the alphabet.
fn consent_order(scopes: &[String]) -> Vec<&str> {
    let rank = |s: &str| match s {
        "openid" => 0,
        "profile" => 1,
        "email" => 2,
        "offline_access" => 4,
        _ => 3,
    };
    let mut ordered: Vec<&str> = scopes.iter().map(String::as_str).collect();
    ordered.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    ordered
}

fn render_step(state: &AppState, step: Step, error: Option<&str>) -> HttpResponse {
    match step {
        Step::Redirect(location) => see_other(state, &location),
        Step::Login(page) => html(
            state,
            StatusCode::OK,
            LoginHtml {
                ui: &state.config.ui,
                client_name: &page.client_name,
                request_id: &page.request_id,
                csrf_token: page.csrf.expose(),
                login_hint: page.login_hint.as_deref().unwrap_or(""),
                error,
            }
            .render(),
        ),
        Step::Consent(page) => html(
            state,
            StatusCode::OK,
            ConsentHtml {
                ui: &state.config.ui,
                client_name: &page.client_name,
                request_id: &page.request_id,
                csrf_token: page.csrf.expose(),
                scopes: consent_order(&page.scopes)
                    .into_iter()
                    .map(describe)
                    .collect(),
            }
            .render(),
        ),
    }
}

/// A step reached by GET /authorize goes through a URL of its own, so reloading the page
/// does not revalidate and re-store the request.
fn redirect_step(state: &AppState, step: Step) -> HttpResponse {
    match step {
        Step::Redirect(location) => see_other(state, &location),
        Step::Login(page) => see_other(state, &format!("/login?request_id={}", page.request_id)),
        Step::Consent(page) => {
            see_other(state, &format!("/consent?request_id={}", page.request_id))
        }
    }
}

fn parse_form(state: &AppState, bytes: &[u8]) -> Result<FormMap, Box<HttpResponse>> {
    FormMap::parse(bytes).map_err(|e| {
        Box::new(error_page(
            state,
            StatusCode::BAD_REQUEST,
            e.description().unwrap_or("The request is malformed."),
        ))
    })
}

/// Cross-site form posts are refused: a browser always sends Origin on POST, and it must
/// be ours. (Clients without Origin, such as test tools, still need the CSRF token.)
/// Defence in depth behind the CSRF token: refuse form posts a browser says came from
/// another site.
fn origin_ok(state: &AppState, req: &HttpRequest) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let fetch_site = header("sec-fetch-site");
    // Fetch metadata, where the browser sends it, is the most direct answer.
    if fetch_site.is_some_and(|site| site != "same-origin") {
        return false;
    }
    match header(header::ORIGIN.as_str()) {
        // Non-browser clients and old browsers: the CSRF token carries the check.
        None => true,
        // Our pages set `Referrer-Policy: no-referrer`, and under it browsers send
        // `Origin: null` even for a same-origin form. A sandboxed frame on another
        // site sends `null` too, so it passes only when fetch metadata vouches for it.
        Some("null") => fetch_site == Some("same-origin"),
        Some(origin) => origin_of(state.config.issuer.as_str()).is_some_and(|ours| ours == origin),
    }
}

pub async fn authorize_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let form = match parse_form(&state, req.query_string().as_bytes()) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    authorize(&req, &state, &form).await
}

pub async fn authorize_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match parse_form(&state, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    authorize(&req, &state, &form).await
}

async fn authorize(req: &HttpRequest, state: &AppState, form: &FormMap) -> HttpResponse {
    let ctx = ctx(state, req);
    let session = match flow::load_session(&ctx, session_value(state, req).as_deref()).await {
        Ok(s) => s,
        Err(e) => return flow_error(state, e),
    };
    match flow::begin(&ctx, form, session).await {
        Ok(step) => redirect_step(state, step),
        Err(e) => flow_error(state, e),
    }
}

async fn show(req: &HttpRequest, state: &AppState) -> HttpResponse {
    let form = match parse_form(state, req.query_string().as_bytes()) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let Some(id) = form.get("request_id") else {
        return error_page(
            state,
            StatusCode::BAD_REQUEST,
            "The sign-in request is missing.",
        );
    };
    let ctx = ctx(state, req);
    let result = async {
        let (row, client) = flow::pending(&ctx, id).await?;
        let session = flow::load_session(&ctx, session_value(state, req).as_deref()).await?;
        flow::proceed(&ctx, &client, row, session).await
    }
    .await;
    match result {
        Ok(step) => render_step(state, step, None),
        Err(e) => flow_error(state, e),
    }
}

pub async fn login_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    show(&req, &state).await
}

pub async fn consent_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    show(&req, &state).await
}

pub async fn login_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !origin_ok(&state, &req) {
        return error_page(
            &state,
            StatusCode::FORBIDDEN,
            "The form did not come from this site.",
        );
    }
    let form = match parse_form(&state, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let ctx = ctx(&state, &req);
    let Some(id) = form.get("request_id") else {
        return error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "The sign-in request is missing.",
        );
    };
    let (row, client) = match flow::pending(&ctx, id).await {
        Ok(p) => p,
        Err(e) => return flow_error(&state, e),
    };
    if let Err(e) = flow::check_csrf(&row, form.get("csrf_token")) {
        return flow_error(&state, e);
    }
    let username = form.get("username").unwrap_or("");
    let password = Zeroizing::new(form.get("password").unwrap_or("").to_owned());
    let user = match login::check_password(
        &ctx,
        username,
        password,
        &client.client_id,
        "login_form",
    )
    .await
    {
        Ok(user) => user,
        Err(LoginFailure::Rejected) => {
            // Show the form again, with a fresh CSRF token and the one generic message.
            return match flow::proceed(&ctx, &client, row, None).await {
                Ok(step) => render_step(&state, step, Some(LOGIN_FAILED)),
                Err(e) => flow_error(&state, e),
            };
        }
        Err(LoginFailure::Unavailable(e)) => return flow_error(&state, FlowError::Unavailable(e)),
    };
    let (cookie, session) = match flow::create_session(&ctx, &user.id, &["pwd"]).await {
        Ok(s) => s,
        Err(e) => return flow_error(&state, e),
    };
    let step = match flow::after_login(&ctx, &client, row, session).await {
        Ok(step) => step,
        Err(e) => return flow_error(&state, e),
    };
    let mut response = redirect_step(&state, step);
    if let Err(err) = response.add_cookie(&session_cookie(&state, cookie.expose().to_owned())) {
        tracing::error!(error = %err, "cannot set the session cookie");
    }
    response
}

pub async fn consent_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !origin_ok(&state, &req) {
        return error_page(
            &state,
            StatusCode::FORBIDDEN,
            "The form did not come from this site.",
        );
    }
    let form = match parse_form(&state, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let ctx = ctx(&state, &req);
    let Some(id) = form.get("request_id") else {
        return error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "The sign-in request is missing.",
        );
    };
    let allow = match form.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        Some(_) | None => {
            return error_page(&state, StatusCode::BAD_REQUEST, "Choose Allow or Deny.");
        }
    };
    let result = async {
        let (row, _client) = flow::pending(&ctx, id).await?;
        flow::check_csrf(&row, form.get("csrf_token"))?;
        let session = flow::load_session(&ctx, session_value(&state, &req).as_deref()).await?;
        flow::decide_consent(&ctx, row, session, allow).await
    }
    .await;
    match result {
        Ok(step) => redirect_step(&state, step),
        Err(e) => flow_error(&state, e),
    }
}

pub(crate) fn logged_out_page(state: &AppState) -> HttpResponse {
    html(
        state,
        StatusCode::OK,
        LogoutHtml {
            ui: &state.config.ui,
        }
        .render(),
    )
}

pub(crate) fn clear_cookie(state: &AppState, response: &mut HttpResponse) {
    let mut c = session_cookie(state, String::new());
    c.make_removal();
    if let Err(err) = response.add_cookie(&c) {
        tracing::error!(error = %err, "cannot clear the session cookie");
    }
}

pub(crate) fn redirect(state: &AppState, location: &str) -> HttpResponse {
    see_other(state, location)
}

pub(crate) fn error_html(state: &AppState, status: StatusCode, message: &str) -> HttpResponse {
    error_page(state, status, message)
}
