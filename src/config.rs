//! Configuration: defaults, then a TOML file, then `DATABASE_URL`, then `PORTCULLIS_*`
//! environment variables (`__` nests), then command-line flags. Parsed and validated once
//! at start; the typed `Config` is passed explicitly (there is no global).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

use crate::crypto::key_material::{MasterKey, MasterKeys};
use crate::store::{Backend, DatabaseUrl};

/// Environment variables under the prefix that are not configuration keys.
const NOT_KEYS: &[&str] = &["CONFIG", "TEST_DATABASE_URL"];
const ENV_PREFIX: &str = "PORTCULLIS_";
/// An idle server stops polling this long after its last request, and a crowded one backs
/// off (`crate::crowding`); in between, each request may cost this much CPU more.
/// On a 2-vCPU VM it halved the round trip at concurrency 1 (bench/README.md).
const DEFAULT_IDLE_POLL_US: u64 = 100;
/// Beyond a millisecond, polling buys nothing a sleeping thread's wake-up would cost.
const MAX_IDLE_POLL_US: u64 = 1000;

// ---------------------------------------------------------------- raw, as written

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub issuer: String,
    pub data_dir: PathBuf,
    pub database: RawDatabase,
    pub http: RawHttp,
    pub admin: RawAdmin,
    pub log: RawLog,
    pub password: RawPassword,
    pub keys: RawKeys,
    pub tokens: RawTokens,
    pub login: RawLogin,
    pub rate_limit: RawRateLimit,
    pub sessions: RawSessions,
    pub ui: RawUi,
    pub janitor: RawJanitor,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database: RawDatabase::default(),
            http: RawHttp::default(),
            admin: RawAdmin::default(),
            log: RawLog::default(),
            password: RawPassword::default(),
            keys: RawKeys::default(),
            tokens: RawTokens::default(),
            login: RawLogin::default(),
            rate_limit: RawRateLimit::default(),
            sessions: RawSessions::default(),
            ui: RawUi::default(),
            janitor: RawJanitor::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDatabase {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A file holding the URL (for secrets mounted by an orchestrator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
    /// Unset: 4 on SQLite, 8 on Postgres (see `default_pool_size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<u32>,
    pub migrate_on_start: bool,
    pub connect_timeout_secs: u64,
}

impl Default for RawDatabase {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            pool_size: None,
            migrate_on_start: true,
            connect_timeout_secs: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawHttp {
    pub bind: String,
    pub shutdown_delay_secs: u64,
    pub idle_poll_us: u64,
}

impl Default for RawHttp {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            shutdown_delay_secs: 0,
            idle_poll_us: DEFAULT_IDLE_POLL_US,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAdmin {
    pub bind: String,
}

impl Default for RawAdmin {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:9090".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub format: LogFormat,
    pub level: String,
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Argon2id cost; the defaults are OWASP's (m=19 MiB, t=2, p=1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPassword {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashing threads; 0 means one per core.
    pub workers: usize,
    /// Hash jobs allowed to wait; beyond it callers get `Overloaded` (HTTP 503).
    pub queue_limit: usize,
}

impl Default for RawPassword {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            workers: 0,
            queue_limit: 64,
        }
    }
}

/// Signing keys and the master keys that encrypt them at rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawKeys {
    /// Base64 32-byte AES keys; the first encrypts, all decrypt. In the environment a
    /// comma- or space-separated list.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_list"
    )]
    pub master_keys: Option<Vec<String>>,
    /// A file with one base64 master key per line (first encrypts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_keys_file: Option<PathBuf>,
    /// Where a development master key is kept when none is configured (loopback only).
    pub dev_master_key_file: PathBuf,
    pub rsa_bits: usize,
    pub rotation_period_secs: i64,
    /// `Cache-Control: max-age` of the JWKS; the next key is published at least twice
    /// this long before it signs.
    pub jwks_max_age_secs: i64,
    /// How often each replica reloads the key set and advances the lifecycle.
    pub reload_interval_secs: u64,
}

