//! Authorization server metadata (RFC 8414) and OpenID Provider metadata (OIDC
//! Discovery 1.0). Only what works today is advertised; later features add their fields.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub end_session_endpoint: String,
    pub introspection_endpoint: String,
    pub revocation_endpoint: String,
    pub jwks_uri: String,
    pub scopes_supported: Vec<&'static str>,
    pub claims_supported: Vec<&'static str>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Callers of introspection are confidential clients (with the `introspector` role).
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Public clients may revoke their own tokens, identified by `client_id`.
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub subject_types_supported: Vec<&'static str>,
    pub prompt_values_supported: Vec<&'static str>,
    pub acr_values_supported: Vec<&'static str>,
    pub authorization_response_iss_parameter_supported: bool,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
    /// RFC 7591 section 3, RFC 8414 section 2: only while registration is open
    /// (`registration.mode` other than `closed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// draft-ietf-oauth-client-id-metadata-document section 5: only while
    /// `registration.metadata_documents` is on (MCP clients then prefer it to RFC 7591).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id_metadata_document_supported: Option<bool>,
}

/// The metadata of the server `config` describes: `metadata`, with what the settings turn
/// on.
pub fn for_config(config: &crate::config::Config) -> ProviderMetadata {
    let issuer = config.issuer.as_str();
    let mut m = metadata(issuer);
    if config.registration.enabled() {
        m.registration_endpoint = Some(format!("{issuer}/register"));
    }
    if config.registration.metadata_documents.enabled {
        m.client_id_metadata_document_supported = Some(true);
    }
    m
}

pub fn metadata(issuer: &str) -> ProviderMetadata {
    ProviderMetadata {
        issuer: issuer.to_owned(),
        authorization_endpoint: format!("{issuer}/authorize"),
        token_endpoint: format!("{issuer}/token"),
        userinfo_endpoint: format!("{issuer}/userinfo"),
        end_session_endpoint: format!("{issuer}/logout"),
        introspection_endpoint: format!("{issuer}/introspect"),
        revocation_endpoint: format!("{issuer}/revoke"),
        jwks_uri: format!("{issuer}/jwks.json"),
        scopes_supported: vec!["openid", "profile", "email", "offline_access"],
        claims_supported: vec![
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "azp",
            "sid",
            "amr",
            "acr",
            "name",
            "preferred_username",
            "email",
            "email_verified",
        ],
        response_types_supported: vec!["code"],
        response_modes_supported: vec!["query"],
        grant_types_supported: vec![
            "authorization_code",
            "client_credentials",
            "password",
            "refresh_token",
        ],
        code_challenge_methods_supported: vec!["S256"],
        token_endpoint_auth_methods_supported: vec![
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        introspection_endpoint_auth_methods_supported: vec![
            "client_secret_basic",
            "client_secret_post",
        ],
        revocation_endpoint_auth_methods_supported: vec![
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        id_token_signing_alg_values_supported: vec!["RS256"],
        subject_types_supported: vec!["public"],
        prompt_values_supported: vec!["none", "login", "consent", "select_account"],
        acr_values_supported: crate::oauth::mfa::level::ACR_VALUES_SUPPORTED.to_vec(),
        authorization_response_iss_parameter_supported: true,
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        registration_endpoint: None,
        client_id_metadata_document_supported: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hang_off_the_issuer() {
        let m = metadata("https://id.example.com/tenant");
        assert_eq!(m.jwks_uri, "https://id.example.com/tenant/jwks.json");
        assert_eq!(m.registration_endpoint, None);
    }
}
