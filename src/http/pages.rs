//! The browser endpoints: /authorize, /login, /select_account, /consent, /logout, and the
//! HTML they send. Every page carries the headers docs/security.md asks for; every POST
//! answers with a 303. Every response that can render a form makes sure the browser has
//! its binding cookie (`context::BrowserBinding`), since the form's token is bound to it.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::context::{self, BrowserBinding, SESSION, page_base, page_path, session_value};
use crate::config::UiConfig;
use crate::http::state::AppState;
use crate::oauth::flow::{
    self, BrowserError, ConsentForm, Cookies, FactorForm, LoginForm, Page, PasskeyForm, Screen,
    SelectAccountForm, SignedIn, Step,
};
use crate::oauth::form::{FormLimits, FormMap};
use crate::ui::Lang;

#[derive(Serialize)]
struct LoginHtml<'a> {
    client_name: &'a str,
    /// The host of a metadata document's client (`Page::client_host`).
    client_host: Option<&'a str>,
    request_id: &'a str,
    csrf_token: &'a str,
    login_hint: &'a str,
    error: Option<&'a str>,
    /// WebAuthn options for a passkey-only sign-in (JSON, made safe for a script block).
    passkey_options: Option<String>,
    /// Self sign-up is on: the page links to it.
    signup: bool,
}

#[derive(Serialize)]
struct SecondFactorHtml<'a> {
    client_name: &'a str,
    request_id: &'a str,
    csrf_token: &'a str,
    error: Option<&'a str>,
    totp: bool,
    recovery: bool,
    passkey_options: Option<String>,
}

#[derive(Serialize)]
struct EnrolHtml<'a> {
    client_name: &'a str,
    request_id: &'a str,
    csrf_token: &'a str,
    error: Option<&'a str>,
    secret: Option<&'a str>,
    /// The QR code of the `otpauth://` URI, an SVG drawn here.
    qr: String,
}

#[derive(Serialize)]
pub(crate) struct NoticeHtml<'a> {
    pub codes: Vec<&'a str>,
    pub codes_left: Option<u32>,
    pub continue_to: String,
}

#[derive(Serialize)]
struct SelectAccountHtml<'a> {
    client_name: &'a str,
    request_id: &'a str,
    csrf_token: &'a str,
    signed_in_as: &'a str,
    login_hint: &'a str,
}

#[derive(Serialize)]
struct ConsentHtml<'a> {
    client_name: &'a str,
    client_host: Option<&'a str>,
    /// A self-registered client's redirect host (`Page::self_registered_to`).
    self_registered_to: Option<&'a str>,
    request_id: &'a str,
    csrf_token: &'a str,
    scopes: Vec<ScopeLine<'a>>,
    resources: &'a [String],
}

/// A scope on the consent page: a known one in the catalogue's words (`scope-<name>`),
/// any other by its name.
#[derive(Serialize)]
struct ScopeLine<'a> {
    name: &'a str,
    known: bool,
}

#[derive(Serialize)]
struct ErrorHtml<'a> {
    message: &'a str,
}

#[derive(Serialize)]
pub(crate) struct LogoutConfirmHtml<'a> {
    pub client_name: Option<&'a str>,
    pub csrf_token: &'a str,
    /// The checked logout request, posted back with the confirmation.
    pub fields: Vec<(&'static str, &'a str)>,
}

const STYLESHEET: &str = include_str!("../../static/portcullis.css");
const WEBAUTHN_JS: &str = include_str!("../../static/webauthn.js");

/// The one script of the pages: the WebAuthn calls, which exist only in JavaScript.
pub async fn webauthn_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(WEBAUTHN_JS)
}

