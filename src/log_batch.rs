//! The log writer of `serve`: lines are gathered in memory and written to stderr in
//! batches, at most `FLUSH_AFTER` after the first line of a batch, or at once when
//! `BATCH_BYTES` are waiting. A write per request line cost 5-8 us of CPU on ext4, a
//! fifth of answering `/jwks.json`; nginx's `access_log ... buffer= flush=` makes the same
//! trade. What can be lost: on SIGKILL or abort, the lines of the last `FLUSH_AFTER`. A
//! normal stop and a panic flush (see `flush`).

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

/// How long a line may wait in memory.
pub const FLUSH_AFTER: Duration = Duration::from_millis(50);
/// Waiting lines beyond this are written by the thread that logs, so memory stays bounded
/// and a slow stderr slows the server down rather than growing the buffer.
const BATCH_BYTES: usize = 64 * 1024;

type Sink = Box<dyn Write + Send>;

#[derive(Clone)]
pub struct LogBatch {
    inner: Arc<Inner>,
}

struct Inner {
    /// Taken before `pending` by whoever writes a batch, so batches leave in order.
    sink: Mutex<Sink>,
    pending: Mutex<Vec<u8>>,
    /// Signalled when a line arrives in an empty buffer.
    arrived: Condvar,
    flush_after: Duration,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding either lock leaves plain bytes behind: still safe to use.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

static STDERR: OnceLock<LogBatch> = OnceLock::new();

impl LogBatch {
    /// The process's batched stderr, with its flushing thread started on first use.
    pub fn stderr() -> &'static LogBatch {
        STDERR.get_or_init(|| LogBatch::new(Box::new(io::stderr()), FLUSH_AFTER))
    }

    /// Writes what waits in the process's batched stderr, if it was ever used.
    pub fn flush_stderr() {
        if let Some(batch) = STDERR.get() {
            batch.flush();
        }
    }

    pub fn new(sink: Sink, flush_after: Duration) -> Self {
        let inner = Arc::new(Inner {
            sink: Mutex::new(sink),
            pending: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            flush_after,
        });
        let flusher = Arc::clone(&inner);
        // Without the thread, lines would still leave once BATCH_BYTES wait and on
        // `flush`: a quiet server's lines would merely be late.
        let _started = std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(move || flush_periodically(&flusher));
        Self { inner }
    }

    /// Writes every waiting line now.
    pub fn flush(&self) {
        self.inner.write_batch();
    }
}

impl Inner {
    fn write_batch(&self) {
        let mut sink = lock(&self.sink);
        let batch = std::mem::take(&mut *lock(&self.pending));
        if !batch.is_empty() {
            // Nowhere to report a failing stderr; the lines are dropped, as an
            // unbuffered write would drop them.
            let _lost = sink.write_all(&batch).and_then(|()| sink.flush());
        }
    }

    fn append(&self, line: &[u8]) {
        let full = {
            let mut pending = lock(&self.pending);
            if pending.is_empty() {
                self.arrived.notify_one();
            }
            pending.extend_from_slice(line);
            pending.len() >= BATCH_BYTES
        };
        if full {
            self.write_batch();
        }
    }
}

/// Sleeps until a line arrives, lets a batch gather for `flush_after`, writes it.
fn flush_periodically(inner: &Inner) {
    loop {
        {
            let mut pending = lock(&inner.pending);
            while pending.is_empty() {
                pending = inner
                    .arrived
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        std::thread::sleep(inner.flush_after);
        inner.write_batch();
    }
}

/// One formatted event: tracing's fmt layer hands over a whole line in one `write_all`.
pub struct Line<'a>(&'a LogBatch);

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.inner.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBatch {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line(self)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn log(batch: &LogBatch, line: &str) {
        use tracing_subscriber::fmt::MakeWriter;
        batch.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn lines_wait_no_longer_than_the_interval_and_keep_their_order() {
        let out = Shared::default();
        let batch = LogBatch::new(Box::new(out.clone()), Duration::from_millis(20));
        let written = Instant::now();
        for i in 0..100 {
            log(&batch, &format!("line {i}\n"));
        }
        let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
        while out.text() != expected {
            assert!(
                written.elapsed() < Duration::from_secs(5),
                "not flushed: {:?}",
                out.text()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // The thread goes back to sleep and serves the next batch too.
        log(&batch, "later\n");
        let again = Instant::now();
        while !out.text().ends_with("line 99\nlater\n") {
            assert!(again.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn flush_writes_at_once_and_a_full_batch_does_not_wait() {
        let out = Shared::default();
        // An interval no test waits for: only `flush` and a full batch write.
        let batch = LogBatch::new(Box::new(out.clone()), Duration::from_secs(3600));
        log(&batch, "first\n");
        assert_eq!(out.text(), "");
        batch.flush();
        assert_eq!(out.text(), "first\n");

        let line = format!("{}\n", "x".repeat(1023));
        for _ in 0..(BATCH_BYTES / line.len()) {
            log(&batch, &line);
        }
        assert_eq!(out.text().len(), "first\n".len() + BATCH_BYTES);
        // Never more than a batch waits.
        log(&batch, "tail\n");
        assert_eq!(lock(&batch.inner.pending).len(), "tail\n".len());
    }
}
