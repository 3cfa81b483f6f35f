//! Issue 18 item 10 (its browser part): the CSRF token of a form is bound to the browser
//! that loaded it. Each browser gets a random binding cookie; a form's token is checked
//! against the cookie of the browser that posts it, so a token copied into another
//! browser, or posted without the cookie, is refused.

use crate::helpers::{CALLBACK, PASSWORD, TestApp, hidden, location, spawn_app, submit, visit};

fn params(client: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", CALLBACK),
        ("scope", "openid"),
        ("state", "st"),
        (
            "code_challenge",
            "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8",
        ),
        ("code_challenge_method", "S256"),
    ]
}

/// Opens the page `/authorize` leads to in browser `b`; its HTML.
async fn open(app: &TestApp, b: &reqwest::Client, client: &str) -> String {
    let r = visit(app, b, &app.authorize_url(&params(client))).await;
    assert_eq!(r.status(), 303);
    let r = visit(app, b, &location(&r)).await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

fn login_form(html: &str, user: &str) -> Vec<(&'static str, String)> {
    vec![
        ("request_id", hidden(html, "request_id")),
        ("csrf_token", hidden(html, "csrf_token")),
        ("username", user.into()),
        ("password", PASSWORD.into()),
    ]
}

#[tokio::test]
async fn csrf_tokens_work_only_in_the_browser_that_loaded_the_form() {
    let app = spawn_app().await;
    app.confidential_client("rp")
        .redirect_uris(&[CALLBACK])
        .scope("openid")
        .await;
    app.user("alice").await;
    app.user("mallory").await;

    // The binding cookie: set with the first response, HttpOnly, SameSite=Lax, whole site.
    let a = app.browser();
    let r = visit(&app, &a, &app.authorize_url(&params("rp"))).await;
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("portcullis_browser=pcb_"), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
        "{set}"
    );

    // Login: alice's page, its token copied into mallory's browser (which has a binding
    // of its own) and into a client without any cookie: refused, no session made.
    let html = open(&app, &a, "rp").await;
    let m = app.browser();
    open(&app, &m, "rp").await;
    let r = submit(&app, &m, "/login", &login_form(&html, "mallory")).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("set-cookie").is_none());
    let r = submit(&app, &app.http, "/login", &login_form(&html, "mallory")).await;
    assert_eq!(r.status(), 400);
    // In the browser that loaded it, the same token works.
    let r = submit(&app, &a, "/login", &login_form(&html, "alice")).await;
    assert_eq!(r.status(), 303);
    let consent = location(&r);
    assert!(consent.starts_with("/consent?"), "{consent}");

    // Consent: the page's token, posted by another browser, is refused too.
    let r = visit(&app, &a, &consent).await;
    let html = r.text().await.unwrap();
    let form = vec![
        ("request_id", hidden(&html, "request_id")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("decision", "allow".to_owned()),
    ];
    let r = submit(&app, &m, "/consent", &form).await;
    assert_eq!(r.status(), 400);
    let r = submit(&app, &a, "/consent", &form).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with(CALLBACK));

    // Logout confirmation: alice's token in mallory's signed-in browser ends nothing.
    let html = open(&app, &m, "rp").await;
    let r = submit(&app, &m, "/login", &login_form(&html, "mallory")).await;
    assert_eq!(r.status(), 303);
    let confirm_a = visit(&app, &a, "/logout").await.text().await.unwrap();
    let confirm_m = visit(&app, &m, "/logout").await.text().await.unwrap();
    let (token_a, token_m) = (
        hidden(&confirm_a, "csrf_token"),
        hidden(&confirm_m, "csrf_token"),
    );
    assert_ne!(token_a, token_m);
    let r = submit(&app, &m, "/logout", &[("csrf_token", token_a.clone())]).await;
    assert_eq!(r.status(), 403);
    let r = submit(&app, &a, "/logout", &[("csrf_token", token_m)]).await;
    assert_eq!(r.status(), 403);
    // Each browser's own token signs it out.
    let r = submit(&app, &a, "/logout", &[("csrf_token", token_a)]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are signed out"));

    // A planted binding value of the attacker's choosing is not taken: a fresh one is set.
    let r = app
        .http
        .get(app.authorize_url(&params("rp")))
        .header("cookie", "portcullis_browser=chosen-by-attacker")
        .send()
        .await
        .unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("portcullis_browser=pcb_"), "{set}");
}
