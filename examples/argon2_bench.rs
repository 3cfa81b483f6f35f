//! Argon2id cost with the configured (default: OWASP) parameters: single-hash latency,
//! then hashes per second through the bounded pool with every worker busy.
//!
//!     cargo run --release --example argon2_bench [-- SECONDS]
//!
//! SECONDS is the length of the saturated phase (default 5); 0 measures single hashes only.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use portcullis::config::Config;
use portcullis::crypto::password::{PasswordError, PasswordHasher};
use zeroize::Zeroizing;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let config = Config::load(&portcullis::config::Sources::from_process(
        None,
        Default::default(),
    ))?;
    let p = &config.password;
    let hasher = PasswordHasher::new(&config.password)?;
    println!(
        "argon2id m={} KiB t={} p={}; pool: {} workers, queue limit {}",
        p.memory_kib,
        p.iterations,
        p.parallelism,
        hasher.workers(),
        p.queue_limit
    );

    // Latency of one hash with the pool otherwise idle.
    let mut samples = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        hasher
            .hash(Zeroizing::new("correct horse battery staple".into()))
            .await?;
        samples.push(t.elapsed());
    }
    samples.sort();
    let median = samples.get(samples.len() / 2).copied().unwrap_or_default();
    println!(
        "single hash: median {:.1} ms (min {:.1} ms)",
        ms(median),
        ms(samples.first().copied().unwrap_or_default())
    );
    // Every sample, for a caller that pools several runs (bench/run.sh measures before
    // and after each password cell).
    let all: Vec<String> = samples.iter().map(|d| format!("{:.2}", ms(*d))).collect();
    println!("single hash samples ms: {}", all.join(" "));

    if seconds == 0 {
        return Ok(());
    }

    // Saturation: as many concurrent callers as the queue admits.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..(hasher.workers() * 2) {
        let hasher = hasher.clone();
        tasks.push(tokio::spawn(async move {
            let (mut done, mut refused) = (0u64, 0u64);
            while Instant::now() < deadline {
                match hasher
                    .hash(Zeroizing::new("correct horse battery staple".into()))
                    .await
                {
                    Ok(_) => done += 1,
                    Err(PasswordError::Overloaded) => refused += 1,
                    Err(e) => return Err(e),
                }
            }
            Ok((done, refused))
        }));
    }
    let (mut done, mut refused) = (0, 0);
    for t in tasks {
        let (d, r) = t.await??;
        done += d;
        refused += r;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rate = done as f64 / elapsed;
    let ideal = hasher.workers() as f64 / median.as_secs_f64();
    println!(
        "saturated: {rate:.1} hashes/s over {elapsed:.1} s ({refused} refused); cores / single-hash time = {ideal:.1}/s; ratio {:.0}%",
        rate / ideal * 100.0
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
