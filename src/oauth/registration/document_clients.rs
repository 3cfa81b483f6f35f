//! What the server keeps for client ID metadata documents: the fetcher, the freshness of
//! stored documents and the writer of their clients. A file of its own so that `Ctx`, which
//! lends it, and the lookups in `metadata_clients`, which take `Ctx`, do not import each
//! other.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use super::policy::Registration;
use crate::config::MetadataDocumentsConfig;
use crate::outbound::{Fetcher, Policy, Resolver};
use crate::store::StoreError;

/// Freshness entries kept at most; beyond, they are dropped wholesale (a dropped entry
/// costs one fetch).
const MAX_ENTRIES: usize = 10_000;

/// What writing a document's client may answer.
pub type Saving<'a> = Pin<Box<dyn Future<Output = Result<(), SaveError>> + Send + 'a>>;

/// Why a document's client was not written.
#[derive(Debug)]
pub enum SaveError {
    /// As many clients from documents as `registration.max_clients` allows.
    Full,
    /// The client rules of `manage` refused it (the policy let it through).
    Refused(String),
    Store(StoreError),
}

/// Writes the client a document describes. Implemented by `manage::Service`, which holds
/// the one write path of clients; protocol code only names what to write.
pub trait DocumentClients: Send + Sync + 'static {
    /// Creates the client `registration` describes under `client_id` (origin
    /// `metadata_document`), or brings the stored one up to date; a client of any other
    /// origin under that id is left as it is. `from`: the address whose request made the
    /// server fetch, for the audit log.
    fn save<'a>(
        &'a self,
        client_id: &'a str,
        registration: &'a Registration,
        from: Option<IpAddr>,
    ) -> Saving<'a>;
}

/// The fetcher, the freshness of stored documents, and the writer of their clients.
pub struct MetadataClients {
    pub(super) settings: MetadataDocumentsConfig,
    /// `None` when metadata documents are off.
    pub(super) fetcher: Option<Fetcher>,
    pub(super) clients: Arc<dyn DocumentClients>,
    /// Client id -> until when (unix seconds) its stored document is fresh.
    fresh_until: RwLock<HashMap<String, i64>>,
}

impl std::fmt::Debug for MetadataClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataClients")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl MetadataClients {
    pub fn new(
        settings: MetadataDocumentsConfig,
        resolver: Arc<dyn Resolver>,
        clients: Arc<dyn DocumentClients>,
    ) -> Result<Self, rustls::Error> {
        let fetcher = if settings.enabled {
            Some(Fetcher::new(Policy::new(settings.allow_private), resolver)?)
        } else {
            None
        };
        Ok(Self {
            settings,
            fetcher,
            clients,
            fresh_until: RwLock::new(HashMap::new()),
        })
    }

    pub fn enabled(&self) -> bool {
        self.fetcher.is_some()
    }

    pub(super) fn is_fresh(&self, client_id: &str, now: i64) -> bool {
        self.fresh_until
            .read()
            .ok()
            .and_then(|m| m.get(client_id).copied())
            .is_some_and(|until| now < until)
    }

    pub(super) fn mark_fresh(&self, client_id: &str, until: i64) {
        if let Ok(mut map) = self.fresh_until.write() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(client_id.to_owned(), until);
        }
    }
}
