//! Raw configuration to typed [`Config`]: every range and rule, each failure naming the
//! key and where its value came from.

use std::net::SocketAddr;
use std::time::Duration;

use figment::Figment;

use super::master_key::{MasterKey, MasterKeySource, MasterKeys};
use super::proxy::ProxyConfig;
use super::raw::{ProxyHeader, RawConfig, RawKeys, RawLogin, RawRegistration, RawTokens};
use super::sources::{invalid, origin, read_secret_file};
use super::{
    AuditConfig, Config, ConfigError, CorsConfig, DatabaseConfig, Issuer, JanitorConfig,
    KeysConfig, LoginConfig, MetadataDocumentsConfig, MfaConfig, OtlpConfig, PasswordConfig,
    RSA_KEY_SIZES, RateLimitConfig, RegistrationConfig, ResourcePattern, SessionsConfig,
    TelemetryConfig, ThrottlePolicy, TokensConfig, UiConfig,
};
use crate::store::{Backend, DatabaseUrl};
use crate::url_rules::is_loopback_host;

/// Beyond a millisecond, polling buys nothing a sleeping thread's wake-up would cost.
const MAX_IDLE_POLL_US: u64 = 1000;

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

pub(super) fn validate(figment: &Figment, raw: RawConfig) -> Result<Config, ConfigError> {
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
    let (shortest, longest) = (super::MIN_PASSWORD_CHARS, super::MAX_MIN_PASSWORD_CHARS);
    if !(shortest..=longest).contains(&p.min_length) {
        return Err(invalid(
            figment,
            "password.min_length",
            format!(
                "must be between {shortest} and {longest} characters (OWASP ASVS V6.2.1; 12 recommended)"
            ),
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
    if !(32..=128).contains(&raw.rate_limit.ipv6_prefix_len) {
        return Err(invalid(
            figment,
            "rate_limit.ipv6_prefix_len",
            "must be between 32 and 128",
        ));
    }
    let (proxy, deprecations) = validate_proxy(figment, &raw)?;
    let rate_limit = RateLimitConfig {
        token_per_second: raw.rate_limit.token_per_second,
        token_burst: raw.rate_limit.token_burst,
        ipv6_prefix_len: raw.rate_limit.ipv6_prefix_len,
        endpoints: endpoint_buckets(figment, &raw.rate_limit.endpoints)?,
        client_auth_failures: bucket(
            figment,
            "rate_limit.client_auth_failures.burst",
            raw.rate_limit.client_auth_failures,
        )?,
    };
    // No off switch: without a bound an unauthenticated flood grows the table.
    if raw.authorize.max_pending_total == 0 {
        return Err(invalid(
            figment,
            "authorize.max_pending_total",
            "must be at least 1",
        ));
    }
    if !(1..=raw.authorize.max_pending_total).contains(&raw.authorize.max_pending_per_address) {
        return Err(invalid(
            figment,
            "authorize.max_pending_per_address",
            "must be at least 1 and at most authorize.max_pending_total",
        ));
    }
    let authorize = crate::config::AuthorizeConfig {
        max_pending_per_address: raw.authorize.max_pending_per_address,
        max_pending_total: raw.authorize.max_pending_total,
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
        templates_dir: raw.ui.templates_dir.as_ref().map(Into::into),
        locales_dir: raw.ui.locales_dir.as_ref().map(Into::into),
        default_locale: raw.ui.default_locale.trim().to_ascii_lowercase(),
    };
    if ui
        .default_locale
        .parse::<unic_langid::LanguageIdentifier>()
        .is_err()
    {
        return Err(invalid(
            figment,
            "ui.default_locale",
            "must be a language tag such as en or de",
        ));
    }
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

    // A window up to a day: longer ones hold evidence back from the chain for as long.
    if !(1..=86_400).contains(&raw.audit.throttled_window_secs) {
        return Err(invalid(
            figment,
            "audit.throttled_window_secs",
            "must be 1 to 86400 seconds",
        ));
    }
    if !(0..=36_500).contains(&raw.audit.retention_days) {
        return Err(invalid(
            figment,
            "audit.retention_days",
            "must be 0 (keep every row) to 36500 days",
        ));
    }
    let audit = AuditConfig {
        throttled_window_secs: raw.audit.throttled_window_secs,
        retention_days: (raw.audit.retention_days > 0).then_some(raw.audit.retention_days),
    };

    let mfa = MfaConfig::new(raw.mfa.required_roles)
        .map_err(|r| invalid(figment, "mfa.required_roles", r))?;
    let cors = CorsConfig::new(raw.cors.allowed_origins)
        .map_err(|r| invalid(figment, "cors.allowed_origins", r))?;

    let registration = validate_registration(figment, raw.registration, &issuer)?;
    let telemetry = validate_telemetry(figment, &raw.telemetry)?;
    let email = super::email::validate_email(figment, raw.email)?;

    Ok(Config {
        email,
        proxy,
        deprecations,
        telemetry,
        audit,
        mfa,
        registration,
        cors,
        sessions,
        ui,
        janitor,
        login,
        authorize,
        rate_limit,
        keys,
        tokens,
        issuer,
        data_dir: raw.data_dir,
        bootstrap_admin_password_file: raw.bootstrap_admin_password_file,
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
            policy: super::PasswordPolicy {
                min_chars: p.min_length,
            },
        },
    })
}

/// `proxy.*`, or the deprecated `rate_limit.trusted_proxies` / `rate_limit.proxy_header`
/// with a warning for each (returned, for `serve` to log once logging is up). Both forms
/// of one setting at once is an error: which one wins would be a guess about which the
/// operator edited last.
fn validate_proxy(
    figment: &Figment,
    raw: &RawConfig,
) -> Result<(ProxyConfig, Vec<String>), ConfigError> {
    let mut deprecations = Vec::new();
    let entries = match (&raw.proxy.trusted_proxies, &raw.rate_limit.trusted_proxies) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                figment,
                "rate_limit.trusted_proxies",
                "is deprecated and proxy.trusted_proxies is set as well: move every entry \
                 to proxy.trusted_proxies (PORTCULLIS_PROXY__TRUSTED_PROXIES) and remove \
                 this one",
            ));
        }
        (Some(list), None) => Some((list, "proxy.trusted_proxies")),
        (None, Some(list)) => {
            deprecations.push(format!(
                "rate_limit.trusted_proxies (from {}) is deprecated: rename it to \
                 proxy.trusted_proxies (PORTCULLIS_PROXY__TRUSTED_PROXIES), which also \
                 takes CIDR ranges",
                origin(figment, "rate_limit.trusted_proxies")
            ));
            Some((list, "rate_limit.trusted_proxies"))
        }
        (None, None) => None,
    };
    let trusted_proxies = match entries {
        Some((list, key)) => ProxyConfig::parse_list(list).map_err(|r| invalid(figment, key, r))?,
        None => Vec::new(),
    };
    let header = match (raw.proxy.header, raw.rate_limit.proxy_header) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                figment,
                "rate_limit.proxy_header",
                "is deprecated and proxy.header is set as well: keep proxy.header \
                 (PORTCULLIS_PROXY__HEADER) and remove this one",
            ));
        }
        (Some(h), None) => h,
        (None, Some(h)) => {
            deprecations.push(format!(
                "rate_limit.proxy_header (from {}) is deprecated: rename it to proxy.header \
                 (PORTCULLIS_PROXY__HEADER)",
                origin(figment, "rate_limit.proxy_header")
            ));
            h
        }
        (None, None) => ProxyHeader::XForwardedFor,
    };
    Ok((
        ProxyConfig {
            trusted_proxies,
            header,
        },
        deprecations,
    ))
}

