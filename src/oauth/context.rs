//! What protocol code needs from the server, passed in explicitly: no globals, and `now`
//! comes from the caller's clock.

use std::net::IpAddr;

use crate::accounts::Accounts;
use crate::config::Config;
use crate::crypto::keystore::KeyStore;
use crate::oauth::client::cache::ClientCache;
use crate::oauth::error::OAuthError;
use crate::oauth::standing::StandingChecks;
use crate::store::{Store, StoreError};
use crate::telemetry::Metrics;

pub struct Ctx<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub keys: &'a KeyStore,
    /// Password checks and profile claims.
    pub accounts: &'a Accounts,
    pub clients: &'a ClientCache,
    pub standings: &'a StandingChecks,
    pub metrics: &'a Metrics,
    pub now: i64,
    /// When the request began, on the monotonic clock: for bounds finer than a second.
    pub started: std::time::Instant,
    /// The client's address, for the audit log.
    pub client_ip: Option<IpAddr>,
    /// What throttles count under: the client's IPv6 network (`rate_limit.ipv6_prefix_len`),
    /// or its IPv4 address.
    pub client_key: Option<IpAddr>,
    /// The request's User-Agent (visible ASCII, at most `USER_AGENT_MAX` bytes), which a
    /// new browser session keeps for the sessions page.
    pub user_agent: Option<String>,
    /// Signs and checks device cookies (`oauth::login`).
    pub device_keys: &'a crate::crypto::device_cookie::DeviceKeys,
    /// Failed client authentication per address (`oauth::client::caller`).
    pub client_auth_failures: &'a crate::oauth::client::failures::ClientAuthFailures,
    /// TOTP sealing and the WebAuthn relying party (`oauth::mfa`).
    pub mfa: &'a crate::oauth::mfa::kit::MfaKit,
    /// Clients from client ID metadata documents (`oauth::registration::metadata_clients`).
    pub documents: &'a crate::oauth::registration::document_clients::MetadataClients,
}

/// The longest User-Agent kept: real ones are a few hundred bytes; a longer one is cut.
pub const USER_AGENT_MAX: usize = 512;

/// Storage failures seen by a protocol endpoint: an outage is 503 (retry), anything else
/// is logged and answered as `server_error` without its cause.
pub fn store_error(err: StoreError) -> OAuthError {
    match err {
        StoreError::Unavailable(cause) => {
            tracing::warn!(error = %cause, "database unavailable");
            OAuthError::temporarily_unavailable(5)
        }
        other @ (StoreError::NotFound
        | StoreError::Conflict
        | StoreError::Query(_)
        | StoreError::Corrupt(_)) => {
            tracing::error!(error = %other, "storage error");
            OAuthError::ServerError
        }
    }
}
