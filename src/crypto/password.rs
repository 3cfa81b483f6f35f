//! Password hashing with argon2id in a bounded pool of threads.
//!
//! Argon2 is deliberately slow and memory-hungry (19 MiB per hash by default), so it runs
//! on its own threads, one per core, never on the async executor, and only `queue_limit`
//! jobs may wait: past that the caller gets `Overloaded` and answers 503 with Retry-After,
//! instead of queueing without bound. Unknown users are verified against a dummy hash so
//! that "no such user" costs the same as "wrong password" (docs/architecture.md, convention 8).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::config::PasswordConfig;

/// Longer passwords are refused: argon2 would take them, but nobody types them and
/// they make request bodies an easy amplifier.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("password hashing is overloaded; try again shortly")]
    Overloaded,
    #[error("password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("password hashing failed")]
    Hashing,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Invalid,
    /// Correct; `rehash` says the stored hash is bcrypt or uses old parameters and should
    /// be replaced by a fresh argon2id hash now that the password is known.
    Valid {
        rehash: bool,
    },
}

type Job = Box<dyn FnOnce(&mut Scratch) + Send + 'static>;

/// Length of the argon2 output we store (the argon2 crate's default).
const OUTPUT_LEN: usize = 32;

/// A worker with nothing to do for this long gives its working memory back: 19 MiB per
/// worker is most of a busy server's memory, and an idle one should not keep it.
const IDLE_RELEASE: Duration = Duration::from_secs(2);

/// glibc gives an allocation of more than 32 MiB (its highest mmap threshold) a mapping
/// of its own and unmaps it on free, and only such an allocation. A smaller one, once
/// an earlier large block was freed, comes from an arena and stays resident after free.
/// Reserving this much and touching only what argon2 uses costs address space, not
/// memory, and makes giving the memory back real.
const OWN_MAPPING_BYTES: usize = 33 * 1024 * 1024;

struct Inner {
    params: Params,
    dummy_hash: String,
    queue: SyncSender<Job>,
    workers: usize,
    queue_limit: usize,
    held: Arc<AtomicUsize>,
    /// Seconds each job took on its worker, by operation (`hash`, `verify`); the server
    /// registers it as `portcullis_password_hash_duration_seconds`.
    durations: prometheus::HistogramVec,
}

