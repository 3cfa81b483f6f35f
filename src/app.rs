//! Building and running the server: the same entry for `portcullis serve` and the tests.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use actix_web::HttpMessage as _;
use actix_web::dev::{Server, Service as _};
use actix_web::{App, HttpServer, web};
use futures_util::FutureExt;
use tracing::Instrument;
use zeroize::Zeroizing;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, MasterKeySource};
use crate::crypto::key_material::MasterKeys;
use crate::crypto::keystore::{KeyError, KeyPolicy, KeyStore};
use crate::crypto::password::PasswordHasher;
use crate::http::routes;
pub use crate::http::state::AppState;
use crate::http::state::Document;
use crate::manage::{self, Actor};
use crate::store::{Store, StoreError, StoreOptions};
use crate::telemetry::{self, Metrics};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database: {0}")]
    Database(#[source] StoreError),
    #[error("database migrations failed: {0}")]
    Migrations(#[source] StoreError),
    #[error("cannot listen on {addr} ({listener}): {source}")]
    Bind {
        listener: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the password hashing pool")]
    Passwords,
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("master key: {0}")]
    MasterKey(String),
    #[error("signing keys: {0}")]
    Keys(#[from] KeyError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("outbound TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("email: {0}")]
    Mail(String),
    #[error("ui: {0}")]
    Ui(#[from] crate::ui::UiError),
}

/// Stops a running application the same way SIGTERM does.
#[derive(Clone, Debug)]
pub struct ShutdownHandle(Arc<tokio::sync::Notify>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        self.0.notify_one();
    }
}

pub struct Application {
    public: Server,
    admin: Server,
    public_addr: SocketAddr,
    admin_addr: SocketAddr,
    state: AppState,
    shutdown: ShutdownHandle,
    stop_signals: StopSignals,
    /// Where the outbox worker sends mail (`email.*`), moved into it by `run_until_stopped`.
    mailer: crate::outbound::mail::Mailer,
}

/// SIGTERM and SIGINT, listened for from before the listeners accept: a signal that
/// arrives once `/health/ready` can answer (an orchestrator may send one at any moment)
/// must start the graceful stop, not kill the process with the default action.
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| {
                signal(kind)
                    .inspect_err(|err| tracing::warn!(error = %err, "cannot listen for {name}"))
                    .ok()
            };
            Self {
                term: listen(SignalKind::terminate(), "SIGTERM"),
                interrupt: listen(SignalKind::interrupt(), "SIGINT"),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Until a stop signal arrives or `notify` is notified.
    async fn wait(mut self, notify: &tokio::sync::Notify) {
        #[cfg(unix)]
        {
            async fn next(signal: Option<&mut tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = next(self.term.as_mut()) => {}
                () = next(self.interrupt.as_mut()) => {}
                () = notify.notified() => {}
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = notify.notified() => {}
            }
        }
    }
}

/// Opens the pool and, if configured, applies pending migrations (`now` dates the row that
/// seals the audit chain when a migration keys it).
pub async fn open_store(config: &Config, now: i64) -> Result<Store, StartError> {
    let master = master_keys(config)?;
    let audit_keys =
        crate::crypto::audit_key::audit_keys(&master, config.keys.audit_keys.as_deref())
            .ok_or_else(|| StartError::MasterKey("cannot derive the audit key".into()))?;
    let store = Store::open(
        &config.database.url,
        &StoreOptions {
            pool_size: config.database.pool_size,
            connect_timeout: config.database.connect_timeout,
            idle_poll: config.idle_poll,
            replica_lease: config.tokens.replica_lease,
            audit_keys,
        },
    )
    .map_err(StartError::Database)?;
    if config.database.migrate_on_start {
        let applied = store.migrate(now).await.map_err(StartError::Migrations)?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied database migrations");
        }
    }
    Ok(store)
}

/// The management service the CLI and admin API share.
pub fn management(
    config: &Config,
    store: Store,
    clock: SharedClock,
) -> Result<manage::Service, StartError> {
    let passwords = PasswordHasher::new(&config.password).map_err(|_| StartError::Passwords)?;
    Ok(manage::Service::new(
        store,
        passwords,
        clock,
        config.password.policy,
    ))
}

pub fn key_policy(config: &Config) -> KeyPolicy {
    let longest_token = crate::manage::clients::MAX_ACCESS_TOKEN_LIFETIME
        .max(config.tokens.access_token_lifetime)
        .max(config.tokens.id_token_lifetime);
    let reload = i64::try_from(config.keys.reload_interval.as_secs()).unwrap_or(3600);
    KeyPolicy {
        rsa_bits: config.keys.rsa_bits,
        rotation_period: config.keys.rotation_period,
        publish_lead: 2 * config.keys.jwks_max_age,
        retire_grace: longest_token + config.tokens.clock_skew + reload,
        jwks_max_age: config.keys.jwks_max_age,
    }
}

pub fn master_keys(config: &Config) -> Result<Arc<MasterKeys>, StartError> {
    match &config.keys.master_keys {
        MasterKeySource::Configured(keys) => Ok(Arc::clone(keys)),
        MasterKeySource::DevFile(path) => crate::crypto::dev_master_key::load_or_create(path)
            .map(Arc::new)
            .map_err(|e| StartError::MasterKey(e.to_string())),
    }
}

/// What second factors need from the configuration: the master keys that seal TOTP
/// secrets, the issuer (the WebAuthn relying party) and the name apps show. The server and
/// the CLI (`user enroll-totp`) both build it here, so a secret one seals the other opens.
pub fn mfa_kit(config: &Config, master: Arc<MasterKeys>) -> crate::oauth::mfa::MfaKit {
    crate::oauth::mfa::MfaKit::new(master, config.issuer.as_str(), &config.ui.product_name)
}

pub async fn open_keystore(
    config: &Config,
    store: Store,
    now: i64,
) -> Result<KeyStore, StartError> {
    let master = master_keys(config)?;
    Ok(KeyStore::open(store, master, key_policy(config), now).await?)
}

/// Builds the shared state: store (migrated if configured), keys, password pool, services.
pub async fn build_state(config: Config, clock: SharedClock) -> Result<AppState, StartError> {
    // One crypto backend for every rustls user in the process (docs/architecture.md,
    // "outbound requests").
    crate::outbound::install_tls_provider();
    // The common-password list is decompressed once per process; doing it now, beside
    // the rest of the start, spares the first password change the wait.
    std::thread::spawn(crate::accounts::common::warm);
    let store = open_store(&config, clock.now()).await?;
    let service = management(&config, store.clone(), Arc::clone(&clock))?;
    let accounts = service.accounts();
    let keys = Arc::new(open_keystore(&config, store.clone(), clock.now()).await?);
    let metrics = Metrics::new().map_err(|e| StartError::Metrics(e.to_string()))?;
    observe_keys(&metrics, &keys);
    metrics.key_maintenance_succeeded_at.set(clock.now());
    metrics.adopt(Box::new(service.passwords.durations()));
    let discovery = Document::json(&crate::oauth::discovery::for_config(&config))
        .map_err(|e| StartError::Metrics(e.to_string()))?;
    let clients = Arc::new(crate::oauth::client::cache::ClientCache::new(
        store.clone(),
        config.tokens.client_cache,
    ));
    let origins = Arc::new(crate::oauth::client::origins::AllowedOrigins::new(
        config.cors.clone(),
        store.clone(),
        config.tokens.client_cache,
    ));
    let rate_limits = Arc::new(crate::http::ip_limiter::EndpointLimiters::new(
        &config.rate_limit,
    ));
    let standings = Arc::new(crate::oauth::standing::StandingChecks::new(
        store.clone(),
        config.tokens.introspection_cache,
    ));
    let master = master_keys(&config)?;
    let device_keys = crate::crypto::device_cookie::DeviceKeys::derive(&master)
        .ok_or_else(|| StartError::MasterKey("cannot derive the device-cookie key".into()))?;
    let mfa = Arc::new(mfa_kit(&config, master));
    let client_auth_failures = Arc::new(crate::oauth::client::failures::ClientAuthFailures::new(
        config.rate_limit.client_auth_failures,
    ));
    let settings = config.registration.metadata_documents;
    if settings.enabled && settings.allow_private {
        tracing::warn!(
            "registration.metadata_documents_allow_private is on: anyone can make this server \
             fetch over plain http from its own machine and network (loopback, private and \
             link-local addresses). It is for development only; never enable it where others \
             can reach the server"
        );
    }
    let documents = Arc::new(
        crate::oauth::registration::metadata_clients::MetadataClients::new(
            settings,
            Arc::new(crate::outbound::SystemResolver),
            Arc::new(crate::manage::metadata_documents::DocumentWriter {
                service: service.clone(),
                max_clients: config.registration.max_clients,
            }),
        )?,
    );
    let ui = Arc::new(crate::ui::Ui::load(&config.ui)?);
    Ok(AppState {
        ui,
        documents,
        device_keys: Arc::new(device_keys),
        mfa,
        client_auth_failures,
        clients,
        origins,
        standings,
        rate_limits,
        forwarding_warned: Default::default(),
        forwarding_ignored: Default::default(),
        config: Arc::new(config),
        store,
        service,
        accounts,
        clock,
        metrics,
        shutting_down: Arc::new(AtomicBool::new(false)),
        keys,
        discovery: Arc::new(discovery),
    })
}

/// The admin listener: its health and metrics endpoints, then the admin API. Never proxied
/// to the internet.
fn admin_routes(cfg: &mut web::ServiceConfig) {
    routes::admin(cfg);
    crate::admin::routes::configure(cfg);
}

fn bind(listener: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).map_err(|source| StartError::Bind {
        listener,
        addr,
        source,
    })
}

