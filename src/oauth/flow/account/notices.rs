//! The mail a person gets when their account's protection changes on the account pages
//! (issue 22; what the issue-20 note asked for): a new password, a second factor added or
//! removed. Someone who has taken over a session can do each of these; the notice is how
//! the rightful owner learns of it in time to reset the password (and sign out every
//! device with it). Sent to the address in force, never to one waiting for verification.

use super::links::{self, OutgoingMail};
use crate::accounts::Profile;
use crate::oauth::flow::Ctx;

/// What changed; each is `mail-account_changed-<name>` in the catalogues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Password,
    AuthenticatorApp,
    Passkey,
    FactorRemoved,
}

impl Change {
    fn name(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::AuthenticatorApp => "totp",
            Self::Passkey => "passkey",
            Self::FactorRemoved => "factor_removed",
        }
    }
}

/// The notice of `change` for `profile`, when they have an address.
pub fn security_change(ctx: &Ctx<'_>, profile: &Profile, change: Change) -> Option<OutgoingMail> {
    let to = profile.email.as_deref().filter(|e| !e.is_empty())?;
    Some(
        OutgoingMail::new(to, "account_changed")
            .arg("username", profile.username.clone())
            .arg("change", change.name())
            .arg("link", links::page(ctx, links::FORGOT_ROUTE)),
    )
}
