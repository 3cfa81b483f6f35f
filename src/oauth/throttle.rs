//! Brute-force policy for password checks (the password grant and the login page).
//!
//! Pure: the caller asks [`ThrottlePolicy::decide`] with the failures counted for a key (a
//! normalised username, or a client IP) in the last `window_secs`, inside the store's
//! transaction that takes the attempt's place (counts it as a failure) before the password
//! is checked, so parallel attempts each see the places taken before them. While the answer
//! is [`Decision::RetryAfter`] it refuses without checking the password and takes no place,
//! so waiting out a delay is always enough. A success gives its place back and clears the
//! username's failures but not the IP's: otherwise one valid account would let an attacker
//! reset the counter of the address it guesses from.
//!
//! The schedule, with the defaults: failures 1 to 4 cost nothing; from the 5th failure on,
//! the next attempt waits 1, 2, 4, 8, 16 s after the latest failure (doubling, capped at
//! `max_delay_secs`); the 10th failure locks the key for 15 minutes. Failures older than the
//! window stop counting, so a key recovers by itself.

/// The thresholds are configuration; this module applies them.
pub use crate::config::ThrottlePolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refuse without checking the password; the key is free again after this many seconds.
    RetryAfter(u64),
}

impl Decision {
    /// The stricter of two decisions, for a request throttled by username and by IP.
    pub fn and(self, other: Decision) -> Decision {
        match (self, other) {
            (Decision::Allow, d) | (d, Decision::Allow) => d,
            (Decision::RetryAfter(a), Decision::RetryAfter(b)) => Decision::RetryAfter(a.max(b)),
        }
    }
}

impl ThrottlePolicy {
    /// Whether the attempt may go ahead, given the failures recorded for one key within
    /// `window_secs` before `now` and the time of the latest of them.
    pub fn decide(
        &self,
        failures_in_window: u32,
        last_failure_at: Option<i64>,
        now: i64,
    ) -> Decision {
        let Some(wait) = self.wait_after(failures_in_window) else {
            return Decision::Allow;
        };
        // A count without a time means inconsistent storage: fail closed, wait in full.
        let last = last_failure_at.unwrap_or(now);
        // Replicas' clocks differ a little; never ask for more than the full wait.
        let elapsed = now.saturating_sub(last).max(0);
        match u64::try_from(wait.saturating_sub(elapsed)) {
            Ok(remaining) if remaining > 0 => Decision::RetryAfter(remaining),
            Ok(_) | Err(_) => Decision::Allow,
        }
    }

    /// True when this many failures in the window lock the key: the caller audits the lock
    /// once, when the count reaches it.
    pub fn locks_at(&self, failures_in_window: u32) -> bool {
        failures_in_window == self.lock_after_failures
    }

    /// Seconds to wait after the latest failure, or `None` when no wait applies.
    fn wait_after(&self, failures: u32) -> Option<i64> {
        if failures >= self.lock_after_failures {
            return Some(self.lock_secs);
        }
        let excess = failures.checked_sub(self.max_failures)?;
        let factor = 2i64.saturating_pow(excess);
        Some(
            self.base_delay_secs
                .saturating_mul(factor)
                .min(self.max_delay_secs),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn defaults_are_valid_and_as_documented() {
        let p = ThrottlePolicy::default();
        assert_eq!(p.validate(), Ok(()));
        assert_eq!((p.max_failures, p.window_secs, p.lock_secs), (5, 900, 900));
    }

    #[test]
    fn free_attempts_below_the_threshold() {
        let p = ThrottlePolicy::default();
        for failures in 0..5 {
            assert_eq!(p.decide(failures, Some(NOW), NOW), Decision::Allow);
        }
        assert_eq!(p.decide(0, None, NOW), Decision::Allow);
    }

    #[test]
    fn growing_delay_after_the_threshold() {
        let p = ThrottlePolicy::default();
        // Asked right after the latest failure: the full delay.
        let waits: Vec<Decision> = (5..10).map(|f| p.decide(f, Some(NOW), NOW)).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16].map(Decision::RetryAfter).to_vec());
        // Part of the delay has passed.
        assert_eq!(p.decide(8, Some(NOW - 3), NOW), Decision::RetryAfter(5));
        // All of it has passed.
        assert_eq!(p.decide(8, Some(NOW - 8), NOW), Decision::Allow);
        assert_eq!(p.decide(8, Some(NOW - 100), NOW), Decision::Allow);
    }

