//! Issue 19 item 4, what the request buckets leave open: pending authorization requests
//! are bounded per client network and in total, enforced by the insert itself so a
//! parallel burst cannot overshoot; failed client authentication is counted per address
//! apart from requests, before any secret is checked. Addresses come from a trusted proxy
//! header so one test process can speak as many clients.

use std::sync::Arc;

use diesel::prelude::*;
use portcullis::config::{Bucket, Config};
use portcullis::store::schema::authorization_requests;
use tokio::task::JoinSet;

use crate::helpers::{
    CALLBACK, TestApp, TestClient, TestDb, location, post_with_basic, query_param, spawn_app_with,
};

const PROXY: &str = "127.0.0.1";
const A: &str = "198.51.100.1";
const B: &str = "198.51.100.2";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const BURST: usize = 40;

/// Request buckets out of the way (this file is about the other two guards), a trusted
/// proxy, and `tweak` for the bounds under test.
async fn app(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.proxy.trusted_proxies = vec![PROXY.parse().unwrap()];
        c.rate_limit.token_per_second = 10_000;
        c.rate_limit.token_burst = 10_000;
        for bucket in c.rate_limit.endpoints.values_mut() {
            *bucket = Bucket {
                per_second: 10_000,
                burst: 10_000,
            };
        }
        tweak(c);
    })
    .await
}

async fn rp(app: &TestApp) -> TestClient {
    app.confidential_client("rp")
        .grants(&["authorization_code"])
        .redirect_uris(&[CALLBACK])
        .scope("openid")
        .await
}

/// How one /authorize ended: its request stored (on to the login page), or refused back
/// to the client.
#[derive(Debug, PartialEq, Eq)]
enum Begun {
    Stored,
    Refused,
}

async fn authorize(app: &TestApp, from: &str, state: &str) -> Begun {
    let url = app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", "rp"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid"),
        ("state", state),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let r = app
        .http
        .get(&url)
        .header("x-forwarded-for", from)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "from {from}: never a 5xx or a page");
    let to = location(&r);
    if to.starts_with(CALLBACK) {
        // RFC 6749 4.1.2.1 and RFC 9207: the error, the client's state, our issuer.
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some("temporarily_unavailable"),
            "{to}"
        );
        assert_eq!(query_param(&to, "state").as_deref(), Some(state), "{to}");
        assert_eq!(
            query_param(&to, "iss").as_deref(),
            Some(app.state.config.issuer.as_str()),
            "{to}"
        );
        Begun::Refused
    } else {
        assert!(to.contains("/login"), "{to}");
        Begun::Stored
    }
}

/// `count` parallel /authorize requests, each from `from(i)`.
async fn burst(app: &Arc<TestApp>, count: usize, from: impl Fn(usize) -> String) -> Vec<Begun> {
    let mut set = JoinSet::new();
    for i in 0..count {
        let (app, from) = (Arc::clone(app), from(i));
        set.spawn(async move { authorize(&app, &from, &format!("s{i}")).await });
    }
    set.join_all().await
}

/// Live pending requests stored for `key` (all of them when None).
async fn pending(app: &TestApp, key: Option<&str>) -> i64 {
    let key = key.map(str::to_owned);
    app.state
        .store
        .run(move |conn| {
            Ok(match key {
                Some(key) => authorization_requests::table
                    .filter(authorization_requests::client_key.eq(key))
                    .count()
                    .get_result(conn)?,
                None => authorization_requests::table.count().get_result(conn)?,
            })
        })
        .await
        .unwrap()
}

fn counter(metrics: &str, name: &str, label: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{{label}}}")))
        .map_or(0, |l| l.rsplit(' ').next().unwrap().parse().unwrap())
}

