//! Client authentication for every endpoint that takes it (token, introspection,
//! revocation): find the presented client, check its credentials, log why a failure
//! failed, and answer the caller only the generic `invalid_client`.

use std::sync::Arc;

use super::RegisteredClient;
use super::authentication::{self, presented_credentials};
use crate::oauth::context::{Ctx, store_error};
use crate::oauth::error::OAuthError;
use crate::oauth::form::FormMap;

pub async fn authenticate(
    ctx: &Ctx<'_>,
    authorization: Option<&str>,
    form: &FormMap,
) -> Result<Arc<RegisteredClient>, OAuthError> {
    let presented = presented_credentials(authorization, form)?;
    let registered = ctx
        .clients
        .get(presented.client_id())
        .await
        .map_err(store_error)?;
    match authentication::authenticate(&presented, registered.as_deref()) {
        Ok(_) => registered.ok_or(OAuthError::ServerError),
        Err(err) => {
            tracing::info!(
                client_id = presented.client_id(),
                reason = err.reason.as_str(),
                "client authentication failed"
            );
            Err(err.into())
        }
    }
}
