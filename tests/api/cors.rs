//! CORS on the endpoints a browser app calls, and nowhere else (`http::cors`;
//! docs/security.md, "Cross-origin requests"). A browser enforces what these headers say;
//! here we check what the server says. `tests/browser/spa_cors.py` shows a real browser
//! acting on it.

use std::sync::Arc;
use std::time::Duration;

use portcullis::manage::Actor;
use portcullis::manage::clients::ClientUpdate;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::helpers::{
    CALLBACK, TestApp, TestDb, access_token, eventually, spawn_app, spawn_app_under, spawn_app_with,
};

/// The single-page app's origin, and its redirect URI there.
const SPA: &str = "https://spa.example.com";
const SPA_CALLBACK: &str = "https://spa.example.com/callback";
const CHALLENGE: &str = "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0bZ2P5YQnE-1pKHrCDN1VlhFb13c";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

fn allow_origin(headers: &HeaderMap) -> Option<&str> {
    header(headers, "access-control-allow-origin")
}

/// Whether `Vary` (all its lines) names `Origin`.
fn varies_by_origin(headers: &HeaderMap) -> bool {
    headers
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("origin"))
}

/// Never, on any answer of either listener.
fn assert_no_credentials(headers: &HeaderMap, what: &str) {
    assert_eq!(
        header(headers, "access-control-allow-credentials"),
        None,
        "{what}"
    );
}

/// No CORS header at all.
fn assert_closed(headers: &HeaderMap, what: &str) {
    for (name, _) in headers {
        assert!(
            !name.as_str().starts_with("access-control-"),
            "{what} sent {name}"
        );
    }
}

