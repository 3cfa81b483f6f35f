//! What a client that registers itself may get: one pure function, [`check`], from the
//! metadata it sent, the operator's `registration.*` settings and who vouches for it, to a
//! [`Registration`] (docs/security.md "Registration and outbound requests"). Dynamic
//! registration (RFC 7591), its updates (RFC 7592) and client ID metadata documents all
//! pass here, and only a `Registration` made here can be written as a registered client
//! (`manage::registration`), so no path skips a rule.
//!
//! The rules, each a refusal with an RFC 7591 section 3.2.2 error:
//!
//! - No software statements (`invalid_software_statement`), and none of the fields only
//!   the server sets.
//! - Grant types: `authorization_code` and `refresh_token`; `client_credentials` only for
//!   a confidential client vouched for by an initial access token; never `password` or
//!   anything else. `response_types` is `code` exactly with the code grant.
//! - Scopes: within `registration.allowed_scopes`, never `admin` (the configuration
//!   refuses it there too); none asked for means all of them. No roles, ever: a
//!   `Registration` has nowhere to hold one.
//! - Redirect URIs (`invalid_redirect_uri`): the rules of every registration
//!   (`oauth::redirect_uri`: no fragment, no `javascript:`...), then by
//!   `application_type` (OpenID Connect Dynamic Registration section 2): a `web` client
//!   (the default) uses https, or http on a loopback host, because MCP clients and other
//!   command-line tools register a loopback redirect without saying `native`; a `native`
//!   client uses http on a loopback host or a private-use scheme written as a reverse
//!   domain name (RFC 8252 section 7.1), never https.
//! - Public clients (`token_endpoint_auth_method: none`) may; every registered client
//!   must use PKCE (S256), public or not.
//! - `client_uri` and `logo_uri` are https; `resources` each fall within
//!   `registration.allowed_resources`.
//! - Bounded: at most 10 redirect URIs (and 10 post-logout ones), 32 scopes, 16
//!   resources, a name of at most 100 characters, URIs of at most 2048.

use crate::config::RegistrationConfig;
use crate::crypto::tokens::matches_digest;
use crate::oauth::client::resources::{self, MAX_RESOURCES};
use crate::oauth::client::{AuthMethod, GrantType};
use crate::oauth::error::OAuthError;
use crate::oauth::redirect_uri;
use crate::oauth::scope;
use crate::url_rules::is_loopback_host;

use super::ClientMetadata;

pub const MAX_REDIRECT_URIS: usize = 10;
pub const MAX_SCOPES: usize = 32;
pub const MAX_CLIENT_NAME_CHARS: usize = 100;
pub const MAX_URI_LEN: usize = 2048;
/// What a registration without `client_name` is called on the consent page.
pub const UNNAMED: &str = "Unnamed client";

/// Who vouches for a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registrant {
    /// Anyone (`registration.mode = "open"`).
    Anonymous,
    /// The holder of an initial access token an operator issued (RFC 7591 section 3): it
    /// may also register a `client_credentials` client. An update (RFC 7592) of a client
    /// that has that grant counts as this, so it keeps what it was given; no update adds it.
    InitialAccessToken,
}

/// OpenID Connect Dynamic Registration section 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationType {
    Web,
    Native,
}

impl ApplicationType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Web, Self::Native]
            .into_iter()
            .find(|t| t.as_str() == value)
    }
}

/// Proof that [`check`] made a value: private, so nothing else can.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PolicyChecked;

/// Client metadata the policy has accepted: the only input from which a self-registered
/// client is written. It cannot be built anywhere but [`check`] (`checked` is private),
/// and holds nothing a registration may not have (no roles, no first-party flag, no
/// lifetimes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub client_name: String,
    pub application_type: ApplicationType,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Deduplicated, in `GrantType::ALL` order.
    pub grant_types: Vec<GrantType>,
    pub token_endpoint_auth_method: AuthMethod,
    /// Deduplicated and sorted.
    pub scopes: Vec<String>,
    /// Deduplicated and sorted; each within `registration.allowed_resources`.
    pub resources: Vec<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    checked: PolicyChecked,
}

impl Registration {
    /// A public client: no secret, PKCE only.
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == AuthMethod::None
    }

    pub fn grant_type_names(&self) -> Vec<String> {
        self.grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect()
    }
}

fn metadata(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client_metadata(description.into())
}

