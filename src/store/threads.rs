//! The threads that run diesel work, one set for the whole process. `spawn_blocking`
//! would use the blocking pool of whichever runtime asks, and actix runs one runtime per
//! worker: under 64 concurrent password requests that grew to 37 threads, each with its
//! stack and its share of malloc arenas, for at most 16 jobs at a time. Here the threads
//! are started when first needed, up to `max`, and serve every worker.
//!
//! A thread that runs out of work may first poll the queue for `idle_poll` before it
//! sleeps, one thread at a time. On a virtual machine, waking a thread that sleeps on an
//! idle vCPU costs tens of microseconds, more than the point lookups most jobs are; a
//! polling thread takes the next job without that (see `http.idle_poll_us`).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::crowding::{BACK_OFF, Crowding};

type Job = Box<dyn FnOnce() + Send + 'static>;

pub struct DbThreads {
    shared: Arc<Shared>,
    max: usize,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a job is queued and no thread is polling, or when closing.
    ready: Condvar,
    /// Jobs in the queue, readable without the lock by a polling thread.
    queued: AtomicUsize,
    idle_poll: Duration,
    started: AtomicUsize,
    idle: AtomicUsize,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
    /// A thread is polling the queue instead of sleeping on `ready`. Kept under the
    /// queue's lock, so a job is never queued unseen by both the poller and the
    /// condition variable.
    polling: bool,
    /// Set when a poll found itself crowded out: no polling until then.
    backed_off_until: Option<Instant>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The lock guards plain queue operations that cannot panic half-way.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pop(&self, queue: &mut Queue) -> Option<Job> {
        let job = queue.jobs.pop_front()?;
        self.queued.store(queue.jobs.len(), Ordering::SeqCst);
        // More work than this thread: another one takes it now, not after this job.
        if !queue.jobs.is_empty() {
            self.ready.notify_one();
        }
        Some(job)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no database thread could take the work")]
pub struct NoThread;

impl DbThreads {
    pub fn new(max: usize, idle_poll: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                ready: Condvar::new(),
                queued: AtomicUsize::new(0),
                idle_poll,
                started: AtomicUsize::new(0),
                idle: AtomicUsize::new(0),
            }),
            max: max.max(1),
        }
    }

    /// Queues `job`; a thread is started if none is idle and fewer than `max` exist.
    /// Callers bound the work in flight (the store's permits), so the queue stays short.
    pub fn submit(&self, job: Job) -> Result<(), NoThread> {
        {
            let mut queue = self.shared.lock();
            queue.jobs.push_back(job);
            self.shared.queued.store(queue.jobs.len(), Ordering::SeqCst);
            // A polling thread takes a lone job by itself; anything more needs a sleeper.
            if !queue.polling || queue.jobs.len() > 1 {
                self.shared.ready.notify_one();
            }
        }
        if self.shared.idle.load(Ordering::SeqCst) == 0 {
            let started =
                self.shared
                    .started
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                        (n < self.max).then_some(n + 1)
                    });
            if let Ok(n) = started {
                let shared = Arc::clone(&self.shared);
                let spawned = std::thread::Builder::new()
                    .name(format!("db-{n}"))
                    .spawn(move || work(&shared));
                if spawned.is_err() {
                    self.shared.started.fetch_sub(1, Ordering::SeqCst);
                    // With no thread at all the job would wait forever.
                    if n == 0 {
                        return Err(NoThread);
                    }
                }
            }
        }
        Ok(())
    }

    pub fn started(&self) -> usize {
        self.shared.started.load(Ordering::SeqCst)
    }
}

