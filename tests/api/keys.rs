use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use portcullis::app::Application;
use portcullis::clock::FixedClock;
use portcullis::crypto::jwt::{Expected, JwtError};
use portcullis::crypto::key_material::{self, MasterKey, MasterKeys};
use portcullis::crypto::keystore::KeyStore;
use portcullis::store::schema::{audit_events, signing_keys};
use serde_json::{Value, json};

use crate::helpers::{T0, TestApp, TestDb, spawn_app, spawn_app_with, test_config};

fn claims(app: &TestApp, iat: i64, exp: i64) -> Value {
    json!({
        "iss": app.state.config.issuer.as_str(),
        "sub": "user-1",
        "aud": "api",
        "iat": iat,
        "exp": exp,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn expected<'a>(app: &'a TestApp, now: i64) -> Expected<'a> {
    Expected {
        typ: "at+jwt",
        issuer: app.state.config.issuer.as_str(),
        audience: Some("api"),
        now,
        leeway: 0,
    }
}

fn header_kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let body: Value = app
        .http
        .get(format!("{}/jwks.json", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn statuses(app: &TestApp) -> Vec<(String, String)> {
    app.state
        .store
        .run(|conn| {
            Ok(signing_keys::table
                .select((signing_keys::kid, signing_keys::status))
                .order(signing_keys::created_at.asc())
                .load(conn)?)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn rotation_publishes_first_signs_later_and_retires_on_time() {
    let app = spawn_app().await;
    let keys = &app.state.keys;
    let policy = keys.policy().clone();
    let first = keys.current().active_kid().unwrap().to_owned();
    assert_eq!(jwks_kids(&app).await, vec![first.clone()]);

    // Not yet time for the next key.
    keys.advance(T0 + 3600).await.unwrap();
    assert_eq!(jwks_kids(&app).await.len(), 1);

    // The publish lead before the rotation is due: the next key appears, not signing.
    let publish_at = T0 + policy.rotation_period - policy.publish_lead;
    app.clock.set(publish_at);
    keys.advance(publish_at).await.unwrap();
    let published = jwks_kids(&app).await;
    assert_eq!(published.len(), 2, "next key published: {published:?}");
    let next = published.iter().find(|k| **k != first).unwrap().clone();
    let old_token = keys
        .sign("at+jwt", &claims(&app, publish_at, publish_at + 3600))
        .unwrap();
    assert_eq!(
        header_kid(&old_token),
        first,
        "still signing with the first key"
    );

    // Just before it is due, still the old key; at the due time the switch happens.
    let due = T0 + policy.rotation_period;
    keys.advance(due - 1).await.unwrap();
    assert_eq!(keys.current().active_kid(), Some(first.as_str()));
    assert!(due - publish_at >= 2 * policy.jwks_max_age);
    app.clock.set(due);
    keys.advance(due).await.unwrap();
    assert_eq!(keys.current().active_kid(), Some(next.as_str()));
    let new_token = keys.sign("at+jwt", &claims(&app, due, due + 3600)).unwrap();
    assert_eq!(header_kid(&new_token), next);
    assert_eq!(
        statuses(&app).await,
        vec![
            (first.clone(), "retired".into()),
            (next.clone(), "active".into())
        ]
    );

    // The token signed before the rotation keeps verifying while its key is retired.
    let v: Value = keys
        .verify(&old_token, &expected(&app, due + 10))
        .await
        .unwrap();
    assert_eq!(v["sub"], "user-1");
    assert_eq!(jwks_kids(&app).await.len(), 2);

    // Once every token it signed has expired, the retired key leaves the JWKS.
    let gone = due + policy.retire_grace;
    keys.advance(gone - 1).await.unwrap();
    assert!(jwks_kids(&app).await.contains(&first));
    keys.advance(gone).await.unwrap();
    assert_eq!(jwks_kids(&app).await, vec![next.clone()]);
    let err = keys
        .verify::<Value>(&old_token, &expected(&app, gone))
        .await
        .unwrap_err();
    assert!(matches!(err, JwtError::UnknownKid(_)), "{err:?}");

    let events: Vec<String> = app
        .state
        .store
        .run(|conn| {
            Ok(audit_events::table
                .filter(audit_events::event_type.like("key.%"))
                .order(audit_events::seq.asc())
                .select(audit_events::event_type)
                .load(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(
        events,
        vec![
            "key.created",
            "key.activated",
            "key.created",
            "key.retired",
            "key.activated",
            "key.deleted"
        ]
    );
}

#[tokio::test]
async fn replicas_rotating_at_once_never_make_two_active_keys() {
    let db = Arc::new(TestDb::new());
    let a = spawn_app_with(db.clone(), |_| {}).await;
    let b = spawn_app_with(db.clone(), |_| {}).await;
    let policy = a.state.keys.policy().clone();
    let times = [
        T0 + policy.rotation_period - policy.publish_lead,
        T0 + policy.rotation_period,
        T0 + 2 * policy.rotation_period - policy.publish_lead,
        T0 + 2 * policy.rotation_period,
    ];
    for now in times {
        let (ra, rb, rc, rd) = tokio::join!(
            a.state.keys.advance(now),
            b.state.keys.advance(now),
            a.state.keys.advance(now),
            b.state.keys.advance(now),
        );
        for r in [ra, rb, rc, rd] {
            r.unwrap();
        }
        let st = statuses(&a).await;
        assert_eq!(
            st.iter().filter(|(_, s)| s == "active").count(),
            1,
            "{st:?}"
        );
        assert!(
            st.iter().filter(|(_, s)| s == "pending").count() <= 1,
            "{st:?}"
        );
    }
    // Forced rotations racing each other.
    let now = T0 + 2 * policy.rotation_period + 10;
    let (ra, rb) = tokio::join!(
        a.state.keys.rotate(now, true),
        b.state.keys.rotate(now, true)
    );
    assert!(ra.is_ok() || rb.is_ok(), "{ra:?} {rb:?}");
    let st = statuses(&a).await;
    assert_eq!(
        st.iter().filter(|(_, s)| s == "active").count(),
        1,
        "{st:?}"
    );
    assert!(
        st.iter().filter(|(_, s)| s == "pending").count() <= 1,
        "{st:?}"
    );

    // And the database itself refuses a second active key.
    let dup = a
        .state
        .store
        .run(|conn| {
            let row: portcullis::store::models::keys::SigningKeyRow = signing_keys::table
                .filter(signing_keys::status.eq("active"))
                .select(portcullis::store::models::keys::SigningKeyRow::as_select())
                .first(conn)?;
            let mut copy = row.clone();
            copy.kid = "second-active".into();
            portcullis::store::models::keys::insert(conn, &copy)
        })
        .await;
    assert!(
        matches!(dup, Err(portcullis::store::StoreError::Conflict)),
        "{dup:?}"
    );

    // A key created on one replica is found by the other through the unknown-kid reload.
    let token = a
        .state
        .keys
        .sign("at+jwt", &claims(&a, now, now + 3600))
        .unwrap();
    b.state.keys.reload(now - 100).await.unwrap();
    let v: Result<Value, _> = b.state.keys.verify(&token, &expected(&a, now + 1)).await;
    assert!(v.is_ok(), "{v:?}");
}

/// `30 82 xx xx 02 01 00 30 0d 06 09 2a 86 48 86 f7 0d 01 01 01`: the start of an
/// RSA PKCS#8 PrivateKeyInfo; `02 01 00 02 82 01 01 00`: RSAPrivateKey's version and
/// a 2048-bit modulus.
fn contains_private_key_der(haystack: &[u8]) -> bool {
    const PKCS8_TAIL: [u8; 16] = [
        0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
        0x01,
    ];
    const RSA_PRIV: [u8; 8] = [0x02, 0x01, 0x00, 0x02, 0x82, 0x01, 0x01, 0x00];
    haystack
        .windows(20)
        .any(|w| w[0] == 0x30 && w[1] == 0x82 && w[4..] == PKCS8_TAIL)
        || haystack.windows(RSA_PRIV.len()).any(|w| w == RSA_PRIV)
}

#[tokio::test]
async fn no_plaintext_private_key_is_stored() {
    // The detector finds a real key, so a negative below means something.
    let der = key_material::generate_rsa_private_key(2048).unwrap();
    assert!(contains_private_key_der(der.as_bytes()));

    let app = spawn_app().await;
    app.state.keys.rotate(T0, false).await.unwrap(); // a pending key too
    let sealed: Vec<Vec<u8>> = app
        .state
        .store
        .run(|conn| {
            Ok(signing_keys::table
                .select(signing_keys::sealed_private_key)
                .load(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(sealed.len(), 2);
    for blob in &sealed {
        assert!(!contains_private_key_der(blob));
    }
    if let Some(path) = app.db.sqlite_path() {
        for file in [path.clone(), path.with_extension("db-wal")] {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(!contains_private_key_der(&bytes), "{}", file.display());
        }
    }
}

async fn build_with_master(db: &Arc<TestDb>, master: &str) -> Result<Application, String> {
    let public = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = public.local_addr().unwrap().port();
    let mut config = test_config(db, port);
    config.keys.master_keys = crate::helpers::master_keys(master);
    Application::build_with_listeners(config, Arc::new(FixedClock::new(T0)), public, admin)
        .await
        .map_err(|e| e.to_string())
}

async fn sealed_rows(db: &Arc<TestDb>) -> Vec<(String, Vec<u8>)> {
    let app = spawn_app_with(db.clone(), |_| {}).await;
    app.state
        .store
        .run(|conn| {
            Ok(signing_keys::table
                .select((signing_keys::kid, signing_keys::sealed_private_key))
                .order(signing_keys::kid.asc())
                .load(conn)?)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_wrong_master_key_is_a_clear_error_that_destroys_nothing() {
    let db = Arc::new(TestDb::new());
    let before = sealed_rows(&db).await;
    assert_eq!(before.len(), 1);
    let wrong = MasterKey::generate().unwrap();
    let err = match build_with_master(&db, &wrong.to_base64()).await {
        Ok(_) => panic!("started with the wrong master key"),
        Err(e) => e,
    };
    assert!(err.contains(&before[0].0), "names the key: {err}");
    assert!(err.contains("master key"), "{err}");
    assert!(
        !err.contains(wrong.to_base64().as_str()),
        "never echoes the key"
    );
    assert_eq!(sealed_rows(&db).await, before, "nothing changed");
}

#[tokio::test]
async fn rewrap_moves_every_key_to_the_new_master_key() {
    let db = Arc::new(TestDb::new());
    let app = spawn_app_with(db.clone(), |_| {}).await;
    app.state.keys.rotate(T0, false).await.unwrap();
    let old = MasterKey::from_base64(&db.master_key).unwrap();
    let new = MasterKey::generate().unwrap();
    let new_b64 = new.to_base64().to_string();
    let both =
        Arc::new(MasterKeys::new(vec![MasterKey::from_base64(&new_b64).unwrap(), old]).unwrap());
    let policy = app.state.keys.policy().clone();
    let ks = KeyStore::open(app.state.store.clone(), both, policy.clone(), T0)
        .await
        .unwrap();
    assert_eq!(ks.rewrap(T0).await.unwrap(), 2);
    assert_eq!(ks.rewrap(T0).await.unwrap(), 0, "idempotent");
    // Now the new key alone opens everything, and the old alone does not.
    let only_new = Arc::new(MasterKeys::from(MasterKey::from_base64(&new_b64).unwrap()));
    KeyStore::open(app.state.store.clone(), only_new, policy.clone(), T0)
        .await
        .unwrap();
    let only_old = Arc::new(MasterKeys::from(
        MasterKey::from_base64(&db.master_key).unwrap(),
    ));
    assert!(
        KeyStore::open(app.state.store.clone(), only_old, policy, T0)
            .await
            .is_err()
    );
    assert_eq!(app.audit_count(Some("key.rewrapped")).await, 2);
}

#[tokio::test]
async fn jwks_is_cacheable_and_verifies_with_an_independent_library() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(format!("{}/jwks.json", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "public, max-age=900");
    assert_eq!(r.headers()["content-type"], "application/jwk-set+json");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    let jwk = &body["keys"][0];
    let mut fields: Vec<&str> = jwk
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    assert_eq!(fields, vec!["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["alg"], "RS256");

    // Revalidation.
    let r = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.public))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // jsonwebtoken, knowing nothing of our code, verifies our token with our JWKS.
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(body).unwrap();
    let token = app
        .state
        .keys
        .sign("at+jwt", &claims(&app, T0, T0 + 3600))
        .unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["api"]);
    validation.set_issuer(&[app.state.config.issuer.as_str()]);
    let data = jsonwebtoken::decode::<Value>(&token, &key, &validation).unwrap();
    assert_eq!(data.claims["sub"], "user-1");
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let app = spawn_app().await;
    let good = app
        .state
        .keys
        .sign("at+jwt", &claims(&app, T0, T0 + 3600))
        .unwrap();
    let kid = header_kid(&good);
    let payload = good.split('.').nth(1).unwrap().to_owned();
    let forge = |header: Value, sig: &str| {
        format!(
            "{}.{payload}.{sig}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap())
        )
    };
    let sig = good.split('.').nth(2).unwrap();
    let cases = [
        forge(json!({"alg": "none", "typ": "at+jwt", "kid": kid}), ""),
        forge(json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}), sig),
        forge(json!({"alg": "RS256", "typ": "at+jwt", "kid": "nope"}), sig),
        forge(
            json!({"alg": "RS256", "typ": "at+jwt", "kid": kid, "jku": "https://evil.example/jwks"}),
            sig,
        ),
        forge(
            json!({"alg": "RS256", "typ": "at+jwt", "kid": kid, "x5u": "https://evil.example/c"}),
            sig,
        ),
        forge(
            json!({"alg": "RS256", "typ": "at+jwt", "kid": kid, "jwk": {"kty": "RSA"}}),
            sig,
        ),
        forge(json!({"alg": "RS256", "typ": "JWT", "kid": kid}), sig),
    ];
    for forged in cases {
        let r: Result<Value, _> = app
            .state
            .keys
            .verify(&forged, &expected(&app, T0 + 1))
            .await;
        assert!(r.is_err(), "accepted {forged}");
    }
    let ok: Result<Value, _> = app.state.keys.verify(&good, &expected(&app, T0 + 1)).await;
    assert!(ok.is_ok());
    // An ID token (typ JWT) is not an access token.
    let id_token = app
        .state
        .keys
        .sign("JWT", &claims(&app, T0, T0 + 3600))
        .unwrap();
    let r: Result<Value, _> = app
        .state
        .keys
        .verify(&id_token, &expected(&app, T0 + 1))
        .await;
    assert!(matches!(r, Err(JwtError::WrongType { .. })), "{r:?}");
}

#[tokio::test]
async fn discovery_documents_advertise_only_what_works() {
    let app = spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.public))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("etag"));
        let doc: Value = r.json().await.unwrap();
        let i = &app.public;
        assert_eq!(
            doc,
            json!({
                "issuer": i,
                "authorization_endpoint": format!("{i}/authorize"),
                "token_endpoint": format!("{i}/token"),
                "userinfo_endpoint": format!("{i}/userinfo"),
                "end_session_endpoint": format!("{i}/logout"),
                "introspection_endpoint": format!("{i}/introspect"),
                "revocation_endpoint": format!("{i}/revoke"),
                "jwks_uri": format!("{i}/jwks.json"),
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "claims_supported": [
                    "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp",
                    "sid", "amr",
                    "acr", "name", "preferred_username", "email", "email_verified"
                ],
                "response_types_supported": ["code"],
                "response_modes_supported": ["query"],
                "grant_types_supported": [
                    "authorization_code", "client_credentials", "password", "refresh_token"
                ],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic", "client_secret_post", "none"
                ],
                "introspection_endpoint_auth_methods_supported": [
                    "client_secret_basic", "client_secret_post"
                ],
                "revocation_endpoint_auth_methods_supported": [
                    "client_secret_basic", "client_secret_post", "none"
                ],
                "id_token_signing_alg_values_supported": ["RS256"],
                "subject_types_supported": ["public"],
                "prompt_values_supported": ["none", "login", "consent", "select_account"],
                "acr_values_supported": ["urn:portcullis:acr:1fa", "urn:portcullis:acr:mfa", "phr"],
                "authorization_response_iss_parameter_supported": true,
                "claims_parameter_supported": false,
                "request_parameter_supported": false,
                "request_uri_parameter_supported": false,
            })
        );
    }
}

/// The key gauges are timestamps, so an alert compares them with `time()`.
#[tokio::test]
async fn key_metrics_are_exported() {
    let app = spawn_app().await;
    let text = app.get_admin("/metrics").await.text().await.unwrap();
    let policy = app.state.keys.policy();
    let set = app.state.keys.current();
    let active = set.keys().iter().find(|k| k.status == "active").unwrap();
    let since = active.activated_at.unwrap_or(active.created_at);
    assert!(
        text.contains(&format!(
            "portcullis_signing_key_activated_timestamp_seconds {since}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "portcullis_signing_key_next_rotation_timestamp_seconds {}",
            since + policy.rotation_period
        )),
        "{text}"
    );
    assert!(
        text.contains("portcullis_key_maintenance_failures_total 0"),
        "{text}"
    );
}

#[tokio::test]
async fn a_dev_master_key_is_generated_for_a_loopback_issuer() {
    let db = Arc::new(TestDb::new());
    let path = db.dir.path().join("keys").join("master.key");
    let p = path.clone();
    let app = spawn_app_with(db.clone(), move |c| {
        c.keys.master_keys = portcullis::config::MasterKeySource::DevFile(p);
    })
    .await;
    assert!(path.is_file());
    assert!(app.state.keys.current().active_kid().is_some());
}
