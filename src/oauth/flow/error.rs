//! The one error of the browser flow. In a file of its own so that the protocol steps the
//! flow calls (`oauth::authorize`, `oauth::logout`) can return it without importing the
//! flow that calls them.

use crate::oauth::context::store_error;
use crate::oauth::error::OAuthError;
use crate::store::StoreError;

/// Every way a browser request of the flow or of logout fails; src/http/pages.rs maps
/// each to its page in one place.
#[derive(Debug)]
pub enum BrowserError {
    /// Shown to the user on an error page (400); never redirected.
    Page(&'static str),
    /// The same, in words made for this request (why a client ID metadata document was
    /// refused). Escaped like everything a page shows.
    Message(String),
    /// A form post another site sent (403).
    Forbidden(&'static str),
    /// Storage or hashing cannot take the work now (503).
    Unavailable(OAuthError),
}

impl From<StoreError> for BrowserError {
    fn from(err: StoreError) -> Self {
        Self::Unavailable(store_error(err))
    }
}

/// A protocol step's failure inside a page (sealing a secret, a factor's storage): the
/// page says the service cannot take it now; the cause was logged where it happened.
impl From<OAuthError> for BrowserError {
    fn from(err: OAuthError) -> Self {
        Self::Unavailable(err)
    }
}