impl Default for RawKeys {
    fn default() -> Self {
        Self {
            master_keys: None,
            master_keys_file: None,
            dev_master_key_file: PathBuf::from("keys/master.key"),
            rsa_bits: 2048,
            rotation_period_secs: 30 * 24 * 3600,
            jwks_max_age_secs: 900,
            reload_interval_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawTokens {
    /// Default access token lifetime; clients may set their own.
    pub access_token_lifetime_secs: i64,
    pub id_token_lifetime_secs: i64,
    /// Tolerated clock difference between us and token consumers.
    pub clock_skew_secs: i64,
    /// A refresh token unused this long expires (clients may set their own).
    pub refresh_token_idle_secs: i64,
    /// A grant (refresh token family) ends this long after the user authenticated.
    pub refresh_token_absolute_secs: i64,
    /// The token endpoint may use a client record this old; disabling a client or
    /// rotating its secret takes effect within this bound. 0 reads it every time.
    pub client_cache_secs: u64,
    /// Introspection may reuse what the database said about a token for this long
    /// (milliseconds): a revocation or disabled account from another replica or the CLI
    /// takes effect here within this bound; through this replica, at once. 0 (the
    /// default) reads the database on every call.
    pub introspection_cache_ms: u64,
    /// On Postgres, how long a replica may answer introspection from memory between
    /// renewals of its lease (milliseconds). A revocation waits until every replica has
    /// applied it or lost its lease, so no answer from memory contradicts a revocation
    /// that has returned. The lease is renewed four times per period; it also bounds how
    /// long a replica cut off from the database keeps answering. 0 reads the database on
    /// every call. SQLite holds no lease.
    pub replica_lease_ms: u64,
}

impl Default for RawTokens {
    fn default() -> Self {
        Self {
            access_token_lifetime_secs: 3600,
            id_token_lifetime_secs: 3600,
            clock_skew_secs: 60,
            refresh_token_idle_secs: 14 * 86_400,
            refresh_token_absolute_secs: 90 * 86_400,
            client_cache_secs: 5,
            introspection_cache_ms: 0,
            replica_lease_ms: 500,
        }
    }
}

/// Brute-force throttling for the password grant and the login page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLogin {
    /// Failures per username (and per client IP) in the window that cost nothing.
    pub max_failures: u32,
    pub window_secs: i64,
    pub max_delay_secs: i64,
    /// Failures in the window after which the key is locked for `lock_secs`.
    pub lock_after_failures: u32,
    pub lock_secs: i64,
    /// The per-IP limits are looser: many people may share one address.
    pub ip_max_failures: u32,
    pub ip_lock_after_failures: u32,
}

impl Default for RawLogin {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window_secs: 900,
            max_delay_secs: 60,
            lock_after_failures: 10,
            lock_secs: 900,
            ip_max_failures: 50,
            ip_lock_after_failures: 200,
        }
    }
}

/// Per-IP request rate limits (per replica; kept in memory).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRateLimit {
    /// Sustained requests per second per client IP on /token; 0 turns the limit off.
    pub token_per_second: u32,
    pub token_burst: u32,
    /// Addresses of reverse proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for RawRateLimit {
    fn default() -> Self {
        Self {
            token_per_second: 200,
            token_burst: 400,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Browser sessions at the login page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSessions {
    pub idle_secs: i64,
    pub absolute_secs: i64,
}

impl Default for RawSessions {
    fn default() -> Self {
        Self {
            idle_secs: 8 * 3600,
            absolute_secs: 7 * 86_400,
        }
    }
}

/// The background task that deletes what has expired, so tables stay bounded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawJanitor {
    /// Seconds between purges (each replica runs one; they take turns by lease).
    pub interval_secs: u64,
    /// Rows deleted per statement: short statements keep locks short.
    pub batch_size: u32,
    /// Statements per table per run; what is left waits for the next run.
    pub max_batches: u32,
}

impl Default for RawJanitor {
    fn default() -> Self {
        Self {
            interval_secs: 60,
            batch_size: 1000,
            max_batches: 50,
        }
    }
}

/// Branding of the login, consent and logout pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUi {
    pub product_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_stylesheet: Option<String>,
}