fn redirect(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_redirect_uri(description.into())
}

/// The one policy: `meta` as `registrant` may register it under `config`, or the RFC 7591
/// error that says why not.
pub fn check(
    meta: &ClientMetadata,
    config: &RegistrationConfig,
    registrant: Registrant,
) -> Result<Registration, OAuthError> {
    if meta.software_statement {
        return Err(OAuthError::InvalidSoftwareStatement(
            "this server accepts no software statements".into(),
        ));
    }
    if let Some(name) = meta.server_fields.first() {
        return Err(metadata(format!("`{name}` is set by the server, not sent")));
    }

    let application_type = match meta.application_type.as_deref() {
        None => ApplicationType::Web,
        Some(raw) => ApplicationType::parse(raw)
            .ok_or_else(|| metadata("`application_type` must be `web` or `native`"))?,
    };
    let token_endpoint_auth_method = match meta.token_endpoint_auth_method.as_deref() {
        // RFC 7591 section 2's default.
        None => AuthMethod::ClientSecretBasic,
        Some(raw) => AuthMethod::parse(raw).ok_or_else(|| {
            metadata(
                "`token_endpoint_auth_method` must be `none`, `client_secret_basic` or `client_secret_post`",
            )
        })?,
    };
    let public = token_endpoint_auth_method == AuthMethod::None;
    let grant_types = grant_types(meta, public, registrant)?;
    let code_flow = grant_types.contains(&GrantType::AuthorizationCode);
    response_types(meta, code_flow)?;

    let redirect_uris = meta.redirect_uris.clone().unwrap_or_default();
    if code_flow && redirect_uris.is_empty() {
        return Err(redirect(
            "`redirect_uris` is required for the authorization_code grant",
        ));
    }
    check_redirect_uris("redirect_uris", &redirect_uris, application_type)?;
    let post_logout_redirect_uris = meta.post_logout_redirect_uris.clone().unwrap_or_default();
    check_redirect_uris(
        "post_logout_redirect_uris",
        &post_logout_redirect_uris,
        application_type,
    )?;

    let scopes = scopes(meta.scope.as_deref(), config)?;
    let client_name = client_name(meta.client_name.as_deref())?;
    let client_uri = https_uri("client_uri", meta.client_uri.as_deref())?;
    let logo_uri = https_uri("logo_uri", meta.logo_uri.as_deref())?;
    let resources = registered_resources(meta.resources.as_deref().unwrap_or_default(), config)?;
    if let Some(alg) = meta.id_token_signed_response_alg.as_deref()
        && alg != "RS256"
    {
        return Err(metadata(
            "`id_token_signed_response_alg` must be RS256, the only algorithm ID tokens are signed with",
        ));
    }

    Ok(Registration {
        client_name,
        application_type,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        token_endpoint_auth_method,
        scopes,
        resources,
        client_uri,
        logo_uri,
        checked: PolicyChecked,
    })
}

/// A registration request (RFC 7591 section 3.1) may not choose its id or secret.
pub fn check_new(meta: &ClientMetadata) -> Result<(), OAuthError> {
    if meta.client_id.is_some() {
        return Err(metadata("`client_id` is chosen by the server"));
    }
    if meta.client_secret.is_some() {
        return Err(metadata("`client_secret` is chosen by the server"));
    }
    Ok(())
}

/// An update (RFC 7592 section 2.2) names the client it updates, and may repeat its
/// current secret, never choose a new one; it cannot turn a public client into a
/// confidential one or back (that is a new registration).
pub fn check_update(
    meta: &ClientMetadata,
    client_id: &str,
    secret_digest: Option<&[u8]>,
    registration: &Registration,
) -> Result<(), OAuthError> {
    if meta.client_id.as_deref() != Some(client_id) {
        return Err(metadata(
            "`client_id` must be sent, and be the id of the client being updated",
        ));
    }
    if let Some(presented) = &meta.client_secret {
        let current = secret_digest.is_some_and(|d| matches_digest(presented.expose(), d));
        if !current {
            return Err(metadata(
                "`client_secret` may only repeat the current secret; the server chooses secrets",
            ));
        }
    }
    if registration.is_public() != secret_digest.is_none() {
        return Err(metadata(
            "`token_endpoint_auth_method` cannot change between `none` and a secret; register a new client",
        ));
    }
    Ok(())
}

