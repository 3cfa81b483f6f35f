//! Configuration: defaults, then a TOML file, then `DATABASE_URL`, then `PORTCULLIS_*`
//! environment variables (`__` nests), then command-line flags. Parsed and validated once
//! at start; the typed `Config` is passed explicitly (there is no global).

//!
//! A foundation module: it imports no protocol or crypto code (`crypto` reads it).
//! `raw` is the shape as written, `sources` merges where it is written, `validate` turns
//! the raw shape into the typed [`Config`] below, with errors naming the key and its origin.

mod email;
pub mod master_key;
pub mod proxy;
mod raw;
pub mod resource_pattern;
mod sources;
pub mod telemetry;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use master_key::MasterKeySource;
pub use proxy::{ProxyConfig, ProxyRange};
pub use raw::*;
pub use resource_pattern::ResourcePattern;
pub use sources::{Overrides, Sources};
pub use telemetry::{OtlpConfig, TelemetryConfig};
pub use validate::default_pool_size;

use crate::store::DatabaseUrl;

/// RSA modulus sizes we generate. Smaller keys are weak; larger ones make signing slow.
pub const RSA_KEY_SIZES: [usize; 3] = [2048, 3072, 4096];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("configuration: {0}")]
    Parse(String),
    #[error("configuration key `{key}` (from {origin}): {reason}")]
    Invalid {
        key: &'static str,
        origin: String,
        reason: String,
    },
}

/// The issuer URL, exactly as tokens and discovery carry it (no trailing slash), and the
/// path part of it under which every public endpoint, page, asset and cookie lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    url: String,
    path: String,
}

impl Issuer {
    /// Validates `raw` as `issuer` is validated when the configuration loads.
    pub fn parse(raw: &str) -> Result<Self, String> {
        validate::parse_issuer(raw)
    }
    pub fn as_str(&self) -> &str {
        &self.url
    }
    pub fn is_https(&self) -> bool {
        self.url.starts_with("https://")
    }
    /// The issuer's path: `""` for `https://id.example.com`, `"/auth"` for
    /// `https://id.example.com/auth`. Never ends with `/`; its segments are plain
    /// (unreserved characters only), so it can be written into routes, HTML and cookie
    /// attributes without escaping.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    pub pool_size: u32,
    pub migrate_on_start: bool,
    pub connect_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct PasswordConfig {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub workers: usize,
    pub queue_limit: usize,
    /// What a new password must meet (`password.min_length`).
    pub policy: PasswordPolicy,
}

/// The shortest password any configuration may allow (OWASP ASVS V6.2.1, NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The longest minimum a configuration may ask for: longer would leave no room below the
/// 64 characters every password must be allowed to reach (ASVS V6.2.9).
pub const MAX_MIN_PASSWORD_CHARS: usize = 64;

/// What a new password is checked against (`accounts::new_password::check` applies it).
/// `Copy` and small: passed by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// `MIN_PASSWORD_CHARS..=MAX_MIN_PASSWORD_CHARS`, checked when the configuration loads.
    pub min_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: MIN_PASSWORD_CHARS,
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeysConfig {
    pub master_keys: MasterKeySource,
    /// Keys of the audit chain of their own (`keys.audit_keys`), in the master keys' format;
    /// `None`: derived from the master keys.
    pub audit_keys: Option<std::sync::Arc<master_key::MasterKeys>>,
    pub rsa_bits: usize,
    pub rotation_period: i64,
    pub jwks_max_age: i64,
    pub reload_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct TokensConfig {
    pub access_token_lifetime: i64,
    pub id_token_lifetime: i64,
    pub clock_skew: i64,
    pub refresh_token_idle: i64,
    pub refresh_token_absolute: i64,
    pub client_cache: Duration,
    pub introspection_cache: Duration,
    pub replica_lease: Duration,
}

#[derive(Debug, Clone)]
pub struct LoginConfig {
    pub user: ThrottlePolicy,
    pub ip: ThrottlePolicy,
    /// Seconds a device cookie is kept by the browser (`login.device_cookie_days`).
    pub device_cookie_lifetime: i64,
}

/// Brute-force thresholds for password checks; one policy per key kind (an IP behind NAT
/// may deserve larger numbers). How they are applied is `oauth::throttle`'s business.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures in the window that are free; the next ones are delayed.
    pub max_failures: u32,
    /// How far back failures count.
    pub window_secs: i64,
    /// Delay after the `max_failures`-th failure; doubles with each further failure.
    pub base_delay_secs: i64,
    pub max_delay_secs: i64,
    /// Failures in the window at which the key is locked instead of delayed.
    pub lock_after_failures: u32,
    /// Lock length, from the latest failure.
    pub lock_secs: i64,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_secs: 900,
            base_delay_secs: 1,
            max_delay_secs: 60,
            lock_after_failures: 10,
            lock_secs: 900,
        }
    }
}

