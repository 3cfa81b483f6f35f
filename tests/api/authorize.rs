//! The authorization code flow end to end: the `openidconnect` crate as the relying party,
//! a cookie-keeping reqwest client as the browser, and a negative test for each rule in
//! docs/security.md's sections on the authorization endpoint, login/consent/sessions and the
//! token endpoint.

use std::sync::Arc;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use portcullis::manage::Actor;
use serde_json::Value;

use crate::helpers::{
    Back, CALLBACK, PASSWORD, TestApp, TestClient, TestDb, TestUser, hidden, location, query_param,
    spawn_app, spawn_app_with,
};

/// Tests talk to a real relying-party library that checks `iat`/`exp` against the wall
/// clock, so the server's clock is set to now.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn start() -> TestApp {
    let app = spawn_app().await;
    app.clock.set(wall_clock());
    app
}

/// The relying party of these tests: both redirect URIs, a logout URI, and the scopes
/// the flows ask for.
async fn client(app: &TestApp, id: &str, public: bool, first_party: bool) -> TestClient {
    let builder = if public {
        app.public_client(id)
    } else {
        app.confidential_client(id)
    };
    builder
        .name(&format!("App {id}"))
        .first_party_if(first_party)
        .redirect_uris(&[CALLBACK, "http://127.0.0.1/native"])
        .post_logout_redirect_uris(&["https://rp.example.com/bye"])
        .scope("openid profile email offline_access api:read")
        .await
}

/// A user with an email address and a display name, for the claims.
async fn user(app: &TestApp, name: &str) -> TestUser {
    app.user(name).with_profile().await
}

async fn rp(
    app: &TestApp,
    id: &str,
    secret: Option<&str>,
) -> CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    let meta = CoreProviderMetadata::discover_async(
        IssuerUrl::new(app.public.clone()).unwrap(),
        &app.http,
    )
    .await
    .unwrap();
    CoreClient::from_provider_metadata(
        meta,
        ClientId::new(id.into()),
        secret.map(|s| ClientSecret::new(s.into())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap())
}

async fn full_flow(public: bool) {
    let app = start().await;
    let setup = client(&app, "rp", public, false).await;
    let alice = user(&app, "alice").await;
    let user_id = alice.id.clone();
    let rp = rp(&app, "rp", setup.secret.as_deref()).await;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    let b = app.browser();
    let back = app.login(&b, auth_url.as_str(), &alice).await;
    assert!(back.url.starts_with(CALLBACK), "{back:?}");
    assert_eq!(
        back.param("state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(back.param("iss").as_deref(), Some(app.public.as_str()));
    let code = back.param("code").unwrap();

    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&app.http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = rp.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), user_id);
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    assert!(claims.auth_time().is_some());
    let expected_hash = claims.access_token_hash().expect("at_hash");
    let actual = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual, expected_hash);
    assert!(
        tokens.refresh_token().is_some(),
        "offline_access was granted"
    );

    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().to_owned(), None)
        .unwrap()
        .request_async(&app.http)
        .await
        .unwrap();
    assert_eq!(info.subject().as_str(), user_id);
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));

    // Consent is remembered: the second flow goes straight back with a code for a
    // confidential client; a public one, whose identity nothing assures, is asked again
    // (RFC 8252 section 8.6; tests/api/authorize_oidc.rs).
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, _, _) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let r = b.get(auth_url.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303);
    if public {
        assert!(location(&r).starts_with("/consent?"), "{}", location(&r));
    } else {
        assert!(
            location(&r).starts_with(CALLBACK),
            "no login, no consent the second time"
        );
    }
}

#[tokio::test]
async fn confidential_client_full_flow() {
    full_flow(false).await;
}

#[tokio::test]
async fn public_client_full_flow() {
    full_flow(true).await;
}

const CHALLENGE: &str = "7D8orU9F1mwpc8FEf12eGGE6Nvj3Xuh0UpX0yCTLbg8";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0bZ2P5YQnE-1pKHrCDN1VlhFb13c";

fn base(client_id: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email"),
        ("state", "s t&x=<y>"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn with<'a>(
    mut params: Vec<(&'a str, &'a str)>,
    key: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    params.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        params.push((key, v));
    }
    params
}

