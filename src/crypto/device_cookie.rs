//! Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"): a
//! browser that has logged in as a user keeps a value signed by us that binds that user to
//! a random nonce. Its later attempts for that user are throttled under the nonce alone,
//! so guesses from elsewhere that lock the username do not lock out its rightful owner.
//!
//! The MAC key is derived with HKDF-SHA-256 from each master key under a label of its own
//! (as the audit key is), so no further secret is needed and the master key is never used
//! as a MAC key itself. Cookies are made with the current master key's derivation and
//! accepted under any configured one, so a master-key rotation does not reset devices.

use aws_lc_rs::{hkdf, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::config::master_key::MasterKeys;

const LABEL: &[u8] = b"portcullis device cookie v1";
const PREFIX: &str = "pcd1.";

/// The MAC keys. `Debug` never prints them.
pub struct DeviceKeys {
    /// The current master key's first.
    keys: Vec<hmac::Key>,
}

impl std::fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKeys(<hidden>)")
    }
}

impl DeviceKeys {
    pub fn derive(master: &MasterKeys) -> Option<Self> {
        let keys = master
            .iter()
            .map(|k| {
                let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(k.expose_secret());
                let okm = prk.expand(&[LABEL], hmac::HMAC_SHA256).ok()?;
                Some(hmac::Key::from(okm))
            })
            .collect::<Option<Vec<_>>>()?;
        (!keys.is_empty()).then_some(Self { keys })
    }

    /// A new device cookie's value for `username` (normalised).
    pub fn issue(&self, username: &str) -> Option<Zeroizing<String>> {
        let mut nonce = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let key = self.keys.first()?;
        let tag = hmac::sign(key, &message(username, &nonce));
        Some(Zeroizing::new(format!(
            "{PREFIX}{nonce}.{}",
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )))
    }

    /// The nonce of `value` when it is a cookie we made for `username` (normalised);
    /// `None` for anything else, another user's cookie included.
    pub fn verify(&self, value: &str, username: &str) -> Option<String> {
        let (nonce, tag) = value.strip_prefix(PREFIX)?.split_once('.')?;
        if nonce.len() != 22 || tag.len() > 64 {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let msg = message(username, nonce);
        self.keys
            .iter()
            .any(|k| hmac::verify(k, &msg, &tag).is_ok())
            .then(|| nonce.to_owned())
    }
}

/// The signed text: the username and nonce, length-prefixed so no two pairs collide.
fn message(username: &str, nonce: &str) -> Vec<u8> {
    format!("{}:{username}:{nonce}", username.len()).into_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::master_key::MasterKey;

    #[test]
    fn binds_the_user_and_refuses_forgeries() {
        let keys = DeviceKeys::derive(&MasterKeys::from(MasterKey::generate().unwrap())).unwrap();
        let other = DeviceKeys::derive(&MasterKeys::from(MasterKey::generate().unwrap())).unwrap();
        let cookie = keys.issue("alice").unwrap();
        let nonce = keys.verify(&cookie, "alice").unwrap();
        assert_eq!(nonce.len(), 22);
        assert_eq!(keys.verify(&cookie, "bob"), None);
        assert_eq!(other.verify(&cookie, "alice"), None);
        let mut tampered = cookie.to_string();
        tampered.replace_range(PREFIX.len()..PREFIX.len() + 1, "A");
        if tampered != *cookie {
            assert_eq!(keys.verify(&tampered, "alice"), None);
        }
        assert_eq!(keys.verify("pcd1.x.y", "alice"), None);
        assert_ne!(keys.issue("alice").unwrap(), cookie);
    }
}
