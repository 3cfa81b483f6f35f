//! Client records for the token endpoint, cached for a few seconds so the hot path
//! (client_credentials) needs no database round trip. Disabling a client or rotating its
//! secret takes effect within `tokens.client_cache_secs` (default 5 s); 0 turns the cache
//! off.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::oauth::client::RegisteredClient;
use crate::store::{Store, StoreError};

/// Entries beyond this are dropped wholesale; unknown ids are cached too, so a flood of
/// made-up client ids cannot grow the map without bound or reach the database each time.
const MAX_ENTRIES: usize = 10_000;

type Entry = (Instant, Option<Arc<RegisteredClient>>);

pub struct ClientCache {
    store: Store,
    ttl: Duration,
    entries: RwLock<HashMap<String, Entry>>,
}

impl std::fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl ClientCache {
    pub fn new(store: Store, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    pub async fn get(&self, client_id: &str) -> Result<Option<Arc<RegisteredClient>>, StoreError> {
        if !self.ttl.is_zero()
            && let Ok(entries) = self.entries.read()
            && let Some((at, client)) = entries.get(client_id)
            && at.elapsed() < self.ttl
        {
            return Ok(client.clone());
        }
        let record = self.store.find_client(client_id.to_owned()).await?;
        let client = match record {
            Some(record) => Some(Arc::new(RegisteredClient::try_from(&record).map_err(
                |e| StoreError::Corrupt(format!("client {}: {}", e.client_id, e.problem)),
            )?)),
            None => None,
        };
        if !self.ttl.is_zero()
            && let Ok(mut entries) = self.entries.write()
        {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(client_id.to_owned(), (Instant::now(), client.clone()));
        }
        Ok(client)
    }

    /// The client as stored now, whatever is cached (and cached from now on): for a caller
    /// that has just written it.
    pub async fn reload(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<RegisteredClient>>, StoreError> {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(client_id);
        }
        self.get(client_id).await
    }

    /// Records in the cached entry, if there is one, that the client was noted as used at
    /// `now`, so the entry's remaining seconds do not ask for the same write again.
    pub fn note_used(&self, client_id: &str, now: i64) {
        if let Ok(mut entries) = self.entries.write()
            && let Some((_, Some(client))) = entries.get_mut(client_id)
        {
            let mut updated = RegisteredClient::clone(client);
            updated.last_used_at = Some(now);
            *client = Arc::new(updated);
        }
    }
}
