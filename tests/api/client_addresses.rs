//! Client addresses (issue 19 item 3): the rate limit on /token keys on the address the
//! trusted proxies report, counted per IPv6 network; forwarding headers from anyone else
//! are ignored, and `serve` says so once. The parser's own table is in
//! `src/http/client_ip.rs`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use portcullis::clock::Clock;

use portcullis::config::ProxyHeader;

use crate::helpers::{PATIENCE, POLL, TestApp, TestDb, eventually_blocking, spawn_app_with};

const PROXY: &str = "127.0.0.1";

/// One token request per burst: the second from the same bucket is refused.
async fn app(trusted: bool, header: ProxyHeader) -> TestApp {
    spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.rate_limit.token_per_second = 1;
        c.rate_limit.token_burst = 1;
        c.proxy.header = header;
        c.proxy.trusted_proxies = if trusted {
            vec![PROXY.parse().unwrap()]
        } else {
            Vec::new()
        };
    })
    .await
}

/// The status of a /token request carrying `headers` (each pair one header line). The
/// limit is checked before client authentication, so an unauthenticated request is
/// enough: 401 when let through, 429 when limited.
async fn token(app: &TestApp, headers: &[(&str, &str)]) -> u16 {
    let mut req = app
        .http
        .post(format!("{}/token", app.public))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let status = req.send().await.unwrap().status().as_u16();
    assert!(status == 401 || status == 429, "{status}");
    status
}

#[tokio::test]
async fn clients_behind_a_trusted_proxy_are_counted_apart() {
    let app = app(true, ProxyHeader::XForwardedFor).await;
    let xff = |v| [("x-forwarded-for", v)];
    assert_eq!(token(&app, &xff("198.51.100.1")).await, 401);
    assert_eq!(token(&app, &xff("198.51.100.1")).await, 429);
    // Another client behind the same proxy has its own bucket...
    assert_eq!(token(&app, &xff("198.51.100.2")).await, 401);
    // ...and a spoofed entry on the left does not get the first one a new bucket: the
    // walk from the right stops at the first address the proxy did not vouch for.
    assert_eq!(token(&app, &xff("203.0.113.50, 198.51.100.1")).await, 429);
    // Several lines are one list: the last line's entry is the right-most.
    assert_eq!(
        token(
            &app,
            &[
                ("x-forwarded-for", "203.0.113.51"),
                ("x-forwarded-for", "198.51.100.1")
            ]
        )
        .await,
        429
    );
    // Garbage names nobody: counted as the proxy itself, never a fresh address.
    assert_eq!(token(&app, &xff("garbage")).await, 401);
    assert_eq!(token(&app, &xff("also garbage")).await, 429);
    assert_eq!(token(&app, &[]).await, 429, "the proxy's own bucket");
    assert!(!app.state.forwarding_warned.load(Ordering::Relaxed));
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let app = app(false, ProxyHeader::XForwardedFor).await;
    assert!(!app.state.forwarding_warned.load(Ordering::Relaxed));
    assert_eq!(
        token(&app, &[("x-forwarded-for", "198.51.100.1")]).await,
        401
    );
    // A different claimed address is the same peer, the same bucket.
    assert_eq!(
        token(&app, &[("x-forwarded-for", "198.51.100.2")]).await,
        429
    );
    assert_eq!(token(&app, &[("forwarded", "for=198.51.100.3")]).await, 429);
    assert!(app.state.forwarding_warned.load(Ordering::Relaxed));
}

#[tokio::test]
async fn ipv6_clients_share_a_bucket_per_64() {
    let app = app(true, ProxyHeader::XForwardedFor).await;
    let xff = |v| [("x-forwarded-for", v)];
    assert_eq!(token(&app, &xff("2001:db8:1:2::1")).await, 401);
    assert_eq!(token(&app, &xff("[2001:db8:1:2:ffff::9]:443")).await, 429);
    assert_eq!(token(&app, &xff("2001:db8:1:3::1")).await, 401, "next /64");
    // IPv4-mapped IPv6 is the IPv4 address.
    assert_eq!(token(&app, &xff("198.51.100.7")).await, 401);
    assert_eq!(token(&app, &xff("::ffff:198.51.100.7")).await, 429);
}

#[tokio::test]
async fn the_ipv6_prefix_is_a_setting() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.rate_limit.token_per_second = 1;
        c.rate_limit.token_burst = 1;
        c.proxy.trusted_proxies = vec![PROXY.parse().unwrap()];
        c.rate_limit.ipv6_prefix_len = 128;
    })
    .await;
    let xff = |v| [("x-forwarded-for", v)];
    assert_eq!(token(&app, &xff("2001:db8:1:2::1")).await, 401);
    assert_eq!(token(&app, &xff("2001:db8:1:2::2")).await, 401);
    assert_eq!(token(&app, &xff("2001:db8:1:2::1")).await, 429);
}

