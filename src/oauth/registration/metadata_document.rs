//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document, the way MCP
//! clients identify themselves by default), the pure half: which `client_id`s are URLs to
//! fetch ([`ClientIdUrl::parse`]), and what a fetched document must be to become a client
//! ([`check_document`]). The fetching and caching are `super::metadata_clients`.
//!
//! A document becomes a client only through the registration policy
//! ([`super::policy::check`], as an anonymous registrant), after the rules the draft adds:
//!
//! - its `client_id` is the URL it was fetched from, the same string byte for byte
//!   (section 4);
//! - it holds no shared secret: no `client_secret`, no `client_secret_expires_at`, and a
//!   `token_endpoint_auth_method` of `none` (the default here, since nothing else is
//!   possible without one; section 4.1). `private_key_jwt`, which the draft allows, is not
//!   supported: Portcullis authenticates clients by secret or not at all, so such a
//!   client is refused rather than taken for a public one.

use std::fmt;

use serde_json::{Map, Value};
use url::Url;

use super::ClientMetadata;
use super::policy::{self, Registrant, Registration};
use crate::config::RegistrationConfig;
use crate::oauth::error::OAuthError;
use crate::outbound::FetchError;

/// Longest client ID URL taken. MCP clients' are a few dozen characters; the id is written
/// into every token, code and audit row of the client.
pub const MAX_CLIENT_ID_LEN: usize = 512;

/// Whether `client_id` is meant as a client ID metadata document's URL. Ids the server
/// makes (UUIDs) and operators choose (unreserved characters only, `manage::clients`)
/// never contain `:`, so nothing else starts this way.
pub fn is_client_id_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// A `client_id` that is a valid Client Identifier URL (section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdUrl {
    url: Url,
}

