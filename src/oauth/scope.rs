//! Scope tokens (RFC 6749 section 3.3).

/// `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`
pub fn is_valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_token_syntax() {
        assert!(is_valid_token("openid"));
        assert!(is_valid_token("api:read"));
        assert!(is_valid_token("https://api.example.com/write"));
        assert!(!is_valid_token(""));
        assert!(!is_valid_token("a b"));
        assert!(!is_valid_token("quote\"d"));
        assert!(!is_valid_token("back\\slash"));
        assert!(!is_valid_token("caf\u{e9}"));
    }
}
