//! Waiting for something to become true, instead of sleeping for a fixed time: on a busy
//! two-core machine any fixed pause is sometimes too short, and every fixed pause is
//! always too long. A wait polls until its condition holds and fails, naming what it
//! waited for, only after a deadline generous enough for a loaded machine.

use std::time::{Duration, Instant};

/// How long a test waits for something that normally takes milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The pause between two looks.
pub const POLL: Duration = Duration::from_millis(20);

/// Polls `check` until it returns `Some`, and returns that; fails after `PATIENCE`.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "gave up after {:?} waiting for {what}",
            started.elapsed()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// `eventually` for tests without a runtime (the CLI tests drive child processes).
pub fn eventually_blocking<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "gave up after {:?} waiting for {what}",
            started.elapsed()
        );
        std::thread::sleep(POLL);
    }
}
