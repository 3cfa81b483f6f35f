//! `X-Request-Id`: the id a request is known by in the logs, in its span, and in the
//! answer. A proxy or client may name it; a name that is too long or carries anything but
//! a few safe characters is replaced, so the header cannot forge log lines or swell them.
//! A sent id is a correlation hint, not proof of anything: any client may send any.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::http::header::{HeaderMap, HeaderName};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id taken from a request (a UUID is 36, a W3C trace id 32).
pub const MAX_LEN: usize = 128;

/// A minted id: a random prefix per process and a counter. Unique across replicas with
/// overwhelming odds, and no syscall per request (a v4 UUID asked the kernel for
/// randomness every time).
#[derive(Debug, Clone, Copy)]
pub struct RequestId {
    process: u64,
    seq: u64,
}

impl RequestId {
    pub fn next() -> Self {
        static PROCESS: OnceLock<u64> = OnceLock::new();
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let process = *PROCESS.get_or_init(rand::random::<u64>);
        Self {
            process,
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
        }
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}-{:x}", self.process, self.seq)
    }
}

/// Whether a sent id is kept: 1 to `MAX_LEN` characters of `A-Z a-z 0-9 - _ . : + / = @`
/// (UUIDs, ULIDs, hex and base64 ids, `Root=1-…` forms).
pub fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=@".contains(&b))
}

/// The request's id: the one it carries when there is exactly one and it is sane,
/// otherwise a new one.
pub fn for_request(headers: &HeaderMap) -> String {
    let mut sent = headers.get_all(HEADER);
    match (sent.next(), sent.next()) {
        (Some(value), None) => match value.to_str() {
            Ok(id) if is_sane(id) => id.to_owned(),
            Ok(_) | Err(_) => RequestId::next().to_string(),
        },
        (Some(_), Some(_)) | (None, _) => RequestId::next().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_short_and_plain() {
        for id in [
            "0af7651916cd43dd8448eb211c80319c",
            "9b2f1e3c-8a41-4c4e-9d2a-1f0e7c6b5a49",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
            "abc+/=",
            "a",
        ] {
            assert!(is_sane(id), "{id}");
        }
        for id in [
            "",
            "has space",
            "line\nbreak",
            "quote\"",
            "percent%20",
            "ümlaut",
            &"x".repeat(MAX_LEN + 1),
        ] {
            assert!(!is_sane(id), "{id:?}");
        }
        assert!(is_sane(&"x".repeat(MAX_LEN)));
    }

    #[test]
    fn minted_ids_differ() {
        let (a, b) = (RequestId::next().to_string(), RequestId::next().to_string());
        assert_ne!(a, b);
        assert!(is_sane(&a) && is_sane(&b));
    }
}
