//! Addresses proved by a mailed link (issue 22, item 2), the profile that changes them
//! (item 6), and self sign-up (item 5), which is an address proved before an account exists.
//!
//! **A change of address** (`update_profile`) is stored apart (`users.pending_email`) with a
//! verification link (24 hours) mailed to the new address; the old address is told of it
//! by mail. Until the link is followed the old address stays the user's, for sign-in
//! recovery and in tokens; following it (`/verify-email`, `verify`) makes the new address
//! the user's, verified. `email_verified` in ID tokens and `/userinfo` is the column this
//! sets (`accounts::Profile`), so it follows.
//!
//! **Sign-up** (`/signup`, off unless `registration.self_signup`) creates nothing but a
//! link: the chosen username and the password's hash wait in the token row, and the user
//! is made, verified, when the link is followed. Until then nothing can sign in. The page
//! answers every well-formed sign-up the same way ("check your mail") and the account
//! checks run after the answer (`signup_mail`, run like `recovery::forgot`); whoever holds
//! the address learns by mail when it already has an account or the username is taken.
//! That leaves one thing told to a stranger: a username is taken. We accept it, as every
//! sign-up form must, but only by mail to an address they control and under the
//! per-address and per-recipient limits, never on the page (docs/security.md).

use std::borrow::Cow;

use zeroize::Zeroizing;

use super::Account;
use super::links::{self, FORGOT_ROUTE, OutgoingMail, SIGNUP_ROUTE, VERIFY_ROUTE};
use crate::accounts::{new_password, username};
use crate::audit::{AuditActor, AuditEvent};
use crate::oauth::context::Ctx;
use crate::oauth::error::OAuthError;
use crate::oauth::flow::BrowserError;
use crate::oauth::form::FormMap;
use crate::store::self_service::{TokenPurpose, Verified};

/// The longest display name we keep.
pub const MAX_NAME: usize = 200;

/// What a verification link is, for the page that asks to confirm it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Address,
    SignUp,
}

/// What a live verification link is; `None` for a used, expired or unknown one.
pub async fn verification_link(
    ctx: &Ctx<'_>,
    token: Option<&str>,
) -> Result<Option<LinkKind>, BrowserError> {
    let Some(digest) = links::presented_digest(token) else {
        return Ok(None);
    };
    let live = ctx.store.live_account_token(digest, ctx.now).await?;
    Ok(live.and_then(|t| {
        if t.purpose == TokenPurpose::VerifyEmail.as_str() {
            Some(LinkKind::Address)
        } else if t.purpose == TokenPurpose::SignUp.as_str() {
            Some(LinkKind::SignUp)
        } else {
            None
        }
    }))
}

/// POST /verify-email: spends the link and makes its change.
pub async fn verify(ctx: &Ctx<'_>, token: &str) -> Result<Verified, BrowserError> {
    let Some(digest) = links::presented_digest(Some(token)) else {
        return Ok(Verified::Invalid);
    };
    let new_user_id = uuid::Uuid::now_v7().to_string();
    let ip = ctx.client_ip.map(|ip| ip.to_string());
    Ok(ctx
        .store
        .redeem_verification(digest, new_user_id, ctx.now, move |done| match done {
            Verified::Email {
                user_id,
                email: _,
                previous,
            } => AuditEvent::new("user.email_verified")
                .by(AuditActor::user(user_id))
                .subject(user_id.clone())
                .details(serde_json::json!({ "replaced": previous.is_some(), "ip": ip })),
            Verified::SignedUp { user_id, username } => AuditEvent::new("user.signed_up")
                .by(AuditActor::user(user_id))
                .subject(user_id.clone())
                .details(serde_json::json!({ "username": username, "ip": ip })),
            Verified::UsernameTaken | Verified::Invalid => AuditEvent::new("user.signup_refused")
                .by(AuditActor::system())
                .details(serde_json::json!({ "reason": "username taken", "ip": ip })),
        })
        .await?)
}

/// The profile form, as posted.
#[derive(Debug, Clone, Default)]
pub struct ProfileForm {
    pub name: String,
    pub email: String,
    /// "Send the link again" for the address waiting (or the current unverified one).
    pub resend: bool,
}

impl ProfileForm {
    pub fn parse(form: &FormMap) -> Self {
        Self {
            name: form.get("name").unwrap_or("").to_owned(),
            email: form.get("email").unwrap_or("").to_owned(),
            resend: form.get("action") == Some("resend"),
        }
    }
}

