//! A resource server (an API) that accepts Portcullis access tokens, checked two ways:
//!
//! - `GET /local/hello` validates the JWT itself against the issuer's published keys
//!   (RFC 9068): no call to Portcullis per request, but a revoked token keeps working
//!   until its `exp`.
//! - `GET /introspected/hello` asks Portcullis about every token (RFC 7662): sees
//!   revocation at once, at the price of a round trip per request and of failing closed
//!   (503) whenever Portcullis cannot answer.
//!
//! Errors follow RFC 6750: `401` with `WWW-Authenticate: Bearer ... error="invalid_token"`,
//! `403` with `error="insufficient_scope"`. A token for another audience (another API, or
//! none: the issuer) is `invalid_token` too: it was never meant for us.
//!
//! Clients that know nothing but this API's URL (MCP clients, say) find out where to get
//! a token from its protected resource metadata (RFC 9728): every challenge carries
//! `resource_metadata="<url>"`, and that URL (`/.well-known/oauth-protected-resource`,
//! followed by the resource's path if it has one) names the resource and Portcullis as
//! its authorization server.
//!
//! ```sh
//! PORTCULLIS_ISSUER=http://127.0.0.1:8080 RS_AUDIENCE=http://127.0.0.1:8090/ \
//! RS_REQUIRED_SCOPE=api.read RS_CLIENT_ID=orders-api RS_CLIENT_SECRET=pcs_... \
//!     cargo run --example resource_server
//! ```
//!
//! `RS_BIND` defaults to `127.0.0.1:8090`, `RS_AUDIENCE` to `http://` + `RS_BIND` + `/` and
//! `RS_REQUIRED_SCOPE` to `api.read`. Without `RS_CLIENT_ID`/`RS_CLIENT_SECRET` the
//! introspection route answers 503.
//!
//! Everything except `main` is reusable: build a [`ResourceServer`] with
//! [`ResourceServer::discover`], then mount it with [`configure`] or run it with [`serve`].

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::{Context, bail};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::RwLock;

/// Names this API in `WWW-Authenticate` challenges (RFC 6750 section 3).
const REALM: &str = "example-api";
/// Tolerated clock difference between Portcullis and this server, for `exp` and `nbf`.
const LEEWAY_SECS: i64 = 30;
/// An unknown `kid` refetches the JWKS at most this often. Portcullis publishes a new key
/// well before it signs with it, so a `kid` still unknown after one refetch is almost
/// surely forged; without the limit anyone could make us hammer the issuer by sending
/// tokens with random `kid`s.
const JWKS_REFETCH_INTERVAL_SECS: i64 = 60;
/// Refetch the JWKS after this long even without an unknown `kid`, so a key Portcullis
/// withdrew (retired early, e.g. after a compromise) stops being trusted here too.
/// Matches Portcullis' default `Cache-Control: max-age` on `/jwks.json`.
const JWKS_MAX_AGE_SECS: i64 = 900;
/// A slow issuer must not hold our requests (and workers) indefinitely.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Seconds since the Unix epoch. Injected rather than read inside, so tests can move time
/// (and so `exp` is checked against the same clock the tests give Portcullis).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock, for `main`.
pub fn system_clock() -> Clock {
    #[allow(clippy::disallowed_methods)] // the example's single read of the wall clock
    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
    Arc::new(now)
}

#[derive(Debug)]
pub struct Settings {
    /// Exactly as Portcullis spells it (`issuer` in its discovery document).
    pub issuer: String,
    /// This API's identifier, its public URL (RFC 9728 `resource`). Clients ask for it
    /// with `resource=` (RFC 8707) and it comes back as `aud`, compared as a string: write
    /// it exactly as clients will send it (a URL parser writes `https://api.example.com`
    /// as `https://api.example.com/`). Without `resource` the `aud` is the issuer, and
    /// such a token is not meant for us.
    pub audience: String,
    /// Needed by every route; also what the metadata offers as `scopes_supported`.
    pub required_scope: String,
    /// This API's own client at Portcullis, with the `introspector` role.
    pub introspection_client: Option<ClientCredentials>,
}

#[derive(Debug)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// Who the token was issued to: a user's id, or the client id for `client_credentials`.
#[derive(Debug)]
pub struct Principal {
    pub sub: String,
}