/// WebAuthn options for a `<script type="application/json">` block: `<` is escaped so no
/// value inside (a username, the product name) can end the block.
pub(crate) fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// The QR code of an `otpauth://` URI as inline SVG (our own markup: safe to embed).
pub(crate) fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(err) => {
            tracing::error!(error = %err, "cannot draw a QR code");
            String::new()
        }
    }
}

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
    // No extra stylesheet or logo configured: nothing to allow beyond 'self'. (Both are
    // validated as absolute URLs when the configuration loads.)
    let extra = |v: &Option<String>| {
        v.as_deref()
            .and_then(origin_of)
            .map(|o| format!(" {o}"))
            .unwrap_or_default()
    };
    // No `form-action`: browsers apply it to the redirects that follow a form post too
    // (CSP3; Chromium enforces it), and the login, second-factor, consent and logout forms
    // end in a 303 to the client's redirect URI on another origin, which `'self'` blocked.
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'{}; img-src 'self' data:{}; frame-ancestors 'none'; base-uri 'none'",
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

pub(crate) fn html(
    state: &AppState,
    status: StatusCode,
    body: Result<String, impl std::fmt::Display>,
) -> HttpResponse {
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

/// Page `name` in `lang`, from the built-in or the operator's templates (`crate::ui`).
pub(crate) fn page<P: Serialize>(
    state: &AppState,
    lang: &Lang,
    status: StatusCode,
    name: &str,
    page: &P,
) -> HttpResponse {
    html(
        state,
        status,
        state.ui.page(name, lang, page_base(state), page),
    )
}

/// The error page, in the request's language; `message` is a catalogue's English text or
/// id (`crate::ui::catalogue`), or words made for this request.
pub(super) fn error_page(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    message: &str,
) -> HttpResponse {
    let lang = context::lang(state, req, None);
    page(state, &lang, status, "error.html", &ErrorHtml { message })
}

pub(crate) fn see_other(state: &AppState, location: &str) -> HttpResponse {
    let mut b = HttpResponse::SeeOther();
    secured(&mut b, &state.config.ui);
    b.insert_header((header::LOCATION, location)).finish()
}

/// The one place a browser error becomes a page.
pub(crate) fn browser_error(
    state: &AppState,
    req: &HttpRequest,
    err: BrowserError,
) -> HttpResponse {
    match err {
        BrowserError::Page(message) => error_page(state, req, StatusCode::BAD_REQUEST, message),
        BrowserError::Message(message) => error_page(state, req, StatusCode::BAD_REQUEST, &message),
        BrowserError::Forbidden(message) => error_page(state, req, StatusCode::FORBIDDEN, message),
        BrowserError::Unavailable(_) => {
            let mut r = error_page(state, req, StatusCode::SERVICE_UNAVAILABLE, "error-busy");
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
            r
        }
    }
}

/// The scopes the consent page has words for (`scope-<name>` in the catalogues).
fn describe(scope: &str) -> ScopeLine<'_> {
    ScopeLine {
        name: scope,
        known: matches!(scope, "openid" | "profile" | "email" | "offline_access"),
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

fn render_page(state: &AppState, req: &HttpRequest, page: &Page) -> HttpResponse {
    let lang = context::lang(state, req, page.ui_locales.as_deref());
    // The account pages' own sign-in names no application but "your account", in words of
    // the catalogue; a client's name is its own and is never translated.
    let account_name;
    let client_name = if page.client_name == flow::account::CLIENT_NAME {
        account_name = state.ui.text(&lang, "account-client-name", &[]);
        account_name.as_str()
    } else {
        page.client_name.as_str()
    };
    match page.screen {
        Screen::Login => self::page(
            state,
            &lang,
            StatusCode::OK,
            "login.html",
            &LoginHtml {
                client_name,
                client_host: page.client_host.as_deref(),
                request_id: &page.request_id,
                csrf_token: page.csrf.expose(),
                login_hint: page.login_hint.as_deref().unwrap_or(""),
                error: page.error,
                passkey_options: page.passkey_options.as_deref().map(script_json),
                signup: state.config.registration.self_signup,
            },
        ),
        Screen::SecondFactor => self::page(
            state,
            &lang,
            StatusCode::OK,
            "second_factor.html",
            &SecondFactorHtml {
                client_name,
                request_id: &page.request_id,
                csrf_token: page.csrf.expose(),
                error: page.error,
                totp: page.factors.totp,
                recovery: page.factors.recovery,
                passkey_options: page.passkey_options.as_deref().map(script_json),
            },
        ),
        Screen::Enrol => self::page(
            state,
            &lang,
            StatusCode::OK,
            "enrol.html",
            &EnrolHtml {
                client_name,
                request_id: &page.request_id,
                csrf_token: page.csrf.expose(),
                error: page.error,
                secret: page.enrolment.as_ref().map(|e| e.secret.as_str()),
                qr: page
                    .enrolment
                    .as_ref()
                    .map(|e| qr_svg(&e.uri))
                    .unwrap_or_default(),
            },
        ),
        Screen::SelectAccount => self::page(
            state,
            &lang,
            StatusCode::OK,
            "select_account.html",
            &SelectAccountHtml {
                client_name,
                request_id: &page.request_id,
                csrf_token: page.csrf.expose(),
                signed_in_as: page.signed_in_as.as_deref().unwrap_or(""),
                login_hint: page.login_hint.as_deref().unwrap_or(""),
            },
        ),
        Screen::Consent => self::page(
            state,
            &lang,
            StatusCode::OK,
            "consent.html",
            &ConsentHtml {
                client_name,
                client_host: page.client_host.as_deref(),
                self_registered_to: page.self_registered_to.as_deref(),
                request_id: &page.request_id,
                csrf_token: page.csrf.expose(),
                scopes: consent_order(&page.scopes)
                    .into_iter()
                    .map(describe)
                    .collect(),
                resources: &page.resources,
            },
        ),
    }
}

/// Each screen's own route, where a GET shows it (under the issuer's path).
fn screen_route(screen: Screen) -> &'static str {
    match screen {
        Screen::Login => "/login",
        Screen::SecondFactor => "/login/factor",
        Screen::Enrol => "/login/enrol",
        Screen::SelectAccount => "/select_account",
        Screen::Consent => "/consent",
    }
}

pub(crate) fn render_step(
    state: &AppState,
    req: &HttpRequest,
    step: Result<Step, BrowserError>,
) -> HttpResponse {
    match step {
        Ok(Step::Show(shown)) => render_page(state, req, &shown),
        Ok(Step::Visit { screen, request_id }) => see_other(
            state,
            &format!(
                "{}?request_id={request_id}",
                page_path(state, screen_route(screen))
            ),
        ),
        Ok(Step::Redirect(location)) => see_other(state, &location),
        Ok(Step::Notice {
            request_id,
            codes,
            codes_left,
        }) => page(
            state,
            &context::lang(state, req, None),
            StatusCode::OK,
            "notice.html",
            &NoticeHtml {
                codes: codes.iter().map(|c| c.as_str()).collect(),
                codes_left,
                continue_to: format!("{}?request_id={request_id}", page_path(state, "/login")),
            },
        ),
        Err(e) => browser_error(state, req, e),
    }
}

fn parse_form(
    state: &AppState,
    req: &HttpRequest,
    bytes: &[u8],
) -> Result<FormMap, Box<HttpResponse>> {
    parse_form_with(state, req, bytes, &FormLimits::default())
}

fn parse_form_with(
    state: &AppState,
    req: &HttpRequest,
    bytes: &[u8],
    limits: &FormLimits,
) -> Result<FormMap, Box<HttpResponse>> {
    FormMap::parse_with(bytes, limits).map_err(|e| {
        Box::new(error_page(
            state,
            req,
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
    authorize(&req, &state, req.query_string().as_bytes()).await
}

pub async fn authorize_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    authorize(&req, &state, &body).await
}

async fn authorize(req: &HttpRequest, state: &AppState, raw: &[u8]) -> HttpResponse {
    // RFC 8707: an authorization request may name several resources.
    let form = match parse_form_with(state, req, raw, &FormLimits::with_resources()) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let session = session_value(state, req);
    // Set here already, so the page the browser is sent to finds it.
    let browser = BrowserBinding::of(state, req);
    let cookies = Cookies {
        session: session.as_deref(),
        browser: Some(browser.value()),
    };
    let mut response = render_step(
        state,
        req,
        flow::begin(&state.ctx(req), &form, cookies).await,
    );
    browser.set_on(state, &mut response);
    response
}

async fn show(req: &HttpRequest, state: &AppState) -> HttpResponse {
    let form = match parse_form(state, req, req.query_string().as_bytes()) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let session = session_value(state, req);
    let browser = BrowserBinding::of(state, req);
    let cookies = Cookies {
        session: session.as_deref(),
        browser: Some(browser.value()),
    };
    let mut response = render_step(
        state,
        req,
        flow::show(&state.ctx(req), form.get("request_id"), cookies).await,
    );
    browser.set_on(state, &mut response);
    response
}

pub async fn login_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    show(&req, &state).await
}

pub async fn consent_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    show(&req, &state).await
}

pub async fn select_account_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    show(&req, &state).await
}

/// A posted form of the flow: same-site, and well-formed.
pub(crate) fn posted_form(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<FormMap, Box<HttpResponse>> {
    if !origin_ok(state, req) {
        return Err(Box::new(browser_error(
            state,
            req,
            BrowserError::Forbidden("The form did not come from this site."),
        )));
    }
    parse_form(state, req, body)
}

/// A posted form of the flow, parsed into its step's form; the error page when it is
/// cross-site or malformed.
fn posted<F>(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    parse: impl FnOnce(&FormMap) -> Result<F, BrowserError>,
) -> Result<F, Box<HttpResponse>> {
    let form = posted_form(state, req, body)?;
    parse(&form).map_err(|e| Box::new(browser_error(state, req, e)))
}

/// The session and browser-binding cookies a request sent, for the steps after login.
struct SentCookies {
    session: Option<String>,
    browser: Option<String>,
}

impl SentCookies {
    fn of(state: &AppState, req: &HttpRequest) -> Self {
        Self {
            session: session_value(state, req),
            browser: BrowserBinding::sent(state, req),
        }
    }

    fn cookies(&self) -> Cookies<'_> {
        Cookies {
            session: self.session.as_deref(),
            browser: self.browser.as_deref(),
        }
    }
}

pub async fn login_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match posted(&state, &req, &body, LoginForm::parse) {
        Ok(form) => form,
        Err(r) => return *r,
    };
    let browser = BrowserBinding::sent(&state, &req);
    let cookies = Cookies {
        session: None,
        browser: browser.as_deref(),
    };
    let device_cookie = context::cookie_value(&req, &state, context::DEVICE);
    signed_in(
        &state,
        &req,
        flow::submit_login(&state.ctx(&req), form, cookies, device_cookie.as_deref()).await,
    )
}

