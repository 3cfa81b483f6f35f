//! Coalescing of small read queries that arrive together. A caller finding fewer than
//! `leaders` batches in flight starts one; the others queue, and each batch, when it
//! finishes, takes everything that queued meanwhile. No answer is ever reused, so this is
//! no cache: each caller's answer comes from a query that began after its call did, and
//! a revocation committed before the call is always seen.
//!
//! Introspection needs this. Each call is one indexed lookup; what costs is the round
//! trip around it (a blocking-pool hop, the driver, a Postgres backend waking up). At 64
//! concurrent callers one query per call kept both cores busy with round trips; one query
//! per batch does the same work for a whole batch.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::{DbConnection, Store, StoreError};

/// The batched query: one answer per question, in order.
pub type BatchFn<Q, A> = fn(&mut DbConnection, &[Q]) -> Result<Vec<A>, StoreError>;

type Waiter<Q, A> = (Q, oneshot::Sender<Result<A, StoreError>>);

pub struct Coalescer<Q, A> {
    shared: Arc<Shared<Q, A>>,
}

impl<Q, A> Clone for Coalescer<Q, A> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<Q, A> std::fmt::Debug for Coalescer<Q, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer")
            .field("leaders", &self.shared.leaders)
            .field("max_batch", &self.shared.max_batch)
            .finish_non_exhaustive()
    }
}

struct Shared<Q, A> {
    store: Store,
    work: BatchFn<Q, A>,
    /// Batches allowed in flight at once.
    leaders: usize,
    /// The most questions one batch carries: bounds the statement's size.
    max_batch: usize,
    state: Mutex<State<Q, A>>,
}

struct State<Q, A> {
    queue: VecDeque<Waiter<Q, A>>,
    in_flight: usize,
}

impl<Q, A> Shared<Q, A> {
    fn lock(&self) -> MutexGuard<'_, State<Q, A>> {
        // The lock guards plain queue operations that cannot panic half-way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<Q, A> Coalescer<Q, A>
where
    Q: Send + 'static,
    A: Send + 'static,
{
    pub fn new(store: Store, work: BatchFn<Q, A>, leaders: usize, max_batch: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                store,
                work,
                leaders: leaders.max(1),
                max_batch: max_batch.max(1),
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    in_flight: 0,
                }),
            }),
        }
    }

    /// The answer to one question, from a query that started after this call.
    pub async fn ask(&self, question: Q) -> Result<A, StoreError> {
        let (tx, rx) = oneshot::channel();
        let lead = {
            let mut state = self.shared.lock();
            state.queue.push_back((question, tx));
            let lead = state.in_flight < self.shared.leaders;
            if lead {
                state.in_flight += 1;
            }
            lead
        };
        if lead {
            // The batch runs as its own task: a caller that goes away (a client hanging
            // up) must not take the answers of the callers queued behind it along.
            tokio::spawn(run_batches(Arc::clone(&self.shared)));
        }
        rx.await
            .map_err(|_| StoreError::Unavailable("the batch for this query was lost".into()))?
    }
}

/// Runs batches until no caller is left waiting.
async fn run_batches<Q, A>(shared: Arc<Shared<Q, A>>)
where
    Q: Send + 'static,
    A: Send + 'static,
{
    let mut release = Release {
        shared: Arc::clone(&shared),
        armed: true,
    };
    loop {
        let batch: Vec<Waiter<Q, A>> = {
            let mut state = shared.lock();
            let take = state.queue.len().min(shared.max_batch);
            if take == 0 {
                state.in_flight = state.in_flight.saturating_sub(1);
                release.armed = false;
                return;
            }
            state.queue.drain(..take).collect()
        };
        let (questions, waiters): (Vec<Q>, Vec<_>) = batch.into_iter().unzip();
        let work = shared.work;
        let answers = shared
            .store
            .run(move |conn| {
                let answers = work(conn, &questions)?;
                if answers.len() == questions.len() {
                    Ok(answers)
                } else {
                    Err(StoreError::Corrupt(format!(
                        "batched query gave {} answers to {} questions",
                        answers.len(),
                        questions.len()
                    )))
                }
            })
            .await;
        match answers {
            Ok(answers) => {
                for (waiter, answer) in waiters.into_iter().zip(answers) {
                    // A caller that went away no longer needs its answer.
                    let _gone = waiter.send(Ok(answer));
                }
            }
            Err(err) => {
                for waiter in waiters {
                    let _gone = waiter.send(Err(shared_error(&err)));
                }
            }
        }
    }
}

