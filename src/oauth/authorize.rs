//! The authorization endpoint's request (RFC 6749 section 4.1.1, RFC 7636, OpenID Connect
//! Core 3.1.2.1), validated in the order that keeps users safe: the client and its
//! redirect URI first (a failure there is shown on an error page, never redirected, or the
//! server would be an open redirector), then everything else, whose errors go back to the
//! now-trusted redirect URI with `state` and `iss` (RFC 9207).

use url::form_urlencoded;

use super::client::{GrantType, RegisteredClient, resources};
use super::error::OAuthError;
use super::flow::error::BrowserError;
use super::form::FormMap;
use super::pkce;
use super::redirect_uri;
use super::scope::{Scope, grant_scope};

/// An error for the client, to be delivered by redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub error: OAuthError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Prompt {
    None,
    Login,
    Consent,
    /// Show which account is signed in and let the user continue with it or switch.
    SelectAccount,
}

impl Prompt {
    /// The name stored with a pending request.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Login => "login",
            Self::Consent => "consent",
            Self::SelectAccount => "select_account",
        }
    }

    pub fn from_stored(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::None),
            "login" => Some(Self::Login),
            "consent" => Some(Self::Consent),
            "select_account" => Some(Self::SelectAccount),
            _ => None,
        }
    }
}

/// A request that passed every check; it is stored and frozen as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// RFC 6749 section 4.1.3: if it was sent here, the token request must repeat it.
    pub redirect_uri_given: bool,
    pub scope: Scope,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompts: Vec<Prompt>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The languages the client would like the pages in (OpenID Connect Core §3.1.2.1),
    /// best first; kept only when short and ASCII, since it is a wish, never an error.
    pub ui_locales: Option<String>,
    /// RFC 8707 resources granted from the client's allow-list.
    pub resources: Vec<String>,
    /// The `acr_values` we know (`oauth::mfa::level`), in the client's order; unknown
    /// ones are dropped, since the request is voluntary (OpenID Connect Core 3.1.2.1).
    pub acr_values: Option<String>,
}

impl AuthorizationRequest {
    pub fn has_prompt(&self, p: Prompt) -> bool {
        self.prompts.contains(&p)
    }
}

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;
const MAX_HINT: usize = 256;

fn bounded(form: &FormMap, name: &'static str, max: usize) -> Result<Option<String>, OAuthError> {
    match form.get(name) {
        None => Ok(None),
        Some(v) if v.len() <= max && !v.chars().any(char::is_control) => Ok(Some(v.to_owned())),
        Some(_) => Err(OAuthError::invalid_request(format!(
            "{name} is too long or contains control characters"
        ))),
    }
}

/// Step one: the client and where to send it back. `lookup` returned the client (None:
/// unknown). A failure here is shown to the user (`BrowserError::Page`), never redirected.
pub fn client_and_redirect(
    form: &FormMap,
    client: Option<&RegisteredClient>,
) -> Result<String, BrowserError> {
    let Some(_) = form.get("client_id") else {
        return Err(BrowserError::Page(
            "The request names no client (client_id is missing).",
        ));
    };
    let Some(client) = client.filter(|c| !c.disabled) else {
        return Err(BrowserError::Page(
            "The application that sent you here is not known.",
        ));
    };
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(BrowserError::Page(
            "This application may not sign users in.",
        ));
    }
    match form.get("redirect_uri") {
        Some(presented) => client
            .redirect_uris
            .iter()
            .find(|r| redirect_uri::matches(r, presented))
            .map(|_| presented.to_owned())
            .ok_or(BrowserError::Page(
                "The address to return to is not registered for this application.",
            )),
        // Without one, only an unambiguous registration will do.
        None => match client.redirect_uris.as_slice() {
            [only] => Ok(only.clone()),
            [] | [_, _, ..] => Err(BrowserError::Page(
                "The request does not say where to return to (redirect_uri is missing).",
            )),
        },
    }
}