#[tokio::test]
async fn unknown_clients_and_bad_redirect_uris_get_a_page_never_a_redirect() {
    let app = start().await;
    client(&app, "rp", false, false).await;
    let b = app.browser();
    let bad = [
        with(base("rp"), "client_id", Some("nobody")),
        with(base("rp"), "client_id", None),
        with(
            base("rp"),
            "redirect_uri",
            Some("https://RP.example.com/callback"),
        ),
        with(
            base("rp"),
            "redirect_uri",
            Some("https://rp.example.com/callback/"),
        ),
        with(
            base("rp"),
            "redirect_uri",
            Some("https://rp.example.com/callback?x=1"),
        ),
        with(
            base("rp"),
            "redirect_uri",
            Some("https://rp.example.com:443/callback"),
        ),
        with(
            base("rp"),
            "redirect_uri",
            Some("https://rp.example.com/%63allback"),
        ),
        with(
            base("rp"),
            "redirect_uri",
            Some("https://evil.example.com/callback"),
        ),
        with(base("rp"), "redirect_uri", Some("http://localhost/native")),
    ];
    for params in bad {
        let r = b.get(app.authorize_url(&params)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{params:?}");
        assert!(r.headers().get("location").is_none());
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "no CORS on /authorize"
        );
        assert!(r.text().await.unwrap().contains("Something went wrong"));
    }
    // A parameter sent twice is refused before anything else.
    let twice = format!("{}&state=again", app.authorize_url(&base("rp")));
    let r = b.get(twice).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("more than once"));
    // Loopback IP literals may change the port (RFC 8252).
    let native = with(
        base("rp"),
        "redirect_uri",
        Some("http://127.0.0.1:53127/native"),
    );
    let r = b.get(app.authorize_url(&native)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).starts_with("/login?request_id="));
}

#[tokio::test]
async fn request_errors_go_back_with_state_and_iss() {
    let app = start().await;
    client(&app, "rp", false, false).await;
    client(&app, "spa", true, false).await;
    let b = app.browser();
    let cases = [
        (
            with(base("rp"), "response_type", Some("token")),
            "unsupported_response_type",
        ),
        (with(base("rp"), "response_type", None), "invalid_request"),
        (
            with(base("rp"), "code_challenge_method", Some("plain")),
            "invalid_request",
        ),
        (
            with(base("rp"), "code_challenge", Some("short")),
            "invalid_request",
        ),
        (
            with(
                with(base("spa"), "code_challenge", None),
                "code_challenge_method",
                None,
            ),
            "invalid_request",
        ),
        (
            with(base("rp"), "scope", Some("openid admin")),
            "invalid_scope",
        ),
        (
            with(base("rp"), "request", Some("eyJhbGciOiJub25lIn0.e30.")),
            "request_not_supported",
        ),
        (
            with(base("rp"), "request_uri", Some("https://x.example/r")),
            "request_uri_not_supported",
        ),
        (
            with(base("rp"), "prompt", Some("none login")),
            "invalid_request",
        ),
        (with(base("rp"), "prompt", Some("none")), "login_required"),
        (with(base("rp"), "max_age", Some("-1")), "invalid_request"),
    ];
    for (params, error) in cases {
        let r = b.get(app.authorize_url(&params)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{params:?}");
        let to = location(&r);
        assert!(to.starts_with(CALLBACK), "{to}");
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some(error),
            "{params:?}"
        );
        assert_eq!(
            query_param(&to, "state").as_deref(),
            Some("s t&x=<y>"),
            "state unchanged"
        );
        assert_eq!(
            query_param(&to, "iss").as_deref(),
            Some(app.public.as_str())
        );
    }
}

