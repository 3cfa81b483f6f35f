//! What a person does without an operator (issue 22): a forgotten password, verifying an
//! address, changing it, and signing up; end to end through the pages, following the
//! links in the mails the outbox receives. Both backends.

use std::time::{Duration, Instant};

use portcullis::config::Config;
use serde_json::Value;

use crate::account::{enrol_totp, page, post_form, sign_in};
use crate::helpers::{
    CALLBACK, SmtpSink, TestApp, TestDb, eventually, hidden, location, refresh_token,
    spawn_app_with, submit, visit,
};

/// A mail as received: subject and plain-text body.
#[derive(Debug, Clone)]
struct Mail {
    subject: String,
    text: String,
}

impl Mail {
    /// The first link in the mail below the app's issuer.
    fn link(&self, app: &TestApp) -> String {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with(&app.base))
            .unwrap_or_else(|| panic!("no link in {}", self.text))
            .to_owned()
    }

    /// The path and query of `link`, for `visit`.
    fn path_of(app: &TestApp, link: &str) -> String {
        link.strip_prefix(&app.public).unwrap().to_owned()
    }
}

/// The mails sent to `to` so far, oldest first.
fn mails_to(sink: &SmtpSink, to: &str) -> Vec<Mail> {
    sink.received()
        .into_iter()
        .filter(|m| m.to == to)
        .map(|m| Mail {
            subject: m.subject,
            text: m.text,
        })
        .collect()
}

/// A server whose mail goes through its outbox to an SMTP sink of this test's own.
async fn spawn_with_mail(f: impl FnOnce(&mut portcullis::config::Config)) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(std::sync::Arc::new(TestDb::new()), |c| {
        sink.configure(c);
        f(c);
    })
    .await;
    (app, sink)
}

/// Waits for the `n`th mail (1-based) to `to`.
async fn nth_mail(sink: &SmtpSink, to: &str, n: usize) -> Mail {
    eventually(&format!("mail #{n} to {to}"), async || {
        mails_to(sink, to).into_iter().nth(n - 1)
    })
    .await
}

/// Gives any work started after an answer time to finish, then says how many mails `to`
/// has: for asserting that none came.
async fn settled_count(sink: &SmtpSink, to: &str) -> usize {
    tokio::time::sleep(Duration::from_millis(300)).await;
    mails_to(sink, to).len()
}

async fn forgot(app: &TestApp, login: &str) -> (u16, String) {
    let b = app.browser();
    let r = submit(app, &b, "/forgot-password", &[("login", login.to_owned())]).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Opens a reset link and sets `password` on its form: the response.
async fn reset_with(app: &TestApp, link: &str, password: &str) -> reqwest::Response {
    let b = app.browser();
    let r = visit(app, &b, &Mail::path_of(app, link)).await;
    assert_eq!(r.status(), 200, "the reset form");
    let html = r.text().await.unwrap();
    submit(
        app,
        &b,
        "/reset-password",
        &[
            ("token", hidden(&html, "token")),
            ("new_password", password.to_owned()),
            ("confirm_password", password.to_owned()),
        ],
    )
    .await
}

/// Opens a verification link and confirms it: the response.
async fn follow_verification(app: &TestApp, link: &str) -> reqwest::Response {
    let b = app.browser();
    let r = visit(app, &b, &Mail::path_of(app, link)).await;
    assert_eq!(r.status(), 200, "the confirmation page");
    let html = r.text().await.unwrap();
    submit(
        app,
        &b,
        "/verify-email",
        &[("token", hidden(&html, "token"))],
    )
    .await
}

async fn userinfo(app: &TestApp, access_token: &str) -> Value {
    let r = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The claims of a JWT, unchecked (the token came straight from the server).
fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

async fn password_grant(
    app: &TestApp,
    client: &crate::helpers::TestClient,
    user: &str,
    password: &str,
) -> (u16, Value) {
    app.token_request(
        client,
        &[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("scope", "openid email profile offline_access"),
        ],
    )
    .await
}

async fn web_client(app: &TestApp) -> crate::helpers::TestClient {
    app.confidential_client("web")
        .grants(&["authorization_code", "password", "refresh_token"])
        .scopes(&["openid", "email", "profile", "offline_access"])
        .redirect_uris(&[CALLBACK])
        .require_pkce(false)
        .first_party()
        .await
}

/// The claims of an ID token `user` gets through the pages (a fresh browser each time).
async fn id_token_claims(
    app: &TestApp,
    web: &crate::helpers::TestClient,
    user: &crate::helpers::TestUser,
) -> Value {
    let b = app.browser();
    let url = app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", &web.id),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email"),
        ("state", "s"),
        ("nonce", "n"),
    ]);
    let code = app.login(&b, &url, user).await.code();
    let tokens = app
        .tokens(
            web,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ],
        )
        .await;
    claims(tokens["id_token"].as_str().expect("an ID token"))
}

