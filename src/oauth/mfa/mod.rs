//! Second factors (issue 20): TOTP authenticators (`totp`), recovery codes (`recovery`),
//! passkeys (`passkeys`), the assurance levels and `acr`/`amr` values they reach (`level`),
//! and checking a factor at sign-in under the password's throttle (`verify`). Protocol
//! code: no actix, no diesel; storage through `Store` methods, time from `Ctx::now`.

pub mod level;
pub mod passkeys;
pub mod recovery;
pub mod totp;
pub mod verify;

use std::sync::Arc;

use crate::audit::AuditEvent;
use crate::crypto::key_material::MasterKeys;
use crate::store::factors::FactorKind;

/// What the factor code needs from the server: the master keys that seal TOTP secrets, and
/// the WebAuthn relying party (None when the issuer's host cannot be one: browsers refuse
/// an IP address as a relying-party id, so passkeys are then off and the pages say so).
pub struct MfaKit {
    master: Arc<MasterKeys>,
    webauthn: Option<webauthn_rs::Webauthn>,
    /// The name authenticator apps and passkey prompts show for us.
    pub label: String,
}

impl std::fmt::Debug for MfaKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaKit")
            .field("passkeys", &self.webauthn.is_some())
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl MfaKit {
    /// The relying-party id is the issuer's host and the origin the issuer's origin; a
    /// path on the issuer does not matter to WebAuthn.
    pub fn new(master: Arc<MasterKeys>, issuer: &str, label: &str) -> Self {
        let issuer = url::Url::parse(issuer).ok();
        let webauthn = issuer.as_ref().and_then(|issuer| {
            let host = issuer.host_str()?;
            let origin = url::Url::parse(&issuer.origin().ascii_serialization()).ok()?;
            match webauthn_rs::WebauthnBuilder::new(host, &origin)
                .and_then(|b| b.rp_name(label).build())
            {
                Ok(w) => Some(w),
                Err(err) => {
                    tracing::warn!(
                        error = %err,
                        host,
                        "passkeys are off: the issuer's host cannot be a WebAuthn relying party \
                         (an IP address cannot; use a DNS name such as localhost)"
                    );
                    None
                }
            }
        });
        Self {
            master,
            webauthn,
            label: label.to_owned(),
        }
    }

    pub fn passkeys_enabled(&self) -> bool {
        self.webauthn.is_some()
    }

    pub(crate) fn webauthn(&self) -> Option<&webauthn_rs::Webauthn> {
        self.webauthn.as_ref()
    }

    pub(crate) fn master(&self) -> &MasterKeys {
        &self.master
    }
}

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
