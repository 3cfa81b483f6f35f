//! Authorization server metadata (RFC 8414) and OpenID Provider metadata (OIDC
//! Discovery 1.0). Only what works today is advertised; later features add their fields.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub jwks_uri: String,
}

pub fn metadata(issuer: &str) -> ProviderMetadata {
    ProviderMetadata {
        issuer: issuer.to_owned(),
        jwks_uri: format!("{issuer}/jwks.json"),
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
