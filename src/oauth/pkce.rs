//! PKCE (RFC 7636) with the S256 method only: the checks /authorize makes on a
//! `code_challenge` and the token endpoint makes on a `code_verifier`. Pure functions over
//! strings, so the fuzz target `pkce` drives exactly the code the endpoints run.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::oauth::error::OAuthError;

/// RFC 7636 section 4.2: 43 characters of base64url (a SHA-256 digest).
pub fn valid_s256_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 7636 section 4.1: 43 to 128 characters from the unreserved set.
pub fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The S256 transformation: base64url(SHA-256(verifier)) without padding.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The challenge an authorization request carries, if any, from its `code_challenge` and
/// `code_challenge_method` parameters. RFC 7636 defaults to `plain` when the method is
/// absent; we allow only S256, so an absent method is refused rather than assumed.
pub fn challenge_from_request(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    match (challenge, method) {
        (Some(c), Some("S256")) if valid_s256_challenge(c) => Ok(Some(c.to_owned())),
        (Some(_), Some("S256")) => Err(OAuthError::invalid_request(
            "code_challenge must be 43 characters of base64url (S256)",
        )),
        (_, Some("plain")) => Err(OAuthError::invalid_request(
            "code_challenge_method plain is not allowed; use S256",
        )),
        (_, Some(_)) => Err(OAuthError::invalid_request(
            "code_challenge_method must be S256",
        )),
        (Some(_), None) => Err(OAuthError::invalid_request(
            "code_challenge_method is required and must be S256",
        )),
        (None, None) => Ok(None),
    }
}

/// The token request's `verifier` against the `challenge` its code was issued for. The
/// comparison is constant-time: the challenge is not secret, but a timing difference
/// would still tell a guesser how many leading characters of its transform were right.
pub fn verify(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (Some(challenge), Some(v)) => {
            if !valid_verifier(v) {
                return Err(OAuthError::invalid_request(
                    "code_verifier must be 43 to 128 unreserved characters",
                ));
            }
            if !bool::from(s256(v).as_bytes().ct_eq(challenge.as_bytes())) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
            Ok(())
        }
        (Some(_), None) => Err(OAuthError::invalid_grant(
            "code_verifier is required (PKCE)",
        )),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "a code_verifier was sent but the authorization request had no code_challenge",
        )),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mJ0bZ2P5YQnE-1pKHrCDN1VlhFb13c";

    #[test]
    fn pkce_s256_matches_an_independent_computation() {
        // Expected value from Python: base64url(sha256(verifier)) without padding.
        assert_eq!(
            s256(VERIFIER),
            "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8"
        );
        assert!(valid_verifier(VERIFIER));
        assert!(!valid_verifier("short"));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn a_transform_is_always_a_valid_challenge_and_verifies() {
        let challenge = s256(VERIFIER);
        assert!(valid_s256_challenge(&challenge));
        assert!(verify(Some(&challenge), Some(VERIFIER)).is_ok());
        let other = format!("{}A", &VERIFIER[..VERIFIER.len() - 1]);
        assert_eq!(
            verify(Some(&challenge), Some(&other)).unwrap_err().code(),
            "invalid_grant"
        );
    }

    #[test]
    fn request_parameters_follow_s256_only() {
        let c = s256(VERIFIER);
        assert_eq!(
            challenge_from_request(Some(&c), Some("S256")).unwrap(),
            Some(c.clone())
        );
        assert_eq!(challenge_from_request(None, None).unwrap(), None);
        for (challenge, method) in [
            (Some(c.as_str()), None),
            (Some(c.as_str()), Some("plain")),
            (None, Some("plain")),
            (None, Some("S256")),
            (Some("short"), Some("S256")),
            (Some(c.as_str()), Some("s256")),
        ] {
            assert_eq!(
                challenge_from_request(challenge, method)
                    .unwrap_err()
                    .code(),
                "invalid_request",
                "{challenge:?} {method:?}"
            );
        }
    }

    #[test]
    fn verifier_presence_must_match_the_challenge() {
        let c = s256(VERIFIER);
        assert_eq!(verify(Some(&c), None).unwrap_err().code(), "invalid_grant");
        assert_eq!(
            verify(None, Some(VERIFIER)).unwrap_err().code(),
            "invalid_grant"
        );
        assert_eq!(
            verify(Some(&c), Some("bad verifier")).unwrap_err().code(),
            "invalid_request"
        );
        assert!(verify(None, None).is_ok());
    }
}
