//! Logs, traces and metrics. Logs carry a request id and the route, never query strings,
//! bodies, cookies or Authorization headers: those are where tokens, codes and secrets
//! travel. Traces leave the process only when `telemetry.otlp_endpoint` is set (`otlp`).

mod otlp;
pub mod request_id;

use std::io::IsTerminal;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::ServiceRequest;
use actix_web::http::header::HeaderMap;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use tracing::Span;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry as Subscribers};

use crate::config::{LogFormat, TelemetryConfig};
use crate::log_batch::LogBatch;

pub use otlp::Tracing;

/// Where log lines go: straight to stderr (CLI commands, whose few warnings should show
/// at once), or through the process's batched stderr (`serve`, a line per request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    Stderr,
    Batched,
}

/// Installs the global subscriber. Returns an error if one is already installed (tests).
pub fn init_logging(format: LogFormat, level: &str, output: LogOutput) -> Result<(), String> {
    match output {
        LogOutput::Stderr => install(format, level, std::io::stderr, None),
        LogOutput::Batched => install_batched(format, level, None),
    }
}

/// `serve`'s logging: batched stderr, and trace export when `telemetry` configures it
/// (called inside the runtime, which carries the exporter's requests). The returned
/// `Tracing` sends what is still buffered when it is shut down.
pub fn init_serve_logging(
    format: LogFormat,
    level: &str,
    telemetry: &TelemetryConfig,
) -> Result<Tracing, String> {
    let (tracing, layer) = match &telemetry.otlp {
        Some(config) => {
            let (tracing, layer) = otlp::start(config)?;
            (tracing, Some(layer))
        }
        None => (Tracing::off(), None),
    };
    install_batched(format, level, layer)?;
    EXPORTING.store(tracing.is_on(), Ordering::Relaxed);
    Ok(tracing)
}

fn install_batched(format: LogFormat, level: &str, otel: Option<BoxedLayer>) -> Result<(), String> {
    let result = install(format, level, LogBatch::stderr().clone(), otel);
    // A panicking server still leaves its last lines behind.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        LogBatch::flush_stderr();
    }));
    result
}

type BoxedLayer = Box<dyn Layer<Subscribers> + Send + Sync + 'static>;

/// Whether spans are exported (`init_serve_logging` with an endpoint): only then is a
/// request's `traceparent` read.
static EXPORTING: AtomicBool = AtomicBool::new(false);

fn install<W>(
    format: LogFormat,
    level: &str,
    writer: W,
    otel: Option<BoxedLayer>,
) -> Result<(), String>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
    let logs: BoxedLayer = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
        // Colour codes only for a terminal: in a file or a log collector they are noise
        // around every field.
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    // Each layer has its own filter, so `log.level = "warn"` quietens the log without
    // emptying the traces.
    let layers: Vec<BoxedLayer> = std::iter::once(logs).chain(otel).collect();
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| e.to_string())
}

/// Root span per request: its id, method and path, never the query string. With export
/// on, a W3C `traceparent` from the request makes it a child of the caller's span.
pub fn request_span(request: &ServiceRequest, request_id: &str) -> Span {
    let span = tracing::info_span!(
        "http_request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.path(),
        otel.kind = "server",
    );
    if EXPORTING.load(Ordering::Relaxed) {
        otlp::adopt_parent(&span, request.headers());
    }
    span
}

/// What the access log says about a request beyond its span.
#[derive(Debug, Clone, Copy)]
pub struct Access<'a> {
    pub status: u16,
    pub route: &'a str,
    pub elapsed: Duration,
    /// The client's address by the same rules rate limits use (`http::client_ip`).
    pub client_ip: Option<IpAddr>,
    pub user_agent: &'a str,
}

/// The access-log line, written inside the request's span.
pub fn log_response(access: &Access<'_>) {
    tracing::info!(
        status = access.status,
        route = access.route,
        elapsed_ms = access.elapsed.as_secs_f64() * 1000.0,
        client_ip = access.client_ip.map(tracing::field::display),
        user_agent = access.user_agent,
        "request"
    );
}

