//! Cross-origin requests (the Fetch standard's CORS protocol) on exactly the endpoints a
//! browser app calls, and nowhere else (docs/security.md, "Cross-origin requests"). The
//! table below is the whole rule: a path not in it never gets a CORS header, so
//! `/authorize`, the sign-in, consent and account pages, `/introspect` and everything on
//! the admin listener stay closed to other origins' scripts.
//!
//! - Public documents (discovery, the JWKS) answer `Access-Control-Allow-Origin: *`:
//!   they hold nothing of anyone, and every app needs them.
//! - The endpoints that act on a code or a token (/token, /userinfo, /revoke, and
//!   registration) answer an allowed origin (`oauth::client::origins`: a client's
//!   redirect URI's, or `cors.allowed_origins`) by name, with `Vary: Origin`; any other
//!   origin gets no CORS header, so the browser withholds the answer from its page.
//! - Never `Access-Control-Allow-Credentials`: these endpoints take their credentials in
//!   the request (a code, a token, a client secret), never from cookies, and a cookie of
//!   this server must never ride along on another site's request.
//!
//! Two middlewares around the rate limit (`super::routes`): `cross_origin`, outermost,
//! decides and adds the headers to every answer, errors and 429s included, so an app can
//! read why it failed; `answer_preflight`, innermost, answers a preflight (204 for an
//! allowed origin, 403 without CORS headers for any other) after the rate limit counted it.

use actix_web::HttpMessage;
use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::http::state::AppState;

/// Whose pages may read a path's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Any origin: public documents, nothing of a user in them.
    Anyone,
    /// Allowed origins only (`AllowedOrigins`), each answered by name.
    AllowedOrigins,
}

/// How one path answers other origins: who may read it, and the methods a preflight
/// allows (those the path routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub audience: Audience,
    pub methods: &'static str,
}

const PUBLIC: Rule = Rule {
    audience: Audience::Anyone,
    methods: "GET",
};

const fn for_apps(methods: &'static str) -> Rule {
    Rule {
        audience: Audience::AllowedOrigins,
        methods,
    }
}

/// Every path (relative to the issuer) that answers other origins. RFC 8414's metadata,
/// which lives outside the issuer's path, is added by `rule_for`.
pub const RULES: &[(&str, Rule)] = &[
    ("/.well-known/openid-configuration", PUBLIC),
    ("/jwks.json", PUBLIC),
    ("/.well-known/jwks.json", PUBLIC),
    ("/token", for_apps("POST")),
    ("/userinfo", for_apps("GET, POST")),
    ("/revoke", for_apps("POST")),
    // Dynamic registration (RFC 7591) and client configuration (RFC 7592).
    ("/register", for_apps("POST")),
];

/// Paths below these prefixes: RFC 7592's `/register/{client_id}`.
const PREFIX_RULES: &[(&str, Rule)] = &[("/register/", for_apps("GET, PUT, DELETE"))];

/// Request headers a preflight may ask for: a bearer token or Basic client credentials,
/// and a body's type (JSON for registration).
const ALLOW_HEADERS: &str = "authorization, content-type";
/// Response headers an allowed page may read besides the safelisted ones: why a bearer
/// token was refused (RFC 6750 §3), and when to retry after a 429.
const EXPOSE_HEADERS: &str = "www-authenticate, retry-after";
/// How long a browser may reuse a preflight's answer (Chromium caps it at two hours).
const MAX_AGE: &str = "600";

/// The rule for `path` (as requested, the issuer's path included), if any.
pub fn rule_for(path: &str, issuer_path: &str) -> Option<Rule> {
    if path
        .strip_prefix("/.well-known/oauth-authorization-server")
        .is_some_and(|rest| rest == issuer_path)
    {
        return Some(PUBLIC);
    }
    let relative = path.strip_prefix(issuer_path)?;
    RULES
        .iter()
        .find(|(p, _)| *p == relative)
        .or_else(|| PREFIX_RULES.iter().find(|(p, _)| relative.starts_with(p)))
        .map(|(_, rule)| *rule)
}

