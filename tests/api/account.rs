//! The user's own pages (issue 20, item 6) end to end with a cookie-keeping browser:
//! signing in through `/account` (the built-in account client and the flow's own steps),
//! the profile, changing the password (what ends and what stays), enrolling and removing an
//! authenticator app, new recovery codes, the last factor's password, and CSRF. Passkeys on
//! these pages are in `passkeys.rs`.

use portcullis::clock::Clock;
use portcullis::crypto::totp::{self, TotpSecret};
use portcullis::manage::Actor;
use portcullis::manage::clients::NewClient;

use crate::helpers::{
    TestApp, TestUser, hidden, location, post_with_basic, refresh_token, spawn_app,
};
use crate::helpers::{follow, submit, visit};

/// The TOTP key a page shows in text.
pub fn shown_secret(html: &str) -> TotpSecret {
    let start = html.find("class=\"secret\">").expect("the key in text") + 15;
    let text = html[start..].split('<').next().unwrap();
    TotpSecret::from_base32(text).unwrap()
}

/// The recovery codes a page shows.
pub fn shown_codes(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect()
}

/// The code of `secret` at the app's clock, `steps` steps away.
pub fn code(app: &TestApp, secret: &TotpSecret, steps: i64) -> String {
    totp::code_at_step(secret, totp::step_at(app.clock.now()) + steps)
}

/// The link the page's "Continue" button follows.
pub fn continue_link(html: &str) -> String {
    html.split("class=\"button\" href=\"")
        .nth(1)
        .expect("a continue link")
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
}

/// GETs `route` (under the issuer) in browser `b`, following our own redirects.
pub async fn open(app: &TestApp, b: &reqwest::Client, route: &str) -> (reqwest::Response, String) {
    follow(app, b, &app.url(route)).await
}

/// The page a GET of `route` shows (200), as text.
pub async fn page(app: &TestApp, b: &reqwest::Client, route: &str) -> String {
    let (r, url) = open(app, b, route).await;
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.unwrap()
}

/// Answers the login page `html` with `user`'s password; the response (a 303 on success).
pub async fn give_password(
    app: &TestApp,
    b: &reqwest::Client,
    html: &str,
    user: &TestUser,
    password: &str,
) -> reqwest::Response {
    submit(
        app,
        b,
        "/login",
        &[
            ("request_id", hidden(html, "request_id")),
            ("csrf_token", hidden(html, "csrf_token")),
            ("username", user.username.clone()),
            ("password", password.to_owned()),
        ],
    )
    .await
}

/// `user` (with no second factor) signs in through `/account` in browser `b`: the
/// account page's HTML.
pub async fn sign_in(app: &TestApp, b: &reqwest::Client, user: &TestUser) -> String {
    let r = visit(app, b, &app.url("/account")).await;
    assert_eq!(r.status(), 303, "no session: off to sign in");
    let to = location(&r);
    assert!(to.contains("/login?request_id="), "{to}");
    let (r, _) = follow(app, b, &to).await;
    let login = r.text().await.unwrap();
    assert!(login.contains("your account"), "{login}");
    let r = give_password(app, b, &login, user, &user.password).await;
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert_eq!(
        back, "/account",
        "the account client comes back to its page"
    );
    page(app, b, "/account").await
}

/// Posts an account form from page `html` (its CSRF token) to `route`.
pub async fn post_form(
    app: &TestApp,
    b: &reqwest::Client,
    route: &str,
    html: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("csrf_token", hidden(html, "csrf_token"))];
    form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    submit(app, b, route, &form).await
}

/// Enrols an authenticator app from the security pages of a signed-in browser: the
/// secret and the recovery codes shown once.
pub async fn enrol_totp(app: &TestApp, b: &reqwest::Client) -> (TotpSecret, Vec<String>) {
    let html = page(app, b, "/account/security/totp").await;
    assert!(html.contains("<svg"), "a QR code");
    assert!(html.contains("autocomplete=\"one-time-code\""));
    assert!(html.contains("inputmode=\"numeric\""));
    let secret = shown_secret(&html);
    let r = post_form(
        app,
        b,
        "/account/security/totp",
        &html,
        &[("code", &code(app, &secret, 0))],
    )
    .await;
    assert_eq!(r.status(), 200, "the recovery codes of a first factor");
    let notice = r.text().await.unwrap();
    let codes = shown_codes(&notice);
    assert_eq!(codes.len(), 10, "{notice}");
    (secret, codes)
}