/// If a batch task dies (its runtime shutting down), its slot is given back and the
/// callers queued behind it are told, rather than left waiting for a leader that is gone.
struct Release<Q, A> {
    shared: Arc<Shared<Q, A>>,
    armed: bool,
}

impl<Q, A> Drop for Release<Q, A> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = self.shared.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            // Dropping the senders answers each waiter with "lost" (503).
            state.queue.clear();
        }
    }
}

/// One failure told to every caller of a batch. An outage stays an outage (503);
/// anything else becomes an opaque storage error (500), logged once by the caller.
fn shared_error(err: &StoreError) -> StoreError {
    match err {
        StoreError::Unavailable(cause) => StoreError::Unavailable(cause.to_string().into()),
        StoreError::NotFound => StoreError::NotFound,
        StoreError::Conflict => StoreError::Conflict,
        StoreError::Query(cause) => StoreError::Corrupt(format!("batched query failed: {cause}")),
        StoreError::Corrupt(what) => StoreError::Corrupt(what.clone()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::store::{DatabaseUrl, StoreOptions};

    fn store(dir: &tempfile::TempDir) -> Store {
        let url = DatabaseUrl::Sqlite(dir.path().join("c.db"));
        Store::open(
            &url,
            &StoreOptions {
                pool_size: 2,
                connect_timeout: Duration::from_secs(5),
                idle_poll: Duration::ZERO,
                replica_lease: Duration::ZERO,
                audit_keys: crate::store::audit::AuditKeys::single(
                    crate::store::audit::AuditKey::new(&[7; 32]),
                ),
            },
        )
        .unwrap()
    }

    static BATCHES: AtomicUsize = AtomicUsize::new(0);
    static LARGEST: AtomicUsize = AtomicUsize::new(0);

    /// Doubles each question, slowly enough that callers pile up behind a batch.
    fn double(_: &mut DbConnection, questions: &[u64]) -> Result<Vec<u64>, StoreError> {
        BATCHES.fetch_add(1, Ordering::SeqCst);
        LARGEST.fetch_max(questions.len(), Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(5));
        Ok(questions.iter().map(|q| q * 2).collect())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_that_arrive_together_share_batches_and_get_their_own_answers() {
        let dir = tempfile::tempdir().unwrap();
        let batches = Coalescer::new(store(&dir), double, 2, 16);
        let calls = (0..200u64).map(|q| {
            let batches = batches.clone();
            async move { (q, batches.ask(q).await.unwrap()) }
        });
        for (q, answer) in futures_util::future::join_all(calls).await {
            assert_eq!(answer, q * 2);
        }
        let (count, largest) = (
            BATCHES.load(Ordering::SeqCst),
            LARGEST.load(Ordering::SeqCst),
        );
        assert!(count < 100, "{count} batches for 200 calls");
        assert!(largest > 1 && largest <= 16, "largest batch {largest}");
        // Everything was answered and the slots were given back: a lone call still works.
        assert_eq!(batches.ask(21).await.unwrap(), 42);
    }

    fn fail(_: &mut DbConnection, _: &[u64]) -> Result<Vec<u64>, StoreError> {
        Err(StoreError::Unavailable("down".into()))
    }

    fn short(_: &mut DbConnection, _: &[u64]) -> Result<Vec<u64>, StoreError> {
        Ok(Vec::new())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_batch_fails_each_of_its_callers_with_the_same_kind() {
        let dir = tempfile::tempdir().unwrap();
        let batches = Coalescer::new(store(&dir), fail, 1, 8);
        let calls = (0..20u64).map(|q| batches.ask(q));
        for answer in futures_util::future::join_all(calls).await {
            assert!(matches!(answer, Err(StoreError::Unavailable(_))));
        }
        let miscounted = Coalescer::new(store(&dir), short, 1, 8);
        assert!(matches!(
            miscounted.ask(1).await,
            Err(StoreError::Corrupt(_))
        ));
    }
}
