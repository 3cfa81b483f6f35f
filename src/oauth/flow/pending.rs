//! A pending authorization request as the flow reads it: parsed once from storage into
//! typed values, so no step compares strings again.

use std::collections::BTreeSet;

use super::error::BrowserError;
use crate::oauth::authorize::Prompt;
use crate::oauth::scope::Scope;
use crate::store::browser::StoredRequest;

/// The `prompt` values of a request, as a set (`select_account` was read as `login`
/// when the request was validated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prompts(BTreeSet<Prompt>);

impl FromIterator<Prompt> for Prompts {
    fn from_iter<I: IntoIterator<Item = Prompt>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl Prompts {
    pub fn none(&self) -> bool {
        self.0.contains(&Prompt::None)
    }
    pub fn login(&self) -> bool {
        self.0.contains(&Prompt::Login)
    }
    pub fn consent(&self) -> bool {
        self.0.contains(&Prompt::Consent)
    }

    /// The stored form: space-separated in a fixed order, None when empty.
    pub fn stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
    }

    fn parse_stored(raw: Option<&str>) -> Option<Self> {
        raw.unwrap_or("")
            .split(' ')
            .filter(|p| !p.is_empty())
            .map(Prompt::from_stored)
            .collect::<Option<BTreeSet<_>>>()
            .map(Self)
    }
}

/// A stored request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub id: String,
    pub client_id: String,
    pub scope: Scope,
    pub prompts: Prompts,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The session that logged in for this request, or was shown its consent page.
    pub session_id: Option<String>,
    pub expires_at: i64,
    /// The request as stored, for finishing it (the code repeats its fields).
    pub stored: StoredRequest,
}

impl PendingRequest {
    pub fn parse(stored: StoredRequest) -> Result<Self, BrowserError> {
        let scope = Scope::parse(&stored.scope)
            .map_err(|_| BrowserError::Page("The request's scope is invalid."))?;
        let prompts = Prompts::parse_stored(stored.prompt.as_deref()).ok_or(BrowserError::Page(
            "This sign-in request is invalid. Go back to the application and start again.",
        ))?;
        Ok(Self {
            id: stored.id.clone(),
            client_id: stored.client_id.clone(),
            scope,
            prompts,
            max_age: stored.max_age,
            login_hint: stored.login_hint.clone(),
            session_id: stored.session_id.clone(),
            expires_at: stored.expires_at,
            stored,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_round_trip_through_storage() {
        for set in [
            vec![],
            vec![Prompt::None],
            vec![Prompt::Login],
            vec![Prompt::Consent, Prompt::Login],
        ] {
            let prompts: Prompts = set.iter().copied().collect();
            let stored = prompts.stored();
            assert_eq!(Prompts::parse_stored(stored.as_deref()), Some(prompts));
        }
        assert_eq!(
            Prompts::from_iter([Prompt::Login, Prompt::Consent])
                .stored()
                .as_deref(),
            Some("login consent")
        );
        assert_eq!(
            Prompts::parse_stored(Some("consent  login")).map(|p| p.login()),
            Some(true)
        );
        assert_eq!(Prompts::parse_stored(Some("bogus")), None);
    }
}
