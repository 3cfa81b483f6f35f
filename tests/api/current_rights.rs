//! Tokens follow current rights (issue 18, item 2): a refresh gives what the client may
//! still be given and the roles the user still holds; a disabled or deleted user or client
//! keeps nothing; setting a password or disabling a user signs them out everywhere; a
//! client_id registered again does not inherit the old registration's tokens; a client's
//! own token never names a user.

use std::sync::Arc;

use diesel::prelude::*;
use portcullis::manage::Actor;
use portcullis::manage::clients::ClientUpdate;
use portcullis::store::schema::{authorization_codes, clients, sessions};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::helpers::{
    CALLBACK, TestApp, TestClient, TestDb, TestUser, access_token, location, post_with_basic,
    query_param, refresh_token, spawn_app, spawn_app_with,
};

/// A PKCE verifier and its S256 challenge (BASE64URL(SHA-256(verifier)), computed apart).
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0bZ2P5YQnE-1pKHrCDN1VlhFb13c";
const CHALLENGE: &str = "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8";
const SCOPE: &str = "openid email offline_access api:read";

/// A resource server that may introspect access and refresh tokens.
async fn resource_server(app: &TestApp) -> TestClient {
    app.confidential_client("rs")
        .grants(&["client_credentials"])
        .scope("api:read")
        .roles(&["introspector", "refresh_introspector"])
        .await
}

/// A first-party web client with the password and code grants and refresh tokens.
async fn web(app: &TestApp) -> TestClient {
    app.confidential_client("web")
        .grants(&["authorization_code", "password", "refresh_token"])
        .redirect_uris(&[CALLBACK])
        .scope(SCOPE)
        .first_party()
        .await
}