impl Drop for DbThreads {
    /// Threads finish the jobs already queued, then end.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

/// Runs jobs until the `DbThreads` is dropped. A job that panics has already lost its
/// answer (its caller sees a dropped channel, a 503); the thread carries on.
fn work(shared: &Shared) {
    loop {
        shared.idle.fetch_add(1, Ordering::SeqCst);
        let job = polled_job(shared).or_else(|| waited_job(shared));
        shared.idle.fetch_sub(1, Ordering::SeqCst);
        let Some(job) = job else { return };
        let _lost = catch_unwind(AssertUnwindSafe(job));
    }
}

/// Polls for up to `idle_poll`, unless another thread already does.
fn polled_job(shared: &Shared) -> Option<Job> {
    if shared.idle_poll.is_zero() {
        return None;
    }
    {
        let mut queue = shared.lock();
        let backed_off = queue
            .backed_off_until
            .is_some_and(|until| Instant::now() < until);
        if backed_off || queue.polling {
            return None;
        }
        queue.polling = true;
    }
    let until = Instant::now() + shared.idle_poll;
    let mut crowding = Crowding::default();
    loop {
        let now = Instant::now();
        // Descheduled often: another thread needs this CPU more than we need to poll.
        let crowded = crowding.turn(now);
        let over = now >= until || crowded;
        if shared.queued.load(Ordering::SeqCst) > 0 || over {
            let mut queue = shared.lock();
            let job = shared.pop(&mut queue);
            if job.is_some() || over {
                queue.polling = false;
                if job.is_none() && crowded {
                    queue.backed_off_until = Some(now + BACK_OFF);
                }
                return job;
            }
        }
        std::hint::spin_loop();
    }
}

/// Sleeps until a job is queued, or returns `None` once closed and drained.
fn waited_job(shared: &Shared) -> Option<Job> {
    let mut queue = shared.lock();
    loop {
        if let Some(job) = shared.pop(&mut queue) {
            return Some(job);
        }
        if queue.closed {
            return None;
        }
        queue = shared
            .ready
            .wait(queue)
            .unwrap_or_else(PoisonError::into_inner);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn runs_jobs_on_at_most_max_threads() {
        let threads = DbThreads::new(3, Duration::ZERO);
        let (done, results) = mpsc::channel();
        for i in 0..50 {
            let done = done.clone();
            threads
                .submit(Box::new(move || {
                    std::thread::sleep(Duration::from_millis(1));
                    done.send(i).unwrap();
                }))
                .unwrap();
        }
        let mut got: Vec<i32> = (0..50)
            .map(|_| results.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        got.sort_unstable();
        assert_eq!(got, (0..50).collect::<Vec<_>>());
        assert!(
            (1..=3).contains(&threads.started()),
            "{}",
            threads.started()
        );
    }

    #[test]
    fn a_panicking_job_does_not_take_its_thread_along() {
        let threads = DbThreads::new(1, Duration::ZERO);
        threads.submit(Box::new(|| panic!("job failed"))).unwrap();
        let (done, result) = mpsc::channel();
        threads
            .submit(Box::new(move || done.send(7).unwrap()))
            .unwrap();
        assert_eq!(result.recv_timeout(Duration::from_secs(10)).unwrap(), 7);
        assert_eq!(threads.started(), 1);
    }

    /// A job queued while a thread polls is never left unseen, whatever the timing.
    #[test]
    fn a_polling_thread_loses_no_job() {
        let threads = DbThreads::new(2, Duration::from_micros(50));
        let (done, results) = mpsc::channel();
        for i in 0..2000u32 {
            let done = done.clone();
            threads
                .submit(Box::new(move || done.send(i).unwrap()))
                .unwrap();
            assert_eq!(results.recv_timeout(Duration::from_secs(10)).unwrap(), i);
            // Gaps around the window: jobs land while polling, as it ends, and after.
            std::thread::sleep(Duration::from_micros(u64::from(i % 7) * 15));
        }
        assert!(threads.started() <= 2);
    }

    /// A burst queued while one thread polls still runs on several threads at once:
    /// the poller takes one job and the sleepers are woken for the rest.
    #[test]
    fn a_burst_while_polling_wakes_the_sleepers() {
        let threads = DbThreads::new(3, Duration::from_secs(1));
        let started = Arc::new((Mutex::new(0u32), Condvar::new()));
        let all_started = |started: &Arc<(Mutex<u32>, Condvar)>| {
            let (count, changed) = &**started;
            let mut n = count.lock().unwrap();
            *n += 1;
            changed.notify_all();
            let (n, _) = changed
                .wait_timeout_while(n, Duration::from_secs(5), |n| *n % 3 != 0)
                .unwrap();
            *n % 3 == 0
        };
        let (done, results) = mpsc::channel();
        for _round in 0..2 {
            // Long enough for the threads of the round before to poll and sleep.
            std::thread::sleep(Duration::from_millis(50));
            for _ in 0..3 {
                let (done, started) = (done.clone(), Arc::clone(&started));
                threads
                    .submit(Box::new(move || done.send(all_started(&started)).unwrap()))
                    .unwrap();
            }
            for _ in 0..3 {
                assert!(
                    results.recv_timeout(Duration::from_secs(10)).unwrap(),
                    "the jobs of a burst did not run side by side"
                );
            }
        }
        assert_eq!(threads.started(), 3);
    }
}