pub async fn factor_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    show(&req, &state).await
}

pub async fn enrol_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    show(&req, &state).await
}

/// Gives a browser that signed in its device cookie (`oauth::login::Source`).
fn set_device_cookie(
    state: &AppState,
    response: &mut HttpResponse,
    device: Option<zeroize::Zeroizing<String>>,
) {
    if let Some(device) = device {
        let mut c = context::cookie(state, context::DEVICE, device.to_string());
        c.set_max_age(actix_web::cookie::time::Duration::seconds(
            state.config.login.device_cookie_lifetime,
        ));
        if let Err(err) = response.add_cookie(&c) {
            tracing::error!(error = %err, "cannot set the device cookie");
        }
    }
}

/// The response to a sign-in, or to a step that upgraded the session: the session's (new)
/// cookie and, for a complete sign-in, the device cookie, with the next step; or the page
/// again.
fn signed_in(
    state: &AppState,
    req: &HttpRequest,
    outcome: Result<Result<SignedIn, Step>, BrowserError>,
) -> HttpResponse {
    match outcome {
        Ok(Ok(SignedIn {
            cookie,
            step,
            device,
        })) => {
            let mut response = render_step(state, req, Ok(step));
            if let Err(err) =
                response.add_cookie(&context::cookie(state, SESSION, cookie.expose().to_owned()))
            {
                tracing::error!(error = %err, "cannot set the session cookie");
            }
            set_device_cookie(state, &mut response, device);
            response
        }
        Ok(Err(again)) => render_step(state, req, Ok(again)),
        Err(e) => browser_error(state, req, e),
    }
}