impl Default for RawUi {
    fn default() -> Self {
        Self {
            product_name: "Portcullis".into(),
            logo_url: None,
            extra_stylesheet: None,
        }
    }
}

fn string_or_list<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(deserializer)? {
        None => None,
        Some(OneOrMany::One(s)) => Some(
            s.split([',', ' ', '\n'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

// ---------------------------------------------------------------- sources

/// Flags that override every other source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_bind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_bind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
}

/// Everything configuration is read from; `env` is passed in (not read here) so tests
/// can check precedence without touching the process environment.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub file: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub overrides: Overrides,
}

impl Sources {
    pub fn from_process(file: Option<PathBuf>, overrides: Overrides) -> Self {
        Self {
            file,
            env: std::env::vars().collect(),
            overrides,
        }
    }
}

/// `PORTCULLIS_A__B=v` as `a.b = v`, with errors naming the variable.
struct PrefixedEnv<'a>(&'a [(String, String)]);

impl Provider for PrefixedEnv<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable").interpolater(|_profile, keys| {
            format!("{ENV_PREFIX}{}", keys.join("__").to_uppercase())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (name, raw) in self.0 {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if rest.is_empty() || NOT_KEYS.contains(&rest) {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.clone()));
            insert_nested(&mut dict, &path, value);
        }
        Ok(Profile::Default.collect(dict))
    }
}

fn insert_nested(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert_nested(inner, rest, value);
            } else {
                let mut inner = Dict::new();
                insert_nested(&mut inner, rest, value);
                *entry = Value::from(inner);
            }
        }
    }
}

/// Flags, nested the same way as the file.
fn override_dict(o: &Overrides) -> Dict {
    let mut dict = Dict::new();
    let mut put = |path: &[&str], v: Option<Value>| {
        if let Some(v) = v {
            let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
            insert_nested(&mut dict, &path, v);
        }
    };
    put(&["issuer"], o.issuer.clone().map(Value::from));
    put(
        &["data_dir"],
        o.data_dir
            .as_ref()
            .map(|p| Value::from(p.to_string_lossy().into_owned())),
    );
    put(
        &["database", "url"],
        o.database_url.clone().map(Value::from),
    );
    put(&["http", "bind"], o.http_bind.clone().map(Value::from));
    put(&["admin", "bind"], o.admin_bind.clone().map(Value::from));
    put(
        &["log", "format"],
        o.log_format.map(|f| {
            Value::from(match f {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            })
        }),
    );
    put(&["log", "level"], o.log_level.clone().map(Value::from));
    dict
}

struct FlagProvider(Dict);

