//! The front door (issue 23 item 1): `[proxy]` with trusted proxies as addresses or CIDR
//! ranges, the deprecated `rate_limit.trusted_proxies` still honoured with a warning, one
//! client address for limits, throttling and the audit log; a public issuer without a
//! master key refused with the exact fix, `keys generate-master-key`, and
//! `healthcheck --live`. The real proxy in front is `tests/proxy/nginx_tls.py`.

use std::net::IpAddr;
use std::process::Command;
use std::sync::Arc;

use base64::Engine as _;
use portcullis::config::{ProxyHeader, ProxyRange};

use crate::helpers::{TestApp, TestDb, load_config, spawn_app_with};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ranges(list: &[&str]) -> Vec<ProxyRange> {
    list.iter().map(|r| r.parse().unwrap()).collect()
}

#[test]
fn trusted_proxies_are_addresses_or_cidr_ranges_from_any_source() {
    // The environment: a comma-separated list, or a TOML-style array.
    for value in [
        "10.0.0.0/8, 2001:db8::/32,192.0.2.7",
        "[10.0.0.0/8, 2001:db8::/32, 192.0.2.7]",
        "10.0.0.0/8 2001:db8::/32 192.0.2.7",
    ] {
        let c = load_config(&[("PORTCULLIS_PROXY__TRUSTED_PROXIES", value)]).unwrap();
        assert_eq!(
            c.proxy.trusted_proxies,
            ranges(&["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]),
            "{value}"
        );
        assert!(c.proxy.trusts(ip("10.200.3.4")));
        assert!(c.proxy.trusts(ip("::ffff:10.200.3.4")), "IPv4-mapped peer");
        assert!(c.proxy.trusts(ip("2001:db8:aaaa::1")));
        assert!(c.proxy.trusts(ip("192.0.2.7")));
        assert!(!c.proxy.trusts(ip("192.0.2.8")));
        assert!(!c.proxy.trusts(ip("11.0.0.1")));
        assert!(c.deprecations.is_empty(), "{:?}", c.deprecations);
    }
    // The file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portcullis.toml");
    std::fs::write(
        &file,
        "[proxy]\ntrusted_proxies = [\"172.16.0.0/12\", \"fd00::/8\"]\nheader = \"forwarded\"\n",
    )
    .unwrap();
    let c = portcullis::config::Config::load(&portcullis::config::Sources {
        file: Some(file),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        c.proxy.trusted_proxies,
        ranges(&["172.16.0.0/12", "fd00::/8"])
    );
    assert_eq!(c.proxy.header, ProxyHeader::Forwarded);
    // Defaults: nobody is trusted, X-Forwarded-For is the header.
    let c = load_config(&[]).unwrap();
    assert!(c.proxy.trusted_proxies.is_empty());
    assert_eq!(c.proxy.header, ProxyHeader::XForwardedFor);
}

#[test]
fn loose_proxy_ranges_stop_the_start_with_the_fix() {
    let refused = |value: &str| {
        load_config(&[("PORTCULLIS_PROXY__TRUSTED_PROXIES", value)])
            .err()
            .unwrap_or_else(|| panic!("{value} was accepted"))
            .to_string()
    };
    for (value, says) in [
        ("10.0.0.1/8", "has host bits set: write `10.0.0.0/8`"),
        ("2001:db8::1/32", "write `2001:db8::/32`"),
        ("0.0.0.0/0", "trusts every address"),
        ("::/0", "trusts every address"),
        ("10.0.0.0/33", "an IPv4 prefix is at most /32"),
        ("2001:db8::/129", "an IPv6 prefix is at most /128"),
        ("10.0.0.0/x", "prefix length must be a number"),
        ("proxy.internal", "is not an address"),
        ("10.0.0.1:8080", "is not an address"),
        ("10.0.0.0/8, ingress", "entry #2"),
        ("10.0.0.0/8, 10.0.0.0/8", "listed twice"),
    ] {
        let err = refused(value);
        assert!(err.contains("proxy.trusted_proxies"), "{value}: {err}");
        assert!(
            err.contains("PORTCULLIS_PROXY__TRUSTED_PROXIES"),
            "names the variable: {err}"
        );
        assert!(err.contains(says), "{value}: {err}");
    }
    let err = load_config(&[("PORTCULLIS_PROXY__HEADER", "x-real-ip")])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("PORTCULLIS_PROXY__HEADER"), "{err}");
}

#[test]
fn the_old_rate_limit_keys_still_work_with_a_deprecation_and_never_with_the_new() {
    let c = load_config(&[
        (
            "PORTCULLIS_RATE_LIMIT__TRUSTED_PROXIES",
            "10.0.0.1, 10.1.0.0/16",
        ),
        ("PORTCULLIS_RATE_LIMIT__PROXY_HEADER", "forwarded"),
    ])
    .unwrap();
    assert_eq!(
        c.proxy.trusted_proxies,
        ranges(&["10.0.0.1", "10.1.0.0/16"])
    );
    assert_eq!(c.proxy.header, ProxyHeader::Forwarded);
    assert_eq!(c.deprecations.len(), 2, "{:?}", c.deprecations);
    assert!(
        c.deprecations[0].contains("rate_limit.trusted_proxies")
            && c.deprecations[0].contains("PORTCULLIS_RATE_LIMIT__TRUSTED_PROXIES")
            && c.deprecations[0].contains("rename it to proxy.trusted_proxies"),
        "{:?}",
        c.deprecations
    );
    assert!(
        c.deprecations[1].contains("proxy.header"),
        "{:?}",
        c.deprecations
    );
    // The old key is parsed as strictly as the new one.
    let err = load_config(&[("PORTCULLIS_RATE_LIMIT__TRUSTED_PROXIES", "10.0.0.1/8")])
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("rate_limit.trusted_proxies") && err.contains("host bits"),
        "{err}"
    );

    // Both at once: which one wins would be a guess, so neither does.
    let err = load_config(&[
        ("PORTCULLIS_RATE_LIMIT__TRUSTED_PROXIES", "10.0.0.1"),
        ("PORTCULLIS_PROXY__TRUSTED_PROXIES", "10.0.0.2"),
    ])
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("move every entry to proxy.trusted_proxies"),
        "{err}"
    );
    let err = load_config(&[
        ("PORTCULLIS_RATE_LIMIT__PROXY_HEADER", "forwarded"),
        ("PORTCULLIS_PROXY__HEADER", "forwarded"),
    ])
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("keep proxy.header"), "{err}");
}

