//! `/account/apps`: the applications the user let into their account (the consents they
//! gave, `Store::connected_apps`), each with the scopes granted. Revoking one forgets the
//! consent (the next sign-in through it asks again) and ends every refresh-token family
//! the client holds for the user, with the access tokens issued under them, and its codes
//! not yet redeemed (`Store::revoke_app`, one transaction, audited as `app.revoked`).

use super::Account;
use crate::audit::{AuditActor, AuditEvent};
use crate::oauth::context::Ctx;
use crate::oauth::flow::BrowserError;

/// One application as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub client_id: String,
    /// The client's name, or its id when it has none (or is gone).
    pub name: String,
    pub scopes: Vec<String>,
    /// When the consent was first given, and last widened.
    pub created_at: i64,
    pub updated_at: i64,
}

/// The user's connected applications, by client id.
pub async fn list(ctx: &Ctx<'_>, account: &Account) -> Result<Vec<Listed>, BrowserError> {
    Ok(ctx
        .store
        .connected_apps(&account.session.user_id)
        .await?
        .into_iter()
        .map(|app| Listed {
            name: app
                .client_name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| app.client_id.clone()),
            scopes: app
                .scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            client_id: app.client_id,
            created_at: app.created_at,
            updated_at: app.updated_at,
        })
        .collect())
}

/// POST /account/apps/revoke: true when something was revoked (false: the user had
/// nothing with that client, and nothing changed).
pub async fn revoke(
    ctx: &Ctx<'_>,
    account: &Account,
    client_id: &str,
) -> Result<bool, BrowserError> {
    let user_id = account.session.user_id.clone();
    let client = client_id.to_owned();
    let ip = ctx.client_ip.map(|ip| ip.to_string());
    let revoked = ctx
        .store
        .revoke_app(&account.session.user_id, client_id, ctx.now, move |r| {
            AuditEvent::new("app.revoked")
                .by(AuditActor::user(&user_id))
                .subject(user_id.clone())
                .details(serde_json::json!({
                    "client_id": client,
                    "consent_removed": r.consent,
                    "grants": r.grants,
                    "codes_deleted": r.codes,
                    "ip": ip,
                }))
        })
        .await?;
    Ok(revoked.is_some())
}
