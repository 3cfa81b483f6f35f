//! Issue 18 item 3: registered redirect and post-logout redirect URIs are compared to the
//! request as strings, byte for byte; only the port of an `http` loopback IP literal may
//! vary (RFC 8252 section 7.3). A near miss is an error page, never a redirect.

use crate::helpers::{TestApp, TestClient, location, query_param, spawn_app};

const REGISTERED: &str = "https://app.example.com/oauth/cb";
const BYE: &str = "https://app.example.com/bye";

/// Forms a parser or a lenient matcher would take for `REGISTERED`, or that a sloppy
/// prefix or host check would let through.
const NEAR_MISSES: &[&str] = &[
    "HTTPS://app.example.com/oauth/cb",
    "Https://app.example.com/oauth/cb",
    "https://APP.EXAMPLE.COM/oauth/cb",
    "https://app.example.com:443/oauth/cb",
    "https://app.example.com:8443/oauth/cb",
    "https://app.example.com/oauth/cb/",
    "https://app.example.com/oauth/cb?",
    "https://app.example.com/oauth/cb?x=1",
    "https://app.example.com/oauth/cb#",
    "https://app.example.com/oauth/cb#frag",
    "https://app.example.com/oauth/%63b",
    "https://app.example.com/oauth%2Fcb",
    "https://app.example.com/%6Fauth/cb",
    "https://app.example.com/oauth/./cb",
    "https://app.example.com/oauth/x/../cb",
    "https://app.example.com/oauth/cb/..",
    "https://app.example.com//oauth/cb",
    "https://app.example.com/OAUTH/CB",
    "https://app.example.com./oauth/cb",
    "https://user@app.example.com/oauth/cb",
    "https://app.example.com@evil.example/oauth/cb",
    "https://app.example.com\\@evil.example/oauth/cb",
    "http://app.example.com/oauth/cb",
    "https://app.example.com/oauth/cbx",
    "https://app.example.com/oauth/cb%20",
    "https://app.example.com/oauth/cb;x",
    "//app.example.com/oauth/cb",
    "https://evil.example/?https://app.example.com/oauth/cb",
    " https://app.example.com/oauth/cb",
];

async fn setup(app: &TestApp) -> TestClient {
    app.confidential_client("rp")
        .redirect_uris(&[
            REGISTERED,
            "http://127.0.0.1/native",
            "http://[::1]:8080/cb",
        ])
        .post_logout_redirect_uris(&[BYE, "http://127.0.0.1/bye"])
        .scope("openid email")
        .await
}

async fn authorize(app: &TestApp, redirect_uri: &str) -> reqwest::Response {
    app.http
        .get(app.authorize_url(&[
            ("response_type", "code"),
            ("client_id", "rp"),
            ("redirect_uri", redirect_uri),
            ("scope", "openid"),
            ("state", "st"),
            (
                "code_challenge",
                "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8",
            ),
            ("code_challenge_method", "S256"),
        ]))
        .send()
        .await
        .unwrap()
}

/// An error page: 400, HTML, no Location, nothing of the request reflected as a link.
async fn assert_error_page(r: reqwest::Response, what: &str) {
    assert_eq!(r.status(), 400, "{what}");
    assert!(r.headers().get("location").is_none(), "{what} redirected");
    let html = r.text().await.unwrap();
    assert!(html.contains("not registered"), "{what}: {html}");
    assert!(!html.contains("evil.example"), "{what} reflected");
}

#[tokio::test]
async fn redirect_uri_near_misses_get_an_error_page_never_a_redirect() {
    let app = spawn_app().await;
    setup(&app).await;
    assert!(NEAR_MISSES.len() >= 20);
    // The registered string itself is accepted (on to the login page)...
    let r = authorize(&app, REGISTERED).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/login?"));
    // ...and nothing else is.
    for near in NEAR_MISSES {
        assert_error_page(authorize(&app, near).await, near).await;
    }
}

