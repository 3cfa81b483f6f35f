//! PKCE (RFC 7636, S256 only): what /authorize accepts as a challenge and what /token
//! accepts as its verifier. A verifier passes exactly when it is well-formed and its S256
//! transform is the challenge.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::oauth::pkce;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let verifier = parts.next().unwrap_or_default();
    let challenge = parts.next();
    let method = parts.next();

    let transformed = pkce::s256(verifier);
    assert!(pkce::valid_s256_challenge(&transformed));
    let own = pkce::verify(Some(&transformed), Some(verifier));
    assert_eq!(own.is_ok(), pkce::valid_verifier(verifier));

    match pkce::challenge_from_request(challenge, method) {
        Ok(Some(c)) => {
            assert_eq!(method, Some("S256"));
            assert!(pkce::valid_s256_challenge(&c));
            if let Ok(()) = pkce::verify(Some(&c), Some(verifier)) {
                assert_eq!(c, transformed);
            }
        }
        Ok(None) => assert!(challenge.is_none() && method.is_none()),
        Err(err) => {
            assert_eq!(err.code(), "invalid_request");
            common::assert_wire_safe(&err);
        }
    }
    if let Some(c) = challenge {
        match pkce::verify(Some(c), Some(verifier)) {
            Ok(()) => assert_eq!(c, transformed),
            Err(err) => common::assert_wire_safe(&err),
        }
    }
});
