//! Rate limits on every public endpoint (issue 19 item 4): each endpoint has its own
//! per-address bucket; past its burst one address gets 429 with `Retry-After` while another
//! address is served; every route the public listener registers is walked, so a route that
//! escaped the limit middleware fails here; refusals are counted by endpoint in /metrics.

use std::sync::Arc;

use portcullis::config::{Bucket, ENDPOINT_BUCKETS};

use crate::helpers::{TestApp, TestDb, spawn_app_with};

const PROXY: &str = "127.0.0.1";
const A: &str = "198.51.100.1";
const B: &str = "198.51.100.2";

/// Every bucket one request per second with a burst of one; addresses come from the
/// trusted proxy header so one test process can speak as several clients.
async fn app(tweak: impl FnOnce(&mut portcullis::config::Config)) -> TestApp {
    spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.rate_limit.token_per_second = 1;
        c.rate_limit.token_burst = 1;
        for bucket in c.rate_limit.endpoints.values_mut() {
            *bucket = Bucket {
                per_second: 1,
                burst: 1,
            };
        }
        c.proxy.trusted_proxies = vec![PROXY.parse().unwrap()];
        tweak(c);
    })
    .await
}

async fn send(app: &TestApp, method: &str, url: &str, from: &str) -> reqwest::Response {
    let req = if method == "POST" {
        app.http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
    } else {
        app.http.get(url)
    };
    req.header("x-forwarded-for", from)
        .send()
        .await
        .expect("request")
}

/// Sends from `A` until refused (the burst is one, so at most a few requests even when the
/// bucket refills between them on a slow machine), checks the refusal, then checks that
/// `B` is still served.
async fn refused_after_burst(app: &TestApp, method: &str, url: &str) -> reqwest::Response {
    refused_after_burst_from(app, method, url, A, B).await
}

async fn refused_after_burst_from(
    app: &TestApp,
    method: &str,
    url: &str,
    a: &str,
    b: &str,
) -> reqwest::Response {
    let mut refused = None;
    for _ in 0..4 {
        let r = send(app, method, url, a).await;
        if r.status() == 429 {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.unwrap_or_else(|| panic!("{method} {url}: never refused"));
    let retry: u64 = refused
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("{method} {url}: no Retry-After"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1, "{method} {url}: Retry-After {retry}");
    let other = send(app, method, url, b).await;
    assert_ne!(
        other.status(),
        429,
        "{method} {url}: another address shares the bucket"
    );
    refused
}

/// The public routes as registered in `src/http/routes.rs`: (method, path). Read from the
/// source so a route added there is walked here without anyone remembering to.
fn registered_routes() -> Vec<(String, String)> {
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/routes.rs"),
    )
    .unwrap();
    let public = source
        .split("pub fn admin")
        .next()
        .expect("public part of routes.rs");
    let compact: String = public.split_whitespace().collect();
    // `web::resource("/p").route(web::post()...)` registers a route too: read it as one.
    let compact = compact
        .replace("web::resource(\"", ".route(\"")
        .replace("\").route(web::", "\",web::");
    let mut routes = Vec::new();
    for piece in compact.split(".route(\"").skip(1) {
        let (path, rest) = piece.split_once('"').unwrap();
        let method = if rest.starts_with(",web::post()") {
            "POST"
        } else {
            assert!(rest.starts_with(",web::get()"), "{path}: {rest}");
            "GET"
        };
        routes.push((method.to_owned(), path.to_owned()));
    }
    assert!(
        routes.iter().any(|(m, p)| m == "POST" && p == "/token"),
        "{routes:?}"
    );
    assert!(routes.len() >= 15, "parsed only {routes:?}");
    routes
}

#[tokio::test]
async fn every_public_route_has_a_bucket() {
    let app = app(|_| {}).await;
    let mut routes = registered_routes();
    routes.push((
        "GET".into(),
        "/.well-known/oauth-authorization-server".into(),
    ));
    let mut seen_paths = std::collections::HashSet::new();
    for (i, (method, path)) in routes.iter().enumerate() {
        // A fresh pair of addresses per path: several paths share the `other` bucket.
        let (a, b) = (
            format!("203.0.113.{}", 2 * i),
            format!("203.0.113.{}", 2 * i + 1),
        );
        // GET and POST of one path share their bucket: a fresh app would be needed to
        // walk the second, and the bucket is chosen by path alone.
        if !seen_paths.insert(path.clone()) {
            continue;
        }
        let url = if path.starts_with("/.well-known/oauth-authorization-server") {
            format!("{}{path}", app.public)
        } else {
            app.url(path)
        };
        refused_after_burst_from(&app, method, &url, &a, &b).await;
    }
}

#[tokio::test]
async fn each_endpoint_answers_429_with_its_own_bucket() {
    let named = [
        ("GET", "/authorize", "authorize", true),
        ("POST", "/login", "login", true),
        ("POST", "/consent", "consent", true),
        ("POST", "/select_account", "select_account", true),
        ("POST", "/logout", "logout", true),
        ("GET", "/userinfo", "userinfo", false),
        ("POST", "/introspect", "introspect", false),
        ("POST", "/revoke", "revoke", false),
        ("POST", "/token", "token", false),
    ];
    let app = app(|_| {}).await;
    for (method, path, bucket, browser) in named {
        // Buckets are separate: each endpoint's first request from A is served although
        // every earlier endpoint's bucket for A is empty.
        let first = send(&app, method, &app.url(path), A).await;
        assert_ne!(first.status(), 429, "{path} shares a bucket");
        let refused = refused_after_burst(&app, method, &app.url(path)).await;
        let content_type = refused
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            refused.headers().get("cache-control").unwrap(),
            "no-store",
            "{path}"
        );
        if browser {
            assert!(
                content_type.starts_with("text/html"),
                "{path}: {content_type}"
            );
        } else {
            let body: serde_json::Value = refused.json().await.unwrap();
            assert_eq!(body["error"], "temporarily_unavailable", "{path}");
        }
        let metrics = app.get_admin("/metrics").await.text().await.unwrap();
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "portcullis_rate_limited_total{{endpoint=\"{bucket}\"}}"
                ))
            })
            .unwrap_or_else(|| panic!("no counter for {bucket}"));
        let count: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(count >= 1, "{line}");
    }
}

