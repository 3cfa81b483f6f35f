//! `/account/security`: the user's second factors. They see what they have (an
//! authenticator app, passkeys with their names and last use, how many recovery codes are
//! left), enrol an authenticator app (a QR code, the key in text, confirmed by a first
//! code), register and remove passkeys, and make a new set of recovery codes.
//!
//! Every change is audited by the `mfa` module's events (`factor.enrolled`,
//! `factor.removed`, `recovery_codes.regenerated`) and counted in `second_factor_total`.
//! The last factor goes only with the current password (a session left open must not be
//! enough to strip an account of its second factor), and never while policy requires one.
//!
//! Enrolling an authenticator app proves a code, so the session gains `otp` as a second
//! factor at sign-in would (a new cookie, `flow::upgrade`). Registering a passkey does not
//! raise the session: with attestation `none`, registration signs nothing we can check, so
//! the user proves the passkey at their next sign-in.

use zeroize::Zeroizing;

use super::Account;
use super::password::reauthenticate;
use crate::audit::AuditActor;
use crate::crypto::tokens::Secret;
use crate::oauth::context::Ctx;
use crate::oauth::flow::{BrowserError, upgrade};
use crate::oauth::form::FormMap;
use crate::oauth::login::LoginFailure;
use crate::oauth::mfa::passkeys::{self, PasskeyError};
use crate::oauth::mfa::{self, level, recovery, totp, verify};
use crate::store::factors::{Factor, FactorKind};

/// One factor as the page lists it: never its secret or credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// The user's only factor: removing it needs the password (and policy's leave).
    pub last: bool,
}

/// What the security page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factors {
    /// The confirmed authenticator app.
    pub totp: Option<Listed>,
    /// An authenticator app enrolment waiting for its first code.
    pub totp_waiting: Option<Listed>,
    pub passkeys: Vec<Listed>,
    pub recovery_codes: u32,
    /// The server can register passkeys (its issuer's host can be a relying party).
    pub passkeys_available: bool,
    /// Policy requires this user to keep a factor.
    pub required: bool,
}

fn listed(factor: &Factor, last: bool) -> Listed {
    Listed {
        id: factor.id.clone(),
        name: factor.name.clone(),
        created_at: factor.created_at,
        last_used_at: factor.last_used_at,
        last,
    }
}

/// The user's factors, for the page.
pub async fn list(ctx: &Ctx<'_>, account: &Account) -> Result<Factors, BrowserError> {
    let all = ctx.store.factors_of(&account.session.user_id).await?;
    let confirmed = all.iter().filter(|f| f.confirmed).count();
    let last = confirmed == 1;
    let totp = all
        .iter()
        .find(|f| f.kind == FactorKind::Totp && f.confirmed)
        .map(|f| listed(f, last));
    let totp_waiting = all
        .iter()
        .find(|f| f.kind == FactorKind::Totp && !f.confirmed)
        .map(|f| listed(f, false));
    let passkeys = all
        .iter()
        .filter(|f| f.kind == FactorKind::Passkey)
        .map(|f| listed(f, last))
        .collect();
    // Counted in the same unit of work as the session: fresh enough for a page.
    let recovery_codes = if confirmed > 0 {
        account.factors.recovery_codes
    } else {
        0
    };
    Ok(Factors {
        totp,
        totp_waiting,
        passkeys,
        recovery_codes,
        passkeys_available: ctx.mfa.passkeys_enabled(),
        required: account.factor_required,
    })
}

/// The authenticator app enrolment the page shows: the one waiting for its first code, or
/// a new one. None when the user has a confirmed one (removing it comes first).
pub async fn totp_enrolment(
    ctx: &Ctx<'_>,
    account: &Account,
) -> Result<Option<totp::Enrolment>, BrowserError> {
    Ok(totp::enrolment(ctx, &account.session.user_id, &account.profile.username).await?)
}