/// POST /login/factor: the second factor of the session that signed in (or steps up).
pub async fn factor_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match posted(&state, &req, &body, FactorForm::parse) {
        Ok(form) => form,
        Err(r) => return *r,
    };
    let sent = SentCookies::of(&state, &req);
    let device_cookie = context::cookie_value(&req, &state, context::DEVICE);
    signed_in(
        &state,
        &req,
        flow::submit_factor(
            &state.ctx(&req),
            form,
            sent.cookies(),
            device_cookie.as_deref(),
        )
        .await,
    )
}

/// POST /login/enrol: the first code of the authenticator being enrolled.
pub async fn enrol_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match posted(&state, &req, &body, FactorForm::parse) {
        Ok(form) => form,
        Err(r) => return *r,
    };
    let sent = SentCookies::of(&state, &req);
    let device_cookie = context::cookie_value(&req, &state, context::DEVICE);
    signed_in(
        &state,
        &req,
        flow::submit_enrol(
            &state.ctx(&req),
            form,
            sent.cookies(),
            device_cookie.as_deref(),
        )
        .await,
    )
}

/// POST /login/passkey: a sign-in with a passkey alone.
pub async fn passkey_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match posted(&state, &req, &body, PasskeyForm::parse) {
        Ok(form) => form,
        Err(r) => return *r,
    };
    let browser = BrowserBinding::sent(&state, &req);
    let cookies = Cookies {
        session: None,
        browser: browser.as_deref(),
    };
    signed_in(
        &state,
        &req,
        flow::submit_passkey(&state.ctx(&req), form, cookies).await,
    )
}