/// An RFC 6750 answer. `Display` is for logs; the client sees `error_response`.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// No Bearer credentials at all: RFC 6750 section 3.1 says challenge without an error
    /// code, so clients that merely forgot the token are not told it was bad.
    #[error("no bearer token")]
    Missing,
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    #[error("invalid_token: {0}")]
    InvalidToken(&'static str),
    /// Carries the scope the caller needs, for the challenge's `scope` attribute.
    #[error("insufficient_scope: needs {0}")]
    InsufficientScope(String),
    /// Portcullis could not be asked. Fail closed: never let the request through.
    #[error("authorization server unavailable")]
    Unavailable,
}

impl BearerError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Missing | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The answer to the caller. Every challenge names our protected resource metadata
    /// (RFC 9728 section 5.1), so a client that knows nothing but our URL can find the
    /// authorization server from the first 401.
    fn response(&self, resource_metadata: &str) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        let mut challenge =
            format!("Bearer realm=\"{REALM}\", resource_metadata=\"{resource_metadata}\"");
        let (error, description, scope) = match self {
            Self::Missing => {
                return response
                    .insert_header((header::WWW_AUTHENTICATE, challenge))
                    .finish();
            }
            Self::Unavailable => {
                return response
                    .insert_header((header::RETRY_AFTER, "5"))
                    .json(json!({"error": "temporarily_unavailable"}));
            }
            Self::InvalidRequest(d) => ("invalid_request", *d, None),
            Self::InvalidToken(d) => ("invalid_token", *d, None),
            Self::InsufficientScope(scope) => (
                "insufficient_scope",
                "the token lacks the scope this resource needs",
                Some(scope.as_str()),
            ),
        };
        // Descriptions are our own constants: nothing from the token is echoed back.
        challenge.push_str(&format!(
            ", error=\"{error}\", error_description=\"{description}\""
        ));
        if let Some(scope) = scope {
            challenge.push_str(&format!(", scope=\"{scope}\""));
        }
        response
            .insert_header((header::WWW_AUTHENTICATE, challenge))
            .json(json!({"error": error, "error_description": description}))
    }
}

/// The parts of the discovery document (OpenID Connect Discovery 1.0 / RFC 8414) we use.
#[derive(Debug, Deserialize)]
struct ProviderMetadata {
    issuer: String,
    jwks_uri: String,
    #[serde(default)]
    introspection_endpoint: Option<String>,
}

/// RFC 9068 section 2.2 claims; anything else in the token is ignored.
#[derive(Debug, Deserialize)]
struct AccessTokenClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
}

/// RFC 7519 section 4.1.3 (and RFC 7662): one audience or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(aud) => aud == audience,
            Self::Many(auds) => auds.iter().any(|aud| aud == audience),
        }
    }
}

/// RFC 7662 section 2.2. Only `active` is guaranteed; the rest is there when active.
#[derive(Debug, Deserialize)]
struct IntrospectionResponse {
    active: bool,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
}

/// The issuer's signing keys by `kid`, with when we last fetched them and when we last
/// tried to (both by our clock).
struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: i64,
    tried_at: i64,
}

pub struct ResourceServer {
    settings: Settings,
    /// Where our RFC 9728 metadata is, as a URL (for challenges) and as our own path.
    metadata_url: String,
    metadata_path: String,
    jwks_uri: String,
    introspection_endpoint: String,
    http: reqwest::Client,
    clock: Clock,
    jwks: RwLock<KeyCache>,
}