/// What a change on the security page came to.
#[derive(Debug)]
pub enum Outcome {
    /// Done. `codes`: new recovery codes to show once (a first factor, or a new set);
    /// `cookie`: the session's new cookie when it gained a factor.
    Done {
        codes: Vec<Zeroizing<String>>,
        cookie: Option<Secret>,
    },
    /// Nothing changed: the page again, with this message.
    Refused(&'static str),
}

const CODE_REFUSED: &str =
    "That code did not match. Check the time on your device and enter the current code.";
const NO_SUCH_FACTOR: &str = "That factor is not on your account.";
const MUST_KEEP: &str =
    "Your account must keep a second factor. Add another one before you remove this one.";
const PASSWORD_NEEDED: &str =
    "This is your last second factor: enter your current password to remove it.";
const NO_FACTOR_YET: &str = "Set up an authenticator app or a passkey first.";

/// POST /account/security/totp: the first code of the enrolment the page showed.
pub async fn confirm_totp(
    ctx: &Ctx<'_>,
    account: &Account,
    code: &str,
    device_cookie: Option<&str>,
) -> Result<Outcome, BrowserError> {
    let confirmed = verify::confirm_totp(
        ctx,
        &account.factors.username,
        &account.session.user_id,
        code,
        device_cookie,
    )
    .await
    .map_err(|e| match e {
        LoginFailure::Unavailable(e) => BrowserError::Unavailable(e),
        LoginFailure::Rejected => BrowserError::Page(CODE_REFUSED),
    })?;
    let Some(codes) = confirmed else {
        return Ok(Outcome::Refused(CODE_REFUSED));
    };
    // The code just proved is a second factor of this session, as at sign-in.
    let amr = level::with_second_factor(&account.session.amr, level::OTP);
    let cookie = if amr == account.session.amr {
        None
    } else {
        let mut session = account.session.clone();
        Some(upgrade(ctx, Some(account.cookie.expose()), &mut session, amr).await?)
    };
    Ok(Outcome::Done { codes, cookie })
}

/// The remove form, as posted.
pub struct RemoveForm {
    pub factor_id: String,
    /// The current password: needed for the last factor only.
    pub password: Zeroizing<String>,
}

impl RemoveForm {
    pub fn parse(form: &FormMap) -> Self {
        Self {
            factor_id: form.get("factor_id").unwrap_or("").to_owned(),
            password: Zeroizing::new(form.get("current_password").unwrap_or("").to_owned()),
        }
    }
}

/// POST /account/security/remove: one of the user's factors goes (an authenticator app,
/// confirmed or waiting, or a passkey). The last one needs the current password and is
/// refused while policy requires a factor; with it go the recovery codes.
pub async fn remove(
    ctx: &Ctx<'_>,
    account: &Account,
    form: RemoveForm,
    device_cookie: Option<&str>,
) -> Result<Outcome, BrowserError> {
    let user_id = &account.session.user_id;
    let all = ctx.store.factors_of(user_id).await?;
    let Some(factor) = all.iter().find(|f| f.id == form.factor_id) else {
        return Ok(Outcome::Refused(NO_SUCH_FACTOR));
    };
    let confirmed = all.iter().filter(|f| f.confirmed).count();
    let last = factor.confirmed && confirmed == 1;
    if last {
        if account.factor_required {
            return Ok(Outcome::Refused(MUST_KEEP));
        }
        if form.password.is_empty() {
            return Ok(Outcome::Refused(PASSWORD_NEEDED));
        }
        if !reauthenticate(
            ctx,
            account,
            form.password,
            "account_remove_factor",
            device_cookie,
        )
        .await?
        {
            return Ok(Outcome::Refused(super::password::WRONG_PASSWORD));
        }
    }
    let kind = mfa::kind_name(factor.kind);
    let event = mfa::event(
        "factor.removed",
        user_id,
        AuditActor::user(user_id),
        serde_json::json!({
            "factor": kind,
            "factor_id": factor.id,
            "name": factor.name,
            "confirmed": factor.confirmed,
            "last": last,
        }),
    );
    if !ctx
        .store
        .remove_factor(user_id, &factor.id, ctx.now, event)
        .await?
    {
        return Ok(Outcome::Refused(NO_SUCH_FACTOR));
    }
    mfa::count(ctx, kind, "removed");
    Ok(Outcome::Done {
        codes: Vec::new(),
        cookie: None,
    })
}

/// The passkey registration the page runs in the browser: the options for
/// `navigator.credentials.create`.
#[derive(Debug)]
pub enum Registration {
    Started { options: String },
    Refused(&'static str),
}

/// What the session keeps between the two halves of a registration: the name the user
/// chose and webauthn-rs's state.
#[derive(serde::Serialize, serde::Deserialize)]
struct Ceremony {
    name: String,
    state: String,
}

fn refusal(e: &PasskeyError) -> &'static str {
    match e {
        PasskeyError::Disabled => "Passkeys are not available on this server.",
        PasskeyError::NoCeremony => {
            "The passkey registration expired or was already used. Start again."
        }
        PasskeyError::Malformed | PasskeyError::Refused => {
            "That passkey could not be registered. Try again."
        }
        PasskeyError::Duplicate => "That passkey is registered already.",
        PasskeyError::Other(_) => "The service is busy. Please try again in a moment.",
    }
}

/// POST /account/security/passkeys: starts registering a passkey under `name`. The
/// ceremony is kept with the session (one at a time: a new one replaces the old), so only
/// this session can finish it, once.
pub async fn start_passkey(
    ctx: &Ctx<'_>,
    account: &Account,
    name: &str,
) -> Result<Registration, BrowserError> {
    let display = account
        .profile
        .name
        .as_deref()
        .unwrap_or(&account.profile.username);
    let started = match passkeys::start_registration(
        ctx,
        &account.session.user_id,
        &account.profile.username,
        display,
    )
    .await
    {
        Ok(started) => started,
        Err(PasskeyError::Other(e)) => return Err(e.into()),
        Err(e) => return Ok(Registration::Refused(refusal(&e))),
    };
    let ceremony = serde_json::to_string(&Ceremony {
        name: passkeys::clean_name(name),
        state: started.state,
    })
    .map_err(|_| BrowserError::Unavailable(crate::oauth::error::OAuthError::ServerError))?;
    ctx.store
        .set_session_ceremony(account.session_digest(), Some(ceremony))
        .await?;
    Ok(Registration::Started {
        options: started.options,
    })
}

/// POST /account/security/passkeys/finish: the browser's answer to the registration this
/// session started (taken, so it answers once).
pub async fn finish_passkey(
    ctx: &Ctx<'_>,
    account: &Account,
    credential: &str,
) -> Result<Outcome, BrowserError> {
    let ceremony: Option<Ceremony> = ctx
        .store
        .take_session_ceremony(account.session_digest())
        .await?
        .and_then(|c| serde_json::from_str(&c).ok());
    let (name, state) = match ceremony {
        Some(c) => (c.name, Some(c.state)),
        None => (String::new(), None),
    };
    match passkeys::finish_registration(
        ctx,
        &account.session.user_id,
        &name,
        credential,
        state,
        AuditActor::user(&account.session.user_id),
    )
    .await
    {
        Ok(codes) => Ok(Outcome::Done {
            codes,
            cookie: None,
        }),
        Err(PasskeyError::Other(e)) => Err(e.into()),
        Err(e) => {
            mfa::count(ctx, "passkey", "refused");
            Ok(Outcome::Refused(refusal(&e)))
        }
    }
}

/// POST /account/security/recovery: a new set of recovery codes, shown once; the old set
/// stops working in the same transaction.
pub async fn regenerate_codes(ctx: &Ctx<'_>, account: &Account) -> Result<Outcome, BrowserError> {
    if !account.factors.any() {
        return Ok(Outcome::Refused(NO_FACTOR_YET));
    }
    let user_id = &account.session.user_id;
    let codes = recovery::regenerate(ctx, user_id, AuditActor::user(user_id)).await?;
    mfa::count(ctx, "recovery_code", "regenerated");
    Ok(Outcome::Done {
        codes,
        cookie: None,
    })
}