/// An allowed origin's answer: named, varying by origin, with the headers an app reads.
fn assert_open_to(headers: &HeaderMap, origin: &str, what: &str) {
    assert_eq!(allow_origin(headers), Some(origin), "{what}");
    assert!(varies_by_origin(headers), "{what}: no Vary: Origin");
    let exposed = header(headers, "access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("www-authenticate"), "{what}: {exposed}");
    assert_no_credentials(headers, what);
}

async fn send(
    app: &TestApp,
    method: Method,
    url: &str,
    origin: Option<&str>,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> reqwest::Response {
    let mut req = app.http.request(method, url);
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    build(req).send().await.unwrap()
}

/// A browser's preflight for `method` with an `Authorization` header.
async fn preflight(app: &TestApp, url: &str, origin: &str, method: &str) -> reqwest::Response {
    send(app, Method::OPTIONS, url, Some(origin), |r| {
        r.header("access-control-request-method", method).header(
            "access-control-request-headers",
            "authorization,content-type",
        )
    })
    .await
}

/// A public client registered for the SPA, as an app would be.
async fn spa_client(app: &TestApp) {
    app.public_client("spa")
        .redirect_uris(&[SPA_CALLBACK])
        .scopes(&["openid", "profile", "email"])
        .await;
}

/// A code for `spa`, from a sign-in through the pages (PKCE S256).
async fn spa_code(app: &TestApp, username: &str) -> String {
    let user = app.user(username).with_profile().await;
    let auth = app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", "spa"),
        ("redirect_uri", SPA_CALLBACK),
        ("scope", "openid profile email"),
        ("state", "s1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let browser = app.browser();
    app.login(&browser, &auth, &user).await.code()
}

/// The SPA's token exchange, sent from `origin`.
async fn redeem(app: &TestApp, code: &str, origin: Option<&str>) -> reqwest::Response {
    send(app, Method::POST, &app.url("/token"), origin, |r| {
        r.form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", SPA_CALLBACK),
            ("client_id", "spa"),
            ("code_verifier", VERIFIER),
        ])
    })
    .await
}

#[tokio::test]
async fn an_origin_of_a_registered_redirect_uri_may_call_token_userinfo_and_revoke() {
    let app = spawn_app().await;
    spa_client(&app).await;
    let code = spa_code(&app, "sam").await;

    let r = redeem(&app, &code, Some(SPA)).await;
    assert_eq!(r.status(), 200);
    assert_open_to(r.headers(), SPA, "/token");
    let tokens: Value = r.json().await.unwrap();
    let bearer = format!("Bearer {}", access_token(&tokens));

    for method in [Method::GET, Method::POST] {
        let r = send(
            &app,
            method.clone(),
            &app.url("/userinfo"),
            Some(SPA),
            |r| r.header("authorization", &bearer),
        )
        .await;
        assert_eq!(r.status(), 200, "{method} /userinfo");
        assert_open_to(r.headers(), SPA, "/userinfo");
        let claims: Value = r.json().await.unwrap();
        assert_eq!(claims["preferred_username"], "sam");
    }

    let r = send(&app, Method::POST, &app.url("/revoke"), Some(SPA), |r| {
        r.form(&[
            ("token", access_token(&tokens).as_str()),
            ("client_id", "spa"),
        ])
    })
    .await;
    assert_eq!(r.status(), 200);
    assert_open_to(r.headers(), SPA, "/revoke");
}

#[tokio::test]
async fn origins_in_cors_allowed_origins_are_allowed_too() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.cors = portcullis::config::CorsConfig::new(vec!["https://console.example.net".into()])
            .unwrap();
    })
    .await;
    let api = app
        .confidential_client("api")
        .grants(&["client_credentials"])
        .scope("read")
        .await;
    let r = send(
        &app,
        Method::POST,
        &app.url("/token"),
        Some("https://console.example.net"),
        |r| {
            r.basic_auth(&api.id, Some(api.secret()))
                .form(&[("grant_type", "client_credentials")])
        },
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_open_to(r.headers(), "https://console.example.net", "/token");
    let r = preflight(
        &app,
        &app.url("/userinfo"),
        "https://console.example.net",
        "GET",
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_open_to(r.headers(), "https://console.example.net", "preflight");
}

#[tokio::test]
async fn any_other_origin_gets_no_cors_headers() {
    let app = spawn_app().await;
    spa_client(&app).await;
    // A registered client without a web origin adds none.
    app.public_client("native")
        .redirect_uris(&["com.example.native:/callback", "http://127.0.0.1/callback"])
        .await;
    let api = app
        .confidential_client("api")
        .grants(&["client_credentials"])
        .scope("read")
        .await;
    for stranger in [
        "https://evil.example",
        // Look-alikes of the registered origin: another scheme, port, host or spelling.
        "http://spa.example.com",
        "https://spa.example.com:8443",
        "https://spa.example.com.evil.example",
        "https://evil.spa.example.com",
        "https://SPA.example.com",
        "https://spa.example.com/",
        "null",
        "com.example.native:",
        // The loopback port of a native app's redirect URI may vary at /authorize; an
        // origin is compared as registered.
        "http://127.0.0.1:8080",
    ] {
        let r = send(
            &app,
            Method::POST,
            &app.url("/token"),
            Some(stranger),
            |r| {
                r.basic_auth(&api.id, Some(api.secret()))
                    .form(&[("grant_type", "client_credentials")])
            },
        )
        .await;
        // The server still answers; the browser withholds the answer from the page.
        assert_eq!(r.status(), 200, "{stranger}");
        assert_closed(r.headers(), stranger);
        assert!(varies_by_origin(r.headers()), "{stranger}: no Vary: Origin");

        let r = preflight(&app, &app.url("/userinfo"), stranger, "GET").await;
        assert_eq!(r.status(), 403, "preflight from {stranger}");
        assert_closed(r.headers(), stranger);
    }
    // The registered loopback origin itself is allowed (port as registered: none).
    let r = preflight(&app, &app.url("/token"), "http://127.0.0.1", "POST").await;
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn preflights_are_answered_with_methods_headers_and_max_age() {
    let app = spawn_app().await;
    spa_client(&app).await;
    for (path, method, allowed) in [
        ("/token", "POST", "POST"),
        ("/userinfo", "GET", "GET, POST"),
        ("/revoke", "POST", "POST"),
        ("/register", "POST", "POST"),
        ("/register/some-client", "PUT", "GET, PUT, DELETE"),
    ] {
        let r = preflight(&app, &app.url(path), SPA, method).await;
        assert_eq!(r.status(), 204, "{path}");
        let h = r.headers();
        assert_open_to(h, SPA, path);
        assert_eq!(
            header(h, "access-control-allow-methods"),
            Some(allowed),
            "{path}"
        );
        let headers = header(h, "access-control-allow-headers").unwrap_or_default();
        assert!(headers.contains("authorization"), "{path}: {headers}");
        assert!(headers.contains("content-type"), "{path}: {headers}");
        assert_eq!(header(h, "access-control-max-age"), Some("600"), "{path}");
    }
    // An OPTIONS that is not a preflight (no Access-Control-Request-Method) is not
    // answered as one.
    let r = send(&app, Method::OPTIONS, &app.url("/token"), Some(SPA), |r| r).await;
    assert_ne!(r.status(), 204);
    assert_ne!(r.status(), 403);
}

#[tokio::test]
async fn discovery_and_keys_answer_any_origin() {
    let app = spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/jwks.json",
        "/.well-known/jwks.json",
    ] {
        for origin in [None, Some("https://anyone.example"), Some(SPA)] {
            let r = send(&app, Method::GET, &app.url(path), origin, |r| r).await;
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(allow_origin(r.headers()), Some("*"), "{path} {origin:?}");
            assert_no_credentials(r.headers(), path);
        }
        let r = preflight(&app, &app.url(path), "https://anyone.example", "GET").await;
        assert_eq!(r.status(), 204, "{path}");
        assert_eq!(allow_origin(r.headers()), Some("*"));
        assert_eq!(
            header(r.headers(), "access-control-allow-methods"),
            Some("GET")
        );
    }
    // A revalidation's 304 too: it comes from the same fetch.
    let r = app.http.get(app.url("/jwks.json")).send().await.unwrap();
    let etag = header(r.headers(), "etag").unwrap().to_owned();
    let r = send(&app, Method::GET, &app.url("/jwks.json"), Some(SPA), |r| {
        r.header("if-none-match", etag)
    })
    .await;
    assert_eq!(r.status(), 304);
    assert_eq!(allow_origin(r.headers()), Some("*"));
}

#[tokio::test]
async fn no_cors_on_authorize_the_pages_introspection_or_the_admin_listener() {
    let app = spawn_app().await;
    spa_client(&app).await;
    let authorize = app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", "spa"),
        ("redirect_uri", SPA_CALLBACK),
        ("scope", "openid"),
        ("state", "s1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let public = [
        (Method::GET, authorize.clone()),
        (Method::POST, app.url("/authorize")),
        (Method::GET, app.url("/login")),
        (Method::POST, app.url("/login")),
        (Method::GET, app.url("/consent")),
        (Method::GET, app.url("/select_account")),
        (Method::GET, app.url("/logout")),
        (Method::GET, app.url("/account")),
        (Method::GET, app.url("/account/security")),
        (Method::POST, app.url("/introspect")),
        (Method::GET, app.url("/static/portcullis.css")),
        (Method::GET, app.url("/health/live")),
        (Method::GET, app.url("/no-such-page")),
    ];
    let admin = [
        (Method::GET, format!("{}/health/ready", app.admin)),
        (Method::GET, format!("{}/metrics", app.admin)),
        (Method::GET, format!("{}/admin/v1/clients", app.admin)),
        (Method::GET, format!("{}/admin/openapi.json", app.admin)),
    ];
    for (method, url) in public.iter().chain(admin.iter()) {
        // The SPA's own origin, which /token would allow.
        let r = send(&app, method.clone(), url, Some(SPA), |r| r).await;
        assert_closed(r.headers(), url);
        assert!(!varies_by_origin(r.headers()), "{url}");
        let r = preflight(&app, url, SPA, method.as_str()).await;
        assert_ne!(r.status(), 204, "preflight {url}");
        assert_closed(r.headers(), url);
    }
}

#[tokio::test]
async fn errors_carry_the_cors_headers_so_the_app_can_read_them() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.rate_limit.token_per_second = 1;
        c.rate_limit.token_burst = 2;
    })
    .await;
    spa_client(&app).await;

    // 400: a code that does not exist.
    let r = redeem(&app, "not-a-code", Some(SPA)).await;
    assert_eq!(r.status(), 400);
    assert_open_to(r.headers(), SPA, "invalid_grant");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // 401 with WWW-Authenticate: a client that authenticated with a wrong secret.
    let r = send(&app, Method::POST, &app.url("/token"), Some(SPA), |r| {
        r.basic_auth("spa", Some("wrong"))
            .form(&[("grant_type", "client_credentials")])
    })
    .await;
    assert_eq!(r.status(), 401);
    assert_open_to(r.headers(), SPA, "invalid_client");
    assert!(header(r.headers(), "www-authenticate").is_some());

    // 429 from the rate limit (one request a second, two at once), with Retry-After
    // exposed.
    let mut r = redeem(&app, "not-a-code", Some(SPA)).await;
    for _ in 0..10 {
        if r.status() == 429 {
            break;
        }
        r = redeem(&app, "not-a-code", Some(SPA)).await;
    }
    assert_eq!(r.status(), 429);
    assert_open_to(r.headers(), SPA, "429");
    assert!(
        header(r.headers(), "access-control-expose-headers")
            .unwrap()
            .contains("retry-after")
    );

    // 401 at /userinfo: no token, then a forged one.
    for authorization in [None, Some("Bearer forged")] {
        let r = send(
            &app,
            Method::GET,
            &app.url("/userinfo"),
            Some(SPA),
            |r| match authorization {
                Some(a) => r.header("authorization", a),
                None => r,
            },
        )
        .await;
        assert_eq!(r.status(), 401, "{authorization:?}");
        assert_open_to(r.headers(), SPA, "/userinfo 401");
        assert!(header(r.headers(), "www-authenticate").is_some());
    }

    // 400 at /revoke: no token.
    let r = send(&app, Method::POST, &app.url("/revoke"), Some(SPA), |r| {
        r.form(&[("client_id", "spa")])
    })
    .await;
    assert_eq!(r.status(), 400);
    assert_open_to(r.headers(), SPA, "/revoke 400");

    // The same errors for another origin: still no CORS headers.
    let r = redeem(&app, "not-a-code", Some("https://evil.example")).await;
    assert!(r.status().is_client_error());
    assert_closed(r.headers(), "evil.example");
}