impl ThrottlePolicy {
    /// Checked once when configuration is loaded.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.max_failures == 0 {
            return Err("max_failures must be at least 1");
        }
        if self.lock_after_failures < self.max_failures {
            return Err("lock_after_failures must be at least max_failures");
        }
        if self.window_secs <= 0 {
            return Err("window_secs must be positive");
        }
        if self.base_delay_secs < 0 || self.max_delay_secs < self.base_delay_secs {
            return Err("delays must satisfy 0 <= base_delay_secs <= max_delay_secs");
        }
        if self.lock_secs < self.max_delay_secs {
            return Err("lock_secs must be at least max_delay_secs");
        }
        // Failures leave the window after window_secs, taking the lock with them.
        if self.lock_secs > self.window_secs {
            return Err("lock_secs must not exceed window_secs");
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct SessionsConfig {
    pub idle: i64,
    pub absolute: i64,
}

#[derive(Debug, Clone)]
pub struct JanitorConfig {
    pub interval: Duration,
    pub batch_size: u32,
    pub max_batches: u32,
}

/// What the audit log keeps (`audit.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditConfig {
    /// Seconds per window in which throttled login attempts are counted into one event.
    pub throttled_window_secs: i64,
    /// Days audit rows are kept; `None` keeps them forever.
    pub retention_days: Option<i64>,
}

/// Who must use a second factor whatever client they sign in through (`mfa.*`); a
/// client's `require_mfa` asks it of all its users besides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaConfig {
    /// Role names, each valid and listed once; may be empty.
    pub required_roles: Vec<String>,
}

impl MfaConfig {
    /// `required_roles` checked: every entry a role name as `manage::validate_role` has
    /// it (a name no user can hold, such as `Admin` or ` admin`, would otherwise ask
    /// nothing of anyone without a word), none twice.
    pub fn new(required_roles: Vec<String>) -> Result<Self, String> {
        for (n, role) in required_roles.iter().enumerate() {
            if role.trim().is_empty() {
                return Err(format!("entry #{} is empty", n + 1));
            }
            if role.trim() != role {
                return Err(format!(
                    "`{role}` has spaces around it; write the role name alone"
                ));
            }
            if !is_role_name(role) {
                return Err(format!(
                    "`{role}` is not a role name (a-z, 0-9, _ - : . up to 64)"
                ));
            }
            if required_roles
                .get(..n)
                .is_some_and(|before| before.contains(role))
            {
                return Err(format!("`{role}` is listed more than once"));
            }
        }
        Ok(Self { required_roles })
    }

    /// Whether a user with these roles must use a second factor by role.
    pub fn requires(&self, roles: &[String]) -> bool {
        roles.iter().any(|role| self.required_roles.contains(role))
    }
}

/// Origins allowed to call the endpoints a browser app calls besides those of the
/// clients' redirect URIs (`cors.*`; the rule is `http::cors`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsConfig {
    /// Each an origin exactly as a browser sends it in `Origin`, listed once.
    pub allowed_origins: Vec<String>,
}

impl CorsConfig {
    /// Every entry checked: an `https` origin, or `http` on a loopback host, written as
    /// browsers serialise it (so a byte comparison with `Origin` is the whole check); no
    /// wildcard, no `null`, nothing twice.
    pub fn new(allowed_origins: Vec<String>) -> Result<Self, String> {
        for (n, entry) in allowed_origins.iter().enumerate() {
            check_origin(entry).map_err(|why| format!("entry #{}: {why}", n + 1))?;
            if allowed_origins
                .get(..n)
                .is_some_and(|before| before.contains(entry))
            {
                return Err(format!("`{entry}` is listed more than once"));
            }
        }
        Ok(Self { allowed_origins })
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == origin)
    }
}

