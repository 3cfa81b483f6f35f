//! `/admin/v1/keys`: the signing keys and their lifecycle.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::auth::Principal;
use super::error::{AdminError, ErrorBody};
use super::extract::{OptionalJson, PathParam};
use crate::crypto::keystore::{KeyInfo, RotationOutcome};
use crate::http::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// Switch at once (a compromised key): relying parties with a cached JWKS will not
    /// know the new key until they refetch.
    #[serde(default)]
    pub immediately: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyRetired {
    pub retired: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeysRewrapped {
    /// How many keys were re-encrypted.
    pub rewrapped: usize,
}

#[utoipa::path(
    get, path = "/admin/v1/keys", tag = "keys", operation_id = "list_keys",
    responses((status = 200, description = "Published keys and their lifecycle (never key material)", body = Vec<KeyInfo>))
)]
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.service.list_keys(&state.keys))
}

#[utoipa::path(
    post, path = "/admin/v1/keys/rotate", tag = "keys", operation_id = "rotate_keys",
    request_body(content = Option<RotateRequest>, description = "Empty for a safe rotation"),
    responses(
        (status = 200, description = "The key that signs next, and from when", body = RotationOutcome),
        (status = 409, description = "Another replica is rotating", body = ErrorBody),
    )
)]
pub async fn rotate(
    state: web::Data<AppState>,
    principal: Principal,
    OptionalJson(body): OptionalJson<RotateRequest>,
) -> Result<HttpResponse, AdminError> {
    let outcome = state
        .service
        .rotate_keys(&principal.actor, &state.keys, body.immediately)
        .await?;
    Ok(HttpResponse::Ok().json(outcome))
}

#[utoipa::path(
    post, path = "/admin/v1/keys/{kid}/retire", tag = "keys", operation_id = "retire_key",
    params(("kid" = String, Path, description = "The key id")),
    responses(
        (status = 200, description = "A pending key is deleted; the active key is replaced at once", body = KeyRetired),
        (status = 404, description = "No such key", body = ErrorBody),
        (status = 409, description = "The key is already retired", body = ErrorBody),
    )
)]
pub async fn retire(
    state: web::Data<AppState>,
    principal: Principal,
    kid: PathParam,
) -> Result<HttpResponse, AdminError> {
    state
        .service
        .retire_key(&principal.actor, &state.keys, &kid)
        .await?;
    Ok(HttpResponse::Ok().json(KeyRetired {
        retired: kid.into_inner(),
    }))
}

#[utoipa::path(
    post, path = "/admin/v1/keys/rewrap", tag = "keys", operation_id = "rewrap_keys",
    responses((status = 200, description = "Every key re-encrypted under the first configured master key", body = KeysRewrapped))
)]
pub async fn rewrap(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, AdminError> {
    let rewrapped = state
        .service
        .rewrap_keys(&principal.actor, &state.keys)
        .await?;
    Ok(HttpResponse::Ok().json(KeysRewrapped { rewrapped }))
}
