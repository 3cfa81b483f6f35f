//! Scope (RFC 6749 section 3.3).

use std::collections::BTreeSet;
use std::fmt;

use super::error::OAuthError;

/// Bound on tokens in one scope value, so a request cannot make us build a huge set.
const MAX_SCOPE_TOKENS: usize = 64;

/// `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`
pub fn is_valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// A set of scope tokens. Order in a request carries no meaning (RFC 6749 section 3.3), so
/// the set is sorted and deduplicated: the same grant always prints the same `scope`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope(BTreeSet<String>);

impl Scope {
    /// Parses `scope = scope-token *( SP scope-token )`. Tokens are separated by exactly one
    /// space, as the grammar says; a stray space or an invalid token is `invalid_scope`. An
    /// empty string is the empty scope (a form parameter without value never gets here).
    pub fn parse(value: &str) -> Result<Self, OAuthError> {
        if value.is_empty() {
            return Ok(Self::default());
        }
        Self::from_tokens(value.split(' ')).map_err(|err| match err {
            ScopeError::InvalidToken => {
                OAuthError::invalid_scope("scope is not a space-separated list of scope tokens")
            }
            ScopeError::TooMany => {
                OAuthError::invalid_scope(format!("scope has more than {MAX_SCOPE_TOKENS} tokens"))
            }
        })
    }

