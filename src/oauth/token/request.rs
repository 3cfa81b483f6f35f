//! The token request (RFC 6749 sections 4.1.3, 4.3.2, 4.4.2, 6) as a typed enum tagged by
//! `grant_type` (docs/architecture.md, convention 1): an unknown grant never reaches grant code, and each grant sees
//! exactly the parameters it needs.
//!
//! Parsed by hand from the [`FormMap`] rather than through serde, so every failure is the
//! RFC's error with a description we wrote: serde's messages would echo request values.
//! Client credentials (`client_id`, `client_secret`) are not part of it; see `client::authentication`.
//! Unrecognised parameters are ignored (RFC 6749 section 3.2).

use crate::crypto::tokens::Secret;
use crate::oauth::client::GrantType;
use crate::oauth::error::{Description, OAuthError};
use crate::oauth::form::FormMap;
use crate::oauth::scope::Scope;

/// A token request: the grant with its parameters, and the RFC 8707 `resource`s any grant
/// may name.
#[derive(Debug)]
pub struct TokenRequest {
    pub grant: GrantRequest,
    /// As sent, in order; each grant decides what of it to grant against the client's
    /// allow-list (`client::resources`), so a bad one is `invalid_target` there.
    pub resources: Vec<String>,
}

#[derive(Debug)]
pub enum GrantRequest {
    /// RFC 6749 section 4.1.3 with RFC 7636 section 4.5.
    AuthorizationCode {
        code: Secret,
        /// Required when the authorization request carried one; the grant checks that.
        redirect_uri: Option<String>,
        /// Required for every PKCE-bound code; the grant checks that against the code.
        code_verifier: Option<Secret>,
    },
    /// RFC 6749 section 4.4.2.
    ClientCredentials { scope: Option<Scope> },
    /// RFC 6749 section 4.3.2. `username` is the raw value; normalising it is the grant's job.
    Password {
        username: String,
        password: Secret,
        scope: Option<Scope>,
    },
    /// RFC 6749 section 6.
    RefreshToken {
        refresh_token: Secret,
        scope: Option<Scope>,
    },
}

impl TokenRequest {
    /// Grant parameters are checked first, and `resource` only by the grant, so a request
    /// with both wrong names the grant's problem.
    pub fn parse(form: &FormMap) -> Result<Self, OAuthError> {
        let grant = GrantRequest::parse(form)?;
        Ok(Self {
            grant,
            resources: form.all("resource"),
        })
    }

    pub fn grant_type(&self) -> GrantType {
        self.grant.grant_type()
    }
}

impl GrantRequest {
    fn parse(form: &FormMap) -> Result<Self, OAuthError> {
        let grant_type = form.require("grant_type")?;
        let grant = GrantType::parse(grant_type).ok_or_else(|| {
            OAuthError::UnsupportedGrantType(Description::new(format!(
                "grant_type must be one of {}",
                GrantType::ALL.map(GrantType::as_str).join(", ")
            )))
        })?;
        let scope = || form.get("scope").map(Scope::parse).transpose();
        Ok(match grant {
            GrantType::AuthorizationCode => {
                require_all(form, &["code"])?;
                Self::AuthorizationCode {
                    code: secret(form, "code")?,
                    redirect_uri: form.get("redirect_uri").map(str::to_owned),
                    code_verifier: form.get("code_verifier").map(Secret::from_presented),
                }
            }
            GrantType::ClientCredentials => Self::ClientCredentials { scope: scope()? },
            GrantType::Password => {
                require_all(form, &["username", "password"])?;
                Self::Password {
                    username: form.require("username")?.to_owned(),
                    password: secret(form, "password")?,
                    scope: scope()?,
                }
            }
            GrantType::RefreshToken => {
                require_all(form, &["refresh_token"])?;
                Self::RefreshToken {
                    refresh_token: secret(form, "refresh_token")?,
                    scope: scope()?,
                }
            }
        })
    }

    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::ClientCredentials { .. } => GrantType::ClientCredentials,
            Self::Password { .. } => GrantType::Password,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
        }
    }
}

