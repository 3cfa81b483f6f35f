//! The pages a person uses without being signed in (issue 22): `/forgot-password`,
//! `/reset-password`, `/verify-email` and `/signup`. Thin: extract, call
//! `oauth::flow::account::{recovery, verification}`, render, hand the mails to the outbox
//! (`mail_out`). Every form is a same-site POST (`pages::posted_form`); none needs a CSRF
//! token of its own: the reset and verification forms carry their link's secret, and
//! neither those nor the request forms sign anyone in, so a forged post gains nothing.
//!
//! `/forgot-password` and `/signup` answer before they look at any account: the work that
//! depends on it runs after the answer (`after_answer`), so neither the page nor the time
//! it takes tells whether an account exists.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::context::{self, page_base};
use super::mail_out;
use super::pages;
use crate::accounts::new_password::MIN_CHARS;
use crate::http::state::AppState;
use crate::oauth::flow::BrowserError;
use crate::oauth::flow::account::links::OutgoingMail;
use crate::oauth::flow::account::recovery::{self, ResetForm, ResetOutcome};
use crate::oauth::flow::account::verification::{self, LinkKind, SignupForm};
use crate::oauth::form::FormMap;
use crate::store::self_service::Verified;

#[derive(Serialize)]
struct NoticeHtml<'a> {
    title: &'a str,
    message: &'a str,
    next: Option<String>,
    next_label: &'a str,
}

#[derive(Serialize)]
struct ResetHtml<'a> {
    token: &'a str,
    error: Option<&'a str>,
    min_chars: usize,
}

#[derive(Serialize)]
struct VerifyHtml<'a> {
    token: &'a str,
    signup: bool,
}

#[derive(Serialize)]
struct SignupHtml<'a> {
    error: Option<&'a str>,
    username: &'a str,
    email: &'a str,
    min_chars: usize,
}

/// The words of the one answer to a forgotten-password request, whatever it named.
pub const FORGOT_SENT: &str = "If an account matches what you entered and has an email address, we have sent a link to it. The link works for 30 minutes. Check your inbox, and your spam folder.";
/// The one answer to a well-formed sign-up.
pub const SIGNUP_SENT: &str = "We have sent a link to the email address you gave. Follow it within 24 hours to finish creating your account.";
const LINK_INVALID: &str = "This link has expired or was already used. Ask for a new one.";

/// Page `name` in the request's language.
fn ok<P: Serialize>(state: &AppState, req: &HttpRequest, name: &str, page: &P) -> HttpResponse {
    let lang = context::lang(state, req, None);
    pages::page(state, &lang, StatusCode::OK, name, page)
}

fn notice(
    state: &AppState,
    req: &HttpRequest,
    title: &str,
    message: &str,
    next: Option<(&str, &str)>,
) -> HttpResponse {
    ok(
        state,
        req,
        "self_service_notice.html",
        &NoticeHtml {
            title,
            message,
            next: next.map(|(route, _)| format!("{}{route}", page_base(state))),
            next_label: next.map_or("", |(_, label)| label),
        },
    )
}

/// The `token` query parameter of a link.
fn token_param(req: &HttpRequest) -> Option<String> {
    let form = FormMap::parse(req.query_string().as_bytes()).ok()?;
    form.get("token").map(str::to_owned)
}

/// Runs `work` after the answer is sent, on this worker, and hands the mails it makes to
/// the outbox. Its errors are logged: the answer has gone, and says the same either way.
fn after_answer<F, Fut>(state: &web::Data<AppState>, req: &HttpRequest, work: F)
where
    F: FnOnce(web::Data<AppState>, HttpRequest) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<Vec<OutgoingMail>, BrowserError>> + 'static,
{
    let (state, req) = (state.clone(), req.clone());
    actix_web::rt::spawn(async move {
        let lang = context::lang(&state, &req, None);
        let now = state.ctx(&req).now;
        match work(state.clone(), req).await {
            Ok(mails) => mail_out::send(&state, &lang, mails, now).await,
            Err(err) => {
                tracing::warn!(error = ?err, "a self-service request failed after its answer")
            }
        }
    });
}

/// GET /forgot-password.
pub async fn forgot_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    ok(&state, &req, "forgot_password.html", &())
}

/// POST /forgot-password: the same answer for every request; the work after it.
pub async fn forgot_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match pages::posted_form(&state, &req, &body) {
        Ok(form) => form,
        Err(response) => return *response,
    };
    let login = form.get("login").unwrap_or("").to_owned();
    after_answer(&state, &req, move |state, req| async move {
        recovery::forgot(&state.ctx(&req), &login).await
    });
    notice(&state, &req, "Check your email", FORGOT_SENT, None)
}

fn reset_page(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
    error: Option<&str>,
) -> HttpResponse {
    ok(
        state,
        req,
        "reset_password.html",
        &ResetHtml {
            token,
            error,
            min_chars: MIN_CHARS,
        },
    )
}