#[tokio::test]
async fn a_new_clients_origin_is_allowed_at_once_and_a_removed_one_is_not() {
    let app = spawn_app().await;
    let origin = "https://new.example.org";
    let allowed = || async {
        let r = preflight(&app, &app.url("/token"), origin, "POST").await;
        r.status() == 204 && allow_origin(r.headers()) == Some(origin)
    };
    assert!(!allowed().await, "before any client names it");

    app.public_client("new")
        .redirect_uris(&["https://new.example.org/cb"])
        .await;
    assert!(allowed().await, "after the client was created");

    let update = |change: ClientUpdate| {
        let state = app.state.clone();
        async move {
            state
                .service
                .update_client(&Actor::cli(), "new", change)
                .await
                .unwrap();
        }
    };
    update(ClientUpdate {
        redirect_uris: Some(vec!["https://elsewhere.example.org/cb".into()]),
        ..ClientUpdate::default()
    })
    .await;
    assert!(!allowed().await, "after its redirect URI moved");

    update(ClientUpdate {
        redirect_uris: Some(vec!["https://new.example.org/cb".into()]),
        ..ClientUpdate::default()
    })
    .await;
    assert!(allowed().await, "after it came back");
    update(ClientUpdate {
        disabled: Some(true),
        ..ClientUpdate::default()
    })
    .await;
    assert!(!allowed().await, "while the client is disabled");
    update(ClientUpdate {
        disabled: Some(false),
        ..ClientUpdate::default()
    })
    .await;
    assert!(allowed().await, "enabled again");

    app.state
        .service
        .delete_client(&Actor::cli(), "new")
        .await
        .unwrap();
    assert!(!allowed().await, "after the client was deleted");
}