fn grant_types(
    meta: &ClientMetadata,
    public: bool,
    registrant: Registrant,
) -> Result<Vec<GrantType>, OAuthError> {
    let names = match &meta.grant_types {
        // RFC 7591 section 2's default.
        None => vec!["authorization_code".to_owned()],
        Some(list) if list.is_empty() => {
            return Err(metadata("`grant_types` must name at least one grant type"));
        }
        Some(list) => list.clone(),
    };
    let mut grants = Vec::new();
    for name in &names {
        let grant = match GrantType::parse(name) {
            Some(GrantType::Password) => {
                return Err(metadata(
                    "the `password` grant is never given to a registered client",
                ));
            }
            Some(GrantType::ClientCredentials) => {
                if registrant != Registrant::InitialAccessToken {
                    return Err(metadata(
                        "`client_credentials` needs an initial access token from the operator",
                    ));
                }
                if public {
                    return Err(metadata(
                        "`client_credentials` needs a confidential client (a secret)",
                    ));
                }
                GrantType::ClientCredentials
            }
            Some(grant @ (GrantType::AuthorizationCode | GrantType::RefreshToken)) => grant,
            None => {
                return Err(metadata(
                    "`grant_types` may hold `authorization_code`, `refresh_token` and, with an initial access token, `client_credentials`",
                ));
            }
        };
        if !grants.contains(&grant) {
            grants.push(grant);
        }
    }
    if grants.contains(&GrantType::RefreshToken) && !grants.contains(&GrantType::AuthorizationCode)
    {
        return Err(metadata(
            "`refresh_token` needs `authorization_code` to start from",
        ));
    }
    grants.sort_by_key(|g| GrantType::ALL.iter().position(|a| a == g));
    Ok(grants)
}

fn response_types(meta: &ClientMetadata, code_flow: bool) -> Result<(), OAuthError> {
    let Some(types) = &meta.response_types else {
        return Ok(());
    };
    if types.iter().any(|t| t != "code") {
        return Err(metadata("`response_types` may only be `code`"));
    }
    // RFC 7591 section 2.1: the two lists must agree.
    if types.is_empty() == code_flow {
        return Err(metadata(
            "`response_types` must be `[\"code\"]` exactly when `grant_types` has `authorization_code`",
        ));
    }
    Ok(())
}

fn check_redirect_uris(
    field: &'static str,
    uris: &[String],
    application_type: ApplicationType,
) -> Result<(), OAuthError> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(redirect(format!(
            "`{field}` may list at most {MAX_REDIRECT_URIS}"
        )));
    }
    for (n, uri) in uris.iter().enumerate() {
        let at = n + 1;
        redirect_uri::validate_for_registration(uri)
            .map_err(|e| redirect(format!("`{field}` #{at} {e}")))?;
        let kind = RedirectKind::of(uri);
        let allowed = match application_type {
            ApplicationType::Web => matches!(kind, RedirectKind::Https | RedirectKind::Loopback),
            ApplicationType::Native => {
                matches!(kind, RedirectKind::Loopback | RedirectKind::PrivateUse)
            }
        };
        if !allowed {
            let rule = match application_type {
                ApplicationType::Web => {
                    "a web client's redirect URIs use https (or http on a loopback host); private-use schemes are for native clients"
                }
                ApplicationType::Native => {
                    "a native client's redirect URIs use http on a loopback host or a private-use scheme (com.example.app:/cb), not https"
                }
            };
            return Err(redirect(format!("`{field}` #{at}: {rule}")));
        }
    }
    Ok(())
}

/// The kinds of redirect URI `validate_for_registration` lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RedirectKind {
    Https,
    /// `http` on a loopback host (RFC 8252 section 7.3).
    Loopback,
    /// A reverse-domain private-use scheme (RFC 8252 section 7.1).
    PrivateUse,
}

impl RedirectKind {
    /// For a URI `validate_for_registration` accepted: https, loopback http, or else a
    /// private-use scheme.
    fn of(uri: &str) -> Self {
        match url::Url::parse(uri) {
            Ok(url) if url.scheme() == "https" => Self::Https,
            Ok(url)
                if url.scheme() == "http" && url.host().is_some_and(|h| is_loopback_host(&h)) =>
            {
                Self::Loopback
            }
            Ok(_) | Err(_) => Self::PrivateUse,
        }
    }
}

