//! RFC 7662 introspection and RFC 7009 revocation: every `active: false` case, revocation
//! reaching access tokens, replicas agreeing through the database, the janitor keeping
//! tables bounded, and (on Postgres) a database outage answered 503 and recovered from.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::config::Config;
use portcullis::manage::Actor;
use portcullis::manage::clients::ClientUpdate;
use portcullis::store::models::revocation::{self, StandingQuery};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, T0, TestApp, TestClient, TestDb, TestUser, access_token, eventually, post_with_basic,
    refresh_token, skip_unless, spawn_app_with,
};

/// A confidential client allowed `api.read` and `offline_access`.
async fn client(app: &TestApp, id: &str, grants: &[&str], roles: &[&str]) -> TestClient {
    app.confidential_client(id)
        .grants(grants)
        .scope("api.read offline_access")
        .roles(roles)
        .await
}

/// The introspection answer, checking the status and the no-store header on the way.
async fn introspect(app: &TestApp, caller: (&str, &str), token: &str) -> Value {
    let r = post_with_basic(app, "/introspect", &[("token", token)], caller).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

struct Setup {
    app: TestApp,
    rs: TestClient,
    svc: TestClient,
    web: TestClient,
    alice: TestUser,
    user_id: String,
}

impl Setup {
    fn rs(&self) -> (&str, &str) {
        self.rs.basic()
    }
    fn svc(&self) -> (&str, &str) {
        self.svc.basic()
    }
    fn web(&self) -> (&str, &str) {
        self.web.basic()
    }
}

/// `rs` may introspect; `svc` gets client_credentials tokens; `web` gets password and
/// refresh tokens for `alice`.
async fn setup_on(db: Arc<TestDb>) -> Setup {
    setup_with(db, |_| {}).await
}

async fn setup_with(db: Arc<TestDb>, tweak: impl FnOnce(&mut Config)) -> Setup {
    let app = spawn_app_with(db, tweak).await;
    let rs = client(&app, "rs", &["client_credentials"], &["introspector"]).await;
    let svc = client(&app, "svc", &["client_credentials"], &[]).await;
    let web = client(
        &app,
        "web",
        &["password", "refresh_token"],
        &["introspector"],
    )
    .await;
    let alice = app.user("alice").await;
    let user_id = alice.id.clone();
    Setup {
        app,
        rs,
        svc,
        web,
        alice,
        user_id,
    }
}

async fn setup() -> Setup {
    setup_on(Arc::new(TestDb::new())).await
}

async fn cc_token(s: &Setup) -> String {
    s.app.cc_token(&s.svc, Some("api.read")).await
}

/// (access token, refresh token) for alice through `web`.
async fn user_tokens(s: &Setup) -> (String, String) {
    let t = s
        .app
        .password_tokens(&s.web, &s.alice, Some("api.read offline_access"))
        .await;
    (access_token(&t), refresh_token(&t))
}

fn inactive() -> Value {
    json!({ "active": false })
}

#[tokio::test]
async fn live_tokens_are_active_with_their_claims() {
    let s = setup().await;
    let issuer = s.app.state.config.issuer.as_str().to_owned();

    let at = cc_token(&s).await;
    let v = introspect(&s.app, s.rs(), &at).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], "svc");
    assert_eq!(v["sub"], "client:svc");
    assert_eq!(v["scope"], "api.read");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["iss"], issuer.as_str());
    assert_eq!(v["aud"], issuer.as_str());
    assert_eq!(v["iat"], T0);
    assert_eq!(v["nbf"], T0);
    assert_eq!(
        v["exp"],
        T0 + s.app.state.config.tokens.access_token_lifetime
    );
    assert!(v["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert!(
        v.get("username").is_none(),
        "a service token has no username"
    );

    let (at, rt) = user_tokens(&s).await;
    let v = introspect(&s.app, s.rs(), &at).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["username"], "alice");
    assert_eq!(v["sub"], s.user_id.as_str());
    assert_eq!(v["client_id"], "web");

    // A refresh token: visible to its own client.
    let v = introspect(&s.app, s.web(), &rt).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["token_type"], "refresh_token");
    assert_eq!(v["client_id"], "web");
    assert_eq!(v["username"], "alice");
    assert_eq!(v["scope"], "api.read offline_access");
    // The hint is only a hint: a wrong one changes nothing.
    let r = post_with_basic(
        &s.app,
        "/introspect",
        &[("token", at.as_str()), ("token_type_hint", "refresh_token")],
        s.rs(),
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["active"], true);
}

