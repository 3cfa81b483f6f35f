//! Users through the admin API and through the CLI: the same request gives the same
//! answer, step by step through a user's life.

use portcullis::admin::table::Method;
use portcullis::manage::Actor;
use serde_json::json;
use zeroize::Zeroizing;

use super::{Parity, Same, admin_token, assert_parity, cli_json, comparable, ok, step};
use crate::helpers::{PASSWORD, spawn_app};

/// What differs between two users made the same way at different times.
const USER_FIELDS: &[&str] = &["id", "username", "created_at", "updated_at", "password"];

/// Each step is done to `api-user` through the API and to `cli-user` through the CLI.
fn user_steps() -> Vec<Parity> {
    vec![
        step(
            "create",
            Method::Post,
            "/admin/v1/users",
            Some(
                json!({ "username": "api-user", "email": "a@example.com", "name": "A", "roles": ["staff"] }),
            ),
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
            Same::Created("password", USER_FIELDS),
        ),
        step(
            "list",
            Method::Get,
            "/admin/v1/users?search=-user",
            None,
            &["user", "list", "--search=-user"],
            Same::Items,
        ),
        step(
            "show",
            Method::Get,
            "/admin/v1/users/cli-user",
            None,
            &["user", "show", "cli-user"],
            Same::Exactly,
        ),
        step(
            "update",
            Method::Patch,
            "/admin/v1/users/api-user",
            Some(json!({ "email": "b@example.com", "email_verified": true })),
            &[
                "user",
                "update",
                "cli-user",
                "--email",
                "b@example.com",
                "--email-verified",
                "true",
            ],
            Same::Except(USER_FIELDS),
        ),
        step(
            "disable",
            Method::Post,
            "/admin/v1/users/api-user/disable",
            None,
            &["user", "disable", "cli-user"],
            Same::Except(USER_FIELDS),
        ),
        step(
            "enable",
            Method::Post,
            "/admin/v1/users/api-user/enable",
            None,
            &["user", "enable", "cli-user"],
            Same::Except(USER_FIELDS),
        ),
        step(
            "add-role",
            Method::Put,
            "/admin/v1/users/api-user/roles/auditor",
            None,
            &["user", "add-role", "cli-user", "auditor"],
            Same::Except(USER_FIELDS),
        ),
        step(
            "remove-role",
            Method::Delete,
            "/admin/v1/users/api-user/roles/staff",
            None,
            &["user", "remove-role", "cli-user", "staff"],
            Same::Except(USER_FIELDS),
        ),
        step(
            "set-password",
            Method::Post,
            "/admin/v1/users/api-user/password",
            None,
            &["user", "set-password", "cli-user"],
            Same::GeneratedPassword,
        ),
    ]
}

#[tokio::test]
async fn api_and_cli_manage_users_the_same_way() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["admin"]).await;
    assert_parity(&app, &token, user_steps()).await;

    // Sessions: one password-grant login each, listed and revoked the same way.
    let console = app
        .confidential_client("console")
        .grants(&["password"])
        .scope("profile")
        .await;
    for name in ["api-user", "cli-user"] {
        app.state
            .service
            .set_password(&Actor::cli(), name, Zeroizing::new(PASSWORD.into()))
            .await
            .unwrap();
        app.tokens(
            &console,
            &[
                ("grant_type", "password"),
                ("username", name),
                ("password", PASSWORD),
            ],
        )
        .await;
    }
    let a = ok(
        &app,
        &token,
        Method::Get,
        "/admin/v1/users/api-user/grants",
        None,
    )
    .await;
    let c = cli_json(&app, &["user", "grants", "cli-user"]).await;
    assert_eq!(a.as_array().unwrap().len(), 1);
    assert_eq!(
        comparable(a[0].clone(), &["id"]),
        comparable(c[0].clone(), &["id"])
    );
    assert_parity(
        &app,
        &token,
        vec![step(
            "revoke-sessions",
            Method::Delete,
            "/admin/v1/users/api-user/sessions",
            None,
            &["user", "revoke-sessions", "cli-user"],
            Same::Exactly,
        )],
    )
    .await;
    assert_eq!(
        cli_json(&app, &["user", "grants", "api-user"]).await,
        json!([])
    );

    // Delete: both gone.
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
}
