//! Whether the database still backs a token: asked on every introspection, never cached.
//! Calls that arrive together share one query (`store::coalesce`), which is what keeps
//! the endpoint fast under load while every answer still reads the database as it is
//! after the call began.

use crate::store::coalesce::Coalescer;
use crate::store::models::revocation::{self, StandingQuery, TokenStanding};
use crate::store::{Store, StoreError};

/// Batches in flight at once. Two keep a batch being answered while the next one fills,
/// without letting round trips crowd the database as one query per call did.
const LEADERS: usize = 2;
/// The most tokens one query asks about.
const MAX_BATCH: usize = 128;

#[derive(Debug, Clone)]
pub struct StandingChecks {
    batches: Coalescer<StandingQuery, TokenStanding>,
}

impl StandingChecks {
    pub fn new(store: Store) -> Self {
        Self {
            batches: Coalescer::new(store, revocation::token_standings, LEADERS, MAX_BATCH),
        }
    }

    pub async fn check(&self, query: StandingQuery) -> Result<TokenStanding, StoreError> {
        self.batches.ask(query).await
    }
}
