//! The server's side of second factors that every request shares: the master keys that
//! seal TOTP secrets and the WebAuthn relying party. A file of its own so that `Ctx`, which
//! lends it, and the factor code, which takes `Ctx`, do not import each other.

use std::sync::Arc;

use crate::crypto::key_material::MasterKeys;

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