/// Step two, once `redirect_uri` is trusted: everything else. Errors carry the state.
pub fn validate(
    form: &FormMap,
    client: &RegisteredClient,
    redirect_uri: String,
    registration: &crate::config::RegistrationConfig,
) -> Result<AuthorizationRequest, ErrorRedirect> {
    let state = form.get("state").map(str::to_owned);
    let fail = |error: OAuthError| ErrorRedirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone().filter(|s| s.len() <= MAX_STATE),
        error,
    };
    if form.contains("request") {
        return Err(fail(OAuthError::RequestNotSupported(
            "request objects are not supported".into(),
        )));
    }
    if form.contains("request_uri") {
        return Err(fail(OAuthError::RequestUriNotSupported(
            "request_uri is not supported".into(),
        )));
    }
    match form.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(fail(OAuthError::UnsupportedResponseType(
                "only response_type=code is supported".into(),
            )));
        }
        None => {
            return Err(fail(OAuthError::invalid_request(
                "missing parameter `response_type`",
            )));
        }
    }
    match form.get("response_mode") {
        None | Some("query") => {}
        Some(_) => {
            return Err(fail(OAuthError::invalid_request(
                "only response_mode=query is supported",
            )));
        }
    }
    let state = bounded(form, "state", MAX_STATE).map_err(&fail)?;
    let nonce = bounded(form, "nonce", MAX_NONCE).map_err(&fail)?;
    let login_hint = bounded(form, "login_hint", MAX_HINT).map_err(&fail)?;
    let ui_locales = form
        .get("ui_locales")
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= MAX_HINT && v.is_ascii())
        .map(str::to_owned);

    let requested = match form.get("scope") {
        Some(raw) => Some(Scope::parse(raw).map_err(&fail)?),
        None => None,
    };
    let scope = grant_scope(requested.as_ref(), &client.scope).map_err(&fail)?;
    let resources = resources::grant(
        &form.all("resource"),
        client.resources_allowed(registration),
    )
    .map_err(&fail)?;

    let code_challenge = pkce::challenge_from_request(
        form.get("code_challenge"),
        form.get("code_challenge_method"),
    )
    .map_err(&fail)?;
    if code_challenge.is_none() && (!client.confidential || client.require_pkce) {
        return Err(fail(OAuthError::invalid_request(
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        )));
    }

    let mut prompts = Vec::new();
    if let Some(raw) = form.get("prompt") {
        for p in raw.split(' ').filter(|p| !p.is_empty()) {
            let parsed = match p {
                "none" => Prompt::None,
                "login" => Prompt::Login,
                "consent" => Prompt::Consent,
                "select_account" => Prompt::SelectAccount,
                _ => {
                    return Err(fail(OAuthError::invalid_request(
                        "prompt must be none, login, consent or select_account",
                    )));
                }
            };
            if !prompts.contains(&parsed) {
                prompts.push(parsed);
            }
        }
        if prompts.contains(&Prompt::None) && prompts.len() > 1 {
            return Err(fail(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            )));
        }
    }
    let max_age = match form.get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| (0..=10 * 366 * 86_400).contains(n))
                .ok_or_else(|| {
                    fail(OAuthError::invalid_request(
                        "max_age must be a number of seconds",
                    ))
                })?,
        ),
    };

    let acr_values = form
        .get("acr_values")
        .and_then(crate::oauth::mfa::level::known_acr_values);

    Ok(AuthorizationRequest {
        acr_values,
        client_id: client.client_id.clone(),
        redirect_uri_given: form.contains("redirect_uri"),
        redirect_uri,
        scope,
        state,
        nonce,
        code_challenge,
        prompts,
        max_age,
        login_hint,
        ui_locales,
        resources,
    })
}

/// `redirect_uri` with the response parameters appended, leaving what was registered
/// byte for byte as it was.
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{}", query.finish())
}

/// The error response of RFC 6749 section 4.1.2.1 with `iss` (RFC 9207).
pub fn error_location(e: &ErrorRedirect, issuer: &str) -> String {
    let mut params = vec![("error", e.error.code())];
    if let Some(d) = e.error.description() {
        params.push(("error_description", d));
    }
    if let Some(s) = &e.state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect_with(&e.redirect_uri, &params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_keep_the_registered_uri() {
        assert_eq!(
            redirect_with(
                "https://a.example/cb?tenant=x",
                &[("code", "c d"), ("state", "s&t")]
            ),
            "https://a.example/cb?tenant=x&code=c+d&state=s%26t"
        );
    }
}
