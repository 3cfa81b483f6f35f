//! Issue 18 item 5: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), with the
//! `openidconnect` crate as the relying party building the logout requests. A valid
//! `id_token_hint` of the signed-in user ends the session at once; anything else asks the
//! user, and only the confirmation page's CSRF-checked POST ends it. Redirects go only to a
//! URI registered for the client the hint or `client_id` names, with `state` echoed.

use openidconnect::{ClientId, CsrfToken, PostLogoutRedirectUrl};

use crate::helpers::{
    CALLBACK, Rp, TestApp, TestClient, TestUser, hidden, location, query_param, spawn_app_now,
    spawn_app_now_with, submit,
};

const BYE: &str = "https://rp.example.com/bye";
const OTHER_BYE: &str = "https://other.example.com/bye";

async fn clients(app: &TestApp) -> (TestClient, TestClient) {
    let rp = app
        .confidential_client("rp")
        .first_party()
        .redirect_uris(&[CALLBACK])
        .post_logout_redirect_uris(&[BYE])
        .scope("openid email")
        .await;
    let other = app
        .confidential_client("other")
        .first_party()
        .redirect_uris(&[CALLBACK])
        .post_logout_redirect_uris(&[OTHER_BYE])
        .scope("openid email")
        .await;
    (rp, other)
}

