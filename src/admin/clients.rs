//! `/admin/v1/clients`: OAuth clients, with RFC 7591 client-metadata names.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::auth::Principal;
use super::double_option;
use super::error::{AdminError, ErrorBody};
use super::extract::{Json, OptionalJson, PathParam};
use crate::http::state::AppState;
use crate::manage::clients::{ClientUpdate, ClientView, NewClient};
use crate::manage::registration::CreatedRegistrationToken;

/// A new client. A confidential client (any `token_endpoint_auth_method` but `none`)
/// gets a generated secret, returned once in the response.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientCreate {
    /// Chosen by the server (a UUID) when absent; otherwise 1 to 128 of `A-Z a-z 0-9 - . _ ~`.
    pub client_id: Option<String>,
    pub client_name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Default: `authorization_code refresh_token` with redirect URIs, else `client_credentials`.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Space-separated scope values the client may be granted.
    pub scope: Option<String>,
    /// `client_secret_basic` (default), `client_secret_post`, or `none` (a public client).
    pub token_endpoint_auth_method: Option<String>,
    /// Roles the client holds as a service account (e.g. `operator`).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Skips the consent page.
    #[serde(default)]
    pub first_party: bool,
    /// Default true; only confidential clients may turn it off.
    pub require_pkce: Option<bool>,
    /// Every user who signs in through this client must use a second factor. Default false.
    #[serde(default)]
    pub require_mfa: bool,
    pub access_token_lifetime: Option<i64>,
    pub refresh_token_lifetime: Option<i64>,
    /// RFC 8707 resource URIs (absolute, no fragment) the client may name with `resource`;
    /// each is then the audience of the tokens. Empty: tokens are for this server only.
    #[serde(default)]
    pub resources: Vec<String>,
}

/// Changes to a client: absent fields stay as they are, lists are replaced whole, and
/// `null` resets a lifetime to the server default.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    pub client_name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub scope: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub roles: Option<Vec<String>>,
    pub first_party: Option<bool>,
    pub require_pkce: Option<bool>,
    pub require_mfa: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub access_token_lifetime: Option<Option<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub refresh_token_lifetime: Option<Option<i64>>,
    pub disabled: Option<bool>,
    /// Replaces the RFC 8707 allow-list whole; `[]` clears it.
    pub resources: Option<Vec<String>>,
}

/// A client and, for a confidential one, its secret (RFC 7591 section 3.2.1). No
/// `Debug`: it holds a secret.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientWithSecret {
    #[serde(flatten)]
    pub client: ClientView,
    /// Shown once; only its digest is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// 0: the secret does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
}

/// A new secret for an existing client. No `Debug`: it holds a secret.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientSecret {
    pub client_id: String,
    pub client_secret: String,
    pub client_secret_expires_at: i64,
}

fn scopes(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_owned).collect()
}

fn no_store(mut response: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    response.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    response
}

#[utoipa::path(
    get, path = "/admin/v1/clients", tag = "clients", operation_id = "list_clients",
    responses((status = 200, description = "Every client, by client_id", body = Vec<ClientView>))
)]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(state.service.list_clients().await?))
}

#[utoipa::path(
    get, path = "/admin/v1/clients/{client_id}", tag = "clients", operation_id = "get_client",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client", body = ClientView),
        (status = 404, description = "No such client", body = ErrorBody),
    )
)]
pub async fn get(state: web::Data<AppState>, id: PathParam) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(state.service.get_client(&id).await?))
}

