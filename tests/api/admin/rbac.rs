//! Admin authentication and authorization: every route of the table answers 401 without
//! a token, 403 without the admin scope or the route's permission, and succeeds for each
//! role that holds it; role changes, revocations and disabled accounts act at once.

use std::collections::BTreeMap;

use portcullis::admin::rbac::Permission;
use portcullis::admin::routes::ADMIN_API;
use portcullis::admin::table::{AdminRoute, Method};
use portcullis::clock::Clock;
use portcullis::manage::Actor;
use serde_json::{Value, json};

use super::{admin_token, call, new_user, ok, send, service_account};
use crate::helpers::{
    TestApp, access_token, post_with_basic, spawn_app, spawn_app_without_mfa_roles,
};

/// The roles matrix of the issue, written out independently of `Role::grants`.
fn roles_for(permission: Permission) -> &'static [&'static str] {
    match permission {
        Permission::ClientsRead => &["admin", "operator", "auditor"],
        Permission::ClientsWrite => &["admin", "operator"],
        Permission::UsersRead => &["admin", "operator", "auditor"],
        Permission::UsersWrite => &["admin"],
        Permission::KeysRead => &["admin", "operator", "auditor"],
        Permission::KeysWrite => &["admin", "operator"],
        Permission::AuditRead => &["admin", "auditor"],
        Permission::DoctorRead => &["admin", "auditor"],
    }
}

/// A client with a generated client_id, for routes that act on one.
async fn new_client(app: &TestApp) -> String {
    app.confidential_client("unused")
        .with(|c| c.client_id = None)
        .name("walk")
        .grants(&["client_credentials"])
        .scope("api")
        .await
        .id
}

/// A concrete request for `route`, with fresh objects to act on, so that destructive
/// routes can succeed once per role. A route without a fixture fails the walk: adding a
/// route means adding it here.
async fn fixture(app: &TestApp, route: &AdminRoute) -> (String, Option<Value>) {
    let n = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("walk-{n}");
    match (route.method, route.path) {
        (Method::Get, "/admin/v1/clients")
        | (Method::Get, "/admin/v1/users")
        | (Method::Get, "/admin/v1/keys")
        | (Method::Post, "/admin/v1/keys/rotate")
        | (Method::Post, "/admin/v1/keys/rewrap")
        | (Method::Get, "/admin/v1/audit")
        | (Method::Get, "/admin/v1/audit/verify")
        | (Method::Get, "/admin/v1/doctor") => (route.path.to_owned(), None),
        (Method::Post, "/admin/v1/clients") => (
            route.path.to_owned(),
            Some(
                json!({ "client_name": "walk", "grant_types": ["client_credentials"], "scope": "api" }),
            ),
        ),
        (Method::Patch, "/admin/v1/clients/{client_id}") => (
            format!("/admin/v1/clients/{}", new_client(app).await),
            Some(json!({ "client_name": "renamed" })),
        ),
        (Method::Get | Method::Delete, "/admin/v1/clients/{client_id}") => {
            (format!("/admin/v1/clients/{}", new_client(app).await), None)
        }
        (Method::Post, "/admin/v1/clients/{client_id}/rotate-secret") => (
            format!("/admin/v1/clients/{}/rotate-secret", new_client(app).await),
            None,
        ),
        (Method::Post, "/admin/v1/clients/{client_id}/promote") => {
            let registered = app
                .confidential_client("unused")
                .with(|c| {
                    c.client_id = None;
                    c.origin = Some(portcullis::oauth::client::ClientOrigin::Registration);
                })
                .grants(&["client_credentials"])
                .scope("api")
                .await
                .id;
            (format!("/admin/v1/clients/{registered}/promote"), None)
        }
        (Method::Post, "/admin/v1/registration-tokens") => {
            (route.path.to_owned(), Some(json!({ "uses": 1 })))
        }
        (Method::Post, "/admin/v1/users") => (
            route.path.to_owned(),
            Some(json!({ "username": format!("new-{n}") })),
        ),
        (Method::Get | Method::Delete, "/admin/v1/users/{user}") => (
            format!("/admin/v1/users/{}", new_user(app, &name, &["staff"]).await),
            None,
        ),
        (Method::Patch, "/admin/v1/users/{user}") => (
            format!("/admin/v1/users/{}", new_user(app, &name, &["staff"]).await),
            Some(json!({ "name": "Renamed" })),
        ),
        (Method::Post, "/admin/v1/users/{user}/disable") => (
            format!(
                "/admin/v1/users/{}/disable",
                new_user(app, &name, &["staff"]).await
            ),
            None,
        ),
        (Method::Post, "/admin/v1/users/{user}/enable") => (
            format!(
                "/admin/v1/users/{}/enable",
                new_user(app, &name, &["staff"]).await
            ),
            None,
        ),
        (Method::Post, "/admin/v1/users/{user}/password") => (
            format!(
                "/admin/v1/users/{}/password",
                new_user(app, &name, &["staff"]).await
            ),
            Some(json!({ "password": "another long password" })),
        ),
        (Method::Put, "/admin/v1/users/{user}/roles/{role}") => (
            format!(
                "/admin/v1/users/{}/roles/auditor",
                new_user(app, &name, &["staff"]).await
            ),
            None,
        ),
        (Method::Delete, "/admin/v1/users/{user}/roles/{role}") => (
            format!(
                "/admin/v1/users/{}/roles/staff",
                new_user(app, &name, &["staff"]).await
            ),
            None,
        ),
        (Method::Get | Method::Delete, "/admin/v1/users/{user}/sessions") => (
            format!(
                "/admin/v1/users/{}/sessions",
                new_user(app, &name, &["staff"]).await
            ),
            None,
        ),
        (Method::Delete, "/admin/v1/users/{user}/sessions/{session}") => {
            let user = new_user(app, &name, &["staff"]).await;
            let sid = super::browser_session(app, &user).await;
            (format!("/admin/v1/users/{user}/sessions/{sid}"), None)
        }
        (Method::Get, "/admin/v1/users/{user}/grants") => (
            format!(
                "/admin/v1/users/{}/grants",
                new_user(app, &name, &["staff"]).await
            ),
            None,
        ),
        (Method::Get | Method::Delete, "/admin/v1/users/{user}/factors") => (
            format!(
                "/admin/v1/users/{}/factors",
                new_user(app, &name, &["staff"]).await
            ),
            None,
        ),
        (Method::Post, "/admin/v1/keys/{kid}/retire") => {
            let outcome = app.state.keys.rotate(app.clock.now(), false).await.unwrap();
            (format!("/admin/v1/keys/{}/retire", outcome.next_kid), None)
        }
        (method, path) => panic!(
            "no fixture for {} {path}: add one to the RBAC walk",
            method.as_str()
        ),
    }
}

