//! Agreement across replicas, without a database round trip on every introspection.
//!
//! The database stays the truth; what this adds is a way to know, without asking it,
//! that nothing has changed. Every change that can end a live token bumps one counter in
//! the database, the revocation epoch (by trigger, see the `replica_agreement`
//! migration). Each replica on Postgres holds a short lease, renewed by a background
//! task:
//!
//! - A replica may answer from memory only while its lease is good, and only with what
//!   it learned under the epoch it has applied (`Store::revocation_epoch` counts both
//!   local revocations and epochs learned here).
//! - A renewal writes into the lease row the epoch the replica had applied *before* the
//!   renewal was sent, and reads the epoch committed now. A newer one makes the replica
//!   drop what it remembered, then renew again at once to say so.
//! - Whoever revokes (`Store::run_revoking`) waits, after the commit, until every other
//!   live lease shows the new epoch or has expired by the database's clock. Only then
//!   does it answer. So when a revocation returns, no replica can still answer from
//!   before it, and a replica that lost the database stops answering from memory when
//!   its lease runs out.
//!
//! The lease a replica believes in ends `LEASE_MARGIN` sooner than the row says, measured
//! from before the renewal was sent, so clocks that tick at slightly different rates
//! cannot make it outlive the row. Changes made straight in SQL bump the epoch too (the
//! triggers), but nobody waits for them: they are seen within one renewal interval.
//!
//! SQLite holds no lease: it is in-process, so asking it is already cheap.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest lease allowed (`tokens.replica_lease_ms`); a revocation waits at most
/// about this long for a replica that stopped answering.
pub const MAX_LEASE: Duration = Duration::from_secs(10);
/// How often a lease is renewed, as a fraction of it: a lagging renewal or two still
/// leaves the lease good.
const RENEWALS_PER_LEASE: u32 = 4;
/// The share of the lease a replica does not count on (1/10).
const LEASE_MARGIN_DIVISOR: u32 = 10;
/// Between two renewals at least this long, even while epochs keep changing.
const MIN_RENEWAL_GAP: Duration = Duration::from_millis(2);
/// How often a revocation looks again at the leases it waits for.
pub const AGREEMENT_POLL: Duration = Duration::from_millis(5);

#[derive(Debug)]
pub struct Agreement {
    /// This replica's lease row; random per process.
    pub(crate) id: String,
    /// Zero: this replica holds no lease and never answers from memory by it.
    lease: Duration,
    base: Instant,
    /// Nanoseconds after `base` until which the lease is good; 0 when there is none.
    good_until: AtomicU64,
    /// The database's revocation epoch this replica has applied.
    applied: AtomicU64,
}

impl Agreement {
    pub fn new(lease: Duration) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            lease: lease.min(MAX_LEASE),
            base: Instant::now(),
            good_until: AtomicU64::new(0),
            applied: AtomicU64::new(0),
        }
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }

    pub fn renewal_interval(&self) -> Duration {
        (self.lease / RENEWALS_PER_LEASE).max(MIN_RENEWAL_GAP)
    }

    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::SeqCst)
    }

    /// The lease is good at `now`.
    pub fn holds(&self, now: Instant) -> bool {
        let until = self.good_until.load(Ordering::SeqCst);
        until != 0 && self.nanos_since_base(now) < until
    }

    /// A renewal sent at `sent` came back saying the database's epoch is `current`.
    /// Returns whether that was news (the caller has then already been told to drop what
    /// it remembered: `forget` runs before the lease is extended).
    pub fn renewed(&self, sent: Instant, current: u64, forget: impl FnOnce()) -> bool {
        let news = current != self.applied();
        if news {
            // Before the lease is extended: a reader that sees the new lease also sees
            // that everything remembered before is stale.
            forget();
            self.applied.store(current, Ordering::SeqCst);
        }
        let margin = self.lease / LEASE_MARGIN_DIVISOR;
        let good_for = self.lease.saturating_sub(margin);
        let until = self
            .nanos_since_base(sent)
            .saturating_add(u64::try_from(good_for.as_nanos()).unwrap_or(u64::MAX));
        self.good_until.store(until.max(1), Ordering::SeqCst);
        news
    }

    fn nanos_since_base(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_good_from_the_renewal_minus_the_margin() {
        let agreement = Agreement::new(Duration::from_millis(1000));
        let t0 = Instant::now();
        assert!(!agreement.holds(t0), "no lease before the first renewal");
        let mut forgot = 0;
        assert!(agreement.renewed(t0, 3, || forgot += 1), "epoch 3 is news");
        assert_eq!(forgot, 1);
        assert_eq!(agreement.applied(), 3);
        assert!(agreement.holds(t0 + Duration::from_millis(899)));
        // Counted from when the renewal was sent, less a tenth.
        assert!(!agreement.holds(t0 + Duration::from_millis(900)));
        assert!(
            !agreement.renewed(t0, 3, || forgot += 1),
            "same epoch: no news"
        );
        assert_eq!(forgot, 1);
    }

    #[test]
    fn any_change_of_epoch_drops_what_was_remembered() {
        let agreement = Agreement::new(Duration::from_millis(500));
        let t0 = Instant::now();
        agreement.renewed(t0, 9, || {});
        // A database restored from a backup can go back; that is news as well.
        let mut forgot = false;
        assert!(agreement.renewed(t0, 4, || forgot = true));
        assert!(forgot);
        assert_eq!(agreement.applied(), 4);
    }

    #[test]
    fn leases_are_capped_and_renewed_four_times_over() {
        let agreement = Agreement::new(Duration::from_secs(60));
        assert_eq!(agreement.lease(), MAX_LEASE);
        assert_eq!(agreement.renewal_interval(), MAX_LEASE / 4);
        let zero = Agreement::new(Duration::ZERO);
        assert_eq!(zero.renewal_interval(), MIN_RENEWAL_GAP);
    }
}
