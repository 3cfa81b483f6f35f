//! The configuration as written: the serde shape every source (defaults, file, environment,
//! flags) is merged into before validation. Defaults live here, next to the fields.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// An idle server stops polling this long after its last request, and a crowded one backs
/// off (`crate::crowding`); in between, each request may cost this much CPU more.
/// On a 2-vCPU VM it halved the round trip at concurrency 1 (bench/README.md).
const DEFAULT_IDLE_POLL_US: u64 = 100;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub issuer: String,
    pub data_dir: PathBuf,
    /// A file holding the first `admin`'s password, for an operator who supplies it
    /// (`PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD_FILE`); unset, one is generated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_admin_password_file: Option<PathBuf>,
    pub database: RawDatabase,
    pub http: RawHttp,
    pub admin: RawAdmin,
    pub log: RawLog,
    pub password: RawPassword,
    pub keys: RawKeys,
    pub tokens: RawTokens,
    pub login: RawLogin,
    pub authorize: RawAuthorize,
    pub rate_limit: RawRateLimit,
    pub sessions: RawSessions,
    pub ui: RawUi,
    pub janitor: RawJanitor,
    pub audit: RawAudit,
    pub mfa: RawMfa,
    pub registration: RawRegistration,
    pub cors: RawCors,
    pub email: RawEmail,
    pub proxy: RawProxy,
    pub telemetry: super::telemetry::RawTelemetry,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            bootstrap_admin_password_file: None,
            database: RawDatabase::default(),
            http: RawHttp::default(),
            admin: RawAdmin::default(),
            log: RawLog::default(),
            password: RawPassword::default(),
            keys: RawKeys::default(),
            tokens: RawTokens::default(),
            login: RawLogin::default(),
            authorize: RawAuthorize::default(),
            rate_limit: RawRateLimit::default(),
            sessions: RawSessions::default(),
            ui: RawUi::default(),
            janitor: RawJanitor::default(),
            audit: RawAudit::default(),
            mfa: RawMfa::default(),
            registration: RawRegistration::default(),
            cors: RawCors::default(),
            email: RawEmail::default(),
            proxy: RawProxy::default(),
            telemetry: Default::default(),
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
    /// The shortest new password accepted, in characters (8 to 64; 12 recommended).
    pub min_length: usize,
}

impl Default for RawPassword {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            workers: 0,
            queue_limit: 64,
            min_length: super::MIN_PASSWORD_CHARS,
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
    /// Base64 32-byte keys of the audit chain's HMAC, kept apart from the master keys; the
    /// first links new rows, all verify. Unset: derived from the master keys.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_list"
    )]
    pub audit_keys: Option<Vec<String>>,
    /// A file with one base64 audit key per line (first links).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_keys_file: Option<PathBuf>,
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
            audit_keys: None,
            audit_keys_file: None,
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

/// Bounds on the authorization requests `/authorize` stores while the user signs in: an
/// unauthenticated flood cannot grow the table past them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAuthorize {
    /// Live pending requests one client network (the rate limits' counting key) may hold.
    pub max_pending_per_address: u32,
    /// Live pending requests the whole server (every replica) may hold.
    pub max_pending_total: u32,
}

impl Default for RawAuthorize {
    // A person starts a handful of sign-ins in ten minutes (a request lives 600 s); an
    // office behind one NAT address may need more. The total keeps the table small.
    fn default() -> Self {
        Self {
            max_pending_per_address: 50,
            max_pending_total: 100_000,
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
    /// How long a browser keeps the device cookie a login gives it (OWASP device cookies).
    pub device_cookie_days: i64,
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
            device_cookie_days: 365,
        }
    }
}

/// Which forwarding header the trusted proxies write (`crate::http::client_ip` reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyHeader {
    XForwardedFor,
    /// RFC 7239.
    Forwarded,
}

