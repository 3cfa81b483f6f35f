//! The rule a new password must meet, wherever one is chosen: an operator setting it
//! (`crate::manage`: the admin API, the CLI, the first admin's file), the user on their own
//! account page (`crate::oauth::flow::account`), and a sign-up or a reset. Kept here, below
//! all of them, so they cannot drift apart.
//!
//! OWASP ASVS 5 V6.2 / NIST SP 800-63B section 3.1.1.2: a minimum length (8, configurable
//! upwards: `password.min_length`), a maximum of at least 64 characters, no composition
//! rules, and no password from a list of common or breached ones (`common`) or containing
//! the username.

use crate::crypto::password::MAX_PASSWORD_BYTES;

/// The policy's settings (`password.min_length`), made when the configuration loads.
pub use crate::config::PasswordPolicy as Policy;

/// The shortest password any configuration may allow (ASVS V6.2.1, NIST SP 800-63B).
pub const MIN_CHARS: usize = crate::config::MIN_PASSWORD_CHARS;

/// A username shorter than this is not looked for inside a password: "al" or "bob" would
/// refuse many good passwords and protect none.
pub const USERNAME_MIN_CHARS: usize = 4;

/// Why a new password is refused; `Display` is the words shown after the field's name
/// ("password must be at least 12 characters"), never the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("must be at least {0} characters")]
    TooShort(usize),
    #[error("is too long (at most {MAX_PASSWORD_BYTES} bytes)")]
    TooLong,
    #[error("is one of the most common passwords, which attackers try first")]
    Common,
    #[error("must not contain the username")]
    ContainsUsername,
}

/// Checks a new password for `username` (None: not known yet, as when an operator's file
/// is read before the user exists) under `policy`. Lengths count characters, not bytes,
/// so eight letters of any script pass; the upper bound is the hasher's, in bytes, and
/// lets 64 characters of any script through.
pub fn check(password: &str, username: Option<&str>, policy: Policy) -> Result<(), Refused> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Refused::TooLong);
    }
    if password.chars().count() < policy.min_chars.max(MIN_CHARS) {
        return Err(Refused::TooShort(policy.min_chars.max(MIN_CHARS)));
    }
    let folded = password.to_lowercase();
    if let Some(name) = username {
        let name = name.trim().to_lowercase();
        if name.chars().count() >= USERNAME_MIN_CHARS && folded.contains(&name) {
            return Err(Refused::ContainsUsername);
        }
    }
    if super::common::contains(&folded) {
        return Err(Refused::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Policy = Policy { min_chars: 8 };

    #[test]
    fn length_bounds() {
        assert_eq!(check("seven77", None, DEFAULT), Err(Refused::TooShort(8)));
        // Characters, not bytes: eight letters of any script pass.
        assert_eq!(check("éüßøåçñá", None, DEFAULT), Ok(()));
        assert_eq!(
            check(&"a".repeat(2000), None, DEFAULT),
            Err(Refused::TooLong)
        );
        // 64 characters of a four-byte script are allowed (ASVS V6.2.9).
        assert_eq!(check(&"🐴🔑".repeat(32), None, DEFAULT), Ok(()));
        assert_eq!(
            Refused::TooShort(8).to_string(),
            "must be at least 8 characters"
        );
    }

    #[test]
    fn the_configured_minimum_counts_and_never_goes_below_eight() {
        let twelve = Policy { min_chars: 12 };
        assert_eq!(
            check("zq8-vtr-plk", None, twelve),
            Err(Refused::TooShort(12))
        );
        assert_eq!(check("zq8-vtr-plk-w", None, twelve), Ok(()));
        let four = Policy { min_chars: 4 };
        assert_eq!(check("zq8-vtr", None, four), Err(Refused::TooShort(8)));
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        assert_eq!(check("password1", None, DEFAULT), Err(Refused::Common));
        assert_eq!(check("PassWord1", None, DEFAULT), Err(Refused::Common));
        assert_eq!(check("qwertyuiop", None, DEFAULT), Err(Refused::Common));
        assert_eq!(check("iloveyou2", None, DEFAULT), Err(Refused::Common));
    }

    #[test]
    fn the_username_may_not_be_inside() {
        assert_eq!(
            check("xx-Margarethe-77", Some("margarethe"), DEFAULT),
            Err(Refused::ContainsUsername)
        );
        // Too short a name to look for.
        assert_eq!(check("bobcat-on-roof-7", Some("bob"), DEFAULT), Ok(()));
        assert_eq!(check("bobcat-on-roof-7", Some("carla"), DEFAULT), Ok(()));
    }
}