/// A unique address per test: the outbox stand-in is shared by the whole test binary.
fn address(test: &str, who: &str) -> String {
    format!("{who}.{test}.{}@example.com", std::process::id())
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_mail_and_ends_every_session() {
    let (app, sink) = spawn_with_mail(|_| {}).await;
    let email = address("reset", "alice");
    let alice = app.user("alice").email(&email).await;
    let web = web_client(&app).await;
    let (status, tokens) = password_grant(&app, &web, "alice", &alice.password).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = refresh_token(&tokens);
    let signed_in = app.browser();
    sign_in(&app, &signed_in, &alice).await;

    // The login page offers the way; the page asks for a name or an address.
    let login = visit(&app, &app.browser(), &app.url("/forgot-password")).await;
    assert_eq!(login.status(), 200);
    let (status, body) = forgot(&app, "ALICE").await;
    assert_eq!(status, 200);
    assert!(body.contains("If an account matches"), "{body}");

    let mail = nth_mail(&sink, &email, 1).await;
    assert_eq!(mail.subject, "Reset your password");
    let link = mail.link(&app);
    assert!(
        link.starts_with(&app.url("/reset-password?token=pcl_")),
        "{link}"
    );
    assert!(mail.text.contains("30 minutes"), "{}", mail.text);

    // The policy holds on the reset form too.
    let b = app.browser();
    let html = visit(&app, &b, &Mail::path_of(&app, &link))
        .await
        .text()
        .await
        .unwrap();
    let r = submit(
        &app,
        &b,
        "/reset-password",
        &[
            ("token", hidden(&html, "token")),
            ("new_password", "short".into()),
            ("confirm_password", "short".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("at least 8 characters"));

    let new = "a brand new passphrase";
    let r = reset_with(&app, &link, new).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Your password was changed")
    );

    // Old password refused, new one works.
    let (status, _) = password_grant(&app, &web, "alice", &alice.password).await;
    assert_eq!(status, 400, "the old password no longer works");
    let (status, _) = password_grant(&app, &web, "alice", new).await;
    assert_eq!(status, 200, "the new one does");
    // The refresh family and the browser session ended.
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
    let r = visit(&app, &signed_in, &app.url("/account")).await;
    assert_eq!(r.status(), 303, "the session ended: sign in again");
    assert!(location(&r).contains("/login?request_id="));

    // The user is told by mail; the event is audited.
    let notice = nth_mail(&sink, &email, 2).await;
    assert_eq!(notice.subject, "Your password was changed");
    assert_eq!(app.audit_count(Some("user.password_reset")).await, 1);
    assert_eq!(
        app.audit_count(Some("user.password_reset_requested")).await,
        1
    );

    // The link works once.
    let r = visit(&app, &app.browser(), &Mail::path_of(&app, &link)).await;
    assert_eq!(r.status(), 400, "a used link");
    let b = app.browser();
    let r = submit(
        &app,
        &b,
        "/reset-password",
        &[
            ("token", link.split("token=").nth(1).unwrap().to_owned()),
            ("new_password", "yet another passphrase".into()),
            ("confirm_password", "yet another passphrase".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let (status, _) = password_grant(&app, &web, "alice", new).await;
    assert_eq!(status, 200, "the second use changed nothing");
}

#[tokio::test]
async fn a_reset_link_expires_after_30_minutes_and_the_janitor_purges_it() {
    let (app, sink) = spawn_with_mail(|_| {}).await;
    let email = address("expiry", "bob");
    app.user("bob").email(&email).await;
    // By address as well as by name.
    forgot(&app, &email.to_uppercase()).await;
    let link = nth_mail(&sink, &email, 1).await.link(&app);
    app.clock.advance(29 * 60);
    let r = visit(&app, &app.browser(), &Mail::path_of(&app, &link)).await;
    assert_eq!(r.status(), 200, "still live at 29 minutes");
    app.clock.advance(2 * 60);
    let r = visit(&app, &app.browser(), &Mail::path_of(&app, &link)).await;
    assert_eq!(r.status(), 400, "expired at 31 minutes");

    let now = portcullis::clock::Clock::now(&app.clock);
    let report = portcullis::janitor::purge(&app.state.store, &app.state.config, now)
        .await
        .unwrap();
    assert_eq!(report.purged("account_tokens"), 1);
}

#[tokio::test]
async fn of_two_redemptions_of_one_link_one_wins() {
    let (app, sink) = spawn_with_mail(|_| {}).await;
    let email = address("race", "carol");
    let carol = app.user("carol").email(&email).await;
    forgot(&app, "carol").await;
    let link = nth_mail(&sink, &email, 1).await.link(&app);
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let post = |password: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let b = app.browser();
            submit(
                app,
                &b,
                "/reset-password",
                &[
                    ("token", token),
                    ("new_password", password.into()),
                    ("confirm_password", password.into()),
                ],
            )
            .await
            .status()
            .as_u16()
        }
    };
    let (a, b) = tokio::join!(
        post("first racing passphrase"),
        post("second racing passphrase")
    );
    let mut statuses = [a, b];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "exactly one redemption wins");
    assert_eq!(app.audit_count(Some("user.password_reset")).await, 1);
    let web = web_client(&app).await;
    let (status, _) = password_grant(&app, &web, "carol", &carol.password).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_known_and_unknown_accounts() {
    let (app, sink) = spawn_with_mail(|_| {}).await;
    let email = address("enum", "dave");
    app.user("dave").email(&email).await;

    let known = forgot(&app, "dave").await;
    let unknown = forgot(&app, "nobody-by-this-name").await;
    let unknown_address = forgot(&app, &address("enum", "nobody")).await;
    assert_eq!(known, unknown, "identical status and body");
    assert_eq!(known, unknown_address);
    assert_eq!(
        nth_mail(&sink, &email, 1).await.subject,
        "Reset your password"
    );

    // Timing: medians of interleaved requests. The answer is made before any account is
    // looked up (the lookup, the token and the mail run after it), so the two paths do the
    // same work before answering; 25 ms is far below what a lookup plus an insert plus a
    // render would show on a loaded two-core machine, and well above scheduler noise.
    let mut times = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let started = Instant::now();
        forgot(&app, "dave").await;
        times.0.push(started.elapsed());
        let started = Instant::now();
        forgot(&app, "nobody-by-this-name").await;
        times.1.push(started.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut times.0), median(&mut times.1));
    let gap = k.abs_diff(u);
    assert!(
        gap < Duration::from_millis(25),
        "medians {k:?} (known) and {u:?} (unknown) differ by {gap:?}"
    );
    // The per-account limit: three mails per window, whatever the number of requests.
    nth_mail(&sink, &email, 3).await;
    assert_eq!(settled_count(&sink, &email).await, 3);
}

#[tokio::test]
async fn an_address_is_verified_by_its_link_and_the_claims_follow() {
    let (app, sink) = spawn_with_mail(|_| {}).await;
    let email = address("verify", "erin");
    let erin = app.user("erin").email(&email).await;
    let web = web_client(&app).await;
    let (_, tokens) = password_grant(&app, &web, "erin", &erin.password).await;
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], email.as_str());
    assert_eq!(info["email_verified"], false);
    assert_eq!(
        id_token_claims(&app, &web, &erin).await["email_verified"],
        false
    );

    let b = app.browser();
    sign_in(&app, &b, &erin).await;
    let html = page(&app, &b, "/account/profile").await;
    assert!(html.contains("not verified"), "{html}");
    let r = post_form(&app, &b, "/account/profile", &html, &[("action", "resend")]).await;
    assert_eq!(r.status(), 303);
    let mail = nth_mail(&sink, &email, 1).await;
    assert_eq!(mail.subject, "Confirm your email address");
    let r = follow_verification(&app, &mail.link(&app)).await;
    assert_eq!(r.status(), 200);

    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email_verified"], true, "userinfo follows at once");
    assert_eq!(
        id_token_claims(&app, &web, &erin).await["email_verified"],
        true,
        "and new ID tokens"
    );
    assert_eq!(app.audit_count(Some("user.email_verified")).await, 1);
    // Single use.
    let r = visit(&app, &app.browser(), &Mail::path_of(&app, &mail.link(&app))).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_changed_address_takes_effect_once_verified_and_the_old_one_is_told() {
    let (app, sink) = spawn_with_mail(|_| {}).await;
    let (old, new) = (address("change", "old"), address("change", "new"));
    let frank = app.user("frank").email(&old).await;
    let web = web_client(&app).await;
    let b = app.browser();
    sign_in(&app, &b, &frank).await;
    let html = page(&app, &b, "/account/profile").await;
    let r = post_form(
        &app,
        &b,
        "/account/profile",
        &html,
        &[("name", "Frank Example"), ("email", &new.to_uppercase())],
    )
    .await;
    assert_eq!(r.status(), 303);
    let html = page(&app, &b, "/account/profile").await;
    assert!(
        html.contains(&format!("sent a link to <strong>{new}")),
        "{html}"
    );
    let told = nth_mail(&sink, &old, 1).await;
    assert_eq!(told.subject, "Your email address is being changed");
    assert!(told.text.contains(&new));
    let link = nth_mail(&sink, &new, 1).await.link(&app);

    // Until verified, the old address is the one in force.
    let (_, tokens) = password_grant(&app, &web, "frank", &frank.password).await;
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], old.as_str());
    assert_eq!(info["name"], "Frank Example", "the name changed at once");
    forgot(&app, &old).await;
    assert_eq!(
        nth_mail(&sink, &old, 2).await.subject,
        "Reset your password"
    );
    forgot(&app, &new).await;
    assert_eq!(
        settled_count(&sink, &new).await,
        1,
        "nothing to an unverified address"
    );

    let r = follow_verification(&app, &link).await;
    assert_eq!(r.status(), 200);
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], new.as_str());
    assert_eq!(info["email_verified"], true);
}

