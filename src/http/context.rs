//! What every handler builds first: the protocol context of a request, and the browser
//! session cookie's value. Kept apart from the HTML pages so the JSON endpoints need not
//! import them.

use actix_web::HttpRequest;

use super::client_ip::client_ip;
use crate::app::AppState;
use crate::oauth::context::Ctx;

pub(crate) fn ctx<'a>(state: &'a AppState, req: &HttpRequest) -> Ctx<'a> {
    Ctx {
        config: &state.config,
        store: &state.store,
        keys: &state.keys,
        service: &state.service,
        clients: &state.clients,
        standings: &state.standings,
        metrics: &state.metrics,
        now: state.clock.now(),
        started: std::time::Instant::now(),
        client_ip: client_ip(
            req.peer_addr().map(|a| a.ip()),
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok()),
            &state.config.rate_limit.trusted_proxies,
        ),
    }
}

/// The session cookie's name: `__Host-` prefixed whenever the issuer is https.
pub(crate) fn cookie_name(state: &AppState) -> &'static str {
    if state.config.issuer.is_https() {
        "__Host-portcullis_session"
    } else {
        "portcullis_session"
    }
}

pub(crate) fn session_value(state: &AppState, req: &HttpRequest) -> Option<String> {
    req.cookie(cookie_name(state)).map(|c| c.value().to_owned())
}
