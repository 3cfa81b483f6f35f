//! RFC 7662 section 2.2: from an authenticated caller with the right to ask, any `token`
//! value of any length, alphabet or shape that is not an active token of ours is answered
//! `200 {"active": false}`. Only the request body limit (413) bounds its size, and only
//! the caller (401, or 400 `unauthorized_client`) or a missing token (400) turn the answer
//! into an error.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::manage::Actor;
use serde_json::{Value, json};

use crate::helpers::{
    T0, TestApp, TestClient, access_token, post_with_basic, refresh_token, spawn_app,
};

/// The body limit of every public endpoint (`app.rs`, `PayloadConfig`).
const BODY_LIMIT: usize = 16 * 1024;

struct Setup {
    app: TestApp,
    /// A resource server: may introspect.
    rs: TestClient,
    /// A resource server that may also introspect other clients' refresh tokens.
    wide: TestClient,
    /// Gets client_credentials tokens.
    svc: TestClient,
    /// Gets password and refresh tokens for alice.
    web: TestClient,
}

async fn setup() -> Setup {
    let app = spawn_app().await;
    let rs = app
        .confidential_client("rs")
        .grants(&["client_credentials"])
        .roles(&["introspector"])
        .await;
    let wide = app
        .confidential_client("wide")
        .grants(&["client_credentials"])
        .roles(&["introspector", "refresh_introspector"])
        .await;
    let svc = app
        .confidential_client("svc")
        .grants(&["client_credentials"])
        .scope("api.read")
        .await;
    let web = app
        .confidential_client("web")
        .grants(&["password", "refresh_token"])
        .scope("api.read offline_access")
        .await;
    app.user("alice").await;
    Setup {
        app,
        rs,
        wide,
        svc,
        web,
    }
}

/// POST /introspect with `body` as it is, form-encoded by the caller.
async fn introspect_raw(
    app: &TestApp,
    caller: Option<&TestClient>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/introspect", app.public))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(c) = caller {
        req = req.basic_auth(&c.id, Some(c.secret()));
    }
    req.send().await.unwrap()
}