fn signup_on(config: &mut Config) {
    config.registration.self_signup = true;
}

async fn sign_up(app: &TestApp, username: &str, email: &str, password: &str) -> (u16, String) {
    let b = app.browser();
    let r = submit(
        app,
        &b,
        "/signup",
        &[
            ("username", username.to_owned()),
            ("email", email.to_owned()),
            ("password", password.to_owned()),
            ("confirm_password", password.to_owned()),
        ],
    )
    .await;
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn self_sign_up_is_off_by_default() {
    let (app, _sink) = spawn_with_mail(|_| {}).await;
    let r = visit(&app, &app.browser(), &app.url("/signup")).await;
    assert_eq!(r.status(), 404);
    let (status, _) = sign_up(&app, "gina", &address("off", "gina"), "a long passphrase").await;
    assert_eq!(status, 404);
    let login = visit(&app, &app.browser(), &app.url("/forgot-password")).await;
    assert_eq!(login.status(), 200);
}

#[tokio::test]
async fn a_sign_up_can_sign_in_only_once_its_address_is_verified() {
    let (app, sink) = spawn_with_mail(signup_on).await;
    let web = web_client(&app).await;
    let email = address("signup", "hana");
    // Not containing the username: the password rule would refuse it.
    let password = "velvet orbit lanterns 7341";
    let r = visit(&app, &app.browser(), &app.url("/signup")).await;
    assert_eq!(r.status(), 200);
    let (status, answer) = sign_up(&app, "Hana", &email, password).await;
    assert_eq!(status, 200);
    assert!(answer.contains("We have sent a link"), "{answer}");
    let mail = nth_mail(&sink, &email, 1).await;
    assert_eq!(mail.subject, "Finish creating your account");
    let (status, _) = password_grant(&app, &web, "hana", password).await;
    assert_eq!(status, 400, "no account before the address is verified");

    let r = follow_verification(&app, &mail.link(&app)).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Your account is ready"));
    let (status, tokens) = password_grant(&app, &web, "hana", password).await;
    assert_eq!(status, 200, "{tokens}");
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], email.as_str());
    assert_eq!(info["email_verified"], true);
    assert_eq!(app.audit_count(Some("user.signed_up")).await, 1);

    // A taken username, or an address that has an account: the same page, and word by mail.
    let other = address("signup", "other");
    let (status2, answer2) = sign_up(&app, "hana", &other, "another passphrase").await;
    assert_eq!((status2, &answer2), (status, &answer));
    assert_eq!(
        nth_mail(&sink, &other, 1).await.subject,
        "Choose another username"
    );
    let (status3, answer3) = sign_up(&app, "hana2", &email, "another passphrase").await;
    assert_eq!((status3, &answer3), (status, &answer));
    assert_eq!(
        nth_mail(&sink, &email, 2).await.subject,
        "You already have an account"
    );
}

