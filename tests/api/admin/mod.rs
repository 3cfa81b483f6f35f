//! The admin API, by topic: authentication and the RBAC walk over every route of the
//! table (`rbac`), validation (`validation`), users, clients and keys through the API and
//! the CLI alike (`users`, `clients`, `keys`), audit including tampering (`audit`), and
//! the OpenAPI document with the CLI's list of commands (`openapi`). This file holds what
//! they share: service accounts with admin tokens, and calls to the admin listener.

mod audit;
mod audit_key;
mod clients;
mod escalation;
mod keys;
mod openapi;
mod rbac;
mod secrets;
mod users;
mod validation;

use portcullis::admin::table::Method;
use serde_json::Value;

use crate::cli::{fails, ok_json};
use crate::helpers::{TestApp, TestClient};

/// A service account holding `roles`, allowed `scope` by client_credentials.
async fn service_account(app: &TestApp, id: &str, roles: &[&str], scope: &str) -> TestClient {
    app.confidential_client(id)
        .grants(&["client_credentials"])
        .scope(scope)
        .roles(roles)
        .await
}

/// An access token for a new service account with `roles` and the `admin` scope.
pub(crate) async fn admin_token(app: &TestApp, roles: &[&str]) -> String {
    let id = format!("svc-{}-{}", roles.join("-"), uuid::Uuid::new_v4().simple());
    let account = service_account(app, &id, roles, "admin api").await;
    app.cc_token(&account, Some("admin")).await
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
pub(crate) async fn call(
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

/// A user with `roles`; its id.
async fn new_user(app: &TestApp, name: &str, roles: &[&str]) -> String {
    app.user(name).roles(roles).await.id
}

/// A browser session of `user_id`, stored as a sign-in would store it; its `sid`.
async fn browser_session(app: &TestApp, user_id: &str) -> String {
    use portcullis::clock::Clock;
    use portcullis::store::browser::{NewSession, Session};
    let now = app.clock.now();
    let sid = uuid::Uuid::new_v4().simple().to_string();
    app.state
        .store
        .create_session(
            NewSession {
                id_digest: uuid::Uuid::new_v4().as_bytes().to_vec(),
                session: Session {
                    sid: sid.clone(),
                    user_id: user_id.to_owned(),
                    auth_time: now,
                    amr: vec!["pwd".into()],
                },
                now,
                idle_expires_at: now + 3600,
                absolute_expires_at: now + 7200,
                user_agent: Some("walk".into()),
                ip: Some("192.0.2.1".into()),
            },
            "no-request",
            "no-client",
        )
        .await
        .unwrap();
    sid
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

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

async fn cli_json(app: &TestApp, args: &[&str]) -> Value {
    let db = app.db.clone();
    let args = owned(args);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok_json(&db, &args, None)
    })
    .await
    .unwrap()
}

async fn cli_fails(app: &TestApp, args: &[&str]) -> String {
    let db = app.db.clone();
    let args = owned(args);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(&db, &args)
    })
    .await
    .unwrap()
}

/// How the API's answer and the CLI's answer to the same request must compare.
#[derive(Clone, Copy)]
enum Same {
    /// Equal once these fields (ids, times, secrets) are dropped from both.
    Except(&'static [&'static str]),
    /// Equal once the first list is dropped from the API's answer and the second from the
    /// CLI's (they do not print quite the same fields).
    ExceptEach(&'static [&'static str], &'static [&'static str]),
    /// Both show a newly made `secret` field (a password, a client secret), and are
    /// equal once the fields are dropped.
    Created(&'static str, &'static [&'static str]),
    /// Both generated a password of at least 20 characters.
    GeneratedPassword,
    /// The API's page of `items` is the CLI's list.
    Items,
    /// Exactly equal.
    Exactly,
}

/// One row of a parity table: the API call, the CLI command, and how they compare.
struct Parity {
    what: &'static str,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    cli: &'static [&'static str],
    same: Same,
}

fn step(
    what: &'static str,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    cli: &'static [&'static str],
    same: Same,
) -> Parity {
    Parity {
        what,
        method,
        path,
        body,
        cli,
        same,
    }
}

/// Runs each row through the API and the CLI and compares the answers.
async fn assert_parity(app: &TestApp, token: &str, rows: Vec<Parity>) {
    for row in rows {
        let a = ok(app, token, row.method, row.path, row.body).await;
        let c = cli_json(app, row.cli).await;
        match row.same {
            Same::Except(fields) => {
                assert_eq!(comparable(a, fields), comparable(c, fields), "{}", row.what)
            }
            Same::ExceptEach(api, cli) => {
                assert_eq!(comparable(a, api), comparable(c, cli), "{}", row.what)
            }
            Same::Created(secret, fields) => {
                assert!(
                    a[secret].is_string() && c[secret].is_string(),
                    "{}: {secret} shown once",
                    row.what
                );
                assert_eq!(comparable(a, fields), comparable(c, fields), "{}", row.what);
            }
            Same::Items => assert_eq!(a["items"], c, "{}", row.what),
            Same::GeneratedPassword => {
                assert!(a["password"].as_str().unwrap().len() >= 20, "{}", row.what);
                assert!(c["password"].as_str().unwrap().len() >= 20, "{}", row.what);
            }
            Same::Exactly => assert_eq!(a, c, "{}", row.what),
        }
    }
}