pub async fn consent_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match posted(&state, &req, &body, ConsentForm::parse) {
        Ok(form) => form,
        Err(r) => return *r,
    };
    let sent = SentCookies::of(&state, &req);
    render_step(
        &state,
        &req,
        flow::submit_consent(&state.ctx(&req), form, sent.cookies()).await,
    )
}

pub async fn select_account_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match posted(&state, &req, &body, SelectAccountForm::parse) {
        Ok(form) => form,
        Err(r) => return *r,
    };
    let sent = SentCookies::of(&state, &req);
    render_step(
        &state,
        &req,
        flow::submit_select_account(&state.ctx(&req), form, sent.cookies()).await,
    )
}

pub(crate) fn logged_out_page(state: &AppState, req: &HttpRequest) -> HttpResponse {
    let lang = context::lang(state, req, None);
    page(state, &lang, StatusCode::OK, "logout.html", &())
}

pub(crate) fn logout_confirm_page(
    state: &AppState,
    req: &HttpRequest,
    confirm: LogoutConfirmHtml<'_>,
) -> HttpResponse {
    let lang = context::lang(state, req, None);
    page(
        state,
        &lang,
        StatusCode::OK,
        "logout_confirm.html",
        &confirm,
    )
}

pub(crate) fn clear_cookie(state: &AppState, response: &mut HttpResponse) {
    if let Err(err) = response.add_cookie(&context::removal(state, SESSION)) {
        tracing::error!(error = %err, "cannot clear the session cookie");
    }
}

pub(crate) fn redirect(state: &AppState, location: &str) -> HttpResponse {
    see_other(state, location)
}

pub(crate) fn error_html(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    message: &str,
) -> HttpResponse {
    error_page(state, req, status, message)
}