fn check_origin(entry: &str) -> Result<(), String> {
    const EXAMPLE: &str = "an origin such as `https://app.example.com`";
    match entry {
        "*" => {
            return Err(format!(
                "`*` is not allowed: list each app's origin ({EXAMPLE}); the origins of the \
                 clients' redirect URIs need no entry"
            ));
        }
        "null" => {
            return Err(format!(
                "`null` is the origin of sandboxed and local pages, which anyone can make: \
                 write {EXAMPLE}"
            ));
        }
        _ => {}
    }
    let url = url::Url::parse(entry).map_err(|_| format!("`{entry}` is not {EXAMPLE}"))?;
    let origin = crate::url_rules::web_origin(entry)
        .ok_or_else(|| format!("`{entry}` is not {EXAMPLE} (http or https, with a host)"))?;
    if url.scheme() == "http"
        && !url
            .host()
            .is_some_and(|host| crate::url_rules::is_loopback_host(&host))
    {
        return Err(format!(
            "`{entry}` uses plain http off loopback: use https (http is for loopback \
             development origins only)"
        ));
    }
    if origin != entry {
        return Err(format!(
            "write `{entry}` as `{origin}`: scheme, host and port only, as browsers send it \
             (lower case, no default port, no path or trailing slash)"
        ));
    }
    Ok(())
}

/// The shape of a role name, the rule `manage::validate_role` applies to every role a
/// user or client is given (`tests/api/client_require_mfa.rs` holds the two together).
pub fn is_role_name(role: &str) -> bool {
    !role.is_empty()
        && role.len() <= 64
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-:.".contains(&b))
}

/// Dynamic client registration (`registration.*`), validated: `allowed_scopes` holds
/// valid scope tokens and never `admin`, `allowed_resources` parsed patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationConfig {
    pub mode: RegistrationMode,
    pub allowed_scopes: Vec<String>,
    pub allowed_resources: Vec<ResourcePattern>,
    /// Seconds a registered client may go without a token before the janitor deletes it.
    pub idle_secs: i64,
    pub max_clients: u32,
    pub metadata_documents: MetadataDocumentsConfig,
    /// Self sign-up at `/signup` (issue 22; nothing to do with clients, but registration
    /// all the same): off by default.
    pub self_signup: bool,
    /// Lower-case domains a self sign-up's address must be in; empty: any.
    pub self_signup_email_domains: Vec<String>,
}

/// Client ID metadata documents (`registration.metadata_documents*`), validated: the
/// cache bounds in order, the development setting only on a loopback issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataDocumentsConfig {
    pub enabled: bool,
    /// Development only: http, and addresses of one host (`outbound::Policy`).
    pub allow_private: bool,
    /// Bounds on how long a fetched document is used (seconds).
    pub min_cache_secs: i64,
    pub max_cache_secs: i64,
}

impl Default for MetadataDocumentsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            allow_private: false,
            min_cache_secs: 300,
            max_cache_secs: 86_400,
        }
    }
}

impl MetadataDocumentsConfig {
    /// How long a document is used: what its response said (`fresh_for`, seconds; `None`:
    /// nothing), within the bounds. Saying nothing, or `no-store`, gets the minimum.
    pub fn cache_secs(&self, fresh_for: Option<u64>) -> i64 {
        let said = fresh_for.map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX));
        said.clamp(self.min_cache_secs, self.max_cache_secs)
    }
}

impl RegistrationConfig {
    /// Whether the registration endpoint answers at all.
    pub fn enabled(&self) -> bool {
        match self.mode {
            RegistrationMode::Closed => false,
            RegistrationMode::InitialAccessToken | RegistrationMode::Open => true,
        }
    }

    /// Whether self sign-up accepts an address in `domain` (already lower-case).
    pub fn signup_domain_allowed(&self, domain: &str) -> bool {
        self.self_signup_email_domains.is_empty()
            || self.self_signup_email_domains.iter().any(|d| d == domain)
    }

    /// Whether a registered client may name the resource `uri` (`resource_pattern`).
    pub fn allows_resource(&self, uri: &str) -> bool {
        resource_pattern::any_matches(&self.allowed_resources, uri)
    }

