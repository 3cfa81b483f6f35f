//! Polling for the next request a short while before an HTTP worker sleeps.
//!
//! At low concurrency a request mostly waits on wake-ups, not work: on a virtual machine
//! a thread sleeping in `epoll_wait` on an idle vCPU takes tens of microseconds to run
//! again, longer than answering `/jwks.json` takes. After each request the worker keeps
//! polling its sockets (a task that yields, so the runtime polls I/O without blocking)
//! until `http.idle_poll_us` has passed without one; then it sleeps as before. An idle
//! worker stops within the window, and one whose poll keeps being pushed aside by other
//! work stops for a while (`crate::crowding`), so the cost is CPU only while requests
//! arrive at gaps shorter than the window on a machine with a core to spare. Seastar's
//! reactor and Go's scheduler spin before sleeping for the same reason.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::crowding::{BACK_OFF, Crowding};

/// When a worker polls.
#[derive(Debug, Clone, Copy)]
pub struct IdlePoll {
    /// How long after its last request a worker keeps polling; zero: never.
    pub window: Duration,
    /// Whether to poll while a request waits on the database too: only when its answer
    /// comes from one of our own threads (`Backend::in_process`), sooner than a sleeping
    /// worker wakes.
    pub while_waiting: bool,
}

thread_local! {
    static LAST_REQUEST: Cell<Option<Instant>> = const { Cell::new(None) };
    static IN_FLIGHT: Cell<u32> = const { Cell::new(0) };
    static POLLING: Cell<bool> = const { Cell::new(false) };
    static BACKED_OFF_UNTIL: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Called when a request starts on an actix worker. The request counts as in flight until
/// the guard is dropped: when its response is ready, or when the client went away and
/// actix dropped the request half-way.
#[must_use = "the request is in flight until the guard is dropped"]
pub fn request_started(poll: IdlePoll) -> InFlight {
    IN_FLIGHT.set(IN_FLIGHT.get().saturating_add(1));
    if poll.while_waiting {
        keep_polling(poll);
    }
    InFlight(poll)
}

/// A request in flight on this worker; see `request_started`.
#[derive(Debug)]
pub struct InFlight(IdlePoll);

impl InFlight {
    /// The response is ready: poll for the next request.
    pub fn done(self) {
        let poll = self.0;
        drop(self);
        keep_polling(poll);
    }
}

impl Drop for InFlight {
    /// Only the count: a request dropped half-way may be dropped while its worker shuts
    /// down, where no task can be spawned.
    fn drop(&mut self) {
        IN_FLIGHT.set(IN_FLIGHT.get().saturating_sub(1));
    }
}

/// Keeps, or starts, this worker's poller.
fn keep_polling(poll: IdlePoll) {
    if poll.window.is_zero() {
        return;
    }
    let now = Instant::now();
    LAST_REQUEST.set(Some(now));
    if BACKED_OFF_UNTIL.get().is_some_and(|until| now < until) {
        return;
    }
    if !POLLING.replace(true) {
        actix_rt::spawn(poll_until_quiet(poll));
    }
}

async fn poll_until_quiet(poll: IdlePoll) {
    let mut crowding = Crowding::default();
    loop {
        let now = Instant::now();
        if crowding.turn(now) {
            BACKED_OFF_UNTIL.set(Some(now + BACK_OFF));
            break;
        }
        let waiting = IN_FLIGHT.get() > 0;
        if (waiting && !poll.while_waiting)
            || LAST_REQUEST
                .get()
                .is_none_or(|at| now.duration_since(at) >= poll.window)
        {
            break;
        }
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
            let poll = IdlePoll {
                window: Duration::from_millis(5),
                while_waiting: true,
            };
            let request = request_started(poll);
            assert!(POLLING.get());
            // Requests keep the same poller going rather than starting more.
            request.done();
            assert!(POLLING.get());
            actix_rt::time::sleep(Duration::from_millis(50)).await;
            assert!(!POLLING.get(), "still polling after the window");
        });
    }

    #[test]
    fn a_worker_waiting_on_postgres_does_not_poll() {
        actix_rt::System::new().block_on(async {
            let poll = IdlePoll {
                window: Duration::from_secs(5),
                while_waiting: false,
            };
            let request = request_started(poll);
            assert!(!POLLING.get());
            request.done();
            assert!(
                POLLING.get(),
                "the answer is out: poll for the next request"
            );
            let request = request_started(poll);
            actix_rt::time::sleep(Duration::from_millis(20)).await;
            assert!(!POLLING.get(), "polled while a request waited");
            // A request dropped half-way (the client left) is no longer in flight.
            drop(request);
            assert_eq!(IN_FLIGHT.get(), 0);
        });
    }

    #[test]
    fn a_zero_window_never_polls() {
        actix_rt::System::new().block_on(async {
            let poll = IdlePoll {
                window: Duration::ZERO,
                while_waiting: true,
            };
            request_started(poll).done();
            assert!(!POLLING.get());
            assert_eq!(LAST_REQUEST.get(), None);
        });
    }
}
