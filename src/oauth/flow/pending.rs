//! A pending authorization request as the flow reads it: parsed once from storage into
//! typed values, so no step compares strings again.

use std::collections::BTreeSet;

use super::error::BrowserError;
use crate::oauth::authorize::Prompt;
use crate::oauth::scope::Scope;
use crate::store::browser::StoredRequest;

/// The `prompt` values of a request, as a set.
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
    pub fn select_account(&self) -> bool {
        self.0.contains(&Prompt::SelectAccount)
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
    /// The subject of the request's verified `id_token_hint`: the only user it may finish for.
    pub hint_subject: Option<String>,
    /// The session that logged in for this request, chose to continue on its account page,
    /// or was shown its consent page.
    pub session_id: Option<String>,
    /// The session whose login was made for this request: only it counts as a fresh login.
    pub login_session_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The weakest assurance level the client's `acr_values` accept (None: not asked).
    pub acr_minimum: Option<crate::oauth::mfa::level::Level>,
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
            hint_subject: stored.id_token_hint_subject.clone(),
            session_id: stored.session_id.clone(),
            login_session_id: stored.login_session_id.clone(),
            created_at: stored.created_at,
            expires_at: stored.expires_at,
            acr_minimum: crate::oauth::mfa::level::requested_minimum(stored.acr_values.as_deref()),
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
            vec![Prompt::SelectAccount, Prompt::Consent],
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