/// Answers the second-factor page `html` with a code (`method`: `totp` or `recovery`).
pub async fn answer_factor(
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

fn factor_id_of(html: &str) -> String {
    hidden(html, "factor_id")
}

#[tokio::test]
async fn the_account_page_signs_in_through_the_flow_and_shows_the_profile() {
    let app = spawn_app().await;
    let alice = app.user("alice").with_profile().await;
    let b = app.browser();
    let html = sign_in(&app, &b, &alice).await;
    assert!(html.contains("<html lang=\"en\">"));
    assert!(
        html.contains("alice@example.com") && html.contains("alice Example"),
        "{html}"
    );
    assert!(html.contains("/account/password") && html.contains("/account/security"));
    assert_eq!(app.audit_count(Some("login.success")).await, 1);

    // Every account page carries the login pages' headers.
    for route in ["/account", "/account/password", "/account/security"] {
        let r = visit(&app, &b, &app.url(route)).await;
        assert_eq!(r.status(), 200, "{route}");
        let h = r.headers();
        assert_eq!(h["cache-control"], "no-store", "{route}");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    }

    // A sign-in started from another page comes back to it.
    let other = app.browser();
    let r = visit(&app, &other, &app.url("/account/security")).await;
    let (r, _) = follow(&app, &other, &location(&r)).await;
    let login = r.text().await.unwrap();
    let r = give_password(&app, &other, &login, &alice, &alice.password).await;
    assert_eq!(location(&r), "/account/security");

    // Sign out from the account page: the session ends, and the page asks to sign in.
    let r = post_form(&app, &b, "/logout", &html, &[]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("signed out"));
    let r = visit(&app, &b, &app.url("/account")).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).contains("/login?request_id="));
}