impl ProxyHeader {
    pub fn name(self) -> &'static str {
        match self {
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::Forwarded => "forwarded",
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
    /// Deprecated: `proxy.trusted_proxies`. Still read (with a warning at start) so an
    /// existing deployment keeps its client addresses across the upgrade.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_list"
    )]
    pub trusted_proxies: Option<Vec<String>>,
    /// Deprecated: `proxy.header`, read like `trusted_proxies` above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_header: Option<ProxyHeader>,
    /// IPv6 clients are counted per network of this many bits (one subscriber gets a /64).
    pub ipv6_prefix_len: u8,
    /// One bucket per public endpoint (every endpoint but /token, which keeps the two
    /// settings above); `per_second = 0` turns one off.
    pub endpoints: RawEndpointBuckets,
    /// Failed client authentications per address at /token, /introspect and /revoke,
    /// counted apart from requests: consulted before a secret is checked.
    pub client_auth_failures: RawBucket,
}

/// One per-address token bucket: sustained requests per second and the burst on top.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBucket {
    pub per_second: u32,
    pub burst: u32,
}

/// The buckets by endpoint name (`crate::config::ENDPOINT_BUCKETS`). Named fields rather
/// than a map, so a misspelt endpoint is refused at start instead of silently unlimited.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEndpointBuckets {
    pub authorize: RawBucket,
    pub login: RawBucket,
    pub consent: RawBucket,
    pub select_account: RawBucket,
    pub logout: RawBucket,
    pub userinfo: RawBucket,
    pub introspect: RawBucket,
    pub revoke: RawBucket,
    /// Dynamic client registration (`/register` and `/register/{client_id}`).
    pub register: RawBucket,
    /// Discovery, keys, health, the stylesheet and any path without its own bucket.
    pub other: RawBucket,
}

impl Default for RawEndpointBuckets {
    // Generous: well above one person's use and the benchmarks' load from one address,
    // low enough that a single address cannot flood the database-backed endpoints.
    fn default() -> Self {
        let b = |per_second, burst| RawBucket { per_second, burst };
        Self {
            authorize: b(50, 200),
            login: b(50, 200),
            consent: b(50, 200),
            select_account: b(50, 200),
            logout: b(50, 200),
            userinfo: b(200, 400),
            introspect: b(500, 1000),
            revoke: b(200, 400),
            // A client registers once per installation: a handful a minute from one
            // address is plenty, and each registration is a row.
            register: b(1, 20),
            other: b(500, 1000),
        }
    }
}

impl Default for RawRateLimit {
    fn default() -> Self {
        Self {
            token_per_second: 200,
            token_burst: 400,
            trusted_proxies: None,
            proxy_header: None,
            ipv6_prefix_len: 64,
            endpoints: RawEndpointBuckets::default(),
            // A client with the right secret never fails; one with a stale secret fails a
            // few times before someone looks. Guessing a 256-bit secret is hopeless anyway:
            // this bounds the work a guesser makes us do.
            client_auth_failures: RawBucket {
                per_second: 1,
                burst: 20,
            },
        }
    }
}

/// The reverse proxies in front of the public listener (`config::proxy`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawProxy {
    /// Addresses or CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`) of the proxies whose
    /// forwarding header is believed. In the environment a comma- or space-separated list
    /// (or `[a, b]`). Unset here and in the deprecated `rate_limit.trusted_proxies`: none.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_list"
    )]
    pub trusted_proxies: Option<Vec<String>>,
    /// The one forwarding header those proxies write; the other is never read. Unset:
    /// `x-forwarded-for` (or the deprecated `rate_limit.proxy_header`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<ProxyHeader>,
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

/// How much the audit log keeps (see `crate::audit`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAudit {
    /// Login attempts refused by the throttle before any password check are counted per
    /// throttling key in windows of this many seconds, and each window becomes one
    /// `login.throttled` event with its count, instead of one row per attempt.
    pub throttled_window_secs: i64,
    /// Audit rows older than this many days are pruned by the janitor, behind an
    /// `audit.checkpoint` row that lets `audit verify` still prove what is left.
    /// 0 keeps every row.
    pub retention_days: i64,
}

impl Default for RawAudit {
    fn default() -> Self {
        Self {
            throttled_window_secs: 300,
            retention_days: 0,
        }
    }
}

