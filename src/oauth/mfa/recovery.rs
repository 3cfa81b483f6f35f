//! Recovery codes: ten single-use codes shown once when a first factor is enrolled (and
//! whenever the user makes a new set, which voids the old one), stored as digests.
//!
//! A code is 12 base32 characters (60 bits) shown as `xxxx-xxxx-xxxx`; it is accepted in
//! any case, with or without the dashes and spaces. 60 bits are out of reach online behind
//! the password's throttle; the digest binds the user id, so equal codes of two users do not
//! share a digest.

use rand::RngCore;
use zeroize::Zeroizing;

use super::level::{self, Level};
use crate::audit::AuditActor;
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;

pub const COUNT: usize = 10;
const LEN: usize = 12;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Ten fresh codes, formatted for people.
pub fn generate() -> Vec<Zeroizing<String>> {
    let mut rng = rand::rngs::OsRng;
    (0..COUNT)
        .map(|_| {
            let mut bytes = [0u8; LEN];
            rng.fill_bytes(&mut bytes);
            let raw: String = bytes
                .iter()
                .map(|b| char::from(ALPHABET.get(usize::from(b % 32)).copied().unwrap_or(b'a')))
                .collect();
            let grouped = raw
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-");
            bytes.fill(0);
            Zeroizing::new(grouped)
        })
        .collect()
}

/// The canonical form of a presented code: lower case, dashes and spaces dropped. None
/// when it cannot be a code.
pub fn normalise(presented: &str) -> Option<Zeroizing<String>> {
    let code: Zeroizing<String> = Zeroizing::new(
        presented
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect(),
    );
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// What is stored of a code: SHA-256 over the user's id and the canonical code.
pub fn digest(user_id: &str, code: &str) -> Vec<u8> {
    let canonical = normalise(code).unwrap_or_else(|| Zeroizing::new(code.to_owned()));
    crate::crypto::tokens::digest(&format!("recovery:{user_id}:{}", canonical.as_str())).to_vec()
}

/// Makes a new set for the user (voiding the old), recorded in the audit log; answers the
/// codes to show once.
pub async fn regenerate(
    ctx: &Ctx<'_>,
    user_id: &str,
    actor: AuditActor,
) -> Result<Vec<Zeroizing<String>>, OAuthError> {
    let codes = generate();
    let digests = codes.iter().map(|c| digest(user_id, c)).collect();
    let event = super::event(
        "recovery_codes.regenerated",
        user_id,
        actor,
        serde_json::json!({ "count": COUNT }),
    );
    ctx.store
        .replace_recovery_codes(user_id, digests, ctx.now, event)
        .await
        .map_err(store_error)?;
    Ok(codes)
}

/// Spends a code of the user's; true when it was one. Not throttled here (see `verify`).
pub async fn spend(
    ctx: &Ctx<'_>,
    user_id: &str,
    presented: &str,
    actor: AuditActor,
) -> Result<bool, OAuthError> {
    if normalise(presented).is_none() {
        return Ok(false);
    }
    let event = super::event(
        "recovery_code.used",
        user_id,
        actor,
        serde_json::json!({ "factor": "recovery_code" }),
    );
    ctx.store
        .spend_recovery_code(user_id, digest(user_id, presented), ctx.now, event)
        .await
        .map_err(store_error)
}

/// A recovery code proves what a one-time password does (RFC 8176 `otp`).
pub fn amr_after(amr: &[String]) -> Vec<String> {
    level::with_second_factor(amr, level::OTP)
}

/// The level a recovery code reaches after a password.
pub const LEVEL: Level = Level::MultiFactor;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_codes_that_normalise() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let mut seen = std::collections::BTreeSet::new();
        for c in &codes {
            assert_eq!(c.len(), 14, "{}", c.as_str());
            assert!(normalise(c).is_some());
            assert!(seen.insert(c.to_string()));
        }
    }

    #[test]
    fn presented_forms_share_one_digest() {
        let code = "abcd-efgh-2345";
        let d = digest("u1", code);
        assert_eq!(digest("u1", "ABCD EFGH 2345"), d);
        assert_eq!(digest("u1", "abcdefgh2345"), d);
        assert_ne!(digest("u2", code), d);
        assert_eq!(normalise("abcd-efgh-234"), None);
        assert_eq!(normalise("abcd-efgh-2341"), None);
    }
}