async fn introspect(app: &TestApp, rs: &TestClient, token: &str) -> Value {
    let r = post_with_basic(app, "/introspect", &[("token", token)], rs.basic()).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn refresh(
    app: &TestApp,
    client: &TestClient,
    rt: &str,
    scope: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", rt)];
    form.extend(scope.map(|s| ("scope", s)));
    app.token_request(client, &form).await
}

/// The status and `error` of a refresh expected to fail.
async fn refused(app: &TestApp, client: &TestClient, rt: &str) -> (u16, String) {
    let (status, body) = refresh(app, client, rt, None).await;
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn userinfo(app: &TestApp, token: &str) -> (u16, String) {
    let r = app
        .http
        .get(format!("{}/userinfo", app.public))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, challenge)
}

/// The claims of one of our JWTs, read without verification (the test knows its source).
fn claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn scope_of(jwt: &str) -> String {
    claims(jwt)["scope"].as_str().unwrap_or_default().to_owned()
}

fn set_scopes(scopes: &[&str]) -> ClientUpdate {
    ClientUpdate {
        scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

fn set_disabled(disabled: bool) -> ClientUpdate {
    ClientUpdate {
        disabled: Some(disabled),
        ..Default::default()
    }
}

async fn update_client(app: &TestApp, client_id: &str, change: ClientUpdate) {
    app.state
        .service
        .update_client(&Actor::cli(), client_id, change)
        .await
        .unwrap();
}

fn authorize_params(client_id: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("scope", "openid offline_access"),
        ("state", "st"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

/// What a user holds after signing in everywhere a test looks: a browser session, a
/// code handed out but not yet redeemed, a refresh family from the code flow and one from
/// the password grant, and their access tokens.
struct SignedIn {
    browser: reqwest::Client,
    code: String,
    families: Vec<(String, String)>,
}

async fn sign_in_everywhere(app: &TestApp, web: &TestClient, user: &TestUser) -> SignedIn {
    let browser = app.browser();
    let back = app
        .login(&browser, &app.authorize_url(&authorize_params("web")), user)
        .await;
    let first = back.code();
    let from_code = app
        .tokens(
            web,
            &[
                ("grant_type", "authorization_code"),
                ("code", &first),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    // A second code from the same session, left unredeemed.
    let code = app
        .login(&browser, &app.authorize_url(&authorize_params("web")), user)
        .await
        .code();
    let from_password = app.password_tokens(web, user, Some(SCOPE)).await;
    let families = [from_code, from_password]
        .iter()
        .map(|body| (access_token(body), refresh_token(body)))
        .collect();
    SignedIn {
        browser,
        code,
        families,
    }
}

/// Nothing `sign_in_everywhere` made still works: the browser must sign in again, the
/// unredeemed code is gone, every refresh token is `invalid_grant`, every access token is
/// inactive and refused at userinfo.
async fn assert_signed_out(app: &TestApp, rs: &TestClient, web: &TestClient, s: &SignedIn) {
    let r = s
        .browser
        .get(app.authorize_url(&[authorize_params("web"), vec![("prompt", "none")]].concat()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        query_param(&location(&r), "error").as_deref(),
        Some("login_required"),
        "the browser session ended"
    );
    let (status, body) = app
        .token_request(
            web,
            &[
                ("grant_type", "authorization_code"),
                ("code", &s.code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    for (at, rt) in &s.families {
        assert_eq!(
            refused(app, web, rt).await,
            (400, "invalid_grant".to_owned())
        );
        assert_eq!(
            introspect(app, rs, rt).await,
            serde_json::json!({"active": false})
        );
        assert_eq!(
            introspect(app, rs, at).await,
            serde_json::json!({"active": false})
        );
        let (status, challenge) = userinfo(app, at).await;
        assert_eq!(status, 401);
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
}

/// Rows the sign-out must have removed, read straight from the database.
async fn sessions_and_pending_codes(app: &TestApp, user_id: &str) -> (i64, i64) {
    let id = user_id.to_owned();
    app.state
        .store
        .run(move |conn| {
            Ok((
                sessions::table
                    .filter(sessions::user_id.eq(&id))
                    .count()
                    .get_result(conn)?,
                authorization_codes::table
                    .filter(authorization_codes::user_id.eq(&id))
                    .filter(authorization_codes::consumed_at.is_null())
                    .count()
                    .get_result(conn)?,
            ))
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_refresh_narrows_to_the_clients_current_scopes() {
    let app = spawn_app().await;
    let web = web(&app).await;
    let alice = app.user("alice").await;
    let body = app.password_tokens(&web, &alice, Some(SCOPE)).await;
    assert_eq!(
        scope_of(&access_token(&body)),
        "api:read email offline_access openid"
    );

    // The client may no longer be given `api:read` or `email`.
    update_client(&app, "web", set_scopes(&["openid", "offline_access"])).await;
    let (status, body) = refresh(&app, &web, &refresh_token(&body), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "offline_access openid");
    assert_eq!(scope_of(&access_token(&body)), "offline_access openid");

    // Asking for a scope it lost is asking for more than it may have.
    let (status, refused_body) =
        refresh(&app, &web, &refresh_token(&body), Some("openid api:read")).await;
    assert_eq!(
        (status, refused_body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // Given back, a scope returns only as far as the user granted it.
    update_client(
        &app,
        "web",
        set_scopes(&["openid", "offline_access", "email", "api:write"]),
    )
    .await;
    let (status, body) = refresh(&app, &web, &refresh_token(&body), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        scope_of(&access_token(&body)),
        "email offline_access openid"
    );

    // Without `offline_access` the client keeps no refresh tokens at all.
    update_client(&app, "web", set_scopes(&["openid", "email"])).await;
    assert_eq!(
        refused(&app, &web, &refresh_token(&body)).await,
        (400, "invalid_grant".to_owned())
    );
}

#[tokio::test]
async fn a_refresh_narrows_to_the_users_current_roles() {
    let app = spawn_app().await;
    let web = web(&app).await;
    let alice = app.user("alice").roles(&["reader", "writer"]).await;
    let body = app.password_tokens(&web, &alice, Some(SCOPE)).await;
    assert_eq!(
        claims(&access_token(&body))["roles"],
        serde_json::json!(["reader", "writer"])
    );
    app.state
        .service
        .remove_user_role(&Actor::cli(), "alice", "writer")
        .await
        .unwrap();
    let (status, body) = refresh(&app, &web, &refresh_token(&body), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(&access_token(&body))["roles"],
        serde_json::json!(["reader"])
    );
    // A role added since is not in the grant's past, but it is the user's now.
    app.state
        .service
        .add_user_role(&Actor::cli(), "alice", "auditor")
        .await
        .unwrap();
    let (status, body) = refresh(&app, &web, &refresh_token(&body), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(&access_token(&body))["roles"],
        serde_json::json!(["auditor", "reader"])
    );
}

#[tokio::test]
async fn a_disabled_or_deleted_user_gets_invalid_grant() {
    let app = spawn_app().await;
    let rs = resource_server(&app).await;
    let web = web(&app).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let alices = app.password_tokens(&web, &alice, Some(SCOPE)).await;
    let bobs = app.password_tokens(&web, &bob, Some(SCOPE)).await;

    app.state
        .service
        .set_user_disabled(&Actor::cli(), "alice", true)
        .await
        .unwrap();
    assert_eq!(
        refused(&app, &web, &refresh_token(&alices)).await,
        (400, "invalid_grant".to_owned())
    );
    // Enabled again, she signs in again: the old family stays dead.
    app.state
        .service
        .set_user_disabled(&Actor::cli(), "alice", false)
        .await
        .unwrap();
    assert_eq!(
        refused(&app, &web, &refresh_token(&alices)).await,
        (400, "invalid_grant".to_owned())
    );
    assert_eq!(
        introspect(&app, &rs, &access_token(&alices)).await,
        serde_json::json!({"active": false})
    );

    app.state
        .service
        .delete_user(&Actor::cli(), "bob")
        .await
        .unwrap();
    assert_eq!(
        refused(&app, &web, &refresh_token(&bobs)).await,
        (400, "invalid_grant".to_owned())
    );
    assert_eq!(
        introspect(&app, &rs, &access_token(&bobs)).await,
        serde_json::json!({"active": false})
    );
}

#[tokio::test]
async fn a_disabled_client_gets_invalid_grant_or_invalid_client() {
    // A client record cached for a long time, so the refresh itself must see the client
    // as the database holds it, whatever client authentication remembered.
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.tokens.client_cache = std::time::Duration::from_secs(60);
    })
    .await;
    let rs = resource_server(&app).await;
    let web = web(&app).await;
    let alice = app.user("alice").await;

    // Disabled by an operator's own SQL: no grant is revoked, the row alone says no.
    let body = app.password_tokens(&web, &alice, Some(SCOPE)).await;
    let rt = refresh_token(&body);
    let sql_disable = |disabled: bool| {
        app.state.store.run(move |conn| {
            diesel::update(clients::table.find("web"))
                .set(clients::disabled.eq(disabled))
                .execute(conn)?;
            Ok(())
        })
    };
    sql_disable(true).await.unwrap();
    let (status, error) = refused(&app, &web, &rt).await;
    assert!(
        (status, error.as_str()) == (400, "invalid_grant")
            || (status, error.as_str()) == (401, "invalid_client"),
        "{status} {error}"
    );
    // Nothing was spent: that family was not ended, the client was only switched off.
    sql_disable(false).await.unwrap();
    let (status, body) = refresh(&app, &web, &rt, None).await;
    assert_eq!(status, 200, "{body}");

    // Disabled by an operator through the service: its grants end with it.
    update_client(&app, "web", set_disabled(true)).await;
    let (status, error) = refused(&app, &web, &refresh_token(&body)).await;
    assert!(
        (status, error.as_str()) == (400, "invalid_grant")
            || (status, error.as_str()) == (401, "invalid_client"),
        "{status} {error}"
    );
    update_client(&app, "web", set_disabled(false)).await;
    assert_eq!(
        refused(&app, &web, &refresh_token(&body)).await,
        (400, "invalid_grant".to_owned()),
        "enabling the client again revives none of its grants"
    );
    assert_eq!(
        introspect(&app, &rs, &refresh_token(&body)).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect(&app, &rs, &access_token(&body)).await,
        serde_json::json!({"active": false})
    );
    // New sign-ins work again.
    let fresh = app.password_tokens(&web, &alice, Some(SCOPE)).await;
    assert_eq!(
        introspect(&app, &rs, &access_token(&fresh)).await["active"],
        true
    );
}

#[tokio::test]
async fn setting_a_password_ends_sessions_and_refresh_families() {
    let app = spawn_app().await;
    let rs = resource_server(&app).await;
    let web = web(&app).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let signed_in = sign_in_everywhere(&app, &web, &alice).await;
    let bobs = sign_in_everywhere(&app, &web, &bob).await;
    assert_eq!(sessions_and_pending_codes(&app, &alice.id).await, (1, 1));

    app.state
        .service
        .set_password(
            &Actor::cli(),
            "alice",
            Zeroizing::new("a new password, long enough".into()),
        )
        .await
        .unwrap();
    assert_eq!(sessions_and_pending_codes(&app, &alice.id).await, (0, 0));
    assert_signed_out(&app, &rs, &web, &signed_in).await;
    assert_eq!(app.audit_count(Some("user.password_set")).await, 1);

    // Another user's sign-ins are untouched.
    let (at, rt) = &bobs.families[0];
    assert_eq!(introspect(&app, &rs, at).await["active"], true);
    let (status, _) = refresh(&app, &web, rt, None).await;
    assert_eq!(status, 200);

    // An import that changes Bob's password does the same to him.
    let mut bundle = app.state.service.export_bundle(true).await.unwrap();
    let alice_hash = bundle
        .users
        .iter()
        .find(|u| u.username == "alice")
        .and_then(|u| u.password_hash.clone())
        .unwrap();
    let bob_row = bundle
        .users
        .iter_mut()
        .find(|u| u.username == "bob")
        .unwrap();
    bob_row.password_hash = Some(alice_hash);
    let bob_again = sign_in_everywhere(&app, &web, &bob).await;
    app.state
        .service
        .import_bundle(&Actor::cli(), bundle, true)
        .await
        .unwrap();
    assert_eq!(sessions_and_pending_codes(&app, &bob.id).await, (0, 0));
    assert_signed_out(&app, &rs, &web, &bob_again).await;
}

#[tokio::test]
async fn disabling_a_user_ends_sessions_and_refresh_families() {
    let app = spawn_app().await;
    let rs = resource_server(&app).await;
    let web = web(&app).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let signed_in = sign_in_everywhere(&app, &web, &alice).await;

    app.state
        .service
        .set_user_disabled(&Actor::cli(), "alice", true)
        .await
        .unwrap();
    assert_eq!(sessions_and_pending_codes(&app, &alice.id).await, (0, 0));
    // Enabled again: what was ended stays ended.
    app.state
        .service
        .set_user_disabled(&Actor::cli(), "alice", false)
        .await
        .unwrap();
    assert_signed_out(&app, &rs, &web, &signed_in).await;

    // An import that disables a user does the same.
    let bobs = sign_in_everywhere(&app, &web, &bob).await;
    let mut bundle = app.state.service.export_bundle(false).await.unwrap();
    bundle
        .users
        .iter_mut()
        .find(|u| u.username == "bob")
        .unwrap()
        .disabled = true;
    app.state
        .service
        .import_bundle(&Actor::cli(), bundle, false)
        .await
        .unwrap();
    assert_eq!(sessions_and_pending_codes(&app, &bob.id).await, (0, 0));
    app.state
        .service
        .set_user_disabled(&Actor::cli(), "bob", false)
        .await
        .unwrap();
    assert_signed_out(&app, &rs, &web, &bobs).await;
}

#[tokio::test]
async fn a_client_registered_again_does_not_revive_old_tokens() {
    // No client cache: the new registration's secret works at once.
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.tokens.client_cache = std::time::Duration::ZERO;
    })
    .await;
    let rs = resource_server(&app).await;
    let web = web(&app).await;
    let alice = app.user("alice").await;
    let register_svc = || {
        app.confidential_client("svc")
            .grants(&["client_credentials"])
            .scope("api:read admin")
            .roles(&["admin"])
    };
    let svc = register_svc().await;
    let old_user_token = access_token(&app.password_tokens(&web, &alice, Some(SCOPE)).await);
    let old_cc_token = app.cc_token(&svc, Some("api:read admin")).await;
    let admin_api = |token: String| {
        let url = format!("{}/admin/v1/clients", app.admin);
        let http = app.http.clone();
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(admin_api(old_cc_token.clone()).await, 200);

    for id in ["web", "svc"] {
        app.state
            .service
            .delete_client(&Actor::cli(), id)
            .await
            .unwrap();
    }
    let web = crate::current_rights::web(&app).await;
    let svc = register_svc().await;
    let new_user_token = access_token(&app.password_tokens(&web, &alice, Some(SCOPE)).await);
    let new_cc_token = app.cc_token(&svc, Some("api:read admin")).await;
    assert_ne!(
        claims(&old_cc_token)["client_instance"],
        claims(&new_cc_token)["client_instance"]
    );

    for old in [&old_user_token, &old_cc_token] {
        assert_eq!(
            introspect(&app, &rs, old).await,
            serde_json::json!({"active": false})
        );
    }
    let (status, challenge) = userinfo(&app, &old_user_token).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"), "{challenge}");
    assert_eq!(admin_api(old_cc_token).await, 401);

    // The new registration's own tokens work.
    for new in [&new_user_token, &new_cc_token] {
        assert_eq!(introspect(&app, &rs, new).await["active"], true);
    }
    assert_eq!(userinfo(&app, &new_user_token).await.0, 200);
    assert_eq!(admin_api(new_cc_token).await, 200);
}

#[tokio::test]
async fn a_client_credentials_sub_is_never_a_user_id() {
    let app = spawn_app().await;
    let rs = resource_server(&app).await;
    let svc = app
        .confidential_client("svc")
        .grants(&["client_credentials"])
        .scope("openid api:read")
        .await;
    // A user whose id is the client's id (ids are free-form on import).
    app.user("alice").await;
    let mut bundle = app.state.service.export_bundle(false).await.unwrap();
    let mut namesake = bundle.users[0].clone();
    namesake.id = "svc".into();
    namesake.username = "namesake".into();
    bundle.users.push(namesake.clone());
    app.state
        .service
        .import_bundle(&Actor::cli(), bundle.clone(), false)
        .await
        .unwrap();

    let token = app.cc_token(&svc, Some("openid api:read")).await;
    assert_eq!(claims(&token)["sub"], "client:svc");
    let seen = introspect(&app, &rs, &token).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["sub"], "client:svc");
    assert!(seen.get("username").is_none(), "{seen}");
    // Userinfo speaks for users only: a client's own token names none, not even the
    // user whose id is the client's.
    let (status, challenge) = userinfo(&app, &token).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"), "{challenge}");

    // And no user may take the prefix of a client's `sub`.
    let mut impostor = namesake;
    impostor.id = "client:svc".into();
    impostor.username = "impostor".into();
    bundle.users.push(impostor);
    let err = app
        .state
        .service
        .import_bundle(&Actor::cli(), bundle, false)
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("id"), "{err}");
    let users = app.state.service.list_users(None, 0, 100).await.unwrap();
    assert!(users.iter().all(|u| !u.id.starts_with("client:")));
}