/// Who must use a second factor whatever client they sign in through (issue 20's policy;
/// a client's own `require_mfa` is the other half).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMfa {
    /// A user holding any of these roles is asked for a second factor, and led to enrol
    /// one when they have none. In the environment a comma- or space-separated list (or
    /// `[a, b]`); empty asks no one by role.
    #[serde(deserialize_with = "list_or_string")]
    pub required_roles: Vec<String>,
}

impl Default for RawMfa {
    // Whoever can change users and clients is the account a phished password must not
    // open on its own.
    fn default() -> Self {
        Self {
            required_roles: vec!["admin".into()],
        }
    }
}

/// Who may register clients at the registration endpoint (RFC 7591), and what they may
/// get (`oauth::registration::policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// No registration endpoint (the default): clients are made by operators only.
    Closed,
    /// Registration needs an initial access token (`client registration-token create`).
    InitialAccessToken,
    /// Anyone may register, as MCP clients expect; the policy bounds what they get.
    Open,
}

impl RegistrationMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::InitialAccessToken => "initial_access_token",
            Self::Open => "open",
        }
    }
}

/// Dynamic client registration (issue 21): RFC 7591 and RFC 7592 at `/register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRegistration {
    pub mode: RegistrationMode,
    /// The scopes a registered client may ask for; never `admin`. In the environment a
    /// comma- or space-separated list.
    #[serde(deserialize_with = "list_or_string")]
    pub allowed_scopes: Vec<String>,
    /// RFC 8707 resources a registered client may name, as patterns
    /// (`config::ResourcePattern`): exact URIs, or a prefix ending in `/*`. Empty: its
    /// tokens are for this server only.
    #[serde(deserialize_with = "list_or_string")]
    pub allowed_resources: Vec<String>,
    /// A registered client that has not been issued a token for this many days is deleted
    /// by the janitor (a client never used: counted from its registration).
    pub idle_days: i64,
    /// Registered clients (origin `registration`) the server keeps at most; registration
    /// answers `temporarily_unavailable` beyond it, so anonymous registrations cannot grow
    /// the table without bound. Clients from metadata documents (origin
    /// `metadata_document`) are counted apart, against the same bound.
    pub max_clients: u32,
    /// Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document, the
    /// MCP default): a `client_id` that is an https URL is fetched, through the SSRF guard
    /// (`src/outbound`), and its JSON checked by the registration policy. Off by default.
    pub metadata_documents: bool,
    /// DEVELOPMENT ONLY: also fetch documents over plain http and from loopback, private
    /// and link-local addresses (the machine the server runs on, its network, cloud
    /// metadata services). Refused unless the issuer is on a loopback host.
    pub metadata_documents_allow_private: bool,
    /// A fetched document is used for its `Cache-Control: max-age`, but at least this many
    /// seconds (also when it says `no-store`, or nothing) ...
    pub metadata_document_min_cache_secs: i64,
    /// ... and at most this many, after which it is fetched again.
    pub metadata_document_max_cache_secs: i64,
    /// People may create their own account at `/signup` (issue 22): username, address and
    /// password; the account exists, and can sign in, once the address is verified by the
    /// link mailed to it. Off by default (`/signup` is then 404).
    pub self_signup: bool,
    /// When not empty, self sign-up accepts only addresses in these domains (exact,
    /// case-insensitive: `example.com` does not admit `mail.example.com`). In the
    /// environment a comma- or space-separated list.
    #[serde(deserialize_with = "list_or_string")]
    pub self_signup_email_domains: Vec<String>,
}

impl Default for RawRegistration {
    fn default() -> Self {
        Self {
            mode: RegistrationMode::Closed,
            allowed_scopes: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            allowed_resources: Vec::new(),
            idle_days: 30,
            max_clients: 10_000,
            metadata_documents: false,
            metadata_documents_allow_private: false,
            metadata_document_min_cache_secs: 300,
            metadata_document_max_cache_secs: 86_400,
            self_signup: false,
            self_signup_email_domains: Vec::new(),
        }
    }
}

