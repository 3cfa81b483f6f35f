//! Issue 22, item 6: where a person is signed in (`/account/sessions`: their real browser
//! sessions with device, address, started and last seen; sign out one or every other one)
//! and the applications they let in (`/account/apps`: consents with their scopes; revoke
//! ends the client's refresh families and forgets the consent). Operators see and end the
//! same browser sessions through the admin API and the CLI.

use portcullis::admin::table::Method;
use serde_json::json;

use crate::account::{page, post_form, sign_in};
use crate::helpers::{CALLBACK, TestApp, hidden, location, refresh_token, spawn_app, visit};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

/// A browser (cookies kept, no redirects followed) that says it is `user_agent`.
fn browser_as(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .build()
        .unwrap()
}

/// Does browser `b` still reach the account pages without signing in again?
async fn signed_in(app: &TestApp, b: &reqwest::Client) -> bool {
    let r = visit(app, b, &app.url("/account")).await;
    match r.status().as_u16() {
        200 => true,
        303 => {
            assert!(
                location(&r).contains("/login?request_id="),
                "{}",
                location(&r)
            );
            false
        }
        other => panic!("GET /account answered {other}"),
    }
}

/// The `sid` values of the sign-out forms on a sessions page (every session but this
/// browser's).
fn sids(html: &str) -> Vec<String> {
    html.split("name=\"sid\" value=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn sessions_are_listed_with_device_and_address_and_one_is_signed_out() {
    let app = spawn_app().await;
    let margot = app.user("margot").await;
    let (firefox, chrome) = (browser_as(FIREFOX), browser_as(CHROME));
    sign_in(&app, &firefox, &margot).await;
    sign_in(&app, &chrome, &margot).await;

    let html = page(&app, &firefox, "/account/sessions").await;
    assert!(html.contains("Firefox on Linux"), "{html}");
    assert!(html.contains("Chrome on Windows"), "{html}");
    assert!(
        html.contains("127.0.0.1"),
        "the address the rate limiter sees: {html}"
    );
    assert_eq!(html.matches("(this browser)").count(), 1, "{html}");
    // This browser's session is listed first and marked; only the other has a form.
    let (this, other) = (
        html.find("Firefox on Linux").unwrap(),
        html.find("Chrome on Windows").unwrap(),
    );
    let marked = html.find("(this browser)").unwrap();
    assert!(this < marked && marked < other, "{html}");
    let others = sids(&html);
    assert_eq!(others.len(), 1, "{html}");

    // The admin API sees the same sessions, with device and address.
    let listed = app
        .state
        .service
        .list_user_sessions("margot")
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    let chrome_sid = listed
        .iter()
        .find(|s| s.device == "Chrome on Windows")
        .map(|s| s.id.clone())
        .unwrap();
    assert_eq!(others, vec![chrome_sid.clone()]);
    assert!(listed.iter().all(|s| s.ip.as_deref() == Some("127.0.0.1")));
    assert!(listed.iter().all(|s| s.last_seen_at >= s.created_at));

    let r = post_form(
        &app,
        &firefox,
        "/account/sessions/end",
        &html,
        &[("sid", &chrome_sid)],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/sessions?done=session");
    assert!(
        !signed_in(&app, &chrome).await,
        "its cookie no longer works"
    );
    assert!(signed_in(&app, &firefox).await, "this browser stays");
    assert_eq!(app.audit_count(Some("session.ended")).await, 1);
    let after = page(&app, &firefox, "/account/sessions?done=session").await;
    assert!(!after.contains("Chrome on Windows"), "{after}");
    assert!(after.contains("The session was signed out."), "{after}");
}

#[tokio::test]
async fn signing_out_every_other_session_keeps_this_one() {
    let app = spawn_app().await;
    let nadia = app.user("nadia").await;
    let (a, b, c) = (browser_as(FIREFOX), browser_as(CHROME), browser_as(SAFARI));
    for browser in [&a, &b, &c] {
        sign_in(&app, browser, &nadia).await;
    }
    let html = page(&app, &a, "/account/sessions").await;
    assert_eq!(sids(&html).len(), 2);
    assert!(html.contains("Safari on iPhone"), "{html}");

    let r = post_form(&app, &a, "/account/sessions/end-others", &html, &[]).await;
    assert_eq!(location(&r), "/account/sessions?done=others");
    assert!(signed_in(&app, &a).await);
    assert!(!signed_in(&app, &b).await);
    assert!(!signed_in(&app, &c).await);
    assert_eq!(app.audit_count(Some("session.ended_others")).await, 1);
    let after = page(&app, &a, "/account/sessions?done=others").await;
    assert!(
        after.contains("Every other session was signed out."),
        "{after}"
    );
    assert!(sids(&after).is_empty());
    assert!(after.contains("signed in nowhere else"), "{after}");

    // Signing out this browser's own session from the list signs it out.
    let sid = app.state.service.list_user_sessions("nadia").await.unwrap()[0]
        .id
        .clone();
    // (The token of the page before still holds: it is bound to this browser's session.)
    let r = post_form(&app, &a, "/account/sessions/end", &html, &[("sid", &sid)]).await;
    assert_eq!(location(&r), "/account");
    assert!(!signed_in(&app, &a).await);
}

#[tokio::test]
async fn a_person_cannot_end_someone_elses_session_and_forms_need_their_token() {
    let app = spawn_app().await;
    let (olga, pavel) = (app.user("olga").await, app.user("pavel").await);
    let (olgas, olgas_phone, pavels) =
        (browser_as(FIREFOX), browser_as(SAFARI), browser_as(CHROME));
    sign_in(&app, &olgas, &olga).await;
    sign_in(&app, &olgas_phone, &olga).await;
    sign_in(&app, &pavels, &pavel).await;
    let pavel_sid = app.state.service.list_user_sessions("pavel").await.unwrap()[0]
        .id
        .clone();

    let html = page(&app, &olgas, "/account/sessions").await;
    let r = post_form(
        &app,
        &olgas,
        "/account/sessions/end",
        &html,
        &[("sid", &pavel_sid)],
    )
    .await;
    assert_eq!(location(&r), "/account/sessions?done=nothing");
    assert!(
        signed_in(&app, &pavels).await,
        "another user's session is untouched"
    );
    assert!(signed_in(&app, &olgas_phone).await);

    // Without this browser's token for this session, nothing is ended.
    let forged = crate::helpers::submit(
        &app,
        &olgas,
        "/account/sessions/end-others",
        &[("csrf_token", "0".repeat(64))],
    )
    .await;
    assert_eq!(forged.status(), 403);
    assert!(signed_in(&app, &olgas_phone).await);
    assert_eq!(app.audit_count(Some("session.ended")).await, 0);
}

#[tokio::test]
async fn operators_list_and_end_browser_sessions() {
    let app = spawn_app().await;
    let quinn = app.user("quinn").await;
    let (a, b) = (browser_as(FIREFOX), browser_as(SAFARI));
    sign_in(&app, &a, &quinn).await;
    sign_in(&app, &b, &quinn).await;
    let token = crate::admin::admin_token(&app, &["admin"]).await;

    let (status, listed) = crate::admin::call(
        &app,
        Method::Get,
        "/admin/v1/users/quinn/sessions",
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let safari = listed
        .iter()
        .find(|s| s["device"] == "Safari on iPhone")
        .unwrap();
    assert_eq!(safari["ip"], "127.0.0.1");
    assert_eq!(safari["user_agent"], SAFARI);
    assert!(safari["created_at"].as_i64().is_some());
    assert!(safari["last_seen_at"].as_i64().is_some());
    let sid = safari["id"].as_str().unwrap().to_owned();

    // Ending one: 204, and that browser is signed out; the other stays.
    let (status, _) = crate::admin::call(
        &app,
        Method::Delete,
        &format!("/admin/v1/users/quinn/sessions/{sid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(!signed_in(&app, &b).await);
    assert!(signed_in(&app, &a).await);
    // Again: no such session. Another user's session id under this user: none either.
    let (status, body) = crate::admin::call(
        &app,
        Method::Delete,
        &format!("/admin/v1/users/quinn/sessions/{sid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let rhea = app.user("rhea").await;
    let c = browser_as(CHROME);
    sign_in(&app, &c, &rhea).await;
    let rhea_sid = app.state.service.list_user_sessions("rhea").await.unwrap()[0]
        .id
        .clone();
    let (status, _) = crate::admin::call(
        &app,
        Method::Delete,
        &format!("/admin/v1/users/quinn/sessions/{rhea_sid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(signed_in(&app, &c).await);

    // The CLI lists and ends the same sessions.
    let db = app.db.clone();
    let shown = tokio::task::spawn_blocking(move || {
        crate::cli::ok_json(&db, &["user", "sessions", "rhea"], None)
    })
    .await
    .unwrap();
    assert_eq!(shown[0]["id"], json!(rhea_sid));
    assert_eq!(shown[0]["device"], "Chrome on Windows");
    let db = app.db.clone();
    let sid = rhea_sid.clone();
    let ended = tokio::task::spawn_blocking(move || {
        crate::cli::ok_json(&db, &["user", "end-session", "rhea", &sid], None)
    })
    .await
    .unwrap();
    assert_eq!(ended["ended"], json!(rhea_sid));
    assert!(!signed_in(&app, &c).await);
    assert_eq!(app.audit_count(Some("session.ended")).await, 2);
}

#[tokio::test]
async fn a_revoked_app_loses_its_refresh_tokens_and_must_ask_again() {
    let app = spawn_app().await;
    let rp = app
        .confidential_client("photos")
        .name("Photo Album")
        .grants(&["authorization_code", "refresh_token"])
        .redirect_uris(&[CALLBACK])
        .scope("openid email offline_access")
        .await;
    let sofia = app.user("sofia").with_profile().await;
    let b = browser_as(FIREFOX);
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let auth_url = app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", "photos"),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email offline_access"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let code = app.login(&b, &auth_url, &sofia).await.code();
    let tokens = app
        .tokens(
            &rp,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    let refresh = refresh_token(&tokens);

    // Listed with its name and scopes.
    let html = page(&app, &b, "/account/apps").await;
    assert!(html.contains("Photo Album"), "{html}");
    assert!(html.contains("(photos)"), "{html}");
    assert!(html.contains("email, offline_access, openid"), "{html}");
    assert_eq!(hidden(&html, "client_id"), "photos");

    let r = post_form(
        &app,
        &b,
        "/account/apps/revoke",
        &html,
        &[("client_id", "photos")],
    )
    .await;
    assert_eq!(location(&r), "/account/apps?done=revoked");
    let after = page(&app, &b, "/account/apps").await;
    assert!(!after.contains("Photo Album"), "{after}");
    assert_eq!(app.audit_count(Some("app.revoked")).await, 1);

    // The refresh token is refused at /token.
    let (status, body) = app
        .token_request(
            &rp,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The next sign-in through it asks for consent again (the session itself stays).
    let r = b.get(&auth_url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/consent?"), "{}", location(&r));

    // Revoking what is not there changes nothing.
    let r = post_form(
        &app,
        &b,
        "/account/apps/revoke",
        &html,
        &[("client_id", "photos")],
    )
    .await;
    assert_eq!(location(&r), "/account/apps?done=nothing");
    assert_eq!(app.audit_count(Some("app.revoked")).await, 1);
}
