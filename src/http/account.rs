//! The user's own pages: `/account` (profile, sign out), `/account/password`,
//! `/account/security` (second factors), `/account/sessions` (where they are signed in)
//! and `/account/apps` (the applications they let in). Thin: extract the cookies and the form, let
//! `oauth::flow::account` decide and change, render. Every response goes out with the
//! login pages' headers (`pages::html`, `pages::see_other`); every form is a same-site POST
//! (`pages::posted_form`) carrying the token `Account::csrf_token` makes; a POST whose
//! session no longer reaches the pages is sent to the page, whose GET signs in again.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::context::{self, BrowserBinding, SESSION, page_path, session_value};
use super::mail_out;
use super::pages::{self, NoticeHtml};
use crate::http::state::AppState;
use crate::oauth::flow::Cookies;
use crate::oauth::flow::account::notices::{self, Change};
use crate::oauth::flow::account::password::{self, Changed, PasswordForm};
use crate::oauth::flow::account::security::{
    self, Factors, Listed, Outcome, Registration, RemoveForm,
};
use crate::oauth::flow::account::sessions::{self as browser_sessions, Ended};
use crate::oauth::flow::account::verification::{self, ProfileForm, ProfileOutcome};
use crate::oauth::flow::account::{self, Account, AccountPage, Entry, apps};
use crate::oauth::form::FormMap;

#[derive(Serialize)]
struct AccountHtml<'a> {
    username: &'a str,
    name: Option<&'a str>,
    email: Option<&'a str>,
    notice: Option<&'static str>,
    logout_token: &'a str,
}

#[derive(Serialize)]
struct ProfileHtml<'a> {
    name: &'a str,
    email: &'a str,
    /// The current address is not verified (and none waits to replace it).
    unverified: bool,
    /// An address asked for and not yet verified (`users.pending_email`).
    pending_email: Option<&'a str>,
    notice: Option<&'static str>,
    error: Option<&'a str>,
    csrf_token: &'a str,
}

#[derive(Serialize)]
struct PasswordHtml<'a> {
    username: &'a str,
    csrf_token: &'a str,
    error: Option<&'a str>,
    min_chars: usize,
}

/// A factor as the security page lists it, its times in words.
#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    added: String,
    last_used: Option<String>,
    /// The user's only factor: its form asks for the password.
    last: bool,
}

impl From<&Listed> for Row {
    fn from(f: &Listed) -> Self {
        Self {
            id: f.id.clone(),
            name: f.name.clone(),
            added: day(f.created_at),
            last_used: f.last_used_at.map(day),
            last: f.last,
        }
    }
}

#[derive(Serialize)]
struct SecurityHtml<'a> {
    /// For password managers, beside the password the last factor's form asks for.
    username: &'a str,
    csrf_token: &'a str,
    notice: Option<&'static str>,
    error: Option<&'a str>,
    /// The confirmed authenticator app (none or one).
    totp: Vec<Row>,
    /// An enrolment waiting for its first code.
    totp_waiting: Option<Row>,
    passkeys: Vec<Row>,
    recovery_codes: u32,
    has_factor: bool,
    passkeys_available: bool,
    required: bool,
}

#[derive(Serialize)]
struct TotpHtml<'a> {
    csrf_token: &'a str,
    error: Option<&'a str>,
    secret: Option<&'a str>,
    qr: String,
}

#[derive(Serialize)]
struct PasskeyHtml<'a> {
    csrf_token: &'a str,
    options: String,
}

/// A session as the sessions page lists it, in words.
#[derive(Serialize)]
struct SessionRow {
    sid: String,
    device: String,
    ip: String,
    started: String,
    last_seen: String,
    current: bool,
}

#[derive(Serialize)]
struct SessionsHtml<'a> {
    csrf_token: &'a str,
    notice: Option<&'static str>,
    sessions: Vec<SessionRow>,
    /// How many sessions besides this browser's.
    others: usize,
}