impl ResourceServer {
    /// Reads the issuer's discovery document and its JWKS. Fails (rather than starting
    /// half-configured) when either cannot be had.
    pub async fn discover(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(HTTP_TIMEOUT).build()?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            settings.issuer.trim_end_matches('/')
        );
        let metadata: ProviderMetadata = http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("fetching {url}"))?
            .json()
            .await
            .with_context(|| format!("reading {url}"))?;
        // OIDC Discovery section 4.3, RFC 8414 section 3.3: the document must name the
        // issuer we asked about, or whoever answers at that URL could vouch for other keys.
        if metadata.issuer != settings.issuer {
            bail!(
                "{url} names issuer {:?}, not {:?}",
                metadata.issuer,
                settings.issuer
            );
        }
        let (metadata_url, metadata_path) = resource_metadata_location(&settings.audience)?;
        let keys = fetch_jwks(&http, &metadata.jwks_uri).await?;
        let introspection_endpoint = metadata
            .introspection_endpoint
            .unwrap_or_else(|| format!("{}/introspect", settings.issuer.trim_end_matches('/')));
        let fetched_at = clock();
        Ok(Self {
            settings,
            metadata_url,
            metadata_path,
            jwks_uri: metadata.jwks_uri,
            introspection_endpoint,
            http,
            clock,
            jwks: RwLock::new(KeyCache {
                keys,
                fetched_at,
                tried_at: fetched_at,
            }),
        })
    }

    /// Local validation of a JWT access token (RFC 9068 section 4), check by check.
    ///
    /// This cannot see a token revoked before its `exp`: only Portcullis knows that, and
    /// asking it is what introspection is for. Keep access tokens short-lived when you
    /// rely on this path.
    pub async fn validate_locally(&self, token: &str) -> Result<Principal, BearerError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| BearerError::InvalidToken("the token is not a well-formed JWT"))?;
        // Portcullis signs ID tokens with the same keys and issuer, so without this check
        // an ID token (typ `JWT`) would pass for an access token. RFC 9068 section 2.1
        // allows the media type with or without its `application/` prefix.
        let typ = header.typ.as_deref().unwrap_or_default();
        if !(typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")) {
            return Err(BearerError::InvalidToken(
                "the token is not an access token",
            ));
        }
        // Checked before the key lookup so a token in another algorithm cannot trigger a
        // JWKS refetch; the library checks it again when verifying.
        if header.alg != Algorithm::RS256 {
            return Err(BearerError::InvalidToken("unexpected signing algorithm"));
        }
        let kid = header
            .kid
            .ok_or(BearerError::InvalidToken("the token names no signing key"))?;
        let key = self.key_for(&kid).await?;

        // The library verifies the signature and algorithm; the claims are checked below
        // one by one, so each refusal says why and `exp` uses our injected clock.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<AccessTokenClaims>(token, &key, &validation)
            .map_err(|_| BearerError::InvalidToken("the token's signature or claims are invalid"))?
            .claims;

        let now = (self.clock)();
        if claims.iss != self.settings.issuer {
            return Err(BearerError::InvalidToken(
                "the token is from another issuer",
            ));
        }
        if !claims.aud.contains(&self.settings.audience) {
            return Err(BearerError::InvalidToken(
                "the token is for another audience",
            ));
        }
        if now >= claims.exp.saturating_add(LEEWAY_SECS) {
            return Err(BearerError::InvalidToken("the token has expired"));
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(LEEWAY_SECS))
        {
            return Err(BearerError::InvalidToken("the token is not valid yet"));
        }
        self.require_scope(claims.scope.as_deref())?;
        Ok(Principal { sub: claims.sub })
    }

    /// Asks Portcullis whether the token is active (RFC 7662). Any answer other than a
    /// well-formed 200 is a 503 here: when in doubt, the request does not get through.
    ///
    /// Results are deliberately not cached: a cache would bring back the revocation gap
    /// that is the reason for introspecting.
    pub async fn introspect(&self, token: &str) -> Result<Principal, BearerError> {
        let Some(client) = &self.settings.introspection_client else {
            tracing::error!("RS_CLIENT_ID/RS_CLIENT_SECRET are not set; cannot introspect");
            return Err(BearerError::Unavailable);
        };
        // RFC 6749 section 2.3.1: id and secret are form-urlencoded before going into Basic.
        let response = self
            .http
            .post(&self.introspection_endpoint)
            .basic_auth(
                form_urlencode(&client.client_id),
                Some(form_urlencode(client.client_secret.expose_secret())),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "introspection endpoint unreachable");
                BearerError::Unavailable
            })?;
        if response.status() != reqwest::StatusCode::OK {
            // 401 here means *our* credentials were refused: a misconfiguration on this
            // side, not the caller's fault, so still a 503 for the caller.
            tracing::error!(status = %response.status(), "introspection refused");
            return Err(BearerError::Unavailable);
        }
        let introspected: IntrospectionResponse = response.json().await.map_err(|err| {
            tracing::error!(error = %err, "introspection response is not RFC 7662 JSON");
            BearerError::Unavailable
        })?;
        if !introspected.active {
            // Expired, revoked, unknown or garbage: RFC 7662 deliberately does not say.
            return Err(BearerError::InvalidToken("the token is not active"));
        }
        // Portcullis answers for tokens issued to any audience; whether it is meant for
        // this API is still ours to check.
        if introspected
            .aud
            .as_ref()
            .is_some_and(|aud| !aud.contains(&self.settings.audience))
        {
            return Err(BearerError::InvalidToken(
                "the token is for another audience",
            ));
        }
        self.require_scope(introspected.scope.as_deref())?;
        let sub = introspected.sub.ok_or_else(|| {
            tracing::error!("an active introspection response without `sub`");
            BearerError::Unavailable
        })?;
        Ok(Principal { sub })
    }

    /// `scope` is space-separated (RFC 6749 section 3.3); a token without one has none.
    fn require_scope(&self, scope: Option<&str>) -> Result<(), BearerError> {
        let required = &self.settings.required_scope;
        if scope.unwrap_or_default().split(' ').any(|s| s == required) {
            Ok(())
        } else {
            Err(BearerError::InsufficientScope(required.clone()))
        }
    }

    /// Our protected resource metadata (RFC 9728 section 2). `resource` is the audience
    /// byte for byte: MCP clients check it against the URL they called and send it back
    /// as `resource=`, and Portcullis puts exactly that string in `aud`.
    pub fn metadata(&self) -> serde_json::Value {
        json!({
            "resource": self.settings.audience,
            "authorization_servers": [self.settings.issuer],
            "bearer_methods_supported": ["header"],
            "scopes_supported": [self.settings.required_scope],
            "resource_name": REALM,
        })
    }

    /// The key for `kid`, refetching the JWKS first when the cache is old or the `kid`
    /// unknown (the issuer rotated keys), at most once per `JWKS_REFETCH_INTERVAL_SECS`.
    async fn key_for(&self, kid: &str) -> Result<DecodingKey, BearerError> {
        let now = (self.clock)();
        {
            let cache = self.jwks.read().await;
            if !cache.needs_fetch(kid, now) {
                return cache.key(kid);
            }
        }
        let mut cache = self.jwks.write().await;
        // Another request may have refetched while we waited for the lock.
        if cache.needs_fetch(kid, now) {
            cache.tried_at = now;
            match fetch_jwks(&self.http, &self.jwks_uri).await {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.fetched_at = now;
                }
                // Keep the keys we have: a brief outage of the issuer should not stop
                // tokens it already signed from working here.
                Err(err) => tracing::warn!(error = %format!("{err:#}"), "cannot refresh the JWKS"),
            }
        }
        cache.key(kid)
    }
}