/// Longest user agent the access log keeps: enough for any real browser's.
const MAX_USER_AGENT: usize = 256;

/// The request's `User-Agent` as the access log shows it: cut to `MAX_USER_AGENT` bytes,
/// with anything but printable ASCII escaped, so a client cannot forge log lines.
pub fn user_agent(headers: &HeaderMap) -> String {
    let Some(value) = headers.get(actix_web::http::header::USER_AGENT) else {
        return String::new();
    };
    let bytes = value.as_bytes();
    let kept = bytes.get(..MAX_USER_AGENT).unwrap_or(bytes);
    let mut shown = String::with_capacity(kept.len());
    for &b in kept {
        if (0x20..=0x7e).contains(&b) {
            shown.push(char::from(b));
        } else {
            shown.push_str(&format!("\\x{b:02x}"));
        }
    }
    shown
}

/// The Prometheus registry and the collectors the server updates.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// The standard `process_*` metrics, kept apart because they carry no prefix.
    process: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub password_queue_rejections: IntCounter,
    /// When the active signing key began to sign, and when the next one takes over (unix
    /// seconds): timestamps, so an alert compares them with `time()` and a stalled
    /// replica's stale value still says how late rotation is.
    pub key_activated_at: IntGauge,
    pub key_next_rotation_at: IntGauge,
    /// Failed rounds of the key maintenance task, and the last round that succeeded.
    pub key_maintenance_failures: IntCounter,
    pub key_maintenance_succeeded_at: IntGauge,
    pub tokens_issued: IntCounterVec,
    pub janitor_purged: IntCounterVec,
    pub table_rows: IntGaugeVec,
    pub janitor_runs: IntCounterVec,
    pub introspections: IntCounterVec,
    pub standings: IntCounterVec,
    pub rate_limited: IntCounterVec,
    /// Authorization requests not stored because a bound on pending ones was reached.
    pub pending_refused: IntCounterVec,
    /// Second-factor events by factor (`totp`, `passkey`, `recovery_code`) and outcome
    /// (`success`, `failure`, `replayed`, `throttled`, `enrolled`, `removed`, `reset`).
    pub second_factor: IntCounterVec,
    /// When the janitor last finished a purge on this replica (unix seconds).
    pub janitor_succeeded_at: IntGauge,
    /// Password checks (login form and password grant) by result: `success`, `failure`,
    /// `throttled` (refused before any check), `overloaded` (hashing queue full),
    /// `error` (the database failed).
    pub logins: IntCounterVec,
    /// Audit events that were meant but not stored (mirrors `Store::audit_failures`).
    audit_failures: IntCounter,
    /// Database pool connections by state (`in_use`, `idle`), and its bound.
    db_pool: IntGaugeVec,
    db_pool_max: IntGauge,
    /// 1 while `/health/ready` last answered 200; and how often its answer changed.
    pub ready: IntGauge,
    pub readiness_changes: IntCounter,
    /// Whether `/health/ready` has answered yet: its first answer is no change.
    readiness_seen: std::sync::Arc<AtomicBool>,
    /// Outbound email (`crate::mail`): messages the mail server accepted (or the `log`
    /// backend wrote), attempts that failed and will be retried, messages given up.
    pub mail_sent: prometheus::IntCounter,
    pub mail_retried: prometheus::IntCounter,
    pub mail_failed: prometheus::IntCounter,
    /// Messages waiting in the outbox, as of the worker's last look.
    pub mail_queued: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("portcullis".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by listener, route, method and status",
            ),
            &["listener", "route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
            &["listener", "route", "method", "status"],
        )?;
        let password_queue_rejections = IntCounter::new(
            "password_overload_rejections_total",
            "Password checks refused because the hashing queue was full",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        let key_activated_at = IntGauge::new(
            "signing_key_activated_timestamp_seconds",
            "When the active signing key began to sign (unix seconds)",
        )?;
        let key_next_rotation_at = IntGauge::new(
            "signing_key_next_rotation_timestamp_seconds",
            "When the next signing key is due to take over (unix seconds); past it, rotation is overdue",
        )?;
        let key_maintenance_failures = IntCounter::new(
            "key_maintenance_failures_total",
            "Rounds of signing-key maintenance (rotation, reload) that failed",
        )?;
        let key_maintenance_succeeded_at = IntGauge::new(
            "key_maintenance_last_success_timestamp_seconds",
            "When signing-key maintenance last succeeded on this replica (unix seconds)",
        )?;
        let tokens_issued = IntCounterVec::new(
            Opts::new("tokens_issued_total", "Access tokens issued, by grant type"),
            &["grant_type"],
        )?;
        registry.register(Box::new(tokens_issued.clone()))?;
        let janitor_purged = IntCounterVec::new(
            Opts::new(
                "janitor_purged_rows_total",
                "Expired rows the janitor deleted, by table",
            ),
            &["table"],
        )?;
        let table_rows = IntGaugeVec::new(
            Opts::new(
                "table_rows",
                "Rows in the tables the janitor bounds, as of its last run",
            ),
            &["table"],
        )?;
        let janitor_runs = IntCounterVec::new(
            Opts::new(
                "janitor_runs_total",
                "Janitor runs by outcome (purged, skipped: another replica held the lease, failed)",
            ),
            &["outcome"],
        )?;
        let introspections = IntCounterVec::new(
            Opts::new(
                "introspections_total",
                "Introspection answers by result (active, inactive)",
            ),
            &["result"],
        )?;
        let standings = IntCounterVec::new(
            Opts::new(
                "introspection_standings_total",
                "Token standings by source: database, or remembered (tokens.introspection_cache_ms)",
            ),
            &["source"],
        )?;
        registry.register(Box::new(standings.clone()))?;
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "rate_limited_total",
                "Requests refused with 429 by the per-address bucket of their endpoint",
            ),
            &["endpoint"],
        )?;
        registry.register(Box::new(rate_limited.clone()))?;
        let pending_refused = IntCounterVec::new(
            Opts::new(
                "authorization_requests_refused_total",
                "Authorization requests answered temporarily_unavailable because pending ones \
                 reached a bound (per_address: authorize.max_pending_per_address, total: \
                 authorize.max_pending_total)",
            ),
            &["bound"],
        )?;
        registry.register(Box::new(pending_refused.clone()))?;
        let second_factor = IntCounterVec::new(
            Opts::new(
                "second_factor_total",
                "Second-factor checks, enrolments and removals by factor and outcome",
            ),
            &["factor", "outcome"],
        )?;
        registry.register(Box::new(second_factor.clone()))?;
        let mail_sent = prometheus::IntCounter::new(
            "mail_sent_total",
            "Email messages handed to the mail server (or, with the log backend, the log)",
        )?;
        let mail_retried = prometheus::IntCounter::new(
            "mail_retries_total",
            "Email delivery attempts that failed and will be retried with backoff",
        )?;
        let mail_failed = prometheus::IntCounter::new(
            "mail_failed_total",
            "Email messages given up (too many attempts, too old, or refused for good)",
        )?;
        let mail_queued = IntGauge::new(
            "mail_queued",
            "Email messages waiting in the outbox, as of the mail worker's last look",
        )?;
        registry.register(Box::new(mail_sent.clone()))?;
        registry.register(Box::new(mail_retried.clone()))?;
        registry.register(Box::new(mail_failed.clone()))?;
        registry.register(Box::new(mail_queued.clone()))?;
        registry.register(Box::new(janitor_purged.clone()))?;
        registry.register(Box::new(table_rows.clone()))?;
        registry.register(Box::new(janitor_runs.clone()))?;
        registry.register(Box::new(introspections.clone()))?;
        registry.register(Box::new(password_queue_rejections.clone()))?;
        registry.register(Box::new(key_activated_at.clone()))?;
        registry.register(Box::new(key_next_rotation_at.clone()))?;
        registry.register(Box::new(key_maintenance_failures.clone()))?;
        registry.register(Box::new(key_maintenance_succeeded_at.clone()))?;
        let janitor_succeeded_at = IntGauge::new(
            "janitor_last_success_timestamp_seconds",
            "When the janitor last finished a purge on this replica (unix seconds)",
        )?;
        registry.register(Box::new(janitor_succeeded_at.clone()))?;
        let logins = IntCounterVec::new(
            Opts::new(
                "logins_total",
                "Password checks (login form, password grant) by result: success, failure, \
                 throttled, overloaded, error",
            ),
            &["result"],
        )?;
        registry.register(Box::new(logins.clone()))?;
        let audit_failures = IntCounter::new(
            "audit_append_failures_total",
            "Audit events that were meant but could not be stored",
        )?;
        registry.register(Box::new(audit_failures.clone()))?;
        let db_pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database pool connections by state (in_use, idle), as of the scrape",
            ),
            &["state"],
        )?;
        registry.register(Box::new(db_pool.clone()))?;
        let db_pool_max = IntGauge::new(
            "db_pool_max_connections",
            "The database pool's bound (database.pool_size)",
        )?;
        registry.register(Box::new(db_pool_max.clone()))?;
        let ready = IntGauge::new("ready", "1 while /health/ready last answered 200, else 0")?;
        registry.register(Box::new(ready.clone()))?;
        let readiness_changes = IntCounter::new(
            "readiness_changes_total",
            "Times the answer of /health/ready changed between ready and not ready",
        )?;
        registry.register(Box::new(readiness_changes.clone()))?;
        let build_info = IntGaugeVec::new(
            Opts::new("build_info", "Always 1; the labels say which build this is"),
            &["version", "commit"],
        )?;
        build_info
            .with_label_values(&[BUILD_VERSION, BUILD_COMMIT])
            .set(1);
        registry.register(Box::new(build_info))?;
        let process = Registry::new();
        #[cfg(target_os = "linux")]
        process.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        // Known label values start at zero, so every series exists (and `rate()` works)
        // before the first event, and dashboards and alerts never point at nothing.
        for endpoint in crate::config::ENDPOINT_BUCKETS {
            rate_limited.with_label_values(&[endpoint]);
        }
        for bound in ["per_address", "total"] {
            pending_refused.with_label_values(&[bound]);
        }
        for result in ["success", "failure", "throttled", "overloaded", "error"] {
            logins.with_label_values(&[result]);
        }
        for result in ["active", "inactive"] {
            introspections.with_label_values(&[result]);
        }
        for source in ["database", "remembered"] {
            standings.with_label_values(&[source]);
        }
        for outcome in ["purged", "skipped", "failed"] {
            janitor_runs.with_label_values(&[outcome]);
        }
        for grant in [
            "authorization_code",
            "client_credentials",
            "password",
            "refresh_token",
        ] {
            tokens_issued.with_label_values(&[grant]);
        }
        for factor in ["totp", "passkey", "recovery_code"] {
            for outcome in ["success", "failure"] {
                second_factor.with_label_values(&[factor, outcome]);
            }
        }
        Ok(Self {
            readiness_seen: Default::default(),
            process,
            janitor_succeeded_at,
            logins,
            audit_failures,
            db_pool,
            db_pool_max,
            ready,
            readiness_changes,
            key_maintenance_failures,
            key_maintenance_succeeded_at,
            registry,
            requests,
            latency,
            password_queue_rejections,
            key_activated_at,
            key_next_rotation_at,
            tokens_issued,
            janitor_purged,
            table_rows,
            janitor_runs,
            introspections,
            standings,
            rate_limited,
            pending_refused,
            second_factor,
            mail_sent,
            mail_retried,
            mail_failed,
            mail_queued,
        })
    }

    pub fn observe(&self, listener: &str, route: &str, method: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [listener, route, method, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// When the active signing key began to sign and when the next one takes over (from
    /// the key set, by `crate::app`: keys live above this module).
    pub fn observe_key_times(&self, activated_at: i64, next_rotation_at: i64) {
        self.key_activated_at.set(activated_at);
        self.key_next_rotation_at.set(next_rotation_at);
    }

    /// Counts a password check's result (see `logins`).
    pub fn login(&self, result: &str) {
        self.logins.with_label_values(&[result]).inc();
    }

    /// Readiness as `/health/ready` just answered it; a change is counted, so flapping
    /// shows however rarely Prometheus scrapes.
    pub fn observe_readiness(&self, ready: bool) {
        let now = i64::from(ready);
        let seen = self.readiness_seen.swap(true, Ordering::Relaxed);
        if self.ready.get() != now {
            self.ready.set(now);
            if seen {
                self.readiness_changes.inc();
            }
        }
    }

    /// What the store reports about itself, taken at each scrape.
    pub fn observe_store(&self, store: &StoreGauges) {
        let in_use = store.connections.saturating_sub(store.idle);
        self.db_pool
            .with_label_values(&["in_use"])
            .set(i64::from(in_use));
        self.db_pool
            .with_label_values(&["idle"])
            .set(i64::from(store.idle));
        self.db_pool_max.set(i64::from(store.max));
        let counted = self.audit_failures.get();
        self.audit_failures
            .inc_by(store.audit_failures.saturating_sub(counted));
    }

    /// Registers a histogram that another part of the server owns and updates (the
    /// password pool's `password_hash_duration_seconds`).
    pub fn adopt(&self, collector: Box<dyn prometheus::core::Collector>) {
        if let Err(err) = self.registry.register(collector) {
            tracing::warn!(error = %err, "metric not registered");
        }
    }

    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut families = self.registry.gather();
        families.extend(self.process.gather());
        prometheus::TextEncoder::new().encode_to_string(&families)
    }
}

