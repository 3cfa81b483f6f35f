//! The per-address token bucket behind `super::rate_limit`: a keyed governor limiter,
//! kept apart from the middleware so the shared state can hold it without importing the
//! middleware that reads the state.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

#[derive(Clone)]
pub struct IpRateLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl std::fmt::Debug for IpRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IpRateLimiter")
    }
}

impl IpRateLimiter {
    /// None when `per_second` is 0 (limit off).
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        Some(Self {
            limiter: Arc::new(RateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            )),
        })
    }

    /// Ok, or the seconds to wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.limiter.check_key(&ip).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                .max(1)
        })
    }

    /// Forgets addresses that have been quiet long enough to be back at full burst, so the
    /// table stays bounded by recent clients.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// One limiter per bucket name (`crate::config::ENDPOINT_BUCKETS`); a name whose bucket is
/// off has none.
#[derive(Clone, Debug, Default)]
pub struct EndpointLimiters {
    limiters: std::collections::HashMap<&'static str, IpRateLimiter>,
}

impl EndpointLimiters {
    pub fn new(settings: &crate::config::RateLimitConfig) -> Self {
        let mut limiters = std::collections::HashMap::new();
        let token = IpRateLimiter::new(settings.token_per_second, settings.token_burst);
        for (name, limiter) in std::iter::once(("token", token)).chain(
            settings
                .endpoints
                .iter()
                .map(|(name, b)| (*name, IpRateLimiter::new(b.per_second, b.burst))),
        ) {
            if let Some(limiter) = limiter {
                limiters.insert(name, limiter);
            }
        }
        Self { limiters }
    }

    pub fn get(&self, name: &str) -> Option<&IpRateLimiter> {
        self.limiters.get(name)
    }

    pub fn forget_idle(&self) {
        self.limiters.values().for_each(IpRateLimiter::forget_idle);
    }
}