#[tokio::test]
async fn a_client_created_by_another_replica_is_allowed_within_the_client_cache_time() {
    let db = Arc::new(TestDb::new());
    let app = spawn_app_with(db.clone(), |c| {
        c.tokens.client_cache = Duration::from_secs(1);
    })
    .await;
    let other = spawn_app_with(db, |_| {}).await;
    let origin = "https://elsewhere.example.org";
    let allowed = || async {
        let r = preflight(&app, &app.url("/token"), origin, "POST").await;
        r.status() == 204
    };
    assert!(!allowed().await);
    other
        .public_client("made-elsewhere")
        .redirect_uris(&["https://elsewhere.example.org/cb"])
        .await;
    eventually("the other replica's client to count here", async || {
        allowed().await.then_some(())
    })
    .await;
}

#[tokio::test]
async fn checking_origins_does_not_query_the_database_per_request() {
    // Only the requests' own work is counted: no lease renewals (Postgres), no janitor
    // round beside them (its first runs at start-up, awaited below), and a snapshot that
    // cannot expire mid-loop.
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.tokens.replica_lease = Duration::ZERO;
        c.janitor.interval = Duration::from_secs(3600);
        c.tokens.client_cache = Duration::from_secs(600);
    })
    .await;
    let janitor = &app.state.metrics.janitor_runs;
    eventually("the janitor's first round", async || {
        let runs: u64 = ["purged", "skipped", "failed"]
            .iter()
            .map(|o| janitor.with_label_values(&[o]).get())
            .sum();
        (runs > 0).then_some(())
    })
    .await;
    spa_client(&app).await;
    // The first question reads the clients, once.
    let before = app.state.store.round_trips();
    let r = preflight(&app, &app.url("/token"), SPA, "POST").await;
    assert_eq!(r.status(), 204);
    assert_eq!(app.state.store.round_trips() - before, 1);
    let before = app.state.store.round_trips();
    for n in 0..50 {
        let made_up = format!("https://made-up-{n}.example");
        let r = preflight(&app, &app.url("/token"), &made_up, "POST").await;
        assert_eq!(r.status(), 403);
        let r = preflight(&app, &app.url("/userinfo"), SPA, "GET").await;
        assert_eq!(r.status(), 204);
    }
    let spent = app.state.store.round_trips() - before;
    assert_eq!(spent, 0, "{spent} round trips for 100 origin checks");
}

#[tokio::test]
async fn under_an_issuer_path() {
    let app = spawn_app_under("/auth").await;
    app.confidential_client("web")
        .redirect_uris(&[CALLBACK])
        .await;
    let origin = "https://rp.example.com";
    let r = preflight(&app, &app.url("/token"), origin, "POST").await;
    assert_eq!(r.status(), 204);
    assert_open_to(r.headers(), origin, "/auth/token");
    let r = send(
        &app,
        Method::GET,
        &format!("{}/.well-known/oauth-authorization-server/auth", app.public),
        Some(origin),
        |r| r,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(allow_origin(r.headers()), Some("*"));
    let r = send(
        &app,
        Method::GET,
        &app.url("/authorize"),
        Some(origin),
        |r| r,
    )
    .await;
    assert_closed(r.headers(), "/auth/authorize");
}
