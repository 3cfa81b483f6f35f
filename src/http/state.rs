//! What handlers share, in the handlers' own layer: the public handlers here and the admin
//! API both take it from this module, so neither needs the builder (`crate::app`) that
//! wires them together.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use actix_web::HttpMessage as _;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpRequest, web};

use crate::accounts::Accounts;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::keystore::KeyStore;
use crate::http::client_ip::{client_ip, counting_key, ignored_forwarding};
use crate::http::ip_limiter::EndpointLimiters;
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
    /// Origins whose pages may read the token endpoints' answers (`crate::http::cors`).
    pub origins: Arc<crate::oauth::client::origins::AllowedOrigins>,
    pub standings: Arc<StandingChecks>,
    /// Per-address request buckets by endpoint (`crate::http::rate_limit`).
    pub rate_limits: Arc<EndpointLimiters>,
    /// Set once `serve` has warned about forwarding headers from an untrusted peer, so a
    /// misconfigured proxy costs one log line, not one per request.
    pub forwarding_warned: Arc<AtomicBool>,
    /// Requests since start that carried forwarding headers from a peer that is not a
    /// trusted proxy: what `crate::manage::doctor` reports (`proxy.forwarded_untrusted`).
    /// One relaxed add per such request.
    pub forwarding_ignored: Arc<AtomicU64>,
    /// Signs and checks the login form's device cookies.
    pub device_keys: Arc<crate::crypto::device_cookie::DeviceKeys>,
    /// Failed client authentication per address (`rate_limit.client_auth_failures`).
    pub client_auth_failures: Arc<crate::oauth::client::failures::ClientAuthFailures>,
    /// Sealing of TOTP secrets and the WebAuthn relying party (`oauth::mfa`).
    pub mfa: Arc<crate::oauth::mfa::MfaKit>,
    /// Clients from client ID metadata documents, fetched through the SSRF guard.
    pub documents: Arc<crate::oauth::registration::metadata_clients::MetadataClients>,
    /// The pages' and mails' templates and words (`crate::ui`).
    pub ui: Arc<crate::ui::Ui>,
}

/// Who sent a request, as the configured trusted proxies report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress {
    /// The address itself, for the audit log.
    pub ip: IpAddr,
    /// What rate limits and throttles count under: the IPv6 network, not the address.
    pub key: IpAddr,
}

/// The client address the request wrapper (`app`) worked out, kept in the request's
/// extensions so the rate limiter, `ctx` and the access log share one parse of the
/// forwarding headers (`None` is kept too: no address is an answer as well).
#[derive(Debug, Clone, Copy)]
pub struct ResolvedClient(pub Option<ClientAddress>);

impl AppState {
    /// The request's client address: the one the request wrapper kept, else worked out
    /// now (a request that did not pass the wrapper, as in unit tests).
    pub fn client_of(
        &self,
        extensions: &actix_web::dev::Extensions,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
    ) -> Option<ClientAddress> {
        match extensions.get::<ResolvedClient>() {
            Some(resolved) => resolved.0,
            None => self.client_address(peer, headers),
        }
    }

    /// What protocol code needs for one request: `now` read once from the clock, and the
    /// caller's address as the configured trusted proxies report it.
    pub fn ctx(&self, req: &HttpRequest) -> Ctx<'_> {
        let client = self.client_of(&req.extensions(), req.peer_addr(), req.headers());
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
            client_ip: client.map(|c| c.ip),
            client_key: client.map(|c| c.key),
            user_agent: req
                .headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| {
                    // `to_str` passed only visible ASCII: any byte is a char boundary.
                    ua.get(..crate::oauth::context::USER_AGENT_MAX)
                        .unwrap_or(ua)
                        .to_owned()
                }),
            device_keys: &self.device_keys,
            client_auth_failures: &self.client_auth_failures,
            mfa: &self.mfa,
            documents: &self.documents,
        }
    }

    /// Warns once when forwarding headers arrive from a peer that is not a trusted proxy:
    /// either a proxy missing from the setting (every user then shares its address and its
    /// limits), or a client trying to choose its own address. Called for every request.
    pub fn note_forwarding(&self, peer: Option<SocketAddr>, headers: &HeaderMap) {
        let has_forwarding =
            headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded");
        let peer = peer.map(|a| a.ip());
        let ignored = ignored_forwarding(peer, has_forwarding, &self.config.proxy.trusted_proxies);
        if ignored {
            self.forwarding_ignored.fetch_add(1, Ordering::Relaxed);
        }
        if ignored && !self.forwarding_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                peer = ?peer,
                "forwarding headers (X-Forwarded-For / Forwarded) from a peer that is not a \
                 trusted proxy are ignored; if it is your reverse proxy, add its address or \
                 network to proxy.trusted_proxies (PORTCULLIS_PROXY__TRUSTED_PROXIES)"
            );
        }
    }

    /// The client behind `peer`; `crate::http::client_ip` has the rules. The one place
    /// the client's address is worked out: rate limits, login throttling, the pending
    /// request bounds, registration and the audit log (through `ctx`) and the access log
    /// all take it from here.
    pub fn client_address(
        &self,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
    ) -> Option<ClientAddress> {
        let proxy = &self.config.proxy;
        let peer = peer.map(|a| a.ip());
        // Header values that are not visible ASCII name no address; dropping them would
        // shift the list, so they are kept as a hop the parser refuses.
        let lines: Vec<&str> = headers
            .get_all(proxy.header.name())
            .map(|v| v.to_str().unwrap_or("\u{0}"))
            .collect();
        let ip = client_ip(peer, proxy.header, &lines, &proxy.trusted_proxies)?;
        Some(ClientAddress {
            ip,
            key: counting_key(ip, self.config.rate_limit.ipv6_prefix_len),
        })
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