    /// Builds a scope from separate tokens, e.g. a client's stored list.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = BTreeSet::new();
        for (index, token) in tokens.into_iter().enumerate() {
            if index >= MAX_SCOPE_TOKENS {
                return Err(ScopeError::TooMany);
            }
            let token = token.as_ref();
            if !is_valid_token(token) {
                return Err(ScopeError::InvalidToken);
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn intersection(&self, other: &Scope) -> Scope {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut tokens = self.iter();
        if let Some(first) = tokens.next() {
            f.write_str(first)?;
        }
        for token in tokens {
            write!(f, " {token}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("not a valid scope token")]
    InvalidToken,
    #[error("more than {MAX_SCOPE_TOKENS} scope tokens")]
    TooMany,
}

/// The scope to grant for a request.
///
/// `allowed` is the client's registered scope for client_credentials and password, and the
/// original grant's scope for refresh_token (RFC 6749 section 6: may narrow, never widen).
/// A request naming anything outside `allowed` is `invalid_scope` rather than silently
/// trimmed, so a client never holds a token it believes says more than it does. Without a
/// `scope` parameter the whole of `allowed` is granted: RFC 6749 section 3.3 lets the server
/// pick a default, and for refresh_token RFC 6749 section 6 requires exactly that.
pub fn grant_scope(requested: Option<&Scope>, allowed: &Scope) -> Result<Scope, OAuthError> {
    match requested {
        None => Ok(allowed.clone()),
        Some(requested) if requested.is_subset_of(allowed) => Ok(requested.clone()),
        Some(requested) => {
            let refused = Scope(requested.0.difference(&allowed.0).cloned().collect());
            // Scope tokens are in the description character set; the text is bounded there.
            Err(OAuthError::invalid_scope(format!(
                "scope not allowed for this client: {refused}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(value: &str) -> Scope {
        Scope::parse(value).unwrap()
    }

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

    #[test]
    fn parse_dedups_and_sorts() {
        let scope = s("profile openid email openid");
        assert_eq!(scope.to_string(), "email openid profile");
        assert_eq!(scope.len(), 3);
        assert_eq!(
            scope.iter().collect::<Vec<_>>(),
            vec!["email", "openid", "profile"]
        );
        assert_eq!(s("a"), Scope::from_tokens(["a"]).unwrap());
        assert!(s("").is_empty());
        assert_eq!(Scope::default().to_string(), "");
    }

    #[test]
    fn parse_errors() {
        let msg = "invalid_scope: scope is not a space-separated list of scope tokens";
        for bad in [" a", "a ", "a  b", "a\tb", "quote\"d", "caf\u{e9}", " "] {
            assert_eq!(Scope::parse(bad).unwrap_err().to_string(), msg, "{bad:?}");
        }
        let many = (0..65)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            Scope::parse(&many).unwrap_err().to_string(),
            "invalid_scope: scope has more than 64 tokens"
        );
        let exactly = (0..64)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(Scope::parse(&exactly).unwrap().len(), 64);
    }

    #[test]
    fn from_tokens_errors() {
        assert_eq!(
            Scope::from_tokens(["ok", ""]),
            Err(ScopeError::InvalidToken)
        );
        assert_eq!(Scope::from_tokens(["a b"]), Err(ScopeError::InvalidToken));
        assert_eq!(
            Scope::from_tokens((0..65).map(|i| i.to_string())),
            Err(ScopeError::TooMany)
        );
        assert_eq!(
            Scope::from_tokens(Vec::<String>::new()),
            Ok(Scope::default())
        );
    }

    #[test]
    fn set_operations() {
        let all = s("a b c");
        assert!(all.contains("b"));
        assert!(!all.contains("d"));
        assert!(s("a c").is_subset_of(&all));
        assert!(Scope::default().is_subset_of(&all));
        assert!(!s("a d").is_subset_of(&all));
        assert_eq!(all.intersection(&s("c d b")), s("b c"));
        assert!(all.intersection(&s("x")).is_empty());
    }

    #[test]
    fn granting() {
        let allowed = s("api:read api:write openid");
        assert_eq!(grant_scope(None, &allowed).unwrap(), allowed);
        assert_eq!(
            grant_scope(Some(&s("api:read")), &allowed).unwrap(),
            s("api:read")
        );
        assert_eq!(grant_scope(Some(&allowed), &allowed).unwrap(), allowed);
        assert_eq!(
            grant_scope(Some(&s("admin api:read zeta")), &allowed)
                .unwrap_err()
                .to_string(),
            "invalid_scope: scope not allowed for this client: admin zeta"
        );
        // Nothing allowed, nothing asked: an empty grant, not an error.
        assert_eq!(
            grant_scope(None, &Scope::default()).unwrap(),
            Scope::default()
        );
        assert!(grant_scope(Some(&s("a")), &Scope::default()).is_err());
    }
    /// Properties over generated input: the grammar of RFC 6749 section 3.3 and the set
    /// semantics, on far more cases than the examples above name.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// One scope token: 1 to 20 characters of %x21 / %x23-5B / %x5D-7E.
        fn token() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                prop_oneof![Just(0x21u8), 0x23u8..=0x5B, 0x5Du8..=0x7E],
                1..20,
            )
            .prop_map(|bytes| String::from_utf8(bytes).unwrap())
        }

        fn tokens(max: usize) -> impl Strategy<Value = Vec<String>> {
            proptest::collection::vec(token(), 0..max)
        }

        proptest! {
            #[test]
            fn valid_token_lists_parse_and_print_back_sorted_and_unique(list in tokens(MAX_SCOPE_TOKENS)) {
                let scope = Scope::parse(&list.join(" ")).unwrap();
                let expected: BTreeSet<&str> = list.iter().map(String::as_str).collect();
                prop_assert_eq!(scope.iter().collect::<BTreeSet<_>>(), expected.clone());
                prop_assert_eq!(scope.to_string(), expected.into_iter().collect::<Vec<_>>().join(" "));
                prop_assert_eq!(Scope::parse(&scope.to_string()).unwrap(), scope);
            }

            #[test]
            fn order_and_repetition_carry_no_meaning(list in tokens(30), seed in any::<u64>()) {
                let mut shuffled = list.clone();
                shuffled.extend(list.iter().take(3).cloned());
                // A cheap deterministic shuffle: rotate by the seed, then reverse.
                if !shuffled.is_empty() {
                    let len = shuffled.len();
                    shuffled.rotate_left((seed as usize) % len);
                }
                shuffled.reverse();
                prop_assert_eq!(Scope::parse(&list.join(" ")).unwrap(), Scope::parse(&shuffled.join(" ")).unwrap());
            }

            #[test]
            fn any_string_parses_to_valid_tokens_or_is_invalid_scope(raw in any::<String>()) {
                match Scope::parse(&raw) {
                    Ok(scope) => {
                        prop_assert!(scope.iter().all(is_valid_token));
                        prop_assert!(scope.len() <= MAX_SCOPE_TOKENS);
                        prop_assert!(!raw.contains("  ") && !raw.starts_with(' ') && !raw.ends_with(' '));
                    }
                    Err(err) => prop_assert_eq!(err.code(), "invalid_scope"),
                }
            }

            #[test]
            fn stray_spaces_and_too_many_tokens_are_refused(list in tokens(10), at in any::<usize>()) {
                prop_assume!(!list.is_empty());
                let mut doubled = list.clone();
                let i = at % doubled.len();
                doubled[i] = format!(" {}", doubled[i]);
                prop_assert!(Scope::parse(&doubled.join(" ")).is_err());
                let many: Vec<String> = (0..=MAX_SCOPE_TOKENS).map(|n| format!("{}{n}", list[0])).collect();
                prop_assert!(Scope::parse(&many.join(" ")).is_err());
            }

            #[test]
            fn a_grant_never_widens_what_is_allowed(requested in tokens(10), allowed in tokens(10)) {
                let requested = Scope::from_tokens(&requested).unwrap();
                let allowed = Scope::from_tokens(&allowed).unwrap();
                match grant_scope(Some(&requested), &allowed) {
                    Ok(granted) => {
                        prop_assert!(granted.is_subset_of(&allowed));
                        prop_assert_eq!(granted, requested);
                    }
                    Err(err) => {
                        prop_assert_eq!(err.code(), "invalid_scope");
                        prop_assert!(!requested.is_subset_of(&allowed));
                    }
                }
                prop_assert_eq!(grant_scope(None, &allowed).unwrap(), allowed);
            }
        }
    }
}