/// `config check` shows the deprecation too, and the effective proxies in `proxy`.
#[test]
fn config_check_shows_the_proxies_and_the_deprecation() {
    let db = TestDb::new();
    let out = crate::cli::base_command(&db)
        .env("PORTCULLIS_RATE_LIMIT__TRUSTED_PROXIES", "10.0.0.0/8")
        .args(["--json", "config", "check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shown = &shown["config"];
    assert_eq!(
        shown["proxy"]["trusted_proxies"],
        serde_json::json!(["10.0.0.0/8"])
    );
    assert_eq!(shown["proxy"]["header"], "x-forwarded-for");
    assert!(
        shown["deprecations"][0]
            .as_str()
            .unwrap()
            .contains("proxy.trusted_proxies"),
        "{shown}"
    );
}

/// One request per burst on /token: 401 when let through (no credentials), 429 when the
/// bucket of that client address is empty.
async fn token(app: &TestApp, xff: &str) -> u16 {
    app.http
        .post(format!("{}/token", app.public))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", xff)
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn limited_app(trusted: &[&str]) -> TestApp {
    let trusted = ranges(trusted);
    spawn_app_with(Arc::new(TestDb::new()), move |c| {
        c.rate_limit.token_per_second = 1;
        c.rate_limit.token_burst = 1;
        c.proxy.trusted_proxies = trusted;
    })
    .await
}

#[tokio::test]
async fn a_peer_in_a_trusted_range_is_believed_and_the_walk_passes_the_range() {
    // The test connects from 127.0.0.1, inside the trusted /8.
    let app = limited_app(&["127.0.0.0/8"]).await;
    assert_eq!(token(&app, "198.51.100.1").await, 401);
    assert_eq!(token(&app, "198.51.100.1").await, 429);
    // Right-most untrusted: 127.0.0.9 is another proxy of the range, passed over; the
    // spoofed 6.6.6.6 on the left is never reached.
    assert_eq!(token(&app, "6.6.6.6, 198.51.100.1, 127.0.0.9").await, 429);
    assert_eq!(
        token(&app, "198.51.100.2, 127.0.0.9").await,
        401,
        "another client"
    );
    assert!(
        !app.state
            .forwarding_warned
            .load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[tokio::test]
async fn a_peer_outside_every_trusted_range_cannot_choose_its_address() {
    let app = limited_app(&["10.0.0.0/8", "fd00::/8"]).await;
    assert_eq!(token(&app, "198.51.100.1").await, 401);
    // Each request claims another address; all are the peer's own bucket.
    assert_eq!(token(&app, "198.51.100.2").await, 429);
    assert_eq!(token(&app, "10.0.0.1").await, 429);
    assert!(
        app.state
            .forwarding_warned
            .load(std::sync::atomic::Ordering::Relaxed),
        "serve's one warning is armed"
    );
}

/// The audit log and the login throttle take the same address as the rate limit.
#[tokio::test]
async fn audit_and_throttling_see_the_address_a_trusted_range_forwards() {
    use diesel::prelude::*;
    use portcullis::store::schema::{audit_events, login_failures};

    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.proxy.trusted_proxies = ranges(&["127.0.0.0/8"]);
    })
    .await;
    let secret = app
        .confidential_client("app")
        .grants(&["password"])
        .scope("api:read")
        .await
        .secret()
        .to_owned();
    app.user("erin").await;
    let status = app
        .http
        .post(format!("{}/token", app.public))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.77, 127.0.0.200")
        .basic_auth("app", Some(&secret))
        .body("grant_type=password&username=erin&password=wrong")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 400);
    let (keys, details): (Vec<String>, Vec<String>) = app
        .state
        .store
        .run(|conn| {
            let keys = login_failures::table
                .select(login_failures::throttle_key)
                .load(conn)?;
            let details = audit_events::table
                .filter(audit_events::event_type.eq("login.failure"))
                .select(audit_events::details)
                .load(conn)?;
            Ok((keys, details))
        })
        .await
        .unwrap();
    assert!(keys.contains(&"ip:203.0.113.77".to_owned()), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains("6.6.6.6")), "{keys:?}");
    assert_eq!(details.len(), 1, "{details:?}");
    let detail: serde_json::Value = serde_json::from_str(&details[0]).unwrap();
    assert_eq!(detail["ip"], "203.0.113.77", "{detail}");
}

/// The command line as an operator runs it: nothing from the developer's environment.
fn bare(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .current_dir(dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTCULLIS_DATA_DIR", dir.join("data"));
    cmd
}

#[test]
fn a_public_issuer_without_a_master_key_is_refused_with_the_exact_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = bare(dir.path())
        .env("PORTCULLIS_ISSUER", "https://id.example.com")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for says in [
        "keys.master_keys",
        "https://id.example.com is not on a loopback host",
        "portcullis keys generate-master-key > master_keys",
        "PORTCULLIS_KEYS__MASTER_KEYS_FILE (keys.master_keys_file)",
        "PORTCULLIS_KEYS__MASTER_KEYS (keys.master_keys)",
        "apart from database backups",
    ] {
        assert!(err.contains(says), "missing {says:?} in: {err}");
    }
    // Nothing was created on the way to the refusal.
    assert!(!dir.path().join("data").exists());

    // The command it names works in that very environment (it needs no configuration),
    // and the key it prints makes the same start pass configuration.
    let generated = bare(dir.path())
        .env("PORTCULLIS_ISSUER", "https://id.example.com")
        .args(["keys", "generate-master-key"])
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let text = String::from_utf8(generated.stdout).unwrap();
    assert!(
        text.ends_with('\n') && text.lines().count() == 1,
        "{text:?}"
    );
    let key = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap();
    assert_eq!(key.len(), 32);
    let key_file = dir.path().join("master_keys");
    std::fs::write(&key_file, &text).unwrap();
    let check = bare(dir.path())
        .env("PORTCULLIS_ISSUER", "https://id.example.com")
        .env("PORTCULLIS_KEYS__MASTER_KEYS_FILE", &key_file)
        .args(["--json", "config", "check"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let fingerprints = shown["config"]["keys"]["master_keys"]["fingerprints"].clone();
    assert_eq!(fingerprints.as_array().map(Vec::len), Some(1), "{shown}");
    assert!(!String::from_utf8_lossy(&check.stdout).contains(text.trim()));

    // Fresh every time; `--json` also gives the fingerprint `config check` shows.
    let again = bare(dir.path())
        .args(["--json", "keys", "generate-master-key"])
        .output()
        .unwrap();
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_ne!(again["master_key"].as_str().unwrap(), text.trim());
    std::fs::write(&key_file, again["master_key"].as_str().unwrap()).unwrap();
    let check = bare(dir.path())
        .env("PORTCULLIS_ISSUER", "https://id.example.com")
        .env("PORTCULLIS_KEYS__MASTER_KEYS_FILE", &key_file)
        .args(["--json", "config", "check"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(
        shown["config"]["keys"]["master_keys"]["fingerprints"][0],
        again["fingerprint"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_live_probes_liveness_and_fails_when_nothing_answers() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.admin.trim_start_matches("http://").to_owned();
    let db = TestDb::new();
    let probe = |live: bool, admin: String| {
        let db = &db;
        let mut cmd = crate::cli::base_command(db);
        cmd.env("PORTCULLIS_ADMIN__BIND", admin).arg("healthcheck");
        if live {
            cmd.arg("--live");
        }
        cmd.output().unwrap()
    };
    let live = tokio::task::block_in_place(|| probe(true, admin.clone()));
    assert!(
        live.status.success(),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&live.stdout).trim(),
        "/health/live answered 200"
    );
    let ready = tokio::task::block_in_place(|| probe(false, admin));
    assert!(ready.status.success());
    assert_eq!(
        String::from_utf8_lossy(&ready.stdout).trim(),
        "/health/ready answered 200"
    );
    // Nothing listening: a clear failure, not a hang.
    let port = {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        closed.local_addr().unwrap()
    };
    let down = tokio::task::block_in_place(|| probe(true, port.to_string()));
    assert!(!down.status.success());
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("cannot connect"),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
}
