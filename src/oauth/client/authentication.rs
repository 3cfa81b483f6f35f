//! Client authentication at the token endpoint (RFC 6749 sections 2.3 and 3.2.1).
//!
//! Two steps, so the store lookup sits between them and stays out of this module:
//! [`presented_credentials`] reads what the request carries and refuses malformed or mixed
//! methods; [`authenticate`] checks it against the registered client.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

use super::{AuthMethod, RegisteredClient};
use crate::crypto::tokens::{Secret, matches_digest};
use crate::oauth::error::{CLIENT_AUTHENTICATION_FAILED, Description, OAuthError};
use crate::oauth::form::{self, FormMap};

/// Far above `base64(128-byte id ":" form-encoded secret)`; bounds the work on junk.
const MAX_AUTHORIZATION_LEN: usize = 4096;

/// RFC 7617 asks for padded base64, but clients differ and padding adds no meaning.
const BASIC: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Client credentials as the request carried them, not yet checked.
#[derive(Debug)]
pub enum Presented {
    ClientSecretBasic {
        client_id: String,
        client_secret: Secret,
    },
    ClientSecretPost {
        client_id: String,
        client_secret: Secret,
    },
    None {
        client_id: String,
    },
}

impl Presented {
    pub fn client_id(&self) -> &str {
        match self {
            Self::ClientSecretBasic { client_id, .. }
            | Self::ClientSecretPost { client_id, .. }
            | Self::None { client_id } => client_id,
        }
    }

    pub fn method(&self) -> AuthMethod {
        match self {
            Self::ClientSecretBasic { .. } => AuthMethod::ClientSecretBasic,
            Self::ClientSecretPost { .. } => AuthMethod::ClientSecretPost,
            Self::None { .. } => AuthMethod::None,
        }
    }

    /// Whether an `invalid_client` answer must carry a `Basic` challenge.
    pub fn basic_used(&self) -> bool {
        self.method() == AuthMethod::ClientSecretBasic
    }

    fn secret(&self) -> Option<&Secret> {
        match self {
            Self::ClientSecretBasic { client_secret, .. }
            | Self::ClientSecretPost { client_secret, .. } => Some(client_secret),
            Self::None { .. } => None,
        }
    }
}

fn malformed_basic() -> OAuthError {
    OAuthError::InvalidClient {
        description: Description::new("the Authorization header is not valid Basic credentials"),
        basic_used: true,
    }
}

/// Reads the client's credentials from the `Authorization` header and the form.
///
/// `authorization_header` is the header's value; the handler refuses a request with more
/// than one `Authorization` header or a value that is not visible ASCII before calling this.
///
/// Exactly one method per request (RFC 6749 section 2.3): a header together with
/// `client_secret` or a client assertion in the body, or a body `client_id` that differs from
/// the header's, is `invalid_request`. Repeating the same `client_id` in the body is allowed,
/// since several client libraries send it.
///
/// A malformed or non-Basic `Authorization` header is `invalid_client` with
/// `basic_used = true`, not `invalid_request`: the client did try to authenticate through
/// the header, and RFC 6749 section 5.2 then requires 401 with a challenge, which tells it
/// which scheme to use.
pub fn presented_credentials(
    authorization_header: Option<&str>,
    form: &FormMap,
) -> Result<Presented, OAuthError> {
    let body_secret = form.get("client_secret");
    let assertion = form.contains("client_assertion") || form.contains("client_assertion_type");
    let methods = usize::from(authorization_header.is_some())
        + usize::from(body_secret.is_some())
        + usize::from(assertion);
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "the request uses more than one client authentication method",
        ));
    }
    let body_client_id = form.get("client_id");
    if let Some(header) = authorization_header {
        let (client_id, client_secret) = parse_basic(header)?;
        if body_client_id.is_some_and(|id| id != client_id.as_str()) {
            return Err(OAuthError::invalid_request(
                "client_id in the body does not match the Authorization header",
            ));
        }
        return Ok(Presented::ClientSecretBasic {
            client_id: String::clone(&client_id),
            client_secret,
        });
    }
    if assertion {
        return Err(OAuthError::InvalidClient {
            description: Description::new(
                "client assertions are not supported; use client_secret_basic, client_secret_post or none",
            ),
            basic_used: false,
        });
    }
    match (body_client_id, body_secret) {
        (Some(client_id), Some(secret)) => Ok(Presented::ClientSecretPost {
            client_id: client_id.to_owned(),
            client_secret: Secret::from_presented(secret),
        }),
        (Some(client_id), None) => Ok(Presented::None {
            client_id: client_id.to_owned(),
        }),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "client_secret was sent without client_id",
        )),
        (None, None) => Err(OAuthError::InvalidClient {
            description: Description::new("client authentication is required"),
            basic_used: false,
        }),
    }
}

