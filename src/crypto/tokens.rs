//! Random secrets (client secrets, refresh tokens, codes, session ids) and the digests the
//! database keeps instead of them (STYLE.md #7).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret shown to its owner once. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// 256 random bits, base64url, behind `prefix` so secret scanners can match it.
    pub fn generate(prefix: &str) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self(Zeroizing::new(format!(
            "{prefix}{}",
            URL_SAFE_NO_PAD.encode(bytes.as_ref())
        )))
    }

    pub fn from_presented(value: &str) -> Self {
        Self(Zeroizing::new(value.to_owned()))
    }

    /// The clear text, for the one place that shows it to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> [u8; 32] {
        digest(self.expose())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Prefix of generated client secrets.
pub const CLIENT_SECRET_PREFIX: &str = "pcs_";

pub fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// Compares a presented secret with a stored digest without leaking where they differ.
pub fn matches_digest(presented: &str, stored: &[u8]) -> bool {
    let computed = digest(presented);
    stored.len() == computed.len() && bool::from(computed.ct_eq(stored))
}

/// A random password for generated accounts: 20 characters from an alphabet without
/// look-alikes, about 115 bits.
pub fn random_password() -> Zeroizing<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    let mut out = Zeroizing::new(String::with_capacity(20));
    for _ in 0..20 {
        let idx = usize::try_from(rng.next_u32()).unwrap_or(0) % ALPHABET.len();
        if let Some(&c) = ALPHABET.get(idx) {
            out.push(char::from(c));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_long_unique_and_prefixed() {
        let a = Secret::generate(CLIENT_SECRET_PREFIX);
        let b = Secret::generate(CLIENT_SECRET_PREFIX);
        assert_ne!(a, b);
        assert!(a.expose().starts_with("pcs_"));
        // 32 bytes -> 43 base64url characters.
        assert_eq!(a.expose().len(), 4 + 43);
        assert_eq!(format!("{a:?}"), "Secret(<hidden>)");
    }

    #[test]
    fn digest_comparison() {
        let s = Secret::generate("x_");
        let stored = s.digest();
        assert!(matches_digest(s.expose(), &stored));
        assert!(!matches_digest("x_wrong", &stored));
        assert!(!matches_digest(s.expose(), &stored[..31]));
    }

    #[test]
    fn random_passwords() {
        let p = random_password();
        assert_eq!(p.len(), 20);
        assert_ne!(*p, *random_password());
    }
}
