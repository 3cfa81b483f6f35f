//! A forgotten password (issue 22, item 3): `/forgot-password` takes a username or an
//! address and mails a reset link (30 minutes, single use) to the account it names;
//! `/reset-password` sets a new password with it.
//!
//! **No enumeration.** The page that answers a request says the same words with the same
//! status whether or not an account exists, and it answers before anything about the
//! account is looked up: the handler runs `forgot` after the answer is sent (src/http), so
//! the time to answer cannot depend on the account either. What differs, the lookup, the
//! counters, the token and the mail, happens where the requester cannot time it.
//!
//! **Bounds.** Each request counts on its address's and on the account's counters
//! (`links::within_limits`, the login throttle's table, atomic across replicas); over a
//! limit nothing is sent, silently (saying so would tell that the account exists). The
//! per-address rate limit of the pages (`http::rate_limit`, bucket `login`) is in front.
//!
//! **A reset** checks the new password against the rule every password meets
//! (`accounts::new_password`), then in one transaction spends the link, sets the password,
//! ends every session and refresh-token family of the user and records
//! `user.password_reset` (`Store::reset_password`); the user is then told by mail. It does
//! not sign the browser in: whoever follows the link signs in with the new password.

use std::borrow::Cow;

use zeroize::Zeroizing;

use super::links::{self, OutgoingMail, RESET_LIFETIME, RESET_ROUTE};
use crate::accounts::{new_password, username};
use crate::audit::{AuditActor, AuditEvent};
use crate::oauth::context::Ctx;
use crate::oauth::error::OAuthError;
use crate::oauth::flow::BrowserError;
use crate::store::self_service::{Reset, TokenPurpose};

/// The longest username or address a request may carry.
const MAX_LOGIN: usize = 256;

/// Handles a forgotten-password request for `login` (a username or an address): the mails
/// to send, possibly none. Run after the answer is sent; errors are the caller's to log.
pub async fn forgot(ctx: &Ctx<'_>, login: &str) -> Result<Vec<OutgoingMail>, BrowserError> {
    let login = login.trim();
    if login.is_empty() || login.len() > MAX_LOGIN {
        return Ok(Vec::new());
    }
    let name = username::normalise(login).ok();
    let email = links::parse_email(login).ok();
    let recipients = ctx.store.recovery_recipients(name, email).await?;
    if recipients.is_empty() {
        // Counted all the same: a flood of unknown names is bounded like a known one.
        links::within_limits(ctx, "recover", Vec::new()).await?;
        return Ok(Vec::new());
    }
    let mut mails = Vec::new();
    for to in recipients {
        let account = (format!("recover-user:{}", to.user_id), links::PER_ACCOUNT);
        if !links::within_limits(ctx, "recover", vec![account]).await? {
            continue;
        }
        let minted = links::mint(
            ctx,
            TokenPurpose::ResetPassword,
            Some(to.user_id.as_str()),
            Some(to.email.as_str()),
        );
        ctx.store.insert_account_token(minted.row).await?;
        crate::audit::record(
            ctx.store,
            ctx.now,
            AuditEvent::new("user.password_reset_requested")
                .by(AuditActor::system())
                .subject(to.user_id.clone())
                .details(serde_json::json!({ "ip": ctx.client_ip.map(|i| i.to_string()) })),
        )
        .await?;
        mails.push(
            OutgoingMail::new(&to.email, "password_reset")
                .arg("username", to.username)
                .arg("link", links::link(ctx, RESET_ROUTE, &minted.secret))
                .arg("minutes", (RESET_LIFETIME / 60).to_string()),
        );
    }
    Ok(mails)
}

/// Whether `token` is a live reset link (for the page it opens).
pub async fn reset_link_live(ctx: &Ctx<'_>, token: Option<&str>) -> Result<bool, BrowserError> {
    let Some(digest) = links::presented_digest(token) else {
        return Ok(false);
    };
    Ok(ctx
        .store
        .live_account_token(digest, ctx.now)
        .await?
        .is_some_and(|t| t.purpose == TokenPurpose::ResetPassword.as_str()))
}

/// The reset form, as posted.
pub struct ResetForm {
    pub token: String,
    pub new: Zeroizing<String>,
    pub confirm: Zeroizing<String>,
}

impl std::fmt::Debug for ResetForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetForm(<hidden>)")
    }
}

/// What became of a reset.
#[derive(Debug)]
pub enum ResetOutcome {
    /// Done; the notice mail to send.
    Done(Vec<OutgoingMail>),
    /// Nothing changed: the form again, with this message.
    Refused(Cow<'static, str>),
    /// The link is used, expired or unknown.
    Invalid,
}

/// POST /reset-password.
pub async fn reset(ctx: &Ctx<'_>, form: ResetForm) -> Result<ResetOutcome, BrowserError> {
    let Some(digest) = links::presented_digest(Some(&form.token)) else {
        return Ok(ResetOutcome::Invalid);
    };
    let live = ctx
        .store
        .live_account_token(digest.clone(), ctx.now)
        .await?;
    let Some(user_id) = live
        .filter(|t| t.purpose == TokenPurpose::ResetPassword.as_str())
        .and_then(|t| t.user_id)
    else {
        return Ok(ResetOutcome::Invalid);
    };
    // The whole rule, the username part too: the live link says whose password this is.
    let username = ctx.store.user_factors(&user_id).await?.map(|f| f.username);
    if let Err(refused) =
        new_password::check(&form.new, username.as_deref(), ctx.config.password.policy)
    {
        return Ok(ResetOutcome::Refused(Cow::Owned(format!(
            "The new password {refused}."
        ))));
    }
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        form.new.as_bytes(),
        form.confirm.as_bytes(),
    )) {
        return Ok(ResetOutcome::Refused(Cow::Borrowed(
            "The new passwords do not match.",
        )));
    }
    let hash = ctx.accounts.hash_password(form.new).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot hash a new password");
        BrowserError::Unavailable(OAuthError::temporarily_unavailable(1))
    })?;
    let ip = ctx.client_ip.map(|ip| ip.to_string());
    let done = ctx
        .store
        .reset_password(digest, hash, ctx.now, move |user_id, grants, sessions| {
            AuditEvent::new("user.password_reset")
                .by(AuditActor::user(user_id))
                .subject(user_id.to_owned())
                .details(serde_json::json!({
                    "via": "reset_link",
                    "grants": grants,
                    "sessions_ended": sessions,
                    "ip": ip,
                }))
        })
        .await?;
    Ok(match done {
        Reset::Invalid => ResetOutcome::Invalid,
        Reset::Done(to) if to.email.is_empty() => ResetOutcome::Done(Vec::new()),
        Reset::Done(to) => ResetOutcome::Done(vec![
            OutgoingMail::new(&to.email, "password_changed")
                .arg("username", to.username)
                .arg("link", links::page(ctx, super::links::FORGOT_ROUTE)),
        ]),
    })
}