#[tokio::test]
async fn parallel_authorize_requests_from_one_address_stay_within_its_bound() {
    let app = app(|c| {
        c.authorize.max_pending_per_address = 5;
        c.authorize.max_pending_total = 1_000;
    })
    .await;
    let app = Arc::new(app);
    rp(&app).await;
    let answers = burst(&app, BURST, |_| A.to_owned()).await;
    let stored = answers.iter().filter(|b| **b == Begun::Stored).count();
    assert_eq!(stored, 5, "{answers:?}");
    assert_eq!(pending(&app, Some(A)).await, 5);
    // Another address is served.
    assert_eq!(authorize(&app, B, "b").await, Begun::Stored);
    assert_eq!(pending(&app, Some(B)).await, 1);
    let metrics = app.get_admin("/metrics").await.text().await.unwrap();
    assert_eq!(
        counter(
            &metrics,
            "portcullis_authorization_requests_refused_total",
            "bound=\"per_address\""
        ),
        u64::try_from(BURST - 5).unwrap()
    );
}

#[tokio::test]
async fn the_total_bound_holds_across_addresses() {
    let app = app(|c| {
        c.authorize.max_pending_per_address = 5;
        c.authorize.max_pending_total = 10;
    })
    .await;
    let app = Arc::new(app);
    rp(&app).await;
    let answers = burst(&app, BURST, |i| format!("203.0.113.{i}")).await;
    let stored = answers.iter().filter(|b| **b == Begun::Stored).count();
    assert_eq!(stored, 10, "{answers:?}");
    assert_eq!(pending(&app, None).await, 10);
    let metrics = app.get_admin("/metrics").await.text().await.unwrap();
    assert_eq!(
        counter(
            &metrics,
            "portcullis_authorization_requests_refused_total",
            "bound=\"total\""
        ),
        u64::try_from(BURST - 10).unwrap()
    );
}

#[tokio::test]
async fn expired_pending_requests_do_not_count() {
    let app = app(|c| {
        c.authorize.max_pending_per_address = 2;
    })
    .await;
    rp(&app).await;
    assert_eq!(authorize(&app, A, "1").await, Begun::Stored);
    assert_eq!(authorize(&app, A, "2").await, Begun::Stored);
    assert_eq!(authorize(&app, A, "3").await, Begun::Refused);
    // A request waits 600 s for its user; after that its row is the janitor's.
    app.clock.advance(601);
    assert_eq!(authorize(&app, A, "4").await, Begun::Stored);
}

#[test]
fn pending_bounds_are_settings() {
    let load = crate::helpers::load_config;
    let c = load(&[]).unwrap();
    assert_eq!(c.authorize.max_pending_per_address, 50);
    assert_eq!(c.authorize.max_pending_total, 100_000);
    assert_eq!(
        c.rate_limit.client_auth_failures,
        Bucket {
            per_second: 1,
            burst: 20
        }
    );
    let c = load(&[
        ("PORTCULLIS_AUTHORIZE__MAX_PENDING_PER_ADDRESS", "7"),
        ("PORTCULLIS_AUTHORIZE__MAX_PENDING_TOTAL", "70"),
        ("PORTCULLIS_RATE_LIMIT__CLIENT_AUTH_FAILURES__BURST", "9"),
    ])
    .unwrap();
    assert_eq!(c.authorize.max_pending_per_address, 7);
    assert_eq!(c.authorize.max_pending_total, 70);
    assert_eq!(c.rate_limit.client_auth_failures.burst, 9);
    // No off switch for the bounds; a per-address bound above the total is a mistake.
    assert!(load(&[("PORTCULLIS_AUTHORIZE__MAX_PENDING_TOTAL", "0")]).is_err());
    assert!(load(&[("PORTCULLIS_AUTHORIZE__MAX_PENDING_PER_ADDRESS", "0")]).is_err());
    assert!(
        load(&[
            ("PORTCULLIS_AUTHORIZE__MAX_PENDING_PER_ADDRESS", "11"),
            ("PORTCULLIS_AUTHORIZE__MAX_PENDING_TOTAL", "10"),
        ])
        .is_err()
    );
    assert!(load(&[("PORTCULLIS_RATE_LIMIT__CLIENT_AUTH_FAILURES__BURST", "0")]).is_err());
}