impl KeyCache {
    fn needs_fetch(&self, kid: &str, now: i64) -> bool {
        let due = now - self.fetched_at >= JWKS_MAX_AGE_SECS || !self.keys.contains_key(kid);
        due && now - self.tried_at >= JWKS_REFETCH_INTERVAL_SECS
    }

    fn key(&self, kid: &str) -> Result<DecodingKey, BearerError> {
        self.keys.get(kid).cloned().ok_or(BearerError::InvalidToken(
            "the token's signing key is unknown",
        ))
    }
}

/// The issuer's RSA signing keys by `kid`; keys for other uses or without a `kid` are
/// skipped (we could never select them).
async fn fetch_jwks(
    http: &reqwest::Client,
    jwks_uri: &str,
) -> anyhow::Result<HashMap<String, DecodingKey>> {
    let set: JwkSet = http
        .get(jwks_uri)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("fetching {jwks_uri}"))?
        .json()
        .await
        .with_context(|| format!("reading {jwks_uri}"))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let for_signing = matches!(
            jwk.common.public_key_use,
            None | Some(PublicKeyUse::Signature)
        );
        if let (Some(kid), AlgorithmParameters::RSA(rsa), true) =
            (&jwk.common.key_id, &jwk.algorithm, for_signing)
        {
            let key = DecodingKey::from_rsa_components(&rsa.n, &rsa.e)
                .with_context(|| format!("key {kid} in {jwks_uri}"))?;
            keys.insert(kid.clone(), key);
        }
    }
    Ok(keys)
}

/// Where RFC 9728 section 3.1 puts the metadata of the resource `audience`: the
/// well-known path between the host and the resource's own path. So
/// `https://api.example.com/` has `https://api.example.com/.well-known/oauth-protected-resource`
/// and `https://mcp.example.com/mcp` has
/// `https://mcp.example.com/.well-known/oauth-protected-resource/mcp`. Returns the URL (for
/// challenges) and the path (the route we serve it on).
pub fn resource_metadata_location(audience: &str) -> anyhow::Result<(String, String)> {
    let url = url::Url::parse(audience).with_context(|| format!("audience {audience:?}"))?;
    if !url.has_host() || url.query().is_some() || url.fragment().is_some() {
        bail!("audience {audience:?}: use a URL with a host and no query or fragment");
    }
    let path = match url.path() {
        "/" => String::new(),
        path => path.to_owned(),
    };
    let path = format!("/.well-known/oauth-protected-resource{path}");
    Ok((
        format!("{}{path}", url.origin().ascii_serialization()),
        path,
    ))
}

