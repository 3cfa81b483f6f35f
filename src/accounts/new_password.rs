//! The rule a new password must meet, wherever one is chosen: an operator setting it
//! (`crate::manage`) or the user on their own account page (`crate::oauth::flow::account`).
//! Kept here, below both, so the two cannot drift apart.

/// The shortest password we accept for a person (NIST SP 800-63B).
pub const MIN_CHARS: usize = 8;

/// Why a new password is refused; `Display` is the words shown after the field's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("must be at least {MIN_CHARS} characters")]
    TooShort,
    #[error("is too long")]
    TooLong,
}

/// Checks a new password: at least `MIN_CHARS` characters, at most what the hasher takes.
/// No composition rules (NIST SP 800-63B section 3.1.1.2).
pub fn check(password: &str) -> Result<(), Refused> {
    if password.chars().count() < MIN_CHARS {
        return Err(Refused::TooShort);
    }
    if password.len() > crate::crypto::password::MAX_PASSWORD_BYTES {
        return Err(Refused::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds() {
        assert_eq!(check("seven77"), Err(Refused::TooShort));
        // Characters, not bytes: eight letters of any script pass.
        assert_eq!(check("éééééééé"), Ok(()));
        assert_eq!(check(&"a".repeat(2000)), Err(Refused::TooLong));
        assert_eq!(
            Refused::TooShort.to_string(),
            "must be at least 8 characters"
        );
    }
}