/// `[telemetry]`: export is on only with an endpoint; its headers come from the setting or
/// a file (errors never repeat a header's value).
fn validate_telemetry(
    figment: &Figment,
    raw: &super::telemetry::RawTelemetry,
) -> Result<TelemetryConfig, ConfigError> {
    use super::telemetry::{check_service_name, parse_headers, traces_url};
    check_service_name(&raw.service_name)
        .map_err(|r| invalid(figment, "telemetry.service_name", r))?;
    if !(0.0..=1.0).contains(&raw.sample_ratio) {
        return Err(invalid(
            figment,
            "telemetry.sample_ratio",
            "must be between 0 and 1",
        ));
    }
    let headers = match (&raw.otlp_headers, &raw.otlp_headers_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                figment,
                "telemetry.otlp_headers_file",
                "set either telemetry.otlp_headers or telemetry.otlp_headers_file, not both",
            ));
        }
        (Some(text), None) => {
            parse_headers(text).map_err(|r| invalid(figment, "telemetry.otlp_headers", r))?
        }
        (None, Some(path)) => read_secret_file(path)
            .and_then(|text| parse_headers(&text))
            .map_err(|r| invalid(figment, "telemetry.otlp_headers_file", r))?,
        (None, None) => Default::default(),
    };
    let Some(endpoint) = raw
        .otlp_endpoint
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    else {
        if !headers.names().is_empty() {
            return Err(invalid(
                figment,
                "telemetry.otlp_endpoint",
                "headers for a collector are set, but no collector: set telemetry.otlp_endpoint",
            ));
        }
        return Ok(TelemetryConfig { otlp: None });
    };
    let traces_url =
        traces_url(endpoint).map_err(|r| invalid(figment, "telemetry.otlp_endpoint", r))?;
    Ok(TelemetryConfig {
        otlp: Some(OtlpConfig {
            traces_url,
            headers,
            service_name: raw.service_name.clone(),
            sample_ratio: raw.sample_ratio,
        }),
    })
}