fn form_urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The token from `Authorization: Bearer ...` (RFC 6750 section 2.1; we accept no other
/// way of sending it, as RFC 9700 recommends).
fn bearer_token(req: &HttpRequest) -> Result<&str, BearerError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Err(BearerError::Missing);
    };
    if values.next().is_some() {
        return Err(BearerError::InvalidRequest(
            "more than one Authorization header",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| BearerError::InvalidRequest("the Authorization header is not ASCII"))?;
    // The scheme is case-insensitive (RFC 9110 section 11.1). Another scheme (Basic, ...)
    // means no bearer credentials were sent.
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(BearerError::Missing);
    };
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(BearerError::Missing);
    }
    let token = token.trim_start_matches(' ');
    // RFC 6750 section 2.1 `b64token`; refusing anything else here keeps junk from
    // ever reaching the introspection endpoint.
    let body = token.trim_end_matches('=');
    let b64token = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if !b64token {
        return Err(BearerError::InvalidToken("the token is malformed"));
    }
    Ok(token)
}

fn hello(principal: &Principal, via: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"hello": principal.sub, "via": via}))
}

async fn local_hello(req: HttpRequest, rs: web::Data<ResourceServer>) -> HttpResponse {
    let checked = match bearer_token(&req) {
        Ok(token) => rs.validate_locally(token).await,
        Err(err) => Err(err),
    };
    match checked {
        Ok(principal) => hello(&principal, "local"),
        Err(err) => err.response(&rs.metadata_url),
    }
}

async fn introspected_hello(req: HttpRequest, rs: web::Data<ResourceServer>) -> HttpResponse {
    let checked = match bearer_token(&req) {
        Ok(token) => rs.introspect(token).await,
        Err(err) => Err(err),
    };
    match checked {
        Ok(principal) => hello(&principal, "introspection"),
        Err(err) => err.response(&rs.metadata_url),
    }
}

/// RFC 9728 metadata is public and read by browser-based clients too, hence `*`.
async fn resource_metadata(rs: web::Data<ResourceServer>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::CACHE_CONTROL, "max-age=3600"))
        .json(rs.metadata())
}

/// The API's routes, for mounting in any actix-web `App`.
pub fn configure(cfg: &mut web::ServiceConfig, rs: web::Data<ResourceServer>) {
    let metadata_path = rs.metadata_path.clone();
    cfg.app_data(rs)
        .route(&metadata_path, web::get().to(resource_metadata))
        .route("/local/hello", web::get().to(local_hello))
        .route("/introspected/hello", web::get().to(introspected_hello));
}

/// Serves the API on `listener` (bound by the caller, so tests can use port 0).
pub fn serve(listener: TcpListener, rs: ResourceServer) -> std::io::Result<Server> {
    let rs = web::Data::new(rs);
    Ok(
        HttpServer::new(move || App::new().configure(|cfg| configure(cfg, rs.clone())))
            .listen(listener)?
            .run(),
    )
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    // reqwest is built with rustls but no crypto provider of its own (Portcullis keeps to
    // aws-lc-rs); this makes aws-lc-rs the one the example's HTTP client finds.
    portcullis::outbound::install_tls_provider();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let issuer = env("PORTCULLIS_ISSUER").context("set PORTCULLIS_ISSUER")?;
    let bind = env("RS_BIND").unwrap_or_else(|| "127.0.0.1:8090".into());
    let introspection_client = match (env("RS_CLIENT_ID"), env("RS_CLIENT_SECRET")) {
        (Some(client_id), Some(secret)) => Some(ClientCredentials {
            client_id,
            client_secret: secret.into(),
        }),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            bail!("set both RS_CLIENT_ID and RS_CLIENT_SECRET, or neither")
        }
    };
    let settings = Settings {
        issuer,
        audience: env("RS_AUDIENCE").unwrap_or_else(|| format!("http://{bind}/")),
        required_scope: env("RS_REQUIRED_SCOPE").unwrap_or_else(|| "api.read".into()),
        introspection_client,
    };
    tracing::info!(?settings, %bind, "starting");
    let rs = ResourceServer::discover(settings, system_clock()).await?;
    let listener = TcpListener::bind(&bind).with_context(|| format!("binding {bind}"))?;
    serve(listener, rs)?.await?;
    Ok(())
}
