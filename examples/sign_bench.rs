//! RS256 signatures per second of our `Signer` (key parsed once, aws-lc) on one thread,
//! signing realistic RFC 9068 access-token claims, for comparison with
//! `openssl speed rsa2048` (see `bench/sign.sh`, which runs both back to back).
//!
//!     cargo run --release --example sign_bench [-- SECONDS]
//!
//! The last line is machine-readable: `RESULT sign_per_s=<n> seconds=<s> token_bytes=<n>`.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use portcullis::crypto::jwt::Signer;
use portcullis::crypto::key_material::generate_rsa_private_key;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let run = Duration::from_secs_f64(seconds);

    let der = generate_rsa_private_key(2048)?;
    let signer = Signer::new(&der, "0190a6f0-0000-7000-8000-00000000beef")?;

    // The claims a client_credentials or password grant puts in an access token
    // (RFC 9068 section 2.2, plus our `roles` and grant id); a fresh `jti` per token as
    // the server does.
    let now: i64 = 1_767_225_600;
    let claims_for = |jti: String| {
        json!({
            "iss": "https://auth.example.com",
            "sub": "0190a6f0-0000-7000-8000-000000000001",
            "aud": "https://api.example.com",
            "client_id": "bench-client",
            "scope": "api:read api:write offline_access",
            "exp": now + 900,
            "iat": now,
            "jti": jti,
            "roles": ["reader", "writer"],
            "gid": "0190a6f0-0000-7000-8000-000000000002",
        })
    };

    // Warm-up (caches, CPU frequency), not counted.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        std::hint::black_box(signer.sign("at+jwt", &claims_for(uuid::Uuid::now_v7().to_string()))?);
    }

    let start = Instant::now();
    let mut count: u64 = 0;
    let mut bytes = 0usize;
    while start.elapsed() < run {
        let token = signer.sign("at+jwt", &claims_for(uuid::Uuid::now_v7().to_string()))?;
        bytes += token.len();
        count += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rate = count as f64 / elapsed;
    let avg_len = if count == 0 {
        0
    } else {
        bytes / count as usize
    };
    println!(
        "Signer::sign RS256 (RSA-2048, at+jwt, {avg_len}-byte tokens): {rate:.0} signatures/s on one thread over {elapsed:.1} s ({count} tokens)"
    );
    println!("RESULT sign_per_s={rate:.1} seconds={elapsed:.2} token_bytes={avg_len}");
    Ok(())
}
