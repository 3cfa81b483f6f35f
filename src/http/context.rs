//! Where the browser finds us and what it keeps: links to our own pages, and the cookies
//! we set (their names, how they are made, their values on a request), all under the
//! issuer's path. Kept apart from the HTML pages so logout and the pages share them, and
//! so every cookie is built in this one place. (The protocol context of a request is
//! `AppState::ctx`, in `state.rs`.)

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse};

use crate::crypto::tokens::{BROWSER_PREFIX, Secret};
use crate::http::state::AppState;
use crate::ui::Lang;

/// The session cookie: a random id whose digest names the session.
pub(crate) const SESSION: &str = "portcullis_session";
/// The browser-binding cookie: a random secret the browser keeps, to which every form's
/// CSRF token is bound (`crypto::tokens::bound_to_browser`).
pub(crate) const BROWSER: &str = "portcullis_browser";
/// The device cookie (`crypto::device_cookie`): kept long after the session ends, so the
/// browser's later logins are throttled apart from guesses made elsewhere.
pub(crate) const DEVICE: &str = "portcullis_device";

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

/// The one way a cookie of ours is made, as docs/security.md asks: HttpOnly,
/// SameSite=Lax, Secure on https, and scoped to the issuer's path so it never reaches
/// another application on the same host.
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

pub(crate) fn session_value(state: &AppState, req: &HttpRequest) -> Option<String> {
    cookie_value(req, state, SESSION)
}

/// This browser's binding secret: the one it sent, or a new one that the response must set.
pub(crate) struct BrowserBinding {
    value: String,
    new: bool,
}

impl BrowserBinding {
    /// For a page that may render a form. A value that is not one we could have made is
    /// replaced, so an attacker cannot plant a chosen binding.
    pub(crate) fn of(state: &AppState, req: &HttpRequest) -> Self {
        match cookie_value(req, state, BROWSER).filter(|v| plausible(v)) {
            Some(value) => Self { value, new: false },
            None => Self {
                value: Secret::generate(BROWSER_PREFIX).expose().to_owned(),
                new: true,
            },
        }
    }

    /// For a posted form: only the binding the browser sent counts.
    pub(crate) fn sent(state: &AppState, req: &HttpRequest) -> Option<String> {
        cookie_value(req, state, BROWSER).filter(|v| plausible(v))
    }

    pub(crate) fn value(&self) -> &str {
        &self.value
    }

    /// Sets the cookie on `response` when it is new.
    pub(crate) fn set_on(&self, state: &AppState, response: &mut HttpResponse) {
        if self.new
            && let Err(err) = response.add_cookie(&cookie(state, BROWSER, self.value.clone()))
        {
            tracing::error!(error = %err, "cannot set the browser-binding cookie");
        }
    }
}

/// A binding we made: the prefix and 43 characters of base64url.
fn plausible(value: &str) -> bool {
    value.strip_prefix(BROWSER_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The language of the page or mail this request gets (`crate::ui::negotiate`):
/// `ui_locales` when the authorization request carried one, then the browser's
/// `Accept-Language`, then `ui.default_locale`.
pub(crate) fn lang(state: &AppState, req: &HttpRequest, ui_locales: Option<&str>) -> Lang {
    let accept = req
        .headers()
        .get(actix_web::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    state.ui.language(ui_locales, accept)
}