fn scopes(requested: Option<&str>, config: &RegistrationConfig) -> Result<Vec<String>, OAuthError> {
    let mut scopes: Vec<String> = match requested.map(str::trim).filter(|s| !s.is_empty()) {
        None => config.allowed_scopes.clone(),
        Some(raw) => {
            let tokens: Vec<&str> = raw.split(' ').filter(|s| !s.is_empty()).collect();
            if tokens.len() > MAX_SCOPES {
                return Err(metadata(format!(
                    "`scope` may hold at most {MAX_SCOPES} values"
                )));
            }
            for token in &tokens {
                if !scope::is_valid_token(token) {
                    return Err(metadata("`scope` holds a value that is not a scope token"));
                }
                if *token == "admin" {
                    return Err(metadata(
                        "the `admin` scope is never given to a registered client",
                    ));
                }
                if !config.allowed_scopes.iter().any(|s| s == token) {
                    return Err(metadata(format!(
                        "`scope` may only hold scopes this server lets registered clients have: {}",
                        config.allowed_scopes.join(" ")
                    )));
                }
            }
            tokens.into_iter().map(str::to_owned).collect()
        }
    };
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

fn client_name(name: Option<&str>) -> Result<String, OAuthError> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(UNNAMED.to_owned());
    };
    if name.chars().count() > MAX_CLIENT_NAME_CHARS {
        return Err(metadata(format!(
            "`client_name` may have at most {MAX_CLIENT_NAME_CHARS} characters"
        )));
    }
    // Shown on the consent page: nothing that could reorder or hide what is around it.
    if name.chars().any(|c| {
        c.is_control() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    }) {
        return Err(metadata(
            "`client_name` must not hold control or bidirectional formatting characters",
        ));
    }
    Ok(name.to_owned())
}

/// `client_uri` and `logo_uri`: absolute https URLs, nothing a browser would run.
fn https_uri(field: &'static str, uri: Option<&str>) -> Result<Option<String>, OAuthError> {
    let Some(uri) = uri else {
        return Ok(None);
    };
    let fail = || metadata(format!("`{field}` must be an https URL"));
    if uri.len() > MAX_URI_LEN || uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(fail());
    }
    let url = url::Url::parse(uri).map_err(|_| fail())?;
    if url.scheme() != "https"
        || url.host().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || uri.contains('#')
    {
        return Err(fail());
    }
    Ok(Some(uri.to_owned()))
}