impl ClientIdUrl {
    /// `raw` as a Client Identifier URL: https (http too with the development setting), no
    /// user name or password, a path, no `.` or `..` segments, no fragment, and written as
    /// the URL standard writes it, so that what is fetched and compared is exactly what
    /// the client named (`HTTPS://`, `:443`, `/a/../b`, a missing `/` are refused rather
    /// than quietly rewritten).
    pub fn parse(raw: &str, allow_http: bool) -> Result<Self, DocumentError> {
        let bad = DocumentError::Url;
        if raw.len() > MAX_CLIENT_ID_LEN {
            return Err(bad("it is longer than 512 characters"));
        }
        let url = Url::parse(raw).map_err(|_| bad("it is not a URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_http => {}
            _ => return Err(bad("it is not an https URL")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("it carries a user name or password"));
        }
        if url.fragment().is_some() || raw.contains('#') {
            return Err(bad("it has a fragment"));
        }
        if raw
            .split(['?', '#'])
            .next()
            .unwrap_or(raw)
            .split('/')
            .skip(3)
            .any(|segment| segment == "." || segment == "..")
        {
            return Err(bad("its path has `.` or `..` segments"));
        }
        if url.as_str() != raw {
            return Err(bad(
                "it is not written in the URL's normal form (lower-case scheme and host, no default port, a path)",
            ));
        }
        Ok(Self { url })
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// What the user is shown: the host, with its port when it has one (punycode for an
    /// internationalised name, so a look-alike shows as what it is).
    pub fn display_host(&self) -> String {
        display_host(&self.url)
    }
}

fn display_host(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The host to show for a client whose id is a document URL (`None` for any other id).
pub fn host_of(client_id: &str) -> Option<String> {
    if !is_client_id_url(client_id) {
        return None;
    }
    Url::parse(client_id).ok().map(|u| display_host(&u))
}

/// Why a client ID metadata document did not become a client. The words are shown on the
/// authorization error page: they name the rule, never echo the document.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentError {
    /// The `client_id` is not a valid Client Identifier URL.
    Url(&'static str),
    /// The SSRF guard refused the fetch, or it failed.
    Fetch(FetchError),
    NotJson,
    ClientIdMismatch,
    /// A shared secret, or a method that needs one.
    SharedSecret(&'static str),
    /// A `token_endpoint_auth_method` this server does not support for documents.
    AuthMethod,
    /// The registration policy refused it.
    Policy(OAuthError),
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(why) => write!(f, "its client_id is not a valid client ID URL: {why}"),
            Self::Fetch(why) => write!(
                f,
                "its metadata document could not be fetched: {}",
                fetch_words(why)
            ),
            Self::NotJson => f.write_str("its metadata document is not a JSON object"),
            Self::ClientIdMismatch => f.write_str(
                "its metadata document's client_id is not exactly the URL it was fetched from",
            ),
            Self::SharedSecret(field) => write!(
                f,
                "its metadata document has {field}: a document cannot hold a shared secret"
            ),
            Self::AuthMethod => f.write_str(
                "its metadata document asks for a token_endpoint_auth_method other than none, which this server does not support for metadata documents",
            ),
            Self::Policy(err) => write!(
                f,
                "its metadata document is refused by this server's registration policy: {}",
                err.description().unwrap_or(err.code())
            ),
        }
    }
}

/// A failed fetch as the requester is told it. A host that does not resolve and one that
/// resolves to a refused address read the same, without the address: otherwise anyone
/// could ask this server what the names of its own network resolve to. The log has both.
fn fetch_words(why: &FetchError) -> String {
    match why {
        FetchError::Resolve | FetchError::Refused { .. } => {
            "its host does not resolve to public internet addresses, the only ones fetched".into()
        }
        FetchError::Target(_)
        | FetchError::Connect
        | FetchError::Redirect(_)
        | FetchError::Status(_)
        | FetchError::TooLarge(_)
        | FetchError::Timeout(_)
        | FetchError::Busy => why.to_string(),
    }
}

fn field_present(object: &Map<String, Value>, name: &str) -> bool {
    object.get(name).is_some_and(|v| !v.is_null())
}

/// The client that the document `body`, fetched from `url`, describes, or why it is none.
pub fn check_document(
    url: &ClientIdUrl,
    body: &[u8],
    config: &RegistrationConfig,
) -> Result<Registration, DocumentError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| DocumentError::NotJson)?;
    let Value::Object(object) = value else {
        return Err(DocumentError::NotJson);
    };
    match object.get("client_id") {
        Some(Value::String(id)) if id == url.as_str() => {}
        Some(_) | None => return Err(DocumentError::ClientIdMismatch),
    }
    for field in ["client_secret", "client_secret_expires_at"] {
        if field_present(&object, field) {
            return Err(DocumentError::SharedSecret(field));
        }
    }
    let mut meta = ClientMetadata::from_object(&object).map_err(DocumentError::Policy)?;
    // The id is the URL, checked above; the policy is about what a client may hold.
    meta.client_id = None;
    match meta.token_endpoint_auth_method.as_deref() {
        None => meta.token_endpoint_auth_method = Some("none".to_owned()),
        Some("none") => {}
        Some(method @ ("client_secret_basic" | "client_secret_post" | "client_secret_jwt")) => {
            return Err(DocumentError::SharedSecret(match method {
                "client_secret_basic" => "token_endpoint_auth_method client_secret_basic",
                "client_secret_post" => "token_endpoint_auth_method client_secret_post",
                _ => "token_endpoint_auth_method client_secret_jwt",
            }));
        }
        Some(_) => return Err(DocumentError::AuthMethod),
    }
    let registration =
        policy::check(&meta, config, Registrant::Anonymous).map_err(DocumentError::Policy)?;
    // The policy's default is a confidential client; a document can only make a public one.
    if !registration.is_public() {
        return Err(DocumentError::AuthMethod);
    }
    Ok(registration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MetadataDocumentsConfig, RegistrationMode, ResourcePattern};
    use crate::oauth::client::GrantType;
    use serde_json::json;

    const URL: &str = "https://agent.example.com/oauth/client.json";

    fn config() -> RegistrationConfig {
        RegistrationConfig {
            mode: RegistrationMode::Closed,
            allowed_scopes: ["openid", "profile", "offline_access", "mcp:tools"]
                .map(String::from)
                .to_vec(),
            allowed_resources: vec![ResourcePattern::parse("https://mcp.example.com/*").unwrap()],
            idle_secs: 86_400,
            max_clients: 10,
            metadata_documents: MetadataDocumentsConfig::default(),
            self_signup: false,
            self_signup_email_domains: Vec::new(),
        }
    }

