//! Whether a thread that polls for work (see `http::idle_poll`, `store::threads`) takes
//! CPU that other work needs. A poll turns every microsecond or two; when its turns come
//! late, the thread was busy with other requests or the kernel ran another thread on its
//! CPU. Without unsafe code we cannot ask the kernel for involuntary context switches,
//! so the pauses between turns are the signal.

use std::time::{Duration, Instant};

/// A pause this long between two turns of the poll means the worker was busy with other
/// requests or the kernel gave its CPU to another thread: polling would take CPU that
/// work needs, so the worker stops polling for `BACK_OFF`.
pub const CROWDED: Duration = Duration::from_micros(30);
pub const BACK_OFF: Duration = Duration::from_millis(10);

/// Counts the recent turns of one poll and how many came late. One late turn means
/// little (a request was answered in between, an interrupt); a quarter of them late means
/// the CPU is wanted elsewhere. Older turns fade (halved every 64), so a poll that runs
/// for minutes still notices load that arrives late in it.
#[derive(Debug, Default)]
pub struct Crowding {
    last: Option<Instant>,
    turns: u32,
    late: u32,
}

impl Crowding {
    /// Notes a turn at `now`; true once polling should stop.
    pub fn turn(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last.replace(now) {
            self.turns += 1;
            if now.duration_since(last) > CROWDED {
                self.late += 1;
            }
            if self.turns >= 64 {
                self.turns /= 2;
                self.late /= 2;
            }
        }
        self.turns >= 8 && self.late * 4 > self.turns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crowded_turns_stop_the_poll() {
        let start = Instant::now();
        let mut crowding = Crowding::default();
        // Tight turns, with the odd late one: keep polling.
        let mut at = start;
        for i in 0..40u32 {
            at += if i % 8 == 0 {
                CROWDED * 3
            } else {
                Duration::from_micros(2)
            };
            assert!(!crowding.turn(at), "stopped at turn {i}");
        }
        // Mostly late turns: the CPU is wanted elsewhere.
        let mut crowding = Crowding::default();
        let stopped = (0..40u32).any(|i| crowding.turn(start + CROWDED * 3 * i));
        assert!(stopped);
        // A long quiet poll still notices crowding that comes late.
        let mut crowding = Crowding::default();
        let mut at = start;
        for _ in 0..100_000u32 {
            at += Duration::from_micros(2);
            assert!(!crowding.turn(at));
        }
        let stopped = (0..64u32).any(|_| {
            at += CROWDED * 3;
            crowding.turn(at)
        });
        assert!(stopped, "old quiet turns hid the crowding");
    }
}
