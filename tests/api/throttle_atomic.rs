//! Issue 19, item 1: an attempt takes its place on the throttling counters before its
//! password is checked, so a parallel burst cannot all read the same old counts. Each test
//! fires 100 wrong passwords at once, with the clock standing still, and counts the
//! passwords actually verified: every verified wrong password is its own `login.failure`.

use std::sync::Arc;

use portcullis::clock::Clock;
use portcullis::config::{Config, ThrottlePolicy};
use tokio::task::JoinSet;

use crate::helpers::{
    CALLBACK, PASSWORD, TestApp, TestClient, TestDb, hidden, location, spawn_app_with,
};

const BURST: usize = 100;

fn roomy_rate_limit(config: &mut Config) {
    // The per-address request limit is another guard; this test is about the password one.
    config.rate_limit.token_burst = 10_000;
    config.rate_limit.token_per_second = 10_000;
    // So are the bounds on pending requests: a hundred login pages from one address.
    config.authorize.max_pending_per_address = 10_000;
}

async fn app_and_client(tweak: impl FnOnce(&mut Config)) -> (TestApp, TestClient) {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        roomy_rate_limit(c);
        tweak(c);
    })
    .await;
    let client = app
        .confidential_client("rp")
        .grants(&["authorization_code", "password"])
        .redirect_uris(&[CALLBACK])
        .scope("openid")
        .await;
    app.user("bob").await;
    (app, client)
}

async fn password_grant(app: &TestApp, client: &TestClient, username: &str, password: &str) -> u16 {
    app.token_request(
        client,
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("scope", "openid"),
        ],
    )
    .await
    .0
}

/// A login page ready to be posted: its browser and form fields.
async fn login_page(app: &TestApp) -> (reqwest::Client, String, String) {
    let b = app.browser();
    let mut url = app.authorize_url(&[
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
    ]);
    for _ in 0..4 {
        let r = b.get(&url).send().await.unwrap();
        if r.status() == 303 {
            let next = location(&r);
            url = if next.starts_with('/') {
                format!("{}{next}", app.public)
            } else {
                next
            };
            continue;
        }
        assert_eq!(r.status(), 200, "{url}");
        let html = r.text().await.unwrap();
        return (b, hidden(&html, "request_id"), hidden(&html, "csrf_token"));
    }
    panic!("no login page");
}

