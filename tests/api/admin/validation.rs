//! Invalid admin requests: each is refused with the field it is about, and none writes
//! anything. One table of requests, one loop.

use diesel::prelude::*;
use portcullis::admin::table::Method;
use portcullis::store::schema::{clients, users};
use serde_json::{Value, json};

use super::{admin_token, call, new_user};
use crate::helpers::{TestApp, spawn_app};

/// (clients, users, audit rows).
async fn count(app: &TestApp) -> (i64, i64, i64) {
    let (clients, users) = app
        .state
        .store
        .run(|conn| {
            Ok((
                clients::table.count().get_result(conn)?,
                users::table.count().get_result(conn)?,
            ))
        })
        .await
        .unwrap();
    (clients, users, app.audit_count(None).await)
}

/// A request with a body sent as is, under `content_type`; its status and JSON answer.
async fn raw(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
) -> (u16, Value) {
    let url = format!("{}{path}", app.admin);
    let mut req = match method {
        Method::Get => app.http.get(url),
        Method::Post => app.http.post(url),
        Method::Put => app.http.put(url),
        Method::Patch => app.http.patch(url),
        Method::Delete => app.http.delete(url),
    };
    req = req.bearer_auth(token);
    if let Some((content_type, body)) = body {
        req = req.header("content-type", content_type).body(body);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json::<Value>().await.unwrap())
}