/// An application as the apps page lists it.
#[derive(Serialize)]
struct AppRow {
    client_id: String,
    name: String,
    scopes: String,
    since: String,
}

#[derive(Serialize)]
struct AppsHtml<'a> {
    csrf_token: &'a str,
    notice: Option<&'static str>,
    apps: Vec<AppRow>,
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix time, for the sessions list.
fn moment(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02} UTC",
        day(unix),
        secs / 3_600,
        secs % 3_600 / 60
    )
}

/// `YYYY-MM-DD` (UTC) of a Unix time, for the factor list.
fn day(unix: i64) -> String {
    // Howard Hinnant's days-to-civil: exact for every date the list can hold.
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// What a page says after a change it was sent back to (`?done=`): fixed words per
/// change, never text from the request.
fn notice(req: &HttpRequest) -> Option<&'static str> {
    let form = FormMap::parse(req.query_string().as_bytes()).ok()?;
    match form.get("done")? {
        "password" => Some(
            "Your password was changed. Your other devices were signed out, and applications will ask you to sign in again.",
        ),
        "totp" => Some("Your authenticator app is set up."),
        "passkey" => Some("Your passkey was added. Use it the next time you sign in."),
        "removed" => Some("The second factor was removed."),
        "session" => Some("The session was signed out."),
        "others" => Some("Every other session was signed out."),
        "nothing" => Some("Nothing to sign out: that session had already ended."),
        "revoked" => Some(
            "The application's access was revoked. It has to ask you again before it can use your account.",
        ),
        "profile" => Some("Your profile was saved."),
        "email" => Some(
            "We sent a link to the new email address. Your address changes once you follow it.",
        ),
        "resent" => Some("We sent the link again."),
        _ => None,
    }
}

fn cookies<'a>(session: &'a Option<String>, browser: Option<&'a str>) -> Cookies<'a> {
    Cookies {
        session: session.as_deref(),
        browser,
    }
}

/// A GET of an account page: its user and this browser's binding, or the response that
/// signs in first (or the error page).
async fn entered(
    req: &HttpRequest,
    state: &AppState,
    page: AccountPage,
) -> Result<(Box<Account>, BrowserBinding), HttpResponse> {
    let session = session_value(state, req);
    let browser = BrowserBinding::of(state, req);
    let outcome = account::enter(
        &state.ctx(req),
        page,
        cookies(&session, Some(browser.value())),
    )
    .await;
    let mut response = match outcome {
        Ok(Entry::Granted(account)) => return Ok((account, browser)),
        Ok(Entry::SignIn(step)) => pages::render_step(state, req, Ok(step)),
        Err(e) => pages::browser_error(state, req, e),
    };
    browser.set_on(state, &mut response);
    Err(response)
}

/// A POST of an account form: its user, the form and this browser's binding; or the
/// response that refuses it (cross-site, a wrong token) or sends the browser to `page`
/// (the session no longer reaches the pages).
async fn posted(
    req: &HttpRequest,
    state: &AppState,
    body: &[u8],
    page: AccountPage,
) -> Result<(Box<Account>, FormMap, String), HttpResponse> {
    let form = pages::posted_form(state, req, body).map_err(|r| *r)?;
    let session = session_value(state, req);
    let browser = BrowserBinding::sent(state, req);
    match account::posted(
        &state.ctx(req),
        cookies(&session, browser.as_deref()),
        form.get("csrf_token"),
    )
    .await
    {
        Ok(Some(account)) => Ok((Box::new(account), form, browser.unwrap_or_default())),
        Ok(None) => Err(pages::see_other(state, &page_path(state, page.route()))),
        Err(e) => Err(pages::browser_error(state, req, e)),
    }
}

/// Page `name` in the request's language.
fn ok<P: Serialize>(state: &AppState, req: &HttpRequest, name: &str, page: &P) -> HttpResponse {
    let lang = context::lang(state, req, None);
    pages::page(state, &lang, StatusCode::OK, name, page)
}

