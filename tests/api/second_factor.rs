//! Second factors at sign-in (issue 20): TOTP enrolment led by policy, TOTP codes (once
//! each, one step of skew, throttled with the password), recovery codes, what the ID token
//! then says (`amr`, `acr`), step-up by `max_age`, `prompt=none`'s answers, and the
//! password grant's refusal. Passkeys are in `passkeys.rs`.

use openidconnect::AuthenticationContextClass;
use openidconnect::core::CoreAuthPrompt;
use portcullis::crypto::totp::{self, TotpSecret};
use serde_json::Value;

use portcullis::clock::Clock;

use crate::helpers::{
    CALLBACK, Rp, Started, TestApp, TestUser, follow, hidden, location, query_param, spawn_app_now,
    spawn_app_now_with, submit, visit,
};

const ACR_1FA: &str = "urn:portcullis:acr:1fa";
const ACR_MFA: &str = "urn:portcullis:acr:mfa";

/// The TOTP key an enrolment page shows in text.
fn shown_secret(html: &str) -> TotpSecret {
    let start = html.find("class=\"secret\">").expect("the key in text") + 15;
    let text = html[start..].split('<').next().unwrap();
    TotpSecret::from_base32(text).unwrap()
}

/// The recovery codes a notice page shows.
fn shown_codes(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect()
}

fn code_at(secret: &TotpSecret, now: i64, steps: i64) -> String {
    totp::code_at_step(secret, totp::step_at(now) + steps)
}

/// A first-party client and its relying party.
async fn setup(app: &TestApp) -> Rp {
    let client = app
        .confidential_client("web")
        .redirect_uris(&[CALLBACK])
        .first_party()
        .await;
    Rp::new(app, "web", Some(client.secret())).await
}