impl Provider for FlagProvider {
    fn metadata(&self) -> Metadata {
        Metadata::named("command-line flag")
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

// ---------------------------------------------------------------- validated

/// SQLite runs every statement on our own threads and writes one at a time: four
/// connections keep both cores of a small machine busy, and each more costs a page cache
/// and a database thread (at most 512 KiB and a malloc arena each: the difference between
/// 62.6 and 60.7 MiB peak under the benchmark's load, with the same throughput). Postgres
/// waits on round trips, so more connections overlap more of them.
pub fn default_pool_size(backend: Backend) -> u32 {
    match backend {
        Backend::Sqlite => 4,
        Backend::Postgres => 8,
    }
}

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

/// The issuer URL, exactly as tokens and discovery carry it (no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(String);

impl Issuer {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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
}

/// Where the master keys come from.
#[derive(Clone)]
pub enum MasterKeySource {
    Configured(std::sync::Arc<MasterKeys>),
    /// Development only (loopback issuer): read or create this file.
    DevFile(PathBuf),
}

impl std::fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Configured(keys) => write!(f, "Configured({} key(s))", keys.fingerprints().len()),
            Self::DevFile(path) => write!(f, "DevFile({})", path.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeysConfig {
    pub master_keys: MasterKeySource,
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
    pub user: crate::oauth::throttle::ThrottlePolicy,
    pub ip: crate::oauth::throttle::ThrottlePolicy,
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

#[derive(Debug, Clone)]
pub struct UiConfig {
    pub product_name: String,
    pub logo_url: Option<String>,
    pub extra_stylesheet: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub token_per_second: u32,
    pub token_burst: u32,
    pub trusted_proxies: Vec<IpAddr>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub issuer: Issuer,
    pub data_dir: PathBuf,
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
    pub rate_limit: RateLimitConfig,
    pub sessions: SessionsConfig,
    pub ui: UiConfig,
    pub janitor: JanitorConfig,
}

impl Config {
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let figment = figment(sources)?;
        let raw: RawConfig = figment
            .extract()
            .map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        validate(&figment, raw)
    }

    /// The effective configuration for `config check`, with secrets redacted.
    pub fn redacted(&self) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.issuer.as_str(),
            "data_dir": self.data_dir,
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
            "ui": {
                "product_name": self.ui.product_name,
                "logo_url": self.ui.logo_url,
                "extra_stylesheet": self.ui.extra_stylesheet,
            },
            "rate_limit": {
                "token_per_second": self.rate_limit.token_per_second,
                "token_burst": self.rate_limit.token_burst,
                "trusted_proxies": self.rate_limit.trusted_proxies,
            },
            "password": {
                "memory_kib": self.password.memory_kib,
                "iterations": self.password.iterations,
                "parallelism": self.password.parallelism,
                "workers": self.password.workers,
                "queue_limit": self.password.queue_limit,
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

fn figment(sources: &Sources) -> Result<Figment, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
    if let Some(path) = &sources.file {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        // Parse here first so a syntax error names the file and line, not a key.
        if let Err(e) = text.parse::<toml::Table>() {
            return Err(ConfigError::File {
                path: path.clone(),
                reason: format!("invalid TOML: {}", e.message()),
            });
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    if let Some((_, url)) = sources.env.iter().find(|(k, _)| k == "DATABASE_URL") {
        figment = figment.merge(DatabaseUrlEnv(url.clone()));
    }
    figment = figment.merge(PrefixedEnv(&sources.env));
    figment = figment.merge(FlagProvider(override_dict(&sources.overrides)));
    Ok(figment)
}

/// `DATABASE_URL`, the name most tools use, below the prefixed variables.
struct DatabaseUrlEnv(String);

impl Provider for DatabaseUrlEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable DATABASE_URL")
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        insert_nested(
            &mut dict,
            &["database".to_owned(), "url".to_owned()],
            Value::from(self.0.clone()),
        );
        Ok(Profile::Default.collect(dict))
    }
}

fn describe_figment_error(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Names where the value of `key` came from, for error messages.
fn origin(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(meta) => {
            if let Some(figment::Source::File(path)) = &meta.source {
                return format!("file {}", path.display());
            }
            if meta.name == "environment variable" {
                let keys: Vec<&str> = key.split('.').collect();
                return format!(
                    "environment variable {}",
                    meta.interpolate(&Profile::Default, &keys)
                );
            }
            meta.name.to_string()
        }
        None => "defaults".into(),
    }
}

fn invalid(figment: &Figment, key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        origin: origin(figment, key),
        reason: reason.into(),
    }
}

fn validate(figment: &Figment, raw: RawConfig) -> Result<Config, ConfigError> {
    let issuer = parse_issuer(&raw.issuer).map_err(|r| invalid(figment, "issuer", r))?;

    let url_text = match (&raw.database.url, &raw.database.url_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                figment,
                "database.url_file",
                "set either database.url or database.url_file, not both",
            ));
        }
        (Some(url), None) => url.clone(),
        (None, Some(path)) => {
            read_secret_file(path).map_err(|r| invalid(figment, "database.url_file", r))?
        }
        (None, None) => format!("sqlite://{}", raw.data_dir.join("portcullis.db").display()),
    };
    let url = DatabaseUrl::parse(&url_text)
        .map_err(|e| invalid(figment, "database.url", e.to_string()))?;
    let pool_size = raw
        .database
        .pool_size
        .unwrap_or_else(|| default_pool_size(url.backend()));
    if pool_size == 0 || pool_size > 512 {
        return Err(invalid(
            figment,
            "database.pool_size",
            "must be between 1 and 512",
        ));
    }
    if raw.database.connect_timeout_secs == 0 || raw.database.connect_timeout_secs > 300 {
        return Err(invalid(
            figment,
            "database.connect_timeout_secs",
            "must be between 1 and 300",
        ));
    }