/// Tells the person by mail that their account's protection changed
/// (`account::notices`), in the language of this request.
async fn notify(state: &AppState, req: &HttpRequest, account: &Account, change: Change) {
    let ctx = state.ctx(req);
    if let Some(mail) = notices::security_change(&ctx, &account.profile, change) {
        mail_out::send(state, &context::lang(state, req, None), vec![mail], ctx.now).await;
    }
}

/// The page a change sends the browser back to, saying what was done.
fn done(state: &AppState, page: AccountPage, what: &str) -> HttpResponse {
    pages::see_other(
        state,
        &format!("{}?done={what}", page_path(state, page.route())),
    )
}

/// The session's new cookie, when a change gave it a factor.
fn set_session(
    state: &AppState,
    response: &mut HttpResponse,
    cookie: Option<&crate::crypto::tokens::Secret>,
) {
    if let Some(cookie) = cookie
        && let Err(err) =
            response.add_cookie(&context::cookie(state, SESSION, cookie.expose().to_owned()))
    {
        tracing::error!(error = %err, "cannot set the session cookie");
    }
}

/// New recovery codes, shown once, then on to the security page.
fn codes_page(
    state: &AppState,
    req: &HttpRequest,
    codes: &[zeroize::Zeroizing<String>],
    then: Option<&str>,
) -> HttpResponse {
    let security = page_path(state, AccountPage::Security.route());
    ok(
        state,
        req,
        "notice.html",
        &NoticeHtml {
            codes: codes.iter().map(|c| c.as_str()).collect(),
            codes_left: None,
            continue_to: match then {
                Some(what) => format!("{security}?done={what}"),
                None => security,
            },
        },
    )
}

/// GET /account: the profile, and the way to the other pages.
pub async fn profile(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (account, browser) = match entered(&req, &state, AccountPage::Profile).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let logout_token = account.logout_token(browser.value());
    let mut response = ok(
        &state,
        &req,
        "account.html",
        &AccountHtml {
            username: &account.profile.username,
            name: account.profile.name.as_deref(),
            email: account.profile.email.as_deref(),
            notice: notice(&req),
            logout_token: &logout_token,
        },
    );
    browser.set_on(&state, &mut response);
    response
}

async fn profile_page(
    req: &HttpRequest,
    state: &AppState,
    account: &Account,
    browser: &str,
    error: Option<&str>,
) -> HttpResponse {
    // As stored now, not as the session loaded it: a change just made shows.
    let ctx = state.ctx(req);
    let user_id = &account.session.user_id;
    let (profile, pending) = match (
        ctx.accounts.enabled_profile(user_id).await,
        ctx.store.pending_email(user_id).await,
    ) {
        (Ok(Some(profile)), Ok(pending)) => (profile, pending),
        (Ok(None), _) => {
            return pages::browser_error(
                state,
                req,
                crate::oauth::flow::BrowserError::Page("Your account no longer exists."),
            );
        }
        (Err(e), _) | (_, Err(e)) => return pages::browser_error(state, req, e.into()),
    };
    ok(
        state,
        req,
        "account_profile.html",
        &ProfileHtml {
            name: profile.name.as_deref().unwrap_or(""),
            email: profile.email.as_deref().unwrap_or(""),
            unverified: profile.email.is_some() && !profile.email_verified && pending.is_none(),
            pending_email: pending.as_deref(),
            notice: if error.is_none() { notice(req) } else { None },
            error,
            csrf_token: &account.csrf_token(browser),
        },
    )
}

/// GET /account/profile: the name and the address, to change.
pub async fn profile_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (account, browser) = match entered(&req, &state, AccountPage::Details).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut response = profile_page(&req, &state, &account, browser.value(), None).await;
    browser.set_on(&state, &mut response);
    response
}