    /// `allowed_scopes` checked: each a scope token (RFC 6749 section 3.3), listed once,
    /// and never `admin`, which only an operator confers.
    pub fn check_scopes(scopes: &[String]) -> Result<(), String> {
        for (n, scope) in scopes.iter().enumerate() {
            let token = !scope.is_empty()
                && scope
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !token {
                return Err(format!("entry #{} `{scope}` is not a scope token", n + 1));
            }
            if scope == "admin" {
                return Err(
                    "`admin` is never given to a registered client; create such clients with the CLI or the admin API"
                        .into(),
                );
            }
            if scopes.get(..n).is_some_and(|before| before.contains(scope)) {
                return Err(format!("`{scope}` is listed more than once"));
            }
        }
        Ok(())
    }
}

/// Outbound email (`email.*`), validated: an `smtp` backend has a host, a `From`, and
/// credentials only over TLS (or to a loopback relay).
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub backend: EmailBackend,
    /// The `From` mailbox, checked to parse as one.
    pub from: String,
    pub poll_interval: Duration,
    pub max_attempts: u32,
    /// Seconds after enqueueing at which an unsent message is given up.
    pub give_up_after: i64,
    /// Seconds sent and failed messages are kept before the janitor deletes them.
    pub keep_secs: i64,
}

#[derive(Debug, Clone)]
pub enum EmailBackend {
    Smtp(SmtpConfig),
    /// DEVELOPMENT: messages are written to the log (the only place a mail's link is ever
    /// logged).
    Log,
}

impl EmailBackend {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Smtp(_) => "smtp",
            Self::Log => "log",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub credentials: Option<SmtpCredentials>,
    /// PEM text of further trusted certificates (`email.smtp.ca_file`), and its path.
    pub extra_roots: Option<(PathBuf, String)>,
    pub timeout: Duration,
}

/// SMTP AUTH credentials; the password's `Debug` is redacted (`secrecy`).
#[derive(Debug, Clone)]
pub struct SmtpCredentials {
    pub username: String,
    pub password: secrecy::SecretString,
}

#[derive(Debug, Clone)]
pub struct UiConfig {
    pub product_name: String,
    pub logo_url: Option<String>,
    pub extra_stylesheet: Option<String>,
    /// An operator's templates over the built-in ones (`crate::ui`).
    pub templates_dir: Option<std::path::PathBuf>,
    /// An operator's Fluent catalogues over the built-in ones (`crate::ui`).
    pub locales_dir: Option<std::path::PathBuf>,
    /// Lower-case BCP 47 tag; it must have a catalogue, built in or the operator's.
    pub default_locale: String,
}

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub token_per_second: u32,
    pub token_burst: u32,
    /// 32..=128.
    pub ipv6_prefix_len: u8,
    /// Per-address bucket of every public endpoint but /token, by name
    /// (`ENDPOINT_BUCKETS`); `per_second == 0` turns one off.
    pub endpoints: BTreeMap<&'static str, Bucket>,
    /// Failed client authentications per address (`oauth::client::failures`);
    /// `per_second == 0` turns it off.
    pub client_auth_failures: Bucket,
}

/// Bounds on live pending authorization requests (`authorize.*`); both at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizeConfig {
    pub max_pending_per_address: u32,
    pub max_pending_total: u32,
}

/// A per-address token bucket's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub per_second: u32,
    pub burst: u32,
}

/// Every bucket name, /token included; `rate_limit.endpoints.<name>` sets one.
pub const ENDPOINT_BUCKETS: &[&str] = &[
    "authorize",
    "login",
    "consent",
    "select_account",
    "logout",
    "userinfo",
    "introspect",
    "revoke",
    "register",
    "token",
    "other",
];