/// `Basic base64(urlencode(client_id) ":" urlencode(client_secret))`, RFC 6749 section 2.3.1.
fn parse_basic(header: &str) -> Result<(Zeroizing<String>, Secret), OAuthError> {
    if header.len() > MAX_AUTHORIZATION_LEN {
        return Err(malformed_basic());
    }
    let (scheme, credentials) = header.trim().split_once(' ').ok_or_else(malformed_basic)?;
    // RFC 9110 section 11.1: the scheme name is case-insensitive.
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed_basic());
    }
    let decoded = Zeroizing::new(
        BASIC
            .decode(credentials.trim_start_matches(' '))
            .map_err(|_| malformed_basic())?,
    );
    let colon = decoded
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(malformed_basic)?;
    let (raw_id, raw_secret) = (decoded.get(..colon), decoded.get(colon + 1..));
    let client_id = raw_id.and_then(form::decode).ok_or_else(malformed_basic)?;
    let client_secret = raw_secret
        .and_then(form::decode)
        .ok_or_else(malformed_basic)?;
    // An empty secret is no credential at all; public clients send client_id in the body.
    if client_id.is_empty() || client_secret.is_empty() {
        return Err(malformed_basic());
    }
    Ok((client_id, Secret::from_presented(&client_secret)))
}

/// Proof that a client authenticated: only [`authenticate`] makes one, so grant code that
/// takes it cannot be reached by an unauthenticated client.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedClient<'a> {
    client: &'a RegisteredClient,
    method: AuthMethod,
}

impl<'a> AuthenticatedClient<'a> {
    pub fn client(&self) -> &'a RegisteredClient {
        self.client
    }

    pub fn client_id(&self) -> &'a str {
        &self.client.client_id
    }

    pub fn method(&self) -> AuthMethod {
        self.method
    }
}

/// Why authentication failed, for the log and the audit trail. The client is told none of
/// it: every reason becomes the same `invalid_client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    UnknownClient,
    /// The client used a method other than its registered `token_endpoint_auth_method`.
    MethodNotRegistered {
        registered: AuthMethod,
        presented: AuthMethod,
    },
    WrongSecret,
    Disabled,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownClient => "unknown_client",
            Self::MethodNotRegistered { .. } => "method_not_registered",
            Self::WrongSecret => "wrong_secret",
            Self::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("client authentication failed: {}", reason.as_str())]
pub struct ClientAuthError {
    pub reason: FailureReason,
    pub basic_used: bool,
}

impl From<ClientAuthError> for OAuthError {
    fn from(err: ClientAuthError) -> Self {
        OAuthError::InvalidClient {
            description: Description::new(CLIENT_AUTHENTICATION_FAILED),
            basic_used: err.basic_used,
        }
    }
}

/// Compared against when the client is unknown, so an unknown id costs the same digest and
/// comparison as a known one (docs/architecture.md, convention 8).
const DUMMY_DIGEST: [u8; 32] = [0; 32];