/// The CORS headers of an answer under `rule`. `origin` is the request's `Origin` when it
/// is allowed (`None`: no `Origin`, or one that is not allowed); `preflight` for the
/// answer to a preflight.
pub fn headers(
    rule: Rule,
    origin: Option<&HeaderValue>,
    preflight: bool,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    let allowed = match rule.audience {
        Audience::Anyone => Some(HeaderValue::from_static("*")),
        Audience::AllowedOrigins => {
            // The answer depends on `Origin` whether or not this one is allowed: a cache
            // must not hand one origin's answer to another.
            out.push((header::VARY, HeaderValue::from_static("Origin")));
            origin.cloned()
        }
    };
    let Some(allowed) = allowed else {
        return out;
    };
    out.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed));
    if rule.audience == Audience::AllowedOrigins {
        out.push((
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        ));
    }
    if preflight {
        out.push((
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(rule.methods),
        ));
        out.push((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        ));
        out.push((
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        ));
    }
    out
}

fn apply(headers: &mut HeaderMap, add: Vec<(HeaderName, HeaderValue)>) {
    for (name, value) in add {
        if name == header::VARY {
            headers.append(name, value);
        } else {
            headers.insert(name, value);
        }
    }
}

/// A preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
fn is_preflight(req: &ServiceRequest) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// `cross_origin`'s verdict on a preflight, for `answer_preflight`.
#[derive(Debug, Clone, Copy)]
struct Preflight {
    allowed: bool,
}

/// Decides whether the request's origin may read the answer, and adds the headers that
/// say so to whatever answers it (a handler, an error, the rate limit, a preflight).
pub async fn cross_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    let Some(rule) = rule_for(req.path(), state.config.issuer.path()) else {
        return next.call(req).await;
    };
    let origin = req.headers().get(header::ORIGIN).cloned();
    let allowed = match (rule.audience, origin) {
        (Audience::AllowedOrigins, Some(origin)) => match origin.to_str() {
            Ok(text) if state.origins.allows(text).await => Some(origin),
            Ok(_) | Err(_) => None,
        },
        (Audience::AllowedOrigins, None) | (Audience::Anyone, _) => None,
    };
    let preflight = is_preflight(&req);
    if preflight {
        req.extensions_mut().insert(Preflight {
            allowed: rule.audience == Audience::Anyone || allowed.is_some(),
        });
    }
    let add = headers(rule, allowed.as_ref(), preflight);
    match next.call(req).await {
        Ok(mut response) => {
            apply(response.headers_mut(), add);
            Ok(response)
        }
        // An error that escaped a middleware becomes its response only later; give it
        // that response now, with the headers (as `hsts` does).
        Err(err) => {
            let mut response = err.error_response();
            apply(response.headers_mut(), add);
            Err(InternalError::from_response(err, response).into())
        }
    }
}