#[derive(Debug, Clone)]
pub struct Config {
    pub issuer: Issuer,
    pub data_dir: PathBuf,
    /// Where the operator's password for the first `admin` is; `serve` reads it at start,
    /// so the secret itself never sits in `Config` (which is `Debug` and shown by
    /// `config check`).
    pub bootstrap_admin_password_file: Option<PathBuf>,
    pub database: DatabaseConfig,
    pub http_bind: SocketAddr,
    pub admin_bind: SocketAddr,
    pub shutdown_delay: Duration,
    /// How long an HTTP worker or database thread that ran out of work polls for more
    /// before it sleeps (0: sleeps at once).
    pub idle_poll: Duration,
    pub log_format: LogFormat,
    pub log_level: String,
    pub password: PasswordConfig,
    pub keys: KeysConfig,
    pub tokens: TokensConfig,
    pub login: LoginConfig,
    pub authorize: AuthorizeConfig,
    pub rate_limit: RateLimitConfig,
    pub sessions: SessionsConfig,
    pub ui: UiConfig,
    pub janitor: JanitorConfig,
    pub audit: AuditConfig,
    pub mfa: MfaConfig,
    pub registration: RegistrationConfig,
    pub cors: CorsConfig,
    pub email: EmailConfig,
    /// The reverse proxies in front of the public listener.
    pub proxy: ProxyConfig,
    /// Deprecated settings in use, each a sentence saying what to write instead; `serve`
    /// logs them as warnings and `config check` shows them.
    pub deprecations: Vec<String>,
    pub telemetry: TelemetryConfig,
}

