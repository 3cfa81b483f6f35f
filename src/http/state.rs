//! What handlers share, in the handlers' own layer: the public handlers here and the admin
//! API both take it from this module, so neither needs the builder (`crate::app`) that
//! wires them together.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use actix_web::{HttpRequest, web};

use crate::accounts::Accounts;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::keystore::KeyStore;
use crate::http::client_ip::client_ip;
use crate::http::ip_limiter::IpRateLimiter;
use crate::manage;
use crate::oauth::client::cache::ClientCache;
use crate::oauth::context::Ctx;
use crate::oauth::standing::StandingChecks;
use crate::store::Store;
use crate::telemetry::Metrics;

/// What handlers share. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub service: manage::Service,
    /// Password checks and profile claims, for the protocol code (login, password grant).
    pub accounts: Accounts,
    pub clock: SharedClock,
    pub metrics: Metrics,
    pub shutting_down: Arc<AtomicBool>,
    pub keys: Arc<KeyStore>,
    pub discovery: Arc<Document>,
    pub clients: Arc<ClientCache>,
    pub standings: Arc<StandingChecks>,
    pub token_rate_limit: Option<IpRateLimiter>,
}

impl AppState {
    /// What protocol code needs for one request: `now` read once from the clock, and the
    /// caller's address as the configured trusted proxies report it.
    pub fn ctx(&self, req: &HttpRequest) -> Ctx<'_> {
        Ctx {
            config: &self.config,
            store: &self.store,
            keys: &self.keys,
            accounts: &self.accounts,
            clients: &self.clients,
            standings: &self.standings,
            metrics: &self.metrics,
            now: self.clock.now(),
            started: std::time::Instant::now(),
            client_ip: client_ip(
                req.peer_addr().map(|a| a.ip()),
                req.headers()
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok()),
                &self.config.rate_limit.trusted_proxies,
            ),
        }
    }
}

/// A pre-serialised response body with its ETag.
#[derive(Debug)]
pub struct Document {
    pub body: web::Bytes,
    pub etag: String,
}

impl Document {
    pub fn json(value: &impl serde::Serialize) -> Result<Self, serde_json::Error> {
        let body = serde_json::to_vec(value)?;
        let etag = crate::encoding::etag(&body);
        Ok(Self {
            body: body.into(),
            etag,
        })
    }
}