fn link_invalid(state: &AppState, req: &HttpRequest) -> HttpResponse {
    pages::error_page(state, req, StatusCode::BAD_REQUEST, LINK_INVALID)
}

/// GET /reset-password?token=: the form, while the link is live.
pub async fn reset_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let token = token_param(&req);
    match recovery::reset_link_live(&state.ctx(&req), token.as_deref()).await {
        Ok(true) => reset_page(&state, &req, token.as_deref().unwrap_or(""), None),
        Ok(false) => link_invalid(&state, &req),
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

/// POST /reset-password: the new password; every session and refresh family ends.
pub async fn reset_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match pages::posted_form(&state, &req, &body) {
        Ok(form) => form,
        Err(response) => return *response,
    };
    let field = |name| zeroize::Zeroizing::new(form.get(name).unwrap_or("").to_owned());
    let token = form.get("token").unwrap_or("").to_owned();
    let ctx = state.ctx(&req);
    let outcome = recovery::reset(
        &ctx,
        ResetForm {
            token: token.clone(),
            new: field("new_password"),
            confirm: field("confirm_password"),
        },
    )
    .await;
    match outcome {
        Ok(ResetOutcome::Done(mails)) => {
            mail_out::send(&state, &context::lang(&state, &req, None), mails, ctx.now).await;
            notice(
                &state,
                &req,
                "Your password was changed",
                "Sign in with your new password. Every device that was signed in has been signed out.",
                Some(("/account", "Sign in")),
            )
        }
        Ok(ResetOutcome::Refused(message)) => reset_page(&state, &req, &token, Some(&message)),
        Ok(ResetOutcome::Invalid) => link_invalid(&state, &req),
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

/// GET /verify-email?token=: asks to confirm (a mail scanner that opens links must not
/// spend them).
pub async fn verify_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let token = token_param(&req);
    match verification::verification_link(&state.ctx(&req), token.as_deref()).await {
        Ok(Some(kind)) => ok(
            &state,
            &req,
            "verify_email.html",
            &VerifyHtml {
                token: token.as_deref().unwrap_or(""),
                signup: kind == LinkKind::SignUp,
            },
        ),
        Ok(None) => link_invalid(&state, &req),
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

/// POST /verify-email: spends the link.
pub async fn verify_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match pages::posted_form(&state, &req, &body) {
        Ok(form) => form,
        Err(response) => return *response,
    };
    let token = form.get("token").unwrap_or("");
    match verification::verify(&state.ctx(&req), token).await {
        Ok(Verified::Email { .. }) => notice(
            &state,
            &req,
            "Your email address is confirmed",
            "Thank you. Applications you sign in to from now on see it as verified.",
            Some(("/account", "Your account")),
        ),
        Ok(Verified::SignedUp { .. }) => notice(
            &state,
            &req,
            "Your account is ready",
            "Your email address is confirmed. You can sign in now.",
            Some(("/account", "Sign in")),
        ),
        Ok(Verified::UsernameTaken) => pages::error_page(
            &state,
            &req,
            StatusCode::CONFLICT,
            "Someone took this username while the link was on its way. Please sign up again with another one.",
        ),
        Ok(Verified::Invalid) => link_invalid(&state, &req),
        Err(e) => pages::browser_error(&state, &req, e),
    }
}

fn signup_off(state: &AppState, req: &HttpRequest) -> HttpResponse {
    pages::error_page(state, req, StatusCode::NOT_FOUND, "There is no such page.")
}

fn signup_page(
    state: &AppState,
    req: &HttpRequest,
    error: Option<&str>,
    username: &str,
    email: &str,
) -> HttpResponse {
    let lang = context::lang(state, req, None);
    pages::page(
        state,
        &lang,
        if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "signup.html",
        &SignupHtml {
            error,
            username,
            email,
            min_chars: MIN_CHARS,
        },
    )
}

/// GET /signup: 404 unless `registration.self_signup`.
pub async fn signup_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !state.config.registration.self_signup {
        return signup_off(&state, &req);
    }
    signup_page(&state, &req, None, "", "")
}

/// POST /signup: a form that is wrong on its own face is shown again; every other one
/// gets the same answer, and its mail is decided after it.
pub async fn signup_post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if !state.config.registration.self_signup {
        return signup_off(&state, &req);
    }
    let form = match pages::posted_form(&state, &req, &body) {
        Ok(form) => form,
        Err(response) => return *response,
    };
    let form = SignupForm::parse(&form);
    let (username, email) = (form.username.clone(), form.email.clone());
    let checked = match verification::check_signup(&state.ctx(&req), form).await {
        Ok(Ok(checked)) => checked,
        Ok(Err(message)) => return signup_page(&state, &req, Some(&message), &username, &email),
        Err(e) => return pages::browser_error(&state, &req, e),
    };
    after_answer(&state, &req, move |state, req| async move {
        verification::signup_mail(&state.ctx(&req), checked).await
    });
    notice(&state, &req, "Check your email", SIGNUP_SENT, None)
}