/// One refused request: what is sent, and what must come back.
struct Refused {
    method: Method,
    path: &'static str,
    /// Content type and body, when there is one.
    body: Option<(&'static str, Vec<u8>)>,
    status: u16,
    /// The `error` code, where the case pins it.
    error: Option<&'static str>,
    /// The `field` named, where the case pins it.
    field: Option<&'static str>,
}

fn post(
    path: &'static str,
    body: &[u8],
    status: u16,
    error: &'static str,
    field: &'static str,
) -> Refused {
    Refused {
        method: Method::Post,
        path,
        body: Some(("application/json", body.to_vec())),
        status,
        error: Some(error),
        field: Some(field),
    }
}

fn bad_client(body: &[u8], field: &'static str) -> Refused {
    post("/admin/v1/clients", body, 400, "invalid_request", field)
}

fn bad_user(body: &[u8], field: &'static str) -> Refused {
    post("/admin/v1/users", body, 400, "invalid_request", field)
}

fn query(path: &'static str, field: &'static str) -> Refused {
    Refused {
        method: Method::Get,
        path,
        body: None,
        status: 400,
        error: None,
        field: Some(field),
    }
}

fn refused_cases() -> Vec<Refused> {
    let mut huge = br#"{"client_name": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 70 * 1024));
    huge.extend(br#""}"#);
    let json = |v: Value| Some(("application/json", serde_json::to_vec(&v).unwrap()));
    vec![
        // Bodies: malformed, unknown, repeated, missing and mistyped fields; URIs and
        // identifiers the rules refuse.
        bad_client(b"{\"client_name\": ", "body"),
        bad_client(br#"{"client_name": "a", "colour": "red"}"#, "colour"),
        bad_client(br#"{"client_name": "a", "client_name": "b"}"#, "client_name"),
        bad_client(br#"{"grant_types": ["client_credentials"]}"#, "client_name"),
        bad_client(
            br#"{"client_name": "a", "redirect_uris": "https://a.example/cb"}"#,
            "redirect_uris",
        ),
        bad_client(
            br#"{"client_name": "a", "redirect_uris": ["https://a.example/cb", 7]}"#,
            "redirect_uris[1]",
        ),
        bad_client(
            br#"{"client_name": "a", "redirect_uris": ["javascript:alert(1)"]}"#,
            "redirect_uris",
        ),
        bad_client(
            br#"{"client_name": "a", "redirect_uris": ["http://evil.example/cb"]}"#,
            "redirect_uris",
        ),
        bad_client(br#"{"client_name": "a", "client_id": "has space"}"#, "client_id"),
        bad_client(
            br#"{"client_name": "a", "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"]}"#,
            "grant_types",
        ),
        post(
            "/admin/v1/users",
            br#"{"username": "ALICE"}"#,
            409,
            "conflict",
            "username",
        ),
        bad_user(br#"{"username": "bob", "email": "not-an-address"}"#, "email"),
        bad_user(br#"{"username": "bob", "password": "short"}"#, "password"),
        bad_user(br#"{"username": "bob", "roles": ["Not A Role"]}"#, "role"),
        bad_user(br#"[]"#, "body"),
        bad_user(br#"{"username": "bob"} trailing"#, "body"),
        // A duplicate client_id (the test made "dup" first).
        Refused {
            method: Method::Post,
            path: "/admin/v1/clients",
            body: Some(("application/json", DUP.to_vec())),
            status: 409,
            error: None,
            field: Some("client_id"),
        },
        // Oversized and non-JSON bodies.
        Refused {
            method: Method::Post,
            path: "/admin/v1/clients",
            body: Some(("application/json", huge)),
            status: 413,
            error: Some("payload_too_large"),
            field: Some("body"),
        },
        Refused {
            method: Method::Post,
            path: "/admin/v1/clients",
            body: Some(("text/plain", b"{}".to_vec())),
            status: 415,
            error: None,
            field: Some("body"),
        },
        // Query strings: unknown, repeated and mistyped parameters.
        query("/admin/v1/users?colour=red", "colour"),
        query("/admin/v1/users?limit=1&limit=2", "limit"),
        query("/admin/v1/users?limit=ten", "limit"),
        query("/admin/v1/users?limit=0", "limit"),
        query("/admin/v1/users?offset=-1", "offset"),
        query("/admin/v1/audit?from=10&to=5", "from"),
        // PATCH: invalid values and unknown fields change nothing.
        Refused {
            method: Method::Patch,
            path: "/admin/v1/clients/dup",
            body: json(
                json!({ "redirect_uris": ["https://ok.example/cb", "data:text/html,x"], "client_name": "changed" }),
            ),
            status: 400,
            error: None,
            field: Some("redirect_uris"),
        },
        Refused {
            method: Method::Patch,
            path: "/admin/v1/users/alice",
            body: json(json!({ "password_hash": "x" })),
            status: 400,
            error: None,
            field: None,
        },
        // Unknown objects are 404 with the JSON shape.
        Refused {
            method: Method::Get,
            path: "/admin/v1/users/nobody",
            body: None,
            status: 404,
            error: Some("not_found"),
            field: None,
        },
    ]
}

/// The one valid create of the test, and the duplicate of it among the cases.
const DUP: &[u8] =
    br#"{"client_name": "a", "client_id": "dup", "grant_types": ["client_credentials"]}"#;

#[tokio::test]
async fn invalid_requests_name_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["admin"]).await;
    new_user(&app, "alice", &[]).await;
    let before = count(&app).await;
    let (status, created) = raw(
        &app,
        &token,
        Method::Post,
        "/admin/v1/clients",
        Some(("application/json", DUP.to_vec())),
    )
    .await;
    assert_eq!(status, 201, "{created}");

    for case in refused_cases() {
        let shown = match &case.body {
            Some((_, body)) if body.len() <= 200 => String::from_utf8_lossy(body).into_owned(),
            Some((content_type, body)) => format!("{} bytes of {content_type}", body.len()),
            None => String::new(),
        };
        let what = format!("{} {} {shown}", case.method.as_str(), case.path);
        let (status, json) = raw(&app, &token, case.method, case.path, case.body).await;
        assert_eq!(status, case.status, "{what}: {json}");
        if let Some(error) = case.error {
            assert_eq!(json["error"], error, "{what}: {json}");
            assert!(
                json["error_description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{what}: {json}"
            );
        }
        if let Some(field) = case.field {
            assert_eq!(json["field"], field, "{what}: {json}");
        }
    }

    // The refused PATCH changed nothing.
    let (_, client) = call(&app, Method::Get, "/admin/v1/clients/dup", &token, None).await;
    assert_eq!(client["client_name"], "a");
    assert_eq!(client["redirect_uris"], json!([]));

    // Only the one valid create wrote anything (a client and its audit row).
    let after = count(&app).await;
    assert_eq!(after, (before.0 + 1, before.1, before.2 + 1));
}