    let http_bind = parse_bind(&raw.http.bind).map_err(|r| invalid(figment, "http.bind", r))?;
    let admin_bind = parse_bind(&raw.admin.bind).map_err(|r| invalid(figment, "admin.bind", r))?;
    if http_bind == admin_bind && http_bind.port() != 0 {
        return Err(invalid(
            figment,
            "admin.bind",
            "the admin listener must not share the public listener's address",
        ));
    }
    if raw.http.shutdown_delay_secs > 300 {
        return Err(invalid(
            figment,
            "http.shutdown_delay_secs",
            "must be at most 300",
        ));
    }

    if raw.http.idle_poll_us > MAX_IDLE_POLL_US {
        return Err(invalid(
            figment,
            "http.idle_poll_us",
            "must be at most 1000 (one millisecond)",
        ));
    }

    if tracing_subscriber::EnvFilter::try_new(&raw.log.level).is_err() {
        return Err(invalid(
            figment,
            "log.level",
            "not a log filter (try `info`, `debug` or `portcullis=debug,info`)",
        ));
    }

    let p = &raw.password;
    if argon2::Params::new(p.memory_kib, p.iterations, p.parallelism, None).is_err() {
        return Err(invalid(
            figment,
            "password.memory_kib",
            "argon2 parameters out of range (memory_kib >= 8 x parallelism, iterations >= 1, parallelism >= 1)",
        ));
    }
    if p.memory_kib < 7_168 || p.iterations < 1 {
        return Err(invalid(
            figment,
            "password.memory_kib",
            "below OWASP's minimum for argon2id (7168 KiB with 5 iterations; default 19456 KiB, 2 iterations)",
        ));
    }
    if p.queue_limit == 0 || p.queue_limit > 100_000 {
        return Err(invalid(
            figment,
            "password.queue_limit",
            "must be between 1 and 100000",
        ));
    }
    let workers = if p.workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        p.workers
    };

    let keys = validate_keys(figment, &raw.keys, &issuer)?;
    let tokens = validate_tokens(figment, &raw.tokens)?;
    let login = validate_login(figment, &raw.login)?;
    if raw.rate_limit.token_per_second > 0 && raw.rate_limit.token_burst == 0 {
        return Err(invalid(
            figment,
            "rate_limit.token_burst",
            "must be at least 1",
        ));
    }
    let rate_limit = RateLimitConfig {
        token_per_second: raw.rate_limit.token_per_second,
        token_burst: raw.rate_limit.token_burst,
        trusted_proxies: raw.rate_limit.trusted_proxies.clone(),
    };

    if !(60..=30 * 86_400).contains(&raw.sessions.idle_secs)
        || raw.sessions.absolute_secs < raw.sessions.idle_secs
        || raw.sessions.absolute_secs > 366 * 86_400
    {
        return Err(invalid(
            figment,
            "sessions.idle_secs",
            "idle must be 60 s to 30 days and no longer than sessions.absolute_secs (at most a year)",
        ));
    }
    let sessions = SessionsConfig {
        idle: raw.sessions.idle_secs,
        absolute: raw.sessions.absolute_secs,
    };
    for (key, value) in [
        ("ui.logo_url", &raw.ui.logo_url),
        ("ui.extra_stylesheet", &raw.ui.extra_stylesheet),
    ] {
        if let Some(v) = value {
            let ok = v.starts_with('/') && !v.starts_with("//")
                || url::Url::parse(v).is_ok_and(|u| u.scheme() == "https");
            if !ok {
                let key: &'static str = key;
                return Err(invalid(
                    figment,
                    key,
                    "must be an https URL or a path on this server",
                ));
            }
        }
    }
    if raw.ui.product_name.trim().is_empty() || raw.ui.product_name.len() > 100 {
        return Err(invalid(
            figment,
            "ui.product_name",
            "must be 1 to 100 characters",
        ));
    }
    let ui = UiConfig {
        product_name: raw.ui.product_name.clone(),
        logo_url: raw.ui.logo_url.clone(),
        extra_stylesheet: raw.ui.extra_stylesheet.clone(),
    };
    if !(1..=86_400).contains(&raw.janitor.interval_secs) {
        return Err(invalid(
            figment,
            "janitor.interval_secs",
            "must be 1 to 86400 seconds",
        ));
    }
    if !(1..=100_000).contains(&raw.janitor.batch_size) {
        return Err(invalid(
            figment,
            "janitor.batch_size",
            "must be 1 to 100000 rows",
        ));
    }
    if !(1..=10_000).contains(&raw.janitor.max_batches) {
        return Err(invalid(
            figment,
            "janitor.max_batches",
            "must be 1 to 10000",
        ));
    }
    let janitor = JanitorConfig {
        interval: Duration::from_secs(raw.janitor.interval_secs),
        batch_size: raw.janitor.batch_size,
        max_batches: raw.janitor.max_batches,
    };

    Ok(Config {
        sessions,
        ui,
        janitor,
        login,
        rate_limit,
        keys,
        tokens,
        issuer,
        data_dir: raw.data_dir,
        database: DatabaseConfig {
            url,
            pool_size,
            migrate_on_start: raw.database.migrate_on_start,
            connect_timeout: Duration::from_secs(raw.database.connect_timeout_secs),
        },
        http_bind,
        admin_bind,
        shutdown_delay: Duration::from_secs(raw.http.shutdown_delay_secs),
        idle_poll: Duration::from_micros(raw.http.idle_poll_us),
        log_format: raw.log.format,
        log_level: raw.log.level,
        password: PasswordConfig {
            memory_kib: p.memory_kib,
            iterations: p.iterations,
            parallelism: p.parallelism,
            workers,
            queue_limit: p.queue_limit,
        },
    })
}