/// Checks presented credentials against the registered client (`None`: no such client).
///
/// Returns [`ClientAuthError`] rather than `OAuthError` so the caller can audit the reason;
/// `?` turns it into the generic `invalid_client`. The secret is compared whenever one was
/// presented, even when the answer is already known to be a failure, so timing does not
/// tell unknown, disabled and wrong-method clients apart.
pub fn authenticate<'a>(
    presented: &Presented,
    client: Option<&'a RegisteredClient>,
) -> Result<AuthenticatedClient<'a>, ClientAuthError> {
    let fail = |reason| ClientAuthError {
        reason,
        basic_used: presented.basic_used(),
    };
    let client = client.filter(|c| c.client_id == presented.client_id());
    let stored = client.and_then(|c| c.secret_digest.as_deref());
    let secret_ok = presented.secret().map(|secret| {
        matches_digest(secret.expose(), stored.unwrap_or(&DUMMY_DIGEST)) && stored.is_some()
    });
    let Some(client) = client else {
        return Err(fail(FailureReason::UnknownClient));
    };
    let registered = client.token_endpoint_auth_method;
    let presented_method = presented.method();
    // Public clients hold no secret: `none` is only ever a public client's method, and a
    // confidential client can never fall back to it.
    let method_ok =
        registered == presented_method && (registered == AuthMethod::None) != client.confidential;
    if !method_ok {
        return Err(fail(FailureReason::MethodNotRegistered {
            registered,
            presented: presented_method,
        }));
    }
    if secret_ok == Some(false) {
        return Err(fail(FailureReason::WrongSecret));
    }
    if client.disabled {
        return Err(fail(FailureReason::Disabled));
    }
    Ok(AuthenticatedClient {
        client,
        method: presented_method,
    })
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::crypto::tokens::digest;
    use crate::oauth::client::{GrantType, GrantTypes};
    use crate::oauth::scope::Scope;

    const SECRET: &str = "pcs_s3cr3t+/=&:%";

    fn form(body: &str) -> FormMap {
        FormMap::parse(body.as_bytes()).unwrap()
    }

    fn basic(id: &str, secret: &str) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
        )
    }

    fn presented(header: Option<&str>, body: &str) -> Result<Presented, OAuthError> {
        presented_credentials(header, &form(body))
    }

    fn err(header: Option<&str>, body: &str) -> (String, bool) {
        let error = presented(header, body).unwrap_err();
        let basic_used = matches!(
            error,
            OAuthError::InvalidClient {
                basic_used: true,
                ..
            }
        );
        (error.to_string(), basic_used)
    }

    fn client(method: AuthMethod) -> RegisteredClient {
        let confidential = method != AuthMethod::None;
        RegisteredClient {
            client_id: "svc".into(),
            client_name: "Service".into(),
            confidential,
            secret_digest: confidential.then(|| digest(SECRET).to_vec()),
            token_endpoint_auth_method: method,
            grant_types: [GrantType::ClientCredentials]
                .into_iter()
                .collect::<GrantTypes>(),
            scope: Scope::parse("api").unwrap(),
            roles: vec![],
            first_party: false,
            require_pkce: true,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            resources: vec![],
            access_token_lifetime: None,
            refresh_token_lifetime: None,
            disabled: false,
            instance: "i1".into(),
            require_mfa: false,
            origin: crate::oauth::client::ClientOrigin::Cli,
            last_used_at: None,
        }
    }

    #[test]
    fn client_secret_basic() {
        let header = basic("svc", SECRET);
        let p = presented(Some(&header), "grant_type=client_credentials").unwrap();
        assert_eq!(p.method(), AuthMethod::ClientSecretBasic);
        assert_eq!(p.client_id(), "svc");
        assert!(p.basic_used());
        assert_eq!(p.secret().map(Secret::expose), Some(SECRET));
        // Same client_id repeated in the body is tolerated.
        let p = presented(Some(&header), "client_id=svc").unwrap();
        assert_eq!(p.client_id(), "svc");
        // Scheme is case-insensitive; padding is optional; extra spaces are tolerated.
        let lower = header.replacen("Basic", "bAsIc", 1);
        assert!(presented(Some(&lower), "").is_ok());
        let unpadded = format!(
            "Basic   {}",
            STANDARD.encode("svc:ab").trim_end_matches('=')
        );
        assert_eq!(
            presented(Some(&unpadded), "")
                .unwrap()
                .secret()
                .map(Secret::expose),
            Some("ab")
        );
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        // RFC 6749 section 2.3.1: `+` is a space, escapes decode, then UTF-8.
        let header = format!("Basic {}", STANDARD.encode("my%20id:a+b%3Ac%25"));
        let p = presented(Some(&header), "").unwrap();
        assert_eq!(p.client_id(), "my id");
        assert_eq!(p.secret().map(Secret::expose), Some("a b:c%"));
        // A raw colon in the secret survives: only the first colon splits.
        let header = format!("Basic {}", STANDARD.encode("svc:a:b"));
        assert_eq!(
            presented(Some(&header), "")
                .unwrap()
                .secret()
                .map(Secret::expose),
            Some("a:b")
        );
        let header = basic("svc", "p\u{e4}ss \u{1f511}");
        assert_eq!(
            presented(Some(&header), "")
                .unwrap()
                .secret()
                .map(Secret::expose),
            Some("p\u{e4}ss \u{1f511}")
        );
    }

    #[test]
    fn malformed_basic_is_invalid_client_with_challenge() {
        let expected = (
            "invalid_client: the Authorization header is not valid Basic credentials".to_owned(),
            true,
        );
        let enc = |raw: &[u8]| format!("Basic {}", STANDARD.encode(raw));
        let too_long = format!("Basic {}", "A".repeat(MAX_AUTHORIZATION_LEN));
        for header in [
            "Basic".to_owned(),
            "Basic ".to_owned(),
            "Basic !!!notbase64".to_owned(),
            "Bearer abc".to_owned(),
            "Digest username=svc".to_owned(),
            "BasicXYZ abc".to_owned(),
            too_long,
            enc(b"no-colon"),
            enc(b":secret"),
            enc(b"svc:"),
            enc(b"svc:%zz"),
            enc(b"%zz:secret"),
            enc(b"svc:\xff\xfe"),
            enc(b"svc:%ff"),
        ] {
            assert_eq!(err(Some(&header), ""), expected, "{header}");
        }
    }

    #[test]
    fn client_secret_post_and_none() {
        let p = presented(None, "client_id=svc&client_secret=xyz").unwrap();
        assert_eq!(p.method(), AuthMethod::ClientSecretPost);
        assert_eq!(p.client_id(), "svc");
        assert!(!p.basic_used());
        assert_eq!(p.secret().map(Secret::expose), Some("xyz"));
        let p = presented(None, "client_id=app").unwrap();
        assert_eq!(p.method(), AuthMethod::None);
        assert_eq!(p.client_id(), "app");
        assert!(p.secret().is_none());
        // An empty secret is an omitted parameter (RFC 6749 section 3.1), so this is `none`.
        let p = presented(None, "client_id=app&client_secret=").unwrap();
        assert_eq!(p.method(), AuthMethod::None);
    }

    #[test]
    fn request_errors() {
        let header = basic("svc", SECRET);
        let two = (
            "invalid_request: the request uses more than one client authentication method"
                .to_owned(),
            false,
        );
        assert_eq!(err(Some(&header), "client_secret=x"), two);
        assert_eq!(err(Some(&header), "client_id=svc&client_secret=x"), two);
        assert_eq!(err(Some(&header), "client_assertion=x"), two);
        assert_eq!(
            err(None, "client_id=a&client_secret=x&client_assertion_type=y"),
            two
        );
        // Even a header we cannot read counts as a method.
        assert_eq!(err(Some("Bearer x"), "client_secret=x"), two);
        assert_eq!(
            err(Some(&header), "client_id=other"),
            (
                "invalid_request: client_id in the body does not match the Authorization header"
                    .to_owned(),
                false
            )
        );
        assert_eq!(
            err(None, "client_secret=x"),
            (
                "invalid_request: client_secret was sent without client_id".to_owned(),
                false
            )
        );
        assert_eq!(
            err(None, "grant_type=client_credentials"),
            (
                "invalid_client: client authentication is required".to_owned(),
                false
            )
        );
        assert_eq!(
            err(None, "client_id=svc&client_assertion_type=urn&client_assertion=x"),
            (
                "invalid_client: client assertions are not supported; use client_secret_basic, client_secret_post or none"
                    .to_owned(),
                false
            )
        );
    }

    fn reason(p: &Presented, c: Option<&RegisteredClient>) -> (FailureReason, bool) {
        let e = authenticate(p, c).unwrap_err();
        (e.reason, e.basic_used)
    }

    fn post(id: &str, secret: &str) -> Presented {
        Presented::ClientSecretPost {
            client_id: id.into(),
            client_secret: Secret::from_presented(secret),
        }
    }

    fn basic_p(id: &str, secret: &str) -> Presented {
        Presented::ClientSecretBasic {
            client_id: id.into(),
            client_secret: Secret::from_presented(secret),
        }
    }

    fn none_p(id: &str) -> Presented {
        Presented::None {
            client_id: id.into(),
        }
    }

    #[test]
    fn authenticates_each_method() {
        let c = client(AuthMethod::ClientSecretBasic);
        let ok = authenticate(&basic_p("svc", SECRET), Some(&c)).unwrap();
        assert_eq!(ok.client_id(), "svc");
        assert_eq!(ok.method(), AuthMethod::ClientSecretBasic);
        assert_eq!(ok.client().client_name, "Service");

        let c = client(AuthMethod::ClientSecretPost);
        let ok = authenticate(&post("svc", SECRET), Some(&c)).unwrap();
        assert_eq!(ok.method(), AuthMethod::ClientSecretPost);

        let c = client(AuthMethod::None);
        let ok = authenticate(&none_p("svc"), Some(&c)).unwrap();
        assert_eq!(ok.method(), AuthMethod::None);
    }

    #[test]
    fn authentication_failures() {
        let basic_client = client(AuthMethod::ClientSecretBasic);
        let post_client = client(AuthMethod::ClientSecretPost);
        let public = client(AuthMethod::None);

        assert_eq!(
            reason(&basic_p("svc", SECRET), None),
            (FailureReason::UnknownClient, true)
        );
        assert_eq!(
            reason(&none_p("svc"), None),
            (FailureReason::UnknownClient, false)
        );
        // A record for another id is treated as no record.
        assert_eq!(
            reason(&post("other", SECRET), Some(&post_client)),
            (FailureReason::UnknownClient, false)
        );
        assert_eq!(
            reason(&basic_p("svc", "pcs_wrong"), Some(&basic_client)),
            (FailureReason::WrongSecret, true)
        );
        assert_eq!(
            reason(&post("svc", "pcs_wrong"), Some(&post_client)),
            (FailureReason::WrongSecret, false)
        );
        // Registered for Basic, tried post (with the right secret): refused.
        assert_eq!(
            reason(&post("svc", SECRET), Some(&basic_client)),
            (
                FailureReason::MethodNotRegistered {
                    registered: AuthMethod::ClientSecretBasic,
                    presented: AuthMethod::ClientSecretPost
                },
                false
            )
        );
        assert_eq!(
            reason(&basic_p("svc", SECRET), Some(&post_client)),
            (
                FailureReason::MethodNotRegistered {
                    registered: AuthMethod::ClientSecretPost,
                    presented: AuthMethod::ClientSecretBasic
                },
                true
            )
        );
        // A confidential client cannot drop its secret and pass as public...
        assert_eq!(
            reason(&none_p("svc"), Some(&basic_client)).0,
            FailureReason::MethodNotRegistered {
                registered: AuthMethod::ClientSecretBasic,
                presented: AuthMethod::None
            }
        );
        // ...and a public client never presents a secret.
        assert_eq!(
            reason(&basic_p("svc", "anything"), Some(&public)).0,
            FailureReason::MethodNotRegistered {
                registered: AuthMethod::None,
                presented: AuthMethod::ClientSecretBasic
            }
        );
        // Inconsistent records fail closed.
        let mut odd = client(AuthMethod::None);
        odd.confidential = true;
        assert!(matches!(
            reason(&none_p("svc"), Some(&odd)).0,
            FailureReason::MethodNotRegistered { .. }
        ));
        let mut no_digest = client(AuthMethod::ClientSecretPost);
        no_digest.secret_digest = None;
        assert_eq!(
            reason(&post("svc", SECRET), Some(&no_digest)).0,
            FailureReason::WrongSecret
        );
        let mut short = client(AuthMethod::ClientSecretPost);
        short.secret_digest = Some(vec![]);
        assert_eq!(
            reason(&post("svc", ""), Some(&short)).0,
            FailureReason::WrongSecret
        );
        // Disabled: refused even with the right secret.
        let mut disabled = client(AuthMethod::ClientSecretBasic);
        disabled.disabled = true;
        assert_eq!(
            reason(&basic_p("svc", SECRET), Some(&disabled)),
            (FailureReason::Disabled, true)
        );
        let mut disabled_public = client(AuthMethod::None);
        disabled_public.disabled = true;
        assert_eq!(
            reason(&none_p("svc"), Some(&disabled_public)).0,
            FailureReason::Disabled
        );
    }

    #[test]
    fn every_failure_is_the_same_invalid_client() {
        let basic_client = client(AuthMethod::ClientSecretBasic);
        let mut disabled = basic_client.clone();
        disabled.disabled = true;
        for (p, c) in [
            (basic_p("svc", SECRET), None),
            (basic_p("svc", "wrong"), Some(&basic_client)),
            (basic_p("svc", SECRET), Some(&disabled)),
        ] {
            let e: OAuthError = authenticate(&p, c).unwrap_err().into();
            assert_eq!(e, OAuthError::invalid_client(true));
        }
        let e: OAuthError = authenticate(&post("svc", SECRET), Some(&basic_client))
            .unwrap_err()
            .into();
        assert_eq!(e, OAuthError::invalid_client(false));
        assert_eq!(
            e.to_string(),
            "invalid_client: client authentication failed"
        );
    }

    #[test]
    fn reasons_and_debug() {
        let names: Vec<&str> = [
            FailureReason::UnknownClient,
            FailureReason::MethodNotRegistered {
                registered: AuthMethod::None,
                presented: AuthMethod::None,
            },
            FailureReason::WrongSecret,
            FailureReason::Disabled,
        ]
        .iter()
        .map(|r| r.as_str())
        .collect();
        assert_eq!(
            names,
            [
                "unknown_client",
                "method_not_registered",
                "wrong_secret",
                "disabled"
            ]
        );
        let e = ClientAuthError {
            reason: FailureReason::WrongSecret,
            basic_used: false,
        };
        assert_eq!(e.to_string(), "client authentication failed: wrong_secret");
        let shown = format!("{:?}", basic_p("svc", SECRET));
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<hidden>"));
    }
}
