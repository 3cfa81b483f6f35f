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

/// Prefix of the browser-binding cookie's value.
pub const BROWSER_PREFIX: &str = "pcb_";

/// A form's CSRF token as bound to the browser that loaded the form: HMAC-SHA-256 keyed by
/// that browser's binding cookie (a random secret the browser keeps, HttpOnly). What the
/// server stores, or recomputes, is this proof, so a token copied out of one browser's page
/// proves nothing in another: without the first browser's cookie its proof cannot be made.
pub fn bound_to_browser(browser: &str, token: &str) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, browser.as_bytes());
    let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
    // Domain separation: this MAC means "a CSRF token of this browser", nothing else.
    ctx.update(b"portcullis csrf token\0");
    ctx.update(token.as_bytes());
    ctx.sign().as_ref().to_vec()
}

/// Does `token`, presented by `browser`, make the stored proof? Constant time.
pub fn matches_bound(browser: &str, token: &str, stored: &[u8]) -> bool {
    let computed = bound_to_browser(browser, token);
    !stored.is_empty() && stored.len() == computed.len() && bool::from(computed.ct_eq(stored))
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
    fn csrf_tokens_are_bound_to_one_browser() {
        let (mine, theirs) = (
            Secret::generate(BROWSER_PREFIX),
            Secret::generate(BROWSER_PREFIX),
        );
        let token = Secret::generate("");
        let proof = bound_to_browser(mine.expose(), token.expose());
        assert_eq!(proof.len(), 32);
        assert!(matches_bound(mine.expose(), token.expose(), &proof));
        assert!(!matches_bound(theirs.expose(), token.expose(), &proof));
        assert!(!matches_bound(mine.expose(), "other", &proof));
        assert!(!matches_bound(mine.expose(), token.expose(), &[]));
        assert!(!matches_bound(mine.expose(), token.expose(), &proof[..31]));
        // Not the plain digest of the token: that would need no browser at all.
        assert_ne!(proof, digest(token.expose()).to_vec());
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