fn validate_keys(
    figment: &Figment,
    raw: &RawKeys,
    issuer: &Issuer,
) -> Result<KeysConfig, ConfigError> {
    let encoded: Option<Vec<String>> = match (&raw.master_keys, &raw.master_keys_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                figment,
                "keys.master_keys_file",
                "set either keys.master_keys or keys.master_keys_file, not both",
            ));
        }
        (Some(list), None) => Some(list.clone()),
        (None, Some(path)) => Some(
            read_secret_file(path)
                .map_err(|r| invalid(figment, "keys.master_keys_file", r))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect(),
        ),
        (None, None) => None,
    };
    let master_keys = match encoded {
        Some(list) => {
            let key = if raw.master_keys.is_some() {
                "keys.master_keys"
            } else {
                "keys.master_keys_file"
            };
            let mut parsed = Vec::with_capacity(list.len());
            for (n, item) in list.iter().enumerate() {
                parsed.push(
                    MasterKey::from_base64(item).map_err(|e| {
                        invalid(figment, key, format!("master key #{}: {e}", n + 1))
                    })?,
                );
            }
            MasterKeySource::Configured(std::sync::Arc::new(
                MasterKeys::new(parsed).map_err(|e| invalid(figment, key, e.to_string()))?,
            ))
        }
        None => {
            let loopback = url::Url::parse(issuer.as_str())
                .ok()
                .and_then(|u| u.host().map(|h| is_loopback_host(&h)))
                .unwrap_or(false);
            if !loopback {
                return Err(invalid(
                    figment,
                    "keys.master_keys",
                    "required when the issuer is not a loopback address (generate one with `openssl rand -base64 32`)",
                ));
            }
            MasterKeySource::DevFile(raw.dev_master_key_file.clone())
        }
    };
    if !crate::crypto::key_material::RSA_KEY_SIZES.contains(&raw.rsa_bits) {
        return Err(invalid(
            figment,
            "keys.rsa_bits",
            "must be 2048, 3072 or 4096",
        ));
    }
    if !(60..=86_400).contains(&raw.jwks_max_age_secs) {
        return Err(invalid(
            figment,
            "keys.jwks_max_age_secs",
            "must be between 60 and 86400",
        ));
    }
    if raw.rotation_period_secs < 3600 || raw.rotation_period_secs < 4 * raw.jwks_max_age_secs {
        return Err(invalid(
            figment,
            "keys.rotation_period_secs",
            "must be at least an hour and at least 4 x keys.jwks_max_age_secs",
        ));
    }
    if !(1..=3600).contains(&raw.reload_interval_secs) {
        return Err(invalid(
            figment,
            "keys.reload_interval_secs",
            "must be between 1 and 3600",
        ));
    }
    Ok(KeysConfig {
        master_keys,
        rsa_bits: raw.rsa_bits,
        rotation_period: raw.rotation_period_secs,
        jwks_max_age: raw.jwks_max_age_secs,
        reload_interval: Duration::from_secs(raw.reload_interval_secs),
    })
}

