//! Names the commit this binary is built from, for `portcullis_build_info{commit}`:
//! `PORTCULLIS_BUILD_COMMIT` when the builder sets it (an image built from a tarball or a
//! context without `.git`), else what git says, else `unknown`. Never fails the build.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A commit name as a Prometheus label and log field: hex, or `unknown`.
fn plain(commit: &str) -> Option<String> {
    let commit = commit.trim();
    (!commit.is_empty() && commit.len() <= 40 && commit.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| commit.to_ascii_lowercase())
}

fn main() {
    println!("cargo:rerun-if-env-changed=PORTCULLIS_BUILD_COMMIT");
    let commit = std::env::var("PORTCULLIS_BUILD_COMMIT")
        .ok()
        .and_then(|c| plain(&c))
        .or_else(|| {
            // Rebuilt when HEAD moves: HEAD itself (a checkout) and the branch it names (a
            // commit). Only paths that exist are named, or cargo would rerun this always.
            let mut watched: Vec<PathBuf> = Vec::new();
            if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
                watched.push(head.into());
            }
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
                && let Some(path) = git(&["rev-parse", "--git-path", &branch])
            {
                watched.push(path.into());
            }
            if let Some(packed) = git(&["rev-parse", "--git-path", "packed-refs"]) {
                watched.push(packed.into());
            }
            for path in watched.iter().filter(|p| p.exists()) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
            git(&["rev-parse", "--short=12", "HEAD"]).and_then(|c| plain(&c))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PORTCULLIS_BUILD_COMMIT={commit}");
}
