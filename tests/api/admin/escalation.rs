//! No escalation (SECURITY.md, access control): a principal creates or changes only
//! principals whose rights are a subset of its own, and acts on none that holds more. The
//! walk goes over every write route of `ADMIN_API`, every role below `admin` (which holds
//! every right, so nothing holds more), and targets that hold more than the caller: each
//! attempt is 403 `access_denied`, writes nothing, and leaves an `admin.denied` row.

use portcullis::admin::routes::ADMIN_API;
use portcullis::admin::table::{AdminRoute, Method};
use portcullis::manage::Actor;
use portcullis::store::models::audit::AuditFilter;
use serde_json::{Value, json};

use super::{call, cli_json, ok, service_account};
use crate::helpers::{
    TestApp, TestClient, TestUser, access_token, spawn_app, spawn_app_without_mfa_roles,
};

/// What a write route acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Acts {
    /// Creates a client with the rights in its body.
    NewClient,
    /// Changes an existing client (and may give it rights).
    Client,
    NewUser,
    User,
    /// Signing keys: they hold no rights, so only the route's permission decides.
    Keys,
    /// Initial access tokens: they confer none of the caller's rights (what they let
    /// register is bounded by the registration policy, never a role or `admin`), so only
    /// the route's permission decides.
    RegistrationTokens,
}

/// Every write route, by what it acts on; `None` for a write route the walk does not know
/// (then `the_walk_knows_every_write_route` fails) or a read.
fn acts(route: &AdminRoute) -> Option<Acts> {
    match (route.method, route.path) {
        (Method::Get, _) => None,
        (Method::Post, "/admin/v1/clients") => Some(Acts::NewClient),
        (Method::Patch | Method::Delete, "/admin/v1/clients/{client_id}")
        | (
            Method::Post,
            "/admin/v1/clients/{client_id}/rotate-secret" | "/admin/v1/clients/{client_id}/promote",
        ) => Some(Acts::Client),
        (Method::Post, "/admin/v1/registration-tokens") => Some(Acts::RegistrationTokens),
        (Method::Post, "/admin/v1/users") => Some(Acts::NewUser),
        (Method::Patch | Method::Delete, "/admin/v1/users/{user}")
        | (
            Method::Post,
            "/admin/v1/users/{user}/disable"
            | "/admin/v1/users/{user}/enable"
            | "/admin/v1/users/{user}/password",
        )
        | (Method::Put | Method::Delete, "/admin/v1/users/{user}/roles/{role}")
        | (
            Method::Delete,
            "/admin/v1/users/{user}/sessions"
            | "/admin/v1/users/{user}/sessions/{session}"
            | "/admin/v1/users/{user}/factors",
        ) => Some(Acts::User),
        (Method::Post, "/admin/v1/keys/rotate" | "/admin/v1/keys/rewrap")
        | (Method::Post, "/admin/v1/keys/{kid}/retire") => Some(Acts::Keys),
        (Method::Post | Method::Put | Method::Patch | Method::Delete, _) => None,
    }
}

fn is_write(route: &AdminRoute) -> bool {
    route.method != Method::Get
}

#[test]
fn the_walk_knows_every_write_route() {
    let writes: Vec<_> = ADMIN_API.iter().filter(|r| is_write(r)).collect();
    assert!(writes.len() >= 16, "the table lost write routes");
    for route in writes {
        assert!(
            acts(route).is_some(),
            "{} {}: a write route the escalation walk does not know; add it to `acts`",
            route.method.as_str(),
            route.path
        );
    }
}

/// One attempt of the walk: a request that must be refused.
struct Attempt {
    what: String,
    path: String,
    body: Option<Value>,
    /// A client whose secret must still work afterwards.
    secret_kept: Option<TestClient>,
}

/// A service-account client holding `roles` and `scope`, for a target.
async fn target_client(app: &TestApp, roles: &[&str], scope: &str) -> TestClient {
    let id = format!("target-{}", uuid::Uuid::new_v4().simple());
    service_account(app, &id, roles, scope).await
}

async fn target_user(app: &TestApp, roles: &[&str]) -> TestUser {
    let name = format!("target-{}", uuid::Uuid::new_v4().simple());
    app.user(&name).roles(roles).await
}

/// Clients that hold more than an operator with the scopes `admin api`: the admin role,
/// the auditor's audit access, an application role, a scope.
const MORE_THAN_AN_OPERATOR: &[(&[&str], &str)] = &[
    (&["admin"], "api"),
    (&["auditor"], "api"),
    (&["operator", "staff"], "admin api"),
    (&["operator"], "admin api billing"),
];