#[tokio::test]
async fn loopback_ip_literals_may_vary_the_port_and_nothing_else() {
    let app = spawn_app().await;
    setup(&app).await;
    for ok in [
        "http://127.0.0.1/native",
        "http://127.0.0.1:53124/native",
        "http://127.0.0.1:1/native",
        "http://127.0.0.1:65535/native",
        "http://[::1]:8080/cb",
        "http://[::1]:9/cb",
        "http://[::1]/cb",
    ] {
        let r = authorize(&app, ok).await;
        assert_eq!(r.status(), 303, "{ok}");
        assert!(location(&r).starts_with("/login?"), "{ok}");
    }
    for near in [
        "http://127.0.0.1:053124/native",
        "http://127.0.0.1:0/native",
        "http://127.0.0.1:65536/native",
        "http://127.0.0.1:/native",
        "http://127.0.0.1:+80/native",
        "http://127.0.0.1:53124/native/",
        "http://127.0.0.1:53124/Native",
        "http://localhost:53124/native",
        "http://127.0.0.2:53124/native",
        "http://127.0.0.1.evil.example:53124/native",
        "http://127.0.0.1:80@evil.example/native",
        "https://127.0.0.1:53124/native",
        "http://[::1]:8080/cb/",
        "http://[0:0:0:0:0:0:0:1]:8080/cb",
    ] {
        assert_error_page(authorize(&app, near).await, near).await;
    }
}

#[tokio::test]
async fn a_loopback_port_chosen_at_run_time_gets_the_code_and_must_be_repeated() {
    let app = spawn_app().await;
    let rp = setup(&app).await;
    let secret = rp.secret().to_owned();
    let alice = app.user("alice").await;
    let b = app.browser();
    let port_uri = "http://127.0.0.1:50123/native";
    let url = app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", "rp"),
        ("redirect_uri", port_uri),
        ("scope", "openid"),
        ("state", "st"),
        (
            "code_challenge",
            "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8",
        ),
        ("code_challenge_method", "S256"),
    ]);
    let back = app.login(&b, &url, &alice).await;
    assert!(back.url.starts_with(&format!("{port_uri}?")), "{back:?}");
    let code = back.code();
    let redeem = |uri: &'static str| {
        let code = code.clone();
        let secret = secret.clone();
        let app = &app;
        async move {
            app.http
                .post(format!("{}/token", app.public))
                .basic_auth("rp", Some(secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", uri),
                    (
                        "code_verifier",
                        "dBjftJeZ4CVP-mJ0bZ2P5YQnE-1pKHrCDN1VlhFb13c",
                    ),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // Another port at the token endpoint is another redirect_uri (RFC 6749 4.1.3)...
    let r = redeem("http://127.0.0.1:50124/native").await;
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    // ...while the port the code was sent to redeems it.
    let r = redeem("http://127.0.0.1:50123/native").await;
    assert_eq!(r.status(), 200);
}

async fn logout(app: &TestApp, uri: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/logout", app.public))
        .query(&[
            ("client_id", "rp"),
            ("post_logout_redirect_uri", uri),
            ("state", "bye-state"),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn post_logout_redirect_uri_near_misses_are_refused() {
    let app = spawn_app().await;
    setup(&app).await;
    // No session to end here: a registered target is returned to at once, with state.
    let r = logout(&app, BYE).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{BYE}?state=bye-state"));
    let near_byes: Vec<String> = NEAR_MISSES
        .iter()
        .map(|n| n.replace("/oauth/cb", "/bye"))
        .chain(
            [
                "http://127.0.0.1:0/bye",
                "http://127.0.0.1:4000/bye/",
                "http://localhost:4000/bye",
            ]
            .map(str::to_owned),
        )
        .collect();
    assert!(near_byes.len() >= 20);
    for near in &near_byes {
        assert_error_page(logout(&app, near).await, near).await;
    }
    // The loopback variance is the same one function's.
    let r = logout(&app, "http://127.0.0.1:4000/bye").await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        query_param(&location(&r), "state").as_deref(),
        Some("bye-state")
    );
    // A redirect URI is not a post-logout redirect URI.
    assert_error_page(
        logout(&app, REGISTERED).await,
        "redirect_uri as logout target",
    )
    .await;
}
