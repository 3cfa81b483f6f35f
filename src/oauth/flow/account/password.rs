//! `/account/password`: the user changes their password. The current one is required (a
//! session left open is not the password), checked as a login is, under the same throttle;
//! the new one meets the rule every password meets (`accounts::new_password`). On success
//! whatever the old password may have opened elsewhere ends with it: every other session
//! and every refresh-token family (`Store::change_password`). The session that made the
//! change stays.

use std::borrow::Cow;

use zeroize::Zeroizing;

use super::Account;
use crate::accounts::new_password;
use crate::audit::{AuditActor, AuditEvent};
use crate::oauth::client::ACCOUNT_CLIENT_ID;
use crate::oauth::context::Ctx;
use crate::oauth::flow::BrowserError;
use crate::oauth::form::FormMap;
use crate::oauth::login::{self, LoginFailure, Source};

/// The password form, as posted.
pub struct PasswordForm {
    pub current: Zeroizing<String>,
    pub new: Zeroizing<String>,
    pub confirm: Zeroizing<String>,
}

impl PasswordForm {
    pub fn parse(form: &FormMap) -> Self {
        let field = |name| Zeroizing::new(form.get(name).unwrap_or("").to_owned());
        Self {
            current: field("current_password"),
            new: field("new_password"),
            confirm: field("confirm_password"),
        }
    }
}

impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordForm(<hidden>)")
    }
}

/// What became of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    Done,
    /// Nothing changed: the form again, with this message.
    Refused(Cow<'static, str>),
}

pub const WRONG_PASSWORD: &str = "Your current password is not right.";
const MISMATCH: &str = "The new passwords do not match.";

/// Checks the current password as a sign-in does: counted on the user's throttle before
/// it is verified, a failure audited as one. True when it is this user's password.
pub(super) async fn reauthenticate(
    ctx: &Ctx<'_>,
    account: &Account,
    password: Zeroizing<String>,
    via: &'static str,
    device_cookie: Option<&str>,
) -> Result<bool, BrowserError> {
    match login::check_password(
        ctx,
        &account.profile.username,
        password,
        ACCOUNT_CLIENT_ID,
        via,
        Source::Browser { device_cookie },
    )
    .await
    {
        Ok(profile) => Ok(profile.id == account.session.user_id),
        Err(LoginFailure::Rejected) => Ok(false),
        Err(LoginFailure::Unavailable(e)) => Err(BrowserError::Unavailable(e)),
    }
}

/// POST /account/password.
pub async fn change(
    ctx: &Ctx<'_>,
    account: &Account,
    form: PasswordForm,
    device_cookie: Option<&str>,
) -> Result<Changed, BrowserError> {
    // The new password first: a typo there costs no attempt on the throttle.
    if let Err(refused) = new_password::check(
        &form.new,
        Some(&account.profile.username),
        ctx.config.password.policy,
    ) {
        return Ok(Changed::Refused(Cow::Owned(format!(
            "The new password {refused}."
        ))));
    }
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        form.new.as_bytes(),
        form.confirm.as_bytes(),
    )) {
        return Ok(Changed::Refused(Cow::Borrowed(MISMATCH)));
    }
    if !reauthenticate(
        ctx,
        account,
        form.current,
        "account_password",
        device_cookie,
    )
    .await?
    {
        return Ok(Changed::Refused(Cow::Borrowed(WRONG_PASSWORD)));
    }
    let hash = ctx.accounts.hash_password(form.new).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot hash a new password");
        BrowserError::Unavailable(crate::oauth::error::OAuthError::temporarily_unavailable(1))
    })?;
    let user_id = account.session.user_id.clone();
    let sid = account.session.sid.clone();
    let ip = ctx.client_ip.map(|ip| ip.to_string());
    let changed = ctx
        .store
        .change_password(
            &account.session.user_id,
            &account.session.sid,
            hash,
            ctx.now,
            {
                let user_id = user_id.clone();
                move |ended| {
                    AuditEvent::new("user.password_changed")
                        .by(AuditActor::user(&user_id))
                        .subject(user_id.clone())
                        .details(serde_json::json!({
                            "kept_sid": sid,
                            "grants": ended.grants,
                            "sessions_ended": ended.sessions,
                            "codes_deleted": ended.codes,
                            "requests_deleted": ended.requests,
                            "ip": ip,
                        }))
                }
            },
        )
        .await?;
    if !changed {
        return Err(BrowserError::Page("Your account no longer exists."));
    }
    Ok(Changed::Done)
}