/// What became of a profile change.
#[derive(Debug)]
pub enum ProfileOutcome {
    /// Saved; what the page says (`?done=`), and the mails to send.
    Done {
        notice: &'static str,
        mails: Vec<OutgoingMail>,
    },
    Refused(Cow<'static, str>),
}

/// POST /account/profile: the display name, and an address change (stored apart until its
/// link is followed). An empty address field changes nothing (removing an address is an
/// operator's work: it is how the account is recovered).
pub async fn update_profile(
    ctx: &Ctx<'_>,
    account: &Account,
    form: ProfileForm,
) -> Result<ProfileOutcome, BrowserError> {
    let user_id = account.session.user_id.clone();
    let pending = ctx.store.pending_email(&user_id).await?;
    if form.resend {
        return resend(ctx, account, pending).await;
    }
    let name = form.name.trim();
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Ok(ProfileOutcome::Refused(Cow::Borrowed(
            "The name is too long or holds characters a name cannot.",
        )));
    }
    let name = (!name.is_empty()).then(|| name.to_owned());
    let email = match form.email.trim() {
        "" => None,
        written => match links::parse_email(written) {
            Ok(email) => Some(email),
            Err(why) => {
                return Ok(ProfileOutcome::Refused(Cow::Owned(format!(
                    "The email address {why}"
                ))));
            }
        },
    };
    let mut notice = "profile";
    if name != account.profile.name {
        let event = AuditEvent::new("user.profile_changed")
            .by(AuditActor::user(&user_id))
            .subject(user_id.clone())
            .details(serde_json::json!({ "fields": ["name"] }));
        if !ctx.store.set_name(&user_id, name, ctx.now, event).await? {
            return Err(BrowserError::Page("Your account no longer exists."));
        }
    }
    let mut mails = Vec::new();
    let current = account.profile.email.as_deref();
    if let Some(email) = email
        && Some(email.as_str()) != current
        && Some(&email) != pending.as_ref()
    {
        let limit = (format!("verify-user:{user_id}"), links::PER_ACCOUNT);
        if !links::within_limits(ctx, "verify", vec![limit]).await? {
            return Ok(ProfileOutcome::Refused(Cow::Borrowed(
                "Too many addresses were asked for lately. Please try again later.",
            )));
        }
        let minted = links::mint(
            ctx,
            TokenPurpose::VerifyEmail,
            Some(user_id.as_str()),
            Some(email.as_str()),
        );
        let event = AuditEvent::new("user.email_change_requested")
            .by(AuditActor::user(&user_id))
            .subject(user_id.clone())
            .details(serde_json::json!({ "ip": ctx.client_ip.map(|i| i.to_string()) }));
        if !ctx
            .store
            .request_email_change(&user_id, minted.row, ctx.now, event)
            .await?
        {
            return Err(BrowserError::Page("Your account no longer exists."));
        }
        let username = &account.profile.username;
        mails.push(
            OutgoingMail::new(&email, "verify_email")
                .arg("username", username.clone())
                .arg("link", links::link(ctx, VERIFY_ROUTE, &minted.secret))
                .arg("hours", (links::VERIFY_LIFETIME / 3600).to_string()),
        );
        if let Some(old) = current {
            mails.push(
                OutgoingMail::new(old, "email_changing")
                    .arg("username", username.clone())
                    .arg("new_email", email.clone()),
            );
        }
        notice = "email";
    }
    Ok(ProfileOutcome::Done { notice, mails })
}

/// "Send the link again": for the address waiting, or else the current one when it is not
/// verified yet. A new link; the earlier ones still work until they expire.
async fn resend(
    ctx: &Ctx<'_>,
    account: &Account,
    pending: Option<String>,
) -> Result<ProfileOutcome, BrowserError> {
    let user_id = &account.session.user_id;
    let email = match (pending, &account.profile.email) {
        (Some(pending), _) => pending,
        (None, Some(current)) if !account.profile.email_verified => current.clone(),
        (None, Some(_) | None) => {
            return Ok(ProfileOutcome::Refused(Cow::Borrowed(
                "There is no address waiting to be verified.",
            )));
        }
    };
    let limit = (format!("verify-user:{user_id}"), links::PER_ACCOUNT);
    if !links::within_limits(ctx, "verify", vec![limit]).await? {
        return Ok(ProfileOutcome::Refused(Cow::Borrowed(
            "Too many links were sent lately. Please try again later.",
        )));
    }
    let minted = links::mint(
        ctx,
        TokenPurpose::VerifyEmail,
        Some(user_id.as_str()),
        Some(email.as_str()),
    );
    ctx.store.insert_account_token(minted.row).await?;
    Ok(ProfileOutcome::Done {
        notice: "resent",
        mails: vec![
            OutgoingMail::new(&email, "verify_email")
                .arg("username", account.profile.username.clone())
                .arg("link", links::link(ctx, VERIFY_ROUTE, &minted.secret))
                .arg("hours", (links::VERIFY_LIFETIME / 3600).to_string()),
        ],
    })
}

