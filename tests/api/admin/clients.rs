//! Clients through the admin API and through the CLI: the same request gives the same
//! answer, step by step through a client's life.

use portcullis::admin::table::Method;
use serde_json::json;

use super::{Parity, Same, admin_token, assert_parity, cli_fails, cli_json, ok, step};
use crate::helpers::spawn_app;

/// What differs between two clients made the same way at different times, or through
/// the API and the CLI (`origin`: `api`, `cli`).
const CLIENT_FIELDS: &[&str] = &[
    "client_id",
    "created_at",
    "updated_at",
    "client_secret",
    "client_secret_expires_at",
    "origin",
];

/// Each step is done to `api-client` through the API and to `cli-client` through the CLI.
fn client_steps() -> Vec<Parity> {
    vec![
        step(
            "create",
            Method::Post,
            "/admin/v1/clients",
            Some(json!({
                "client_id": "api-client", "client_name": "Same",
                "redirect_uris": ["https://app.example/cb"], "scope": "openid profile",
                "roles": ["reporting"], "first_party": true,
            })),
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
            Same::Created("client_secret", CLIENT_FIELDS),
        ),
        step(
            "show",
            Method::Get,
            "/admin/v1/clients/cli-client",
            None,
            &["client", "show", "cli-client"],
            Same::Exactly,
        ),
        step(
            "list",
            Method::Get,
            "/admin/v1/clients",
            None,
            &["client", "list"],
            Same::Exactly,
        ),
        step(
            "update",
            Method::Patch,
            "/admin/v1/clients/api-client",
            Some(
                json!({ "client_name": "Renamed", "access_token_lifetime": 600, "disabled": true }),
            ),
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
            Same::Except(CLIENT_FIELDS),
        ),
        step(
            "rotate-secret",
            Method::Post,
            "/admin/v1/clients/api-client/rotate-secret",
            None,
            &["client", "rotate-secret", "cli-client"],
            Same::ExceptEach(
                &["client_id", "client_secret", "client_secret_expires_at"],
                &["client_id", "client_secret"],
            ),
        ),
    ]
}

#[tokio::test]
async fn api_and_cli_manage_clients_the_same_way() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["admin"]).await;
    assert_parity(&app, &token, client_steps()).await;

    // Delete: both gone.
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
}