/// Requests of `route` against targets holding more than an operator (and so more than an
/// auditor or a role the admin API does not know).
async fn attempts(app: &TestApp, route: &AdminRoute) -> Vec<Attempt> {
    let mut out = Vec::new();
    let with_id = |id: &str| route.path.replace("{client_id}", id);
    match acts(route) {
        Some(Acts::NewClient) => {
            for (roles, scope) in MORE_THAN_AN_OPERATOR {
                out.push(Attempt {
                    what: format!("create a client with {roles:?} {scope:?}"),
                    path: route.path.to_owned(),
                    body: Some(json!({
                        "client_name": "escalated", "grant_types": ["client_credentials"],
                        "scope": scope, "roles": roles,
                    })),
                    secret_kept: None,
                });
            }
        }
        Some(Acts::Client) => {
            for (roles, scope) in MORE_THAN_AN_OPERATOR {
                let target = target_client(app, roles, scope).await;
                // Above all: redirecting a client that holds more.
                let body = (route.method == Method::Patch).then(
                    || json!({ "redirect_uris": ["https://attacker.example/cb"], "disabled": true }),
                );
                out.push(Attempt {
                    what: format!("act on a client holding {roles:?} {scope:?}"),
                    path: with_id(&target.id),
                    body,
                    secret_kept: Some(target),
                });
            }
            if route.method == Method::Patch {
                // A client within the operator's rights, changed to hold more.
                for (roles, scope) in MORE_THAN_AN_OPERATOR {
                    let target = target_client(app, &["operator"], "api").await;
                    out.push(Attempt {
                        what: format!("give a client {roles:?} {scope:?}"),
                        path: with_id(&target.id),
                        body: Some(json!({ "roles": roles, "scope": scope })),
                        secret_kept: Some(target),
                    });
                }
            }
        }
        Some(Acts::NewUser) => out.push(Attempt {
            what: "create an admin".into(),
            path: route.path.to_owned(),
            body: Some(json!({ "username": "escalated", "roles": ["admin"] })),
            secret_kept: None,
        }),
        Some(Acts::User) => {
            let admin = target_user(app, &["admin"]).await;
            let path = route
                .path
                .replace("{user}", &admin.id)
                .replace("{role}", "admin")
                .replace("{session}", "any-session");
            let body = match route.method {
                Method::Patch => Some(json!({ "email": "attacker@example.com" })),
                Method::Post if route.path.ends_with("/password") => {
                    Some(json!({ "password": "chosen by the attacker" }))
                }
                Method::Get | Method::Post | Method::Put | Method::Delete => None,
            };
            out.push(Attempt {
                what: "act on an admin".into(),
                path,
                body,
                secret_kept: None,
            });
            if route.method == Method::Put {
                let staff = target_user(app, &["staff"]).await;
                out.push(Attempt {
                    what: "make a user admin".into(),
                    path: format!("/admin/v1/users/{}/roles/admin", staff.id),
                    body: None,
                    secret_kept: None,
                });
            }
        }
        Some(Acts::RegistrationTokens) => out.push(Attempt {
            what: "make an initial access token".into(),
            path: route.path.to_owned(),
            body: Some(json!({ "uses": 1 })),
            secret_kept: None,
        }),
        Some(Acts::Keys) => {
            let kid = app
                .state
                .keys
                .current()
                .active_kid()
                .expect("an active key")
                .to_owned();
            out.push(Attempt {
                what: "manage keys".into(),
                path: route.path.replace("{kid}", &kid),
                body: None,
                secret_kept: None,
            });
        }
        None => panic!(
            "{} {}: no attempts for this route",
            route.method.as_str(),
            route.path
        ),
    }
    out
}

/// Everything a refused write could have changed, as the operator sees it.
async fn snapshot(app: &TestApp) -> Value {
    let svc = &app.state.service;
    json!({
        "clients": svc.list_clients().await.unwrap(),
        "users": svc.list_users(None, 0, 1000).await.unwrap(),
        "keys": svc.list_keys(&app.state.keys),
    })
}

/// The newest `admin.denied` row.
async fn last_refusal(app: &TestApp) -> Value {
    let filter = AuditFilter {
        event_type: Some("admin.denied".into()),
        ..AuditFilter::default()
    };
    let rows = app
        .state
        .service
        .query_audit(filter, 0, 1000)
        .await
        .unwrap();
    serde_json::to_value(rows.last().expect("an admin.denied row")).unwrap()
}

