//! Authorization server metadata (RFC 8414) and OpenID Provider metadata (OIDC
//! Discovery 1.0). Only what works today is advertised; later features add their fields.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub jwks_uri: String,
    pub token_endpoint: String,
    pub grant_types_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub scopes_supported: Vec<&'static str>,
}

pub fn metadata(issuer: &str) -> ProviderMetadata {
    ProviderMetadata {
        issuer: issuer.to_owned(),
        jwks_uri: format!("{issuer}/jwks.json"),
        token_endpoint: format!("{issuer}/token"),
        grant_types_supported: vec!["client_credentials", "password", "refresh_token"],
        // `none` (public clients) arrives with the authorization code flow.
        token_endpoint_auth_methods_supported: vec!["client_secret_basic", "client_secret_post"],
        scopes_supported: vec!["offline_access"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_hang_off_the_issuer() {
        let m = metadata("https://id.example.com/tenant");
        assert_eq!(m.jwks_uri, "https://id.example.com/tenant/jwks.json");
    }
}
