//! Logs and metrics. Logs carry a request id and the route, never query strings, bodies,
//! cookies or Authorization headers: those are where tokens, codes and secrets travel.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::dev::ServiceRequest;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use tracing::Span;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;
use crate::log_batch::LogBatch;

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
        LogOutput::Stderr => install(format, level, std::io::stderr),
        LogOutput::Batched => {
            let result = install(format, level, LogBatch::stderr().clone());
            // A panicking server still leaves its last lines behind.
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                previous(info);
                LogBatch::flush_stderr();
            }));
            result
        }
    }
}

fn install<W>(format: LogFormat, level: &str, writer: W) -> Result<(), String>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer),
            )
            .try_init(),
        // Colour codes only for a terminal: in a file or a log collector they are noise
        // around every field.
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(writer),
            )
            .try_init(),
    };
    result.map_err(|e| e.to_string())
}

/// A request's id in the logs: a random prefix per process and a counter. Unique across
/// replicas with overwhelming odds, and no syscall per request (a v4 UUID asked the
/// kernel for randomness every time).
#[derive(Debug, Clone, Copy)]
pub struct RequestId {
    process: u64,
    seq: u64,
}

impl RequestId {
    pub fn next() -> Self {
        static PROCESS: OnceLock<u64> = OnceLock::new();
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let process = *PROCESS.get_or_init(rand::random::<u64>);
        Self {
            process,
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}-{:x}", self.process, self.seq)
    }
}

/// Root span per request: its id, method and path, never the query string.
pub fn request_span(request: &ServiceRequest) -> Span {
    tracing::info_span!(
        "http_request",
        request_id = %RequestId::next(),
        method = %request.method(),
        path = %request.path(),
    )
}

/// The access-log line, written inside the request's span.
pub fn log_response(status: u16, route: &str, elapsed: Duration) {
    tracing::info!(
        status,
        route,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
}

/// The access-log line of a request that ended in an error instead of a response.
pub fn log_failure(err: &actix_web::Error) {
    let status = err.as_response_error().status_code().as_u16();
    tracing::info!(status, "request failed");
}

/// The Prometheus registry and the collectors the server updates.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub password_queue_rejections: prometheus::IntCounter,
    pub active_key_age: IntGauge,
    pub next_rotation: IntGauge,
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
        let password_queue_rejections = prometheus::IntCounter::new(
            "password_overload_rejections",
            "Password checks refused because the hashing queue was full",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        let active_key_age = IntGauge::new(
            "signing_key_active_age_seconds",
            "Seconds since the active signing key started signing",
        )?;
        let next_rotation = IntGauge::new(
            "signing_key_next_rotation_seconds",
            "Seconds until the next signing key takes over (negative when overdue)",
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
        registry.register(Box::new(active_key_age.clone()))?;
        registry.register(Box::new(next_rotation.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            password_queue_rejections,
            active_key_age,
            next_rotation,
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

    /// Seconds since the signing key became active, and until the next one takes over
    /// (computed by `crate::app` from the key set, which lives above this module).
    pub fn observe_key_times(&self, active_key_age: i64, next_rotation_in: i64) {
        self.active_key_age.set(active_key_age);
        self.next_rotation.set(next_rotation_in);
    }

    pub fn render(&self) -> Result<String, prometheus::Error> {
        prometheus::TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}