/// The roles the walk tries, below `admin`: each is a service account with the scopes
/// `admin api` and its admin token.
const ROLES: &[&str] = &["operator", "auditor", "staff"];

#[tokio::test]
async fn no_role_acts_on_or_confers_more_than_it_holds() {
    let app = spawn_app().await;
    let mut callers = Vec::new();
    for role in ROLES {
        let id = format!("caller-{role}");
        let account = service_account(&app, &id, &[role], "admin api").await;
        callers.push((*role, id, app.cc_token(&account, Some("admin")).await));
    }

    let mut tried = 0;
    for route in ADMIN_API.iter().filter(|r| is_write(r)) {
        for (role, caller_id, token) in &callers {
            // Keys hold no rights: a role with the permission cannot find a key that
            // holds more than it (the RBAC walk shows that it succeeds).
            if matches!(acts(route), Some(Acts::Keys | Acts::RegistrationTokens))
                && *role == "operator"
            {
                continue;
            }
            for attempt in attempts(&app, route).await {
                let what = format!(
                    "{} {} as {role}: {}",
                    route.method.as_str(),
                    route.path,
                    attempt.what
                );
                let before = snapshot(&app).await;
                let refusals = app.audit_count(Some("admin.denied")).await;

                let (status, body) =
                    call(&app, route.method, &attempt.path, token, attempt.body).await;
                assert_eq!(status, 403, "{what}: {body}");
                assert_eq!(body["error"], "access_denied", "{what}: {body}");

                assert_eq!(
                    snapshot(&app).await,
                    before,
                    "{what}: something was written"
                );
                if let Some(target) = &attempt.secret_kept {
                    let (status, body) = app
                        .token_request(target, &[("grant_type", "client_credentials")])
                        .await;
                    assert_eq!(status, 200, "{what}: the target's secret changed: {body}");
                }
                assert_eq!(
                    app.audit_count(Some("admin.denied")).await,
                    refusals + 1,
                    "{what}: one audit row for the refusal"
                );
                let row = last_refusal(&app).await;
                assert_eq!(row["actor"], format!("client:{caller_id}"), "{what}");
                tried += 1;
            }
        }
    }
    assert!(tried >= 60, "the walk tried only {tried} attempts");
    assert_eq!(
        app.state.service.verify_audit().await.unwrap().first_broken,
        None
    );
}

#[tokio::test]
async fn an_operator_manages_clients_within_its_rights() {
    let app = spawn_app().await;
    let ops = service_account(&app, "ops", &["operator"], "admin api").await;
    let token = app.cc_token(&ops, Some("admin")).await;

    // A client that holds what the operator holds, no more.
    let created = ok(
        &app,
        &token,
        Method::Post,
        "/admin/v1/clients",
        Some(json!({
            "client_id": "peer", "client_name": "Peer", "grant_types": ["client_credentials"],
            "scope": "admin api", "roles": ["operator"],
        })),
    )
    .await;
    assert_eq!(created["roles"], json!(["operator"]));
    let web = ok(
        &app,
        &token,
        Method::Post,
        "/admin/v1/clients",
        Some(json!({
            "client_id": "web", "client_name": "Web",
            "redirect_uris": ["https://app.example/cb"], "scope": "api",
        })),
    )
    .await;
    assert_eq!(web["scope"], "api");

    let changed = ok(
        &app,
        &token,
        Method::Patch,
        "/admin/v1/clients/web",
        Some(json!({ "redirect_uris": ["https://app.example/new"], "scope": "admin api" })),
    )
    .await;
    assert_eq!(changed["redirect_uris"], json!(["https://app.example/new"]));

    let old = TestClient {
        id: "peer".into(),
        secret: created["client_secret"].as_str().map(str::to_owned),
    };
    let rotated = ok(
        &app,
        &token,
        Method::Post,
        "/admin/v1/clients/peer/rotate-secret",
        None,
    )
    .await;
    let (status, _) = app
        .token_request(&old, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, 401, "the old secret stops working");
    let new = TestClient {
        id: "peer".into(),
        secret: rotated["client_secret"].as_str().map(str::to_owned),
    };
    let (status, body) = app
        .token_request(&new, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, 200, "{body}");

    let disabled = ok(
        &app,
        &token,
        Method::Patch,
        "/admin/v1/clients/peer",
        Some(json!({ "disabled": true })),
    )
    .await;
    assert_eq!(disabled["disabled"], true);
    let (status, _) = call(&app, Method::Delete, "/admin/v1/clients/web", &token, None).await;
    assert_eq!(status, 204);

    // Each change is audited with the operator as actor; nothing was refused.
    for event in [
        "client.created",
        "client.updated",
        "client.secret_rotated",
        "client.deleted",
    ] {
        let rows = app
            .state
            .service
            .query_audit(
                AuditFilter {
                    event_type: Some(event.into()),
                    actor: Some("client:ops".into()),
                    ..AuditFilter::default()
                },
                0,
                100,
            )
            .await
            .unwrap();
        assert!(
            !rows.is_empty(),
            "{event} recorded with the operator as actor"
        );
    }
    assert_eq!(app.audit_count(Some("admin.denied")).await, 0);
}

