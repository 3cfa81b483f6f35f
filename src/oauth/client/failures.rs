//! Failed client authentication, counted per address apart from requests (issue 19 item 4):
//! /token, /introspect and /revoke share one bucket per client network
//! (`rate_limit.client_auth_failures`), consulted before any secret is checked and filled
//! only by failures, so a client that authenticates is never slowed by its own requests,
//! however many it sends at once. Requests already past the check when the bucket fills
//! are still checked: a burst of guesses gets the bucket plus what was in flight, then
//! nothing until it drains. (Taking a place before the check would make that exact, but
//! would also refuse a busy client's parallel successes.) Kept in memory, per replica,
//! like the request buckets.
//!
//! The bucket leaks: each failure adds `1 / per_second` seconds of debt, the debt drains
//! with time, and an attempt is refused while its place would take the debt past `burst`
//! failures. Time is an argument (`Ctx::started`), so tests can move it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::Bucket;

/// Addresses with failures still draining, at most; past it the drained ones are dropped,
/// then, if a flood from that many networks holds every place, counting starts again
/// rather than memory growing without bound.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Debt {
    owed: Duration,
    at: Instant,
}

impl Debt {
    fn at(self, now: Instant) -> Duration {
        self.owed
            .saturating_sub(now.saturating_duration_since(self.at))
    }
}

pub struct ClientAuthFailures {
    /// Debt of one failure; `None`: the bucket is off.
    per_failure: Option<Duration>,
    /// The debt at which an attempt is refused: `burst` failures.
    capacity: Duration,
    debts: Mutex<HashMap<IpAddr, Debt>>,
}

impl std::fmt::Debug for ClientAuthFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAuthFailures")
            .field("per_failure", &self.per_failure)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl ClientAuthFailures {
    pub fn new(bucket: Bucket) -> Self {
        let per_failure =
            (bucket.per_second > 0).then(|| Duration::from_secs(1) / bucket.per_second);
        Self {
            per_failure,
            capacity: per_failure.unwrap_or_default() * bucket.burst,
            debts: Mutex::new(HashMap::new()),
        }
    }

    /// Whether an authentication attempt from `key` may be checked now: Ok while the
    /// failures from its address leave room for one more, else the whole seconds to wait
    /// (at least 1). Takes nothing: only [`Self::failed`] fills the bucket.
    pub fn check(&self, key: IpAddr, now: Instant) -> Result<(), u64> {
        let Some(per_failure) = self.per_failure else {
            return Ok(());
        };
        let debts = self.debts.lock().unwrap_or_else(PoisonError::into_inner);
        let after = debts.get(&key).map_or(Duration::ZERO, |d| d.at(now)) + per_failure;
        if after > self.capacity {
            let wait = after - self.capacity;
            return Err((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1));
        }
        Ok(())
    }

    /// Counts one failed authentication from `key`.
    pub fn failed(&self, key: IpAddr, now: Instant) {
        let Some(per_failure) = self.per_failure else {
            return;
        };
        let mut debts = self.debts.lock().unwrap_or_else(PoisonError::into_inner);
        if debts.len() >= MAX_ENTRIES && !debts.contains_key(&key) {
            debts.retain(|_, d| !d.at(now).is_zero());
            if debts.len() >= MAX_ENTRIES {
                debts.clear();
            }
        }
        let owed = debts.get(&key).map_or(Duration::ZERO, |d| d.at(now)) + per_failure;
        debts.insert(key, Debt { owed, at: now });
    }

    /// Forgets addresses whose failures have drained, so the table holds only recent ones.
    pub fn forget_idle(&self, now: Instant) {
        let mut debts = self.debts.lock().unwrap_or_else(PoisonError::into_inner);
        debts.retain(|_, d| !d.at(now).is_zero());
        debts.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 2));

    fn bucket(per_second: u32, burst: u32) -> ClientAuthFailures {
        ClientAuthFailures::new(Bucket { per_second, burst })
    }

    #[test]
    fn only_failures_fill_the_bucket_and_it_drains() {
        let failures = bucket(1, 3);
        let t0 = Instant::now();
        // Checks alone (successes) never fill it.
        for _ in 0..100 {
            assert_eq!(failures.check(A, t0), Ok(()));
        }
        // Three failures fill it: the next attempt, right or wrong, waits a second.
        for _ in 0..3 {
            assert_eq!(failures.check(A, t0), Ok(()));
            failures.failed(A, t0);
        }
        assert_eq!(failures.check(A, t0), Err(1));
        // Another address is not affected.
        assert_eq!(failures.check(B, t0), Ok(()));
        // The debt drains, one failure a second.
        assert_eq!(failures.check(A, t0 + Duration::from_millis(999)), Err(1));
        assert_eq!(failures.check(A, t0 + Duration::from_secs(1)), Ok(()));
        failures.failed(A, t0 + Duration::from_secs(1));
        assert_eq!(failures.check(A, t0 + Duration::from_secs(1)), Err(1));
    }

    #[test]
    fn the_wait_is_the_time_until_a_failure_drains() {
        let failures = bucket(1, 2);
        let t0 = Instant::now();
        // Failures in flight when it filled count too, and lengthen the wait.
        for _ in 0..4 {
            failures.failed(A, t0);
        }
        assert_eq!(failures.check(A, t0), Err(3));
        assert_eq!(failures.check(A, t0 + Duration::from_millis(2500)), Err(1));
        assert_eq!(failures.check(A, t0 + Duration::from_secs(3)), Ok(()));
        let fast = bucket(4, 1);
        fast.failed(B, t0);
        assert_eq!(fast.check(B, t0), Err(1));
        assert_eq!(fast.check(B, t0 + Duration::from_millis(250)), Ok(()));
    }

    #[test]
    fn off_at_zero_and_drained_addresses_are_forgotten() {
        let off = bucket(0, 0);
        let t0 = Instant::now();
        for _ in 0..100 {
            off.failed(A, t0);
            assert_eq!(off.check(A, t0), Ok(()));
        }
        let failures = bucket(10, 5);
        failures.failed(A, t0);
        failures.forget_idle(t0 + Duration::from_secs(1));
        assert!(failures.debts.lock().unwrap().is_empty());
    }
}
