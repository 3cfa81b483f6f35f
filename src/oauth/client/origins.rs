//! The origins whose pages may call the endpoints a browser app calls (`http::cors`): the
//! web origins of every enabled client's redirect URIs, plus `cors.allowed_origins`.
//!
//! Asked on every cross-origin request to those endpoints, so it answers from memory: one
//! snapshot of all the clients' origins, read whole (one query) again when this process
//! has written a client since (`Store::client_generation`, bumped by every `manage` write
//! path), or when it is older than `tokens.client_cache_secs`, the bound for changes made
//! elsewhere (the CLI, another replica), as for every cached client record. An origin that
//! no client registered is answered from the snapshot too: however many a caller makes
//! up, they cost no query of their own.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::config::CorsConfig;
use crate::store::Store;
use crate::url_rules::web_origin;

pub struct AllowedOrigins {
    configured: CorsConfig,
    store: Store,
    ttl: Duration,
    snapshot: RwLock<Snapshot>,
    /// One reload at a time: callers that find the snapshot stale together wait for the
    /// first one's query instead of each sending their own.
    reload: tokio::sync::Mutex<()>,
}

struct Snapshot {
    origins: Arc<HashSet<String>>,
    /// `None` until the first read.
    read_at: Option<Instant>,
    /// `Store::client_generation` when the read began.
    generation: u64,
}

impl std::fmt::Debug for AllowedOrigins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllowedOrigins")
            .field("configured", &self.configured.allowed_origins)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl AllowedOrigins {
    /// `ttl` zero reads the clients on every question (the operator turned client caching
    /// off: `tokens.client_cache_secs = 0`).
    pub fn new(configured: CorsConfig, store: Store, ttl: Duration) -> Self {
        Self {
            configured,
            store,
            ttl,
            snapshot: RwLock::new(Snapshot {
                origins: Arc::default(),
                read_at: None,
                generation: 0,
            }),
            reload: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether a page of `origin` (the request's `Origin` header, as sent) may read the
    /// answers of the token, userinfo, revocation and registration endpoints. Compared
    /// byte for byte with origins serialised as browsers send them.
    pub async fn allows(&self, origin: &str) -> bool {
        if self.configured.allows(origin) {
            return true;
        }
        if let Some(known) = self.recall(origin, Instant::now()) {
            return known;
        }
        let _one = self.reload.lock().await;
        // Whoever held the lock before may have just read them.
        if let Some(known) = self.recall(origin, Instant::now()) {
            return known;
        }
        // Read before the query: a write that commits while it runs bumps the generation
        // past this one, and the next question reads again.
        let generation = self.store.client_generation();
        let started = Instant::now();
        let read = self.store.enabled_redirect_uris().await;
        let mut snapshot = self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match read {
            Ok(lists) => snapshot.origins = Arc::new(origins_of(&lists)),
            // The last origins read stay: they were true a moment ago, and a database
            // outage should not also break every browser app's error handling. Asked
            // again after `ttl`, not on every request meanwhile.
            Err(err) => tracing::warn!(
                error = %err,
                "cannot read the clients' origins for CORS; using the ones read before"
            ),
        }
        snapshot.read_at = Some(started);
        snapshot.generation = generation;
        snapshot.origins.contains(origin)
    }

    /// The snapshot's answer, if it is still good at `now`.
    fn recall(&self, origin: &str, now: Instant) -> Option<bool> {
        let snapshot = self.snapshot.read().unwrap_or_else(PoisonError::into_inner);
        let fresh = snapshot
            .read_at
            .is_some_and(|at| now.saturating_duration_since(at) < self.ttl)
            && snapshot.generation == self.store.client_generation();
        fresh.then(|| snapshot.origins.contains(origin))
    }
}

/// The web origins of the redirect URIs in `lists` (each a client's JSON list, as stored).
/// URIs without one (private-use schemes of native apps) add nothing; a list that does not
/// parse adds nothing either, so a corrupt row allows no origin rather than failing all.
pub fn origins_of(lists: &[String]) -> HashSet<String> {
    lists
        .iter()
        .filter_map(|list| serde_json::from_str::<Vec<String>>(list).ok())
        .flatten()
        .filter_map(|uri| web_origin(&uri))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_of_redirect_uris() {
        let lists = [
            r#"["https://app.example.com/callback","https://app.example.com/silent"]"#,
            r#"["http://127.0.0.1:8400/cb","com.example.native:/cb"]"#,
            r#"["https://Other.Example:8443/a?b=c"]"#,
            "[]",
            "not json",
        ]
        .map(String::from);
        let mut origins: Vec<String> = origins_of(&lists).into_iter().collect();
        origins.sort();
        assert_eq!(
            origins,
            [
                "http://127.0.0.1:8400",
                "https://app.example.com",
                "https://other.example:8443",
            ]
        );
    }
}