/// Answers a preflight `cross_origin` judged, once the rate limit has counted it: 204 when
/// allowed (the headers are `cross_origin`'s), 403 otherwise. Every other request goes on.
pub async fn answer_preflight(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let verdict = req.extensions().get::<Preflight>().copied();
    match verdict {
        Some(Preflight { allowed: true }) => Ok(req
            .into_response(HttpResponse::NoContent().finish())
            .map_into_right_body()),
        Some(Preflight { allowed: false }) => Ok(req
            .into_response(
                HttpResponse::Forbidden()
                    .content_type("text/plain; charset=utf-8")
                    .body("this origin may not call this endpoint from a browser"),
            )
            .map_into_right_body()),
        None => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(path: &str) -> Option<Audience> {
        rule_for(path, "").map(|r| r.audience)
    }

    #[test]
    fn only_the_endpoints_a_browser_app_calls() {
        for public in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
            "/jwks.json",
            "/.well-known/jwks.json",
        ] {
            assert_eq!(rule(public), Some(Audience::Anyone), "{public}");
        }
        for app in [
            "/token",
            "/userinfo",
            "/revoke",
            "/register",
            "/register/3f1c0d9e",
        ] {
            assert_eq!(rule(app), Some(Audience::AllowedOrigins), "{app}");
        }
        for closed in [
            "/authorize",
            "/login",
            "/login/factor",
            "/login/enrol",
            "/login/passkey",
            "/consent",
            "/select_account",
            "/logout",
            "/account",
            "/account/security",
            "/introspect",
            "/health/live",
            "/health/ready",
            "/metrics",
            "/admin/v1/clients",
            "/static/portcullis.css",
            "/token/",
            "/tokens",
            "/userinfo/x",
            "/registers",
            "/",
            "",
        ] {
            assert_eq!(rule(closed), None, "{closed}");
        }
    }

    #[test]
    fn under_an_issuer_path() {
        let rule = |path| rule_for(path, "/auth").map(|r| r.audience);
        assert_eq!(rule("/auth/token"), Some(Audience::AllowedOrigins));
        assert_eq!(rule("/auth/register/abc"), Some(Audience::AllowedOrigins));
        assert_eq!(rule("/auth/jwks.json"), Some(Audience::Anyone));
        // RFC 8414 §3.1: the well-known part comes before the issuer's path.
        assert_eq!(
            rule("/.well-known/oauth-authorization-server/auth"),
            Some(Audience::Anyone)
        );
        assert_eq!(rule("/.well-known/oauth-authorization-server"), None);
        assert_eq!(rule("/auth/.well-known/oauth-authorization-server"), None);
        assert_eq!(rule("/token"), None);
        assert_eq!(rule("/other/token"), None);
        assert_eq!(rule("/auth/authorize"), None);
    }

    fn names(headers: &[(HeaderName, HeaderValue)]) -> Vec<String> {
        headers
            .iter()
            .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect()
    }

    #[test]
    fn headers_for_an_allowed_origin() {
        let token = rule_for("/token", "").unwrap();
        let origin = HeaderValue::from_static("https://app.example.com");
        assert_eq!(
            names(&headers(token, Some(&origin), false)),
            [
                "vary: Origin",
                "access-control-allow-origin: https://app.example.com",
                "access-control-expose-headers: www-authenticate, retry-after",
            ]
        );
        let userinfo = rule_for("/userinfo", "").unwrap();
        assert_eq!(
            names(&headers(userinfo, Some(&origin), true)),
            [
                "vary: Origin",
                "access-control-allow-origin: https://app.example.com",
                "access-control-expose-headers: www-authenticate, retry-after",
                "access-control-allow-methods: GET, POST",
                "access-control-allow-headers: authorization, content-type",
                "access-control-max-age: 600",
            ]
        );
    }

    #[test]
    fn nothing_but_vary_for_any_other_origin() {
        let token = rule_for("/token", "").unwrap();
        for preflight in [false, true] {
            assert_eq!(names(&headers(token, None, preflight)), ["vary: Origin"]);
        }
    }

    #[test]
    fn public_documents_answer_anyone() {
        let jwks = rule_for("/jwks.json", "").unwrap();
        let origin = HeaderValue::from_static("https://anyone.example");
        for origin in [None, Some(&origin)] {
            assert_eq!(
                names(&headers(jwks, origin, false)),
                ["access-control-allow-origin: *"]
            );
        }
        assert_eq!(
            names(&headers(jwks, None, true)),
            [
                "access-control-allow-origin: *",
                "access-control-allow-methods: GET",
                "access-control-allow-headers: authorization, content-type",
                "access-control-max-age: 600",
            ]
        );
    }

    #[test]
    fn never_credentials() {
        for (path, _) in RULES.iter().chain(PREFIX_RULES) {
            let rule = rule_for(path, "").unwrap();
            let origin = HeaderValue::from_static("https://app.example.com");
            for preflight in [false, true] {
                for origin in [None, Some(&origin)] {
                    assert!(
                        headers(rule, origin, preflight)
                            .iter()
                            .all(|(n, _)| *n != header::ACCESS_CONTROL_ALLOW_CREDENTIALS),
                        "{path}"
                    );
                }
            }
        }
    }
}