/// Records count and latency per matched route (never the raw path: ids in paths would
/// make unbounded label sets), writes the access log, and gives every answer, errors
/// included, the request's `X-Request-Id`: the one it came with if sane, or a new one.
macro_rules! metered_app {
    ($state:expr, $listener:expr, $routes:expr) => {{
        let metrics = $state.metrics.clone();
        let idle_poll = crate::http::idle_poll::IdlePoll {
            window: $state.config.idle_poll,
            while_waiting: $state.store.backend().in_process(),
        };
        App::new()
            .app_data(web::Data::new($state.clone()))
            .app_data(web::FormConfig::default().limit(16 * 1024))
            .app_data(web::JsonConfig::default().limit(64 * 1024))
            .app_data(web::PayloadConfig::new(16 * 1024))
            .configure($routes)
            .wrap_fn(move |req, srv| {
                let in_flight = crate::http::idle_poll::request_started(idle_poll);
                let started = Instant::now();
                let method = req.method().to_string();
                let metrics = metrics.clone();
                let request_id = telemetry::request_id::for_request(req.headers());
                let span = telemetry::request_span(&req, &request_id);
                let user_agent = telemetry::user_agent(req.headers());
                let mut client_ip = None;
                if let Some(state) = req.app_data::<web::Data<AppState>>() {
                    span.in_scope(|| state.note_forwarding(req.peer_addr(), req.headers()));
                    let client = state.client_address(req.peer_addr(), req.headers());
                    client_ip = client.map(|c| c.ip);
                    req.extensions_mut()
                        .insert(crate::http::state::ResolvedClient(client));
                }
                let response = span.in_scope(|| srv.call(req));
                response.instrument(span.clone()).map(move |res| {
                    in_flight.done();
                    let _entered = span.enter();
                    let elapsed = started.elapsed();
                    let id = actix_web::http::header::HeaderValue::from_str(&request_id).ok();
                    let access = |status: u16, route: &str| {
                        metrics.observe($listener, route, &method, status, elapsed.as_secs_f64());
                        telemetry::log_response(&telemetry::Access {
                            status,
                            route,
                            elapsed,
                            client_ip,
                            user_agent: &user_agent,
                        });
                    };
                    match res {
                        Ok(mut res) => {
                            if let Some(id) = id {
                                res.headers_mut().insert(telemetry::request_id::HEADER, id);
                            }
                            // Looked up once for the metric and the access log both.
                            let pattern = res.request().match_pattern();
                            access(
                                res.status().as_u16(),
                                pattern.as_deref().unwrap_or("unmatched"),
                            );
                            Ok(res)
                        }
                        // An error that escaped a middleware becomes its response only
                        // later; give it that response now, with the id (as `hsts` does),
                        // under the route `error`.
                        Err(err) => {
                            let mut response = err.error_response();
                            if let Some(id) = id {
                                response
                                    .headers_mut()
                                    .insert(telemetry::request_id::HEADER, id);
                            }
                            access(response.status().as_u16(), "error");
                            Err(
                                actix_web::error::InternalError::from_response(err, response)
                                    .into(),
                            )
                        }
                    }
                })
            })
            .wrap(actix_web::middleware::from_fn(
                crate::http::hsts::strict_transport_security,
            ))
    }};
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: SharedClock) -> Result<Self, StartError> {
        let public_listener = bind("public", config.http_bind)?;
        let admin_listener = bind("admin", config.admin_bind)?;
        let state = build_state(config, clock).await?;
        Self::from_state(state, public_listener, admin_listener)
    }

    /// Builds on listeners the caller already bound (tests bind port 0 first so the
    /// issuer can name the real port).
    pub async fn build_with_listeners(
        config: Config,
        clock: SharedClock,
        public_listener: TcpListener,
        admin_listener: TcpListener,
    ) -> Result<Self, StartError> {
        let state = build_state(config, clock).await?;
        Self::from_state(state, public_listener, admin_listener)
    }

    fn from_state(
        state: AppState,
        public_listener: TcpListener,
        admin_listener: TcpListener,
    ) -> Result<Self, StartError> {
        let public_addr = public_listener.local_addr()?;
        let admin_addr = admin_listener.local_addr()?;
        let mailer =
            crate::outbound::mail::Mailer::new(&state.config.email).map_err(StartError::Mail)?;
        if matches!(state.config.email.backend, crate::config::EmailBackend::Log) {
            tracing::info!(
                "email.backend is `log`: messages are written to the log, links included, \
                 and never sent (for development; set email.backend = \"smtp\" to send them)"
            );
        }

        // Before `run()`: from then on the listeners answer, readiness included.
        let stop_signals = StopSignals::listen();
        let public_state = state.clone();
        let public = HttpServer::new(move || {
            let issuer_path = public_state.config.issuer.path().to_owned();
            metered_app!(
                public_state,
                "public",
                move |cfg: &mut web::ServiceConfig| {
                    routes::public(cfg, &issuer_path);
                }
            )
        })
        .listen(public_listener)?
        .disable_signals()
        .shutdown_timeout(10)
        .run();
        let admin_state = state.clone();
        let admin = HttpServer::new(move || metered_app!(admin_state, "admin", admin_routes))
            .workers(1)
            .listen(admin_listener)?
            .disable_signals()
            .shutdown_timeout(10)
            .run();
        Ok(Self {
            public,
            admin,
            public_addr,
            admin_addr,
            state,
            shutdown: ShutdownHandle(Arc::new(tokio::sync::Notify::new())),
            stop_signals,
            mailer,
        })
    }

    pub fn public_addr(&self) -> SocketAddr {
        self.public_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Serves until SIGTERM, Ctrl-C or the shutdown handle; then reports not-ready for
    /// `http.shutdown_delay_secs`, stops accepting, and lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> Result<(), std::io::Error> {
        let public_handle = self.public.handle();
        let admin_handle = self.admin.handle();
        let flag = Arc::clone(&self.state.shutting_down);
        let delay = self.state.config.shutdown_delay;
        let notify = Arc::clone(&self.shutdown.0);
        let stop_signals = self.stop_signals;
        let maintenance = tokio::spawn(key_maintenance(self.state.clone()));
        let janitor = tokio::spawn(janitor(self.state.clone()));
        let mail = tokio::spawn(crate::mail::run(
            self.state.store.clone(),
            self.mailer,
            self.state.config.email.clone(),
            self.state.metrics.clone(),
            Arc::clone(&self.state.clock),
        ));
        let store = self.state.store.clone();
        let lease_store = store.clone();
        let lease = tokio::spawn(async move { lease_store.keep_lease().await });
        let stopper = tokio::spawn(async move {
            stop_signals.wait(&notify).await;
            tracing::info!("shutdown requested; readiness now reports 503");
            flag.store(true, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            tokio::join!(public_handle.stop(true), admin_handle.stop(true));
            tracing::info!("listeners stopped");
        });
        let (public, admin) = tokio::join!(self.public, self.admin);
        stopper.abort();
        maintenance.abort();
        janitor.abort();
        mail.abort();
        lease.abort();
        // Revocations elsewhere stop waiting for this replica now, not when its lease
        // would have run out.
        store.release_lease().await;
        public?;
        admin
    }
}

