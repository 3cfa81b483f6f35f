//! Passkeys (issue 20) with a software authenticator (`webauthn-authenticator-rs`'s soft
//! passkey) answering the ceremonies our pages embed: registration on the security page,
//! sign-in with a passkey alone, a passkey as the second factor, single-use challenges bound
//! to their pending request, removal, and step-up to `phr` asked by a relying party with
//! `acr_values`.
//!
//! The server's issuer is `http://localhost:PORT` (`spawn_app_on_localhost`): an IP address
//! cannot be a relying-party id. The soft passkey keeps no discoverable (resident)
//! credentials, so for a passkey-only sign-in the test plays the browser's part of picking
//! one: it names the credential in `allowCredentials` and returns the user handle the
//! authenticator would have stored with it. Neither is signed; the server checks the
//! signature over its challenge and our origin as with any passkey.

use openidconnect::AuthenticationContextClass;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, RequestChallengeResponse, Url,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use crate::account::{answer_factor, code, enrol_totp, page, post_form, sign_in};
use crate::helpers::{CALLBACK, TestApp, TestUser, hidden, location, spawn_app_on_localhost};
use crate::helpers::{Rp, Started, follow, submit, visit};

/// A localhost server on the wall clock (the RP library checks `iat` and `exp`).
#[allow(clippy::disallowed_methods)]
async fn localhost_app() -> TestApp {
    let app = spawn_app_on_localhost(|_| {}).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    app.clock.set(i64::try_from(now).unwrap());
    app
}

/// One soft authenticator holding one passkey of ours.
struct Device {
    key: SoftPasskey,
    origin: Url,
    /// The credential id (base64url), once registered.
    id: Option<String>,
    /// The user handle the registration named (base64url).
    handle: Option<String>,
}

impl Device {
    fn new(app: &TestApp) -> Self {
        Self {
            // `true`: it claims user verification, as a device with a screen lock does.
            key: SoftPasskey::new(true),
            origin: Url::parse(&app.public).unwrap(),
            id: None,
            handle: None,
        }
    }