/// What `Metrics::observe_store` needs from the store, which lives below this module's
/// callers but is read here as plain numbers.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreGauges {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
    pub audit_failures: u64,
}

/// This build's version (Cargo.toml) and commit (`build.rs`: the git commit it was built
/// from, `PORTCULLIS_BUILD_COMMIT` when set, or `unknown`).
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const BUILD_COMMIT: &str = env!("PORTCULLIS_BUILD_COMMIT");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_counts_changes_not_answers() {
        let metrics = Metrics::new().unwrap();
        metrics.observe_readiness(true);
        assert_eq!(
            (metrics.ready.get(), metrics.readiness_changes.get()),
            (1, 0)
        );
        metrics.observe_readiness(true);
        metrics.observe_readiness(false);
        metrics.observe_readiness(false);
        metrics.observe_readiness(true);
        assert_eq!(
            (metrics.ready.get(), metrics.readiness_changes.get()),
            (1, 2)
        );
    }

    #[test]
    fn store_gauges_follow_the_store() {
        let metrics = Metrics::new().unwrap();
        let mut gauges = StoreGauges {
            connections: 5,
            idle: 2,
            max: 8,
            audit_failures: 3,
        };
        metrics.observe_store(&gauges);
        gauges.audit_failures = 4;
        metrics.observe_store(&gauges);
        let text = metrics.render().unwrap();
        assert!(
            text.contains("portcullis_db_pool_connections{state=\"in_use\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_db_pool_connections{state=\"idle\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_db_pool_max_connections 8"),
            "{text}"
        );
        assert!(
            text.contains("portcullis_audit_append_failures_total 4"),
            "{text}"
        );
    }

    #[test]
    fn user_agents_are_cut_and_escaped() {
        let mut headers = HeaderMap::new();
        assert_eq!(user_agent(&headers), "");
        headers.insert(
            actix_web::http::header::USER_AGENT,
            actix_web::http::header::HeaderValue::from_bytes(b"ok/1 \"q\" \xff").unwrap(),
        );
        assert_eq!(user_agent(&headers), "ok/1 \"q\" \\xff");
        let long = "a".repeat(300);
        headers.insert(
            actix_web::http::header::USER_AGENT,
            actix_web::http::header::HeaderValue::from_str(&long).unwrap(),
        );
        assert_eq!(user_agent(&headers).len(), MAX_USER_AGENT);
    }
}