/// A list of 32-byte secret keys in base64 (master keys, audit keys), from its setting or
/// from a file of its own with one key per line; errors name the setting and the key's
/// position, never the key.
fn secret_keys(
    figment: &Figment,
    (list_key, file_key, what): (&'static str, &'static str, &str),
    list: Option<&Vec<String>>,
    file: Option<&std::path::PathBuf>,
) -> Result<Option<std::sync::Arc<MasterKeys>>, ConfigError> {
    let (encoded, key): (Vec<String>, &'static str) = match (list, file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                figment,
                file_key,
                format!("set either {list_key} or {file_key}, not both"),
            ));
        }
        (Some(list), None) => (list.clone(), list_key),
        (None, Some(path)) => (
            read_secret_file(path)
                .map_err(|r| invalid(figment, file_key, r))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect(),
            file_key,
        ),
        (None, None) => return Ok(None),
    };
    let mut parsed = Vec::with_capacity(encoded.len());
    for (n, item) in encoded.iter().enumerate() {
        parsed.push(
            MasterKey::from_base64(item)
                .map_err(|e| invalid(figment, key, format!("{what} #{}: {e}", n + 1)))?,
        );
    }
    Ok(Some(std::sync::Arc::new(
        MasterKeys::new(parsed).map_err(|e| invalid(figment, key, e.to_string()))?,
    )))
}

/// What to do when a public issuer has no master key: exactly which setting to set, and
/// how to make the key (an operator who followed "set an https issuer" lands here).
fn missing_master_key(issuer: &Issuer) -> String {
    format!(
        "a master key is required because the issuer {issuer} is not on a loopback host (it \
         encrypts the signing keys stored in the database; the development key file is \
         only used for loopback issuers). Make one with \
         `portcullis keys generate-master-key > master_keys` (a secret: keep it out of git \
         and apart from database backups, mode 0600), then point \
         PORTCULLIS_KEYS__MASTER_KEYS_FILE (keys.master_keys_file) at that file, e.g. a \
         mounted secret such as /run/secrets/portcullis_master_keys; or put the key itself \
         in PORTCULLIS_KEYS__MASTER_KEYS (keys.master_keys)"
    )
}

