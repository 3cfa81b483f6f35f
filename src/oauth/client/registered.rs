//! Adapter from the stored client record to [`RegisteredClient`]: the stored record is a
//! plain struct (`store::clients::StoredClient`), no diesel API.
//!
//! A stored value that does not parse means the row was written by something other than
//! `manage::clients` (or by a newer version): it is an error, never a silently narrower
//! client. Callers log it and answer `server_error`.

use super::{AuthMethod, ClientOrigin, GrantType, RegisteredClient};
use crate::oauth::scope::Scope;
use crate::store::clients::StoredClient;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored client `{client_id}` is inconsistent: {problem}")]
pub struct CorruptClient {
    pub client_id: String,
    pub problem: &'static str,
}

impl TryFrom<&StoredClient> for RegisteredClient {
    type Error = CorruptClient;

    fn try_from(row: &StoredClient) -> Result<Self, CorruptClient> {
        let corrupt = |problem| CorruptClient {
            client_id: row.client_id.clone(),
            problem,
        };
        let list = |raw: &str, column| {
            serde_json::from_str::<Vec<String>>(raw).map_err(|_| corrupt(column))
        };
        let token_endpoint_auth_method = AuthMethod::parse(&row.token_endpoint_auth_method)
            .ok_or_else(|| corrupt("unknown token_endpoint_auth_method"))?;
        let grant_types = list(&row.grant_types, "grant_types is not a JSON list")?
            .iter()
            .map(|g| GrantType::parse(g).ok_or_else(|| corrupt("unknown grant type")))
            .collect::<Result<_, _>>()?;
        let scope = Scope::from_tokens(list(&row.scopes, "scopes is not a JSON list")?)
            .map_err(|_| corrupt("scopes holds an invalid scope token"))?;
        // The same pairing manage::clients enforces; checked again because authentication
        // decisions below rest on it.
        if row.confidential == (token_endpoint_auth_method == AuthMethod::None) {
            return Err(corrupt(
                "confidential does not match token_endpoint_auth_method",
            ));
        }
        if !row.confidential && row.secret_digest.is_some() {
            return Err(corrupt("public client has a secret digest"));
        }
        let origin = ClientOrigin::parse(&row.origin).ok_or_else(|| corrupt("unknown origin"))?;
        Ok(Self {
            client_id: row.client_id.clone(),
            client_name: row.name.clone(),
            confidential: row.confidential,
            secret_digest: row.secret_digest.clone(),
            token_endpoint_auth_method,
            grant_types,
            scope,
            roles: row.roles.clone(),
            first_party: row.first_party,
            require_pkce: row.require_pkce,
            redirect_uris: list(&row.redirect_uris, "redirect_uris is not a JSON list")?,
            post_logout_redirect_uris: list(
                &row.post_logout_redirect_uris,
                "post_logout_redirect_uris is not a JSON list",
            )?,
            resources: list(&row.resources, "resources is not a JSON list")?,
            access_token_lifetime: row.access_token_lifetime,
            refresh_token_lifetime: row.refresh_token_lifetime,
            disabled: row.disabled,
            instance: row.instance.clone(),
            require_mfa: row.require_mfa,
            origin,
            last_used_at: row.last_used_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::GrantTypes;

    fn record() -> StoredClient {
        StoredClient {
            client_id: "svc".into(),
            name: "Service".into(),
            confidential: true,
            secret_digest: Some(vec![7; 32]),
            redirect_uris: r#"["https://app.example.com/cb"]"#.into(),
            post_logout_redirect_uris: "[]".into(),
            grant_types: r#"["client_credentials","password"]"#.into(),
            scopes: r#"["openid","api:read"]"#.into(),
            token_endpoint_auth_method: "client_secret_post".into(),
            first_party: true,
            require_pkce: true,
            access_token_lifetime: Some(300),
            refresh_token_lifetime: None,
            disabled: false,
            roles: vec!["reader".into()],
            instance: "i1".into(),
            resources: "[]".into(),
            require_mfa: true,
            origin: "registration".into(),
            last_used_at: Some(42),
        }
    }

    #[test]
    fn converts_a_valid_record() {
        let client = RegisteredClient::try_from(&record()).unwrap();
        assert_eq!(client.client_id, "svc");
        assert_eq!(client.client_name, "Service");
        assert!(client.confidential);
        assert_eq!(client.secret_digest, Some(vec![7; 32]));
        assert_eq!(
            client.token_endpoint_auth_method,
            AuthMethod::ClientSecretPost
        );
        assert_eq!(
            client.grant_types,
            [GrantType::ClientCredentials, GrantType::Password]
                .into_iter()
                .collect::<GrantTypes>()
        );
        assert_eq!(client.scope.to_string(), "api:read openid");
        assert_eq!(client.roles, vec!["reader".to_owned()]);
        assert!(client.first_party);
        assert!(client.require_pkce);
        assert!(client.require_mfa);
        assert_eq!(client.origin, ClientOrigin::Registration);
        assert_eq!(client.last_used_at, Some(42));
        assert_eq!(client.redirect_uris, vec!["https://app.example.com/cb"]);
        assert!(client.post_logout_redirect_uris.is_empty());
        assert_eq!(client.access_token_lifetime, Some(300));
        assert_eq!(client.refresh_token_lifetime, None);
        assert!(!client.disabled);
    }

    #[test]
    fn public_client() {
        let mut r = record();
        r.confidential = false;
        r.secret_digest = None;
        r.token_endpoint_auth_method = "none".into();
        let client = RegisteredClient::try_from(&r).unwrap();
        assert_eq!(client.token_endpoint_auth_method, AuthMethod::None);
        assert_eq!(client.secret_digest, None);
    }

    #[test]
    fn refuses_inconsistent_records() {
        let problem = |change: fn(&mut StoredClient)| {
            let mut r = record();
            change(&mut r);
            RegisteredClient::try_from(&r).unwrap_err().problem
        };
        assert_eq!(
            problem(|r| r.token_endpoint_auth_method = "private_key_jwt".into()),
            "unknown token_endpoint_auth_method"
        );
        assert_eq!(
            problem(|r| r.grant_types = "client_credentials".into()),
            "grant_types is not a JSON list"
        );
        assert_eq!(
            problem(|r| r.grant_types = r#"["implicit"]"#.into()),
            "unknown grant type"
        );
        assert_eq!(
            problem(|r| r.scopes = "{}".into()),
            "scopes is not a JSON list"
        );
        assert_eq!(
            problem(|r| r.scopes = r#"["a b"]"#.into()),
            "scopes holds an invalid scope token"
        );
        assert_eq!(
            problem(|r| r.token_endpoint_auth_method = "none".into()),
            "confidential does not match token_endpoint_auth_method"
        );
        assert_eq!(
            problem(|r| r.confidential = false),
            "confidential does not match token_endpoint_auth_method"
        );
        assert_eq!(
            problem(|r| {
                r.confidential = false;
                r.token_endpoint_auth_method = "none".into();
            }),
            "public client has a secret digest"
        );
        assert_eq!(problem(|r| r.origin = "operator".into()), "unknown origin");
        assert_eq!(
            problem(|r| r.redirect_uris = "nope".into()),
            "redirect_uris is not a JSON list"
        );
        assert_eq!(
            problem(|r| r.post_logout_redirect_uris = "nope".into()),
            "post_logout_redirect_uris is not a JSON list"
        );
        let err = RegisteredClient::try_from(&{
            let mut r = record();
            r.grant_types = "[1]".into();
            r
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "stored client `svc` is inconsistent: grant_types is not a JSON list"
        );
    }
}
