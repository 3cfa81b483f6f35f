//! Per-address request buckets on every public endpoint (issue 19 item 4), our own small
//! middleware over governor (the popular actix wrapper is GPL; the table itself is
//! `super::ip_limiter`). One middleware wraps the whole public surface and picks the bucket
//! from the path, so an endpoint added later is limited (under `other`) without anyone
//! remembering to. Limits are per replica and in memory; brute force against passwords is
//! handled separately, in the database, across replicas.

use actix_web::HttpMessage as _;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::http::state::AppState;

/// The bucket of each path (relative to the issuer) that has its own; every other path,
/// known or not, counts under `other`.
pub const BUCKETS: &[(&str, &str)] = &[
    ("/authorize", "authorize"),
    // A GET of the account page without a session stores a pending request, as /authorize
    // does: it shares that bucket.
    ("/account", "authorize"),
    ("/login", "login"),
    // The steps after the password share its bucket: they are the same sign-in.
    ("/login/factor", "login"),
    ("/login/enrol", "login"),
    ("/login/passkey", "login"),
    // The pages that stand in for a password (issue 22) are sign-in pages too: they share
    // its bucket, which also bounds the mails they cause per address.
    ("/forgot-password", "login"),
    ("/reset-password", "login"),
    ("/verify-email", "login"),
    ("/signup", "login"),
    ("/consent", "consent"),
    ("/select_account", "select_account"),
    ("/logout", "logout"),
    ("/userinfo", "userinfo"),
    ("/introspect", "introspect"),
    ("/revoke", "revoke"),
    ("/register", "register"),
    ("/token", "token"),
];

/// Paths below these prefixes count under the prefix's bucket: RFC 7592's
/// `/register/{client_id}` shares the registration endpoint's.
const PREFIX_BUCKETS: &[(&str, &str)] = &[("/register/", "register")];

/// Pages a person sees in a browser: refused with the error page, not JSON.
const BROWSER_BUCKETS: &[&str] = &["authorize", "login", "consent", "select_account", "logout"];

/// The bucket `path` (relative to the issuer) counts under.
pub fn bucket_for(path: &str) -> &'static str {
    BUCKETS
        .iter()
        .find(|(p, _)| *p == path)
        .or_else(|| PREFIX_BUCKETS.iter().find(|(p, _)| path.starts_with(p)))
        .map_or("other", |(_, bucket)| bucket)
}

pub async fn limit_by_endpoint(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limited = req.app_data::<web::Data<AppState>>().and_then(|state| {
        let path = req.path();
        let relative = path
            .strip_prefix(state.config.issuer.path())
            .unwrap_or(path);
        let bucket = bucket_for(relative);
        let limiter = state.rate_limits.get(bucket)?;
        let client = state.client_of(&req.extensions(), req.peer_addr(), req.headers())?;
        let wait = limiter.check(client.key).err()?;
        state
            .metrics
            .rate_limited
            .with_label_values(&[bucket])
            .inc();
        Some((state.clone(), bucket, wait))
    });
    if let Some((state, bucket, wait)) = limited {
        let mut response = if BROWSER_BUCKETS.contains(&bucket) {
            crate::http::pages::error_page(
                &state,
                req.request(),
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests from your network. Please wait a moment and try again.",
            )
        } else {
            HttpResponse::TooManyRequests().json(serde_json::json!({
                "error": "temporarily_unavailable",
                "error_description": "too many requests from this address; retry later",
            }))
        };
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, wait.into());
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