    /// An MCP client's document, as the MCP specification's example writes it.
    fn mcp() -> serde_json::Value {
        json!({
            "client_id": URL,
            "client_name": "Example MCP Client",
            "client_uri": "https://agent.example.com",
            "logo_uri": "https://agent.example.com/logo.png",
            "redirect_uris": ["http://127.0.0.1:3000/callback", "http://localhost:3000/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })
    }

    fn check(doc: &serde_json::Value) -> Result<Registration, DocumentError> {
        let url = ClientIdUrl::parse(URL, false).unwrap();
        check_document(&url, &serde_json::to_vec(doc).unwrap(), &config())
    }

    fn with(changes: serde_json::Value) -> serde_json::Value {
        let mut doc = mcp();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                doc.as_object_mut().unwrap().remove(k);
            } else {
                doc[k] = v.clone();
            }
        }
        doc
    }

    #[test]
    fn client_id_urls_follow_the_draft_and_their_normal_form() {
        for ok in [
            URL,
            "https://agent.example.com/c",
            "https://agent.example.com:8443/c.json",
            "https://agent.example.com/c?v=1",
            "https://xn--bcher-kva.example/c",
            "https://agent.example.com/",
        ] {
            assert_eq!(ClientIdUrl::parse(ok, false).unwrap().as_str(), ok, "{ok}");
        }
        for bad in [
            "http://agent.example.com/c",
            "HTTPS://agent.example.com/c",
            "https://Agent.Example.com/c",
            "https://agent.example.com",
            "https://agent.example.com:443/c",
            "https://agent.example.com/a/../c",
            "https://agent.example.com/./c",
            "https://agent.example.com/a/%2e%2e/c",
            "https://agent.example.com/c#frag",
            "https://agent.example.com/c#",
            "https://user@agent.example.com/c",
            "https://u:p@agent.example.com/c",
            "https://agent.example.com/a b",
            "https://bücher.example/c",
            "urn:example:client",
            "javascript://agent.example.com/%0aalert(1)",
        ] {
            assert!(
                matches!(ClientIdUrl::parse(bad, false), Err(DocumentError::Url(_))),
                "{bad}"
            );
        }
        let long = format!(
            "https://agent.example.com/{}",
            "c".repeat(MAX_CLIENT_ID_LEN)
        );
        assert!(ClientIdUrl::parse(&long, false).is_err());
        // The development setting allows http, nothing more.
        assert!(ClientIdUrl::parse("http://127.0.0.1:8080/c.json", true).is_ok());
        assert!(ClientIdUrl::parse("http://127.0.0.1:8080/a/../c", true).is_err());
        assert!(is_client_id_url(URL));
        assert!(is_client_id_url("http://127.0.0.1/c"));
        assert!(!is_client_id_url("0190b6a4-8c1e-7f00-8000-000000000000"));
        assert!(!is_client_id_url("HTTPS://agent.example.com/c"));
    }

    #[test]
    fn shows_the_host_with_its_port() {
        let host = |u: &str| ClientIdUrl::parse(u, true).unwrap().display_host();
        assert_eq!(host(URL), "agent.example.com");
        assert_eq!(
            host("https://agent.example.com:8443/c"),
            "agent.example.com:8443"
        );
        assert_eq!(host("http://127.0.0.1:9000/c"), "127.0.0.1:9000");
        assert_eq!(
            host_of("https://xn--bcher-kva.example/c").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(host_of("web-app"), None);
    }

    /// A name that does not resolve and one that resolves to a refused address read the
    /// same, and never show the address.
    #[test]
    fn refused_hosts_read_like_names_that_do_not_resolve() {
        let resolve = DocumentError::Fetch(FetchError::Resolve).to_string();
        let refused = DocumentError::Fetch(FetchError::Refused {
            address: "10.1.2.3".parse().unwrap(),
            why: crate::outbound::SpecialUse::Private,
        })
        .to_string();
        assert_eq!(resolve, refused);
        assert!(
            !refused.contains("10.1.2.3") && !refused.contains("private"),
            "{refused}"
        );
        assert!(
            DocumentError::Fetch(FetchError::Redirect(302))
                .to_string()
                .contains("redirects are not followed")
        );
    }

    #[test]
    fn an_mcp_clients_document_becomes_a_public_client() {
        let r = check(&mcp()).unwrap();
        assert!(r.is_public());
        assert_eq!(r.client_name, "Example MCP Client");
        assert_eq!(
            r.redirect_uris,
            [
                "http://127.0.0.1:3000/callback",
                "http://localhost:3000/callback"
            ]
        );
        assert_eq!(
            r.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
        assert_eq!(
            r.logo_uri.as_deref(),
            Some("https://agent.example.com/logo.png")
        );
        // Without token_endpoint_auth_method it is public too, not the RFC 7591 default.
        assert!(
            check(&with(json!({"token_endpoint_auth_method": null})))
                .unwrap()
                .is_public()
        );
    }

    /// Every way a document is refused, and the words the error page shows.
    #[test]
    fn documents_are_refused_for_each_rule() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("not json", b"<html>".to_vec(), "not a JSON object"),
            ("an array", b"[]".to_vec(), "not a JSON object"),
            (
                "another client_id",
                serde_json::to_vec(&with(json!({"client_id": "https://agent.example.com/other.json"}))).unwrap(),
                "not exactly the URL",
            ),
            (
                "client_id differing in case",
                serde_json::to_vec(&with(json!({"client_id": URL.to_uppercase()}))).unwrap(),
                "not exactly the URL",
            ),
            (
                "no client_id",
                serde_json::to_vec(&with(json!({"client_id": null}))).unwrap(),
                "not exactly the URL",
            ),
            (
                "client_id not a string",
                serde_json::to_vec(&with(json!({"client_id": [URL]}))).unwrap(),
                "not exactly the URL",
            ),
            (
                "a client secret",
                serde_json::to_vec(&with(json!({"client_secret": "s3cret"}))).unwrap(),
                "has client_secret",
            ),
            (
                "a secret's expiry",
                serde_json::to_vec(&with(json!({"client_secret_expires_at": 0}))).unwrap(),
                "has client_secret_expires_at",
            ),
            (
                "client_secret_basic",
                serde_json::to_vec(&with(json!({"token_endpoint_auth_method": "client_secret_basic"}))).unwrap(),
                "shared secret",
            ),
            (
                "client_secret_jwt",
                serde_json::to_vec(&with(json!({"token_endpoint_auth_method": "client_secret_jwt"}))).unwrap(),
                "shared secret",
            ),
            (
                "private_key_jwt",
                serde_json::to_vec(&with(json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://agent.example.com/jwks"}))).unwrap(),
                "other than none",
            ),
            (
                "no redirect uris",
                serde_json::to_vec(&with(json!({"redirect_uris": null}))).unwrap(),
                "registration policy",
            ),
            (
                "plain http redirect",
                serde_json::to_vec(&with(json!({"redirect_uris": ["http://agent.example.com/cb"]}))).unwrap(),
                "registration policy",
            ),
            (
                "javascript redirect",
                serde_json::to_vec(&with(json!({"redirect_uris": ["javascript:alert(1)"]}))).unwrap(),
                "registration policy",
            ),
            (
                "redirect with a fragment",
                serde_json::to_vec(&with(json!({"redirect_uris": ["https://agent.example.com/cb#x"]}))).unwrap(),
                "registration policy",
            ),
            (
                "the password grant",
                serde_json::to_vec(&with(json!({"grant_types": ["authorization_code", "password"]}))).unwrap(),
                "registration policy",
            ),
            (
                "client_credentials",
                serde_json::to_vec(&with(json!({"grant_types": ["client_credentials"]}))).unwrap(),
                "registration policy",
            ),
            (
                "the admin scope",
                serde_json::to_vec(&with(json!({"scope": "openid admin"}))).unwrap(),
                "registration policy",
            ),
            (
                "a resource outside the allowed ones",
                serde_json::to_vec(&with(json!({"resources": ["https://evil.example/"]}))).unwrap(),
                "registration policy",
            ),
            (
                "an http logo",
                serde_json::to_vec(&with(json!({"logo_uri": "http://agent.example.com/l.png"}))).unwrap(),
                "registration policy",
            ),
            (
                "a software statement",
                serde_json::to_vec(&with(json!({"software_statement": "eyJ"}))).unwrap(),
                "registration policy",
            ),
            (
                "a name with a bidi override",
                serde_json::to_vec(&with(json!({"client_name": "Goo\u{202E}elg"}))).unwrap(),
                "registration policy",
            ),
        ];
        let url = ClientIdUrl::parse(URL, false).unwrap();
        for (what, body, words) in cases {
            let err = check_document(&url, &body, &config())
                .err()
                .unwrap_or_else(|| panic!("{what} was accepted"));
            let said = err.to_string();
            assert!(said.contains(words), "{what}: {said}");
            assert!(!said.contains("s3cret"), "{what}: {said}");
        }
    }
}