/// The sign-up form, as posted.
pub struct SignupForm {
    pub username: String,
    pub email: String,
    pub password: Zeroizing<String>,
    pub confirm: Zeroizing<String>,
}

impl std::fmt::Debug for SignupForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignupForm(<hidden>)")
    }
}

impl SignupForm {
    pub fn parse(form: &FormMap) -> Self {
        let field = |name| form.get(name).unwrap_or("").to_owned();
        Self {
            username: field("username"),
            email: field("email"),
            password: Zeroizing::new(field("password")),
            confirm: Zeroizing::new(field("confirm_password")),
        }
    }
}

/// A sign-up whose form is valid, its password hashed: what `signup_mail` works on.
pub struct CheckedSignup {
    username: String,
    email: String,
    password_hash: String,
}

impl std::fmt::Debug for CheckedSignup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckedSignup(<hidden>)")
    }
}

/// Checks a sign-up form on its own (the username's shape, the address and its domain, the
/// password's rule) and hashes the password, the same work for every well-formed form.
/// `Err` is the message the form shows; nothing about existing accounts is looked at.
pub async fn check_signup(
    ctx: &Ctx<'_>,
    form: SignupForm,
) -> Result<Result<CheckedSignup, Cow<'static, str>>, BrowserError> {
    let name = match username::normalise(&form.username) {
        Ok(name) => name,
        Err(why) => return Ok(Err(Cow::Owned(format!("The username {why}.")))),
    };
    // An address is looked up by `/forgot-password` as a username first: a username
    // shaped like one could stand in front of someone else's address.
    if name.contains('@') {
        return Ok(Err(Cow::Borrowed("The username must not contain `@`.")));
    }
    let email = match links::parse_email(&form.email) {
        Ok(email) => email,
        Err(why) => return Ok(Err(Cow::Owned(format!("The email address {why}")))),
    };
    if !ctx
        .config
        .registration
        .signup_domain_allowed(links::domain_of(&email))
    {
        return Ok(Err(Cow::Borrowed(
            "Accounts cannot be created for addresses of this domain.",
        )));
    }
    if let Err(refused) =
        new_password::check(&form.password, Some(&name), ctx.config.password.policy)
    {
        return Ok(Err(Cow::Owned(format!("The password {refused}."))));
    }
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        form.password.as_bytes(),
        form.confirm.as_bytes(),
    )) {
        return Ok(Err(Cow::Borrowed("The passwords do not match.")));
    }
    let password_hash = ctx
        .accounts
        .hash_password(form.password)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot hash a new password");
            BrowserError::Unavailable(OAuthError::temporarily_unavailable(1))
        })?;
    Ok(Ok(CheckedSignup {
        username: name,
        email,
        password_hash,
    }))
}

/// The mail a checked sign-up causes (run after the answer is sent): the verification link
/// for a new account; to an address that has an account, a reminder of it and the way to
/// reset its password; when the username is taken, word of that. None over the limits.
pub async fn signup_mail(
    ctx: &Ctx<'_>,
    signup: CheckedSignup,
) -> Result<Vec<OutgoingMail>, BrowserError> {
    let limit = (format!("signup-email:{}", signup.email), links::PER_ACCOUNT);
    if !links::within_limits(ctx, "signup", vec![limit]).await? {
        return Ok(Vec::new());
    }
    let (name_taken, email_taken) = ctx
        .store
        .account_exists(signup.username.clone(), signup.email.clone())
        .await?;
    let mail = if email_taken {
        OutgoingMail::new(&signup.email, "signup_exists")
            .arg("link", links::page(ctx, FORGOT_ROUTE))
    } else if name_taken {
        OutgoingMail::new(&signup.email, "signup_taken")
            .arg("username", signup.username)
            .arg("link", links::page(ctx, SIGNUP_ROUTE))
    } else {
        let mut minted = links::mint(ctx, TokenPurpose::SignUp, None, Some(signup.email.as_str()));
        minted.row.username = Some(signup.username.clone());
        minted.row.password_hash = Some(signup.password_hash);
        ctx.store.insert_account_token(minted.row).await?;
        OutgoingMail::new(&signup.email, "signup_verify")
            .arg("username", signup.username)
            .arg("link", links::link(ctx, VERIFY_ROUTE, &minted.secret))
            .arg("hours", (links::VERIFY_LIFETIME / 3600).to_string())
    };
    Ok(vec![mail])
}
