//! What the admin API answers and audits never carries a secret: client secrets and
//! generated passwords are shown once, in the response that made them, and nowhere else.

use std::collections::BTreeSet;

use portcullis::admin::table::Method;
use serde_json::{Value, json};

use super::{admin_token, call};
use crate::helpers::spawn_app;

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