/// One error naming every missing parameter, so a client fixes its request in one round.
fn require_all(form: &FormMap, names: &[&'static str]) -> Result<(), OAuthError> {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| !form.contains(name))
        .collect();
    match missing.as_slice() {
        [] => Ok(()),
        [one] => Err(OAuthError::invalid_request(format!(
            "missing parameter `{one}`"
        ))),
        many => Err(OAuthError::invalid_request(format!(
            "missing parameters {}",
            many.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn secret(form: &FormMap, name: &'static str) -> Result<Secret, OAuthError> {
    form.require(name).map(Secret::from_presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenRequest, OAuthError> {
        TokenRequest::parse(&FormMap::parse(body.as_bytes()).unwrap())
    }

    fn err(body: &str) -> String {
        parse(body).unwrap_err().to_string()
    }

    #[test]
    fn authorization_code() {
        let req = parse(
            "grant_type=authorization_code&code=c0de&redirect_uri=https%3A%2F%2Fa.example%2Fcb&code_verifier=v3r",
        )
        .unwrap();
        assert_eq!(req.grant_type(), GrantType::AuthorizationCode);
        let GrantRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } = req.grant
        else {
            panic!("wrong variant");
        };
        assert_eq!(code.expose(), "c0de");
        assert_eq!(redirect_uri.as_deref(), Some("https://a.example/cb"));
        assert_eq!(code_verifier.as_ref().map(Secret::expose), Some("v3r"));

        let req = parse("grant_type=authorization_code&code=c0de&scope=ignored").unwrap();
        let GrantRequest::AuthorizationCode {
            redirect_uri,
            code_verifier,
            ..
        } = req.grant
        else {
            panic!("wrong variant");
        };
        assert_eq!(redirect_uri, None);
        assert!(code_verifier.is_none());
    }

    #[test]
    fn client_credentials() {
        let req = parse("grant_type=client_credentials&scope=b+a").unwrap();
        assert_eq!(req.grant_type(), GrantType::ClientCredentials);
        let GrantRequest::ClientCredentials { scope } = req.grant else {
            panic!("wrong variant");
        };
        assert_eq!(scope.map(|s| s.to_string()).as_deref(), Some("a b"));
        let GrantRequest::ClientCredentials { scope } =
            parse("grant_type=client_credentials&scope=").unwrap().grant
        else {
            panic!("wrong variant");
        };
        assert_eq!(scope, None);
    }

    #[test]
    fn password() {
        let req =
            parse("grant_type=password&username=Alice&password=hunter2&scope=openid").unwrap();
        assert_eq!(req.grant_type(), GrantType::Password);
        let shown = format!("{req:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let GrantRequest::Password {
            username,
            password,
            scope,
        } = req.grant
        else {
            panic!("wrong variant");
        };
        assert_eq!(username, "Alice");
        assert_eq!(password.expose(), "hunter2");
        assert_eq!(scope.map(|s| s.to_string()).as_deref(), Some("openid"));
    }

    #[test]
    fn refresh_token() {
        let req = parse("grant_type=refresh_token&refresh_token=prt_abc").unwrap();
        assert_eq!(req.grant_type(), GrantType::RefreshToken);
        assert!(!format!("{req:?}").contains("prt_abc"));
        let GrantRequest::RefreshToken {
            refresh_token,
            scope,
        } = req.grant
        else {
            panic!("wrong variant");
        };
        assert_eq!(refresh_token.expose(), "prt_abc");
        assert_eq!(scope, None);
    }

    #[test]
    fn grant_type_errors() {
        assert_eq!(
            err("code=x"),
            "invalid_request: missing parameter `grant_type`"
        );
        assert_eq!(
            err("grant_type="),
            "invalid_request: missing parameter `grant_type`"
        );
        let unsupported = "unsupported_grant_type: grant_type must be one of authorization_code, client_credentials, password, refresh_token";
        for grant in [
            "implicit",
            "Password",
            "urn:ietf:params:oauth:grant-type:device_code",
            "%22%3Cscript%3E",
        ] {
            assert_eq!(err(&format!("grant_type={grant}")), unsupported);
        }
    }

    #[test]
    fn missing_parameters() {
        assert_eq!(
            err("grant_type=authorization_code"),
            "invalid_request: missing parameter `code`"
        );
        assert_eq!(
            err("grant_type=password"),
            "invalid_request: missing parameters `username`, `password`"
        );
        assert_eq!(
            err("grant_type=password&username=a"),
            "invalid_request: missing parameter `password`"
        );
        assert_eq!(
            err("grant_type=password&password=a"),
            "invalid_request: missing parameter `username`"
        );
        assert_eq!(
            err("grant_type=refresh_token&refresh_token="),
            "invalid_request: missing parameter `refresh_token`"
        );
    }

    #[test]
    fn every_resource_is_kept_for_the_grant_to_judge() {
        let form = FormMap::parse_with(
            b"grant_type=client_credentials&resource=https%3A%2F%2Fa.example%2F&resource=api",
            &crate::oauth::form::FormLimits::with_resources(),
        )
        .unwrap();
        let req = TokenRequest::parse(&form).unwrap();
        assert_eq!(
            req.resources,
            vec!["https://a.example/".to_owned(), "api".to_owned()]
        );
        assert!(
            parse("grant_type=client_credentials")
                .unwrap()
                .resources
                .is_empty()
        );
        // The grant's own problems come first.
        assert_eq!(
            err("grant_type=password&resource=api"),
            "invalid_request: missing parameters `username`, `password`"
        );
    }

    #[test]
    fn bad_scope_is_invalid_scope() {
        let msg = "invalid_scope: scope is not a space-separated list of scope tokens";
        assert_eq!(err("grant_type=client_credentials&scope=a%22b"), msg);
        assert_eq!(
            err("grant_type=password&username=a&password=b&scope=a++b"),
            msg
        );
        assert_eq!(
            err("grant_type=refresh_token&refresh_token=x&scope=%5C"),
            msg
        );
    }
}