fn validate_tokens(figment: &Figment, raw: &RawTokens) -> Result<TokensConfig, ConfigError> {
    if !(1..=86_400).contains(&raw.access_token_lifetime_secs) {
        return Err(invalid(
            figment,
            "tokens.access_token_lifetime_secs",
            "must be between 1 second and 1 day",
        ));
    }
    if !(1..=86_400).contains(&raw.id_token_lifetime_secs) {
        return Err(invalid(
            figment,
            "tokens.id_token_lifetime_secs",
            "must be between 1 second and 1 day",
        ));
    }
    if !(0..=600).contains(&raw.clock_skew_secs) {
        return Err(invalid(
            figment,
            "tokens.clock_skew_secs",
            "must be between 0 and 600",
        ));
    }
    if !(60..=366 * 86_400).contains(&raw.refresh_token_idle_secs) {
        return Err(invalid(
            figment,
            "tokens.refresh_token_idle_secs",
            "must be between 60 seconds and 366 days",
        ));
    }
    if raw.refresh_token_absolute_secs < raw.refresh_token_idle_secs
        || raw.refresh_token_absolute_secs > 3 * 366 * 86_400
    {
        return Err(invalid(
            figment,
            "tokens.refresh_token_absolute_secs",
            "must be at least tokens.refresh_token_idle_secs and at most 3 years",
        ));
    }
    if raw.client_cache_secs > 60 {
        return Err(invalid(
            figment,
            "tokens.client_cache_secs",
            "must be at most 60 (disabling a client must take effect quickly)",
        ));
    }
    if raw.introspection_cache_ms > 60_000 {
        return Err(invalid(
            figment,
            "tokens.introspection_cache_ms",
            "must be at most 60000 (a revocation must take effect quickly)",
        ));
    }
    let max_lease = crate::store::agreement::MAX_LEASE.as_millis();
    if raw.replica_lease_ms != 0 && !(50..=max_lease).contains(&u128::from(raw.replica_lease_ms)) {
        return Err(invalid(
            figment,
            "tokens.replica_lease_ms",
            "must be 0 (off) or between 50 and 10000",
        ));
    }
    Ok(TokensConfig {
        access_token_lifetime: raw.access_token_lifetime_secs,
        id_token_lifetime: raw.id_token_lifetime_secs,
        clock_skew: raw.clock_skew_secs,
        refresh_token_idle: raw.refresh_token_idle_secs,
        refresh_token_absolute: raw.refresh_token_absolute_secs,
        client_cache: Duration::from_secs(raw.client_cache_secs),
        introspection_cache: Duration::from_millis(raw.introspection_cache_ms),
        replica_lease: Duration::from_millis(raw.replica_lease_ms),
    })
}