/// The answer for `token` (form-encoded), checking status and no-store on the way.
async fn answer(app: &TestApp, caller: &TestClient, token: &str) -> Value {
    let r = post_with_basic(app, "/introspect", &[("token", token)], caller.basic()).await;
    assert_eq!(r.status(), 200, "token of {} bytes", token.len());
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

fn inactive() -> Value {
    json!({ "active": false })
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn introspection_answers_inactive_for_any_token_value() {
    let s = setup().await;
    let genuine = s.app.cc_token(&s.svc, None).await;
    // The same question with a live token is answered active: the inactive answers below
    // are about the values, not a caller that can see nothing.
    assert_eq!(answer(&s.app, &s.rs, &genuine).await["active"], true);

    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(genuine.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "at+jwt" })),
        b64(&claims)
    );
    let hs256 = format!(
        "{}.{}.{}",
        b64(&json!({ "alg": "HS256", "typ": "at+jwt" })),
        b64(&claims),
        URL_SAFE_NO_PAD.encode([7u8; 32])
    );
    let foreign_kid = format!(
        "{}.{}.{}",
        b64(
            &json!({ "alg": "ES256", "typ": "at+jwt", "kid": "no-such-key", "jku": "https://evil.example/jwks" })
        ),
        b64(&claims),
        genuine.split('.').nth(2).unwrap()
    );
    let huge_jwt = format!(
        "eyJ{}.{}.{}",
        "A".repeat(3000),
        "B".repeat(3000),
        "C".repeat(3000)
    );
    let base64url_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let long_b64 = base64url_alphabet.repeat(190); // 12160 bytes
    let values: Vec<String> = vec![
        "a".repeat(5000), // beyond the 4096 bytes other parameters may carry
        long_b64,
        format!("pcr_{}", "x".repeat(8000)), // our refresh-token prefix, long
        "pcr_".to_owned(),
        "pcr_\u{1f512}".to_owned(),
        huge_jwt,
        alg_none,
        hs256,
        foreign_kid,
        format!("{genuine}x"),
        format!(" {genuine}"),
        format!("{genuine}.{genuine}"),
        genuine.split('.').take(2).collect::<Vec<_>>().join("."),
        "\u{442}\u{435}\u{441}\u{442}\u{1f512}\u{202e}\u{65e5}\u{672c}".to_owned(),
        "\u{0}\u{1}\u{7f}".to_owned(),
        " \t\r\n".to_owned(),
        "null".to_owned(),
        "{}".to_owned(),
        "[]".to_owned(),
        "%zz".to_owned(),
        "..".to_owned(),
        "x".to_owned(),
    ];
    for value in &values {
        assert_eq!(
            answer(&s.app, &s.rs, value).await,
            inactive(),
            "a token of {} bytes starting {:?}",
            value.len(),
            value.chars().take(16).collect::<String>()
        );
    }

    // Bytes no form encoder would write: invalid UTF-8 escaped and raw, malformed escapes.
    let raw_bodies: Vec<Vec<u8>> = vec![
        b"token=%00%01%FF%FE%80".to_vec(),
        b"token=%zz%4".to_vec(),
        b"token=%".to_vec(),
        [b"token=".as_slice(), &[0x80, 0xff, 0xfe, b'a', 0xc3, 0x28]].concat(),
        [b"token=".as_slice(), &(0u8..=255).collect::<Vec<u8>>()]
            .concat()
            .into_iter()
            // `&` would end the value: everything else goes in as it is.
            .filter(|b| *b != b'&')
            .collect(),
    ];
    for body in raw_bodies {
        let r = introspect_raw(&s.app, Some(&s.rs), body.clone()).await;
        assert_eq!(r.status(), 200, "{body:?}");
        assert_eq!(r.json::<Value>().await.unwrap(), inactive(), "{body:?}");
    }
}

#[tokio::test]
async fn expired_and_other_clients_tokens_are_inactive() {
    let s = setup().await;
    let at = s.app.cc_token(&s.svc, None).await;
    let tokens = s
        .app
        .tokens(
            &s.web,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", crate::helpers::PASSWORD),
                ("scope", "api.read offline_access"),
            ],
        )
        .await;
    let (user_at, rt) = (access_token(&tokens), refresh_token(&tokens));
    assert_eq!(answer(&s.app, &s.rs, &at).await["active"], true);
    assert_eq!(answer(&s.app, &s.rs, &user_at).await["active"], true);

    // Another client's refresh token: inactive to a caller that may not see it, active to
    // one that may.
    assert_eq!(answer(&s.app, &s.rs, &rt).await, inactive());
    assert_eq!(answer(&s.app, &s.wide, &rt).await["active"], true);

    // Expired: past exp and the tolerated clock skew, for access and refresh tokens.
    let config = &s.app.state.config;
    let past_access = config.tokens.access_token_lifetime + config.tokens.clock_skew + 1;
    s.app.clock.advance(past_access);
    assert_eq!(answer(&s.app, &s.rs, &at).await, inactive());
    assert_eq!(answer(&s.app, &s.rs, &user_at).await, inactive());
    s.app
        .clock
        .set(T0 + config.tokens.refresh_token_absolute + 1);
    assert_eq!(answer(&s.app, &s.wide, &rt).await, inactive());
    s.app.clock.set(T0);
    assert_eq!(answer(&s.app, &s.rs, &at).await["active"], true);

    // Revoked by its own client.
    let r = post_with_basic(&s.app, "/revoke", &[("token", &user_at)], s.web.basic()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(answer(&s.app, &s.rs, &user_at).await, inactive());

    // The client is gone: its tokens go with it.
    s.app
        .state
        .service
        .delete_client(&Actor::cli(), "svc")
        .await
        .unwrap();
    assert_eq!(answer(&s.app, &s.rs, &at).await, inactive());
}