#[tokio::test]
async fn every_admin_route_answers_401_403_and_success_by_role() {
    let app = spawn_app().await;
    let mut tokens = BTreeMap::new();
    for role in ["admin", "operator", "auditor", "staff"] {
        tokens.insert(role, admin_token(&app, &[role]).await);
    }
    // The admin role, but a token without the admin scope.
    let account = service_account(&app, "no-admin-scope", &["admin"], "api").await;
    let unscoped = app.cc_token(&account, None).await;

    assert!(ADMIN_API.len() >= 24, "the table lost routes");
    for route in ADMIN_API {
        let what = format!("{} {}", route.method.as_str(), route.path);
        let (path, body) = fixture(&app, route).await;

        let r = send(&app, route.method, &path, None, body.as_ref()).await;
        assert_eq!(r.status(), 401, "{what} without a token");
        assert_eq!(
            r.headers()["www-authenticate"],
            r#"Bearer realm="portcullis""#,
            "{what}"
        );

        let r = send(
            &app,
            route.method,
            &path,
            Some("not.a.token"),
            body.as_ref(),
        )
        .await;
        assert_eq!(r.status(), 401, "{what} with a forged token");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains(r#"error="invalid_token""#),
            "{what}"
        );

        let r = send(&app, route.method, &path, Some(&unscoped), body.as_ref()).await;
        assert_eq!(r.status(), 403, "{what} without the admin scope");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains(r#"error="insufficient_scope""#),
            "{what}"
        );

        let allowed = roles_for(route.permission);
        for (role, token) in &tokens {
            let (path, body) = fixture(&app, route).await;
            let (status, json) = call(&app, route.method, &path, token, body).await;
            if allowed.contains(role) {
                assert!(
                    (200..300).contains(&status),
                    "{what} as {role}: {status} {json}"
                );
            } else {
                assert_eq!(status, 403, "{what} as {role}: {json}");
                assert_eq!(json["error"], "access_denied", "{what}");
                assert!(
                    json["error_description"]
                        .as_str()
                        .unwrap()
                        .contains(route.permission.as_str()),
                    "{what}: {json}"
                );
            }
        }
    }
}

