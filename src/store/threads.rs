//! The threads that run diesel work, one set for the whole process. `spawn_blocking`
//! would use the blocking pool of whichever runtime asks, and actix runs one runtime per
//! worker: under 64 concurrent password requests that grew to 37 threads, each with its
//! stack and its share of malloc arenas, for at most 16 jobs at a time. Here the threads
//! are started when first needed, up to `max`, and serve every worker.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};

type Job = Box<dyn FnOnce() + Send + 'static>;

pub struct DbThreads {
    jobs: Sender<Job>,
    queue: Arc<Mutex<Receiver<Job>>>,
    counts: Arc<Counts>,
    max: usize,
}

#[derive(Default)]
struct Counts {
    started: AtomicUsize,
    idle: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
#[error("no database thread could take the work")]
pub struct NoThread;

impl DbThreads {
    pub fn new(max: usize) -> Self {
        let (jobs, queue) = channel();
        Self {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            counts: Arc::new(Counts::default()),
            max: max.max(1),
        }
    }

    /// Queues `job`; a thread is started if none is idle and fewer than `max` exist.
    /// Callers bound the work in flight (the store's permits), so the queue stays short.
    pub fn submit(&self, job: Job) -> Result<(), NoThread> {
        self.jobs.send(job).map_err(|_| NoThread)?;
        if self.counts.idle.load(Ordering::SeqCst) == 0 {
            let started =
                self.counts
                    .started
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                        (n < self.max).then_some(n + 1)
                    });
            if let Ok(n) = started {
                let (queue, counts) = (Arc::clone(&self.queue), Arc::clone(&self.counts));
                let spawned = std::thread::Builder::new()
                    .name(format!("db-{n}"))
                    .spawn(move || work(&queue, &counts));
                if spawned.is_err() {
                    self.counts.started.fetch_sub(1, Ordering::SeqCst);
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
        self.counts.started.load(Ordering::SeqCst)
    }
}

/// Runs jobs until every `DbThreads` handle is gone. A job that panics has already lost
/// its answer (its caller sees a dropped channel, a 503); the thread carries on.
fn work(queue: &Mutex<Receiver<Job>>, counts: &Counts) {
    loop {
        counts.idle.fetch_add(1, Ordering::SeqCst);
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        counts.idle.fetch_sub(1, Ordering::SeqCst);
        let Ok(job) = job else { return };
        let _lost = catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn runs_jobs_on_at_most_max_threads() {
        let threads = DbThreads::new(3);
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
        let threads = DbThreads::new(1);
        threads.submit(Box::new(|| panic!("job failed"))).unwrap();
        let (done, result) = mpsc::channel();
        threads
            .submit(Box::new(move || done.send(7).unwrap()))
            .unwrap();
        assert_eq!(result.recv_timeout(Duration::from_secs(10)).unwrap(), 7);
        assert_eq!(threads.started(), 1);
    }
}
