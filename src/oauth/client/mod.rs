//! A registered client as the protocol code sees it: typed, validated, no storage types.
//! Built from the stored record in `registered.rs`; authenticated in `authentication.rs`
//! (through `caller.rs`, with the records cached in `cache.rs`).

use std::fmt;

pub mod authentication;
pub mod cache;
pub mod caller;
pub mod failures;
pub mod origins;
pub mod registered;
pub mod resources;

use super::scope::Scope;

/// The `grant_types` a client may be registered with, in the order error messages list them.
pub const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
];
/// The `token_endpoint_auth_method`s a client may be registered with.
pub const AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "none"];

/// What the `sub` of a client's own token (client_credentials) starts with. User ids
/// never do (they are UUIDs, and an import refuses ids with this prefix), so a client's
/// token can never pass for a user's at a resource server that keys on `sub`.
pub const CLIENT_SUBJECT_PREFIX: &str = "client:";

/// The `sub` of the tokens a client gets for itself.
pub fn client_subject(client_id: &str) -> String {
    format!("{CLIENT_SUBJECT_PREFIX}{client_id}")
}

/// The built-in client of the user's own account pages (`oauth::flow::account`): the
/// account pages sign their user in through the same pending requests, pages and steps as
/// any client, under this id. It is never a row of the clients table (registration refuses
/// the id), so `/authorize` and `/token`, which look clients up there, know no such
/// client; only the flow's own lookup (`flow::live_client`) answers it, and a request of
/// it never ends in a code.
pub const ACCOUNT_CLIENT_ID: &str = "portcullis-account";

/// How a client came to be registered (issue 21): by an operator at the command line
/// (`cli`) or through the admin API (`api`), by itself at the registration endpoint
/// (`registration`, RFC 7591), or from its client ID metadata document
/// (`metadata_document`). The last two are *dynamic*: they hold no roles and never the
/// `admin` scope (`manage::clients` refuses it on every write), may name the resources
/// `registration.allowed_resources` allows (`resources::AllowList`), and are deleted by
/// the janitor once unused for `registration.idle_days`. Promoting one makes it an
/// operator's (`cli` or `api`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientOrigin {
    Cli,
    Api,
    Registration,
    MetadataDocument,
}

impl ClientOrigin {
    pub const ALL: [ClientOrigin; 4] = [
        ClientOrigin::Cli,
        ClientOrigin::Api,
        ClientOrigin::Registration,
        ClientOrigin::MetadataDocument,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cli => "cli",
            Self::Api => "api",
            Self::Registration => "registration",
            Self::MetadataDocument => "metadata_document",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == value)
    }

    /// Registered by the client itself rather than by an operator.
    pub fn is_dynamic(self) -> bool {
        match self {
            Self::Cli | Self::Api => false,
            Self::Registration | Self::MetadataDocument => true,
        }
    }
}

impl fmt::Display for ClientOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How stale a client's `last_used_at` may be before a token issued to it writes it
/// again: at most one write per client per this many seconds, not one per token.
pub const LAST_USED_GRANULARITY_SECS: i64 = 3600;