#[tokio::test]
async fn the_account_client_cannot_be_used_or_registered() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    // /authorize does not know it: an error page, no redirect anywhere.
    let url = app.authorize_url(&[
        ("client_id", "portcullis-account"),
        ("response_type", "code"),
        ("redirect_uri", &app.url("/account")),
        ("scope", "openid"),
    ]);
    let r = visit(&app, &app.browser(), &url).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not known"));
    // /token cannot authenticate it, with any secret or none.
    let r = post_with_basic(
        &app,
        "/token",
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", &alice.password),
        ],
        ("portcullis-account", ""),
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "portcullis-account"),
            ("code", "pca_x"),
            ("code_verifier", &"a".repeat(43)),
            ("redirect_uri", &app.url("/account")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // And it cannot be registered, in any case.
    for id in ["portcullis-account", "Portcullis-Account"] {
        let refused = app
            .state
            .service
            .create_client(
                &Actor::cli(),
                NewClient {
                    name: "sneaky".into(),
                    client_id: Some(id.into()),
                    redirect_uris: vec!["https://evil.example/cb".into()],
                    ..Default::default()
                },
            )
            .await;
        assert!(refused.is_err(), "{id} was registered");
    }
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_refresh_tokens() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let web = app
        .confidential_client("web")
        .grants(&["password", "refresh_token"])
        .scope("offline_access")
        .await;
    let tokens = app
        .password_tokens(&web, &alice, Some("offline_access"))
        .await;
    let refresh = refresh_token(&tokens);
    let here = app.browser();
    sign_in(&app, &here, &alice).await;
    let elsewhere = app.browser();
    sign_in(&app, &elsewhere, &alice).await;

    let html = page(&app, &here, "/account/password").await;
    for id in ["current_password", "new_password", "confirm_password"] {
        assert!(
            html.contains(&format!("<label for=\"{id}\">")),
            "a label for {id}"
        );
    }
    let new = "a new and long passphrase";
    // A wrong current password changes nothing.
    let r = post_form(
        &app,
        &here,
        "/account/password",
        &html,
        &[
            ("current_password", "not my password"),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("current password is not right"), "{html}");
    assert_eq!(
        app.audit_count(Some("login.failure")).await,
        1,
        "counted as a failed login"
    );
    // The rule every password meets, and the confirmation.
    let r = post_form(
        &app,
        &here,
        "/account/password",
        &html,
        &[
            ("current_password", &alice.password),
            ("new_password", "short"),
            ("confirm_password", "short"),
        ],
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("at least 8 characters"), "{html}");
    let r = post_form(
        &app,
        &here,
        "/account/password",
        &html,
        &[
            ("current_password", &alice.password),
            ("new_password", new),
            ("confirm_password", "a new and long passphrasE"),
        ],
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("do not match"), "{html}");
    assert_eq!(app.audit_count(Some("user.password_changed")).await, 0);
    // Nothing ended yet.
    assert_eq!(
        visit(&app, &elsewhere, &app.url("/account")).await.status(),
        200
    );

    let r = post_form(
        &app,
        &here,
        "/account/password",
        &html,
        &[
            ("current_password", &alice.password),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account?done=password");
    assert_eq!(app.audit_count(Some("user.password_changed")).await, 1);
    // This session stays; the other one is gone; so is the refresh-token family.
    let html = page(&app, &here, "/account?done=password").await;
    assert!(html.contains("Your password was changed"), "{html}");
    let r = visit(&app, &elsewhere, &app.url("/account")).await;
    assert_eq!(r.status(), 303, "signed out elsewhere");
    let (status, body) = app
        .token_request(
            &web,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The old password is gone, the new one works.
    let (status, _) = app
        .token_request(
            &web,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", &alice.password),
            ],
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .token_request(
            &web,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", new),
            ],
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_authenticator_app_is_enrolled_and_removed_on_the_security_page() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let b = app.browser();
    sign_in(&app, &b, &alice).await;
    let html = page(&app, &b, "/account/security").await;
    assert!(html.contains("Set up an authenticator app"), "{html}");
    assert!(html.contains("recovery codes when you set up"));

    // A wrong first code confirms nothing; the same enrolment is shown again.
    let enrol = page(&app, &b, "/account/security/totp").await;
    let secret = shown_secret(&enrol);
    let right = code(&app, &secret, 0);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = post_form(
        &app,
        &b,
        "/account/security/totp",
        &enrol,
        &[("code", wrong)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let again = r.text().await.unwrap();
    assert!(again.contains("did not match"), "{again}");
    assert_eq!(
        shown_secret(&again).to_base32().as_str(),
        secret.to_base32().as_str()
    );
    let r = post_form(
        &app,
        &b,
        "/account/security/totp",
        &again,
        &[("code", &right)],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("set-cookie").is_some(),
        "the session gained a factor: a new cookie"
    );
    let notice = r.text().await.unwrap();
    assert_eq!(shown_codes(&notice).len(), 10);
    assert_eq!(app.audit_count(Some("factor.enrolled")).await, 1);
    // The session proved the code: the pages stay open to it.
    let (r, _) = follow(&app, &b, &continue_link(&notice)).await;
    let html = r.text().await.unwrap();
    assert!(html.contains("Your authenticator app is set up"), "{html}");
    assert!(
        html.contains("<strong>10</strong> recovery codes left"),
        "{html}"
    );

    // A new browser now needs the code to reach the pages.
    app.clock.advance(30);
    let other = app.browser();
    let r = visit(&app, &other, &app.url("/account")).await;
    let (r, _) = follow(&app, &other, &location(&r)).await;
    let login = r.text().await.unwrap();
    let r = give_password(&app, &other, &login, &alice, &alice.password).await;
    assert!(location(&r).contains("/login/factor"), "{}", location(&r));
    let (r, _) = follow(&app, &other, &location(&r)).await;
    let factor = r.text().await.unwrap();
    let r = answer_factor(&app, &other, &factor, "totp", &code(&app, &secret, 0)).await;
    assert_eq!(location(&r), "/account");
    assert_eq!(
        visit(&app, &other, &app.url("/account")).await.status(),
        200
    );

    // The last factor: not without the password, nor with a wrong one.
    let id = factor_id_of(&html);
    assert!(html.contains("This is your last second factor"), "{html}");
    let r = post_form(
        &app,
        &b,
        "/account/security/remove",
        &html,
        &[("factor_id", &id)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("enter your current password"), "{html}");
    let r = post_form(
        &app,
        &b,
        "/account/security/remove",
        &html,
        &[("factor_id", &id), ("current_password", "not my password")],
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("current password is not right"), "{html}");
    assert_eq!(app.audit_count(Some("factor.removed")).await, 0);
    let r = post_form(
        &app,
        &b,
        "/account/security/remove",
        &html,
        &[("factor_id", &id), ("current_password", &alice.password)],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/security?done=removed");
    assert_eq!(app.audit_count(Some("factor.removed")).await, 1);
    let metric = |outcome: &str| {
        app.state
            .metrics
            .second_factor
            .with_label_values(&["totp", outcome])
            .get()
    };
    assert_eq!((metric("enrolled"), metric("removed")), (1, 1));
    let html = page(&app, &b, "/account/security").await;
    assert!(html.contains("Set up an authenticator app"));
    assert!(
        !html.contains("recovery codes left"),
        "the codes went with the last factor"
    );
    // A sign-in needs only the password again.
    let third = app.browser();
    sign_in(&app, &third, &alice).await;
}

#[tokio::test]
async fn new_recovery_codes_void_the_old_ones() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let b = app.browser();
    sign_in(&app, &b, &alice).await;
    let (_, old) = enrol_totp(&app, &b).await;
    let html = page(&app, &b, "/account/security").await;
    let r = post_form(&app, &b, "/account/security/recovery", &html, &[]).await;
    assert_eq!(r.status(), 200, "shown once, on this response");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let new = shown_codes(&r.text().await.unwrap());
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)));
    assert_eq!(app.audit_count(Some("recovery_codes.regenerated")).await, 1);
    assert_eq!(
        app.state
            .metrics
            .second_factor
            .with_label_values(&["recovery_code", "regenerated"])
            .get(),
        1
    );

    // At /login/factor an old code does nothing; a new one signs in.
    let other = app.browser();
    let r = visit(&app, &other, &app.url("/account")).await;
    let (r, _) = follow(&app, &other, &location(&r)).await;
    let login = r.text().await.unwrap();
    let r = give_password(&app, &other, &login, &alice, &alice.password).await;
    let (r, _) = follow(&app, &other, &location(&r)).await;
    let factor = r.text().await.unwrap();
    let r = answer_factor(&app, &other, &factor, "recovery", &old[0]).await;
    assert_eq!(r.status(), 200);
    let factor = r.text().await.unwrap();
    assert!(factor.contains("did not work"), "{factor}");
    let r = answer_factor(&app, &other, &factor, "recovery", &new[0]).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<strong>9</strong> recovery codes left")
    );
}

#[tokio::test]
async fn policy_keeps_the_last_factor_of_a_required_role() {
    let app = spawn_app().await;
    // `admin` is in `mfa.required_roles` by default: the account pages lead to enrolment
    // right after the password, as any client does.
    let ada = app.user("ada").roles(&["admin"]).await;
    let b = app.browser();
    let r = visit(&app, &b, &app.url("/account")).await;
    let (r, _) = follow(&app, &b, &location(&r)).await;
    let login = r.text().await.unwrap();
    let r = give_password(&app, &b, &login, &ada, &ada.password).await;
    assert!(location(&r).contains("/login/enrol"), "{}", location(&r));
    let (r, _) = follow(&app, &b, &location(&r)).await;
    let enrol = r.text().await.unwrap();
    let secret = shown_secret(&enrol);
    let r = submit(
        &app,
        &b,
        "/login/enrol",
        &[
            ("request_id", hidden(&enrol, "request_id")),
            ("csrf_token", hidden(&enrol, "csrf_token")),
            ("code", code(&app, &secret, 0)),
        ],
    )
    .await;
    let notice = r.text().await.unwrap();
    assert_eq!(shown_codes(&notice).len(), 10);
    let (r, _) = follow(&app, &b, &continue_link(&notice)).await;
    assert_eq!(r.status(), 200, "finished: the account page");

    let html = page(&app, &b, "/account/security").await;
    assert!(html.contains("must keep a second factor"), "{html}");
    assert!(
        !html.contains("name=\"factor_id\""),
        "no remove form for the last factor"
    );
    // Posted anyway, with the password: refused.
    let id: String = app
        .state
        .store
        .factors_of(&ada.id)
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap()
        .id;
    let r = post_form(
        &app,
        &b,
        "/account/security/remove",
        &html,
        &[("factor_id", &id), ("current_password", &ada.password)],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("must keep a second factor")
    );
    assert_eq!(app.state.store.factors_of(&ada.id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn account_forms_refuse_tokens_from_another_browser() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let a = app.browser();
    sign_in(&app, &a, &alice).await;
    let html = page(&app, &a, "/account/password").await;
    let fields = [
        ("current_password", alice.password.as_str()),
        ("new_password", "a new and long passphrase"),
        ("confirm_password", "a new and long passphrase"),
    ];
    // Another browser, signed in as someone else, with alice's page's token: refused.
    let m = app.browser();
    sign_in(&app, &m, &mallory).await;
    let r = post_form(&app, &m, "/account/password", &html, &fields).await;
    assert_eq!(r.status(), 403);
    // The same browser without a token, or with a made-up one: refused.
    let r = submit(
        &app,
        &a,
        "/account/password",
        &[("current_password", alice.password.clone())],
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = submit(
        &app,
        &a,
        "/account/security/recovery",
        &[("csrf_token", "00".repeat(32))],
    )
    .await;
    assert_eq!(r.status(), 403);
    // A post from another site: refused before anything else.
    let mut form = vec![("csrf_token", hidden(&html, "csrf_token"))];
    form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let r = a
        .post(app.url("/account/password"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A browser without a session is sent to sign in; nothing changed.
    let stranger = app.browser();
    let r = post_form(&app, &stranger, "/account/password", &html, &fields).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/account/password");
    assert_eq!(app.audit_count(Some("user.password_changed")).await, 0);
    // Alice's own form still works.
    let r = post_form(&app, &a, "/account/password", &html, &fields).await;
    assert_eq!(r.status(), 303);
}