#[tokio::test]
async fn self_sign_up_keeps_to_the_allowed_email_domains() {
    let (app, sink) = spawn_with_mail(|c| {
        signup_on(c);
        c.registration.self_signup_email_domains = vec!["example.com".into()];
    })
    .await;
    let (status, html) = sign_up(&app, "ivan", "ivan@example.org", "a long passphrase").await;
    assert_eq!(status, 400);
    assert!(
        html.contains("cannot be created for addresses of this domain"),
        "{html}"
    );
    assert_eq!(settled_count(&sink, "ivan@example.org").await, 0);
    let email = address("domains", "ivan");
    let (status, _) = sign_up(&app, "ivan", &email, "a long passphrase").await;
    assert_eq!(status, 200);
    assert_eq!(
        nth_mail(&sink, &email, 1).await.subject,
        "Finish creating your account"
    );
}

/// A browser whose person reads German first.
fn german_browser() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "accept-language",
        reqwest::header::HeaderValue::from_static("de-DE,de;q=0.9,en;q=0.5"),
    );
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

/// The built-in words, as the server renders them: the tests say which message a page
/// shows without repeating its translation.
fn words(lang: &str, id: &str) -> String {
    let ui = builtin_ui();
    let lang = ui.language(Some(lang), None);
    ui.text(&lang, id, &[])
}

