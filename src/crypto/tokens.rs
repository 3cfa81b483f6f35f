//! Random secrets (client secrets, refresh tokens, codes, session ids) and the digests the
//! database keeps instead of them (docs/architecture.md, convention 7).

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

/// Characters of generated passwords: no look-alikes (l, I, O, 0, 1).
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const PASSWORD_LEN: usize = 20;

/// A random password for generated accounts: 20 characters drawn uniformly from 57, about
/// 116 bits.
pub fn random_password() -> Zeroizing<String> {
    let mut rng = rand::rngs::OsRng;
    let mut out = Zeroizing::new(String::with_capacity(PASSWORD_LEN));
    while out.len() < PASSWORD_LEN {
        // A rejected draw (about 1 in 170 million) is simply drawn again.
        if let Some(&c) = unbiased_index(rng.next_u32(), PASSWORD_ALPHABET.len())
            .and_then(|i| PASSWORD_ALPHABET.get(i))
        {
            out.push(char::from(c));
        }
    }
    out
}

/// Maps a uniform 32-bit draw onto `0..len` without modulo bias: draws at or above the
/// largest multiple of `len` below 2^32 would favour the low indices, so they are rejected
/// (`None`) and the caller draws again.
fn unbiased_index(draw: u32, len: usize) -> Option<usize> {
    let len = u64::try_from(len).ok().filter(|&l| l > 0)?;
    let zone = (1u64 << 32) / len * len;
    let draw = u64::from(draw);
    if draw >= zone {
        return None;
    }
    usize::try_from(draw % len).ok()
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
        for _ in 0..200 {
            let p = random_password();
            assert!(p.bytes().all(|c| PASSWORD_ALPHABET.contains(&c)), "{}", *p);
        }
    }

    #[test]
    fn password_sampler_rejects_the_biased_tail() {
        let len = PASSWORD_ALPHABET.len();
        assert_eq!(len, 57);
        // The largest multiple of 57 that fits below 2^32.
        let zone = (1u64 << 32) / 57 * 57;
        let last_kept = u32::try_from(zone - 1).unwrap();
        let first_rejected = u32::try_from(zone).unwrap();
        assert_eq!(unbiased_index(0, len), Some(0));
        assert_eq!(unbiased_index(56, len), Some(56));
        assert_eq!(unbiased_index(57, len), Some(0));
        assert_eq!(unbiased_index(last_kept, len), Some(56));
        assert_eq!(unbiased_index(first_rejected, len), None);
        assert_eq!(unbiased_index(u32::MAX, len), None);
        // A power of two divides 2^32: nothing is rejected.
        assert_eq!(unbiased_index(u32::MAX, 64), Some(63));
        assert_eq!(unbiased_index(5, 0), None);
    }
}
