//! Issue 18 item 6: /authorize follows OpenID Connect Core 3.1.2.1 to the letter, with the
//! `openidconnect` crate as the relying party: `prompt=consent` always shows the consent
//! page, `prompt=select_account` shows who is signed in and lets the user switch, an
//! `id_token_hint` of another user means `login_required` (or the login page), `max_age` is
//! checked again when the consent form is posted, and public clients get no code without
//! interaction unless first-party (RFC 8252 section 8.6).

use openidconnect::core::CoreAuthPrompt;

use crate::helpers::{
    CALLBACK, PASSWORD, Rp, TestApp, TestClient, follow, hidden, location, query_param,
    spawn_app_now, submit, visit,
};

/// A client of these tests: confidential or public, first-party or not.
async fn client(app: &TestApp, id: &str, public: bool, first_party: bool) -> TestClient {
    let builder = if public {
        app.public_client(id)
    } else {
        app.confidential_client(id)
    };
    builder
        .first_party_if(first_party)
        .redirect_uris(&[CALLBACK])
        .scope("openid email profile")
        .await
}

async fn rp(app: &TestApp, client: &TestClient) -> Rp {
    Rp::new(app, &client.id, client.secret.as_deref()).await
}

/// Where the first response to `url` sends the browser.
async fn first_hop(app: &TestApp, b: &reqwest::Client, url: &str) -> String {
    let r = visit(app, b, url).await;
    assert_eq!(r.status(), 303, "{url}");
    location(&r)
}

