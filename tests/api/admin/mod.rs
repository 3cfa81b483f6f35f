//! The admin API: authentication, the RBAC walk over every route of the table,
//! validation, audit (including tampering), the OpenAPI document, and parity with the CLI.

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;
use diesel::prelude::*;
use portcullis::admin::rbac::Permission;
use portcullis::admin::table::{AdminRoute, Method};
use portcullis::clock::Clock;
use portcullis::http::routes::ADMIN_API;
use portcullis::manage::Actor;
use portcullis::manage::clients::NewClient;
use portcullis::manage::users::NewUser;
use portcullis::store::schema::{audit_events, clients, users};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::cli::{fails, ok_json};
use crate::helpers::{T0, TestApp, spawn_app};

const PASSWORD: &str = "correct horse battery staple";
/// PASSWORD as it travels in a form body.
const PASSWORD_FORM: &str = "correct+horse+battery+staple";

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
    }
}

/// A service account holding `roles`, allowed the `admin` scope (and `api`).
async fn service_account(app: &TestApp, id: &str, roles: &[&str], scope: &str) -> String {
    let created = app
        .state
        .service
        .create_client(
            &Actor::cli(),
            NewClient {
                name: id.into(),
                client_id: Some(id.into()),
                grant_types: vec!["client_credentials".into()],
                scopes: scope.split(' ').map(str::to_owned).collect(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    created.client_secret.unwrap().expose().to_owned()
}

async fn token_request(app: &TestApp, body: &str, id: &str, secret: &str) -> Value {
    let r = app
        .http
        .post(format!("{}/token", app.public))
        .header("content-type", "application/x-www-form-urlencoded")
        .basic_auth(id, Some(secret))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// An access token for a new service account with `roles` and the `admin` scope.
async fn admin_token(app: &TestApp, roles: &[&str]) -> String {
    let id = format!("svc-{}-{}", roles.join("-"), uuid::Uuid::new_v4().simple());
    let secret = service_account(app, &id, roles, "admin api").await;
    token_request(
        app,
        "grant_type=client_credentials&scope=admin",
        &id,
        &secret,
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let url = format!("{}{path}", app.admin);
    let mut req = match method {
        Method::Get => app.http.get(url),
        Method::Post => app.http.post(url),
        Method::Put => app.http.put(url),
        Method::Patch => app.http.patch(url),
        Method::Delete => app.http.delete(url),
    };
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    req.send().await.unwrap()
}

/// Status and JSON body (Null when there is none).
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let r = send(app, method, path, Some(token), body.as_ref()).await;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A call that must succeed; its JSON body.
async fn ok(app: &TestApp, token: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, json) = call(app, method, path, token, body).await;
    assert!((200..300).contains(&status), "{path}: {status} {json}");
    json
}

async fn raw_post(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}{path}", app.admin))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json::<Value>().await.unwrap())
}

async fn new_user(app: &TestApp, name: &str, roles: &[&str]) -> String {
    app.state
        .service
        .create_user(
            &Actor::cli(),
            NewUser {
                username: name.into(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                password: Some(Zeroizing::new(PASSWORD.into())),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .user
        .id
}

async fn new_client(app: &TestApp) -> String {
    app.state
        .service
        .create_client(
            &Actor::cli(),
            NewClient {
                name: "walk".into(),
                grant_types: vec!["client_credentials".into()],
                scopes: vec!["api".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .client
        .client_id
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
        | (Method::Get, "/admin/v1/audit/verify") => (route.path.to_owned(), None),
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
    let secret = service_account(&app, "no-admin-scope", &["admin"], "api").await;
    let unscoped = token_request(
        &app,
        "grant_type=client_credentials",
        "no-admin-scope",
        &secret,
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

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
    let app = spawn_app().await;
    // A person with the admin role logs in through a console client (password grant).
    let admin_id = new_user(&app, "root", &["admin"]).await;
    new_user(&app, "second", &["admin"]).await;
    let created = app
        .state
        .service
        .create_client(
            &Actor::cli(),
            NewClient {
                name: "console".into(),
                client_id: Some("console".into()),
                grant_types: vec!["password".into()],
                scopes: vec!["admin".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let secret = created.client_secret.unwrap().expose().to_owned();
    let login = format!("grant_type=password&username=root&password={PASSWORD_FORM}&scope=admin");
    let token = token_request(&app, &login, "console", &secret).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

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

    // The user's sessions are listed and revoked; the token from the revoked grant stops.
    let (_, sessions) = call(
        &app,
        Method::Get,
        "/admin/v1/users/root/sessions",
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
    let token = token_request(&app, &login, "console", &secret).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
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

async fn count(app: &TestApp) -> (i64, i64, i64) {
    app.state
        .store
        .run(|conn| {
            Ok((
                clients::table.count().get_result(conn)?,
                users::table.count().get_result(conn)?,
                audit_events::table.count().get_result(conn)?,
            ))
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn invalid_requests_name_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["admin"]).await;
    new_user(&app, "alice", &[]).await;
    let before = count(&app).await;

    let cases: Vec<(&str, Vec<u8>, u16, &str, &str)> = vec![
        (
            "/admin/v1/clients",
            b"{\"client_name\": ".to_vec(),
            400,
            "invalid_request",
            "body",
        ),
        (
            "/admin/v1/clients",
            br#"{"client_name": "a", "colour": "red"}"#.to_vec(),
            400,
            "invalid_request",
            "colour",
        ),
        (
            "/admin/v1/clients",
            br#"{"client_name": "a", "client_name": "b"}"#.to_vec(),
            400,
            "invalid_request",
            "client_name",
        ),
        (
            "/admin/v1/clients",
            br#"{"grant_types": ["client_credentials"]}"#.to_vec(),
            400,
            "invalid_request",
            "client_name",
        ),
        (
            "/admin/v1/clients",
            br#"{"client_name": "a", "redirect_uris": "https://a.example/cb"}"#.to_vec(),
            400,
            "invalid_request",
            "redirect_uris",
        ),
        (
            "/admin/v1/clients",
            br#"{"client_name": "a", "redirect_uris": ["https://a.example/cb", 7]}"#.to_vec(),
            400,
            "invalid_request",
            "redirect_uris[1]",
        ),
        (
            "/admin/v1/clients",
            br#"{"client_name": "a", "redirect_uris": ["javascript:alert(1)"]}"#.to_vec(),
            400,
            "invalid_request",
            "redirect_uris",
        ),
        (
            "/admin/v1/clients",
            br#"{"client_name": "a", "redirect_uris": ["http://evil.example/cb"]}"#.to_vec(),
            400,
            "invalid_request",
            "redirect_uris",
        ),
        (
            "/admin/v1/clients",
            br#"{"client_name": "a", "client_id": "has space"}"#.to_vec(),
            400,
            "invalid_request",
            "client_id",
        ),
        (
            "/admin/v1/clients",
            br#"{"client_name": "a", "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}"#.to_vec(),
            400,
            "invalid_request",
            "grant_types",
        ),
        (
            "/admin/v1/users",
            br#"{"username": "ALICE"}"#.to_vec(),
            409,
            "conflict",
            "username",
        ),
        (
            "/admin/v1/users",
            br#"{"username": "bob", "email": "not-an-address"}"#.to_vec(),
            400,
            "invalid_request",
            "email",
        ),
        (
            "/admin/v1/users",
            br#"{"username": "bob", "password": "short"}"#.to_vec(),
            400,
            "invalid_request",
            "password",
        ),
        (
            "/admin/v1/users",
            br#"{"username": "bob", "roles": ["Not A Role"]}"#.to_vec(),
            400,
            "invalid_request",
            "role",
        ),
        (
            "/admin/v1/users",
            br#"[]"#.to_vec(),
            400,
            "invalid_request",
            "body",
        ),
        (
            "/admin/v1/users",
            br#"{"username": "bob"} trailing"#.to_vec(),
            400,
            "invalid_request",
            "body",
        ),
    ];
    for (path, body, status, error, field) in cases {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let (got, json) = raw_post(&app, &token, path, "application/json", body).await;
        assert_eq!(got, status, "{shown}: {json}");
        assert_eq!(json["error"], error, "{shown}: {json}");
        assert_eq!(json["field"], field, "{shown}: {json}");
        assert!(
            json["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }

    // A duplicate client_id.
    let body =
        br#"{"client_name": "a", "client_id": "dup", "grant_types": ["client_credentials"]}"#;
    assert_eq!(
        raw_post(
            &app,
            &token,
            "/admin/v1/clients",
            "application/json",
            body.to_vec()
        )
        .await
        .0,
        201
    );
    let (status, json) = raw_post(
        &app,
        &token,
        "/admin/v1/clients",
        "application/json",
        body.to_vec(),
    )
    .await;
    assert_eq!(
        (status, json["field"].clone()),
        (409, json!("client_id")),
        "{json}"
    );

    // Oversized and non-JSON bodies.
    let mut huge = br#"{"client_name": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 70 * 1024));
    huge.extend(br#""}"#);
    let (status, json) =
        raw_post(&app, &token, "/admin/v1/clients", "application/json", huge).await;
    assert_eq!(
        (status, json["error"].clone()),
        (413, json!("payload_too_large"))
    );
    assert_eq!(json["field"], "body");
    let (status, json) = raw_post(
        &app,
        &token,
        "/admin/v1/clients",
        "text/plain",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!((status, json["field"].clone()), (415, json!("body")));

    // Query strings: unknown, repeated and mistyped parameters.
    for (query, field) in [
        ("?colour=red", "colour"),
        ("?limit=1&limit=2", "limit"),
        ("?limit=ten", "limit"),
        ("?limit=0", "limit"),
        ("?offset=-1", "offset"),
    ] {
        let (status, json) = call(
            &app,
            Method::Get,
            &format!("/admin/v1/users{query}"),
            &token,
            None,
        )
        .await;
        assert_eq!(
            (status, json["field"].clone()),
            (400, json!(field)),
            "{query}: {json}"
        );
    }
    let (status, json) = call(
        &app,
        Method::Get,
        "/admin/v1/audit?from=10&to=5",
        &token,
        None,
    )
    .await;
    assert_eq!((status, json["field"].clone()), (400, json!("from")));

    // PATCH: unknown fields and invalid values change nothing.
    let (status, json) = call(
        &app,
        Method::Patch,
        "/admin/v1/clients/dup",
        &token,
        Some(json!({ "redirect_uris": ["https://ok.example/cb", "data:text/html,x"], "client_name": "changed" })),
    )
    .await;
    assert_eq!(
        (status, json["field"].clone()),
        (400, json!("redirect_uris"))
    );
    let (_, client) = call(&app, Method::Get, "/admin/v1/clients/dup", &token, None).await;
    assert_eq!(client["client_name"], "a");
    assert_eq!(client["redirect_uris"], json!([]));
    let (status, _) = call(
        &app,
        Method::Patch,
        "/admin/v1/users/alice",
        &token,
        Some(json!({ "password_hash": "x" })),
    )
    .await;
    assert_eq!(status, 400);

    // Only the one valid create above wrote anything (a client and its audit row).
    let after = count(&app).await;
    assert_eq!(after, (before.0 + 1, before.1, before.2 + 1));

    // Unknown objects are 404 with the JSON shape.
    let (status, json) = call(&app, Method::Get, "/admin/v1/users/nobody", &token, None).await;
    assert_eq!((status, json["error"].clone()), (404, json!("not_found")));
}

#[tokio::test]
async fn responses_never_carry_secrets_and_are_audited_without_them() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["admin"]).await;
    let (status, created) = call(
        &app,
        Method::Post,
        "/admin/v1/clients",
        &token,
        Some(json!({
            "client_id": "web",
            "client_name": "Web",
            "redirect_uris": ["https://app.example/cb"],
            "scope": "openid profile",
            "roles": ["reporting"],
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("pcs_") || secret.len() >= 43, "{secret}");
    assert_eq!(created["client_secret_expires_at"], 0);
    assert_eq!(created["scope"], "openid profile");
    assert_eq!(
        created["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");

    let (_, shown) = call(&app, Method::Get, "/admin/v1/clients/web", &token, None).await;
    assert!(shown.get("client_secret").is_none());
    let (_, rotated) = call(
        &app,
        Method::Post,
        "/admin/v1/clients/web/rotate-secret",
        &token,
        None,
    )
    .await;
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);

    let (status, user) = call(
        &app,
        Method::Post,
        "/admin/v1/users",
        &token,
        Some(json!({ "username": "Carol", "email": "carol@example.com", "roles": ["auditor"] })),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(user["username"], "carol");
    let generated = user["password"].as_str().unwrap().to_owned();
    let (_, set) = call(
        &app,
        Method::Post,
        "/admin/v1/users/carol/password",
        &token,
        Some(json!({ "password": "chosen password 1" })),
    )
    .await;
    assert!(
        set.get("password").is_none(),
        "a chosen password is not echoed"
    );
    let (_, patched) = call(
        &app,
        Method::Patch,
        "/admin/v1/users/carol",
        &token,
        Some(json!({ "email": null, "name": "Carol C" })),
    )
    .await;
    assert_eq!(patched["email"], Value::Null);
    assert_eq!(patched["name"], "Carol C");

    // Every change is an audit row with before/after, none with a secret in it.
    let (_, page) = call(
        &app,
        Method::Get,
        "/admin/v1/audit?limit=1000",
        &token,
        None,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    let text = serde_json::to_string(items).unwrap();
    for secret in [
        &secret,
        &new_secret,
        &generated,
        "chosen password 1",
        "$argon2",
    ] {
        assert!(!text.contains(secret), "the audit log holds a secret");
    }
    let types: BTreeSet<&str> = items
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    for t in [
        "client.created",
        "client.secret_rotated",
        "user.created",
        "user.password_set",
        "user.updated",
    ] {
        assert!(types.contains(t), "{t} missing from {types:?}");
    }
    let updated = items
        .iter()
        .find(|e| e["event_type"] == "user.updated")
        .unwrap();
    assert_eq!(updated["details"]["before"]["email"], "carol@example.com");
    assert_eq!(updated["details"]["after"]["email"], Value::Null);
    assert!(
        updated["actor"]
            .as_str()
            .unwrap()
            .starts_with("client:svc-admin-")
    );
}

/// Runs `audit verify` through the API and the CLI; both must name the same row.
async fn verify_both(app: &TestApp, token: &str) -> (Value, Result<Value, String>) {
    let (status, api) = call(app, Method::Get, "/admin/v1/audit/verify", token, None).await;
    assert_eq!(status, 200);
    let db = app.db.clone();
    let cli = tokio::task::spawn_blocking(move || {
        let out = crate::cli::run(&db, &["--json", "audit", "verify"], None);
        let stdout: Value = serde_json::from_slice(&out.stdout).unwrap();
        if out.status.success() {
            Ok(stdout)
        } else {
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_eq!(stdout["intact"], false);
            Err(err)
        }
    })
    .await
    .unwrap();
    (api, cli)
}

#[tokio::test]
async fn audit_verify_names_the_changed_deleted_or_reordered_row() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["auditor"]).await;
    for n in 0..6 {
        portcullis::audit::record(
            &app.state.store,
            T0 + n,
            portcullis::audit::AuditEvent::new("test.event")
                .actor("cli")
                .subject(format!("s{n}"))
                .details(json!({ "n": n })),
        )
        .await
        .unwrap();
    }
    let (api, cli) = verify_both(&app, &token).await;
    assert_eq!(api["intact"], true, "{api}");
    assert_eq!(cli.unwrap(), api);
    let rows = api["rows"].as_i64().unwrap();
    assert!(rows >= 6);

    let store = &app.state.store;
    // 1. Change a row's content.
    let original: String = store
        .run(|conn| {
            Ok(audit_events::table
                .filter(audit_events::seq.eq(4))
                .select(audit_events::details)
                .first(conn)?)
        })
        .await
        .unwrap();
    store
        .run(|conn| {
            diesel::update(audit_events::table.filter(audit_events::seq.eq(4)))
                .set(audit_events::actor.eq("someone-else"))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let (api, cli) = verify_both(&app, &token).await;
    assert_eq!(
        api["first_broken"],
        json!({ "seq": 4, "reason": "row content changed" })
    );
    assert!(cli.unwrap_err().contains("seq 4: row content changed"));
    store
        .run(move |conn| {
            diesel::update(audit_events::table.filter(audit_events::seq.eq(4)))
                .set((
                    audit_events::actor.eq("cli"),
                    audit_events::details.eq(original),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(verify_both(&app, &token).await.0["intact"], true);

    // 2. Reorder two rows (swap their sequence numbers).
    let swap = |a: i64, b: i64| {
        let store = app.state.store.clone();
        async move {
            store
                .run(move |conn| {
                    conn.transaction(|conn| {
                        diesel::update(audit_events::table.filter(audit_events::seq.eq(a)))
                            .set(audit_events::seq.eq(-1))
                            .execute(conn)?;
                        diesel::update(audit_events::table.filter(audit_events::seq.eq(b)))
                            .set(audit_events::seq.eq(a))
                            .execute(conn)?;
                        diesel::update(audit_events::table.filter(audit_events::seq.eq(-1)))
                            .set(audit_events::seq.eq(b))
                            .execute(conn)?;
                        Ok(())
                    })
                })
                .await
                .unwrap();
        }
    };
    swap(2, 3).await;
    let (api, cli) = verify_both(&app, &token).await;
    assert_eq!(
        api["first_broken"],
        json!({ "seq": 2, "reason": "link to previous row broken" })
    );
    assert!(cli.unwrap_err().contains("seq 2"));
    swap(2, 3).await;
    assert_eq!(verify_both(&app, &token).await.0["intact"], true);

    // 3. Delete a row.
    store
        .run(|conn| {
            diesel::delete(audit_events::table.filter(audit_events::seq.eq(3))).execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let (api, cli) = verify_both(&app, &token).await;
    assert_eq!(api["intact"], false);
    assert_eq!(
        api["first_broken"],
        json!({ "seq": 3, "reason": "row missing" })
    );
    assert!(cli.unwrap_err().contains("seq 3: row missing"));
}

async fn audit_page(app: &TestApp, token: &str, query: &str) -> Value {
    ok(
        app,
        token,
        Method::Get,
        &format!("/admin/v1/audit{query}"),
        None,
    )
    .await
}

#[tokio::test]
async fn audit_query_filters_by_time_type_actor_and_subject_with_paging() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["auditor"]).await;
    for n in 0..10_i64 {
        let event =
            portcullis::audit::AuditEvent::new(if n % 2 == 0 { "user.a" } else { "client.b" })
                .actor(if n < 5 { "cli" } else { "system" })
                .subject(format!("s{}", n % 3));
        portcullis::audit::record(&app.state.store, 1000 + n, event)
            .await
            .unwrap();
    }
    let seqs = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["occurred_at"].as_i64().unwrap() - 1000)
            .collect()
    };
    assert_eq!(
        seqs(&audit_page(&app, &token, "?from=1002&to=1004").await),
        vec![2, 3, 4]
    );
    assert_eq!(
        seqs(&audit_page(&app, &token, "?type=user.a&to=1009").await),
        vec![0, 2, 4, 6, 8]
    );
    assert_eq!(
        seqs(&audit_page(&app, &token, "?type=client.*&to=1009").await),
        vec![1, 3, 5, 7, 9]
    );
    assert_eq!(
        seqs(&audit_page(&app, &token, "?type=user.%25").await),
        Vec::<i64>::new()
    );
    assert_eq!(
        seqs(&audit_page(&app, &token, "?actor=system&subject=s1&from=1000&to=1010").await),
        vec![7]
    );
    let page = audit_page(&app, &token, "?from=1000&to=1009&limit=4&offset=4").await;
    assert_eq!(seqs(&page), vec![4, 5, 6, 7]);
    assert_eq!(page["next_offset"], 8);
    let last = audit_page(&app, &token, "?from=1000&to=1009&limit=4&offset=8").await;
    assert_eq!(seqs(&last), vec![8, 9]);
    assert!(last.get("next_offset").is_none());
    // The same query through the CLI gives the same events.
    let db = app.db.clone();
    let cli = tokio::task::spawn_blocking(move || {
        ok_json(
            &db,
            &["audit", "query", "--type", "client.*", "--actor", "system"],
            None,
        )
    })
    .await
    .unwrap();
    let api = audit_page(&app, &token, "?type=client.*&actor=system").await;
    assert_eq!(cli, api["items"]);
}

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let app = spawn_app().await;
    let r = app.get_admin("/admin/openapi.json").await;
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    // It is a well-formed OpenAPI document as utoipa's own model reads it.
    let _: utoipa::openapi::OpenApi = serde_json::from_value(doc.clone()).unwrap();

    let mut listed = Vec::new();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            listed.push(format!("{} {path}", method.to_ascii_uppercase()));
            assert!(operation_ids.insert(op["operationId"].as_str().unwrap().to_owned()));
            let route = ADMIN_API
                .iter()
                .find(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method))
                .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
            assert_eq!(op["x-permission"], route.permission.as_str());
            assert_eq!(op["security"], json!([{ "bearer": ["admin"] }]));
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("401") && responses.contains_key("403"));
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{method} {path}"
            );
            // Every `{param}` of the path is a declared path parameter.
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            assert_eq!(declared, in_path, "{method} {path}");
        }
    }
    listed.sort();
    // Snapshot of the surface: a new route must be added here on purpose.
    let expected = [
        "DELETE /admin/v1/clients/{client_id}",
        "DELETE /admin/v1/users/{user}",
        "DELETE /admin/v1/users/{user}/roles/{role}",
        "DELETE /admin/v1/users/{user}/sessions",
        "GET /admin/v1/audit",
        "GET /admin/v1/audit/verify",
        "GET /admin/v1/clients",
        "GET /admin/v1/clients/{client_id}",
        "GET /admin/v1/keys",
        "GET /admin/v1/users",
        "GET /admin/v1/users/{user}",
        "GET /admin/v1/users/{user}/sessions",
        "PATCH /admin/v1/clients/{client_id}",
        "PATCH /admin/v1/users/{user}",
        "POST /admin/v1/clients",
        "POST /admin/v1/clients/{client_id}/rotate-secret",
        "POST /admin/v1/keys/rewrap",
        "POST /admin/v1/keys/rotate",
        "POST /admin/v1/keys/{kid}/retire",
        "POST /admin/v1/users",
        "POST /admin/v1/users/{user}/disable",
        "POST /admin/v1/users/{user}/enable",
        "POST /admin/v1/users/{user}/password",
        "PUT /admin/v1/users/{user}/roles/{role}",
    ];
    assert_eq!(listed, expected);
    let mut routed: Vec<String> = ADMIN_API
        .iter()
        .map(|r| format!("{} {}", r.method.as_str(), r.path))
        .collect();
    routed.sort();
    assert_eq!(routed, listed, "route table and OpenAPI document differ");

    // Every $ref points at a schema the document defines.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
    for field in [
        "client_id",
        "client_name",
        "redirect_uris",
        "post_logout_redirect_uris",
        "grant_types",
        "scope",
        "token_endpoint_auth_method",
    ] {
        assert!(
            schemas["ClientCreate"]["properties"].get(field).is_some(),
            "{field}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Every CLI command that manages something has an API route, and every API route has a
/// CLI command: the two lists below must stay in step with `portcullis --help`.
#[test]
fn cli_and_api_offer_the_same_capabilities() {
    let pairs: &[(&str, &str)] = &[
        ("client create", "POST /admin/v1/clients"),
        ("client list", "GET /admin/v1/clients"),
        ("client show", "GET /admin/v1/clients/{client_id}"),
        ("client update", "PATCH /admin/v1/clients/{client_id}"),
        ("client delete", "DELETE /admin/v1/clients/{client_id}"),
        (
            "client rotate-secret",
            "POST /admin/v1/clients/{client_id}/rotate-secret",
        ),
        ("user create", "POST /admin/v1/users"),
        ("user list", "GET /admin/v1/users"),
        ("user show", "GET /admin/v1/users/{user}"),
        ("user update", "PATCH /admin/v1/users/{user}"),
        ("user delete", "DELETE /admin/v1/users/{user}"),
        ("user disable", "POST /admin/v1/users/{user}/disable"),
        ("user enable", "POST /admin/v1/users/{user}/enable"),
        ("user set-password", "POST /admin/v1/users/{user}/password"),
        ("user add-role", "PUT /admin/v1/users/{user}/roles/{role}"),
        (
            "user remove-role",
            "DELETE /admin/v1/users/{user}/roles/{role}",
        ),
        ("user sessions", "GET /admin/v1/users/{user}/sessions"),
        (
            "user revoke-sessions",
            "DELETE /admin/v1/users/{user}/sessions",
        ),
        ("keys list", "GET /admin/v1/keys"),
        ("keys rotate", "POST /admin/v1/keys/rotate"),
        ("keys retire", "POST /admin/v1/keys/{kid}/retire"),
        ("keys rewrap", "POST /admin/v1/keys/rewrap"),
        ("audit query", "GET /admin/v1/audit"),
        ("audit verify", "GET /admin/v1/audit/verify"),
    ];
    // Operating the process or its files, not managing objects: CLI only by design.
    let cli_only = [
        "serve",
        "migrate",
        "healthcheck",
        "config check",
        "export",
        "import",
    ];
    let mut leaves = Vec::new();
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        let subs: Vec<_> = cmd
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .collect();
        if subs.is_empty() {
            out.push(prefix.trim().to_owned());
        }
        for sub in subs {
            walk(sub, &format!("{prefix} {}", sub.get_name()), out);
        }
    }
    walk(&portcullis::cli::Cli::command(), "", &mut leaves);
    let mut expected: Vec<String> = pairs
        .iter()
        .map(|(c, _)| c.to_string())
        .chain(cli_only.iter().map(|c| c.to_string()))
        .collect();
    leaves.sort();
    expected.sort();
    assert_eq!(
        leaves, expected,
        "a CLI command without its API route (or the reverse)"
    );
    let mut routes: Vec<String> = ADMIN_API
        .iter()
        .map(|r| format!("{} {}", r.method.as_str(), r.path))
        .collect();
    let mut paired: Vec<String> = pairs.iter().map(|(_, r)| r.to_string()).collect();
    routes.sort();
    paired.sort();
    assert_eq!(routes, paired, "an API route without its CLI command");
}

/// Strips what differs between two objects made the same way at different times.
fn comparable(mut v: Value, drop: &[&str]) -> Value {
    if let Some(obj) = v.as_object_mut() {
        for key in drop {
            obj.remove(*key);
        }
    }
    v
}

async fn cli_json(app: &TestApp, args: &[&str]) -> Value {
    let db = app.db.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok_json(&db, &args, None)
    })
    .await
    .unwrap()
}

async fn cli_fails(app: &TestApp, args: &[&str]) -> String {
    let db = app.db.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(&db, &args)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn api_and_cli_do_the_same_things() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["admin"]).await;
    let user_fields = ["id", "username", "created_at", "updated_at", "password"];
    let client_fields = [
        "client_id",
        "created_at",
        "updated_at",
        "client_secret",
        "client_secret_expires_at",
    ];

    // Users: create, show, list, update, disable, enable, roles, password, sessions, delete.
    let a = ok(&app, &token, Method::Post,
        "/admin/v1/users",
        Some(json!({ "username": "api-user", "email": "a@example.com", "name": "A", "roles": ["staff"] })),
    )
    .await;
    let c = cli_json(
        &app,
        &[
            "user",
            "create",
            "cli-user",
            "--email",
            "a@example.com",
            "--name",
            "A",
            "--role",
            "staff",
        ],
    )
    .await;
    assert!(a["password"].is_string() && c["password"].is_string());
    assert_eq!(comparable(a, &user_fields), comparable(c, &user_fields));
    let listed = ok(
        &app,
        &token,
        Method::Get,
        "/admin/v1/users?search=-user",
        None,
    )
    .await;
    assert_eq!(
        listed["items"],
        cli_json(&app, &["user", "list", "--search=-user"]).await
    );
    assert_eq!(
        ok(&app, &token, Method::Get, "/admin/v1/users/cli-user", None).await,
        cli_json(&app, &["user", "show", "cli-user"]).await
    );
    for (path, args) in [
        (
            "update",
            vec![
                "user",
                "update",
                "{u}",
                "--email",
                "b@example.com",
                "--email-verified",
                "true",
            ],
        ),
        ("disable", vec!["user", "disable", "{u}"]),
        ("enable", vec!["user", "enable", "{u}"]),
        ("add-role", vec!["user", "add-role", "{u}", "auditor"]),
        ("remove-role", vec!["user", "remove-role", "{u}", "staff"]),
        ("set-password", vec!["user", "set-password", "{u}"]),
    ] {
        let a = match path {
            "update" => {
                ok(
                    &app,
                    &token,
                    Method::Patch,
                    "/admin/v1/users/api-user",
                    Some(json!({ "email": "b@example.com", "email_verified": true })),
                )
                .await
            }
            "disable" | "enable" => {
                ok(
                    &app,
                    &token,
                    Method::Post,
                    &format!("/admin/v1/users/api-user/{path}"),
                    None,
                )
                .await
            }
            "add-role" => {
                ok(
                    &app,
                    &token,
                    Method::Put,
                    "/admin/v1/users/api-user/roles/auditor",
                    None,
                )
                .await
            }
            "remove-role" => {
                ok(
                    &app,
                    &token,
                    Method::Delete,
                    "/admin/v1/users/api-user/roles/staff",
                    None,
                )
                .await
            }
            _ => {
                ok(
                    &app,
                    &token,
                    Method::Post,
                    "/admin/v1/users/api-user/password",
                    None,
                )
                .await
            }
        };
        let args: Vec<&str> = args
            .iter()
            .map(|s| if *s == "{u}" { "cli-user" } else { s })
            .collect();
        let c = cli_json(&app, &args).await;
        if path == "set-password" {
            assert!(a["password"].as_str().unwrap().len() >= 20);
            assert!(c["password"].as_str().unwrap().len() >= 20);
        } else {
            assert_eq!(
                comparable(a, &user_fields),
                comparable(c, &user_fields),
                "{path}"
            );
        }
    }
    // Sessions: one password-grant login each, listed and revoked the same way.
    let console = app
        .state
        .service
        .create_client(
            &Actor::cli(),
            NewClient {
                name: "console".into(),
                client_id: Some("console".into()),
                grant_types: vec!["password".into()],
                scopes: vec!["profile".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .client_secret
        .unwrap()
        .expose()
        .to_owned();
    for name in ["api-user", "cli-user"] {
        app.state
            .service
            .set_password(&Actor::cli(), name, Zeroizing::new(PASSWORD.into()))
            .await
            .unwrap();
        token_request(
            &app,
            &format!("grant_type=password&username={name}&password={PASSWORD_FORM}"),
            "console",
            &console,
        )
        .await;
    }
    let a = ok(
        &app,
        &token,
        Method::Get,
        "/admin/v1/users/api-user/sessions",
        None,
    )
    .await;
    let c = cli_json(&app, &["user", "sessions", "cli-user"]).await;
    assert_eq!(a.as_array().unwrap().len(), 1);
    assert_eq!(
        comparable(a[0].clone(), &["id"]),
        comparable(c[0].clone(), &["id"])
    );
    assert_eq!(
        ok(
            &app,
            &token,
            Method::Delete,
            "/admin/v1/users/api-user/sessions",
            None
        )
        .await,
        cli_json(&app, &["user", "revoke-sessions", "cli-user"]).await
    );
    assert_eq!(
        cli_json(&app, &["user", "sessions", "api-user"]).await,
        json!([])
    );
    ok(
        &app,
        &token,
        Method::Delete,
        "/admin/v1/users/api-user",
        None,
    )
    .await;
    cli_json(&app, &["user", "delete", "cli-user"]).await;
    assert_eq!(
        ok(
            &app,
            &token,
            Method::Get,
            "/admin/v1/users?search=-user",
            None
        )
        .await["items"],
        json!([])
    );

    // Clients: create, show, list, update, rotate-secret, delete.
    let a = ok(
        &app,
        &token,
        Method::Post,
        "/admin/v1/clients",
        Some(json!({
            "client_id": "api-client", "client_name": "Same",
            "redirect_uris": ["https://app.example/cb"], "scope": "openid profile",
            "roles": ["reporting"], "first_party": true,
        })),
    )
    .await;
    let c = cli_json(
        &app,
        &[
            "client",
            "create",
            "--client-id",
            "cli-client",
            "--name",
            "Same",
            "--redirect-uri",
            "https://app.example/cb",
            "--scope",
            "openid profile",
            "--role",
            "reporting",
            "--first-party",
        ],
    )
    .await;
    assert!(a["client_secret"].is_string() && c["client_secret"].is_string());
    assert_eq!(comparable(a, &client_fields), comparable(c, &client_fields));
    assert_eq!(
        ok(
            &app,
            &token,
            Method::Get,
            "/admin/v1/clients/cli-client",
            None
        )
        .await,
        cli_json(&app, &["client", "show", "cli-client"]).await
    );
    assert_eq!(
        ok(&app, &token, Method::Get, "/admin/v1/clients", None).await,
        cli_json(&app, &["client", "list"]).await
    );
    let a = ok(
        &app,
        &token,
        Method::Patch,
        "/admin/v1/clients/api-client",
        Some(json!({ "client_name": "Renamed", "access_token_lifetime": 600, "disabled": true })),
    )
    .await;
    let c = cli_json(
        &app,
        &[
            "client",
            "update",
            "cli-client",
            "--name",
            "Renamed",
            "--access-token-lifetime",
            "600",
            "--disable",
        ],
    )
    .await;
    assert_eq!(comparable(a, &client_fields), comparable(c, &client_fields));
    let a = ok(
        &app,
        &token,
        Method::Post,
        "/admin/v1/clients/api-client/rotate-secret",
        None,
    )
    .await;
    let c = cli_json(&app, &["client", "rotate-secret", "cli-client"]).await;
    assert_eq!(
        comparable(
            a,
            &["client_id", "client_secret", "client_secret_expires_at"]
        ),
        comparable(c, &["client_id", "client_secret"])
    );
    ok(
        &app,
        &token,
        Method::Delete,
        "/admin/v1/clients/api-client",
        None,
    )
    .await;
    cli_json(&app, &["client", "delete", "cli-client"]).await;
    let err = cli_fails(&app, &["client", "show", "cli-client"]).await;
    assert!(err.contains("not found"), "{err}");

    // Keys: list, rotate, retire, rewrap.
    let rotated = ok(&app, &token, Method::Post, "/admin/v1/keys/rotate", None).await;
    assert_eq!(rotated["switched"], false);
    assert_eq!(
        ok(&app, &token, Method::Get, "/admin/v1/keys", None).await,
        cli_json(&app, &["keys", "list"]).await
    );
    let c = cli_json(&app, &["keys", "rotate"]).await;
    assert_eq!(
        c["next_kid"], rotated["next_kid"],
        "the pending key is reused"
    );
    let kid = rotated["next_kid"].as_str().unwrap().to_owned();
    let retired = ok(
        &app,
        &token,
        Method::Post,
        &format!("/admin/v1/keys/{kid}/retire"),
        None,
    )
    .await;
    assert_eq!(retired, json!({ "retired": kid }));
    let err = cli_fails(&app, &["keys", "retire", &kid]).await;
    assert!(err.contains("not found"), "{err}");
    assert_eq!(
        ok(&app, &token, Method::Post, "/admin/v1/keys/rewrap", None).await,
        cli_json(&app, &["keys", "rewrap"]).await
    );

    // Audit: the same rows and the same verdict; the API's changes name their actor.
    let a = ok(
        &app,
        &token,
        Method::Get,
        "/admin/v1/audit?limit=1000",
        None,
    )
    .await;
    let c = cli_json(&app, &["audit", "query", "--limit", "1000"]).await;
    assert_eq!(a["items"], c);
    let actors: BTreeSet<&str> = c
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["actor"].as_str())
        .collect();
    assert!(actors.contains("cli"));
    assert!(
        actors.iter().any(|a| a.starts_with("client:svc-admin-")),
        "{actors:?}"
    );
    assert_eq!(
        ok(&app, &token, Method::Get, "/admin/v1/audit/verify", None).await,
        cli_json(&app, &["audit", "verify"]).await
    );
}

#[tokio::test]
async fn an_access_token_revoked_by_its_client_is_refused_at_once() {
    let app = spawn_app().await;
    let secret = service_account(&app, "ops", &["admin"], "admin").await;
    let token = token_request(
        &app,
        "grant_type=client_credentials&scope=admin",
        "ops",
        &secret,
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&app, &token, Method::Get, "/admin/v1/clients", None).await;
    let r =
        crate::helpers::post_with_basic(&app, "/revoke", &[("token", &token)], ("ops", &secret))
            .await;
    assert_eq!(r.status(), 200);
    let (status, _) = call(&app, Method::Get, "/admin/v1/clients", &token, None).await;
    assert_eq!(status, 401);
}
