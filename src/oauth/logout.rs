//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): which client the request
//! speaks for, and where the browser may go afterwards. `flow::logout` decides whether the
//! session ends now or only after the user confirms.

use crate::oauth::authorize::redirect_with;
use crate::oauth::context::Ctx;
use crate::oauth::flow::error::BrowserError;
use crate::oauth::form::FormMap;
use crate::oauth::id_token_hint::{self, Hint, HintError};
use crate::oauth::redirect_uri;

/// A logout request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// The verified `id_token_hint`, if one was sent.
    pub hint: Option<Hint>,
    /// The client the request speaks for: the hint's audience or `client_id`.
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    /// The registered `post_logout_redirect_uri`, as sent.
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

impl LogoutRequest {
    /// Where the browser goes once the session ended (None: the signed-out page), with
    /// `state` echoed (RP-Initiated Logout 1.0 section 3).
    pub fn location(&self) -> Option<String> {
        let uri = self.post_logout_redirect_uri.as_deref()?;
        Some(match &self.state {
            Some(state) => redirect_with(uri, &[("state", state)]),
            None => uri.to_owned(),
        })
    }
}

const MAX_STATE: usize = 2048;

/// Checks a logout request. Anything wrong is an error page, never a redirect: a logout
/// endpoint that redirected on a bad request would be an open redirector.
pub async fn check(ctx: &Ctx<'_>, form: &FormMap) -> Result<LogoutRequest, BrowserError> {
    let named = form.get("client_id");
    let hint =
        match form.get("id_token_hint") {
            Some(raw) => Some(id_token_hint::verify(ctx, raw, named).await.map_err(
                |e| match e {
                    HintError::Invalid => {
                        BrowserError::Page("The logout request carries an invalid id_token_hint.")
                    }
                    HintError::OtherClient => {
                        BrowserError::Page("client_id does not match the id_token_hint.")
                    }
                },
            )?),
            None => None,
        };
    let client_id = hint
        .as_ref()
        .map(|h| h.client_id.clone())
        .or_else(|| named.map(str::to_owned));
    let client = match &client_id {
        Some(id) => ctx.clients.get(id).await?.filter(|c| !c.disabled),
        None => None,
    };
    if client_id.is_some() && client.is_none() {
        return Err(BrowserError::Page(
            "The application that sent you here is not known.",
        ));
    }
    let state = match form.get("state") {
        Some(s) if s.len() > MAX_STATE || s.chars().any(char::is_control) => {
            return Err(BrowserError::Page(
                "The logout request's state is too long or malformed.",
            ));
        }
        other => other.map(str::to_owned),
    };
    let post_logout_redirect_uri = match form.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let Some(client) = &client else {
                return Err(BrowserError::Page(
                    "post_logout_redirect_uri needs client_id or id_token_hint.",
                ));
            };
            if !client
                .post_logout_redirect_uris
                .iter()
                .any(|registered| redirect_uri::matches(registered, uri))
            {
                return Err(BrowserError::Page(
                    "The address to return to after logout is not registered for this application.",
                ));
            }
            Some(uri.to_owned())
        }
    };
    Ok(LogoutRequest {
        hint,
        client_id,
        client_name: client.map(|c| c.client_name.clone()),
        post_logout_redirect_uri,
        state,
    })
}