    #[test]
    fn delay_is_capped() {
        let p = ThrottlePolicy {
            max_failures: 3,
            base_delay_secs: 10,
            max_delay_secs: 45,
            lock_after_failures: 100,
            ..ThrottlePolicy::default()
        };
        assert_eq!(p.validate(), Ok(()));
        let waits: Vec<Decision> = (3..8).map(|f| p.decide(f, Some(NOW), NOW)).collect();
        assert_eq!(
            waits,
            [10, 20, 40, 45, 45].map(Decision::RetryAfter).to_vec()
        );
        // No overflow far past any sane count.
        assert_eq!(p.decide(99, Some(NOW), NOW), Decision::RetryAfter(45));
        let huge = ThrottlePolicy {
            lock_after_failures: u32::MAX,
            ..p
        };
        assert_eq!(
            huge.decide(u32::MAX - 1, Some(NOW), NOW),
            Decision::RetryAfter(45)
        );
    }

    #[test]
    fn lock_then_recovery() {
        let p = ThrottlePolicy::default();
        assert!(!p.locks_at(9));
        assert!(p.locks_at(10));
        assert!(!p.locks_at(11));
        assert_eq!(p.decide(10, Some(NOW), NOW), Decision::RetryAfter(900));
        assert_eq!(p.decide(10, Some(NOW), NOW + 899), Decision::RetryAfter(1));
        assert_eq!(
            p.decide(12, Some(NOW - 300), NOW),
            Decision::RetryAfter(600)
        );
        // The lock is over once lock_secs have passed since the latest failure...
        assert_eq!(p.decide(10, Some(NOW), NOW + 900), Decision::Allow);
        // ...by which time those failures have left the window: a fresh start.
        assert_eq!(p.decide(0, None, NOW + 900), Decision::Allow);
    }

    #[test]
    fn a_shorter_lock_allows_one_try_per_lock() {
        let p = ThrottlePolicy {
            lock_secs: 120,
            ..ThrottlePolicy::default()
        };
        assert_eq!(p.validate(), Ok(()));
        // Still 10 failures in the window after the lock: one attempt is let through...
        assert_eq!(p.decide(10, Some(NOW), NOW + 120), Decision::Allow);
        // ...and its failure locks again from that moment.
        assert_eq!(
            p.decide(11, Some(NOW + 120), NOW + 121),
            Decision::RetryAfter(119)
        );
    }

    #[test]
    fn clock_skew_and_missing_time_fail_closed() {
        let p = ThrottlePolicy::default();
        // Another replica recorded the failure "in the future": still at most the full wait.
        assert_eq!(p.decide(6, Some(NOW + 30), NOW), Decision::RetryAfter(2));
        assert_eq!(p.decide(10, Some(NOW + 30), NOW), Decision::RetryAfter(900));
        // A count with no time: assume it just happened.
        assert_eq!(p.decide(7, None, NOW), Decision::RetryAfter(4));
        assert_eq!(p.decide(10, None, NOW), Decision::RetryAfter(900));
    }

    #[test]
    fn zero_base_delay_means_lock_only() {
        let p = ThrottlePolicy {
            base_delay_secs: 0,
            ..ThrottlePolicy::default()
        };
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.decide(7, Some(NOW), NOW), Decision::Allow);
        assert_eq!(p.decide(10, Some(NOW), NOW), Decision::RetryAfter(900));
    }

    #[test]
    fn combining_username_and_ip() {
        use Decision::{Allow, RetryAfter};
        assert_eq!(Allow.and(Allow), Allow);
        assert_eq!(Allow.and(RetryAfter(3)), RetryAfter(3));
        assert_eq!(RetryAfter(3).and(Allow), RetryAfter(3));
        assert_eq!(RetryAfter(3).and(RetryAfter(900)), RetryAfter(900));
    }

    #[test]
    fn invalid_policies() {
        let d = ThrottlePolicy::default();
        let check = |p: ThrottlePolicy| p.validate().unwrap_err();
        assert_eq!(
            check(ThrottlePolicy {
                max_failures: 0,
                ..d
            }),
            "max_failures must be at least 1"
        );
        assert_eq!(
            check(ThrottlePolicy {
                lock_after_failures: 4,
                ..d
            }),
            "lock_after_failures must be at least max_failures"
        );
        assert_eq!(
            check(ThrottlePolicy {
                window_secs: 0,
                ..d
            }),
            "window_secs must be positive"
        );
        assert_eq!(
            check(ThrottlePolicy {
                base_delay_secs: -1,
                ..d
            }),
            "delays must satisfy 0 <= base_delay_secs <= max_delay_secs"
        );
        assert_eq!(
            check(ThrottlePolicy {
                base_delay_secs: 61,
                ..d
            }),
            "delays must satisfy 0 <= base_delay_secs <= max_delay_secs"
        );
        assert_eq!(
            check(ThrottlePolicy { lock_secs: 30, ..d }),
            "lock_secs must be at least max_delay_secs"
        );
        assert_eq!(
            check(ThrottlePolicy {
                lock_secs: 901,
                ..d
            }),
            "lock_secs must not exceed window_secs"
        );
    }
}