#[tokio::test]
async fn roles_and_revocation_take_effect_at_once() {
    let app = spawn_app_without_mfa_roles().await;
    // A person with the admin role logs in through a console client (password grant).
    let root = app.user("root").roles(&["admin"]).await;
    let admin_id = root.id.clone();
    new_user(&app, "second", &["admin"]).await;
    let console = app
        .confidential_client("console")
        .grants(&["password"])
        .scope("admin")
        .await;
    let login = async || access_token(&app.password_tokens(&console, &root, Some("admin")).await);
    let token = login().await;

    let (status, body) = call(&app, Method::Get, "/admin/v1/users", &token, None).await;
    assert_eq!(status, 200, "{body}");
    // Changes are audited with the person as the actor.
    let (status, _) = call(
        &app,
        Method::Put,
        "/admin/v1/users/second/roles/auditor",
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (_, page) = call(
        &app,
        Method::Get,
        "/admin/v1/audit?type=user.role_added",
        &token,
        None,
    )
    .await;
    assert_eq!(page["items"][0]["actor"], format!("user:{admin_id}"));
    assert_eq!(
        page["items"][0]["details"]["before"]["roles"],
        json!(["admin"])
    );
    assert_eq!(
        page["items"][0]["details"]["after"]["roles"],
        json!(["admin", "auditor"])
    );

    // Taking the role away works at the next request, not when the token expires.
    app.state
        .service
        .remove_user_role(&Actor::cli(), "root", "admin")
        .await
        .unwrap();
    let (status, _) = call(&app, Method::Get, "/admin/v1/users", &token, None).await;
    assert_eq!(status, 403);
    app.state
        .service
        .add_user_role(&Actor::cli(), "root", "admin")
        .await
        .unwrap();
    let (status, _) = call(&app, Method::Get, "/admin/v1/users", &token, None).await;
    assert_eq!(status, 200);

    // The user's grants are listed and revoked; the token from the revoked grant stops.
    let (_, sessions) = call(
        &app,
        Method::Get,
        "/admin/v1/users/root/grants",
        &token,
        None,
    )
    .await;
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    assert_eq!(sessions[0]["client_id"], "console");
    let (status, revoked) = call(
        &app,
        Method::Delete,
        "/admin/v1/users/root/sessions",
        &token,
        None,
    )
    .await;
    assert_eq!((status, revoked), (200, json!({ "revoked": 1 })));
    let r = send(&app, Method::Get, "/admin/v1/users", Some(&token), None).await;
    assert_eq!(r.status(), 401);

    // A disabled user's token, a disabled client's token and an expired token fail.
    let token = login().await;
    app.state
        .service
        .set_user_disabled(&Actor::cli(), "root", true)
        .await
        .unwrap();
    assert_eq!(
        send(&app, Method::Get, "/admin/v1/users", Some(&token), None)
            .await
            .status(),
        401
    );
    let svc = admin_token(&app, &["admin"]).await;
    assert_eq!(
        send(&app, Method::Get, "/admin/v1/keys", Some(&svc), None)
            .await
            .status(),
        200
    );
    app.clock.advance(3600 + 61);
    assert_eq!(
        send(&app, Method::Get, "/admin/v1/keys", Some(&svc), None)
            .await
            .status(),
        401
    );

    // The last enabled admin cannot be demoted, disabled or deleted through the API.
    let svc = admin_token(&app, &["admin"]).await;
    let (status, body) = call(
        &app,
        Method::Delete,
        "/admin/v1/users/second/roles/admin",
        &svc,
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("last enabled admin")
    );
    for (method, path) in [
        (Method::Post, "/admin/v1/users/second/disable"),
        (Method::Delete, "/admin/v1/users/second"),
    ] {
        let (status, _) = call(&app, method, path, &svc, None).await;
        assert_eq!(status, 409, "{path}");
    }
}

#[tokio::test]
async fn an_access_token_revoked_by_its_client_is_refused_at_once() {
    let app = spawn_app().await;
    let ops = service_account(&app, "ops", &["admin"], "admin").await;
    let token = app.cc_token(&ops, Some("admin")).await;
    ok(&app, &token, Method::Get, "/admin/v1/clients", None).await;
    let r = post_with_basic(&app, "/revoke", &[("token", &token)], ops.basic()).await;
    assert_eq!(r.status(), 200);
    let (status, _) = call(&app, Method::Get, "/admin/v1/clients", &token, None).await;
    assert_eq!(status, 401);
}