/// Cross-origin requests from browser apps (issue 21; `http::cors`). The origins of every
/// enabled client's redirect URIs are allowed without being listed here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawCors {
    /// Further origins (`https://app.example.com`) whose pages may call the token,
    /// userinfo, revocation and registration endpoints: an app that signs in through a
    /// client registered under another origin, say. In the environment a comma- or
    /// space-separated list.
    #[serde(deserialize_with = "list_or_string")]
    pub allowed_origins: Vec<String>,
}

/// How outbound email leaves (issue 22; `crate::mail` sends the outbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailBackendKind {
    /// Through an SMTP server (`email.smtp.*`).
    Smtp,
    /// DEVELOPMENT: each message, links and all, is written to the log instead of sent.
    Log,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a relay on the same host or network only; no credentials off loopback).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte ("implicit TLS", port 465).
    Tls,
}

impl SmtpTls {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Starttls => "starttls",
            Self::Tls => "tls",
        }
    }
}

/// Outbound email: the outbox worker and where it sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawEmail {
    pub backend: EmailBackendKind,
    /// The `From` of every message (`Portcullis <id@example.com>` or a bare address).
    /// Required with the `smtp` backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub smtp: RawSmtp,
    /// Seconds between looks at the outbox for due messages and retries (a message
    /// enqueued on this replica is sent at once).
    pub poll_interval_secs: u64,
    /// Attempts per message before it is marked failed.
    pub max_attempts: u32,
    /// A message not sent this many seconds after it was enqueued is marked failed.
    pub give_up_after_secs: i64,
    /// Sent and failed messages are deleted by the janitor after this many days.
    pub keep_days: i64,
}

impl Default for RawEmail {
    fn default() -> Self {
        Self {
            backend: EmailBackendKind::Log,
            from: None,
            smtp: RawSmtp::default(),
            poll_interval_secs: 5,
            max_attempts: 10,
            give_up_after_secs: 86_400,
            keep_days: 7,
        }
    }
}

/// The SMTP server (`email.smtp.*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSmtp {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Unset: 25 with `tls = "none"`, 587 with `starttls`, 465 with `tls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub tls: SmtpTls,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub username: Option<String>,
    /// A secret: never printed (`config check` says only whether it is set).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_number"
    )]
    pub password: Option<String>,
    /// A file holding the password instead (for secrets mounted by an orchestrator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// PEM certificates trusted besides the Mozilla roots (a private CA's relay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Seconds one connection and delivery attempt may take.
    pub timeout_secs: u64,
}

impl Default for RawSmtp {
    fn default() -> Self {
        Self {
            host: None,
            port: None,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            password_file: None,
            ca_file: None,
            timeout_secs: 30,
        }
    }
}

/// An optional string that the environment may have spelt as a number (a password of
/// digits in `PORTCULLIS_EMAIL__SMTP__PASSWORD` arrives as one).
fn string_or_number<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        String(String),
        Int(i64),
        Uint(u64),
        Float(f64),
        Bool(bool),
    }
    Ok(Option::<Text>::deserialize(deserializer)?.map(|t| match t {
        Text::String(s) => s,
        Text::Int(n) => n.to_string(),
        Text::Uint(n) => n.to_string(),
        Text::Float(n) => n.to_string(),
        Text::Bool(b) => b.to_string(),
    }))
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
    /// Templates that replace or add to the built-in ones, by the same relative name
    /// (`login.html`, `mail/password_reset.txt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templates_dir: Option<String>,
    /// Fluent catalogues, `<lang>/*.ftl`, that replace built-in messages or add languages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locales_dir: Option<String>,
    /// The language of a person whose browser asks for none we have.
    pub default_locale: String,
}

impl Default for RawUi {
    fn default() -> Self {
        Self {
            product_name: "Portcullis".into(),
            logo_url: None,
            extra_stylesheet: None,
            templates_dir: None,
            locales_dir: None,
            default_locale: "en".into(),
        }
    }
}

/// A list as `string_or_list` reads one, for a setting that is always present (an
/// environment variable set to the empty string is the empty list).
fn list_or_string<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(string_or_list(deserializer)?.unwrap_or_default())
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