/// The grant types Portcullis implements, by their RFC 6749 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    Password,
    RefreshToken,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        GrantType::AuthorizationCode,
        GrantType::ClientCredentials,
        GrantType::Password,
        GrantType::RefreshToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// Exact, case-sensitive match: `grant_type` values are registry names, not words.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == value)
    }

    fn bit(self) -> u8 {
        match self {
            Self::AuthorizationCode => 1,
            Self::ClientCredentials => 1 << 1,
            Self::Password => 1 << 2,
            Self::RefreshToken => 1 << 3,
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of grant types; a copyable bit set because it is checked on every token request.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct GrantTypes(u8);

impl GrantTypes {
    pub fn contains(self, grant: GrantType) -> bool {
        self.0 & grant.bit() != 0
    }

    pub fn insert(&mut self, grant: GrantType) {
        self.0 |= grant.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = GrantType> {
        GrantType::ALL
            .into_iter()
            .filter(move |g| self.contains(*g))
    }
}

impl FromIterator<GrantType> for GrantTypes {
    fn from_iter<I: IntoIterator<Item = GrantType>>(iter: I) -> Self {
        let mut set = Self::default();
        for grant in iter {
            set.insert(grant);
        }
        set
    }
}

impl fmt::Debug for GrantTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// `token_endpoint_auth_method` values (RFC 7591 section 2) that Portcullis accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 3] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == value)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Field names follow RFC 7591 client metadata where one exists.
#[derive(Clone, PartialEq, Eq)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_name: String,
    pub confidential: bool,
    /// SHA-256 of the client secret; `None` for public clients.
    pub secret_digest: Option<Vec<u8>>,
    pub token_endpoint_auth_method: AuthMethod,
    pub grant_types: GrantTypes,
    /// The most this client may be granted.
    pub scope: Scope,
    pub roles: Vec<String>,
    pub first_party: bool,
    pub require_pkce: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// RFC 8707 resources this client may name; see `resources`.
    pub resources: Vec<String>,
    /// Seconds; `None` means the server default.
    pub access_token_lifetime: Option<i64>,
    pub refresh_token_lifetime: Option<i64>,
    pub disabled: bool,
    /// Which registration of `client_id` this is. Access tokens carry it
    /// (`client_instance`), so a client deleted and registered again under the same id
    /// does not inherit the old registration's tokens.
    pub instance: String,
    /// Every user signing in through this client must use a second factor, whatever
    /// their roles (issue 20's policy; `config.mfa.required_roles` is the other half).
    pub require_mfa: bool,
    /// Who registered it (see `ClientOrigin`).
    pub origin: ClientOrigin,
    /// When a token was last issued to it, to `LAST_USED_GRANULARITY_SECS`.
    pub last_used_at: Option<i64>,
}

impl RegisteredClient {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(grant)
    }

    /// Whether a token issued at `now` should write `last_used_at` again.
    pub fn last_used_is_stale(&self, now: i64) -> bool {
        self.last_used_at
            .is_none_or(|at| at <= now - LAST_USED_GRANULARITY_SECS)
    }
}

impl fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The digest is not the secret, but it is what an offline guess is checked against.
        f.debug_struct("RegisteredClient")
            .field("client_id", &self.client_id)
            .field("confidential", &self.confidential)
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .field("grant_types", &self.grant_types)
            .field("scope", &self.scope.to_string())
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_what_registration_accepts() {
        let mut grants: Vec<&str> = GRANT_TYPES.to_vec();
        grants.sort_unstable();
        let ours: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
        assert_eq!(ours, grants);
        for name in GRANT_TYPES {
            assert_eq!(GrantType::parse(name).map(GrantType::as_str), Some(*name));
        }
        let methods: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(methods, AUTH_METHODS);
        assert_eq!(GrantType::parse("Password"), None);
        assert_eq!(GrantType::parse("implicit"), None);
        assert_eq!(AuthMethod::parse("private_key_jwt"), None);
        assert_eq!(AuthMethod::parse("none"), Some(AuthMethod::None));
        assert_eq!(GrantType::Password.to_string(), "password");
        assert_eq!(
            AuthMethod::ClientSecretPost.to_string(),
            "client_secret_post"
        );
    }

    #[test]
    fn origins_by_name() {
        for origin in ClientOrigin::ALL {
            assert_eq!(ClientOrigin::parse(origin.as_str()), Some(origin));
            assert_eq!(origin.to_string(), origin.as_str());
        }
        assert_eq!(ClientOrigin::parse("CLI"), None);
        assert_eq!(ClientOrigin::parse("metadata-document"), None);
        let dynamic: Vec<_> = ClientOrigin::ALL
            .into_iter()
            .filter(|o| o.is_dynamic())
            .collect();
        assert_eq!(
            dynamic,
            [ClientOrigin::Registration, ClientOrigin::MetadataDocument]
        );
    }

    #[test]
    fn grant_type_set() {
        let set: GrantTypes = [GrantType::RefreshToken, GrantType::Password]
            .into_iter()
            .collect();
        assert!(set.contains(GrantType::Password));
        assert!(set.contains(GrantType::RefreshToken));
        assert!(!set.contains(GrantType::ClientCredentials));
        assert!(!set.is_empty());
        assert!(GrantTypes::default().is_empty());
        assert_eq!(format!("{set:?}"), "{Password, RefreshToken}");
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![GrantType::Password, GrantType::RefreshToken]
        );
    }

    #[test]
    fn debug_hides_the_digest() {
        let client = RegisteredClient {
            client_id: "svc".into(),
            client_name: "Service".into(),
            confidential: true,
            secret_digest: Some(vec![0xab; 32]),
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            grant_types: [GrantType::ClientCredentials].into_iter().collect(),
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
            origin: ClientOrigin::Cli,
            last_used_at: None,
        };
        assert!(client.allows_grant(GrantType::ClientCredentials));
        assert!(!client.allows_grant(GrantType::Password));
        let shown = format!("{client:?}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(!shown.to_lowercase().contains("ab, ab"), "{shown}");
        assert!(shown.contains("svc"));
    }
}