#[tokio::test]
async fn refresh_tokens_are_shown_only_to_their_client_or_a_privileged_caller() {
    let s = setup().await;
    let (_, rt) = user_tokens(&s).await;
    assert_eq!(introspect(&s.app, s.rs(), &rt).await, inactive());
    let wide = client(
        &s.app,
        "gateway",
        &["client_credentials"],
        &["introspector", "refresh_introspector"],
    )
    .await;
    assert_eq!(introspect(&s.app, wide.basic(), &rt).await["active"], true);
}

#[tokio::test]
async fn anything_but_a_live_token_is_exactly_inactive() {
    let s = setup().await;
    let keys = &s.app.state.keys;
    let at = cc_token(&s).await;
    let (user_at, rt) = user_tokens(&s).await;

    // Malformed, unknown, empty-ish and forged.
    let mut forged = at.clone();
    forged.pop();
    forged.push(if at.ends_with('A') { 'B' } else { 'A' });
    let mut header_swapped: Vec<&str> = at.split('.').collect();
    let other = cc_token(&s).await;
    header_swapped[1] = other.split('.').nth(1).unwrap();
    let unsigned = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.{}.",
        at.split('.').nth(1).unwrap()
    );
    for bad in [
        "x",
        "not.a.jwt",
        "pcr_unknownrefreshtoken",
        forged.as_str(),
        unsigned.as_str(),
        &header_swapped.join("."),
    ] {
        assert_eq!(introspect(&s.app, s.rs(), bad).await, inactive(), "{bad}");
    }

    // Signed by our key but not an access token of ours: another issuer, an ID token.
    let mut claims: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            at.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let genuine = keys.sign("at+jwt", &claims).unwrap();
    assert_eq!(introspect(&s.app, s.rs(), &genuine).await["active"], true);
    claims["iss"] = json!("https://elsewhere.example.com");
    let foreign = keys.sign("at+jwt", &claims).unwrap();
    assert_eq!(introspect(&s.app, s.rs(), &foreign).await, inactive());
    claims["iss"] = json!(s.app.state.config.issuer.as_str());
    let id_token = keys.sign("JWT", &claims).unwrap();
    assert_eq!(introspect(&s.app, s.rs(), &id_token).await, inactive());

    // Expired (past exp and the tolerated clock skew).
    let lifetime = s.app.state.config.tokens.access_token_lifetime;
    let skew = s.app.state.config.tokens.clock_skew;
    s.app.clock.advance(lifetime + skew + 1);
    assert_eq!(introspect(&s.app, s.rs(), &at).await, inactive());
    s.app.clock.set(T0);
    assert_eq!(introspect(&s.app, s.rs(), &at).await["active"], true);

    // A disabled client's tokens, until it is enabled again.
    let disable = |on: bool| ClientUpdate {
        disabled: Some(on),
        ..Default::default()
    };
    let service = &s.app.state.service;
    service
        .update_client(&Actor::cli(), "svc", disable(true))
        .await
        .unwrap();
    assert_eq!(introspect(&s.app, s.rs(), &at).await, inactive());
    service
        .update_client(&Actor::cli(), "svc", disable(false))
        .await
        .unwrap();
    assert_eq!(introspect(&s.app, s.rs(), &at).await["active"], true);

    // A disabled user's tokens, access and refresh alike.
    service
        .set_user_disabled(&Actor::cli(), "alice", true)
        .await
        .unwrap();
    assert_eq!(introspect(&s.app, s.rs(), &user_at).await, inactive());
    assert_eq!(introspect(&s.app, s.web(), &rt).await, inactive());
}