fn registered_resources(
    listed: &[String],
    config: &RegistrationConfig,
) -> Result<Vec<String>, OAuthError> {
    if listed.len() > MAX_RESOURCES {
        return Err(metadata(format!(
            "`resources` may list at most {MAX_RESOURCES}"
        )));
    }
    for (n, uri) in listed.iter().enumerate() {
        let at = n + 1;
        resources::check_uri(uri).map_err(|e| metadata(format!("`resources` #{at} {e}")))?;
        if !config.allows_resource(uri) {
            return Err(metadata(format!(
                "`resources` #{at} is not a resource this server issues tokens for to registered clients"
            )));
        }
    }
    let mut resources = listed.to_vec();
    resources.sort();
    resources.dedup();
    Ok(resources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RegistrationMode, ResourcePattern};
    use serde_json::json;

    fn config() -> RegistrationConfig {
        RegistrationConfig {
            mode: RegistrationMode::Open,
            allowed_scopes: ["openid", "profile", "email", "offline_access", "mcp:tools"]
                .map(String::from)
                .to_vec(),
            allowed_resources: ["https://mcp.example.com/*", "https://api.example.com/v1"]
                .into_iter()
                .map(|p| ResourcePattern::parse(p).unwrap())
                .collect(),
            idle_secs: 86_400,
            max_clients: 100,
            metadata_documents: Default::default(),
            self_signup: false,
            self_signup_email_domains: Vec::new(),
        }
    }

    fn meta(value: serde_json::Value) -> ClientMetadata {
        let serde_json::Value::Object(object) = value else {
            panic!("an object")
        };
        ClientMetadata::from_object(&object).unwrap()
    }

    fn ok(value: serde_json::Value) -> Registration {
        check(&meta(value), &config(), Registrant::Anonymous).unwrap()
    }

    /// What an MCP SDK client sends (MCP.md point 4).
    fn mcp() -> serde_json::Value {
        json!({
            "client_name": "Claude",
            "redirect_uris": ["http://localhost:33418/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })
    }

    #[test]
    fn an_mcp_client_registers_as_a_public_pkce_client() {
        let r = ok(mcp());
        assert!(r.is_public());
        assert_eq!(r.client_name, "Claude");
        assert_eq!(r.application_type, ApplicationType::Web);
        assert_eq!(
            r.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(
            r.scopes,
            ["email", "mcp:tools", "offline_access", "openid", "profile"]
        );
        assert!(r.resources.is_empty());
    }

    #[test]
    fn defaults_follow_rfc_7591() {
        let r = ok(json!({ "redirect_uris": ["https://app.example.com/cb"] }));
        assert_eq!(r.grant_types, [GrantType::AuthorizationCode]);
        assert_eq!(r.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(r.client_name, UNNAMED);
        assert_eq!(r.grant_type_names(), ["authorization_code"]);
        let r = ok(json!({
            "redirect_uris": ["com.example.app:/cb", "http://127.0.0.1/cb"],
            "application_type": "native",
            "scope": "openid openid email",
            "resources": ["https://mcp.example.com/b", "https://mcp.example.com/a"],
            "logo_uri": "https://app.example.com/logo.png",
            "client_uri": "https://app.example.com/",
            "id_token_signed_response_alg": "RS256",
        }));
        assert_eq!(r.scopes, ["email", "openid"]);
        assert_eq!(
            r.resources,
            ["https://mcp.example.com/a", "https://mcp.example.com/b"]
        );
        assert_eq!(
            r.logo_uri.as_deref(),
            Some("https://app.example.com/logo.png")
        );
    }

    /// Every rule, refused with its RFC 7591 error code.
    #[test]
    fn every_rule_refuses_with_its_error_code() {
        let cb = "https://app.example.com/cb";
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            (
                "software statement",
                json!({"redirect_uris": [cb], "software_statement": "eyJ"}),
                "invalid_software_statement",
            ),
            (
                "server field",
                json!({"redirect_uris": [cb], "client_id_issued_at": 1}),
                "invalid_client_metadata",
            ),
            (
                "password grant",
                json!({"redirect_uris": [cb], "grant_types": ["authorization_code", "password"]}),
                "invalid_client_metadata",
            ),
            (
                "implicit grant",
                json!({"redirect_uris": [cb], "grant_types": ["implicit"]}),
                "invalid_client_metadata",
            ),
            (
                "device grant",
                json!({"grant_types": ["urn:ietf:params:oauth:grant-type:device_code"]}),
                "invalid_client_metadata",
            ),
            (
                "client_credentials anonymously",
                json!({"grant_types": ["client_credentials"]}),
                "invalid_client_metadata",
            ),
            (
                "no grant types",
                json!({"redirect_uris": [cb], "grant_types": []}),
                "invalid_client_metadata",
            ),
            (
                "refresh alone",
                json!({"redirect_uris": [cb], "grant_types": ["refresh_token"]}),
                "invalid_client_metadata",
            ),
            (
                "token response type",
                json!({"redirect_uris": [cb], "response_types": ["code", "token"]}),
                "invalid_client_metadata",
            ),
            (
                "no code response type",
                json!({"redirect_uris": [cb], "response_types": []}),
                "invalid_client_metadata",
            ),
            (
                "admin scope",
                json!({"redirect_uris": [cb], "scope": "openid admin"}),
                "invalid_client_metadata",
            ),
            (
                "unlisted scope",
                json!({"redirect_uris": [cb], "scope": "openid payments"}),
                "invalid_client_metadata",
            ),
            (
                "bad scope token",
                json!({"redirect_uris": [cb], "scope": "open\"id"}),
                "invalid_client_metadata",
            ),
            (
                "too many scopes",
                json!({"redirect_uris": [cb], "scope": vec!["openid"; 33].join(" ")}),
                "invalid_client_metadata",
            ),
            (
                "no redirect uri",
                json!({"grant_types": ["authorization_code"]}),
                "invalid_redirect_uri",
            ),
            (
                "plain http",
                json!({"redirect_uris": ["http://app.example.com/cb"]}),
                "invalid_redirect_uri",
            ),
            (
                "fragment",
                json!({"redirect_uris": ["https://app.example.com/cb#x"]}),
                "invalid_redirect_uri",
            ),
            (
                "javascript",
                json!({"redirect_uris": ["javascript:alert(1)"]}),
                "invalid_redirect_uri",
            ),
            (
                "data",
                json!({"redirect_uris": ["data:text/html,x"]}),
                "invalid_redirect_uri",
            ),
            (
                "relative",
                json!({"redirect_uris": ["/cb"]}),
                "invalid_redirect_uri",
            ),
            (
                "bare custom scheme",
                json!({"redirect_uris": ["myapp:/cb"], "application_type": "native"}),
                "invalid_redirect_uri",
            ),
            (
                "web with a private-use scheme",
                json!({"redirect_uris": ["com.example.app:/cb"]}),
                "invalid_redirect_uri",
            ),
            (
                "native with https",
                json!({"redirect_uris": [cb], "application_type": "native"}),
                "invalid_redirect_uri",
            ),
            (
                "too many redirect uris",
                json!({"redirect_uris": vec![cb; 11]}),
                "invalid_redirect_uri",
            ),
            (
                "bad post-logout uri",
                json!({"redirect_uris": [cb], "post_logout_redirect_uris": ["http://app.example.com/"]}),
                "invalid_redirect_uri",
            ),
            (
                "unknown application type",
                json!({"redirect_uris": [cb], "application_type": "desktop"}),
                "invalid_client_metadata",
            ),
            (
                "private_key_jwt",
                json!({"redirect_uris": [cb], "token_endpoint_auth_method": "private_key_jwt"}),
                "invalid_client_metadata",
            ),
            (
                "long name",
                json!({"redirect_uris": [cb], "client_name": "x".repeat(101)}),
                "invalid_client_metadata",
            ),
            (
                "name with bidi override",
                json!({"redirect_uris": [cb], "client_name": "Goo\u{202E}elg"}),
                "invalid_client_metadata",
            ),
            (
                "http logo",
                json!({"redirect_uris": [cb], "logo_uri": "http://app.example.com/l.png"}),
                "invalid_client_metadata",
            ),
            (
                "javascript client_uri",
                json!({"redirect_uris": [cb], "client_uri": "javascript:alert(1)"}),
                "invalid_client_metadata",
            ),
            (
                "resource outside the patterns",
                json!({"redirect_uris": [cb], "resources": ["https://evil.example/"]}),
                "invalid_client_metadata",
            ),
            (
                "resource escaping a prefix",
                json!({"redirect_uris": [cb], "resources": ["https://mcp.example.com/../admin"]}),
                "invalid_client_metadata",
            ),
            (
                "resource with fragment",
                json!({"redirect_uris": [cb], "resources": ["https://mcp.example.com/a#b"]}),
                "invalid_client_metadata",
            ),
            (
                "too many resources",
                json!({"redirect_uris": [cb], "resources": (0..17).map(|i| format!("https://mcp.example.com/{i}")).collect::<Vec<_>>()}),
                "invalid_client_metadata",
            ),
            (
                "HS256 id tokens",
                json!({"redirect_uris": [cb], "id_token_signed_response_alg": "HS256"}),
                "invalid_client_metadata",
            ),
        ];
        for (what, body, code) in cases {
            let err = check(&meta(body), &config(), Registrant::Anonymous)
                .err()
                .unwrap_or_else(|| panic!("{what} was accepted"));
            assert_eq!(err.code(), code, "{what}: {err}");
        }
    }

    #[test]
    fn client_credentials_needs_an_initial_access_token_and_a_secret() {
        let m = meta(json!({ "grant_types": ["client_credentials"], "scope": "mcp:tools" }));
        assert_eq!(
            check(&m, &config(), Registrant::Anonymous)
                .unwrap_err()
                .code(),
            "invalid_client_metadata"
        );
        let r = check(&m, &config(), Registrant::InitialAccessToken).unwrap();
        assert_eq!(r.grant_types, [GrantType::ClientCredentials]);
        assert!(r.redirect_uris.is_empty());
        let public = meta(json!({
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "none",
        }));
        assert_eq!(
            check(&public, &config(), Registrant::InitialAccessToken)
                .unwrap_err()
                .code(),
            "invalid_client_metadata"
        );
        // Even an initial access token never buys the password grant.
        let password = meta(json!({ "grant_types": ["password"] }));
        assert!(check(&password, &config(), Registrant::InitialAccessToken).is_err());
    }

    #[test]
    fn new_registrations_do_not_choose_their_id_or_secret() {
        assert!(check_new(&meta(mcp())).is_ok());
        for extra in [
            json!({"client_id": "mine"}),
            json!({"client_secret": "mine"}),
        ] {
            let mut body = mcp();
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            assert_eq!(
                check_new(&meta(body)).unwrap_err().code(),
                "invalid_client_metadata"
            );
        }
    }

    #[test]
    fn updates_name_their_client_and_keep_its_kind_and_secret() {
        let public = ok(mcp());
        let mut body = mcp();
        body["client_id"] = json!("c1");
        assert!(check_update(&meta(body.clone()), "c1", None, &public).is_ok());
        assert!(check_update(&meta(body.clone()), "c2", None, &public).is_err());
        assert!(check_update(&meta(mcp()), "c1", None, &public).is_err());
        // Public to confidential is a new registration.
        let digest = crate::crypto::tokens::digest("pcs_current");
        assert!(check_update(&meta(body.clone()), "c1", Some(&digest), &public).is_err());
        let mut confidential = body.clone();
        confidential["token_endpoint_auth_method"] = json!("client_secret_post");
        let r = ok(confidential.clone());
        assert!(check_update(&meta(confidential.clone()), "c1", Some(&digest), &r).is_ok());
        confidential["client_secret"] = json!("pcs_current");
        assert!(check_update(&meta(confidential.clone()), "c1", Some(&digest), &r).is_ok());
        confidential["client_secret"] = json!("pcs_chosen");
        let err = check_update(&meta(confidential), "c1", Some(&digest), &r).unwrap_err();
        assert_eq!(err.code(), "invalid_client_metadata");
    }

    /// Properties: whatever is sent, an accepted registration stays inside the policy.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn grant() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("authorization_code".to_owned()),
                Just("refresh_token".to_owned()),
                Just("client_credentials".to_owned()),
                Just("password".to_owned()),
                Just("implicit".to_owned()),
            ]
        }

        fn uri() -> impl Strategy<Value = String> {
            prop_oneof![
                "https://[a-z]{1,5}\\.example/[a-z]{0,4}",
                "http://(127\\.0\\.0\\.1|localhost|\\[::1\\]|evil\\.example)(:[0-9]{2,4})?/cb",
                "(com\\.example\\.app|myapp|javascript|data):/?[a-z]{0,4}",
            ]
        }

        fn scope_word() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("openid".to_owned()),
                Just("admin".to_owned()),
                Just("mcp:tools".to_owned()),
                Just("payments".to_owned()),
            ]
        }

        proptest! {
            #[test]
            fn accepted_registrations_stay_inside_the_policy(
                grants in proptest::collection::vec(grant(), 0..4),
                uris in proptest::collection::vec(uri(), 0..4),
                scopes in proptest::collection::vec(scope_word(), 0..4),
                public in any::<bool>(),
                native in any::<bool>(),
                vouched in any::<bool>(),
            ) {
                let body = json!({
                    "grant_types": grants,
                    "redirect_uris": uris,
                    "scope": scopes.join(" "),
                    "token_endpoint_auth_method": if public { "none" } else { "client_secret_basic" },
                    "application_type": if native { "native" } else { "web" },
                });
                let registrant = if vouched { Registrant::InitialAccessToken } else { Registrant::Anonymous };
                if let Ok(r) = check(&meta(body), &config(), registrant) {
                    prop_assert!(!r.grant_types.contains(&GrantType::Password));
                    prop_assert!(!r.scopes.iter().any(|s| s == "admin"));
                    prop_assert!(r.scopes.iter().all(|s| config().allowed_scopes.contains(s)));
                    if r.grant_types.contains(&GrantType::ClientCredentials) {
                        prop_assert!(vouched && !public);
                    }
                    for uri in &r.redirect_uris {
                        prop_assert!(redirect_uri::validate_for_registration(uri).is_ok());
                        let kind = RedirectKind::of(uri);
                        if native {
                            prop_assert!(kind != RedirectKind::Https, "{}", uri);
                        } else {
                            prop_assert!(kind != RedirectKind::PrivateUse, "{}", uri);
                        }
                    }
                    if r.grant_types.contains(&GrantType::AuthorizationCode) {
                        prop_assert!(!r.redirect_uris.is_empty());
                    }
                }
            }
        }
    }
}
