//! Usernames are compared after NFKC normalisation and case folding, so `Alice`,
//! `ALICE` and `ａｌｉｃｅ` (full-width) are one account and cannot be registered twice.

use caseless::Caseless;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 128 characters")]
    TooLong,
    #[error("must not contain whitespace or control characters")]
    BadCharacters,
}

/// NFKC_Casefold-style: compatibility-normalise, fold case, normalise again (folding
/// can produce sequences that are no longer in normal form).
pub fn normalise(raw: &str) -> Result<String, UsernameError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(UsernameError::Empty);
    }
    let folded: String = trimmed
        .nfkc()
        .default_case_fold()
        .collect::<String>()
        .nfkc()
        .collect();
    if folded.chars().count() > 128 {
        return Err(UsernameError::TooLong);
    }
    if folded.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UsernameError::BadCharacters);
    }
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_width() {
        assert_eq!(normalise("Alice"), Ok("alice".into()));
        assert_eq!(normalise("  ALICE "), Ok("alice".into()));
        assert_eq!(
            normalise("\u{ff41}\u{ff4c}\u{ff49}\u{ff43}\u{ff45}"),
            Ok("alice".into())
        );
        assert_eq!(normalise("Stra\u{df}e"), Ok("strasse".into()));
        // Composed and decomposed forms are the same name.
        assert_eq!(normalise("Jos\u{e9}"), normalise("Jose\u{301}"));
    }

    #[test]
    fn refuses_bad_names() {
        assert_eq!(normalise("   "), Err(UsernameError::Empty));
        assert_eq!(normalise("a b"), Err(UsernameError::BadCharacters));
        assert_eq!(normalise("a\u{0}b"), Err(UsernameError::BadCharacters));
        assert_eq!(normalise(&"x".repeat(129)), Err(UsernameError::TooLong));
    }
}