/// Is `b` still signed in? A silent authorization request answers without ending anything.
async fn signed_in(app: &TestApp, b: &reqwest::Client) -> bool {
    let r = b
        .get(app.authorize_url(&[
            ("response_type", "code"),
            ("client_id", "rp"),
            ("redirect_uri", CALLBACK),
            ("scope", "openid"),
            ("prompt", "none"),
            (
                "code_challenge",
                "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8",
            ),
            ("code_challenge_method", "S256"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let to = location(&r);
    match query_param(&to, "error").as_deref() {
        None => {
            assert!(query_param(&to, "code").is_some(), "{to}");
            true
        }
        Some("login_required") => false,
        Some(other) => panic!("unexpected {other} in {to}"),
    }
}

fn bye(uri: &str) -> PostLogoutRedirectUrl {
    PostLogoutRedirectUrl::new(uri.into()).unwrap()
}

#[tokio::test]
async fn a_valid_hint_of_the_signed_in_user_logs_out_at_once_and_echoes_state() {
    let app = spawn_app_now().await;
    let (rp, _) = clients(&app).await;
    let alice: TestUser = app.user("alice").await;
    let lib = Rp::new(&app, &rp.id, rp.secret.as_deref()).await;
    let b = app.browser();
    let id_token = lib.sign_in(&app, &b, &alice).await;
    assert!(signed_in(&app, &b).await);
    let before = app.audit_count(Some("logout")).await;

    let url = lib
        .logout()
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(bye(BYE))
        .set_state(CsrfToken::new("s t&x=<y>".into()))
        .http_get_url();
    let r = b.get(url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{BYE}?state=s+t%26x%3D%3Cy%3E"));
    let cleared = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cleared.starts_with("portcullis_session=;"), "{cleared}");
    assert!(!signed_in(&app, &b).await, "the session ended");
    assert_eq!(app.audit_count(Some("logout")).await, before + 1);

    // Without a target: the signed-out page, and the session is ended all the same.
    let b = app.browser();
    let id_token = lib.sign_in(&app, &b, &alice).await;
    let r = b
        .get(lib.logout().set_id_token_hint(&id_token).http_get_url())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are signed out"));
    assert!(!signed_in(&app, &b).await);
}

/// The confirmation page's form fields.
fn confirm_form(html: &str) -> Vec<(&'static str, String)> {
    let mut form = vec![("csrf_token", hidden(html, "csrf_token"))];
    for name in ["client_id", "post_logout_redirect_uri", "state"] {
        if html.contains(&format!("name=\"{name}\"")) {
            form.push((name, hidden(html, name)));
        }
    }
    form
}

#[tokio::test]
async fn without_a_valid_hint_a_get_never_ends_the_session_only_the_confirmed_post() {
    let app = spawn_app_now().await;
    let (rp, _) = clients(&app).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let lib = Rp::new(&app, &rp.id, rp.secret.as_deref()).await;
    let b = app.browser();
    lib.sign_in(&app, &b, &alice).await;
    // Bob's ID token, from his own browser: valid, but not the signed-in user's.
    let bobs = lib.sign_in(&app, &app.browser(), &bob).await;

    // A bare GET, a GET naming the client, and a GET with another user's hint: each only
    // shows the confirmation page.
    let requests = [
        lib.logout().http_get_url(),
        lib.logout()
            .set_client_id(ClientId::new("rp".into()))
            .set_post_logout_redirect_uri(bye(BYE))
            .set_state(CsrfToken::new("st".into()))
            .http_get_url(),
        lib.logout()
            .set_id_token_hint(&bobs)
            .set_post_logout_redirect_uri(bye(BYE))
            .set_state(CsrfToken::new("st".into()))
            .http_get_url(),
    ];
    let mut page = String::new();
    for url in requests {
        let r = b.get(url.clone()).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert!(r.headers().get("location").is_none());
        assert!(
            r.headers()
                .get("set-cookie")
                .is_none_or(|c| !c.to_str().unwrap().starts_with("portcullis_session="))
        );
        page = r.text().await.unwrap();
        assert!(page.contains("Sign out?"), "{page}");
        assert!(signed_in(&app, &b).await, "a GET ended the session: {url}");
    }
    let form = confirm_form(&page);
    // The client's own POST (no CSRF token) also only asks.
    let r = b
        .post(format!("{}/logout", app.public))
        .form(&[("client_id", "rp"), ("post_logout_redirect_uri", BYE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(signed_in(&app, &b).await);
    // The confirmation from another site, or with a wrong token: refused.
    let r = b
        .post(format!("{}/logout", app.public))
        .header("origin", "https://evil.example.com")
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let mut wrong = form.clone();
    wrong[0].1 = "0".repeat(64);
    assert_eq!(submit(&app, &b, "/logout", &wrong).await.status(), 403);
    assert!(signed_in(&app, &b).await);
    // The confirmation: the session ends and the browser goes back, with state.
    let before = app.audit_count(Some("logout")).await;
    let r = submit(&app, &b, "/logout", &form).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{BYE}?state=st"));
    assert!(!signed_in(&app, &b).await);
    assert_eq!(app.audit_count(Some("logout")).await, before + 1);
}

#[tokio::test]
async fn logout_hints_are_verified_and_redirects_bound_to_their_client() {
    // Short ID tokens, long sessions: a hint can outlive its `exp` while the session lives.
    let app = spawn_app_now_with(|c| {
        c.tokens.id_token_lifetime = 60;
        c.sessions.idle = 86_400;
        c.sessions.absolute = 86_400;
    })
    .await;
    let (rp, other) = clients(&app).await;
    let alice = app.user("alice").await;
    let lib = Rp::new(&app, &rp.id, rp.secret.as_deref()).await;
    let other_lib = Rp::new(&app, &other.id, other.secret.as_deref()).await;
    let b = app.browser();
    let hint = lib.sign_in(&app, &b, &alice).await;
    let raw = hint.to_string();
    let access_token = app
        .password_tokens(
            &app.confidential_client("pw").grants(&["password"]).await,
            &alice,
            None,
        )
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // One signature character changed, well inside it (the last one carries padding bits).
    let at = raw.len() - 10;
    let flipped = if &raw[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &raw[..at], &raw[at + 1..]);
    // The same claims under `alg: none`, unsigned.
    let payload = raw.split('.').nth(1).unwrap();
    let unsigned = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");

    let get = |params: Vec<(&'static str, String)>| {
        let b = &b;
        let app = &app;
        async move {
            b.get(format!("{}/logout", app.public))
                .query(&params)
                .send()
                .await
                .unwrap()
        }
    };
    let refused: Vec<(&str, Vec<(&'static str, String)>)> = vec![
        ("a tampered signature", vec![("id_token_hint", tampered)]),
        ("alg none", vec![("id_token_hint", unsigned)]),
        ("an access token", vec![("id_token_hint", access_token)]),
        ("junk", vec![("id_token_hint", "not.a.jwt".into())]),
        (
            "a hint of another client than client_id",
            vec![
                ("id_token_hint", raw.clone()),
                ("client_id", "other".into()),
            ],
        ),
        (
            "the other client's target with rp's hint",
            vec![
                ("id_token_hint", raw.clone()),
                ("post_logout_redirect_uri", OTHER_BYE.into()),
            ],
        ),
        (
            "rp's target for the other client",
            vec![
                ("client_id", "other".into()),
                ("post_logout_redirect_uri", BYE.into()),
            ],
        ),
        (
            "a target without a client",
            vec![("post_logout_redirect_uri", BYE.into())],
        ),
        (
            "an unknown client",
            vec![
                ("client_id", "nobody".into()),
                ("post_logout_redirect_uri", BYE.into()),
            ],
        ),
    ];
    for (what, params) in refused {
        let r = get(params).await;
        assert_eq!(r.status(), 400, "{what}");
        assert!(r.headers().get("location").is_none(), "{what}");
        assert!(signed_in(&app, &b).await, "{what} ended the session");
    }
    // The other client's hint names the other client, which may send the browser to its
    // own target only (and it is not alice's session's client that matters, but the hint's).
    let b2 = app.browser();
    let others = other_lib.sign_in(&app, &b2, &alice).await;
    let r = b2
        .get(
            other_lib
                .logout()
                .set_id_token_hint(&others)
                .set_post_logout_redirect_uri(bye(OTHER_BYE))
                .http_get_url(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), OTHER_BYE);

    // Past its `exp`, the hint still names its client and user: the session ends at once.
    app.clock.advance(600);
    assert!(signed_in(&app, &b).await);
    let r = b
        .get(
            lib.logout()
                .set_id_token_hint(&hint)
                .set_post_logout_redirect_uri(bye(BYE))
                .set_state(CsrfToken::new("late".into()))
                .http_get_url(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{BYE}?state=late"));
    assert!(!signed_in(&app, &b).await);
}
