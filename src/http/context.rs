//! Where the browser finds us: links to our own pages, and the cookies we set, both
//! under the issuer's path. Kept apart from the HTML pages so logout and the pages share
//! them. (The protocol context of a request is `AppState::ctx`, in `state.rs`.)

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

use crate::http::state::AppState;

/// The browser session's cookie.
pub(crate) const SESSION: &str = "portcullis_session";

/// The prefix of every link and form action to our own pages: the issuer's path (`""`
/// when the issuer has none).
pub(crate) fn page_base(state: &AppState) -> &str {
    state.config.issuer.path()
}

/// The URL path of one of our routes (`"/login"`), as the browser must ask for it.
pub(crate) fn page_path(state: &AppState, route: &str) -> String {
    format!("{}{route}", page_base(state))
}

/// A cookie's name for this issuer. On https the browser enforces the prefix
/// (RFC 6265bis §4.1.3): `__Host-` pins the cookie to this host and `Path=/`, so no
/// subdomain or plain-http page can plant one; an issuer with a path cannot use it
/// (`__Host-` demands `Path=/`), and gets `__Secure-`, which still refuses cookies set
/// without `Secure`.
pub(crate) fn cookie_name(state: &AppState, stem: &str) -> String {
    let issuer = &state.config.issuer;
    match (issuer.is_https(), issuer.path().is_empty()) {
        (true, true) => format!("__Host-{stem}"),
        (true, false) => format!("__Secure-{stem}"),
        (false, _) => stem.to_owned(),
    }
}

/// The one way a cookie of ours is made: HttpOnly, SameSite=Lax, Secure on https, and
/// scoped to the issuer's path so it never reaches another application on the same host.
pub(crate) fn cookie(state: &AppState, stem: &str, value: String) -> Cookie<'static> {
    let mut c = Cookie::new(cookie_name(state, stem), value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_path(match page_base(state) {
        "" => "/".to_owned(),
        path => path.to_owned(),
    });
    c.set_secure(state.config.issuer.is_https());
    c
}

/// The cookie that makes the browser forget `stem`: same name, path and attributes, so the
/// browser matches it to the one it holds.
pub(crate) fn removal(state: &AppState, stem: &str) -> Cookie<'static> {
    let mut c = cookie(state, stem, String::new());
    c.make_removal();
    c
}

/// The value of our cookie `stem` on a request, under this issuer's name for it.
pub(crate) fn cookie_value(req: &HttpRequest, state: &AppState, stem: &str) -> Option<String> {
    req.cookie(&cookie_name(state, stem))
        .map(|c| c.value().to_owned())
}