/// POST /account/profile: the name, and a new address (in force once its mailed link is
/// followed), or the link sent again.
pub async fn profile_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (account, form, browser) = match posted(&req, &state, &body, AccountPage::Details).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let ctx = state.ctx(&req);
    match verification::update_profile(&ctx, &account, ProfileForm::parse(&form)).await {
        Ok(ProfileOutcome::Done { notice, mails }) => {
            mail_out::send(&state, &context::lang(&state, &req, None), mails, ctx.now).await;
            done(&state, AccountPage::Details, notice)
        }
        Ok(ProfileOutcome::Refused(message)) => {
            profile_page(&req, &state, &account, &browser, Some(&message)).await
        }
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

fn password_page(
    state: &AppState,
    req: &HttpRequest,
    account: &Account,
    browser: &str,
    error: Option<&str>,
) -> HttpResponse {
    ok(
        state,
        req,
        "account_password.html",
        &PasswordHtml {
            username: &account.profile.username,
            csrf_token: &account.csrf_token(browser),
            error,
            min_chars: state.config.password.policy.min_chars,
        },
    )
}

/// GET /account/password.
pub async fn password_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (account, browser) = match entered(&req, &state, AccountPage::Password).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut response = password_page(&state, &req, &account, browser.value(), None);
    browser.set_on(&state, &mut response);
    response
}

/// POST /account/password.
pub async fn password_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (account, form, browser) = match posted(&req, &state, &body, AccountPage::Password).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let device = context::cookie_value(&req, &state, context::DEVICE);
    match password::change(
        &state.ctx(&req),
        &account,
        PasswordForm::parse(&form),
        device.as_deref(),
    )
    .await
    {
        Ok(Changed::Done) => {
            notify(&state, &req, &account, Change::Password).await;
            done(&state, AccountPage::Profile, "password")
        }
        Ok(Changed::Refused(message)) => {
            password_page(&state, &req, &account, &browser, Some(&message))
        }
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

async fn security_page(
    req: &HttpRequest,
    state: &AppState,
    account: &Account,
    browser: &str,
    error: Option<&str>,
) -> HttpResponse {
    let factors: Factors = match security::list(&state.ctx(req), account).await {
        Ok(f) => f,
        Err(e) => return pages::browser_error(state, req, e),
    };
    let has_factor = factors.totp.is_some() || !factors.passkeys.is_empty();
    ok(
        state,
        req,
        "account_security.html",
        &SecurityHtml {
            username: &account.profile.username,
            csrf_token: &account.csrf_token(browser),
            notice: if error.is_none() { notice(req) } else { None },
            error,
            totp: factors.totp.iter().map(Row::from).collect(),
            totp_waiting: factors.totp_waiting.as_ref().map(Row::from),
            passkeys: factors.passkeys.iter().map(Row::from).collect(),
            recovery_codes: factors.recovery_codes,
            has_factor,
            passkeys_available: factors.passkeys_available,
            required: factors.required,
        },
    )
}

/// GET /account/security.
pub async fn security_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (account, browser) = match entered(&req, &state, AccountPage::Security).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut response = security_page(&req, &state, &account, browser.value(), None).await;
    browser.set_on(&state, &mut response);
    response
}

async fn totp_page(
    req: &HttpRequest,
    state: &AppState,
    account: &Account,
    browser: &str,
    error: Option<&str>,
) -> HttpResponse {
    let enrolment = match security::totp_enrolment(&state.ctx(req), account).await {
        Ok(e) => e,
        Err(e) => return pages::browser_error(state, req, e),
    };
    ok(
        state,
        req,
        "account_totp.html",
        &TotpHtml {
            csrf_token: &account.csrf_token(browser),
            error,
            secret: enrolment.as_ref().map(|e| e.secret.as_str()),
            qr: enrolment
                .as_ref()
                .map(|e| pages::qr_svg(&e.uri))
                .unwrap_or_default(),
        },
    )
}

