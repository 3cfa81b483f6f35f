//! Byte-to-text encodings every layer shares: lowercase hex, and the strong ETag of a
//! pre-serialised response body. Foundation: imports nothing from the crate.

use sha2::{Digest as _, Sha256};

/// Lowercase hex, two digits per byte (audit hashes, key fingerprints).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            // Writing to a String cannot fail.
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// The bytes of lowercase or uppercase hex, two digits per byte; `None` for anything else.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    // `from_str_radix` alone would take a sign ("+1").
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digits = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(digits, 16).ok()
        })
        .collect()
}

/// Bytes of SHA-256 an ETag keeps: 96 bits tell versions of one document apart.
const ETAG_DIGEST_BYTES: usize = 12;

/// A strong ETag (quoted) for a response body: the first 96 bits of its SHA-256 in hex.
/// The same body always gets the same tag, on every replica.
pub fn etag(body: &[u8]) -> String {
    let mut digits = hex(&Sha256::digest(body));
    digits.truncate(2 * ETAG_DIGEST_BYTES);
    format!("\"{digits}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
    }

    #[test]
    fn unhex_reverses_hex_and_refuses_the_rest() {
        assert_eq!(unhex("000fabff"), Some(vec![0x00, 0x0f, 0xab, 0xff]));
        assert_eq!(unhex("AB"), Some(vec![0xab]));
        assert_eq!(unhex(""), Some(vec![]));
        for bad in ["a", "zz", "+1", "0x", "é0"] {
            assert_eq!(unhex(bad), None, "{bad}");
        }
    }

    #[test]
    fn etag_is_quoted_24_hex_digits_and_stable() {
        let tag = etag(b"{\"keys\":[]}");
        assert_eq!(tag.len(), 2 + 2 * ETAG_DIGEST_BYTES);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_eq!(tag, etag(b"{\"keys\":[]}"));
        assert_ne!(tag, etag(b"{\"keys\":[1]}"));
    }
}
