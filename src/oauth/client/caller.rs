//! Client authentication for every endpoint that takes it (token, introspection,
//! revocation): find the presented client, check its credentials, log why a failure
//! failed, and answer the caller only the generic `invalid_client`.
//!
//! Failures are counted per address apart from requests (`super::failures`): the bucket is
//! consulted before credentials are read or a secret is compared, and every failure
//! (malformed credentials included) fills it, so a guesser soon gets nothing checked,
//! while a client that authenticates is never slowed by its own requests.

use std::sync::Arc;

use super::RegisteredClient;
use super::authentication::{self, presented_credentials};
use crate::oauth::context::Ctx;
use crate::oauth::error::OAuthError;
use crate::oauth::form::FormMap;

pub async fn authenticate(
    ctx: &Ctx<'_>,
    authorization: Option<&str>,
    form: &FormMap,
) -> Result<Arc<RegisteredClient>, OAuthError> {
    let failures = ctx.client_auth_failures;
    if let Some(key) = ctx.client_key
        && let Err(wait) = failures.check(key, ctx.started)
    {
        ctx.metrics
            .rate_limited
            .with_label_values(&["client_auth_failures"])
            .inc();
        return Err(OAuthError::too_many_client_auth_failures(
            u32::try_from(wait).unwrap_or(u32::MAX),
        ));
    }
    let failed = || {
        if let Some(key) = ctx.client_key {
            failures.failed(key, ctx.started);
        }
    };
    let presented = presented_credentials(authorization, form).inspect_err(|_| failed())?;
    // A client from a metadata document is read as stored, its document fetched again
    // when stale; a URL never stored is not fetched (`registration::metadata_clients`).
    let registered =
        crate::oauth::registration::metadata_clients::for_token(ctx, presented.client_id()).await?;
    match authentication::authenticate(&presented, registered.as_deref()) {
        Ok(_) => registered.ok_or(OAuthError::ServerError),
        Err(err) => {
            failed();
            tracing::info!(
                client_id = presented.client_id(),
                reason = err.reason.as_str(),
                "client authentication failed"
            );
            Err(err.into())
        }
    }
}
