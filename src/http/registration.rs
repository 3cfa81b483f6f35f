//! Dynamic client registration: `POST /register` (RFC 7591) and the client configuration
//! endpoint `GET`/`PUT`/`DELETE /register/{client_id}` (RFC 7592). Thin: read the body and
//! the bearer token, ask the registration policy (`oauth::registration::policy`), write
//! through `manage::registration`, answer. Every error is an `OAuthError` (RFC 7591
//! section 3.2.2 codes for the metadata, RFC 6750 `invalid_token` for the credentials),
//! rendered in `http::errors`. With `registration.mode = "closed"` the whole surface is
//! 404, as if it did not exist.

use actix_web::HttpMessage as _;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};

use super::bearer::{Accepts, bearer_token};
use crate::config::RegistrationMode;
use crate::crypto::tokens::Secret;
use crate::http::state::AppState;
use crate::manage::ManageError;
use crate::manage::clients::ClientView;
use crate::manage::registration::vouched_for;
use crate::oauth::client::ClientOrigin;
use crate::oauth::error::OAuthError;
use crate::oauth::registration::policy::{self, Registrant};
use crate::oauth::registration::{self as registration, ClientInformation, ClientMetadata};

/// What every refused credential is told: which of unknown client, wrong token, spent or
/// expired token, promoted or disabled client is no business of the caller's.
const INVALID_TOKEN: &str = "the access token is missing, invalid or expired";

/// How long a full registration table is likely to stay full.
const FULL_RETRY_SECS: u32 = 60;

fn closed() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

/// Responses about credentials are never cached (RFC 7591 section 3.2.1).
fn no_store(mut response: HttpResponseBuilder) -> HttpResponseBuilder {
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    response
}

/// The bearer token of the request: `None` when there is no `Authorization` header at all;
/// anything but one well-formed bearer token is `invalid_token`.
fn presented_token(req: &HttpRequest) -> Result<Option<Secret>, OAuthError> {
    if !req.headers().contains_key(header::AUTHORIZATION) {
        return Ok(None);
    }
    bearer_token(req, Accepts::Header)
        .map(|t| Some(Secret::from_presented(&t)))
        .map_err(|_| OAuthError::invalid_token(INVALID_TOKEN))
}

fn required_token(req: &HttpRequest) -> Result<Secret, OAuthError> {
    presented_token(req)?.ok_or_else(|| OAuthError::invalid_token(INVALID_TOKEN))
}

fn metadata_of(req: &HttpRequest, body: &[u8]) -> Result<ClientMetadata, OAuthError> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Err(OAuthError::invalid_client_metadata(
            "send the client metadata as application/json",
        ));
    }
    ClientMetadata::from_json(body)
}

/// A refusal of the manage layer, in the registration endpoint's vocabulary.
fn refused(err: ManageError) -> OAuthError {
    match err {
        ManageError::Unauthenticated | ManageError::NotFound(_) | ManageError::Denied(_) => {
            OAuthError::invalid_token(INVALID_TOKEN)
        }
        ManageError::Full(_) => OAuthError::TemporarilyUnavailable {
            description: "no more clients can be registered now; retry later".into(),
            retry_after_secs: FULL_RETRY_SECS,
            too_many_requests: false,
        },
        // The policy let these through, but the rules every client keeps did not.
        ManageError::Invalid { field, message } => {
            OAuthError::invalid_client_metadata(format!("`{field}` {message}"))
        }
        ManageError::Refused(why) => OAuthError::invalid_client_metadata(why),
        ManageError::Store(err) => crate::oauth::context::store_error(err),
        other @ (ManageError::Conflict(_) | ManageError::Password(_)) => {
            tracing::error!(error = %other, "registration failed");
            OAuthError::ServerError
        }
    }
}