impl Config {
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let figment = sources::figment(sources)?;
        let raw: RawConfig = figment
            .extract()
            .map_err(|e| ConfigError::Parse(sources::describe_figment_error(e)))?;
        validate::validate(&figment, raw)
    }

    /// The effective configuration for `config check`, with secrets redacted.
    pub fn redacted(&self) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.issuer.as_str(),
            "data_dir": self.data_dir,
            "bootstrap_admin_password_file": self.bootstrap_admin_password_file,
            "database": {
                "backend": self.database.url.backend(),
                "url": self.database.url.redacted(),
                "pool_size": self.database.pool_size,
                "migrate_on_start": self.database.migrate_on_start,
                "connect_timeout_secs": self.database.connect_timeout.as_secs(),
            },
            "http": {
                "bind": self.http_bind.to_string(),
                "shutdown_delay_secs": self.shutdown_delay.as_secs(),
                "idle_poll_us": u64::try_from(self.idle_poll.as_micros()).unwrap_or(u64::MAX),
            },
            "admin": { "bind": self.admin_bind.to_string() },
            "log": { "format": self.log_format, "level": self.log_level },
            "keys": {
                "master_keys": match &self.keys.master_keys {
                    MasterKeySource::Configured(keys) => serde_json::json!({
                        "fingerprints": keys.fingerprints(),
                    }),
                    MasterKeySource::DevFile(path) => serde_json::json!({
                        "dev_file": path,
                    }),
                },
                "audit_keys": match &self.keys.audit_keys {
                    Some(keys) => serde_json::json!({ "fingerprints": keys.fingerprints() }),
                    None => serde_json::json!("derived from the master keys"),
                },
                "rsa_bits": self.keys.rsa_bits,
                "rotation_period_secs": self.keys.rotation_period,
                "jwks_max_age_secs": self.keys.jwks_max_age,
                "reload_interval_secs": self.keys.reload_interval.as_secs(),
            },
            "tokens": {
                "access_token_lifetime_secs": self.tokens.access_token_lifetime,
                "id_token_lifetime_secs": self.tokens.id_token_lifetime,
                "clock_skew_secs": self.tokens.clock_skew,
                "refresh_token_idle_secs": self.tokens.refresh_token_idle,
                "refresh_token_absolute_secs": self.tokens.refresh_token_absolute,
                "client_cache_secs": self.tokens.client_cache.as_secs(),
                "introspection_cache_ms": u64::try_from(self.tokens.introspection_cache.as_millis()).unwrap_or(u64::MAX),
                "replica_lease_ms": u64::try_from(self.tokens.replica_lease.as_millis()).unwrap_or(u64::MAX),
            },
            "login": {
                "max_failures": self.login.user.max_failures,
                "window_secs": self.login.user.window_secs,
                "max_delay_secs": self.login.user.max_delay_secs,
                "lock_after_failures": self.login.user.lock_after_failures,
                "lock_secs": self.login.user.lock_secs,
                "ip_max_failures": self.login.ip.max_failures,
                "ip_lock_after_failures": self.login.ip.lock_after_failures,
                "device_cookie_days": self.login.device_cookie_lifetime / 86_400,
            },
            "authorize": {
                "max_pending_per_address": self.authorize.max_pending_per_address,
                "max_pending_total": self.authorize.max_pending_total,
            },
            "sessions": {
                "idle_secs": self.sessions.idle,
                "absolute_secs": self.sessions.absolute,
            },
            "janitor": {
                "interval_secs": self.janitor.interval.as_secs(),
                "batch_size": self.janitor.batch_size,
                "max_batches": self.janitor.max_batches,
            },
            "audit": {
                "throttled_window_secs": self.audit.throttled_window_secs,
                "retention_days": self.audit.retention_days.unwrap_or(0),
            },
            "mfa": {
                "required_roles": self.mfa.required_roles,
            },
            "registration": {
                "mode": self.registration.mode.as_str(),
                "allowed_scopes": self.registration.allowed_scopes,
                "allowed_resources": self.registration.allowed_resources.iter().map(ResourcePattern::as_str).collect::<Vec<_>>(),
                "idle_days": self.registration.idle_secs / 86_400,
                "max_clients": self.registration.max_clients,
                "metadata_documents": self.registration.metadata_documents.enabled,
                "metadata_documents_allow_private": self.registration.metadata_documents.allow_private,
                "metadata_document_min_cache_secs": self.registration.metadata_documents.min_cache_secs,
                "metadata_document_max_cache_secs": self.registration.metadata_documents.max_cache_secs,
                "self_signup": self.registration.self_signup,
                "self_signup_email_domains": self.registration.self_signup_email_domains,
            },
            "cors": {
                "allowed_origins": self.cors.allowed_origins,
            },
            "email": {
                "backend": self.email.backend.as_str(),
                "from": self.email.from,
                "poll_interval_secs": self.email.poll_interval.as_secs(),
                "max_attempts": self.email.max_attempts,
                "give_up_after_secs": self.email.give_up_after,
                "keep_days": self.email.keep_secs / 86_400,
                "smtp": match &self.email.backend {
                    EmailBackend::Log => serde_json::Value::Null,
                    // The password is never shown, only whether there is one.
                    EmailBackend::Smtp(smtp) => serde_json::json!({
                        "host": smtp.host,
                        "port": smtp.port,
                        "tls": smtp.tls.as_str(),
                        "username": smtp.credentials.as_ref().map(|c| c.username.clone()),
                        "password": smtp.credentials.as_ref().map(|_| "<set>"),
                        "ca_file": smtp.extra_roots.as_ref().map(|(path, _)| path.clone()),
                        "timeout_secs": smtp.timeout.as_secs(),
                    }),
                },
            },
            "proxy": {
                "trusted_proxies": self.proxy.trusted_proxies,
                "header": self.proxy.header,
            },
            "deprecations": self.deprecations,
            "telemetry": match &self.telemetry.otlp {
                Some(otlp) => otlp.redacted(),
                None => serde_json::json!({ "otlp_endpoint": null }),
            },
            "ui": {
                "product_name": self.ui.product_name,
                "logo_url": self.ui.logo_url,
                "extra_stylesheet": self.ui.extra_stylesheet,
            },
            "rate_limit": {
                "token_per_second": self.rate_limit.token_per_second,
                "token_burst": self.rate_limit.token_burst,
                "ipv6_prefix_len": self.rate_limit.ipv6_prefix_len,
                "endpoints": self.rate_limit.endpoints.iter().map(|(name, b)| {
                    (name.to_string(), serde_json::json!({"per_second": b.per_second, "burst": b.burst}))
                }).collect::<serde_json::Map<_, _>>(),
                "client_auth_failures": {
                    "per_second": self.rate_limit.client_auth_failures.per_second,
                    "burst": self.rate_limit.client_auth_failures.burst,
                },
            },
            "password": {
                "memory_kib": self.password.memory_kib,
                "iterations": self.password.iterations,
                "parallelism": self.password.parallelism,
                "workers": self.password.workers,
                "queue_limit": self.password.queue_limit,
                "min_length": self.password.policy.min_chars,
            },
        })
    }

    /// A config for tests and tools: defaults plus the given overrides, no environment.
    pub fn for_overrides(overrides: Overrides) -> Result<Self, ConfigError> {
        Self::load(&Sources {
            file: None,
            env: Vec::new(),
            overrides,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(names: &[&str]) -> Vec<String> {
        names.iter().map(|r| (*r).to_owned()).collect()
    }

    #[test]
    fn requires_any_listed_role() {
        let mfa = MfaConfig::new(roles(&["admin", "operator"])).unwrap();
        assert!(mfa.requires(&roles(&["admin"])));
        assert!(mfa.requires(&roles(&["reader", "operator"])));
        assert!(!mfa.requires(&roles(&["reader"])));
        assert!(!mfa.requires(&[]));
        // Roles are compared whole: a longer name that starts with a listed one is
        // another role.
        assert!(!mfa.requires(&roles(&["admins", "admin:audit"])));
        let nobody = MfaConfig::new(Vec::new()).unwrap();
        assert!(!nobody.requires(&roles(&["admin"])));
    }

    #[test]
    fn required_roles_are_role_names_listed_once() {
        assert!(MfaConfig::new(roles(&["admin", "ops:read", "a-b_c.d"])).is_ok());
        let refused = |names: &[&str]| MfaConfig::new(roles(names)).unwrap_err();
        assert_eq!(refused(&["admin", ""]), "entry #2 is empty");
        assert_eq!(refused(&["  "]), "entry #1 is empty");
        assert_eq!(
            refused(&[" admin"]),
            "` admin` has spaces around it; write the role name alone"
        );
        assert_eq!(
            refused(&["admin\n"]),
            "`admin\n` has spaces around it; write the role name alone"
        );
        assert_eq!(
            refused(&["Admin"]),
            "`Admin` is not a role name (a-z, 0-9, _ - : . up to 64)"
        );
        assert!(refused(&["a b"]).contains("not a role name"));
        assert!(refused(&[&"r".repeat(65)]).contains("not a role name"));
        assert_eq!(
            refused(&["admin", "ops", "admin"]),
            "`admin` is listed more than once"
        );
    }

    fn origins(entries: &[&str]) -> Result<CorsConfig, String> {
        CorsConfig::new(entries.iter().map(|e| (*e).to_owned()).collect())
    }

    #[test]
    fn allowed_origins_are_origins_as_browsers_send_them() {
        let ok = origins(&[
            "https://app.example.com",
            "https://app.example.com:8443",
            "http://localhost:3000",
            "http://127.0.0.1:5173",
            "http://[::1]:8080",
        ])
        .unwrap();
        assert!(ok.allows("https://app.example.com"));
        assert!(ok.allows("http://localhost:3000"));
        // Compared whole: another port, scheme or host is another origin.
        assert!(!ok.allows("https://app.example.com:443"));
        assert!(!ok.allows("http://app.example.com"));
        assert!(!ok.allows("https://app.example.com.evil.example"));
        assert!(!ok.allows("http://localhost:3001"));
        assert!(origins(&[]).unwrap().allowed_origins.is_empty());

        let refused = |entry: &str| origins(&["https://ok.example", entry]).unwrap_err();
        for (entry, says) in [
            ("*", "`*` is not allowed"),
            ("null", "`null` is the origin of sandboxed"),
            ("app.example.com", "is not an origin such as"),
            ("ftp://app.example.com", "http or https"),
            ("com.example.app:/cb", "http or https"),
            ("http://app.example.com", "plain http off loopback"),
            (
                "https://app.example.com/",
                "write `https://app.example.com/` as `https://app.example.com`",
            ),
            (
                "https://app.example.com/spa",
                "as `https://app.example.com`",
            ),
            ("https://App.Example.com", "as `https://app.example.com`"),
            (
                "https://app.example.com:443",
                "as `https://app.example.com`",
            ),
            (
                "https://user@app.example.com",
                "as `https://app.example.com`",
            ),
            ("https://app.example.com?x", "as `https://app.example.com`"),
            (" https://app.example.com", "as `https://app.example.com`"),
        ] {
            let err = refused(entry);
            assert!(err.starts_with("entry #2: "), "{entry}: {err}");
            assert!(err.contains(says), "{entry}: {err}");
        }
        assert_eq!(
            origins(&["https://a.example", "https://a.example"]).unwrap_err(),
            "`https://a.example` is listed more than once"
        );
    }
}