/// POST `route` from `from` with Basic credentials.
async fn with_secret(
    app: &TestApp,
    route: &str,
    form: &[(&str, &str)],
    (id, secret): (&str, &str),
    from: &str,
) -> reqwest::Response {
    app.http
        .post(app.url(route))
        .basic_auth(id, Some(secret))
        .header("x-forwarded-for", from)
        .form(form)
        .send()
        .await
        .unwrap()
}

const ENDPOINTS: [(&str, &[(&str, &str)]); 3] = [
    ("/token", &[("grant_type", "client_credentials")]),
    ("/introspect", &[("token", "not-a-token")]),
    ("/revoke", &[("token", "not-a-token")]),
];

#[tokio::test]
async fn failed_client_authentication_is_counted_apart_per_address() {
    let app = app(|c| {
        c.rate_limit.client_auth_failures = Bucket {
            per_second: 1,
            burst: 3,
        };
    })
    .await;
    let svc = app
        .confidential_client("svc")
        .grants(&["client_credentials"])
        .roles(&["introspector"])
        .await;
    // Successes never fill the bucket.
    for _ in 0..5 {
        for (route, form) in ENDPOINTS {
            let r = with_secret(&app, route, form, svc.basic(), A).await;
            assert_eq!(r.status(), 200, "{route}");
        }
    }
    // Three failures, on any of the three endpoints, fill it.
    for (route, form) in ENDPOINTS {
        let r = with_secret(&app, route, form, ("svc", "wrong"), A).await;
        assert_eq!(r.status(), 401, "{route}");
    }
    // Then every endpoint refuses A before looking at the secret, even the right one.
    for (route, form) in ENDPOINTS {
        let r = with_secret(&app, route, form, svc.basic(), A).await;
        assert_eq!(r.status(), 429, "{route}");
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable", "{route}");
    }
    // Another address authenticates.
    let r = post_with_basic(&app, "/introspect", &[("token", "x")], svc.basic()).await;
    assert_eq!(r.status(), 200);
    let r = with_secret(&app, "/token", ENDPOINTS[0].1, svc.basic(), B).await;
    assert_eq!(r.status(), 200);
    let metrics = app.get_admin("/metrics").await.text().await.unwrap();
    assert!(
        counter(
            &metrics,
            "portcullis_rate_limited_total",
            "endpoint=\"client_auth_failures\""
        ) >= 3
    );
}

#[tokio::test]
async fn parallel_successes_never_fill_the_bucket_and_a_full_one_checks_nothing() {
    let app = app(|c| {
        c.rate_limit.client_auth_failures = Bucket {
            per_second: 1,
            burst: 3,
        };
    })
    .await;
    let svc = app
        .confidential_client("svc")
        .grants(&["client_credentials"])
        .await;
    let app = Arc::new(app);
    let parallel = async |secret: &str| {
        let mut set = JoinSet::new();
        for _ in 0..BURST {
            let (app, secret) = (Arc::clone(&app), secret.to_owned());
            set.spawn(async move {
                with_secret(&app, "/token", ENDPOINTS[0].1, ("svc", &secret), A)
                    .await
                    .status()
                    .as_u16()
            });
        }
        set.join_all().await
    };
    // A busy client's parallel requests: all served, however many at once.
    let statuses = parallel(svc.secret()).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // Three failures fill the bucket; then a parallel burst, right secret or not, is
    // refused before any secret is compared.
    for _ in 0..3 {
        let r = with_secret(&app, "/token", ENDPOINTS[0].1, ("svc", "wrong"), A).await;
        assert_eq!(r.status(), 401);
    }
    let statuses = parallel(svc.secret()).await;
    assert!(statuses.iter().all(|s| *s == 429), "{statuses:?}");
    let statuses = parallel("guess").await;
    assert!(statuses.iter().all(|s| *s == 429), "{statuses:?}");
}