#[tokio::test]
async fn the_cli_keeps_every_right() {
    let app = spawn_app().await;
    // The CLI runs where the database and the master key are: it makes admins, admin
    // clients, and changes them.
    let user = cli_json(&app, &["user", "create", "root", "--role", "admin"]).await;
    assert_eq!(user["roles"], json!(["admin"]));
    let client = cli_json(
        &app,
        &[
            "client",
            "create",
            "--client-id",
            "console",
            "--name",
            "Console",
            "--grant",
            "client_credentials",
            "--scope",
            "admin",
            "--role",
            "admin",
        ],
    )
    .await;
    assert_eq!(client["roles"], json!(["admin"]));
    cli_json(
        &app,
        &[
            "client", "update", "console", "--scope", "admin", "--scope", "api",
        ],
    )
    .await;
    let rotated = cli_json(&app, &["client", "rotate-secret", "console"]).await;
    assert!(rotated["client_secret"].is_string());
    cli_json(&app, &["user", "add-role", "root", "operator"]).await;
    cli_json(&app, &["client", "delete", "console"]).await;
    assert_eq!(app.audit_count(Some("admin.denied")).await, 0);
    let rows = app
        .state
        .service
        .query_audit(
            AuditFilter {
                actor: Some("cli".into()),
                ..AuditFilter::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    assert!(rows.len() >= 6, "every CLI change is audited: {rows:?}");
}

/// How many enabled users hold `admin`.
async fn enabled_admins(app: &TestApp) -> usize {
    let users = app.state.service.list_users(None, 0, 1000).await.unwrap();
    users
        .iter()
        .filter(|u| !u.disabled && u.roles.iter().any(|r| r == "admin"))
        .count()
}

#[tokio::test]
async fn two_admins_demoting_each_other_over_http_leave_one() {
    let app = spawn_app_without_mfa_roles().await;
    let console = app
        .confidential_client("console")
        .grants(&["password"])
        .scope("admin")
        .await;
    // Each way a write takes an admin away, several times over, both at once; each round
    // with a fresh pair that are the only enabled admins.
    let ways: [(Method, &str); 3] = [
        (Method::Delete, "/admin/v1/users/{}/roles/admin"),
        (Method::Post, "/admin/v1/users/{}/disable"),
        (Method::Delete, "/admin/v1/users/{}"),
    ];
    let mut survivor: Option<TestUser> = None;
    for round in 0..9 {
        let alice = app.user(&format!("alice-{round}")).roles(&["admin"]).await;
        let bob = app.user(&format!("bob-{round}")).roles(&["admin"]).await;
        if let Some(last) = survivor.take() {
            app.state
                .service
                .remove_user_role(&Actor::cli(), &last.id, "admin")
                .await
                .unwrap();
        }
        assert_eq!(enabled_admins(&app).await, 2);
        let token_of = async |user: &TestUser| {
            access_token(&app.password_tokens(&console, user, Some("admin")).await)
        };
        let (alice_token, bob_token) = (token_of(&alice).await, token_of(&bob).await);

        let (method, template) = ways[round % ways.len()];
        let on_bob = template.replace("{}", &bob.id);
        let on_alice = template.replace("{}", &alice.id);
        let ((a, a_body), (b, b_body)) = tokio::join!(
            call(&app, method, &on_bob, &alice_token, None),
            call(&app, method, &on_alice, &bob_token, None),
        );
        let seen = format!("round {round}: {a} {a_body} / {b} {b_body}");
        assert_eq!(enabled_admins(&app).await, 1, "{seen}");
        let won = [a, b].iter().filter(|s| (200..300).contains(*s)).count();
        assert_eq!(won, 1, "one demotion wins: {seen}");
        // The loser is refused as the last admin (409), or by the time its request is
        // authenticated it no longer holds the role (403) or is disabled or gone (401).
        assert!(
            [a, b].iter().all(|s| [200, 204, 401, 403, 409].contains(s)),
            "{seen}"
        );
        survivor = Some(if (200..300).contains(&a) { alice } else { bob });
    }
}