#[tokio::test]
async fn introspection_bounds_only_the_body_and_the_caller() {
    let s = setup().await;
    // As long as the body limit allows: still a question, still answered.
    let near_limit = "t".repeat(BODY_LIMIT - "token=".len() - 16);
    assert_eq!(answer(&s.app, &s.rs, &near_limit).await, inactive());

    // Past the body limit: 413, whatever the token.
    let over = format!("token={}", "t".repeat(BODY_LIMIT));
    let r = introspect_raw(&s.app, Some(&s.rs), over.clone().into_bytes()).await;
    assert_eq!(r.status(), 413);

    // The caller still matters for any value: no credentials, wrong ones, or a client
    // without the introspector role.
    let junk = "\u{1f512}".repeat(1000);
    let body = format!(
        "token={}",
        url::form_urlencoded::byte_serialize(junk.as_bytes()).collect::<String>()
    );
    let r = introspect_raw(&s.app, None, body.clone().into_bytes()).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let wrong = TestClient {
        id: "rs".into(),
        secret: Some("wrong".into()),
    };
    let r = introspect_raw(&s.app, Some(&wrong), body.clone().into_bytes()).await;
    assert_eq!(r.status(), 401);
    let r = introspect_raw(&s.app, Some(&s.svc), body.into_bytes()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );

    // No token at all, an empty one, or two: a malformed request, not a question.
    for body in [
        "",
        "token=",
        "token",
        "token=a&token=b",
        "token_type_hint=access_token",
    ] {
        let r = introspect_raw(&s.app, Some(&s.rs), body.as_bytes().to_vec()).await;
        assert_eq!(r.status(), 400, "{body:?}");
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"],
            "invalid_request",
            "{body:?}"
        );
    }
}

/// RFC 7009 section 2.2: revocation answers 200 for a token that is not valid, so the same
/// values of any length or shape are nothing to revoke, never a 400; and revoking them
/// leaves the client's live tokens alone. Only the body limit (413) bounds them.
#[tokio::test]
async fn revocation_answers_200_for_any_token_value() {
    let s = setup().await;
    let tokens = s
        .app
        .tokens(
            &s.web,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", crate::helpers::PASSWORD),
                ("scope", "api.read offline_access"),
            ],
        )
        .await;
    let (at, rt) = (access_token(&tokens), refresh_token(&tokens));
    let forged_jwt = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#),
        URL_SAFE_NO_PAD.encode(br#"{"sub":"alice","client_id":"web"}"#),
        "x".repeat(6000)
    );
    let values = [
        "x".repeat(12_000),
        format!("pcr_{}", "y".repeat(9000)),
        "\u{1f512}".repeat(1000), // 12 KiB once percent-encoded
        "\u{0}\u{7}\r\n\t".repeat(200),
        forged_jwt,
    ];
    for value in &values {
        let r = post_with_basic(&s.app, "/revoke", &[("token", value)], s.web.basic()).await;
        assert_eq!(r.status(), 200, "{} bytes", value.len());
        assert!(r.text().await.unwrap().is_empty());
    }
    // Raw bytes that are not UTF-8 and escapes that are not escapes: still nothing to revoke.
    for body in ["token=%FF%FE%00", "token=%zz%4", "token=%E2%82"] {
        let r = s
            .app
            .http
            .post(format!("{}/revoke", s.app.public))
            .header("content-type", "application/x-www-form-urlencoded")
            .basic_auth(&s.web.id, Some(s.web.secret()))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{body:?}");
    }
    // Nothing live was touched.
    assert_eq!(answer(&s.app, &s.rs, &at).await["active"], true);
    assert_eq!(answer(&s.app, &s.wide, &rt).await["active"], true);

    // Past the body limit: 413.
    let over = format!("token={}", "t".repeat(BODY_LIMIT));
    let r = s
        .app
        .http
        .post(format!("{}/revoke", s.app.public))
        .header("content-type", "application/x-www-form-urlencoded")
        .basic_auth(&s.web.id, Some(s.web.secret()))
        .body(over)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}
