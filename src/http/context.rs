//! The browser session cookie: its name and its value on a request. Kept apart from the
//! HTML pages so logout and the pages share it. (The protocol context of a request is
//! `AppState::ctx`, in `state.rs`.)

use actix_web::HttpRequest;

use crate::http::state::AppState;

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