fn builtin_ui() -> portcullis::ui::Ui {
    portcullis::ui::Ui::load(&portcullis::config::UiConfig {
        product_name: "Portcullis".into(),
        logo_url: None,
        extra_stylesheet: None,
        templates_dir: None,
        locales_dir: None,
        default_locale: "en".into(),
    })
    .unwrap()
}

#[tokio::test]
async fn a_german_browser_gets_german_pages_and_mails() {
    let (app, sink) = spawn_with_mail(|_| {}).await;
    let email = address("german", "anna");
    app.user("anna").email(&email).await;
    let b = german_browser();
    let page = visit(&app, &b, "/forgot-password")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"de\">"), "{page}");
    assert!(page.contains(&words("de", "forgot-title")), "{page}");
    assert!(!page.contains(&words("en", "forgot-title")), "{page}");

    // The account pages' sign-in names them in German too.
    let (login, _) = crate::helpers::follow(&app, &german_browser(), "/account").await;
    let login = login.text().await.unwrap();
    assert!(
        login.contains(&format!(
            "<strong>{}</strong>",
            words("de", "account-client-name")
        )),
        "{login}"
    );

    let r = submit(
        &app,
        &b,
        "/forgot-password",
        &[("login", "anna".to_owned())],
    )
    .await;
    let answer = r.text().await.unwrap();
    assert!(answer.contains(&words("de", "forgot-sent")), "{answer}");
    let mail = nth_mail(&sink, &email, 1).await;
    assert_eq!(mail.subject, "Passwort zurücksetzen");
    assert!(mail.text.contains("30 Minuten"), "{}", mail.text);

    // The reset page refuses a short password in German, the policy's value filled in.
    let link = mail.link(&app);
    let html = visit(&app, &b, &Mail::path_of(&app, &link))
        .await
        .text()
        .await
        .unwrap();
    let token = hidden(&html, "token");
    let r = submit(
        &app,
        &b,
        "/reset-password",
        &[
            ("token", token),
            ("new_password", "kurz".to_owned()),
            ("confirm_password", "kurz".to_owned()),
        ],
    )
    .await;
    let refused = r.text().await.unwrap();
    let english = "The new password must be at least 8 characters.";
    let ui = builtin_ui();
    let german = ui.text(&ui.language(Some("de"), None), english, &[]);
    assert_ne!(german, english);
    assert!(german.contains('8'), "{german}");
    assert!(refused.contains(&german), "{refused}");

    // The whole rule holds on the reset page, the username part too: the live link says
    // whose password it is.
    let html = visit(&app, &b, &Mail::path_of(&app, &link))
        .await
        .text()
        .await
        .unwrap();
    let r = submit(
        &app,
        &b,
        "/reset-password",
        &[
            ("token", hidden(&html, "token")),
            ("new_password", "Anna-tanzt-im-Regen".to_owned()),
            ("confirm_password", "Anna-tanzt-im-Regen".to_owned()),
        ],
    )
    .await;
    let refused = r.text().await.unwrap();
    let german = ui.text(
        &ui.language(Some("de"), None),
        "The new password must not contain the username.",
        &[],
    );
    assert!(refused.contains(&german), "{refused}");
}