#[tokio::test]
async fn callers_must_authenticate_and_hold_the_introspector_role() {
    let s = setup().await;
    let at = cc_token(&s).await;
    let r = s
        .app
        .http
        .post(format!("{}/introspect", s.app.public))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = post_with_basic(&s.app, "/introspect", &[("token", &at)], ("rs", "wrong")).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    // Authenticated, but not a resource server.
    let r = post_with_basic(&s.app, "/introspect", &[("token", &at)], s.svc()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    // No token; not a form.
    let r = post_with_basic(&s.app, "/introspect", &[], s.rs()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let r = s
        .app
        .http
        .post(format!("{}/introspect", s.app.public))
        .basic_auth("rs", Some(s.rs.secret()))
        .json(&json!({ "token": at }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
}

#[tokio::test]
async fn revoking_an_access_token_reaches_every_endpoint() {
    let s = setup().await;
    let (at, rt) = user_tokens(&s).await;
    // Another client cannot revoke it, and learns nothing it did not know.
    let r = post_with_basic(&s.app, "/revoke", &[("token", &at)], s.svc()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    assert_eq!(introspect(&s.app, s.rs(), &at).await["active"], true);

    let r = post_with_basic(&s.app, "/revoke", &[("token", &at)], s.web()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(introspect(&s.app, s.rs(), &at).await, inactive());
    let r = s
        .app
        .http
        .get(format!("{}/userinfo", s.app.public))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Revoking again, or revoking garbage: 200 (RFC 7009 section 2.2).
    for t in [at.as_str(), "garbage", "pcr_unknown"] {
        let r = post_with_basic(&s.app, "/revoke", &[("token", t)], s.web()).await;
        assert_eq!(r.status(), 200, "{t}");
    }
    // The access token only: the refresh token still works.
    assert_eq!(introspect(&s.app, s.web(), &rt).await["active"], true);
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_family_and_its_access_tokens() {
    let s = setup().await;
    let (at1, rt1) = user_tokens(&s).await;
    let t = s
        .app
        .tokens(
            &s.web,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt1)],
        )
        .await;
    let (at2, rt2) = (access_token(&t), refresh_token(&t));
    assert_eq!(introspect(&s.app, s.rs(), &at2).await["active"], true);
    // Only the owner may revoke it.
    let other = client(&s.app, "other", &["password", "refresh_token"], &[]).await;
    let r = post_with_basic(&s.app, "/revoke", &[("token", &rt2)], other.basic()).await;
    assert_eq!(r.status(), 400);

    let r = post_with_basic(
        &s.app,
        "/revoke",
        &[
            ("token", rt2.as_str()),
            ("token_type_hint", "refresh_token"),
        ],
        s.web(),
    )
    .await;
    assert_eq!(r.status(), 200);
    for t in [&at1, &at2] {
        assert_eq!(introspect(&s.app, s.rs(), t).await, inactive());
    }
    assert_eq!(introspect(&s.app, s.web(), &rt2).await, inactive());
    let r = post_with_basic(
        &s.app,
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", &rt2)],
        s.web(),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn no_introspection_after_a_revocation_says_active() {
    no_active_answer_after_revoking(setup().await).await;
}

/// With the memo on, a revocation through the same replica still ends every remembered
/// answer before `/revoke` answers, however the calls interleave.
#[tokio::test]
async fn no_remembered_answer_survives_a_revocation_on_the_same_replica() {
    let s = setup_with(Arc::new(TestDb::new()), |c| {
        c.tokens.introspection_cache = Duration::from_secs(60);
    })
    .await;
    no_active_answer_after_revoking(s).await;
}

async fn no_active_answer_after_revoking(s: Setup) {
    for _ in 0..10 {
        let at = cc_token(&s).await;
        // Known active first: with the memo on, that answer is now remembered.
        assert_eq!(introspect(&s.app, s.rs(), &at).await["active"], true);
        let racing: Vec<_> = (0..4).map(|_| introspect(&s.app, s.rs(), &at)).collect();
        let form = [("token", at.as_str())];
        let (revoked, answers) = tokio::join!(
            post_with_basic(&s.app, "/revoke", &form, s.svc()),
            futures_util::future::join_all(racing)
        );
        assert_eq!(revoked.status(), 200);
        // Racing answers may be either; each is well-formed.
        for a in answers {
            assert!(a == inactive() || a["active"] == true, "{a}");
        }
        // Everything that starts after the revocation answered sees it.
        let after: Vec<_> = (0..4).map(|_| introspect(&s.app, s.rs(), &at)).collect();
        for a in futures_util::future::join_all(after).await {
            assert_eq!(a, inactive());
        }
    }
}

#[tokio::test]
async fn replicas_on_one_database_agree_at_once() {
    let db = Arc::new(TestDb::new());
    let s = setup_on(Arc::clone(&db)).await;
    // Replicas behind one load balancer share the issuer.
    let issuer = s.app.state.config.issuer.clone();
    let b = spawn_app_with(db, move |c| c.issuer = issuer).await;
    let (at, rt) = user_tokens(&s).await;
    let cc = cc_token(&s).await;
    // Issued on A, introspected on B.
    let on_b = introspect(&b, s.rs(), &at).await;
    assert_eq!(on_b["active"], true);
    // Revoked on B, introspected on A at once.
    assert_eq!(
        post_with_basic(&b, "/revoke", &[("token", &cc)], s.svc())
            .await
            .status(),
        200
    );
    assert_eq!(introspect(&s.app, s.rs(), &cc).await, inactive());
    assert_eq!(
        post_with_basic(&b, "/revoke", &[("token", &rt)], s.web())
            .await
            .status(),
        200
    );
    assert_eq!(introspect(&s.app, s.rs(), &at).await, inactive());
    assert_eq!(introspect(&s.app, s.web(), &rt).await, inactive());
}

/// Waits until the replica holds its lease (Postgres; it renews in the background).
async fn until_leased(app: &TestApp) {
    eventually("the replica's first lease", async || {
        app.state.store.holds_lease(Instant::now()).then_some(())
    })
    .await;
}

fn remembered(app: &TestApp) -> u64 {
    app.state
        .metrics
        .standings
        .with_label_values(&["remembered"])
        .get()
}

/// Introspects twice on `app` and checks that the second answer came from memory.
async fn active_from_memory(s: &Setup, app: &TestApp, token: &str) {
    assert_eq!(introspect(app, s.rs(), token).await["active"], true);
    let before = remembered(app);
    assert_eq!(introspect(app, s.rs(), token).await["active"], true);
    assert_eq!(remembered(app), before + 1, "answered from memory");
}

async fn sql(app: &TestApp, statement: impl Into<String>) {
    use diesel::connection::SimpleConnection;
    let statement = statement.into();
    app.state
        .store
        .run(move |conn| Ok(conn.batch_execute(&statement)?))
        .await
        .unwrap();
}

/// A lease row nobody renews, claiming `epoch` applied, good for `ms_left` more.
async fn fake_lease(app: &TestApp, id: &str, epoch: u64, ms_left: u64) {
    sql(
        app,
        format!(
            "INSERT INTO replica_leases (id, epoch, expires_at_ms) VALUES ('{id}', {epoch}, \
             (extract(epoch from clock_timestamp()) * 1000)::bigint + {ms_left})"
        ),
    )
    .await;
}

/// One number from the database, by a query of the test's own.
async fn sql_i64(app: &TestApp, query: &'static str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Number {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    app.state
        .store
        .run(move |conn| {
            use diesel::RunQueryDsl;
            Ok(diesel::sql_query(query).get_result::<Number>(conn)?.n)
        })
        .await
        .unwrap()
}

/// The database's clock, in Unix milliseconds: lease expiries are counted on it.
async fn db_now_ms(app: &TestApp) -> i64 {
    sql_i64(
        app,
        "SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS n",
    )
    .await
}

/// A setup whose replica holds its lease; `None` on SQLite, which holds none.
async fn leased_on_postgres() -> Option<Setup> {
    let db = Arc::new(TestDb::new());
    if !skip_unless(&db, Backend::Postgres, "SQLite holds no replica lease") {
        return None;
    }
    let s = setup_on(db).await;
    until_leased(&s.app).await;
    Some(s)
}

/// The default on Postgres (`tokens.replica_lease_ms`): a replica answers from memory
/// while it holds its lease, yet every revocation, wherever it is made, is seen by every
/// replica the moment it returns. On SQLite nothing is remembered.
#[tokio::test]
async fn answers_from_memory_never_outlive_a_revocation_on_another_replica() {
    let db = Arc::new(TestDb::new());
    let s = setup_on(Arc::clone(&db)).await;
    if !db.is_postgres() {
        assert!(!s.app.state.store.uses_lease(), "SQLite holds no lease");
        let t = cc_token(&s).await;
        for _ in 0..3 {
            assert_eq!(introspect(&s.app, s.rs(), &t).await["active"], true);
        }
        assert_eq!(
            remembered(&s.app),
            0,
            "SQLite reads the database every time"
        );
        return;
    }
    let issuer = s.app.state.config.issuer.clone();
    let b = spawn_app_with(db, move |c| c.issuer = issuer).await;
    until_leased(&s.app).await;
    until_leased(&b).await;

    // An access token revoked on B.
    let t = cc_token(&s).await;
    active_from_memory(&s, &s.app, &t).await;
    let r = post_with_basic(&b, "/revoke", &[("token", &t)], s.svc()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(introspect(&s.app, s.rs(), &t).await, inactive());

    // The user disabled through B's management service, then enabled again.
    let (at, _) = user_tokens(&s).await;
    active_from_memory(&s, &s.app, &at).await;
    b.state
        .service
        .set_user_disabled(&Actor::cli(), "alice", true)
        .await
        .unwrap();
    assert_eq!(introspect(&s.app, s.rs(), &at).await, inactive());
    b.state
        .service
        .set_user_disabled(&Actor::cli(), "alice", false)
        .await
        .unwrap();
    // Disabling signed her out everywhere: enabled again, her old token stays dead.
    assert_eq!(introspect(&s.app, s.rs(), &at).await, inactive());
    let (at, rt) = user_tokens(&s).await;
    active_from_memory(&s, &s.app, &at).await;

    // The refresh token's family revoked on B reaches the access token on A.
    let r = post_with_basic(&b, "/revoke", &[("token", &rt)], s.web()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(introspect(&s.app, s.rs(), &at).await, inactive());

    // The client disabled on B.
    let t = cc_token(&s).await;
    active_from_memory(&s, &s.app, &t).await;
    b.state
        .service
        .update_client(
            &Actor::cli(),
            "svc",
            ClientUpdate {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(introspect(&s.app, s.rs(), &t).await, inactive());
}

/// Changes made straight in SQL bump the epoch too (triggers); nobody waits for them, so
/// they are seen at the replica's next renewal of its lease. The test checks that in the
/// replica's own terms rather than against a stopwatch: once its lease row says it has
/// applied the epoch of the change, it never answers `active` again. How long that took
/// is printed, not asserted: a busy machine can delay a renewal, never skip its effect.
#[tokio::test]
async fn an_operators_sql_is_seen_within_one_renewal() {
    let Some(s) = leased_on_postgres().await else {
        return;
    };
    let t = cc_token(&s).await;
    active_from_memory(&s, &s.app, &t).await;
    let changed = Instant::now();
    sql(
        &s.app,
        "UPDATE clients SET disabled = true WHERE client_id = 'svc'",
    )
    .await;
    let change_epoch = sql_i64(
        &s.app,
        "SELECT epoch AS n FROM revocation_epoch WHERE id = 1",
    )
    .await;
    eventually("the operator's change to reach introspection", async || {
        // Read before asking: an acknowledgement seen here was written before the answer.
        let applied = sql_i64(&s.app, "SELECT MAX(epoch) AS n FROM replica_leases").await;
        let answer = introspect(&s.app, s.rs(), &t).await;
        if answer == inactive() {
            return Some(());
        }
        assert_eq!(answer["active"], true);
        assert!(
            applied < change_epoch,
            "active after the replica acknowledged epoch {change_epoch} in its lease"
        );
        None
    })
    .await;
    eprintln!(
        "an operator's SQL was seen after {:?} (one renewal is a quarter of the lease)",
        changed.elapsed()
    );
}

/// A replica that stops renewing (here, a lease row nobody renews) holds a revocation up
/// for as long as its lease lasts by the database's clock, and not longer; one that has
/// applied the epoch already holds nothing up. Both are checked on the database's clock,
/// which is the one leases are counted on, so a slow test machine cannot fake either.
#[tokio::test]
async fn a_silent_replica_delays_a_revocation_no_longer_than_its_lease() {
    let Some(s) = leased_on_postgres().await else {
        return;
    };
    // Caught up, with a minute of lease left: no wait, so the revocation returns long
    // before that lease could run out.
    fake_lease(&s.app, "caught-up", 1_000_000, 60_000).await;
    let caught_up_until = sql_i64(
        &s.app,
        "SELECT expires_at_ms AS n FROM replica_leases WHERE id = 'caught-up'",
    )
    .await;
    let t = cc_token(&s).await;
    let r = post_with_basic(&s.app, "/revoke", &[("token", &t)], s.svc()).await;
    assert_eq!(r.status(), 200);
    let returned = db_now_ms(&s.app).await;
    assert!(
        returned < caught_up_until - 30_000,
        "a caught-up replica held the revocation up: returned {} ms before its lease ended",
        caught_up_until - returned
    );

    // Silent, with 1.5 s of lease left: the revocation waits until that lease has run
    // out by the database's clock, and answers soon after.
    fake_lease(&s.app, "silent", 0, 1500).await;
    let silent_until = sql_i64(
        &s.app,
        "SELECT expires_at_ms AS n FROM replica_leases WHERE id = 'silent'",
    )
    .await;
    let t = cc_token(&s).await;
    let started = Instant::now();
    let r = post_with_basic(&s.app, "/revoke", &[("token", &t)], s.svc()).await;
    let waited = started.elapsed();
    assert_eq!(r.status(), 200);
    let returned = db_now_ms(&s.app).await;
    assert!(
        returned >= silent_until,
        "answered {} ms before the silent replica's lease ran out",
        silent_until - returned
    );
    // Not longer: well within the ten seconds a loaded machine may add to one request.
    assert!(
        returned - silent_until < 10_000,
        "held up {} ms past the lease",
        returned - silent_until
    );
    eprintln!("a silent replica held a revocation up for {waited:?}");
    assert_eq!(introspect(&s.app, s.rs(), &t).await, inactive());
}

/// The opt-in memo (`tokens.introspection_cache_ms`): revocations through the same replica
/// are seen at once; another replica's are seen within the bound, never later. The bound
/// is checked from the client's side, which can only make it look longer than it is.
#[tokio::test]
async fn remembered_standings_hide_another_replicas_revocation_no_longer_than_the_bound() {
    const BOUND: Duration = Duration::from_millis(1500);
    let db = Arc::new(TestDb::new());
    let s = setup_with(Arc::clone(&db), |c| c.tokens.introspection_cache = BOUND).await;
    let issuer = s.app.state.config.issuer.clone();
    let b = spawn_app_with(db, move |c| c.issuer = issuer).await;
    let standings = |app: &TestApp| {
        let app = app.state.metrics.clone();
        move |source: &str| app.standings.with_label_values(&[source]).get()
    };
    let on_a = standings(&s.app);

    // Same replica: a remembered answer is used, and a revocation here ends it at once.
    let (t1, t2) = (cc_token(&s).await, cc_token(&s).await);
    for t in [&t1, &t2, &t1, &t2] {
        assert_eq!(introspect(&s.app, s.rs(), t).await["active"], true);
    }
    assert_eq!(on_a("remembered"), 2);
    let r = post_with_basic(&s.app, "/revoke", &[("token", &t1)], s.svc()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(introspect(&s.app, s.rs(), &t1).await, inactive());
    assert_eq!(introspect(&s.app, s.rs(), &t2).await["active"], true);
    // Disabling the user through this replica's management service, too.
    let (at, _) = user_tokens(&s).await;
    assert_eq!(introspect(&s.app, s.rs(), &at).await["active"], true);
    s.app
        .state
        .service
        .set_user_disabled(&Actor::cli(), "alice", true)
        .await
        .unwrap();
    assert_eq!(introspect(&s.app, s.rs(), &at).await, inactive());

    // Another replica: seen within the bound of the remembered query.
    let primed = {
        assert_eq!(introspect(&s.app, s.rs(), &t2).await["active"], true);
        Instant::now()
    };
    let revoked_at = Instant::now();
    let r = post_with_basic(&b, "/revoke", &[("token", &t2)], s.svc()).await;
    assert_eq!(r.status(), 200);
    // Every active answer was asked for before the bound had passed since the remembered
    // query: `primed` is later than the server remembered it and `sent` earlier than the
    // server answered, so load can only make this check stricter on the test, never on
    // the server. It also ends the wait: after the bound, an active answer fails here.
    eventually("another replica's revocation to be seen", async || {
        let sent = Instant::now();
        let answer = introspect(&s.app, s.rs(), &t2).await;
        if answer == inactive() {
            return Some(());
        }
        assert_eq!(answer["active"], true);
        assert!(
            sent < primed + BOUND,
            "active {:?} after the remembered query, bound {BOUND:?}",
            sent - primed
        );
        None
    })
    .await;
    let seen_after = revoked_at.elapsed();
    eprintln!("another replica's revocation was seen after {seen_after:?} (bound {BOUND:?})");
    // The replica without the memo reads the database every time.
    assert_eq!(standings(&b)("remembered"), 0);
    assert_eq!(introspect(&b, s.rs(), &t2).await, inactive());
}

#[tokio::test]
async fn discovery_lists_introspection_and_revocation() {
    let s = setup().await;
    let d: Value = s
        .app
        .http
        .get(format!("{}/.well-known/openid-configuration", s.app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = s.app.state.config.issuer.as_str();
    assert_eq!(d["introspection_endpoint"], format!("{issuer}/introspect"));
    assert_eq!(d["revocation_endpoint"], format!("{issuer}/revoke"));
    assert_eq!(
        d["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        d["revocation_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
}

#[tokio::test]
async fn introspection_is_counted_in_metrics() {
    let s = setup().await;
    let at = cc_token(&s).await;
    introspect(&s.app, s.rs(), &at).await;
    introspect(&s.app, s.rs(), "junk").await;
    let metrics = s.app.get_admin("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("portcullis_introspections_total{result=\"active\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("portcullis_introspections_total{result=\"inactive\"} 1"));
}

/// The claims of one of our JWTs, read without verification (the test knows its source).
fn claims_of(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn standing_query(jwt: &str) -> StandingQuery {
    let c = claims_of(jwt);
    let gid = c["gid"].as_str().map(str::to_owned);
    StandingQuery {
        jti: c["jti"].as_str().unwrap().to_owned(),
        client_id: c["client_id"].as_str().unwrap().to_owned(),
        client_instance: Some(c["client_instance"].as_str().unwrap().to_owned()),
        user_id: gid.as_ref().map(|_| c["sub"].as_str().unwrap().to_owned()),
        grant_id: gid,
    }
}

#[tokio::test]
async fn one_batched_standing_query_agrees_with_one_query_per_token() {
    let s = setup().await;
    let live_cc = cc_token(&s).await;
    let revoked_cc = cc_token(&s).await;
    let (live_at, _) = user_tokens(&s).await;
    let (dead_at, dead_rt) = user_tokens(&s).await;
    for (token, owner) in [(&revoked_cc, s.svc()), (&dead_rt, s.web())] {
        let r = post_with_basic(&s.app, "/revoke", &[("token", token.as_str())], owner).await;
        assert_eq!(r.status(), 200);
    }
    let unknown = StandingQuery {
        jti: "no-such-jti".into(),
        client_id: "no-such-client".into(),
        client_instance: None,
        user_id: Some("no-such-user".into()),
        grant_id: Some("no-such-grant".into()),
    };
    let empty = StandingQuery {
        jti: String::new(),
        client_id: String::new(),
        client_instance: None,
        user_id: None,
        grant_id: None,
    };
    // The same client_id, another registration of it: not this token's client.
    let other_instance = StandingQuery {
        client_instance: Some("another-registration".into()),
        ..standing_query(&live_cc)
    };
    let queries = vec![
        standing_query(&live_cc),
        standing_query(&revoked_cc),
        standing_query(&live_at),
        standing_query(&dead_at),
        unknown,
        standing_query(&live_cc),
        empty,
        other_instance,
    ];
    let asked = queries.clone();
    let batched = s
        .app
        .state
        .store
        .run(move |conn| revocation::token_standings(conn, &asked))
        .await
        .unwrap();
    assert_eq!(batched.len(), queries.len());
    for (q, got) in queries.iter().zip(&batched) {
        let q = q.clone();
        let one = s
            .app
            .state
            .store
            .run(move |conn| {
                revocation::token_standing(
                    conn,
                    &q.jti,
                    &q.client_id,
                    q.client_instance.as_deref(),
                    q.user_id.as_deref(),
                    q.grant_id.as_deref(),
                )
            })
            .await
            .unwrap();
        assert_eq!(got, &one);
    }
    let [
        live,
        revoked,
        user_live,
        user_dead,
        unknown,
        again,
        empty,
        other_instance,
    ] = batched.as_slice()
    else {
        panic!("eight answers expected");
    };
    assert!(!live.jti_revoked && live.client_active && live.username.is_none());
    assert!(revoked.jti_revoked && revoked.client_active);
    assert!(user_live.grant_active && user_live.username.as_deref() == Some("alice"));
    assert!(!user_dead.grant_active && user_dead.client_active && !user_dead.jti_revoked);
    assert!(!unknown.client_active && !unknown.grant_active && unknown.username.is_none());
    assert_eq!(again, live);
    assert!(!empty.jti_revoked && !empty.client_active && !empty.grant_active);
    assert!(!other_instance.client_active && !other_instance.jti_revoked);
}

/// Many tokens, some revoked, introspected all at once: calls that share a batched
/// query each get their own token's answer.
#[tokio::test]
async fn concurrent_introspections_of_different_tokens_keep_their_own_answers() {
    let s = setup().await;
    let mut tokens = Vec::new();
    for i in 0..6 {
        let at = cc_token(&s).await;
        let revoked = i % 3 == 0;
        if revoked {
            let r = post_with_basic(&s.app, "/revoke", &[("token", at.as_str())], s.svc()).await;
            assert_eq!(r.status(), 200);
        }
        tokens.push((at, revoked));
    }
    let (at, _) = user_tokens(&s).await;
    tokens.push((at, false));
    let calls = (0..84).map(|i| {
        let (token, revoked) = &tokens[i % tokens.len()];
        let app = &s.app;
        let rs = s.rs();
        async move { (introspect(app, rs, token).await, *revoked, token) }
    });
    for (answer, revoked, token) in futures_util::future::join_all(calls).await {
        if revoked {
            assert_eq!(answer, inactive());
        } else {
            assert_eq!(answer["active"], true);
            assert_eq!(answer["jti"], claims_of(token)["jti"]);
        }
    }
}