async fn start_login(app: &TestApp, b: &reqwest::Client, params: &[(&str, &str)]) -> String {
    let r = b.get(app.authorize_url(params)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let to = location(&r);
    let r = b.get(format!("{}{to}", app.public)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    for (h, v) in [
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert_eq!(r.headers()[h], v, "{h}");
    }
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    r.text().await.unwrap()
}

#[tokio::test]
async fn login_form_rules() {
    let app = start().await;
    client(&app, "rp", false, false).await;
    user(&app, "bob").await;
    let b = app.browser();
    let hinted = with(
        base("rp"),
        "login_hint",
        Some("\"><script>alert(1)</script>"),
    );
    let html = start_login(&app, &b, &hinted).await;
    assert!(!html.contains("<script>alert(1)"), "login_hint is escaped");
    assert!(
        html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
        "{html}"
    );
    assert!(html.contains("name=\"username\"") && html.contains("name=\"password\""));
    assert!(html.contains("<label for=\"username\">"));

    let (rid, csrf) = (hidden(&html, "request_id"), hidden(&html, "csrf_token"));
    // `origin` is (Origin, Sec-Fetch-Site); a browser sends both.
    let post = |form: Vec<(&'static str, String)>, origin: Option<(&str, &str)>| {
        let mut req = b.post(format!("{}/login", app.public)).form(&form);
        if let Some((o, site)) = origin {
            req = req.header("origin", o).header("sec-fetch-site", site);
        }
        req.send()
    };
    let good = vec![
        ("request_id", rid.clone()),
        ("csrf_token", csrf.clone()),
        ("username", "bob".into()),
        ("password", PASSWORD.into()),
    ];
    // Cross-site posts are refused, including the opaque `null` origin a sandboxed
    // frame on another site sends, and anything fetch metadata calls cross-site.
    for origin in [
        ("https://evil.example.com", "cross-site"),
        ("null", "cross-site"),
        ("null", "same-site"),
        (app.public.as_str(), "cross-site"),
    ] {
        let r = post(good.clone(), Some(origin)).await.unwrap();
        assert_eq!(r.status(), 403, "{origin:?}");
    }
    // `null` without fetch metadata cannot be told apart from a hostile frame: refused.
    let r = b
        .post(format!("{}/login", app.public))
        .header("origin", "null")
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Missing or wrong CSRF token: refused.
    for token in ["", "wrong"] {
        let r = post(
            vec![
                ("request_id", rid.clone()),
                ("csrf_token", token.into()),
                ("username", "bob".into()),
                ("password", PASSWORD.into()),
            ],
            Some((&app.public, "same-origin")),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 400, "csrf {token:?}");
    }
    // Unknown user and wrong password: the same page and message.
    let mut pages = Vec::new();
    let mut csrf = csrf;
    for (u, p) in [("nobody", PASSWORD), ("bob", "wrong password")] {
        let r = post(
            vec![
                ("request_id", rid.clone()),
                ("csrf_token", csrf.clone()),
                ("username", u.into()),
                ("password", p.into()),
            ],
            Some((&app.public, "same-origin")),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("Incorrect username or password."));
        csrf = hidden(&html, "csrf_token");
        // The name comes back as typed, whatever the reason; the rest must not differ.
        assert!(
            html.contains(&format!("value=\"{u}\"")),
            "the username as typed"
        );
        pages.push(
            html.replace(&csrf, "CSRF")
                .replace(&format!("value=\"{u}\""), "value=\"USER\""),
        );
    }
    assert_eq!(
        pages[0], pages[1],
        "identical for unknown user and wrong password"
    );

    // Success: a 303, a fresh HttpOnly SameSite=Lax session cookie. The origin is the
    // `null` a real browser sends from a page with `Referrer-Policy: no-referrer`,
    // vouched for by `Sec-Fetch-Site: same-origin`.
    let r = post(
        vec![
            ("request_id", rid.clone()),
            ("csrf_token", csrf.clone()),
            ("username", "bob".into()),
            ("password", PASSWORD.into()),
        ],
        Some(("null", "same-origin")),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("portcullis_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    // The request is used up: replaying the form does nothing.
    let r = post(
        vec![
            ("request_id", rid),
            ("csrf_token", csrf),
            ("username", "bob".into()),
            ("password", PASSWORD.into()),
        ],
        Some((&app.public, "same-origin")),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn https_issuers_get_host_prefixed_secure_cookies_and_new_ids_per_login() {
    let app = spawn_app_with(Arc::new(TestDb::new()), |c| {
        c.issuer = portcullis::config::Config::for_overrides(portcullis::config::Overrides {
            issuer: Some("http://127.0.0.1:1".into()),
            ..Default::default()
        })
        .unwrap()
        .issuer;
    })
    .await;
    // Build an https-issuer config the test can reach over plain http.
    drop(app);
    let db = Arc::new(TestDb::new());
    let master = db.master_key.clone();
    let app = spawn_app_with(db, move |c| {
        let https = portcullis::config::Config::load(&portcullis::config::Sources {
            env: vec![
                ("PORTCULLIS_ISSUER".into(), "https://id.example.com".into()),
                ("PORTCULLIS_KEYS__MASTER_KEYS".into(), master),
            ],
            ..Default::default()
        })
        .unwrap();
        c.issuer = https.issuer;
    })
    .await;
    app.clock.set(wall_clock());
    client(&app, "rp", false, false).await;
    user(&app, "carol").await;
    let mut cookies = Vec::new();
    for _ in 0..2 {
        let b = app.browser();
        let html = start_login(&app, &b, &base("rp")).await;
        let r = b
            .post(format!("{}/login", app.public))
            .form(&[
                ("request_id", hidden(&html, "request_id")),
                ("csrf_token", hidden(&html, "csrf_token")),
                ("username", "carol".into()),
                ("password", PASSWORD.into()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("__Host-portcullis_session="), "{cookie}");
        assert!(
            cookie.contains("Secure")
                && cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
        );
        cookies.push(cookie.split(';').next().unwrap().to_owned());
    }
    assert_ne!(cookies[0], cookies[1], "a new session id at every login");
}

#[tokio::test]
async fn prompts_max_age_and_consent_rules() {
    let app = start().await;
    client(&app, "rp", false, false).await;
    client(&app, "first", false, true).await;
    let dora = user(&app, "dora").await;
    let b = app.browser();
    // Sign in once (and deny consent: access_denied goes back with state).
    let back = app
        .login(&b, &app.authorize_url(&base("rp")), &dora)
        .deny()
        .await;
    assert_eq!(back.error().as_deref(), Some("access_denied"));
    assert_eq!(back.param("state").as_deref(), Some("s t&x=<y>"));

    // Signed in, no consent yet: prompt=none says consent_required.
    let r = b
        .get(app.authorize_url(&with(base("rp"), "prompt", Some("none"))))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_param(&location(&r), "error").as_deref(),
        Some("consent_required")
    );
    // A first-party client needs no consent at all.
    let r = b
        .get(app.authorize_url(&with(base("first"), "prompt", Some("none"))))
        .send()
        .await
        .unwrap();
    assert!(query_param(&location(&r), "code").is_some());

    // prompt=login forces the login page despite the session.
    let r = b
        .get(app.authorize_url(&with(base("first"), "prompt", Some("login"))))
        .send()
        .await
        .unwrap();
    assert!(location(&r).starts_with("/login?"));
    // max_age: a session older than allowed means logging in again.
    app.clock.advance(120);
    let r = b
        .get(app.authorize_url(&with(base("first"), "max_age", Some("60"))))
        .send()
        .await
        .unwrap();
    assert!(location(&r).starts_with("/login?"));
    let r = b
        .get(app.authorize_url(&with(base("first"), "max_age", Some("600"))))
        .send()
        .await
        .unwrap();
    assert!(query_param(&location(&r), "code").is_some());

    // prompt=consent shows the page even when consent was given.
    let back = app.login(&b, &app.authorize_url(&base("rp")), &dora).await;
    assert!(back.param("code").is_some());
    let r = b
        .get(app.authorize_url(&with(base("rp"), "prompt", Some("consent"))))
        .send()
        .await
        .unwrap();
    assert!(location(&r).starts_with("/consent?"));
    // The page lists the scopes in reading order, sign-in first, not alphabetically.
    let html = b
        .get(format!("{}{}", app.public, location(&r)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (signin, email) = (
        html.find("Sign you in").expect("openid described"),
        html.find("See your email address")
            .expect("email described"),
    );
    assert!(signin < email, "openid is listed before email");
}

/// `user` signs in (consenting if asked) and the client gets a code.
async fn code_for(
    app: &TestApp,
    b: &reqwest::Client,
    params: &[(&str, &str)],
    user: &TestUser,
) -> String {
    let back: Back = app.login(b, &app.authorize_url(params), user).await;
    back.code()
}

async fn redeem(
    app: &TestApp,
    id: &str,
    secret: &str,
    code: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code)];
    form.extend_from_slice(extra);
    let r = app
        .http
        .post(format!("{}/token", app.public))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn codes_are_single_use_bound_and_replay_revokes() {
    let app = start().await;
    let rp_secret = client(&app, "rp", false, true).await.secret.unwrap();
    let other_secret = client(&app, "other", false, true).await.secret.unwrap();
    let erin = user(&app, "erin").await;
    let b = app.browser();
    let params = with(base("rp"), "scope", Some("openid offline_access"));
    let good = [("redirect_uri", CALLBACK), ("code_verifier", VERIFIER)];

    // Bound to client, redirect_uri and verifier; failures do not spend the code.
    let code = code_for(&app, &b, &params, &erin).await;
    let (s, body) = redeem(&app, "other", &other_secret, &code, &good).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));
    for extra in [
        vec![("code_verifier", VERIFIER)],
        vec![
            ("redirect_uri", "https://rp.example.com/other"),
            ("code_verifier", VERIFIER),
        ],
        vec![
            ("redirect_uri", CALLBACK),
            ("code_verifier", "a".repeat(43).leak() as &str),
        ],
        vec![("redirect_uri", CALLBACK)],
    ] {
        let (s, body) = redeem(&app, "rp", &rp_secret, &code, &extra).await;
        assert_eq!(
            (s, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{extra:?}"
        );
    }
    let (s, first) = redeem(&app, "rp", &rp_secret, &code, &good).await;
    assert_eq!(s, 200, "{first}");
    assert!(first["id_token"].is_string());
    let access = first["access_token"].as_str().unwrap().to_owned();
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let userinfo = |token: String| {
        let http = app.http.clone();
        let url = format!("{}/userinfo", app.public);
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(userinfo(access.clone()).await, 200);

    // Replay: refused, and what the first exchange issued is revoked.
    let (s, body) = redeem(&app, "rp", &rp_secret, &code, &good).await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));
    assert_eq!(
        userinfo(access).await,
        401,
        "the access token's grant is revoked"
    );
    let r = app
        .http
        .post(format!("{}/token", app.public))
        .basic_auth("rp", Some(&rp_secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the refresh token is revoked too");

    // Codes expire after 60 s.
    let code = code_for(&app, &b, &params, &erin).await;
    app.clock.advance(61);
    let (s, _) = redeem(&app, "rp", &rp_secret, &code, &good).await;
    assert_eq!(s, 400);

    // Concurrent redemptions: at most one wins.
    let code = code_for(&app, &b, &params, &erin).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (http, url, secret, code) = (
            app.http.clone(),
            format!("{}/token", app.public),
            rp_secret.clone(),
            code.clone(),
        );
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .basic_auth("rp", Some(secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", CALLBACK),
                    ("code_verifier", VERIFIER),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap() == 200);
    }
    assert!(wins <= 1, "{wins} redemptions succeeded");
}

#[tokio::test]
async fn a_verifier_without_a_challenge_is_refused() {
    let app = start().await;
    let legacy = app
        .confidential_client("legacy")
        .name("Legacy")
        .redirect_uris(&[CALLBACK])
        .first_party()
        .require_pkce(false)
        .await;
    let secret = legacy.secret().to_owned();
    let erin = user(&app, "erin").await;
    let b = app.browser();
    let params = with(
        with(base("legacy"), "code_challenge", None),
        "code_challenge_method",
        None,
    );
    let code = code_for(&app, &b, &params, &erin).await;
    let (s, body) = redeem(
        &app,
        "legacy",
        &secret,
        &code,
        &[("redirect_uri", CALLBACK), ("code_verifier", VERIFIER)],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (400, Some("invalid_grant")));
    let (s, _) = redeem(
        &app,
        "legacy",
        &secret,
        &code,
        &[("redirect_uri", CALLBACK)],
    )
    .await;
    assert_eq!(
        s, 200,
        "allowed without PKCE only because this confidential client opted out"
    );
}

#[tokio::test]
async fn userinfo_accepts_only_live_access_tokens_with_openid() {
    let app = start().await;
    let secret = client(&app, "rp", false, true).await.secret.unwrap();
    let erin = user(&app, "erin").await;
    let b = app.browser();
    let code = code_for(&app, &b, &base("rp"), &erin).await;
    let (_, tokens) = redeem(
        &app,
        "rp",
        &secret,
        &code,
        &[("redirect_uri", CALLBACK), ("code_verifier", VERIFIER)],
    )
    .await;
    let get = |auth: Option<String>| {
        let (http, url) = (app.http.clone(), format!("{}/userinfo", app.public));
        async move {
            let mut req = http.get(url);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.headers()
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap().to_owned()),
            )
        }
    };
    let (s, _) = get(Some(format!(
        "Bearer {}",
        tokens["access_token"].as_str().unwrap()
    )))
    .await;
    assert_eq!(s, 200);
    let (s, challenge) = get(None).await;
    assert_eq!(s, 401);
    assert!(challenge.unwrap().starts_with("Bearer"));
    let (s, challenge) = get(Some(format!(
        "Bearer {}",
        tokens["id_token"].as_str().unwrap()
    )))
    .await;
    assert_eq!(s, 401, "an ID token is not an access token");
    assert!(challenge.unwrap().contains("invalid_token"));
    // A token without openid: insufficient_scope.
    let code = code_for(
        &app,
        &b,
        &with(base("rp"), "scope", Some("api:read")),
        &erin,
    )
    .await;
    let (_, plain) = redeem(
        &app,
        "rp",
        &secret,
        &code,
        &[("redirect_uri", CALLBACK), ("code_verifier", VERIFIER)],
    )
    .await;
    assert!(
        plain.get("id_token").is_none(),
        "no ID token without openid"
    );
    let (s, challenge) = get(Some(format!(
        "Bearer {}",
        plain["access_token"].as_str().unwrap()
    )))
    .await;
    assert_eq!(s, 403);
    assert!(challenge.unwrap().contains("insufficient_scope"));
    app.clock
        .advance(3600 + app.state.config.tokens.clock_skew + 1);
    let (s, _) = get(Some(format!(
        "Bearer {}",
        tokens["access_token"].as_str().unwrap()
    )))
    .await;
    assert_eq!(s, 401, "expired");
}

#[tokio::test]
async fn logout_ends_the_session_and_redirects_only_where_registered() {
    let app = start().await;
    let secret = client(&app, "rp", false, true).await.secret.unwrap();
    let erin = user(&app, "erin").await;
    let b = app.browser();
    let code = code_for(&app, &b, &base("rp"), &erin).await;
    let (_, tokens) = redeem(
        &app,
        "rp",
        &secret,
        &code,
        &[("redirect_uri", CALLBACK), ("code_verifier", VERIFIER)],
    )
    .await;
    let hint = tokens["id_token"].as_str().unwrap();

    let bad = b
        .get(format!("{}/logout", app.public))
        .query(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", "https://evil.example.com/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.headers().get("location").is_none());

    let r = b
        .get(format!("{}/logout", app.public))
        .query(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", "https://rp.example.com/bye"),
            ("state", "xyz"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "https://rp.example.com/bye?state=xyz");
    // The session is gone: prompt=none now needs a login.
    let r = b
        .get(app.authorize_url(&with(base("rp"), "prompt", Some("none"))))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_param(&location(&r), "error").as_deref(),
        Some("login_required")
    );
    // Without a redirect: the plain page.
    let r = b
        .post(format!("{}/logout", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("You are signed out"));
}

#[tokio::test]
async fn revoking_a_users_sessions_ends_the_browser_session() {
    let app = start().await;
    client(&app, "rp", false, true).await;
    let erin = user(&app, "erin").await;
    let b = app.browser();
    let back = app.login(&b, &app.authorize_url(&base("rp")), &erin).await;
    assert!(back.param("code").is_some());
    app.state
        .service
        .revoke_user_sessions(&Actor::cli(), "erin")
        .await
        .unwrap();
    let r = b
        .get(app.authorize_url(&with(base("rp"), "prompt", Some("none"))))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_param(&location(&r), "error").as_deref(),
        Some("login_required")
    );
}
