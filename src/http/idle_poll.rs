//! Polling for the next request a short while before an HTTP worker sleeps.
//!
//! At low concurrency a request mostly waits on wake-ups, not work: on a virtual machine
//! a thread sleeping in `epoll_wait` on an idle vCPU takes tens of microseconds to run
//! again, longer than answering `/jwks.json` takes. After each request the worker keeps
//! polling its sockets (a task that yields, so the runtime polls I/O without blocking)
//! until `http.idle_poll_us` has passed without one; then it sleeps as before. A busy
//! worker never polls (it always has work) and an idle one stops within the window, so
//! the cost is CPU only while requests arrive at gaps shorter than it. Seastar's reactor
//! and Go's scheduler spin before sleeping for the same reason.

use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    static LAST_REQUEST: Cell<Option<Instant>> = const { Cell::new(None) };
    static POLLING: Cell<bool> = const { Cell::new(false) };
}

/// Called for every request on an actix worker: keeps, or starts, this worker's poller.
pub fn note_request(window: Duration) {
    if window.is_zero() {
        return;
    }
    LAST_REQUEST.set(Some(Instant::now()));
    if !POLLING.replace(true) {
        actix_rt::spawn(poll_until_quiet(window));
    }
}

async fn poll_until_quiet(window: Duration) {
    while LAST_REQUEST.get().is_some_and(|at| at.elapsed() < window) {
        tokio::task::yield_now().await;
    }
    POLLING.set(false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_stops_polling_once_requests_stop() {
        actix_rt::System::new().block_on(async {
            note_request(Duration::from_millis(5));
            assert!(POLLING.get());
            // Requests keep the same poller going rather than starting more.
            note_request(Duration::from_millis(5));
            assert!(POLLING.get());
            actix_rt::time::sleep(Duration::from_millis(50)).await;
            assert!(!POLLING.get(), "still polling after the window");
        });
    }

    #[test]
    fn a_zero_window_never_polls() {
        actix_rt::System::new().block_on(async {
            note_request(Duration::ZERO);
            assert!(!POLLING.get());
            assert_eq!(LAST_REQUEST.get(), None);
        });
    }
}
