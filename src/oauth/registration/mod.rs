//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592), the
//! protocol half: client metadata as a registrant sends it, parsed into a typed value
//! ([`ClientMetadata`]); the one policy that bounds what any self-registered client may get
//! ([`policy::check`], also used for client ID metadata documents); and the client
//! information response ([`ClientInformation`]). The endpoints are `http/registration.rs`;
//! the clients are written through `manage::registration`, the same write path as every
//! other client, so every rule of `manage::clients` holds for them too.

pub mod document_clients;
pub mod metadata_clients;
pub mod metadata_document;
pub mod policy;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::crypto::tokens::Secret;
use crate::oauth::error::OAuthError;

pub use policy::{ApplicationType, Registrant, Registration, check};

/// Prefix of registration access tokens (RFC 7592), so secret scanners can match them.
pub const REGISTRATION_TOKEN_PREFIX: &str = "pcrat_";
/// Prefix of initial access tokens (RFC 7591 section 3).
pub const INITIAL_ACCESS_TOKEN_PREFIX: &str = "pciat_";

/// RFC 7591 section 2 client metadata (with OIDC Dynamic Registration's
/// `application_type` and `post_logout_redirect_uris`) as a registrant sent it: each field
/// typed, `None` when absent or `null` (RFC 7592 section 2.2 treats omitted and null
/// alike). Metadata this server does not understand is ignored, as RFC 7591 section 2
/// requires; fields it understands but does not take are refused by the policy.
#[derive(Clone, Default)]
pub struct ClientMetadata {
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    /// Space-separated, as RFC 7591 writes it.
    pub scope: Option<String>,
    pub application_type: Option<String>,
    /// RFC 8707 resources the client means to name: `resources` (a list), or `resource`
    /// (a string or a list). Sending both is refused.
    pub resources: Option<Vec<String>>,
    pub id_token_signed_response_alg: Option<String>,
    /// A software statement was sent (RFC 7591 section 2.3); this server takes none.
    pub software_statement: bool,
    /// RFC 7592 section 2.2: the client's id, in an update.
    pub client_id: Option<String>,
    /// RFC 7592 section 2.2: a client may repeat its current secret in an update.
    pub client_secret: Option<Secret>,
    /// Fields only the server sets (`registration_access_token`, ...) that were sent.
    pub server_fields: Vec<&'static str>,
}

/// Fields of the client information response a registrant must never send (RFC 7592
/// section 2.2).
const SERVER_FIELDS: [&str; 4] = [
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

// The secret an update may repeat stays out of logs.
impl std::fmt::Debug for ClientMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientMetadata")
            .field("client_name", &self.client_name)
            .field("redirect_uris", &self.redirect_uris)
            .field("grant_types", &self.grant_types)
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

fn metadata_error(field: &str, what: &str) -> OAuthError {
    OAuthError::invalid_client_metadata(format!("`{field}` must be {what}"))
}

/// The value of `field`, `None` when absent or null.
fn field<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    object.get(field).filter(|v| !v.is_null())
}

fn string(object: &Map<String, Value>, name: &str) -> Result<Option<String>, OAuthError> {
    match field(object, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(metadata_error(name, "a string")),
    }
}

fn strings(object: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match field(object, name) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Null
                | Value::Bool(_)
                | Value::Number(_)
                | Value::Array(_)
                | Value::Object(_) => Err(metadata_error(name, "an array of strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(metadata_error(name, "an array of strings")),
    }
}

impl ClientMetadata {
    /// Reads a registration (or RFC 7592 update) request body: a JSON object.
    pub fn from_json(body: &[u8]) -> Result<Self, OAuthError> {
        let value: Value = serde_json::from_slice(body).map_err(|_| {
            OAuthError::invalid_client_metadata("the body is not JSON client metadata")
        })?;
        let Value::Object(object) = value else {
            return Err(OAuthError::invalid_client_metadata(
                "the body must be a JSON object of client metadata",
            ));
        };
        Self::from_object(&object)
    }

    /// Reads client metadata from a JSON object (a registration request, or a client ID
    /// metadata document).
    pub fn from_object(object: &Map<String, Value>) -> Result<Self, OAuthError> {
        let resources = match (strings(object, "resources")?, field(object, "resource")) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_client_metadata(
                    "send `resources` or `resource`, not both",
                ));
            }
            (Some(list), None) => Some(list),
            (None, Some(Value::String(one))) => Some(vec![one.clone()]),
            (None, Some(Value::Array(_))) => strings(object, "resource")?,
            (None, Some(_)) => return Err(metadata_error("resource", "a string or an array")),
            (None, None) => None,
        };
        Ok(Self {
            redirect_uris: strings(object, "redirect_uris")?,
            post_logout_redirect_uris: strings(object, "post_logout_redirect_uris")?,
            token_endpoint_auth_method: string(object, "token_endpoint_auth_method")?,
            grant_types: strings(object, "grant_types")?,
            response_types: strings(object, "response_types")?,
            client_name: string(object, "client_name")?,
            client_uri: string(object, "client_uri")?,
            logo_uri: string(object, "logo_uri")?,
            scope: string(object, "scope")?,
            application_type: string(object, "application_type")?,
            resources,
            id_token_signed_response_alg: string(object, "id_token_signed_response_alg")?,
            software_statement: field(object, "software_statement").is_some(),
            client_id: string(object, "client_id")?,
            client_secret: string(object, "client_secret")?.map(|s| Secret::from_presented(&s)),
            server_fields: SERVER_FIELDS
                .into_iter()
                .filter(|name| field(object, name).is_some())
                .collect(),
        })
    }
}