    /// Answers a registration (`navigator.credentials.create`) with a new credential.
    fn register(&mut self, options: Value) -> String {
        self.handle = Some(
            options["publicKey"]["user"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
        let credential = self
            .key
            .do_registration(self.origin.clone(), options)
            .unwrap();
        self.id = Some(credential.id.clone());
        serde_json::to_string(&credential).unwrap()
    }

    /// Answers `navigator.credentials.get` for options that list our credentials.
    fn sign(&mut self, options: Value) -> String {
        let options: RequestChallengeResponse = serde_json::from_value(options).unwrap();
        let credential = self
            .key
            .do_authentication(self.origin.clone(), options)
            .unwrap();
        serde_json::to_string(&credential).unwrap()
    }

    /// Answers a discoverable request (the login page's: no credentials listed), as a
    /// browser with a discoverable passkey would (see the module's notes).
    fn sign_alone(&mut self, mut options: Value) -> String {
        assert_eq!(
            options["publicKey"]["allowCredentials"],
            json!([]),
            "discoverable"
        );
        options["publicKey"]["allowCredentials"] =
            json!([{ "type": "public-key", "id": self.id.clone().unwrap() }]);
        let mut answer: Value = serde_json::from_str(&self.sign(options)).unwrap();
        answer["response"]["userHandle"] = json!(self.handle.clone().unwrap());
        answer.to_string()
    }
}

/// The WebAuthn options a page embeds for its script.
fn options(html: &str) -> Value {
    let start = html
        .find("<script type=\"application/json\" id=\"webauthn-options\">")
        .unwrap_or_else(|| panic!("no WebAuthn options in {html}"));
    let rest = &html[start..];
    let json = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    serde_json::from_str(json).unwrap()
}

/// Registers a passkey named `name` from the security page of signed-in browser `b`: the
/// response to the finishing POST.
async fn register(
    app: &TestApp,
    b: &reqwest::Client,
    device: &mut Device,
    name: &str,
) -> reqwest::Response {
    let html = page(app, b, "/account/security").await;
    let r = post_form(
        app,
        b,
        "/account/security/passkeys",
        &html,
        &[("name", name)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let ceremony = r.text().await.unwrap();
    assert!(ceremony.contains("data-webauthn=\"create\""), "{ceremony}");
    let credential = device.register(options(&ceremony));
    post_form(
        app,
        b,
        "/account/security/passkeys/finish",
        &ceremony,
        &[("credential", &credential)],
    )
    .await
}

/// Posts a passkey-only sign-in from login page `html`.
async fn passkey_alone(
    app: &TestApp,
    b: &reqwest::Client,
    html: &str,
    credential: &str,
) -> reqwest::Response {
    submit(
        app,
        b,
        "/login/passkey",
        &[
            ("request_id", hidden(html, "request_id")),
            ("csrf_token", hidden(html, "csrf_token")),
            ("credential", credential.to_owned()),
        ],
    )
    .await
}

/// Posts a passkey as the second factor from page `html`.
async fn passkey_factor(
    app: &TestApp,
    b: &reqwest::Client,
    html: &str,
    credential: &str,
) -> reqwest::Response {
    submit(
        app,
        b,
        "/login/factor",
        &[
            ("request_id", hidden(html, "request_id")),
            ("csrf_token", hidden(html, "csrf_token")),
            ("method", "passkey".into()),
            ("credential", credential.to_owned()),
        ],
    )
    .await
}

/// The login page a fresh request of `rp` shows in `b`.
async fn login_page(app: &TestApp, b: &reqwest::Client, started: &Started) -> String {
    let (r, url) = follow(app, b, &started.url).await;
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.unwrap()
}

/// Answers the login page with `user`'s password; the page that follows (200) and its URL.
async fn after_password(
    app: &TestApp,
    b: &reqwest::Client,
    html: &str,
    user: &TestUser,
) -> (String, String) {
    let r = submit(
        app,
        b,
        "/login",
        &[
            ("request_id", hidden(html, "request_id")),
            ("csrf_token", hidden(html, "csrf_token")),
            ("username", user.username.clone()),
            ("password", user.password.clone()),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (r, url) = follow(app, b, &location(&r)).await;
    assert_eq!(r.status(), 200, "{url}");
    (r.text().await.unwrap(), url)
}

/// Where a 303 from our pages ends at the client: followed through our own redirects.
async fn back_at_client(app: &TestApp, b: &reqwest::Client, r: reqwest::Response) -> String {
    assert_eq!(r.status(), 303);
    let to = location(&r);
    if to.starts_with('/') || to.starts_with(&app.public) {
        let (r, _) = follow(app, b, &to).await;
        return location(&r);
    }
    to
}

/// The ID token's claims as sent (the RP library verified it already).
fn claims(token: &openidconnect::core::CoreIdToken) -> Value {
    use base64::Engine;
    let payload = token.to_string();
    let part = payload.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn setup(app: &TestApp) -> Rp {
    let client = app
        .confidential_client("web")
        .redirect_uris(&[CALLBACK])
        .first_party()
        .await;
    Rp::new(app, "web", Some(client.secret())).await
}

/// Alice signs in to her account and registers `device` as her first factor; the browser
/// she did it in (whose session has not proved the passkey yet).
async fn alice_with_passkey(
    app: &TestApp,
    alice: &TestUser,
    device: &mut Device,
) -> reqwest::Client {
    let b = app.browser();
    sign_in(app, &b, alice).await;
    let r = register(app, &b, device, "Laptop").await;
    assert_eq!(
        r.status(),
        200,
        "a first factor: its recovery codes, shown once"
    );
    let html = r.text().await.unwrap();
    assert_eq!(crate::account::shown_codes(&html).len(), 10);
    b
}

/// Browser `b`, whose session has a password only, proves `device` to reach the security
/// page again (the account pages ask what any client would).
async fn step_up_on_account(app: &TestApp, b: &reqwest::Client, device: &mut Device) -> String {
    let r = visit(app, b, &app.url("/account/security")).await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(to.contains("/login/factor"), "{to}");
    let (r, _) = follow(app, b, &to).await;
    let html = r.text().await.unwrap();
    let r = passkey_factor(app, b, &html, &device.sign(options(&html))).await;
    assert_eq!(location(&r), "/account/security");
    page(app, b, "/account/security").await
}

#[tokio::test]
async fn a_passkey_registered_on_the_security_page_signs_in_alone() {
    let app = localhost_app().await;
    let rp = setup(&app).await;
    let alice = app.user("alice").await;
    let mut laptop = Device::new(&app);
    let b = alice_with_passkey(&app, &alice, &mut laptop).await;
    assert_eq!(app.audit_count(Some("factor.enrolled")).await, 1);
    // Registration proved nothing of the session: the pages now want the passkey.
    let html = step_up_on_account(&app, &b, &mut laptop).await;
    assert!(html.contains("<strong>Laptop</strong>"), "{html}");
    assert!(html.contains("last used"), "{html}");

    // A new browser: the login page offers passkeys in the username field.
    let fresh = app.browser();
    let started = rp.start(|r| r);
    let login = login_page(&app, &fresh, &started).await;
    assert!(
        login.contains("autocomplete=\"username webauthn\""),
        "{login}"
    );
    assert!(login.contains("data-mediation=\"conditional\""));
    let r = passkey_alone(&app, &fresh, &login, &laptop.sign_alone(options(&login))).await;
    assert_eq!(r.status(), 303);
    let id_token = rp
        .finish(&app, started, &back_at_client(&app, &fresh, r).await)
        .await;
    let c = claims(&id_token);
    assert_eq!(c["amr"], json!(["hwk", "user", "mfa"]));
    assert_eq!(c["acr"], "phr");
    assert_eq!(
        app.state
            .metrics
            .second_factor
            .with_label_values(&["passkey", "success"])
            .get(),
        2
    );
}

#[tokio::test]
async fn a_passkey_is_the_second_factor_after_a_password() {
    let app = localhost_app().await;
    let rp = setup(&app).await;
    let alice = app.user("alice").await;
    let mut laptop = Device::new(&app);
    alice_with_passkey(&app, &alice, &mut laptop).await;

    let b = app.browser();
    let started = rp.start(|r| r);
    let login = login_page(&app, &b, &started).await;
    let (html, url) = after_password(&app, &b, &login, &alice).await;
    assert!(url.contains("/login/factor"), "{url}");
    assert!(html.contains("data-webauthn=\"get\""));
    assert!(
        !html.contains("value=\"totp\""),
        "no authenticator app to offer"
    );
    let r = passkey_factor(&app, &b, &html, &laptop.sign(options(&html))).await;
    assert_eq!(r.status(), 303);
    let id_token = rp
        .finish(&app, started, &back_at_client(&app, &b, r).await)
        .await;
    let c = claims(&id_token);
    assert_eq!(c["amr"], json!(["pwd", "hwk", "mfa"]));
    assert_eq!(c["acr"], "phr");
}

#[tokio::test]
async fn a_passkey_challenge_answers_once() {
    let app = localhost_app().await;
    let rp = setup(&app).await;
    let alice = app.user("alice").await;
    let mut laptop = Device::new(&app);
    let b = alice_with_passkey(&app, &alice, &mut laptop).await;
    step_up_on_account(&app, &b, &mut laptop).await;

    // A registration's answer, posted twice: the second finds no ceremony.
    let mut phone = Device::new(&app);
    let html = page(&app, &b, "/account/security").await;
    let r = post_form(
        &app,
        &b,
        "/account/security/passkeys",
        &html,
        &[("name", "Phone")],
    )
    .await;
    let ceremony = r.text().await.unwrap();
    let credential = phone.register(options(&ceremony));
    let finish = |credential: String| {
        let (app, b, ceremony) = (&app, &b, ceremony.clone());
        async move {
            post_form(
                app,
                b,
                "/account/security/passkeys/finish",
                &ceremony,
                &[("credential", &credential)],
            )
            .await
        }
    };
    let r = finish(credential.clone()).await;
    assert_eq!(r.status(), 303, "registered");
    let r = finish(credential).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );
    assert_eq!(
        app.state.store.factors_of(&alice.id).await.unwrap().len(),
        2
    );

    // One challenge, signed twice: the first answer signs in; the second is refused at
    // the same request (finished) and at the next one (its own challenge).
    let fresh = app.browser();
    let started = rp.start(|r| r);
    let login = login_page(&app, &fresh, &started).await;
    let first = laptop.sign_alone(options(&login));
    let second = laptop.sign_alone(options(&login));
    let r = passkey_alone(&app, &fresh, &login, &first).await;
    assert_eq!(r.status(), 303);
    let r = passkey_alone(&app, &fresh, &login, &second).await;
    assert_eq!(r.status(), 400, "that request is finished");
    let other = app.browser();
    let next = rp.start(|r| r);
    let login = login_page(&app, &other, &next).await;
    let r = passkey_alone(&app, &other, &login, &second).await;
    assert_eq!(r.status(), 200, "the login page again");
    assert!(r.text().await.unwrap().contains("could not be used"));
    let r = visit(&app, &other, &app.url("/account")).await;
    assert_eq!(r.status(), 303, "no session came of it");
}

#[tokio::test]
async fn a_ceremony_from_another_pending_request_is_refused() {
    let app = localhost_app().await;
    let rp = setup(&app).await;
    let alice = app.user("alice").await;
    let mut laptop = Device::new(&app);
    alice_with_passkey(&app, &alice, &mut laptop).await;

    let b = app.browser();
    let one = rp.start(|r| r);
    let page_one = login_page(&app, &b, &one).await;
    let two = rp.start(|r| r);
    let page_two = login_page(&app, &b, &two).await;
    assert_ne!(
        hidden(&page_one, "request_id"),
        hidden(&page_two, "request_id")
    );
    // Request one's challenge, answered at request two: refused.
    let answer = laptop.sign_alone(options(&page_one));
    let r = passkey_alone(&app, &b, &page_two, &answer).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("could not be used"));
    // At its own request the same answer is good.
    let r = passkey_alone(&app, &b, &page_one, &answer).await;
    assert_eq!(r.status(), 303);
    rp.finish(&app, one, &back_at_client(&app, &b, r).await)
        .await;
}

#[tokio::test]
async fn a_removed_passkey_signs_in_no_more() {
    let app = localhost_app().await;
    let rp = setup(&app).await;
    let alice = app.user("alice").await;
    let mut laptop = Device::new(&app);
    let b = alice_with_passkey(&app, &alice, &mut laptop).await;
    step_up_on_account(&app, &b, &mut laptop).await;
    let mut phone = Device::new(&app);
    let r = register(&app, &b, &mut phone, "Phone").await;
    assert_eq!(
        location(&r),
        "/account/security?done=passkey",
        "not a first factor: no codes"
    );
    let html = page(&app, &b, "/account/security?done=passkey").await;
    assert!(html.contains("Your passkey was added"));
    assert!(html.contains("<strong>Phone</strong>"));

    // Not the last factor: no password needed.
    let laptop_id = app
        .state
        .store
        .factors_of(&alice.id)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.name == "Laptop")
        .unwrap()
        .id;
    let r = post_form(
        &app,
        &b,
        "/account/security/remove",
        &html,
        &[("factor_id", &laptop_id)],
    )
    .await;
    assert_eq!(location(&r), "/account/security?done=removed");
    assert_eq!(app.audit_count(Some("factor.removed")).await, 1);
    assert_eq!(
        app.state
            .metrics
            .second_factor
            .with_label_values(&["passkey", "removed"])
            .get(),
        1
    );
    let html = page(&app, &b, "/account/security").await;
    assert!(!html.contains("<strong>Laptop</strong>"));

    // The removed passkey no longer signs in; the other does.
    let fresh = app.browser();
    let started = rp.start(|r| r);
    let login = login_page(&app, &fresh, &started).await;
    let r = passkey_alone(&app, &fresh, &login, &laptop.sign_alone(options(&login))).await;
    assert_eq!(r.status(), 200);
    let login = r.text().await.unwrap();
    assert!(login.contains("could not be used"));
    let r = passkey_alone(&app, &fresh, &login, &phone.sign_alone(options(&login))).await;
    assert_eq!(r.status(), 303);
    rp.finish(&app, started, &back_at_client(&app, &fresh, r).await)
        .await;
}

#[tokio::test]
async fn acr_values_phr_steps_a_totp_session_up_to_a_passkey() {
    let app = localhost_app().await;
    let rp = setup(&app).await;
    let alice = app.user("alice").await;
    // Alice sets up an authenticator app, then a passkey, on her account pages.
    let b = app.browser();
    sign_in(&app, &b, &alice).await;
    let (secret, _) = enrol_totp(&app, &b).await;
    let mut laptop = Device::new(&app);
    let r = register(&app, &b, &mut laptop, "Laptop").await;
    assert_eq!(location(&r), "/account/security?done=passkey");

    // At the client: password and TOTP code, `acr` mfa.
    app.clock.advance(30);
    let b = app.browser();
    let started = rp.start(|r| r);
    let login = login_page(&app, &b, &started).await;
    let (html, _) = after_password(&app, &b, &login, &alice).await;
    assert!(html.contains("value=\"totp\""), "{html}");
    let r = answer_factor(&app, &b, &html, "totp", &code(&app, &secret, 0)).await;
    let id_token = rp
        .finish(&app, started, &back_at_client(&app, &b, r).await)
        .await;
    assert_eq!(claims(&id_token)["acr"], "urn:portcullis:acr:mfa");

    // The client asks for phishing resistance: the same session is asked for the passkey,
    // and only for it.
    let started =
        rp.start(|r| r.add_auth_context_value(AuthenticationContextClass::new("phr".into())));
    let (r, url) = follow(&app, &b, &started.url).await;
    assert!(url.contains("/login/factor"), "{url}");
    let html = r.text().await.unwrap();
    assert!(
        !html.contains("value=\"totp\""),
        "a code is not phishing-resistant: {html}"
    );
    let r = passkey_factor(&app, &b, &html, &laptop.sign(options(&html))).await;
    let id_token = rp
        .finish(&app, started, &back_at_client(&app, &b, r).await)
        .await;
    let c = claims(&id_token);
    assert_eq!(c["acr"], "phr");
    assert_eq!(c["amr"], json!(["pwd", "otp", "mfa", "hwk"]));
}