fn validate_keys(
    figment: &Figment,
    raw: &RawKeys,
    issuer: &Issuer,
) -> Result<KeysConfig, ConfigError> {
    let configured = secret_keys(
        figment,
        ("keys.master_keys", "keys.master_keys_file", "master key"),
        raw.master_keys.as_ref(),
        raw.master_keys_file.as_ref(),
    )?;
    let audit_keys = secret_keys(
        figment,
        ("keys.audit_keys", "keys.audit_keys_file", "audit key"),
        raw.audit_keys.as_ref(),
        raw.audit_keys_file.as_ref(),
    )?;
    let master_keys = match configured {
        Some(keys) => MasterKeySource::Configured(keys),
        None => {
            let loopback = url::Url::parse(issuer.as_str())
                .ok()
                .and_then(|u| u.host().map(|h| is_loopback_host(&h)))
                .unwrap_or(false);
            if !loopback {
                return Err(invalid(
                    figment,
                    "keys.master_keys",
                    missing_master_key(issuer),
                ));
            }
            MasterKeySource::DevFile(raw.dev_master_key_file.clone())
        }
    };
    if !RSA_KEY_SIZES.contains(&raw.rsa_bits) {
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
        audit_keys,
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

fn validate_registration(
    figment: &Figment,
    raw: RawRegistration,
    issuer: &Issuer,
) -> Result<RegistrationConfig, ConfigError> {
    RegistrationConfig::check_scopes(&raw.allowed_scopes)
        .map_err(|r| invalid(figment, "registration.allowed_scopes", r))?;
    let mut allowed_resources = Vec::with_capacity(raw.allowed_resources.len());
    for (n, written) in raw.allowed_resources.iter().enumerate() {
        let pattern = ResourcePattern::parse(written).map_err(|r| {
            invalid(
                figment,
                "registration.allowed_resources",
                format!("entry #{} `{written}` {r}", n + 1),
            )
        })?;
        allowed_resources.push(pattern);
    }
    if !(1..=3650).contains(&raw.idle_days) {
        return Err(invalid(
            figment,
            "registration.idle_days",
            "must be between 1 and 3650",
        ));
    }
    if !(1..=10_000_000).contains(&raw.max_clients) {
        return Err(invalid(
            figment,
            "registration.max_clients",
            "must be between 1 and 10000000",
        ));
    }
    let metadata_documents = validate_metadata_documents(figment, &raw, issuer)?;
    let mut self_signup_email_domains = Vec::with_capacity(raw.self_signup_email_domains.len());
    for (n, written) in raw.self_signup_email_domains.iter().enumerate() {
        let domain = written.trim().to_ascii_lowercase();
        let plain = !domain.is_empty()
            && domain.len() <= 253
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && domain
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !plain {
            return Err(invalid(
                figment,
                "registration.self_signup_email_domains",
                format!(
                    "entry #{} `{written}` is not a domain name (letters, digits, dots and hyphens, as `example.com`)",
                    n + 1
                ),
            ));
        }
        self_signup_email_domains.push(domain);
    }
    Ok(RegistrationConfig {
        mode: raw.mode,
        allowed_scopes: raw.allowed_scopes,
        allowed_resources,
        idle_secs: raw.idle_days * 86_400,
        max_clients: raw.max_clients,
        metadata_documents,
        self_signup: raw.self_signup,
        self_signup_email_domains,
    })
}

fn validate_metadata_documents(
    figment: &Figment,
    raw: &RawRegistration,
    issuer: &Issuer,
) -> Result<MetadataDocumentsConfig, ConfigError> {
    let (min, max) = (
        raw.metadata_document_min_cache_secs,
        raw.metadata_document_max_cache_secs,
    );
    if !(0..=86_400).contains(&min) {
        return Err(invalid(
            figment,
            "registration.metadata_document_min_cache_secs",
            "must be between 0 and 86400",
        ));
    }
    if !(60..=604_800).contains(&max) || max < min {
        return Err(invalid(
            figment,
            "registration.metadata_document_max_cache_secs",
            "must be between 60 and 604800, and not below metadata_document_min_cache_secs",
        ));
    }
    // draft-ietf-oauth-client-id-metadata-document, SSRF: fetching from loopback is for a
    // server that itself runs on loopback, never a deployment others reach.
    let issuer_on_loopback = url::Url::parse(issuer.as_str())
        .ok()
        .and_then(|u| u.host().map(|h| is_loopback_host(&h)))
        .unwrap_or(false);
    if raw.metadata_documents_allow_private && !issuer_on_loopback {
        return Err(invalid(
            figment,
            "registration.metadata_documents_allow_private",
            "lets anyone make this server fetch from its own machine and network; it is \
             for development, and allowed only when the issuer is on a loopback host",
        ));
    }
    Ok(MetadataDocumentsConfig {
        enabled: raw.metadata_documents,
        allow_private: raw.metadata_documents_allow_private,
        min_cache_secs: min,
        max_cache_secs: max,
    })
}

fn validate_login(figment: &Figment, raw: &RawLogin) -> Result<LoginConfig, ConfigError> {
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
    if !(1..=3650).contains(&raw.device_cookie_days) {
        return Err(invalid(
            figment,
            "login.device_cookie_days",
            "must be between 1 and 3650",
        ));
    }
    Ok(LoginConfig {
        user,
        ip,
        device_cookie_lifetime: raw.device_cookie_days * 86_400,
    })
}

fn parse_bind(raw: &str) -> Result<SocketAddr, String> {
    raw.trim()
        .parse()
        .map_err(|_| format!("`{raw}` is not an address and port like 127.0.0.1:8080 or [::]:8080"))
}

pub(super) fn parse_issuer(raw: &str) -> Result<Issuer, String> {
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
    let spelled = raw.trim_end_matches('/');
    let path = issuer_path(spelled, &url)?;
    Ok(Issuer {
        url: spelled.to_owned(),
        path,
    })
}

/// The path of the issuer as the operator wrote it. It becomes a route prefix, a cookie
/// `Path` and a prefix of links in HTML, so it must read the same to every party: the
/// parser (which resolves dot segments and turns `\` into `/`), the reverse proxy in
/// front and the browser. Only plain segments of unreserved characters (RFC 3986 §2.3)
/// are taken; anything a party could read differently is refused rather than normalised.
fn issuer_path(spelled: &str, url: &url::Url) -> Result<String, String> {
    let after_scheme = spelled.split_once("://").map_or(spelled, |(_, rest)| rest);
    let written = after_scheme
        .find('/')
        .map_or("", |at| after_scheme.get(at..).unwrap_or(""));
    let parsed = url.path().trim_end_matches('/');
    if written != parsed {
        return Err(format!(
            "its path `{written}` does not read the same once parsed (`{parsed}`): write plain segments like `/auth`"
        ));
    }
    let plain = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    };
    if !written.split('/').skip(1).all(plain) {
        return Err(format!(
            "its path `{written}` must be plain segments of letters, digits, `-`, `.`, `_` or `~`, like `/auth`"
        ));
    }
    Ok(written.to_owned())
}

fn endpoint_buckets(
    figment: &Figment,
    raw: &crate::config::raw::RawEndpointBuckets,
) -> Result<std::collections::BTreeMap<&'static str, crate::config::Bucket>, ConfigError> {
    let named = [
        (
            "authorize",
            "rate_limit.endpoints.authorize.burst",
            raw.authorize,
        ),
        ("login", "rate_limit.endpoints.login.burst", raw.login),
        ("consent", "rate_limit.endpoints.consent.burst", raw.consent),
        (
            "select_account",
            "rate_limit.endpoints.select_account.burst",
            raw.select_account,
        ),
        ("logout", "rate_limit.endpoints.logout.burst", raw.logout),
        (
            "userinfo",
            "rate_limit.endpoints.userinfo.burst",
            raw.userinfo,
        ),
        (
            "introspect",
            "rate_limit.endpoints.introspect.burst",
            raw.introspect,
        ),
        ("revoke", "rate_limit.endpoints.revoke.burst", raw.revoke),
        (
            "register",
            "rate_limit.endpoints.register.burst",
            raw.register,
        ),
        ("other", "rate_limit.endpoints.other.burst", raw.other),
    ];
    let mut buckets = std::collections::BTreeMap::new();
    for (name, key, b) in named {
        buckets.insert(name, bucket(figment, key, b)?);
    }
    Ok(buckets)
}

