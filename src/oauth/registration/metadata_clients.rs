//! Clients from client ID metadata documents, at run time. `/authorize` and client
//! authentication (`/token`, `/revoke`, `/introspect`) ask here instead of the client cache
//! ([`for_authorize`], [`for_token`]); with `registration.metadata_documents` off, or for
//! any id that is not a URL, the answer is the cache's.
//!
//! A document's client is stored as a client of origin `metadata_document` under its URL
//! (written by `manage` through [`DocumentClients`], the same write path and rules as every
//! other client), so codes, tokens, consent, the client cache and the janitor's idle
//! deletion treat it as any other. What is remembered here, per process, is until when
//! each stored document is fresh: its `Cache-Control: max-age` within
//! `registration.metadata_document_{min,max}_cache_secs`. A stale one is fetched again at
//! the next request that needs it, and written again when it changed.
//!
//! Only `/authorize` fetches a URL the server has not stored: a token request can only be
//! for a client that went through `/authorize`, so client authentication never makes the
//! server fetch a stranger's URL. A client an operator registered (or promoted) under a
//! URL is theirs: it is used as it is and never fetched.

use std::sync::Arc;

use super::metadata_document::{ClientIdUrl, DocumentError, check_document, is_client_id_url};
use crate::oauth::client::{ClientOrigin, RegisteredClient};
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::oauth::flow::error::BrowserError;
use crate::outbound::FetchError;
use crate::store::StoreError;

pub use super::document_clients::{DocumentClients, MetadataClients, SaveError, Saving};

/// Why a lookup of a document's client failed.
enum Failure {
    Document(DocumentError),
    /// The writer refused; logged where it happened.
    Save(SaveError),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// What a lookup found.
enum Found {
    /// Not a document's client: the cache's answer, used as it is.
    Other(Option<Arc<RegisteredClient>>),
    /// A document's client, fetched now or fresh.
    Document(Result<Arc<RegisteredClient>, Failure>),
}

async fn lookup(ctx: &Ctx<'_>, client_id: &str, may_fetch_new: bool) -> Result<Found, StoreError> {
    let stored = ctx.clients.get(client_id).await?;
    let documents = ctx.documents;
    let from_document = stored
        .as_ref()
        .is_some_and(|c| c.origin == ClientOrigin::MetadataDocument);
    if stored.is_some() && !from_document {
        return Ok(Found::Other(stored));
    }
    if !documents.enabled() || !is_client_id_url(client_id) {
        // Metadata documents turned off: their clients are unknown until turned on again.
        return Ok(Found::Other(None));
    }
    match stored {
        // A disabled client stays disabled; nothing to fetch for it.
        Some(client) if client.disabled || documents.is_fresh(client_id, ctx.now) => {
            Ok(Found::Document(Ok(client)))
        }
        Some(_) => Ok(Found::Document(refresh(ctx, client_id).await)),
        None if may_fetch_new => Ok(Found::Document(refresh(ctx, client_id).await)),
        None => Ok(Found::Other(None)),
    }
}

/// Fetches the document at `client_id`, checks it, writes its client and reads it back.
async fn refresh(ctx: &Ctx<'_>, client_id: &str) -> Result<Arc<RegisteredClient>, Failure> {
    let documents = ctx.documents;
    let settings = documents.settings;
    let url = ClientIdUrl::parse(client_id, settings.allow_private).map_err(Failure::Document)?;
    let fetcher = documents
        .fetcher
        .as_ref()
        .ok_or(Failure::Document(DocumentError::Fetch(FetchError::Busy)))?;
    let fetched = fetcher
        .fetch(url.as_str())
        .await
        .map_err(|e| Failure::Document(DocumentError::Fetch(e)))?;
    let registration =
        check_document(&url, &fetched.body, &ctx.config.registration).map_err(Failure::Document)?;
    documents
        .clients
        .save(client_id, &registration, ctx.client_ip)
        .await
        .map_err(Failure::Save)?;
    documents.mark_fresh(
        client_id,
        ctx.now
            .saturating_add(settings.cache_secs(fetched.fresh_for)),
    );
    ctx.clients
        .reload(client_id)
        .await?
        .ok_or(Failure::Store(StoreError::NotFound))
}

fn log_failure(client_id: &str, failure: &Failure) {
    match failure {
        // The page says less than this (`metadata_document::fetch_words`).
        Failure::Document(why) => {
            tracing::info!(client_id, reason = %why, detail = ?why, "client ID metadata document refused");
        }
        Failure::Save(why) => {
            tracing::warn!(client_id, reason = ?why, "client from a metadata document not written");
        }
        Failure::Store(_) => {}
    }
}

/// The client `/authorize` names: a document's client fetched (or fresh) when `client_id`
/// is a URL and metadata documents are on, else the stored one. A document that cannot
/// be fetched or is refused is an error page saying why: the request's `redirect_uri`
/// is not trusted yet, so nothing is redirected.
pub async fn for_authorize(
    ctx: &Ctx<'_>,
    client_id: &str,
) -> Result<Option<Arc<RegisteredClient>>, BrowserError> {
    match lookup(ctx, client_id, true).await? {
        Found::Other(client) => Ok(client),
        Found::Document(Ok(client)) => Ok(Some(client)),
        Found::Document(Err(failure)) => {
            log_failure(client_id, &failure);
            Err(match failure {
                Failure::Document(DocumentError::Fetch(FetchError::Busy))
                | Failure::Save(SaveError::Full) => {
                    BrowserError::Unavailable(OAuthError::temporarily_unavailable(30))
                }
                Failure::Document(why) => BrowserError::Message(format!(
                    "The application that sent you here cannot be used: {why}."
                )),
                Failure::Save(SaveError::Refused(why)) => BrowserError::Message(format!(
                    "The application that sent you here cannot be used: its metadata document is refused: {why}."
                )),
                Failure::Save(SaveError::Store(err)) | Failure::Store(err) => err.into(),
            })
        }
    }
}

/// The client a token, revocation or introspection request names, for client
/// authentication: a stored document's client (fetched again when stale), or the stored
/// client. A document that now fails answers `None`, which authentication turns into
/// `invalid_client`; a URL never stored is not fetched.
pub async fn for_token(
    ctx: &Ctx<'_>,
    client_id: &str,
) -> Result<Option<Arc<RegisteredClient>>, OAuthError> {
    match lookup(ctx, client_id, false).await.map_err(store_error)? {
        Found::Other(client) => Ok(client),
        Found::Document(Ok(client)) => Ok(Some(client)),
        Found::Document(Err(failure)) => {
            log_failure(client_id, &failure);
            match failure {
                Failure::Store(err) | Failure::Save(SaveError::Store(err)) => Err(store_error(err)),
                Failure::Document(_) | Failure::Save(SaveError::Full | SaveError::Refused(_)) => {
                    Ok(None)
                }
            }
        }
    }
}

/// Whether the flow may still use `client`, found by id for a request already under way:
/// a document's client only while metadata documents are on.
pub fn usable(ctx: &Ctx<'_>, client: &RegisteredClient) -> bool {
    client.origin != ClientOrigin::MetadataDocument || ctx.documents.enabled()
}