/// The client information response (RFC 7591 section 3.2.1, RFC 7592 section 3): the
/// client's id and credentials, then its metadata as registered. No `Debug`: it holds
/// secrets.
#[derive(Serialize)]
pub struct ClientInformation {
    pub client_id: String,
    /// Only in the response that created it: its digest is all that is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_id_issued_at: i64,
    /// 0: the secret does not expire. Sent with the secret only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// Sent when one is issued: on registration and on every update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    pub registration_client_uri: String,
    pub client_name: String,
    pub application_type: String,
    pub redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<&'static str>,
    pub token_endpoint_auth_method: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
}

/// The `registration_client_uri` of a client (RFC 7592 section 1).
pub fn client_uri(issuer: &str, client_id: &str) -> String {
    format!("{issuer}/register/{client_id}")
}

/// The `response_types` that go with these grant types: `code` exactly when the
/// authorization code grant is among them.
pub fn response_types_for(grant_types: &[String]) -> Vec<&'static str> {
    if grant_types.iter().any(|g| g == "authorization_code") {
        vec!["code"]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ClientMetadata, OAuthError> {
        ClientMetadata::from_json(json.as_bytes())
    }

    #[test]
    fn reads_each_field_typed() {
        let m = parse(
            r#"{"redirect_uris":["https://a.example/cb"],"client_name":"A","scope":"openid",
                "grant_types":["authorization_code"],"token_endpoint_auth_method":"none",
                "resource":"https://mcp.example.com/","unknown":{"x":1},"logo_uri":null,
                "client_secret":"s3cret","registration_access_token":"x"}"#,
        )
        .unwrap();
        assert_eq!(
            m.redirect_uris.as_deref(),
            Some(&["https://a.example/cb".to_owned()][..])
        );
        assert_eq!(m.client_name.as_deref(), Some("A"));
        assert_eq!(
            m.resources,
            Some(vec!["https://mcp.example.com/".to_owned()])
        );
        assert_eq!(m.logo_uri, None);
        assert!(!m.software_statement);
        assert_eq!(m.server_fields, ["registration_access_token"]);
        assert_eq!(m.client_secret.as_ref().map(Secret::expose), Some("s3cret"));
        assert!(!format!("{m:?}").contains("s3cret"));
        let both = parse(r#"{"resource":["https://a.example/"]}"#).unwrap();
        assert_eq!(both.resources, Some(vec!["https://a.example/".to_owned()]));
        assert!(
            parse(r#"{"software_statement":"eyJ"}"#)
                .unwrap()
                .software_statement
        );
    }

    #[test]
    fn wrong_shapes_are_invalid_client_metadata() {
        for body in [
            "",
            "nope",
            "[]",
            "\"x\"",
            r#"{"redirect_uris":"https://a.example/cb"}"#,
            r#"{"redirect_uris":[1]}"#,
            r#"{"client_name":7}"#,
            r#"{"scope":["openid"]}"#,
            r#"{"resource":5}"#,
            r#"{"resources":["https://a.example/"],"resource":"https://a.example/"}"#,
        ] {
            let err = parse(body).unwrap_err();
            assert_eq!(err.code(), "invalid_client_metadata", "{body}");
        }
        let err = parse(r#"{"redirect_uris":"https://a.example/cb"}"#).unwrap_err();
        assert_eq!(
            err.description(),
            Some("`redirect_uris` must be an array of strings")
        );
    }

    #[test]
    fn response_types_follow_the_code_grant() {
        let g = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            response_types_for(&g(&["authorization_code", "refresh_token"])),
            ["code"]
        );
        assert!(response_types_for(&g(&["client_credentials"])).is_empty());
        assert_eq!(
            client_uri("https://id.example.com/auth", "c1"),
            "https://id.example.com/auth/register/c1"
        );
    }
}
