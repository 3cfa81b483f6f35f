//! Issue 19, item 2 (OWASP device cookies): a browser that has logged in as a user keeps a
//! signed device cookie, and its attempts for that user are counted against that cookie
//! alone. Guesses from elsewhere that lock the username do not stop the rightful user at
//! their own browser; a browser without the cookie, or with a forged or another user's
//! cookie, is still locked out; and a device cookie that collects failures is locked
//! itself. The password grant, which has no cookie, counts per client as well.

use std::sync::Arc;

use portcullis::clock::Clock;
use portcullis::config::{Config, ThrottlePolicy};
use reqwest::cookie::CookieStore;

use crate::helpers::{
    CALLBACK, PASSWORD, TestApp, TestClient, TestDb, TestUser, hidden, location, spawn_app_with,
};

/// Two free failures, the third locks: a lock is reached in a few requests.
const SMALL: ThrottlePolicy = ThrottlePolicy {
    max_failures: 2,
    window_secs: 900,
    base_delay_secs: 1,
    max_delay_secs: 60,
    lock_after_failures: 3,
    lock_secs: 900,
};

/// Past any delay of `SMALL`, well inside its window.
const PAST_DELAY: i64 = 100;

async fn app(tweak: impl FnOnce(&mut Config)) -> (TestApp, TestClient) {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.login.user = SMALL;
        c.rate_limit.token_burst = 10_000;
        c.rate_limit.token_per_second = 10_000;
        tweak(c);
    })
    .await;
    let client = app
        .confidential_client("rp")
        .grants(&["authorization_code", "password"])
        .redirect_uris(&[CALLBACK])
        .scope("openid")
        .await;
    (app, client)
}

fn auth_url(app: &TestApp) -> String {
    app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", "rp"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid"),
        ("state", "s"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGjSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ])
}

/// A browser whose cookie jar holds only `device` (if any): the rightful user's browser
/// after its session has ended, or an attacker's.
fn browser_with(app: &TestApp, device: Option<&str>) -> reqwest::Client {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    if let Some(value) = device {
        jar.add_cookie_str(
            &format!("portcullis_device={value}; Path=/"),
            &app.public.parse().unwrap(),
        );
    }
    reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `user` logs in through the pages in a fresh browser; the device cookie it was given.
async fn device_cookie_of(app: &TestApp, user: &TestUser) -> String {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let b = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = app.login(&b, &auth_url(app), user).await;
    back.code();
    let cookies = jar.cookies(&app.public.parse().unwrap()).unwrap();
    let cookies = cookies.to_str().unwrap();
    cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("portcullis_device="))
        .unwrap_or_else(|| panic!("no device cookie in {cookies}"))
        .to_owned()
}

/// One login form post from `b` (a fresh login page first): true when it signed in.
async fn try_login(app: &TestApp, b: &reqwest::Client, user: &str, password: &str) -> bool {
    let mut url = auth_url(app);
    let html = loop {
        let r = b.get(&url).send().await.unwrap();
        if r.status() == 303 {
            let next = location(&r);
            assert!(
                next.starts_with('/'),
                "left the server before the form: {next}"
            );
            url = format!("{}{next}", app.public);
            continue;
        }
        assert_eq!(r.status(), 200, "{url}");
        break r.text().await.unwrap();
    };
    let r = b
        .post(app.url("/login"))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("request_id", hidden(&html, "request_id").as_str()),
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    match r.status().as_u16() {
        303 => true,
        200 => false,
        other => panic!("login answered {other}"),
    }
}

/// Wrong passwords for `user` from `b`, past each delay, until the third locks its key.
async fn lock_with_guesses(app: &TestApp, b: &reqwest::Client, user: &str) {
    let locks = app.audit_count(Some("login.locked")).await;
    for _ in 0..SMALL.lock_after_failures {
        assert!(!try_login(app, b, user, "wrong").await);
        app.clock.set(app.clock.now() + PAST_DELAY);
    }
    assert_eq!(app.audit_count(Some("login.locked")).await, locks + 1);
}

