//! Second factors (issue 20): TOTP authenticators (`totp`), recovery codes (`recovery`),
//! passkeys (`passkeys`), the assurance levels and `acr`/`amr` values they reach (`level`),
//! and checking a factor at sign-in under the password's throttle (`verify`). Protocol
//! code: no actix, no diesel; storage through `Store` methods, time from `Ctx::now`.

pub mod kit;
pub mod level;
pub mod passkeys;
pub mod recovery;
pub mod totp;
pub mod verify;

pub use kit::MfaKit;

use crate::audit::AuditEvent;
use crate::store::factors::FactorKind;

/// The kind name of a factor in audit events and metrics.
pub fn kind_name(kind: FactorKind) -> &'static str {
    kind.as_str()
}

/// The metric and the log line of a factor check's outcome.
pub(crate) fn count(ctx: &crate::oauth::context::Ctx<'_>, factor: &str, outcome: &str) {
    ctx.metrics
        .second_factor
        .with_label_values(&[factor, outcome])
        .inc();
}

/// An audit event about a user's factor.
pub(crate) fn event(
    name: &'static str,
    user_id: &str,
    actor: crate::audit::AuditActor,
    details: serde_json::Value,
) -> AuditEvent {
    AuditEvent::new(name)
        .by(actor)
        .subject(user_id.to_owned())
        .details(details)
}

/// Whether policy demands a second factor of this user at this client: the client's
/// `require_mfa`, or one of the user's roles in `mfa.required_roles`.
pub fn required_by_policy(
    ctx: &crate::oauth::context::Ctx<'_>,
    client: &crate::oauth::client::RegisteredClient,
    roles: &[String],
) -> bool {
    client.require_mfa || ctx.config.mfa.requires(roles)
}