/// Cheap to clone; all clones share the pool. Threads end when the last clone drops.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("workers", &self.inner.workers)
            .field("queue_limit", &self.inner.queue_limit)
            .field("buffers_held", &self.inner.held.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

fn argon2(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

/// Argon2's working memory (19 MiB with the default parameters), allocated once per
/// worker thread and reused by every hash it computes until the worker falls idle.
/// Allocated per hash, as the argon2 crate does by default, glibc kept freed copies in
/// every malloc arena the workers passed through: about 1 GiB resident after a few
/// minutes of logins.
#[derive(Default)]
struct Scratch {
    blocks: Vec<Block>,
    /// Buffers currently allocated across the pool (observed by tests).
    held: Option<Arc<AtomicUsize>>,
}

impl Scratch {
    fn counted(held: Arc<AtomicUsize>) -> Self {
        Self {
            blocks: Vec::new(),
            held: Some(held),
        }
    }

    /// Frees the buffer, unmapping it (see `OWN_MAPPING_BYTES`).
    fn release(&mut self) {
        if !self.blocks.is_empty() {
            self.blocks = Vec::new();
            if let Some(held) = &self.held {
                held.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Computes argon2 into `out`, with this thread's memory when it is large enough.
    /// A hash made with larger parameters than today's (rare: after lowering them) gets
    /// memory of its own for the one call, so the buffer never grows beyond the default.
    fn compute(
        &mut self,
        argon2: &Argon2<'_>,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let count = params.block_count();
        if self.blocks.is_empty() {
            let reserve = count.max(OWN_MAPPING_BYTES / std::mem::size_of::<Block>());
            self.blocks = Vec::with_capacity(reserve);
            self.blocks.resize(count, Block::default());
            if let Some(held) = &self.held {
                held.fetch_add(1, Ordering::SeqCst);
            }
        }
        match self.blocks.get_mut(..count) {
            Some(blocks) => argon2.hash_password_into_with_memory(password, salt, out, blocks),
            None => argon2.hash_password_into(password, salt, out),
        }
    }
}

/// The PHC string argon2id hashes are stored as (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`),
/// the same the argon2 crate writes.
fn phc(params: &Params, salt: &SaltString, output: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        salt.as_str(),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(output)
    )
}

fn hash_now(
    scratch: &mut Scratch,
    params: &Params,
    password: &[u8],
) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|_| PasswordError::Hashing)?;
    let mut output = [0u8; OUTPUT_LEN];
    scratch
        .compute(&argon2(params), params, password, salt_bytes, &mut output)
        .map_err(|_| PasswordError::Hashing)?;
    Ok(phc(params, &salt, &output))
}

/// Checks `password` against a parsed argon2 hash with the algorithm, version and
/// parameters recorded in it, comparing in constant time.
fn matches(scratch: &mut Scratch, password: &[u8], hash: &PasswordHash<'_>) -> bool {
    let (Ok(algorithm), Some(Ok(version)), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(hash.algorithm),
        hash.version.map(Version::try_from),
        Params::try_from(hash),
        hash.salt,
        hash.hash,
    ) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    if scratch
        .compute(&argon2, &params, password, salt_bytes, &mut out)
        .is_err()
    {
        return false;
    }
    bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// A well-formed argon2id hash of nothing anyone knows: a random salt and a random
/// output. Verifying against it costs a full hash, which is all it is for, and building it
/// costs nothing. (Hashing a random password here instead allocated 19 MiB at start-up;
/// glibc then raised its mmap threshold, and the next hash's 19 MiB stayed resident for
/// good: idle memory after a fresh start went from 15 to 35 MiB.)
fn dummy_hash(params: &Params) -> Result<String, PasswordError> {
    use rand::RngCore as _;
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut output = [0u8; OUTPUT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut output);
    let phc = phc(params, &salt, &output);
    PasswordHash::new(&phc).map_err(|_| PasswordError::Hashing)?;
    Ok(phc)
}

pub fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

/// bcrypt costs taken from an import. Below 4 no bcrypt implementation computes; above 14
/// one verification takes seconds (cost 31 takes days), so a hash with a high cost would
/// turn every login for that user into a denial of service.
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=14;

/// bcrypt reads only this many bytes of a password: any longer password that shares them
/// would match (OWASP Password Storage Cheat Sheet).
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BcryptHashError {
    #[error("not a well-formed bcrypt hash")]
    Malformed,
    #[error(
        "bcrypt cost {0} is outside 4 to 14 (rehash with a cost in that range, or reset the password)"
    )]
    Cost(u32),
}

/// Whether a bcrypt hash may be imported: well formed, with a cost in `BCRYPT_COSTS`.
pub fn validate_bcrypt_hash(stored: &str) -> Result<(), BcryptHashError> {
    let parts: bcrypt::HashParts = stored.parse().map_err(|_| BcryptHashError::Malformed)?;
    if !BCRYPT_COSTS.contains(&parts.get_cost()) {
        return Err(BcryptHashError::Cost(parts.get_cost()));
    }
    Ok(())
}

/// Checks a password against a bcrypt hash. A password longer than bcrypt reads never
/// matches (bcrypt would compare its first 72 bytes only), but costs the same work; a
/// hash whose cost is out of range matches nothing and costs nothing.
pub fn check_bcrypt_hash(password: &[u8], stored: &str) -> bool {
    if validate_bcrypt_hash(stored).is_err() {
        return false;
    }
    match password.get(..BCRYPT_MAX_PASSWORD_BYTES) {
        Some(first) if password.len() > BCRYPT_MAX_PASSWORD_BYTES => {
            let _same_work = bcrypt::verify(first, stored);
            false
        }
        Some(_) | None => bcrypt::verify(password, stored).unwrap_or(false),
    }
}

fn verify_now(
    scratch: &mut Scratch,
    params: &Params,
    dummy: &str,
    password: &[u8],
    stored: Option<&str>,
) -> Verdict {
    let mut burn = || {
        // Same work as a real check, result ignored.
        if let Ok(h) = PasswordHash::new(dummy) {
            let _ignored = matches(scratch, password, &h);
        }
        Verdict::Invalid
    };
    let Some(stored) = stored else {
        return burn();
    };
    if password.len() > MAX_PASSWORD_BYTES {
        return burn();
    }
    if is_bcrypt(stored) {
        return if check_bcrypt_hash(password, stored) {
            Verdict::Valid { rehash: true }
        } else {
            Verdict::Invalid
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return burn();
    };
    let algorithm = Algorithm::try_from(parsed.algorithm).ok();
    // Verify with the parameters recorded in the hash, whatever they are.
    if !matches(scratch, password, &parsed) {
        return Verdict::Invalid;
    }
    let current = Params::try_from(&parsed).ok();
    let rehash = algorithm != Some(Algorithm::Argon2id)
        || parsed.version != Some(Version::V0x13.into())
        || current.is_none_or(|p| {
            p.m_cost() != params.m_cost()
                || p.t_cost() != params.t_cost()
                || p.p_cost() != params.p_cost()
        });
    Verdict::Valid { rehash }
}

fn worker_loop(queue: Arc<Mutex<Receiver<Job>>>, held: Arc<AtomicUsize>, idle: Duration) {
    let mut scratch = Scratch::counted(held);
    loop {
        // The worker holding the lock waits for the next job; the others wait for the
        // lock. Whoever waits out `idle` frees its memory and lets the next one wait, so
        // an idle pool gives every buffer back within a few periods.
        let job = match queue.lock() {
            Ok(rx) => rx.recv_timeout(idle),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(&mut scratch),
            Err(RecvTimeoutError::Timeout) => {
                scratch.release();
                std::thread::yield_now();
            }
            Err(RecvTimeoutError::Disconnected) => return, // every sender dropped
        }
    }
}

impl PasswordHasher {
    pub fn new(config: &PasswordConfig) -> Result<Self, PasswordError> {
        Self::with_idle_release(config, IDLE_RELEASE)
    }

    fn with_idle_release(config: &PasswordConfig, idle: Duration) -> Result<Self, PasswordError> {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(|_| PasswordError::Hashing)?;
        // Verifying against it costs what a real verification costs.
        let dummy_hash = dummy_hash(&params)?;
        let (queue, rx) = sync_channel::<Job>(config.queue_limit);
        let rx = Arc::new(Mutex::new(rx));
        let workers = config.workers.max(1);
        let held = Arc::new(AtomicUsize::new(0));
        let durations = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new(
                "password_hash_duration_seconds",
                "Time an argon2 (or bcrypt) job took on its worker, by operation (hash, verify)",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["operation"],
        )
        .map_err(|_| PasswordError::Hashing)?;
        for operation in ["hash", "verify"] {
            durations.with_label_values(&[operation]);
        }
        for n in 0..workers {
            let (rx, held) = (Arc::clone(&rx), Arc::clone(&held));
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || worker_loop(rx, held, idle))
                .map_err(|_| PasswordError::Hashing)?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                dummy_hash,
                queue,
                workers,
                queue_limit: config.queue_limit,
                held,
                durations,
            }),
        })
    }

    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// The histogram of job durations (shared: every clone of it sees every job).
    pub fn durations(&self) -> prometheus::HistogramVec {
        self.inner.durations.clone()
    }

    async fn submit<T, F>(&self, operation: &'static str, work: F) -> Result<T, PasswordError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &mut Scratch) -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let inner = Arc::clone(&self.inner);
        let job: Job = Box::new(move |scratch| {
            let started = std::time::Instant::now();
            let done = work(&inner, scratch);
            inner
                .durations
                .with_label_values(&[operation])
                .observe(started.elapsed().as_secs_f64());
            let _receiver_gone = tx.send(done);
        });
        match self.inner.queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                return Err(PasswordError::Overloaded);
            }
        }
        rx.await.map_err(|_| PasswordError::Hashing)
    }

    /// A new argon2id PHC string for `password`.
    pub async fn hash(&self, password: Zeroizing<String>) -> Result<String, PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        self.submit("hash", move |inner, scratch| {
            hash_now(scratch, &inner.params, password.as_bytes())
        })
        .await?
    }

    /// Checks `password` against `stored` (None for an unknown user: the dummy hash is
    /// checked instead, so the answer takes as long).
    pub async fn verify(
        &self,
        password: Zeroizing<String>,
        stored: Option<String>,
    ) -> Result<Verdict, PasswordError> {
        self.submit("verify", move |inner, scratch| {
            verify_now(
                scratch,
                &inner.params,
                &inner.dummy_hash,
                password.as_bytes(),
                stored.as_deref(),
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    fn cheap() -> PasswordConfig {
        PasswordConfig {
            memory_kib: 8 * 1024,
            iterations: 1,
            parallelism: 1,
            workers: 1,
            queue_limit: 4,
            policy: crate::config::PasswordPolicy::default(),
        }
    }

    fn pw(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_owned())
    }

    #[test]
    fn the_dummy_hash_costs_a_real_verification_and_matches_nothing() {
        let params = Params::new(8 * 1024, 1, 1, None).unwrap();
        let dummy = dummy_hash(&params).unwrap();
        let parsed = PasswordHash::new(&dummy).unwrap();
        // Same algorithm and parameters as real hashes, so the same work to verify.
        let recorded = Params::try_from(&parsed).unwrap();
        assert_eq!(
            (recorded.m_cost(), recorded.t_cost(), recorded.p_cost()),
            (params.m_cost(), params.t_cost(), params.p_cost())
        );
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.hash.map(|h| h.len()), Some(32));
        for password in ["", "password", "correct horse"] {
            assert!(
                argon2(&params)
                    .verify_password(password.as_bytes(), &parsed)
                    .is_err()
            );
        }
        assert_ne!(dummy, dummy_hash(&params).unwrap(), "random each time");
    }

    #[test]
    fn our_hashes_and_the_argon2_crates_are_interchangeable() {
        let params = Params::new(8 * 1024, 1, 1, None).unwrap();
        let mut scratch = Scratch::default();
        let ours = hash_now(&mut scratch, &params, b"correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2(&params)
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(argon2(&params).verify_password(b"wrong", &parsed).is_err());
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = argon2(&params)
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        let parsed = PasswordHash::new(&theirs).unwrap();
        assert!(matches(&mut scratch, b"correct horse", &parsed));
        assert!(!matches(&mut scratch, b"wrong", &parsed));
        // A hash with more memory than the scratch holds still verifies.
        let big = Params::new(16 * 1024, 1, 1, None).unwrap();
        let theirs = argon2(&big)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(matches(
            &mut scratch,
            b"pw",
            &PasswordHash::new(&theirs).unwrap()
        ));
        assert_eq!(
            scratch.blocks.len(),
            params.block_count(),
            "the scratch did not grow"
        );
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let hasher = PasswordHasher::new(&cheap()).unwrap();
        let stored = hasher.hash(pw("correct horse")).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"));
        assert_eq!(
            hasher
                .verify(pw("correct horse"), Some(stored.clone()))
                .await,
            Ok(Verdict::Valid { rehash: false })
        );
        assert_eq!(
            hasher.verify(pw("wrong"), Some(stored)).await,
            Ok(Verdict::Invalid)
        );
        assert_eq!(hasher.verify(pw("x"), None).await, Ok(Verdict::Invalid));
        assert_eq!(
            hasher.verify(pw("x"), Some("garbage".into())).await,
            Ok(Verdict::Invalid)
        );
    }

    #[tokio::test]
    async fn changed_parameters_ask_for_rehash() {
        let old = PasswordHasher::new(&cheap()).unwrap();
        let stored = old.hash(pw("pw-one-two")).await.unwrap();
        let mut cfg = cheap();
        cfg.iterations = 2;
        let new = PasswordHasher::new(&cfg).unwrap();
        assert_eq!(
            new.verify(pw("pw-one-two"), Some(stored)).await,
            Ok(Verdict::Valid { rehash: true })
        );
    }

    #[tokio::test]
    async fn bcrypt_verifies_and_asks_for_rehash() {
        let hasher = PasswordHasher::new(&cheap()).unwrap();
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let b = bcrypt::hash_with_result("hunter22", 4).unwrap();
            let stored = b.format_for_version(match prefix {
                "$2a$" => bcrypt::Version::TwoA,
                "$2y$" => bcrypt::Version::TwoY,
                _ => bcrypt::Version::TwoB,
            });
            assert!(stored.starts_with(prefix));
            assert_eq!(
                hasher.verify(pw("hunter22"), Some(stored.clone())).await,
                Ok(Verdict::Valid { rehash: true })
            );
            assert_eq!(
                hasher.verify(pw("hunter23"), Some(stored)).await,
                Ok(Verdict::Invalid)
            );
        }
    }

    #[test]
    fn bcrypt_reads_no_more_than_72_bytes_and_costs_stay_in_range() {
        let long = "x".repeat(72);
        let stored = bcrypt::hash(&long, 4).unwrap();
        assert!(check_bcrypt_hash(long.as_bytes(), &stored));
        // bcrypt alone would accept these: it reads the first 72 bytes only.
        assert!(bcrypt::verify(format!("{long}y"), &stored).unwrap());
        assert!(!check_bcrypt_hash(format!("{long}y").as_bytes(), &stored));
        assert!(!check_bcrypt_hash("x".repeat(1000).as_bytes(), &stored));
        assert_eq!(validate_bcrypt_hash(&stored), Ok(()));
        let costly = stored.replacen("$04$", "$15$", 1);
        assert_eq!(
            validate_bcrypt_hash(&costly),
            Err(BcryptHashError::Cost(15))
        );
        assert!(!check_bcrypt_hash(long.as_bytes(), &costly));
        assert_eq!(
            validate_bcrypt_hash("$2b$04$short"),
            Err(BcryptHashError::Malformed)
        );
    }

    #[tokio::test]
    async fn idle_workers_give_their_memory_back() {
        let mut cfg = cheap();
        cfg.workers = 2;
        cfg.queue_limit = 8;
        let hasher = PasswordHasher::with_idle_release(&cfg, Duration::from_millis(50)).unwrap();
        let hashes = futures_util::future::join_all((0..6).map(|_| hasher.hash(pw("x")))).await;
        assert!(hashes.iter().all(Result::is_ok));
        assert!(hasher.inner.held.load(Ordering::SeqCst) >= 1);
        let mut waited = Duration::ZERO;
        while hasher.inner.held.load(Ordering::SeqCst) > 0 {
            assert!(waited < Duration::from_secs(10), "buffers still held");
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += Duration::from_millis(20);
        }
        // And a worker that gave its memory back hashes again.
        let stored = hasher.hash(pw("again")).await.unwrap();
        assert_eq!(
            hasher.verify(pw("again"), Some(stored)).await,
            Ok(Verdict::Valid { rehash: false })
        );
    }

    #[tokio::test]
    async fn overload_is_an_error_not_a_queue() {
        let mut cfg = cheap();
        cfg.queue_limit = 1;
        let hasher = PasswordHasher::new(&cfg).unwrap();
        // Block the single worker so nothing drains while we fill the queue.
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let h = hasher.clone();
        let blocker = tokio::spawn(async move {
            h.submit("hash", move |_, _| {
                let _ = started_tx.send(());
                let _ = release_rx.recv();
            })
            .await
        });
        started_rx.await.unwrap();
        // The worker is busy; one job fills the queue.
        assert!(hasher.inner.queue.try_send(Box::new(|_| {})).is_ok());
        // The queue (capacity 1) is now full: the next job is refused at once.
        assert_eq!(hasher.hash(pw("x")).await, Err(PasswordError::Overloaded));
        release_tx.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        // And the pool recovers once the worker has drained the queue.
        let mut recovered = false;
        for _ in 0..100 {
            if hasher.hash(pw("x")).await.is_ok() {
                recovered = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(recovered);
    }

    #[tokio::test]
    async fn too_long_is_refused() {
        let hasher = PasswordHasher::new(&cheap()).unwrap();
        let long = "a".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(hasher.hash(pw(&long)).await, Err(PasswordError::TooLong));
    }
}