/// Starts a sign-in and answers the password form: the page the browser lands on next
/// (its HTML) and that page's URL.
async fn password_step(
    app: &TestApp,
    b: &reqwest::Client,
    started: &Started,
    user: &TestUser,
) -> (String, String) {
    let (r, _) = follow(app, b, &started.url).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let r = submit(
        app,
        b,
        "/login",
        &[
            ("request_id", hidden(&html, "request_id")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("username", user.username.clone()),
            ("password", user.password.clone()),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "the password is right");
    let next = location(&r);
    let (r, url) = follow(app, b, &next).await;
    assert_eq!(r.status(), 200, "{url}");
    (r.text().await.unwrap(), url)
}

/// Posts a code on the second-factor page `html`.
async fn answer_factor(
    app: &TestApp,
    b: &reqwest::Client,
    html: &str,
    method: &str,
    code: &str,
) -> reqwest::Response {
    submit(
        app,
        b,
        "/login/factor",
        &[
            ("request_id", hidden(html, "request_id")),
            ("csrf_token", hidden(html, "csrf_token")),
            ("method", method.to_owned()),
            ("code", code.to_owned()),
        ],
    )
    .await
}

/// Follows a 303 after a factor to the client; the URL the browser came back to.
async fn back_at_client(app: &TestApp, b: &reqwest::Client, r: reqwest::Response) -> String {
    assert_eq!(r.status(), 303, "accepted");
    let next = location(&r);
    if !next.starts_with('/') && !next.starts_with(&app.public) {
        return next;
    }
    let (r, _) = follow(app, b, &next).await;
    assert_eq!(r.status(), 303);
    location(&r)
}

/// An admin (a role in `mfa.required_roles` by default) signs in for the first time: the
/// enrolment page, a wrong code, then the right one; the recovery codes are shown once and
/// the sign-in finishes. Answers the secret, the codes and the ID token's claims.
async fn enrol_at_sign_in(
    app: &TestApp,
    rp: &Rp,
    user: &TestUser,
) -> (TotpSecret, Vec<String>, openidconnect::core::CoreIdToken) {
    let b = app.browser();
    let started = rp.start(|r| r);
    let (html, url) = password_step(app, &b, &started, user).await;
    assert!(url.contains("/login/enrol"), "{url}");
    assert!(html.contains("autocomplete=\"one-time-code\""));
    assert!(html.contains("inputmode=\"numeric\""));
    assert!(html.contains("<svg"), "a QR code drawn as SVG");
    let secret = shown_secret(&html);
    let now = app.clock.now();
    let form = |html: &str, code: String| {
        vec![
            ("request_id", hidden(html, "request_id")),
            ("csrf_token", hidden(html, "csrf_token")),
            ("code", code),
        ]
    };
    // A wrong first code does not confirm anything.
    let wrong = if code_at(&secret, now, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = submit(app, &b, "/login/enrol", &form(&html, wrong.into())).await;
    assert_eq!(r.status(), 200);
    let again = r.text().await.unwrap();
    assert!(again.contains("did not match"), "{again}");
    assert_eq!(
        shown_secret(&again).to_base32().as_str(),
        secret.to_base32().as_str(),
        "the same enrolment"
    );
    let r = submit(
        app,
        &b,
        "/login/enrol",
        &form(&again, code_at(&secret, now, 0)),
    )
    .await;
    assert_eq!(r.status(), 200, "the recovery codes are shown");
    let notice = r.text().await.unwrap();
    let codes = shown_codes(&notice);
    assert_eq!(codes.len(), 10, "{notice}");
    let continue_to = notice
        .split("href=\"")
        .find(|s| s.contains("/login?request_id="))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let (r, _) = follow(app, &b, &continue_to).await;
    assert_eq!(r.status(), 303);
    let back = location(&r);
    let id_token = rp.finish(app, started, &back).await;
    (secret, codes, id_token)
}

/// The ID token's claims as sent (the RP library verified its signature already).
fn claims(token: &openidconnect::core::CoreIdToken) -> Value {
    let payload = token.to_string();
    let part = payload.split('.').nth(1).unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_required_role_enrols_totp_at_sign_in_and_the_id_token_says_so() {
    let app = spawn_app_now().await;
    let rp = setup(&app).await;
    let admin = app.user("ada").roles(&["admin"]).await;
    let (_secret, codes, id_token) = enrol_at_sign_in(&app, &rp, &admin).await;
    assert!(codes.iter().all(|c| c.len() == 14));
    let c = claims(&id_token);
    assert_eq!(c["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(c["acr"], ACR_MFA);
    assert_eq!(app.audit_count(Some("factor.enrolled")).await, 1);
    // A user with no factor and no such role: one factor, truthfully.
    let bob = app.user("bob").await;
    let id_token = rp.sign_in(&app, &app.browser(), &bob).await;
    let c = claims(&id_token);
    assert_eq!(c["amr"], serde_json::json!(["pwd"]));
    assert_eq!(c["acr"], ACR_1FA);
}

#[tokio::test]
async fn totp_codes_are_taken_once_within_one_step_of_skew() {
    let app = spawn_app_now().await;
    let rp = setup(&app).await;
    let admin = app.user("ada").roles(&["admin"]).await;
    let (secret, _, _) = enrol_at_sign_in(&app, &rp, &admin).await;
    let now = app.clock.now();

    // The enrolment's own code again: replayed.
    let b = app.browser();
    let started = rp.start(|r| r);
    let (html, url) = password_step(&app, &b, &started, &admin).await;
    assert!(
        url.contains("/login/factor"),
        "a user with a factor is always asked: {url}"
    );
    assert!(
        html.contains("autocomplete=\"one-time-code\"") && html.contains("inputmode=\"numeric\"")
    );
    let r = answer_factor(&app, &b, &html, "totp", &code_at(&secret, now, 0)).await;
    assert_eq!(r.status(), 200, "refused: the page again");
    let html = r.text().await.unwrap();
    assert!(html.contains("did not work"), "{html}");
    // The next step's code: one step of skew ahead is accepted.
    let r = answer_factor(&app, &b, &html, "totp", &code_at(&secret, now, 1)).await;
    let back = back_at_client(&app, &b, r).await;
    let id_token = rp.finish(&app, started, &back).await;
    assert_eq!(claims(&id_token)["acr"], ACR_MFA);

    // A minute later: a code two steps old is outside the window; one step behind was
    // taken already; the current one passes.
    app.clock.advance(60);
    let now2 = app.clock.now();
    let b = app.browser();
    let started = rp.start(|r| r);
    let (html, _) = password_step(&app, &b, &started, &admin).await;
    let r = answer_factor(&app, &b, &html, "totp", &code_at(&secret, now2, -3)).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let r = answer_factor(&app, &b, &html, "totp", &code_at(&secret, now2, -1)).await;
    assert_eq!(r.status(), 200, "the step taken before");
    let html = r.text().await.unwrap();
    let r = answer_factor(&app, &b, &html, "totp", &code_at(&secret, now2, 0)).await;
    let back = back_at_client(&app, &b, r).await;
    rp.finish(&app, started, &back).await;
    assert!(app.audit_count(Some("factor.failure")).await >= 3);
    assert!(app.audit_count(Some("factor.used")).await >= 2);
}

#[tokio::test]
async fn wrong_codes_count_on_the_password_counters() {
    let app = spawn_app_now().await;
    let rp = setup(&app).await;
    let admin = app.user("ada").roles(&["admin"]).await;
    let (secret, _, _) = enrol_at_sign_in(&app, &rp, &admin).await;
    let now = app.clock.now();
    let b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let started = rp.start(|r| r);
    let (mut html, _) = password_step(&app, &b, &started, &admin).await;
    let right = code_at(&secret, now, 1);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    for _ in 0..5 {
        let r = answer_factor(&app, &b, &html, "totp", wrong).await;
        assert_eq!(r.status(), 200);
        html = r.text().await.unwrap();
    }
    // Locked like five wrong passwords: the right code is refused too...
    let r = answer_factor(&app, &b, &html, "totp", &right).await;
    assert_eq!(r.status(), 200, "throttled");
    // ...and so is the right password from a browser without a device cookie: the same
    // counter of the username.
    let fresh = app.browser();
    let started = rp.start(|r| r);
    let (r, _) = follow(&app, &fresh, &started.url).await;
    let page = r.text().await.unwrap();
    let r = submit(
        &app,
        &fresh,
        "/login",
        &[
            ("request_id", hidden(&page, "request_id")),
            ("csrf_token", hidden(&page, "csrf_token")),
            ("username", admin.username.clone()),
            ("password", admin.password.clone()),
        ],
    )
    .await;
    assert_eq!(r.status(), 200, "the login form again: throttled");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Incorrect username or password")
    );
    // The five here and the enrolment's wrong first code; the throttled one is not a check.
    assert_eq!(app.audit_count(Some("factor.failure")).await, 6);
    assert_eq!(
        app.state
            .metrics
            .second_factor
            .with_label_values(&["totp", "throttled"])
            .get(),
        1
    );
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_and_the_user_is_told() {
    let app = spawn_app_now().await;
    let rp = setup(&app).await;
    let admin = app.user("ada").roles(&["admin"]).await;
    let (_, codes, _) = enrol_at_sign_in(&app, &rp, &admin).await;
    let b = app.browser();
    let started = rp.start(|r| r);
    let (html, _) = password_step(&app, &b, &started, &admin).await;
    assert!(html.contains("Use a recovery code"));
    // Typed as people type: upper case, spaces for dashes.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let r = answer_factor(&app, &b, &html, "recovery", &typed).await;
    assert_eq!(r.status(), 200, "a notice first");
    let notice = r.text().await.unwrap();
    assert!(
        notice.contains("<strong>9</strong> recovery codes left"),
        "{notice}"
    );
    let continue_to = notice
        .split("href=\"")
        .find(|s| s.contains("/login?request_id="))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (r, _) = follow(&app, &b, &continue_to).await;
    let id_token = rp.finish(&app, started, &location(&r)).await;
    let c = claims(&id_token);
    assert_eq!(c["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(app.audit_count(Some("recovery_code.used")).await, 1);

    // Spent: the same code does nothing a second time.
    let b = app.browser();
    let started = rp.start(|r| r);
    let (html, _) = password_step(&app, &b, &started, &admin).await;
    let r = answer_factor(&app, &b, &html, "recovery", &codes[0]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("did not work"));
}

#[tokio::test]
async fn the_password_grant_refuses_users_who_must_use_a_second_factor() {
    let app = spawn_app_now().await;
    let rp = setup(&app).await;
    let client = app.confidential_client("app").grants(&["password"]).await;
    let bob = app.user("bob").await;
    let (status, _) = app
        .token_request(
            &client,
            &[
                ("grant_type", "password"),
                ("username", "bob"),
                ("password", &bob.password),
            ],
        )
        .await;
    assert_eq!(status, 200, "no factor, no policy: allowed");
    // An admin: policy requires a factor even before one is enrolled.
    let admin = app.user("ada").roles(&["admin"]).await;
    let form = [
        ("grant_type", "password"),
        ("username", "ada"),
        ("password", admin.password.as_str()),
    ];
    let (status, body) = app.token_request(&client, &form).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("second factor"),
        "{body}"
    );
    // Enrolled: still refused. A wrong password says nothing about factors.
    enrol_at_sign_in(&app, &rp, &admin).await;
    let (status, body) = app.token_request(&client, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = app
        .token_request(
            &client,
            &[
                ("grant_type", "password"),
                ("username", "ada"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        !body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("factor")
    );
}

#[tokio::test]
async fn prompt_none_and_max_age_with_a_second_factor() {
    let app = spawn_app_now().await;
    let rp = setup(&app).await;
    let admin = app.user("ada").roles(&["admin"]).await;
    let (secret, _, _) = enrol_at_sign_in(&app, &rp, &admin).await;
    let now = app.clock.now();

    // The password alone, then a silent request from the same browser: login_required.
    let b = app.browser();
    let started = rp.start(|r| r);
    let (html, url) = password_step(&app, &b, &started, &admin).await;
    assert!(url.contains("/login/factor"));
    let silent = rp.start(|r| r.add_prompt(CoreAuthPrompt::None));
    let r = visit(&app, &b, &silent.url).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        query_param(&location(&r), "error").as_deref(),
        Some("login_required")
    );

    // With the factor, silent requests are answered; max_age=0 asks for everything again.
    let r = answer_factor(&app, &b, &html, "totp", &code_at(&secret, now, 1)).await;
    let back = back_at_client(&app, &b, r).await;
    rp.finish(&app, started, &back).await;
    let silent = rp.start(|r| r.add_prompt(CoreAuthPrompt::None));
    let (r, _) = follow(&app, &b, &silent.url).await;
    let back = location(&r);
    assert!(query_param(&back, "code").is_some(), "{back}");
    app.clock.advance(30);
    let fresh = rp.start(|r| r.add_extra_param("max_age", "0"));
    let (html, url) = password_step(&app, &b, &fresh, &admin).await;
    assert!(
        url.contains("/login/factor"),
        "after the password, the factor again: {url}"
    );
    // Thirty seconds on, the step used above is the current one: the next one is fresh.
    let r = answer_factor(
        &app,
        &b,
        &html,
        "totp",
        &code_at(&secret, app.clock.now(), 1),
    )
    .await;
    let back = back_at_client(&app, &b, r).await;
    let id_token = rp.finish(&app, fresh, &back).await;
    assert_eq!(claims(&id_token)["auth_time"], app.clock.now());
}

#[tokio::test]
async fn acr_values_are_voluntary_and_policy_is_not() {
    let app = spawn_app_now().await;
    let rp = setup(&app).await;
    // No factor: asking for more than a password gets one factor, said truthfully.
    let bob = app.user("bob").await;
    let started =
        rp.start(|r| r.add_auth_context_value(AuthenticationContextClass::new(ACR_MFA.into())));
    let back = app.login(&app.browser(), &started.url, &bob).await;
    let id_token = rp.finish(&app, started, &back.url).await;
    assert_eq!(claims(&id_token)["acr"], ACR_1FA);
    // A session of an admin who has no factor yet, asked silently: interaction_required.
    let admin = app.user("ada").roles(&["admin"]).await;
    let b = app.browser();
    let started = rp.start(|r| r);
    let (_, url) = password_step(&app, &b, &started, &admin).await;
    assert!(url.contains("/login/enrol"));
    let silent = rp.start(|r| r.add_prompt(CoreAuthPrompt::None));
    let r = visit(&app, &b, &silent.url).await;
    assert_eq!(
        query_param(&location(&r), "error").as_deref(),
        Some("interaction_required")
    );
}

#[tokio::test]
async fn discovery_lists_the_acr_values() {
    let app = spawn_app_now_with(|_| {}).await;
    let doc: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["acr_values_supported"],
        serde_json::json!([ACR_1FA, ACR_MFA, "phr"])
    );
}

#[tokio::test]
async fn the_rightful_browser_passes_its_factor_while_guesses_lock_the_username() {
    let app = spawn_app_now().await;
    let rp = setup(&app).await;
    let admin = app.user("ada").roles(&["admin"]).await;
    // The rightful browser enrols; finishing the sign-in gives it its device cookie.
    let rightful = app.browser();
    let started = rp.start(|r| r);
    let (html, _) = password_step(&app, &rightful, &started, &admin).await;
    let secret = shown_secret(&html);
    let now = app.clock.now();
    let r = submit(
        &app,
        &rightful,
        "/login/enrol",
        &[
            ("request_id", hidden(&html, "request_id")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("code", code_at(&secret, now, 0)),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().contains("portcullis_device")),
        "a device cookie once the sign-in is complete"
    );
    // Someone with the password guesses codes from elsewhere until the username locks.
    let thief = app.browser();
    let stolen = rp.start(|r| r);
    let (mut page, _) = password_step(&app, &thief, &stolen, &admin).await;
    for guess in ["000001", "000002", "000003", "000004", "000005", "000006"] {
        let r = answer_factor(&app, &thief, &page, "totp", guess).await;
        assert_eq!(r.status(), 200);
        page = r.text().await.unwrap();
    }
    // The rightful browser signs in, password and code, counted on its own cookie.
    let started = rp.start(|r| r.add_prompt(CoreAuthPrompt::Login));
    let (html, url) = password_step(&app, &rightful, &started, &admin).await;
    assert!(url.contains("/login/factor"), "{url}");
    let r = answer_factor(&app, &rightful, &html, "totp", &code_at(&secret, now, 1)).await;
    let back = back_at_client(&app, &rightful, r).await;
    rp.finish(&app, started, &back).await;
}