/// One per-address bucket: a bucket that is on needs room for at least one request.
/// `burst_key` names the setting in the error.
fn bucket(
    figment: &Figment,
    burst_key: &'static str,
    raw: crate::config::raw::RawBucket,
) -> Result<crate::config::Bucket, ConfigError> {
    if raw.per_second > 0 && raw.burst == 0 {
        return Err(invalid(figment, burst_key, "must be at least 1"));
    }
    Ok(crate::config::Bucket {
        per_second: raw.per_second,
        burst: raw.burst,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Sources;

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
            parse_issuer("https://auth.example.com/realm/").map(|i| i.url),
            Ok("https://auth.example.com/realm".to_owned())
        );
    }

    #[test]
    fn issuer_paths_are_clean_segments() {
        let path = |raw: &str| parse_issuer(raw).map(|i| i.path);
        assert_eq!(path("https://id.example.com"), Ok(String::new()));
        assert_eq!(path("https://id.example.com/"), Ok(String::new()));
        assert_eq!(path("https://id.example.com/auth"), Ok("/auth".to_owned()));
        assert_eq!(path("https://id.example.com/auth/"), Ok("/auth".to_owned()));
        assert_eq!(
            path("https://id.example.com:8443/a/realm-1.x_~"),
            Ok("/a/realm-1.x_~".to_owned())
        );
        assert_eq!(path("http://127.0.0.1:8080/auth"), Ok("/auth".to_owned()));
        // The operator's spelling of the host is kept; the path is still found.
        assert_eq!(path("https://ID.Example.com/auth"), Ok("/auth".to_owned()));
        for unclean in [
            "https://id.example.com/a/../b",
            "https://id.example.com/a/./b",
            "https://id.example.com/..",
            "https://id.example.com/a//b",
            "https://id.example.com\\auth",
            "https://id.example.com/a\\b",
            "https://id.example.com/a%2Fb",
            "https://id.example.com/%61uth",
            "https://id.example.com/a b",
            "https://id.example.com/a;b",
            "https://id.example.com/a\"b",
            "https://id.example.com/caf\u{e9}",
            "https://id.example.com/a:b",
            "https://id.example.com/a@b",
        ] {
            assert!(path(unclean).is_err(), "{unclean} was accepted");
        }
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

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = file.map(|text| {
            let path = dir.path().join("portcullis.toml");
            std::fs::write(&path, text).unwrap();
            path
        });
        Config::load(&Sources {
            file: path,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Sources::default()
        })
    }

    #[test]
    fn mfa_required_roles_from_each_source() {
        let roles = |c: Config| c.mfa.required_roles;
        assert_eq!(roles(load(None, &[]).unwrap()), ["admin"]);
        assert_eq!(
            roles(
                load(
                    Some("[mfa]\nrequired_roles = [\"admin\", \"operator\"]\n"),
                    &[]
                )
                .unwrap()
            ),
            ["admin", "operator"]
        );
        assert!(roles(load(Some("[mfa]\nrequired_roles = []\n"), &[]).unwrap()).is_empty());
        let env = |value| roles(load(None, &[("PORTCULLIS_MFA__REQUIRED_ROLES", value)]).unwrap());
        assert_eq!(env("operator"), ["operator"]);
        assert_eq!(env("admin, operator"), ["admin", "operator"]);
        assert_eq!(env("[admin, operator]"), ["admin", "operator"]);
        assert!(env("").is_empty());
        // The environment wins over the file, as for every key.
        assert_eq!(
            roles(
                load(
                    Some("[mfa]\nrequired_roles = [\"admin\"]\n"),
                    &[("PORTCULLIS_MFA__REQUIRED_ROLES", "auditor")]
                )
                .unwrap()
            ),
            ["auditor"]
        );
        assert_eq!(
            load(None, &[]).unwrap().redacted()["mfa"]["required_roles"],
            serde_json::json!(["admin"])
        );
    }

    #[test]
    fn mfa_required_roles_errors_name_the_setting() {
        let text = |file: Option<&str>, env: &[(&str, &str)]| match load(file, env) {
            Ok(_) => panic!("expected a configuration error"),
            Err(e) => e.to_string(),
        };
        let dup = text(
            None,
            &[("PORTCULLIS_MFA__REQUIRED_ROLES", "admin,ops,admin")],
        );
        assert!(dup.contains("mfa.required_roles"), "{dup}");
        assert!(dup.contains("PORTCULLIS_MFA__REQUIRED_ROLES"), "{dup}");
        assert!(dup.contains("`admin` is listed more than once"), "{dup}");
        let blank = text(Some("[mfa]\nrequired_roles = [\"admin\", \" \"]\n"), &[]);
        assert!(blank.contains("mfa.required_roles"), "{blank}");
        assert!(blank.contains("entry #2 is empty"), "{blank}");
        let unknown = text(Some("[mfa]\nroles = [\"admin\"]\n"), &[]);
        assert!(unknown.contains("roles"), "{unknown}");
    }

    #[test]
    fn self_signup_settings_from_each_source() {
        let defaults = load(None, &[]).unwrap().registration;
        assert!(!defaults.self_signup, "off by default");
        assert!(defaults.signup_domain_allowed("anything.example"));
        let file = load(
            Some("[registration]\nself_signup = true\nself_signup_email_domains = [\"Example.COM\"]\n"),
            &[],
        )
        .unwrap()
        .registration;
        assert!(file.self_signup);
        assert_eq!(file.self_signup_email_domains, ["example.com"]);
        assert!(file.signup_domain_allowed("example.com"));
        assert!(!file.signup_domain_allowed("mail.example.com"));
        let env = load(
            None,
            &[
                ("PORTCULLIS_REGISTRATION__SELF_SIGNUP", "true"),
                (
                    "PORTCULLIS_REGISTRATION__SELF_SIGNUP_EMAIL_DOMAINS",
                    "a.example, b.example",
                ),
            ],
        )
        .unwrap()
        .registration;
        assert!(env.self_signup);
        assert_eq!(env.self_signup_email_domains, ["a.example", "b.example"]);
        let err = load(
            None,
            &[(
                "PORTCULLIS_REGISTRATION__SELF_SIGNUP_EMAIL_DOMAINS",
                "@example.com",
            )],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("registration.self_signup_email_domains"),
            "{err}"
        );
        assert!(err.contains("is not a domain name"), "{err}");
    }

    #[test]
    fn registration_settings_from_each_source() {
        use crate::config::RegistrationMode;
        let defaults = load(None, &[]).unwrap().registration;
        assert_eq!(defaults.mode, RegistrationMode::Closed);
        assert!(!defaults.enabled());
        assert_eq!(
            defaults.allowed_scopes,
            ["openid", "profile", "email", "offline_access"]
        );
        assert!(defaults.allowed_resources.is_empty());
        assert_eq!(defaults.idle_secs, 30 * 86_400);
        assert_eq!(defaults.max_clients, 10_000);

        let file = load(
            Some(
                "[registration]\nmode = \"open\"\nallowed_scopes = [\"openid\", \"mcp:tools\"]\n\
                 allowed_resources = [\"https://mcp.example.com/*\", \"https://api.example.com/v1\"]\n\
                 idle_days = 7\nmax_clients = 50\n",
            ),
            &[],
        )
        .unwrap()
        .registration;
        assert_eq!(file.mode, RegistrationMode::Open);
        assert!(file.enabled());
        assert_eq!(file.allowed_scopes, ["openid", "mcp:tools"]);
        assert!(file.allows_resource("https://mcp.example.com/mcp"));
        assert!(file.allows_resource("https://api.example.com/v1"));
        assert!(!file.allows_resource("https://api.example.com/v2"));
        assert_eq!(file.idle_secs, 7 * 86_400);
        assert_eq!(file.max_clients, 50);

        let env = load(
            None,
            &[
                ("PORTCULLIS_REGISTRATION__MODE", "initial_access_token"),
                ("PORTCULLIS_REGISTRATION__ALLOWED_SCOPES", "openid, profile"),
                (
                    "PORTCULLIS_REGISTRATION__ALLOWED_RESOURCES",
                    "https://mcp.example.com/*",
                ),
            ],
        )
        .unwrap();
        assert_eq!(env.registration.mode, RegistrationMode::InitialAccessToken);
        assert_eq!(env.registration.allowed_scopes, ["openid", "profile"]);
        assert!(
            env.registration
                .allows_resource("https://mcp.example.com/x")
        );
        let shown = env.redacted();
        assert_eq!(shown["registration"]["mode"], "initial_access_token");
        assert_eq!(
            shown["registration"]["allowed_resources"],
            serde_json::json!(["https://mcp.example.com/*"])
        );
    }

    #[test]
    fn registration_errors_name_the_setting() {
        let text = |file: Option<&str>, env: &[(&str, &str)]| match load(file, env) {
            Ok(_) => panic!("expected a configuration error"),
            Err(e) => e.to_string(),
        };
        let admin = text(
            None,
            &[("PORTCULLIS_REGISTRATION__ALLOWED_SCOPES", "openid,admin")],
        );
        assert!(admin.contains("registration.allowed_scopes"), "{admin}");
        assert!(admin.contains("`admin` is never given"), "{admin}");
        let pattern = text(
            Some("[registration]\nallowed_resources = [\"https://*.example.com/\"]\n"),
            &[],
        );
        assert!(
            pattern.contains("registration.allowed_resources"),
            "{pattern}"
        );
        assert!(pattern.contains("entry #1"), "{pattern}");
        let mode = text(None, &[("PORTCULLIS_REGISTRATION__MODE", "anonymous")]);
        assert!(
            mode.contains("mode") || mode.contains("anonymous"),
            "{mode}"
        );
        let idle = text(None, &[("PORTCULLIS_REGISTRATION__IDLE_DAYS", "0")]);
        assert!(idle.contains("registration.idle_days"), "{idle}");
        let dup = text(
            None,
            &[("PORTCULLIS_REGISTRATION__ALLOWED_SCOPES", "openid,openid")],
        );
        assert!(dup.contains("listed more than once"), "{dup}");
    }

    #[test]
    fn metadata_document_settings_from_each_source_and_their_bounds() {
        let defaults = load(None, &[]).unwrap().registration.metadata_documents;
        assert_eq!(defaults, MetadataDocumentsConfig::default());
        assert!(!defaults.enabled && !defaults.allow_private);
        assert_eq!(
            (defaults.min_cache_secs, defaults.max_cache_secs),
            (300, 86_400)
        );
        let file = load(
            Some(
                "[registration]\nmetadata_documents = true\nmetadata_document_min_cache_secs = 0\n\
                 metadata_document_max_cache_secs = 600\n",
            ),
            &[],
        )
        .unwrap();
        let docs = file.registration.metadata_documents;
        assert!(docs.enabled && !docs.allow_private);
        assert_eq!((docs.min_cache_secs, docs.max_cache_secs), (0, 600));
        assert_eq!(file.redacted()["registration"]["metadata_documents"], true);
        let env = load(
            None,
            &[
                ("PORTCULLIS_REGISTRATION__METADATA_DOCUMENTS", "true"),
                (
                    "PORTCULLIS_REGISTRATION__METADATA_DOCUMENTS_ALLOW_PRIVATE",
                    "true",
                ),
            ],
        )
        .unwrap();
        assert!(env.registration.metadata_documents.allow_private);
        // Cache bounds: max-age within them, the minimum when the document says nothing.
        assert_eq!(defaults.cache_secs(None), 300);
        assert_eq!(defaults.cache_secs(Some(0)), 300);
        assert_eq!(defaults.cache_secs(Some(3600)), 3600);
        assert_eq!(defaults.cache_secs(Some(u64::MAX)), 86_400);

        let text = |file: Option<&str>, env: &[(&str, &str)]| match load(file, env) {
            Ok(_) => panic!("expected a configuration error"),
            Err(e) => e.to_string(),
        };
        // The development setting needs a loopback issuer.
        let public = text(
            None,
            &[
                ("PORTCULLIS_ISSUER", "https://id.example.com"),
                (
                    "PORTCULLIS_KEYS__MASTER_KEYS",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                ),
                (
                    "PORTCULLIS_REGISTRATION__METADATA_DOCUMENTS_ALLOW_PRIVATE",
                    "true",
                ),
            ],
        );
        assert!(
            public.contains("registration.metadata_documents_allow_private"),
            "{public}"
        );
        assert!(public.contains("loopback"), "{public}");
        let min = text(
            None,
            &[(
                "PORTCULLIS_REGISTRATION__METADATA_DOCUMENT_MIN_CACHE_SECS",
                "-1",
            )],
        );
        assert!(min.contains("metadata_document_min_cache_secs"), "{min}");
        let order = text(
            None,
            &[
                (
                    "PORTCULLIS_REGISTRATION__METADATA_DOCUMENT_MIN_CACHE_SECS",
                    "900",
                ),
                (
                    "PORTCULLIS_REGISTRATION__METADATA_DOCUMENT_MAX_CACHE_SECS",
                    "600",
                ),
            ],
        );
        assert!(
            order.contains("metadata_document_max_cache_secs"),
            "{order}"
        );
    }

    #[test]
    fn cors_allowed_origins_from_each_source() {
        let origins = |c: Config| c.cors.allowed_origins;
        assert!(origins(load(None, &[]).unwrap()).is_empty());
        assert_eq!(
            origins(
                load(
                    Some("[cors]\nallowed_origins = [\"https://app.example.com\"]\n"),
                    &[]
                )
                .unwrap()
            ),
            ["https://app.example.com"]
        );
        assert_eq!(
            origins(
                load(
                    None,
                    &[(
                        "PORTCULLIS_CORS__ALLOWED_ORIGINS",
                        "https://a.example, http://localhost:3000"
                    )]
                )
                .unwrap()
            ),
            ["https://a.example", "http://localhost:3000"]
        );
        assert_eq!(
            load(
                Some("[cors]\nallowed_origins = [\"https://a.example\"]\n"),
                &[]
            )
            .unwrap()
            .redacted()["cors"]["allowed_origins"],
            serde_json::json!(["https://a.example"])
        );
        let err = match load(None, &[("PORTCULLIS_CORS__ALLOWED_ORIGINS", "*")]) {
            Ok(_) => panic!("a wildcard was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("cors.allowed_origins"), "{err}");
        assert!(err.contains("PORTCULLIS_CORS__ALLOWED_ORIGINS"), "{err}");
        assert!(err.contains("`*` is not allowed"), "{err}");
    }
}