/// The client information response for `view`, with the credentials shown this once.
fn information(
    state: &AppState,
    view: ClientView,
    client_secret: Option<&Secret>,
    registration_access_token: Option<&Secret>,
) -> ClientInformation {
    ClientInformation {
        registration_client_uri: registration::client_uri(
            state.config.issuer.as_str(),
            &view.client_id,
        ),
        client_secret: client_secret.map(|s| s.expose().to_owned()),
        client_secret_expires_at: client_secret.map(|_| 0),
        registration_access_token: registration_access_token.map(|t| t.expose().to_owned()),
        client_id_issued_at: view.created_at,
        response_types: registration::response_types_for(&view.grant_types),
        application_type: view.application_type.unwrap_or_else(|| "web".to_owned()),
        scope: view.scope,
        client_id: view.client_id,
        client_name: view.client_name,
        redirect_uris: view.redirect_uris,
        post_logout_redirect_uris: view.post_logout_redirect_uris,
        grant_types: view.grant_types,
        token_endpoint_auth_method: view.token_endpoint_auth_method,
        resources: view.resources,
        client_uri: view.client_uri,
        logo_uri: view.logo_uri,
    }
}

/// `POST /register` (RFC 7591 section 3.1).
pub async fn register(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let settings = &state.config.registration;
    if !settings.enabled() {
        return Ok(closed());
    }
    let initial_access_token = presented_token(&req)?;
    let registrant = match (settings.mode, &initial_access_token) {
        (RegistrationMode::Closed, _) => return Ok(closed()),
        (RegistrationMode::InitialAccessToken, None) => {
            return Err(OAuthError::invalid_token(
                "registration needs an initial access token",
            ));
        }
        (RegistrationMode::InitialAccessToken | RegistrationMode::Open, Some(_)) => {
            Registrant::InitialAccessToken
        }
        (RegistrationMode::Open, None) => Registrant::Anonymous,
    };
    let metadata = metadata_of(&req, &body)?;
    policy::check_new(&metadata)?;
    let checked = policy::check(&metadata, settings, registrant)?;
    let from = state
        .client_of(&req.extensions(), req.peer_addr(), req.headers())
        .map(|a| a.ip);
    let registered = state
        .service
        .register_client(
            &checked,
            ClientOrigin::Registration,
            initial_access_token.as_ref(),
            settings.max_clients,
            from,
        )
        .await
        .map_err(refused)?;
    let body = information(
        &state,
        registered.client,
        registered.client_secret.as_ref(),
        Some(&registered.registration_access_token),
    );
    Ok(no_store(HttpResponse::Created()).json(body))
}

/// `GET /register/{client_id}` (RFC 7592 section 2.1).
pub async fn read(
    req: HttpRequest,
    client_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    if !state.config.registration.enabled() {
        return Ok(closed());
    }
    let token = required_token(&req)?;
    let found = state
        .service
        .registered_client(&client_id, &token)
        .await
        .map_err(refused)?;
    let body = information(&state, found.client, None, None);
    Ok(no_store(HttpResponse::Ok()).json(body))
}

/// `PUT /register/{client_id}` (RFC 7592 section 2.2): the metadata replaced whole, under
/// the same policy as a registration, and a new registration access token.
pub async fn update(
    req: HttpRequest,
    client_id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let settings = &state.config.registration;
    if !settings.enabled() {
        return Ok(closed());
    }
    let token = required_token(&req)?;
    let current = state
        .service
        .registered_client(&client_id, &token)
        .await
        .map_err(refused)?;
    let metadata = metadata_of(&req, &body)?;
    // A client keeps client_credentials if an initial access token gave it; no update adds it.
    let registrant = if vouched_for(&current.client.grant_types) {
        Registrant::InitialAccessToken
    } else {
        Registrant::Anonymous
    };
    let checked = policy::check(&metadata, settings, registrant)?;
    policy::check_update(
        &metadata,
        &client_id,
        current.secret_digest.as_deref(),
        &checked,
    )?;
    let (view, next_token) = state
        .service
        .update_registration(&client_id, &token, &checked)
        .await
        .map_err(refused)?;
    let body = information(&state, view, None, Some(&next_token));
    Ok(no_store(HttpResponse::Ok()).json(body))
}

/// `DELETE /register/{client_id}` (RFC 7592 section 2.3): the client and everything issued
/// to it.
pub async fn delete(
    req: HttpRequest,
    client_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    if !state.config.registration.enabled() {
        return Ok(closed());
    }
    let token = required_token(&req)?;
    state
        .service
        .delete_registration(&client_id, &token)
        .await
        .map_err(refused)?;
    Ok(no_store(HttpResponse::NoContent()).finish())
}