#[utoipa::path(
    post, path = "/admin/v1/clients", tag = "clients", operation_id = "create_client",
    request_body = ClientCreate,
    responses(
        (status = 201, description = "Registered; the secret is in this response only", body = ClientWithSecret),
        (status = 400, description = "Invalid metadata (the field is named)", body = ErrorBody),
        (status = 409, description = "The client_id is taken", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    Json(body): Json<ClientCreate>,
) -> Result<HttpResponse, AdminError> {
    let public = body.token_endpoint_auth_method.as_deref() == Some("none");
    let created = state
        .service
        .create_client(
            principal.caller(),
            NewClient {
                name: body.client_name,
                client_id: body.client_id,
                public,
                redirect_uris: body.redirect_uris,
                post_logout_redirect_uris: body.post_logout_redirect_uris,
                grant_types: body.grant_types,
                // No `scope` means none asked for: create_client applies its defaults.
                scopes: body.scope.as_deref().map(scopes).unwrap_or_default(),
                roles: body.roles,
                first_party: body.first_party,
                token_endpoint_auth_method: body.token_endpoint_auth_method,
                require_pkce: body.require_pkce,
                require_mfa: body.require_mfa,
                access_token_lifetime: body.access_token_lifetime,
                refresh_token_lifetime: body.refresh_token_lifetime,
                resources: body.resources,
                origin: None,
                application_type: None,
                client_uri: None,
                logo_uri: None,
            },
        )
        .await?;
    let secret = created
        .client_secret
        .as_ref()
        .map(|s| s.expose().to_owned());
    Ok(no_store(HttpResponse::Created()).json(ClientWithSecret {
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret,
        client: created.client,
    }))
}

#[utoipa::path(
    patch, path = "/admin/v1/clients/{client_id}", tag = "clients", operation_id = "update_client",
    params(("client_id" = String, Path, description = "The client's id")),
    request_body = ClientPatch,
    responses(
        (status = 200, description = "The client after the change", body = ClientView),
        (status = 400, description = "Invalid metadata (the field is named)", body = ErrorBody),
        (status = 404, description = "No such client", body = ErrorBody),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    id: PathParam,
    Json(body): Json<ClientPatch>,
) -> Result<HttpResponse, AdminError> {
    let change = ClientUpdate {
        name: body.client_name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        grant_types: body.grant_types,
        scopes: body.scope.as_deref().map(scopes),
        roles: body.roles,
        first_party: body.first_party,
        token_endpoint_auth_method: body.token_endpoint_auth_method,
        require_pkce: body.require_pkce,
        require_mfa: body.require_mfa,
        access_token_lifetime: body.access_token_lifetime,
        refresh_token_lifetime: body.refresh_token_lifetime,
        disabled: body.disabled,
        resources: body.resources,
    };
    Ok(HttpResponse::Ok().json(
        state
            .service
            .update_client(principal.caller(), &id, change)
            .await?,
    ))
}

#[utoipa::path(
    delete, path = "/admin/v1/clients/{client_id}", tag = "clients", operation_id = "delete_client",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 204, description = "Deleted, with its grants and refresh tokens"),
        (status = 404, description = "No such client", body = ErrorBody),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    id: PathParam,
) -> Result<HttpResponse, AdminError> {
    state.service.delete_client(principal.caller(), &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post, path = "/admin/v1/clients/{client_id}/rotate-secret", tag = "clients",
    operation_id = "rotate_client_secret",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The new secret, shown once; the old one no longer works", body = ClientSecret),
        (status = 404, description = "No such client", body = ErrorBody),
        (status = 409, description = "A public client has no secret", body = ErrorBody),
    )
)]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    principal: Principal,
    id: PathParam,
) -> Result<HttpResponse, AdminError> {
    let secret = state
        .service
        .rotate_client_secret(principal.caller(), &id)
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(ClientSecret {
        client_id: id.into_inner(),
        client_secret: secret.expose().to_owned(),
        client_secret_expires_at: 0,
    }))
}

#[utoipa::path(
    post, path = "/admin/v1/clients/{client_id}/promote", tag = "clients",
    operation_id = "promote_client",
    params(("client_id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client, now an operator's (`origin: api`): the janitor keeps it and its registration access token no longer works", body = ClientView),
        (status = 404, description = "No such client", body = ErrorBody),
        (status = 409, description = "Not a self-registered client", body = ErrorBody),
    )
)]
pub async fn promote(
    state: web::Data<AppState>,
    principal: Principal,
    id: PathParam,
) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(
        state
            .service
            .promote_client(principal.caller(), &id)
            .await?,
    ))
}

/// A new initial access token for `registration.mode = "initial_access_token"` (RFC 7591
/// section 3).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationTokenCreate {
    /// Registrations it allows (1 to 10000); default 1.
    pub uses: Option<u32>,
    /// Seconds it lives (60 to 366 days); default 7 days.
    pub expires_in: Option<i64>,
}

#[utoipa::path(
    post, path = "/admin/v1/registration-tokens", tag = "clients",
    operation_id = "create_registration_token",
    request_body = RegistrationTokenCreate,
    responses(
        (status = 201, description = "The token, in this response only; its digest is stored", body = CreatedRegistrationToken),
        (status = 400, description = "`uses` or `expires_in` out of range", body = ErrorBody),
    )
)]
pub async fn create_registration_token(
    state: web::Data<AppState>,
    principal: Principal,
    OptionalJson(body): OptionalJson<RegistrationTokenCreate>,
) -> Result<HttpResponse, AdminError> {
    let created = state
        .service
        .create_registration_token(principal.caller(), body.uses, body.expires_in)
        .await?;
    Ok(no_store(HttpResponse::Created()).json(created))
}