/// Posts the login form; true when it signed in (a 303 onwards), false when it showed the
/// form again.
async fn post_login(
    app: &TestApp,
    page: &(reqwest::Client, String, String),
    user: &str,
    password: &str,
) -> bool {
    let (b, rid, csrf) = page;
    let r = b
        .post(app.url("/login"))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("request_id", rid.as_str()),
            ("csrf_token", csrf.as_str()),
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

/// After the burst: the verified failures, bounded by `limit`, and every attempt either
/// verified or refused unverified (refusals are counted per key and window, item 5).
async fn assert_bounded(app: &TestApp, limit: u32) -> i64 {
    let verified = app.audit_count(Some("login.failure")).await;
    let throttled = app.throttled_attempts().await;
    assert!(
        (1..=i64::from(limit)).contains(&verified),
        "{verified} passwords verified, the policy allows {limit}"
    );
    assert_eq!(
        verified + throttled,
        i64::try_from(BURST).unwrap(),
        "every attempt is verified or refused"
    );
    verified
}

#[tokio::test]
async fn parallel_password_grant_burst_verifies_no_more_than_the_username_policy() {
    let (app, client) = app_and_client(|_| {}).await;
    let app = Arc::new(app);
    let client = Arc::new(client);
    let mut burst = JoinSet::new();
    for _ in 0..BURST {
        let (app, client) = (app.clone(), client.clone());
        burst.spawn(async move { password_grant(&app, &client, "bob", "wrong").await });
    }
    while let Some(status) = burst.join_next().await {
        assert_eq!(status.unwrap(), 400);
    }
    let policy = app.state.config.login.user;
    // The clock stands still: the free failures, then the first delay.
    let verified = assert_bounded(&app, policy.max_failures).await;
    assert_eq!(verified, i64::from(policy.max_failures));

    // The right password, as the policy says today: refused during the delay (unverified),
    // accepted once it has passed.
    assert_eq!(password_grant(&app, &client, "bob", PASSWORD).await, 400);
    assert_eq!(app.audit_count(Some("login.success")).await, 0);
    app.clock.set(app.clock.now() + policy.base_delay_secs);
    assert_eq!(password_grant(&app, &client, "bob", PASSWORD).await, 200);
    assert_eq!(app.audit_count(Some("login.failure")).await, verified);
}

#[tokio::test]
async fn parallel_login_form_burst_verifies_no_more_than_the_username_policy() {
    let (app, _client) = app_and_client(|_| {}).await;
    let app = Arc::new(app);
    let mut pages = Vec::with_capacity(BURST);
    for _ in 0..BURST {
        pages.push(login_page(&app).await);
    }
    let mut burst = JoinSet::new();
    for page in pages {
        let app = app.clone();
        burst.spawn(async move { post_login(&app, &page, "bob", "wrong").await });
    }
    while let Some(signed_in) = burst.join_next().await {
        assert!(!signed_in.unwrap());
    }
    let policy = app.state.config.login.user;
    let verified = assert_bounded(&app, policy.max_failures).await;
    assert_eq!(verified, i64::from(policy.max_failures));

    // The right password at the form: refused during the delay, accepted after it.
    let page = login_page(&app).await;
    assert!(!post_login(&app, &page, "bob", PASSWORD).await);
    app.clock.set(app.clock.now() + policy.base_delay_secs);
    let page = login_page(&app).await;
    assert!(post_login(&app, &page, "bob", PASSWORD).await);
    assert_eq!(app.audit_count(Some("login.failure")).await, verified);
}

#[tokio::test]
async fn parallel_burst_across_usernames_verifies_no_more_than_the_address_policy() {
    // A small address policy, so the test hashes few passwords.
    let ip = ThrottlePolicy {
        max_failures: 5,
        lock_after_failures: 10,
        ..ThrottlePolicy::default()
    };
    let (app, client) = app_and_client(|c| c.login.ip = ip).await;
    let app = Arc::new(app);
    let client = Arc::new(client);
    let mut burst = JoinSet::new();
    for n in 0..BURST {
        let (app, client) = (app.clone(), client.clone());
        // Half through the password grant, half through the login form.
        burst.spawn(async move {
            let name = format!("user{n}");
            if n % 2 == 0 {
                assert_eq!(password_grant(&app, &client, &name, "wrong").await, 400);
            } else {
                let page = login_page(&app).await;
                assert!(!post_login(&app, &page, &name, "wrong").await);
            }
        });
    }
    while let Some(done) = burst.join_next().await {
        done.unwrap();
    }
    let verified = assert_bounded(&app, ip.max_failures).await;
    assert_eq!(verified, i64::from(ip.max_failures));

    // bob's right password from that address: delayed like any other attempt from it,
    // then accepted; the address keeps its failures.
    assert_eq!(password_grant(&app, &client, "bob", PASSWORD).await, 400);
    app.clock.set(app.clock.now() + ip.base_delay_secs);
    assert_eq!(password_grant(&app, &client, "bob", PASSWORD).await, 200);
    assert_eq!(password_grant(&app, &client, "bob", "wrong").await, 400);
    assert_eq!(
        app.audit_count(Some("login.failure")).await,
        verified + 1,
        "the address's delay after a success is counted from its last failure"
    );
}

/// The attack benchmark's flood (bench/attack.sh): wrong passwords for a username the
/// throttle already refuses, each from a new address through a trusted proxy. A refused
/// attempt counts on no key, so it must leave no counter row behind either: before, every
/// such request left an empty row for its address until the janitor came.
#[tokio::test]
async fn refused_attempts_from_new_addresses_leave_no_throttle_rows() {
    use diesel::prelude::*;
    use portcullis::store::schema::login_failures;

    let (app, client) = app_and_client(|c| {
        c.proxy.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let from = |n: u32| format!("198.51.100.{n}");
    let attempt = |n: u32| {
        let (app, client) = (&app, &client);
        async move {
            app.http
                .post(format!("{}/token", app.public))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-forwarded-for", from(n))
                .basic_auth(&client.id, Some(client.secret()))
                .body("grant_type=password&username=bob&password=wrong&scope=openid")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The clock stands still: the username's free failures, then its delay refuses.
    let policy = app.state.config.login.user;
    for n in 0..policy.max_failures {
        assert_eq!(attempt(n).await, 400);
    }
    let rows = || async {
        app.state
            .store
            .run(|conn| Ok(login_failures::table.count().get_result::<i64>(conn)?))
            .await
            .unwrap()
    };
    let before = rows().await;
    for n in 100..120 {
        assert_eq!(attempt(n).await, 400);
    }
    assert_eq!(rows().await, before, "a refused attempt left a row");
    assert_eq!(
        app.audit_count(Some("login.failure")).await,
        i64::from(policy.max_failures)
    );
    assert_eq!(app.throttled_attempts().await, 20);
}