#[tokio::test]
async fn a_bucket_at_zero_is_off() {
    let app = app(|c| {
        c.rate_limit.endpoints.insert(
            "authorize",
            Bucket {
                per_second: 0,
                burst: 0,
            },
        );
    })
    .await;
    for _ in 0..5 {
        let r = send(&app, "GET", &app.url("/authorize"), A).await;
        assert_ne!(r.status(), 429);
    }
}

#[tokio::test]
async fn defaults_give_every_endpoint_a_generous_bucket() {
    let app = crate::helpers::spawn_app().await;
    let limits = &app.state.config.rate_limit;
    for name in ENDPOINT_BUCKETS {
        if *name == "token" {
            assert!(limits.token_per_second >= 100);
            continue;
        }
        let b = limits.endpoints[name];
        if *name == "register" {
            // Deliberately tight: each registration is a row, and a client registers
            // once per installation.
            assert!(b.per_second >= 1 && b.burst >= 10, "{name}: {b:?}");
            continue;
        }
        assert!(b.per_second >= 50 && b.burst >= 200, "{name}: {b:?}");
    }
    assert_eq!(limits.endpoints.len() + 1, ENDPOINT_BUCKETS.len());
}

#[test]
fn buckets_are_settings_by_name() {
    let load = crate::helpers::load_config;
    // One key set keeps the other's default.
    let c = load(&[(
        "PORTCULLIS_RATE_LIMIT__ENDPOINTS__AUTHORIZE__PER_SECOND",
        "7",
    )])
    .unwrap();
    assert_eq!(
        c.rate_limit.endpoints["authorize"],
        Bucket {
            per_second: 7,
            burst: 200
        }
    );
    // A burst of 0 with the bucket on is refused; a misspelt endpoint is refused.
    assert!(load(&[("PORTCULLIS_RATE_LIMIT__ENDPOINTS__LOGIN__BURST", "0")]).is_err());
    assert!(load(&[("PORTCULLIS_RATE_LIMIT__ENDPOINTS__LOGN__BURST", "5")]).is_err());
}