/// The signing-key gauges: when the active key began to sign, when the next one signs.
fn observe_keys(metrics: &Metrics, keys: &KeyStore) {
    let set = keys.current();
    let active = set.keys().iter().find(|k| k.status == "active");
    let pending = set.keys().iter().find(|k| k.status == "pending");
    if let Some(active) = active {
        let since = active.activated_at.unwrap_or(active.created_at);
        let next = pending.map_or(since + keys.policy().rotation_period, |p| p.activate_after);
        metrics.observe_key_times(since, next);
    }
}

/// Every replica advances the key lifecycle (one at a time, by lease) and reloads the
/// key set on a fixed interval; failures are logged and retried on the next tick.
async fn key_maintenance(state: AppState) {
    let mut interval = tokio::time::interval(state.config.keys.reload_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await; // the first tick fires at once; the set was just loaded
    loop {
        interval.tick().await;
        let now = state.clock.now();
        match state.keys.advance(now).await {
            Ok(()) => state.metrics.key_maintenance_succeeded_at.set(now),
            Err(err) => {
                state.metrics.key_maintenance_failures.inc();
                tracing::warn!(error = %err, "signing key maintenance failed; retrying next tick");
            }
        }
        observe_keys(&state.metrics, &state.keys);
        state.rate_limits.forget_idle();
        state
            .client_auth_failures
            .forget_idle(std::time::Instant::now());
    }
}

/// Deletes expired rows on every replica's schedule; one replica at a time does the work.
async fn janitor(state: AppState) {
    let holder = uuid::Uuid::now_v7().to_string();
    let mut interval = tokio::time::interval(state.config.janitor.interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = state.clock.now();
        let outcome =
            crate::janitor::tick(&state.store, &state.config, &state.metrics, &holder, now).await;
        if let Err(err) = outcome {
            state
                .metrics
                .janitor_runs
                .with_label_values(&["failed"])
                .inc();
            tracing::warn!(error = %err, "janitor run failed; retrying next tick");
        }
    }
}

/// On a database with no user at all, creates `admin` with the `admin` role and `password`,
/// or a random one returned in `generated_password` so `serve` can hand it over once (it is
/// never logged).
/// The first admin's username.
pub const BOOTSTRAP_ADMIN: &str = "admin";

pub async fn bootstrap_admin(
    service: &manage::Service,
    password: Option<Zeroizing<String>>,
) -> Result<Option<manage::users::CreatedUser>, manage::ManageError> {
    if service.user_count().await? > 0 {
        return Ok(None);
    }
    let created = service
        .create_user(
            &Actor::system(),
            manage::users::NewUser {
                password,
                username: BOOTSTRAP_ADMIN.into(),
                roles: vec!["admin".into()],
                ..Default::default()
            },
        )
        .await;
    match created {
        Ok(c) => Ok(Some(c)),
        // Another replica bootstrapped first.
        Err(manage::ManageError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