#[tokio::test]
async fn the_authorization_requests_ui_locales_choose_the_sign_in_pages_language() {
    let (app, _sink) = spawn_with_mail(|_| {}).await;
    let web = web_client(&app).await;
    app.user("bert").await;
    // An English browser, but the application asks for French (which we lack), then German.
    let b = app.browser();
    let url = app.authorize_url(&[
        ("response_type", "code"),
        ("client_id", &web.id),
        ("redirect_uri", CALLBACK),
        ("scope", "openid"),
        ("state", "s"),
        ("ui_locales", "fr-CA de"),
    ]);
    let (page, _) = crate::helpers::follow(&app, &b, &url).await;
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"de\">"), "{html}");
    assert!(html.contains(&words("de", "login-title")), "{html}");
    let request_id = hidden(&html, "request_id");
    let csrf = hidden(&html, "csrf_token");
    // The refusal of a wrong password keeps the request's language.
    let r = submit(
        &app,
        &b,
        "/login",
        &[
            ("request_id", request_id),
            ("csrf_token", csrf),
            ("username", "bert".to_owned()),
            ("password", "not the password".to_owned()),
        ],
    )
    .await;
    let (page, _) = if r.status() == 303 {
        crate::helpers::follow(&app, &b, &location(&r)).await
    } else {
        let url = r.url().to_string();
        (r, url)
    };
    let html = page.text().await.unwrap();
    let failed = words("de", portcullis::oauth::flow::LOGIN_FAILED);
    assert_ne!(failed, portcullis::oauth::flow::LOGIN_FAILED);
    assert!(html.contains(&failed), "{html}");
}

#[tokio::test]
async fn an_operators_catalogue_adds_a_language_and_falls_back_to_english() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fr")).unwrap();
    std::fs::write(
        dir.path().join("fr/pages.ftl"),
        "forgot-title = Mot de passe oublié ?\n",
    )
    .unwrap();
    let locales = dir.path().to_owned();
    let (app, _sink) = spawn_with_mail(move |c| c.ui.locales_dir = Some(locales)).await;
    let b = app.browser();
    let page = b
        .get(app.url("/forgot-password"))
        .header("accept-language", "fr-FR, en;q=0.1")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"fr\">"), "{page}");
    assert!(page.contains("Mot de passe oublié ?"), "{page}");
    // What French lacks is English, not a message id.
    assert!(page.contains(&words("en", "forgot-submit")), "{page}");
}

#[tokio::test]
async fn a_new_password_or_second_factor_is_told_by_mail() {
    let (app, sink) = spawn_with_mail(|_| {}).await;
    let email = address("notice", "carla");
    let carla = app.user("carla").email(&email).await;
    let b = app.browser();
    sign_in(&app, &b, &carla).await;

    let html = page(&app, &b, "/account/password").await;
    let new = "a long new passphrase, hers alone";
    let r = post_form(
        &app,
        &b,
        "/account/password",
        &html,
        &[
            ("current_password", carla.password.as_str()),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let mail = nth_mail(&sink, &email, 1).await;
    assert_eq!(mail.subject, "Your account's security settings changed");
    assert!(
        mail.text
            .contains("password of your account was just changed"),
        "{}",
        mail.text
    );
    assert!(
        mail.link(&app).ends_with("/forgot-password"),
        "{}",
        mail.text
    );

    enrol_totp(&app, &b).await;
    let mail = nth_mail(&sink, &email, 2).await;
    assert!(
        mail.text.contains("authenticator app was just set up"),
        "{}",
        mail.text
    );

    // One mail per change, nothing more.
    assert_eq!(settled_count(&sink, &email).await, 2);
}