fn validate_login(figment: &Figment, raw: &RawLogin) -> Result<LoginConfig, ConfigError> {
    use crate::oauth::throttle::ThrottlePolicy;
    let user = ThrottlePolicy {
        max_failures: raw.max_failures,
        window_secs: raw.window_secs,
        base_delay_secs: 1,
        max_delay_secs: raw.max_delay_secs,
        lock_after_failures: raw.lock_after_failures,
        lock_secs: raw.lock_secs,
    };
    user.validate()
        .map_err(|r| invalid(figment, "login.max_failures", r))?;
    let ip = ThrottlePolicy {
        max_failures: raw.ip_max_failures,
        lock_after_failures: raw.ip_lock_after_failures,
        ..user
    };
    ip.validate()
        .map_err(|r| invalid(figment, "login.ip_max_failures", r))?;
    Ok(LoginConfig { user, ip })
}

fn read_secret_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(trimmed.to_owned())
}

fn parse_bind(raw: &str) -> Result<SocketAddr, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("`{raw}` is not an address and port like 127.0.0.1:8080 or [::]:8080"))
}

/// True for 127.0.0.0/8, ::1 and `localhost`: the hosts where plain http cannot be
/// intercepted off the machine.
pub fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

fn parse_issuer(raw: &str) -> Result<Issuer, String> {
    let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment (RFC 8414 section 2)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    let host = url.host().ok_or("must have a host")?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&host) => {}
        "http" => return Err("must use https unless the host is a loopback address".into()),
        other => return Err(format!("scheme `{other}` is not http or https")),
    }
    // Keep the operator's spelling, minus a trailing slash, so `iss` matches exactly.
    Ok(Issuer(raw.trim_end_matches('/').to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules() {
        assert!(parse_issuer("http://127.0.0.1:8080").is_ok());
        assert!(parse_issuer("http://localhost:8080/").is_ok());
        assert!(parse_issuer("http://[::1]:8080").is_ok());
        assert!(parse_issuer("https://auth.example.com").is_ok());
        assert!(parse_issuer("http://auth.example.com").is_err());
        assert!(parse_issuer("https://auth.example.com?x=1").is_err());
        assert!(parse_issuer("ftp://127.0.0.1").is_err());
        assert_eq!(
            parse_issuer("https://auth.example.com/realm/").map(|i| i.0),
            Ok("https://auth.example.com/realm".to_owned())
        );
    }

    #[test]
    fn nested_env_keys() {
        let env = vec![
            ("PORTCULLIS_DATABASE__POOL_SIZE".to_owned(), "3".to_owned()),
            (
                "PORTCULLIS_TEST_DATABASE_URL".to_owned(),
                "postgres://x".to_owned(),
            ),
            ("HOME".to_owned(), "/root".to_owned()),
        ];
        let config = Config::load(&Sources {
            env,
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(config.database.pool_size, 3);
    }
}