#[tokio::test]
async fn the_rightful_browser_logs_in_while_the_username_is_locked() {
    let (app, _client) = app(|_| {}).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let alices_device = device_cookie_of(&app, &alice).await;
    let bobs_device = device_cookie_of(&app, &bob).await;

    // Guesses from another browser lock alice's username.
    let attacker = browser_with(&app, None);
    lock_with_guesses(&app, &attacker, "alice").await;
    assert!(!try_login(&app, &attacker, "alice", PASSWORD).await);

    // A browser without the cookie is locked out, right password and all.
    assert!(!try_login(&app, &browser_with(&app, None), "alice", PASSWORD).await);
    // Neither a forged cookie nor another user's real one lifts the lock.
    let forged = format!("pcd1.{}.{}", &alices_device[5..27], "A".repeat(43));
    assert!(!try_login(&app, &browser_with(&app, Some(&forged)), "alice", PASSWORD).await);
    assert!(
        !try_login(
            &app,
            &browser_with(&app, Some(&bobs_device)),
            "alice",
            PASSWORD
        )
        .await
    );
    let successes = app.audit_count(Some("login.success")).await;

    // Alice at her own browser, whose session has long ended, still gets in.
    let own = browser_with(&app, Some(&alices_device));
    assert!(try_login(&app, &own, "alice", PASSWORD).await);
    assert_eq!(app.audit_count(Some("login.success")).await, successes + 1);
}

#[tokio::test]
async fn a_device_cookie_that_collects_failures_is_locked() {
    let (app, _client) = app(|_| {}).await;
    let alice = app.user("alice").await;
    let device = device_cookie_of(&app, &alice).await;
    let own = browser_with(&app, Some(&device));

    // Wrong passwords from the device browser lock the device...
    lock_with_guesses(&app, &own, "alice").await;
    // ...not the username: they were counted against the cookie alone.
    assert!(try_login(&app, &browser_with(&app, None), "alice", PASSWORD).await);

    // Once the username is locked from elsewhere too, the locked device is an untrusted
    // source like any other: the right password does not get in.
    lock_with_guesses(&app, &browser_with(&app, None), "alice").await;
    assert!(!try_login(&app, &own, "alice", PASSWORD).await);
    assert!(!try_login(&app, &browser_with(&app, None), "alice", PASSWORD).await);
}

/// A password-grant request from `address` (behind the trusted proxy): its status.
async fn grant(app: &TestApp, client: &TestClient, address: &str, user: &str, pw: &str) -> u16 {
    let (id, secret) = client.basic();
    app.http
        .post(format!("{}/token", app.public))
        .basic_auth(id, Some(secret))
        .header("x-forwarded-for", address)
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", pw),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_password_grant_counts_per_client() {
    let (app, rp) = app(|c| {
        c.login.ip = SMALL;
        c.proxy.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let other = app
        .confidential_client("other")
        .grants(&["password"])
        .scope("openid")
        .await;
    app.user("bob").await;
    // Each guess from its own address and for its own username: only the client's
    // counter sees them all.
    for i in 0..SMALL.lock_after_failures {
        let address = format!("198.51.100.{}", i + 1);
        assert_eq!(
            grant(&app, &rp, &address, &format!("u{i}"), "wrong").await,
            400
        );
        app.clock.set(app.clock.now() + PAST_DELAY);
    }
    assert_eq!(app.audit_count(Some("login.locked")).await, 1);
    // The client is locked: bob's right password through it, from a fresh address, fails...
    assert_eq!(grant(&app, &rp, "203.0.113.1", "bob", PASSWORD).await, 400);
    assert_eq!(app.audit_count(Some("login.success")).await, 0);
    // ...and the same through another client succeeds: the lock is the client's.
    assert_eq!(
        grant(&app, &other, "203.0.113.2", "bob", PASSWORD).await,
        200
    );
}
