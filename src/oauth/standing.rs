//! Whether the database still backs a token: asked on every introspection. Calls that
//! arrive together share one query (`store::coalesce`), which is what keeps the endpoint
//! fast under load while every answer still reads the database as it is after the call
//! began.
//!
//! What the database said is remembered, and used again, only while nothing can have
//! changed it unseen:
//!
//! - On Postgres, while this replica holds its lease (`store::agreement`, on by default):
//!   a revocation anywhere waits for every replica to drop what it remembered before it
//!   answers, so an answer from memory never contradicts a revocation that has returned.
//! - Under an operator's opt-in bound (`tokens.introspection_cache_ms`, off by default),
//!   for that long after the remembered query began, whoever revoked.
//!
//! Either way an answer remembered under an older revocation epoch is never used: the
//! epoch changes when this replica revokes something or learns that another did.
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::store::standing::{StandingBatches, StandingQuery, TokenStanding};
use crate::store::{Store, StoreError};

/// Batches in flight at once. Two keep a batch being answered while the next one fills,
/// without letting round trips crowd the database as one query per call did.
const LEADERS: usize = 2;
/// The most tokens one query asks about.
const MAX_BATCH: usize = 128;
/// Remembered answers beyond this are dropped wholesale: a flood of distinct tokens can
/// cost memory only up to here (a few MiB), and each entry expires within the bound anyway.
const MAX_REMEMBERED: usize = 10_000;

#[derive(Debug)]
pub struct StandingChecks {
    store: Store,
    batches: StandingBatches,
    memo: Option<Memo>,
}

/// Whether an answer came from the database or from what this replica remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Database,
    Remembered,
}

struct Memo {
    /// Zero: remembered answers are used only under the replica's lease.
    bound: Duration,
    entries: RwLock<HashMap<StandingQuery, Remembered>>,
}

// The bound only: the entries name up to ten thousand tokens and users.
impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

struct Remembered {
    /// When the call that asked the database began; its query began later.
    asked_at: Instant,
    epoch: u64,
    standing: TokenStanding,
}

impl StandingChecks {
    /// With `remember_for` zero and no lease (`Store::uses_lease`), every call asks the
    /// database.
    pub fn new(store: Store, remember_for: Duration) -> Self {
        let remember = !remember_for.is_zero() || store.uses_lease();
        Self {
            batches: StandingBatches::new(store.clone(), LEADERS, MAX_BATCH),
            store,
            memo: remember.then(|| Memo {
                bound: remember_for,
                entries: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The token's standing. `asked_at` is when the caller began (a monotonic instant,
    /// passed in so tests can place calls in time).
    pub async fn check(
        &self,
        query: StandingQuery,
        asked_at: Instant,
    ) -> Result<(TokenStanding, Source), StoreError> {
        let Some(memo) = &self.memo else {
            return Ok((self.batches.ask(query).await?, Source::Database));
        };
        // Read before the query starts: a revocation noted while it runs makes its
        // answer count as stale.
        let epoch = self.store.revocation_epoch();
        // The lease is checked at the moment of answering, not when the call began: a
        // lease that ran out in between no longer vouches for anything.
        let leased = self.store.holds_lease(Instant::now());
        if let Some(standing) = memo.recall(&query, epoch, asked_at, leased) {
            return Ok((standing, Source::Remembered));
        }
        let standing = self.batches.ask(query.clone()).await?;
        memo.keep(query, standing.clone(), epoch, asked_at);
        Ok((standing, Source::Database))
    }
}

impl Memo {
    /// `leased`: the replica's lease is good now, so an answer of the current epoch
    /// holds whatever its age.
    fn recall(
        &self,
        query: &StandingQuery,
        epoch: u64,
        now: Instant,
        leased: bool,
    ) -> Option<TokenStanding> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let remembered = entries.get(query)?;
        let fresh = remembered.epoch == epoch
            && (leased || now.saturating_duration_since(remembered.asked_at) < self.bound);
        fresh.then(|| remembered.standing.clone())
    }

    fn keep(&self, query: StandingQuery, standing: TokenStanding, epoch: u64, asked_at: Instant) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_REMEMBERED {
            entries.clear();
        }
        entries.insert(
            query,
            Remembered {
                asked_at,
                epoch,
                standing,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(active: bool) -> TokenStanding {
        TokenStanding {
            jti_revoked: !active,
            client_active: true,
            username: None,
            grant_active: false,
        }
    }

    fn query(jti: &str) -> StandingQuery {
        StandingQuery {
            jti: jti.into(),
            client_id: "svc".into(),
            client_instance: Some("i1".into()),
            user_id: None,
            grant_id: None,
        }
    }

    fn memo(bound_ms: u64) -> Memo {
        Memo {
            bound: Duration::from_millis(bound_ms),
            entries: RwLock::new(HashMap::new()),
        }
    }

    #[test]
    fn an_answer_is_used_only_within_the_bound_and_epoch() {
        let memo = memo(500);
        let t0 = Instant::now();
        memo.keep(query("a"), standing(true), 7, t0);
        let within = t0 + Duration::from_millis(499);
        assert_eq!(
            memo.recall(&query("a"), 7, within, false),
            Some(standing(true))
        );
        // Exactly at the bound it is stale: the bound is a promise, not a target.
        let at_bound = t0 + Duration::from_millis(500);
        assert_eq!(memo.recall(&query("a"), 7, at_bound, false), None);
        // A revocation noted on this replica since then: stale at once.
        assert_eq!(memo.recall(&query("a"), 8, within, false), None);
        // Another token, another answer.
        assert_eq!(memo.recall(&query("b"), 7, within, false), None);
    }

    #[test]
    fn under_a_lease_an_answer_holds_until_the_epoch_changes() {
        let memo = memo(0);
        let t0 = Instant::now();
        memo.keep(query("a"), standing(true), 7, t0);
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(
            memo.recall(&query("a"), 7, later, true),
            Some(standing(true))
        );
        // No lease, no bound: never used.
        assert_eq!(memo.recall(&query("a"), 7, t0, false), None);
        // A revocation anywhere changes the epoch: stale, lease or not.
        assert_eq!(memo.recall(&query("a"), 8, t0, true), None);
    }

    #[test]
    fn the_memo_never_grows_past_its_limit() {
        let memo = memo(60_000);
        let t0 = Instant::now();
        for i in 0..(MAX_REMEMBERED + 10) {
            memo.keep(query(&i.to_string()), standing(true), 0, t0);
        }
        let len = memo
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        assert!(len <= MAX_REMEMBERED, "{len} entries");
        assert_eq!(len, 10);
    }
}