/// GET /account/security/totp: the enrolment of an authenticator app (the one waiting
/// for its first code, or a new one).
pub async fn totp_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (account, browser) = match entered(&req, &state, AccountPage::Security).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut response = totp_page(&req, &state, &account, browser.value(), None).await;
    browser.set_on(&state, &mut response);
    response
}

/// POST /account/security/totp: the first code confirms the enrolment.
pub async fn totp_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (account, form, browser) = match posted(&req, &state, &body, AccountPage::Security).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let device = context::cookie_value(&req, &state, context::DEVICE);
    let code = zeroize::Zeroizing::new(form.get("code").unwrap_or("").to_owned());
    match security::confirm_totp(&state.ctx(&req), &account, &code, device.as_deref()).await {
        Ok(Outcome::Done { codes, cookie }) => {
            notify(&state, &req, &account, Change::AuthenticatorApp).await;
            let mut response = if codes.is_empty() {
                done(&state, AccountPage::Security, "totp")
            } else {
                codes_page(&state, &req, &codes, Some("totp"))
            };
            set_session(&state, &mut response, cookie.as_ref());
            response
        }
        Ok(Outcome::Refused(message)) => {
            totp_page(&req, &state, &account, &browser, Some(message)).await
        }
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

/// POST /account/security/remove: one factor goes.
pub async fn remove_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (account, form, browser) = match posted(&req, &state, &body, AccountPage::Security).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let device = context::cookie_value(&req, &state, context::DEVICE);
    match security::remove(
        &state.ctx(&req),
        &account,
        RemoveForm::parse(&form),
        device.as_deref(),
    )
    .await
    {
        Ok(Outcome::Done { .. }) => {
            notify(&state, &req, &account, Change::FactorRemoved).await;
            done(&state, AccountPage::Security, "removed")
        }
        Ok(Outcome::Refused(message)) => {
            security_page(&req, &state, &account, &browser, Some(message)).await
        }
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

/// POST /account/security/passkeys: the page that asks the browser for a new passkey.
pub async fn passkey_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (account, form, browser) = match posted(&req, &state, &body, AccountPage::Security).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let name = form.get("name").unwrap_or("");
    match security::start_passkey(&state.ctx(&req), &account, name).await {
        Ok(Registration::Started { options }) => ok(
            &state,
            &req,
            "account_passkey.html",
            &PasskeyHtml {
                csrf_token: &account.csrf_token(&browser),
                options: pages::script_json(&options),
            },
        ),
        Ok(Registration::Refused(message)) => {
            security_page(&req, &state, &account, &browser, Some(message)).await
        }
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

/// POST /account/security/passkeys/finish: the browser's new credential.
pub async fn passkey_finish_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (account, form, browser) = match posted(&req, &state, &body, AccountPage::Security).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let credential = form.get("credential").unwrap_or("");
    match security::finish_passkey(&state.ctx(&req), &account, credential).await {
        Ok(Outcome::Done { codes, .. }) => {
            notify(&state, &req, &account, Change::Passkey).await;
            if codes.is_empty() {
                done(&state, AccountPage::Security, "passkey")
            } else {
                codes_page(&state, &req, &codes, Some("passkey"))
            }
        }
        Ok(Outcome::Refused(message)) => {
            security_page(&req, &state, &account, &browser, Some(message)).await
        }
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

/// POST /account/security/recovery: a new set of recovery codes, shown once.
pub async fn recovery_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (account, _form, browser) = match posted(&req, &state, &body, AccountPage::Security).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match security::regenerate_codes(&state.ctx(&req), &account).await {
        // Shown once; like every page here it is sent `Cache-Control: no-store`.
        Ok(Outcome::Done { codes, .. }) => codes_page(&state, &req, &codes, None),
        Ok(Outcome::Refused(message)) => {
            security_page(&req, &state, &account, &browser, Some(message)).await
        }
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

async fn sessions_page(
    req: &HttpRequest,
    state: &AppState,
    account: &Account,
    browser: &str,
) -> HttpResponse {
    let listed = match browser_sessions::list(&state.ctx(req), account).await {
        Ok(l) => l,
        Err(e) => return pages::browser_error(state, req, e),
    };
    let others = listed.iter().filter(|s| !s.current).count();
    ok(
        state,
        req,
        "account_sessions.html",
        &SessionsHtml {
            csrf_token: &account.csrf_token(browser),
            notice: notice(req),
            sessions: listed
                .into_iter()
                .map(|s| SessionRow {
                    device: s.device.to_string(),
                    ip: s.ip.unwrap_or_else(|| "unknown".to_owned()),
                    started: moment(s.created_at),
                    last_seen: moment(s.last_seen_at),
                    current: s.current,
                    sid: s.sid,
                })
                .collect(),
            others,
        },
    )
}

/// GET /account/sessions.
pub async fn sessions_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (account, browser) = match entered(&req, &state, AccountPage::Sessions).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut response = sessions_page(&req, &state, &account, browser.value()).await;
    browser.set_on(&state, &mut response);
    response
}

/// POST /account/sessions/end: one session signs out (this browser's own too, which
/// then lands on the account page signed out).
pub async fn session_end_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (account, form, _) = match posted(&req, &state, &body, AccountPage::Sessions).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let sid = form.get("sid").unwrap_or("");
    match browser_sessions::end(&state.ctx(&req), &account, sid).await {
        Ok(Ended::Other) => done(&state, AccountPage::Sessions, "session"),
        Ok(Ended::This) => {
            let mut response =
                pages::see_other(&state, &page_path(&state, AccountPage::Profile.route()));
            pages::clear_cookie(&state, &mut response);
            response
        }
        Ok(Ended::NotFound) => done(&state, AccountPage::Sessions, "nothing"),
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

/// POST /account/sessions/end-others: every session but this browser's signs out.
pub async fn sessions_end_others_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (account, _form, _) = match posted(&req, &state, &body, AccountPage::Sessions).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match browser_sessions::end_others(&state.ctx(&req), &account).await {
        Ok(0) => done(&state, AccountPage::Sessions, "nothing"),
        Ok(_) => done(&state, AccountPage::Sessions, "others"),
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

async fn apps_page(
    req: &HttpRequest,
    state: &AppState,
    account: &Account,
    browser: &str,
) -> HttpResponse {
    let listed = match apps::list(&state.ctx(req), account).await {
        Ok(l) => l,
        Err(e) => return pages::browser_error(state, req, e),
    };
    ok(
        state,
        req,
        "account_apps.html",
        &AppsHtml {
            csrf_token: &account.csrf_token(browser),
            notice: notice(req),
            apps: listed
                .into_iter()
                .map(|a| AppRow {
                    scopes: a.scopes.join(", "),
                    since: day(a.created_at),
                    client_id: a.client_id,
                    name: a.name,
                })
                .collect(),
        },
    )
}

/// GET /account/apps.
pub async fn apps_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (account, browser) = match entered(&req, &state, AccountPage::Apps).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut response = apps_page(&req, &state, &account, browser.value()).await;
    browser.set_on(&state, &mut response);
    response
}

/// POST /account/apps/revoke: the application loses its consent and its tokens.
pub async fn app_revoke_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (account, form, _) = match posted(&req, &state, &body, AccountPage::Apps).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let client_id = form.get("client_id").unwrap_or("");
    match apps::revoke(&state.ctx(&req), &account, client_id).await {
        Ok(true) => done(&state, AccountPage::Apps, "revoked"),
        Ok(false) => done(&state, AccountPage::Apps, "nothing"),
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

#[cfg(test)]
mod tests {
    use super::{day, moment};

    #[test]
    fn days_are_civil_dates() {
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(1_800_000_000), "2027-01-15");
        assert_eq!(day(951_782_400), "2000-02-29");
        assert_eq!(day(-1), "1969-12-31");
        assert_eq!(moment(1_800_000_000), "2027-01-15 08:00 UTC");
    }
}