/// The page a path of ours shows, as HTML.
async fn page(app: &TestApp, b: &reqwest::Client, path: &str) -> String {
    let r = visit(app, b, path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

/// Posts the consent page at `path` with `decision`; where it sends the browser.
async fn answer_consent(app: &TestApp, b: &reqwest::Client, path: &str, decision: &str) -> String {
    let html = page(app, b, path).await;
    assert!(html.contains("Allow access?"), "{html}");
    let r = submit(
        app,
        b,
        "/consent",
        &[
            ("request_id", hidden(&html, "request_id")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("decision", decision.into()),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    location(&r)
}

#[tokio::test]
async fn prompt_consent_always_shows_the_consent_page() {
    let app = spawn_app_now().await;
    let third = client(&app, "third", false, false).await;
    let first = client(&app, "first", false, true).await;
    let alice = app.user("alice").await;
    let b = app.browser();
    // Signed in, and consent to `third` remembered.
    rp(&app, &third).await.sign_in(&app, &b, &alice).await;
    for c in [&third, &first] {
        let lib = rp(&app, c).await;
        // Without a prompt, no page: the code comes back at once.
        let plain = lib.start(|r| r);
        let to = first_hop(&app, &b, &plain.url).await;
        assert!(to.starts_with(CALLBACK), "{}: {to}", c.id);
        // With prompt=consent, the consent page, whatever was remembered or trusted.
        let started = lib.start(|r| r.add_prompt(CoreAuthPrompt::Consent));
        let to = first_hop(&app, &b, &started.url).await;
        assert!(to.starts_with("/consent?"), "{}: {to}", c.id);
        let back = answer_consent(&app, &b, &to, "allow").await;
        let id_token = lib.finish(&app, started, &back).await;
        assert!(!id_token.to_string().is_empty());
        // Denying it there is access_denied, with state.
        let started = lib.start(|r| r.add_prompt(CoreAuthPrompt::Consent));
        let to = first_hop(&app, &b, &started.url).await;
        let back = answer_consent(&app, &b, &to, "deny").await;
        assert_eq!(
            query_param(&back, "error").as_deref(),
            Some("access_denied")
        );
        assert_eq!(
            query_param(&back, "state").as_deref(),
            Some(started.state.secret().as_str())
        );
    }
}

#[tokio::test]
async fn select_account_shows_who_is_signed_in_and_lets_the_user_switch() {
    let app = spawn_app_now().await;
    let first = client(&app, "first", false, true).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let lib = rp(&app, &first).await;
    let b = app.browser();

    // Nobody signed in: select_account is the login page.
    let started = lib.start(|r| r.add_prompt(CoreAuthPrompt::SelectAccount));
    let to = first_hop(&app, &b, &started.url).await;
    assert!(to.starts_with("/login?"), "{to}");
    let back = app.login(&b, &started.url, &alice).await;
    let id_token = lib.finish(&app, started, &back.url).await;
    let verifier = lib.client.id_token_verifier();
    let sub = |t: &openidconnect::core::CoreIdToken| {
        t.claims(&verifier, |_: Option<&openidconnect::Nonce>| Ok(()))
            .unwrap()
            .subject()
            .as_str()
            .to_owned()
    };
    assert_eq!(sub(&id_token), alice.id);

    // Alice signed in: the account page names her, and continuing keeps her.
    let started = lib.start(|r| r.add_prompt(CoreAuthPrompt::SelectAccount));
    let to = first_hop(&app, &b, &started.url).await;
    assert!(to.starts_with("/select_account?"), "{to}");
    let html = page(&app, &b, &to).await;
    assert!(
        html.contains("You are signed in as <strong class=\"account\">alice</strong>"),
        "{html}"
    );
    assert!(html.contains("Use another account"));
    let r = submit(
        &app,
        &b,
        "/select_account",
        &[
            ("request_id", hidden(&html, "request_id")),
            ("csrf_token", hidden(&html, "csrf_token")),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let id_token = lib.finish(&app, started, &location(&r)).await;
    assert_eq!(sub(&id_token), alice.id);

    // Switching: the page's own login form signs bob in for the same request.
    let started = lib.start(|r| r.add_prompt(CoreAuthPrompt::SelectAccount));
    let to = first_hop(&app, &b, &started.url).await;
    let html = page(&app, &b, &to).await;
    let r = submit(
        &app,
        &b,
        "/login",
        &[
            ("request_id", hidden(&html, "request_id")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("username", bob.username.clone()),
            ("password", PASSWORD.into()),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let id_token = lib.finish(&app, started, &location(&r)).await;
    assert_eq!(sub(&id_token), bob.id);
    // ...and the browser is bob's from now on.
    let started = lib.start(|r| r.add_prompt(CoreAuthPrompt::None));
    let back = first_hop(&app, &b, &started.url).await;
    assert_eq!(sub(&lib.finish(&app, started, &back).await), bob.id);
}

#[tokio::test]
async fn id_token_hint_of_another_user_means_login_required_or_the_login_page() {
    let app = spawn_app_now().await;
    let first = client(&app, "first", false, true).await;
    let other = client(&app, "other", false, true).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let lib = rp(&app, &first).await;
    let b = app.browser();
    let alices = lib.sign_in(&app, &b, &alice).await;
    let bobs = lib.sign_in(&app, &app.browser(), &bob).await;
    let others = rp(&app, &other)
        .await
        .sign_in(&app, &app.browser(), &alice)
        .await;

    // The signed-in user's own hint, silently: a code.
    let started = lib.start(|r| {
        r.set_id_token_hint(&alices)
            .add_prompt(CoreAuthPrompt::None)
    });
    let back = first_hop(&app, &b, &started.url).await;
    assert!(query_param(&back, "code").is_some(), "{back}");

    // Bob's hint while alice is signed in, silently: login_required, with state and iss.
    let started = lib.start(|r| r.set_id_token_hint(&bobs).add_prompt(CoreAuthPrompt::None));
    let back = first_hop(&app, &b, &started.url).await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some(started.state.secret().as_str())
    );
    assert_eq!(
        query_param(&back, "iss").as_deref(),
        Some(app.public.as_str())
    );

    // Not silent: the login page. Signing in as alice there is still not bob...
    let started = lib.start(|r| r.set_id_token_hint(&bobs));
    let to = first_hop(&app, &b, &started.url).await;
    assert!(to.starts_with("/login?"), "{to}");
    let back = app.login(&b, &started.url, &alice).await;
    assert_eq!(back.error().as_deref(), Some("login_required"));
    // ...signing in as bob finishes it, for bob.
    let started = lib.start(|r| r.set_id_token_hint(&bobs));
    let back = app.login(&b, &started.url, &bob).await;
    let id_token = lib.finish(&app, started, &back.url).await;
    let claims = id_token
        .claims(
            &lib.client.id_token_verifier(),
            |_: Option<&openidconnect::Nonce>| Ok(()),
        )
        .unwrap();
    assert_eq!(claims.subject().as_str(), bob.id);

    // A hint issued to another client, or forged, is invalid_request (never trusted).
    for hint in [others.to_string(), "e30.e30.e30".to_owned()] {
        let url = app.authorize_url(&[
            ("response_type", "code"),
            ("client_id", "first"),
            ("redirect_uri", CALLBACK),
            ("scope", "openid"),
            ("state", "st"),
            ("id_token_hint", &hint),
            (
                "code_challenge",
                "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8",
            ),
            ("code_challenge_method", "S256"),
        ]);
        let back = first_hop(&app, &b, &url).await;
        assert_eq!(
            query_param(&back, "error").as_deref(),
            Some("invalid_request")
        );
        assert_eq!(query_param(&back, "state").as_deref(), Some("st"));
    }
}

#[tokio::test]
async fn max_age_is_checked_again_when_the_consent_form_is_posted() {
    let app = spawn_app_now().await;
    client(&app, "first", false, true).await;
    client(&app, "third", false, false).await;
    let alice = app.user("alice").await;
    let b = app.browser();
    let params = |client: &'static str, max_age: &'static str| {
        vec![
            ("response_type", "code"),
            ("client_id", client),
            ("redirect_uri", CALLBACK),
            ("scope", "openid email"),
            ("state", "st"),
            ("max_age", max_age),
            (
                "code_challenge",
                "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8",
            ),
            ("code_challenge_method", "S256"),
        ]
    };
    // Alice signs in at t (for a first-party client: no consent).
    let back = app
        .login(&b, &app.authorize_url(&params("first", "3600")), &alice)
        .await;
    assert!(back.param("code").is_some());
    // At t+100 a client asks with max_age=300: the session is young enough, so the
    // consent page is shown...
    app.clock.advance(100);
    let to = first_hop(&app, &b, &app.authorize_url(&params("third", "300"))).await;
    assert!(to.starts_with("/consent?"), "{to}");
    let html = page(&app, &b, &to).await;
    // ...but it is answered at t+350: too old now. Sign in again, no code yet.
    app.clock.advance(250);
    let r = submit(
        &app,
        &b,
        "/consent",
        &[
            ("request_id", hidden(&html, "request_id")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("decision", "allow".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(
        to.starts_with("/login?"),
        "max_age was not checked again: {to}"
    );
    // Signing in again (a login for this very request) and allowing finishes it.
    let (r, at) = follow(&app, &b, &to).await;
    assert_eq!(r.status(), 200, "{at}");
    let html = r.text().await.unwrap();
    let r = submit(
        &app,
        &b,
        "/login",
        &[
            ("request_id", hidden(&html, "request_id")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("username", "alice".into()),
            ("password", PASSWORD.into()),
        ],
    )
    .await;
    let to = location(&r);
    assert!(to.starts_with("/consent?"), "{to}");
    let back = answer_consent(&app, &b, &to, "allow").await;
    assert!(query_param(&back, "code").is_some(), "{back}");

    // Answered in time, the consent page issues at once.
    app.clock.advance(10);
    let to = first_hop(
        &app,
        &b,
        &app.authorize_url(&with_prompt(params("third", "300"), "consent")),
    )
    .await;
    let back = answer_consent(&app, &b, &to, "allow").await;
    assert!(query_param(&back, "code").is_some(), "{back}");
}

fn with_prompt<'a>(mut p: Vec<(&'a str, &'a str)>, prompt: &'a str) -> Vec<(&'a str, &'a str)> {
    p.push(("prompt", prompt));
    p
}

#[tokio::test]
async fn public_clients_get_no_code_without_interaction_unless_first_party() {
    let app = spawn_app_now().await;
    let public = client(&app, "native", true, false).await;
    let public_first = client(&app, "native-first", true, true).await;
    let confidential = client(&app, "web", false, false).await;
    let alice = app.user("alice").await;
    let b = app.browser();
    // Signing in and consenting is interaction: the public client gets its code.
    let native = rp(&app, &public).await;
    native.sign_in(&app, &b, &alice).await;
    // The same again, consent remembered and the session live: the consent page, not a
    // code, since anyone can send this client_id and a redirect URI it registered.
    let started = native.start(|r| r);
    let to = first_hop(&app, &b, &started.url).await;
    assert!(to.starts_with("/consent?"), "{to}");
    let back = answer_consent(&app, &b, &to, "allow").await;
    native.finish(&app, started, &back).await;
    // Silently: consent_required.
    let started = native.start(|r| r.add_prompt(CoreAuthPrompt::None));
    let back = first_hop(&app, &b, &started.url).await;
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("consent_required")
    );
    assert!(query_param(&back, "code").is_none());

    // A confidential client with remembered consent is answered at once...
    let web = rp(&app, &confidential).await;
    web.sign_in(&app, &b, &alice).await;
    let started = web.start(|r| r.add_prompt(CoreAuthPrompt::None));
    let back = first_hop(&app, &b, &started.url).await;
    web.finish(&app, started, &back).await;
    // ...and so is a first-party public client, which the operator vouches for.
    let first = rp(&app, &public_first).await;
    let started = first.start(|r| r.add_prompt(CoreAuthPrompt::None));
    let back = first_hop(&app, &b, &started.url).await;
    first.finish(&app, started, &back).await;
}
