//! Client credentials from the `Authorization: Basic` header and the form (RFC 6749
//! section 2.3.1): never a panic; a result is one method with a non-empty client_id; a
//! failure is `invalid_client` (with the Basic challenge) or `invalid_request`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::oauth::client::authentication::presented_credentials;
use portcullis::oauth::form::FormMap;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    let body = body.get(1..).unwrap_or_default();
    let Ok(form) = FormMap::parse(body) else {
        return;
    };
    // The handler hands over only one header whose value is visible ASCII.
    let header = std::str::from_utf8(header).ok().filter(|h| {
        h.bytes()
            .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
    });
    for header in [header, None] {
        match presented_credentials(header, &form) {
            Ok(presented) => {
                assert!(!presented.client_id().is_empty() || header.is_none());
                assert_eq!(presented.basic_used(), header.is_some());
                if let Some(body_id) = form.get("client_id") {
                    assert_eq!(body_id, presented.client_id());
                }
            }
            Err(err) => {
                assert!(
                    matches!(err.code(), "invalid_client" | "invalid_request"),
                    "{}",
                    err.code()
                );
                common::assert_wire_safe(&err);
            }
        }
    }
});
