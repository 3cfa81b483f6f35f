//! The list of common and breached passwords a new password may not be
//! (`new_password::check`), checked offline: embedded in the binary gzip-compressed
//! (`common_passwords/list.txt.gz`; its source, licence and how it was made are in the
//! README beside it), decompressed once, the first time it is needed (`warm` does it at
//! start), and searched by binary search over one sorted text with an offset per entry.
//!
//! Cost, measured (README): 2 MB in the binary, 6.6 MB of heap once loaded (the 4.7 MB
//! text and a `u32` offset per entry), under 0.1 s to load, about 0.5 µs per check.

use std::io::Read as _;
use std::sync::LazyLock;

/// Every password of at least 8 characters among the million most common, lowercased,
/// sorted, one per line.
static COMPRESSED: &[u8] = include_bytes!("common_passwords/list.txt.gz");

/// The decompressed list: one text of newline-terminated entries, and where each starts.
struct List {
    text: String,
    /// The byte offset of each entry in `text`; an entry ends at the newline before the
    /// next one's start (or the text's end).
    starts: Vec<u32>,
}

impl List {
    fn len(&self) -> usize {
        self.starts.len()
    }

    fn entry(&self, i: usize) -> &str {
        let Some(&start) = self.starts.get(i) else {
            return "";
        };
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.text.len(), |&next| next as usize);
        self.text
            .get(start as usize..end)
            .map_or("", |line| line.trim_end_matches('\n'))
    }

    fn load() -> Self {
        // gzip's trailer ends with the text's length (RFC 1952 ISIZE): read into a buffer
        // of that size at once, rather than one grown by doubling to nearly twice it.
        let size = COMPRESSED
            .last_chunk::<4>()
            .map_or(0, |isize| u32::from_le_bytes(*isize) as usize);
        let mut text = String::with_capacity(size);
        if let Err(err) = flate2::read::GzDecoder::new(COMPRESSED).read_to_string(&mut text) {
            // Cannot happen with the embedded file (a unit test reads it); if it did, the
            // policy would go on without the list rather than stop every password change.
            tracing::error!(error = %err, "the common-password list cannot be read");
            text.clear();
        }
        let mut starts = Vec::with_capacity(text.len() / 9);
        let mut at = 0usize;
        for line in text.split_inclusive('\n') {
            if let Ok(start) = u32::try_from(at) {
                starts.push(start);
            }
            at += line.len();
        }
        starts.shrink_to_fit();
        Self { text, starts }
    }

    fn contains(&self, folded: &str) -> bool {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.entry(mid).cmp(folded) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }
}

static LIST: LazyLock<List> = LazyLock::new(List::load);

/// Is this password (already lowercased) on the list?
pub fn contains(folded: &str) -> bool {
    LIST.contains(folded)
}

/// How many entries the list holds (loading it if it is not yet).
pub fn len() -> usize {
    LIST.len()
}

/// Loads the list now, so the first password change does not wait for it. Called once at
/// start from a thread of its own.
pub fn warm() {
    LazyLock::force(&LIST);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_list_loads_whole_and_is_searchable() {
        let started = std::time::Instant::now();
        let list = List::load();
        let took = started.elapsed();
        assert!(list.len() >= 100_000, "{}", list.len());
        assert!(list.contains("password"));
        assert!(list.contains("12345678"));
        assert!(!list.contains("correct horse battery staple zq"));
        // Strictly ascending: the order the binary search relies on, with no duplicates.
        for i in 1..list.len() {
            assert!(list.entry(i - 1) < list.entry(i), "{}", list.entry(i));
            assert!(!list.entry(i).is_empty());
        }
        eprintln!(
            "common passwords: {} entries, {} bytes of text, loaded in {took:?}",
            list.len(),
            list.text.len()
        );
    }
}