#[tokio::test]
async fn rfc_7239_forwarded_when_configured_and_only_then() {
    let app = app(true, ProxyHeader::Forwarded).await;
    let fwd = |v| [("forwarded", v)];
    assert_eq!(
        token(&app, &fwd("for=\"[2001:db8:cafe::17]:4711\";proto=https")).await,
        401
    );
    assert_eq!(token(&app, &fwd("For=\"[2001:db8:cafe::99]\"")).await, 429);
    assert_eq!(
        token(
            &app,
            &fwd("for=203.0.113.9, for=198.51.100.17;by=127.0.0.1")
        )
        .await,
        401
    );
    assert_eq!(token(&app, &fwd("for=198.51.100.17")).await, 429);
    // With Forwarded configured, X-Forwarded-For is the client's own text: ignored.
    assert_eq!(
        token(
            &app,
            &[
                ("x-forwarded-for", "198.51.100.200"),
                ("forwarded", "for=198.51.100.17")
            ]
        )
        .await,
        429
    );
    // unknown and obfuscated names count as the proxy.
    assert_eq!(token(&app, &fwd("for=unknown")).await, 401);
    assert_eq!(token(&app, &fwd("for=_hidden")).await, 429);
}

#[test]
fn settings_are_validated() {
    let load = crate::helpers::load_config;
    let c = load(&[]).unwrap();
    assert_eq!(c.rate_limit.ipv6_prefix_len, 64);
    assert_eq!(c.proxy.header, ProxyHeader::XForwardedFor);
    let c = load(&[
        ("PORTCULLIS_PROXY__HEADER", "forwarded"),
        ("PORTCULLIS_RATE_LIMIT__IPV6_PREFIX_LEN", "56"),
    ])
    .unwrap();
    assert_eq!(c.proxy.header, ProxyHeader::Forwarded);
    assert_eq!(c.rate_limit.ipv6_prefix_len, 56);
    for bad in ["31", "129"] {
        let err = load(&[("PORTCULLIS_RATE_LIMIT__IPV6_PREFIX_LEN", bad)])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("rate_limit.ipv6_prefix_len"), "{err}");
    }
    let err = load(&[("PORTCULLIS_PROXY__HEADER", "x-real-ip")])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("PORTCULLIS_PROXY__HEADER"), "{err}");
}

/// `serve` logs one warning, however many requests carry forwarding headers from a peer
/// that is not a trusted proxy, and names the setting to change.
#[test]
fn serve_warns_once_about_ignored_forwarding_headers() {
    use std::io::{Read, Write};
    let db = TestDb::new();
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (http, admin) = (free_port(), free_port());
    let mut child = crate::cli::base_command(&db)
        .env("PORTCULLIS_HTTP__BIND", format!("127.0.0.1:{http}"))
        .env("PORTCULLIS_ADMIN__BIND", format!("127.0.0.1:{admin}"))
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !crate::cli::base_command(&db)
        .env("PORTCULLIS_ADMIN__BIND", format!("127.0.0.1:{admin}"))
        .arg("healthcheck")
        .output()
        .unwrap()
        .status
        .success()
    {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server never became ready");
        }
        std::thread::sleep(POLL);
    }
    for header in [
        "X-Forwarded-For: 198.51.100.1",
        "X-Forwarded-For: 198.51.100.2",
        "Forwarded: for=198.51.100.3",
    ] {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", http)).unwrap();
        write!(
            conn,
            "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\n{header}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    eventually_blocking("the server to stop on SIGTERM", || {
        child.try_wait().unwrap()
    });
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert_eq!(
        logs.matches("not a trusted proxy").count(),
        1,
        "one warning: {logs}"
    );
    assert!(logs.contains("proxy.trusted_proxies"), "{logs}");
}

/// Password throttling counts the IPv6 network the proxy reports; the audit log keeps the
/// full address as evidence.
#[tokio::test]
async fn login_throttling_counts_the_network_and_audit_keeps_the_address() {
    use diesel::prelude::*;
    use portcullis::store::schema::{audit_events, login_failures};

    // The default /token rate limit: the point here is the password throttle.
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.proxy.trusted_proxies = vec![PROXY.parse().unwrap()];
    })
    .await;
    let secret = app
        .confidential_client("app")
        .grants(&["password"])
        .scope("api:read")
        .await
        .secret()
        .to_owned();
    app.user("frank").await;
    for from in ["2001:db8:1:2::5", "2001:db8:1:2::6"] {
        let status = app
            .http
            .post(format!("{}/token", app.public))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", from)
            .basic_auth("app", Some(&secret))
            .body("grant_type=password&username=frank&password=wrong")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 400);
        app.clock.set(app.clock.now() + 3600);
    }
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
    assert!(keys.contains(&"ip:2001:db8:1:2::".to_owned()), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains("::5")), "{keys:?}");
    assert!(
        details.iter().any(|d| d.contains("2001:db8:1:2::5")),
        "{details:?}"
    );
    assert!(
        details.iter().any(|d| d.contains("2001:db8:1:2::6")),
        "{details:?}"
    );
}
