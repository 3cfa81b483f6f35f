//! Signing keys through the admin API and through the CLI: list, rotate, retire and
//! rewrap act on the same key set and answer alike.

use portcullis::admin::table::Method;
use serde_json::json;

use super::{Same, admin_token, assert_parity, cli_fails, cli_json, ok, step};
use crate::helpers::spawn_app;

#[tokio::test]
async fn api_and_cli_manage_keys_the_same_way() {
    let app = spawn_app().await;
    let token = admin_token(&app, &["admin"]).await;

    // Rotate through the API: a pending key, not yet active.
    let rotated = ok(&app, &token, Method::Post, "/admin/v1/keys/rotate", None).await;
    assert_eq!(rotated["switched"], false);
    assert_parity(
        &app,
        &token,
        vec![step(
            "list",
            Method::Get,
            "/admin/v1/keys",
            None,
            &["keys", "list"],
            Same::Exactly,
        )],
    )
    .await;
    // Rotate through the CLI: the same pending key.
    let c = cli_json(&app, &["keys", "rotate"]).await;
    assert_eq!(
        c["next_kid"], rotated["next_kid"],
        "the pending key is reused"
    );
    // Retire through the API; the CLI then finds nothing to retire.
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
    assert_parity(
        &app,
        &token,
        vec![step(
            "rewrap",
            Method::Post,
            "/admin/v1/keys/rewrap",
            None,
            &["keys", "rewrap"],
            Same::Exactly,
        )],
    )
    .await;
}
