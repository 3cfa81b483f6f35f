//! Issue 22, item 4: the password policy (OWASP ASVS V6.2), one rule
//! (`accounts::new_password::check`) wherever a password is chosen: the account page, the
//! admin API and the CLI here (sign-up and reset call the same function). At least
//! `password.min_length` characters (8 by default), 64 and more allowed, no composition
//! rules, none of the bundled common or breached passwords, not containing the username;
//! each refusal says why.

use portcullis::admin::table::Method;
use portcullis::manage::{Actor, ManageError};
use serde_json::json;
use zeroize::Zeroizing;

use crate::account::{page, post_form, sign_in};
use crate::helpers::{TestDb, load_config, location, spawn_app, spawn_app_with};

/// A password that meets every rule and is on no list.
const GOOD: &str = "otter-lantern-quartz-9";

/// The account page's answer to a new password `new`.
async fn change_on_page(
    app: &crate::helpers::TestApp,
    b: &reqwest::Client,
    current: &str,
    new: &str,
) -> reqwest::Response {
    let html = page(app, b, "/account/password").await;
    post_form(
        app,
        b,
        "/account/password",
        &html,
        &[
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await
}

#[tokio::test]
async fn the_account_page_says_why_a_password_is_refused() {
    let app = spawn_app().await;
    let tamsin = app.user("tamsin").await;
    let b = app.browser();
    sign_in(&app, &b, &tamsin).await;
    for (new, why) in [
        ("seven77", "The new password must be at least 8 characters."),
        (
            "password123",
            "The new password is one of the most common passwords",
        ),
        (
            "Sunshine1",
            "The new password is one of the most common passwords",
        ),
        (
            "xx-TAMSIN-was-here",
            "The new password must not contain the username.",
        ),
    ] {
        let r = change_on_page(&app, &b, &tamsin.password, new).await;
        assert_eq!(r.status(), 200, "{new}: the form again");
        let html = r.text().await.unwrap();
        assert!(html.contains(why), "{new}: {html}");
    }
    assert_eq!(app.audit_count(Some("user.password_changed")).await, 0);

    // 64 characters and more are allowed (ASVS V6.2.9); no composition rules.
    let long = "a passphrase of plain lowercase words that runs well past sixty-four characters";
    assert!(long.chars().count() > 64);
    let r = change_on_page(&app, &b, &tamsin.password, long).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account?done=password");
}

#[tokio::test]
async fn operators_are_refused_common_passwords_with_the_reason() {
    let app = spawn_app().await;
    app.user("ulrike").await;
    // The service (CLI and API share it): each rule, with the field and the reason.
    for (password, why) in [
        ("iloveyou2", "common"),
        ("short", "at least 8 characters"),
        ("ulrike-rocks-hard", "must not contain the username"),
    ] {
        let err = app
            .state
            .service
            .set_password(&Actor::cli(), "ulrike", Zeroizing::new(password.into()))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ManageError::Invalid { field: "password", message } if message.contains(why)),
            "{password}: {err}"
        );
    }
    // Creating a user checks the username being created.
    let err = app
        .state
        .service
        .create_user(
            &Actor::cli(),
            portcullis::manage::users::NewUser {
                username: "victoria".into(),
                password: Some(Zeroizing::new("Victoria1990!".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("username"), "{err}");

    // The admin API: 400 naming the field and why.
    let token = crate::admin::admin_token(&app, &["admin"]).await;
    let (status, body) = crate::admin::call(
        &app,
        Method::Post,
        "/admin/v1/users/ulrike/password",
        &token,
        Some(json!({ "password": "qwertyuiop" })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("most common passwords"), "{body}");
    assert!(body.to_string().contains("password"), "{body}");
    let (status, body) = crate::admin::call(
        &app,
        Method::Post,
        "/admin/v1/users/ulrike/password",
        &token,
        Some(json!({ "password": GOOD })),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The CLI: a common password on standard input is refused, with the reason.
    let db = app.db.clone();
    let out = tokio::task::spawn_blocking(move || {
        crate::cli::run(
            &db,
            &["user", "set-password", "ulrike", "--password-stdin"],
            Some("football1\n"),
        )
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("most common passwords"), "{stderr}");
}

#[tokio::test]
async fn the_configured_minimum_length_applies() {
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), |config| {
        config.password.policy.min_chars = 12;
    })
    .await;
    app.user("wanda").password("otter-lantern-quartz").await;
    let err = app
        .state
        .service
        .set_password(&Actor::cli(), "wanda", Zeroizing::new("zq8-vtr-plk".into()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at least 12 characters"), "{err}");
    app.state
        .service
        .set_password(
            &Actor::cli(),
            "wanda",
            Zeroizing::new("zq8-vtr-plk-w".into()),
        )
        .await
        .unwrap();

    // The setting loads from the environment, and a minimum below 8 or above 64 is a
    // start-up error naming it.
    let config = load_config(&[("PORTCULLIS_PASSWORD__MIN_LENGTH", "12")]).unwrap();
    assert_eq!(config.password.policy.min_chars, 12);
    assert_eq!(load_config(&[]).unwrap().password.policy.min_chars, 8);
    for bad in ["7", "65"] {
        let err = load_config(&[("PORTCULLIS_PASSWORD__MIN_LENGTH", bad)]).unwrap_err();
        assert!(err.to_string().contains("password.min_length"), "{err}");
    }
}
