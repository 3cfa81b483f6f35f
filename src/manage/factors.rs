//! A user's second factors as operators see and change them (issue 20): list them (never a
//! secret or a credential), reset them, and provision a TOTP authenticator. The writes go
//! through `Service::write_user` like every other write to a user, so an admin-API
//! principal cannot reset the factors of a user who holds more than it does.

use serde::Serialize;
use zeroize::Zeroizing;

use super::authority::Caller;
use super::users::{Written, signed_out_json};
use super::{ManageError, Service};
use crate::audit::AuditEvent;
use crate::oauth::mfa::{MfaKit, kind_name, totp};
use crate::store::StoreError;
use crate::store::audit::Change;
use crate::store::factors::{self as stored, Factor};

/// One factor as operators see it: what it is and when it was used, never its sealed
/// secret or its passkey credential.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FactorView {
    pub id: String,
    /// `totp` or `passkey`.
    pub kind: String,
    pub name: String,
    /// False for a TOTP enrolment still waiting for its first code.
    pub confirmed: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<&Factor> for FactorView {
    fn from(f: &Factor) -> Self {
        Self {
            id: f.id.clone(),
            kind: kind_name(f.kind).to_owned(),
            name: f.name.clone(),
            confirmed: f.confirmed,
            created_at: f.created_at,
            last_used_at: f.last_used_at,
        }
    }
}

/// A user's factors, oldest first, and how many recovery codes they have left.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserFactorsView {
    pub user_id: String,
    pub username: String,
    pub factors: Vec<FactorView>,
    pub recovery_codes_left: u32,
}

/// What a reset removed and ended.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FactorsReset {
    /// Factors removed (TOTP authenticators and passkeys); the recovery codes went too.
    pub factors_removed: usize,
    /// Grants revoked by the sign-out everywhere that comes with a reset.
    pub sessions_revoked: usize,
}

/// A provisioned TOTP authenticator: what the user's app needs, shown once. No `Debug`.
pub struct ProvisionedTotp {
    pub factor_id: String,
    /// The secret in base32.
    pub secret: Zeroizing<String>,
    /// The `otpauth://` URI carrying it.
    pub otpauth_uri: Zeroizing<String>,
}

/// What the CLI says when the user has an authenticator already.
pub const HAS_TOTP: &str =
    "the user already has a confirmed authenticator app (reset their factors first)";

impl Service {
    /// The user's factors and recovery codes left.
    pub async fn list_user_factors(&self, key: &str) -> Result<UserFactorsView, ManageError> {
        let user = self.get_user(key).await?;
        let factors = self.store.factors_of(&user.id).await?;
        let counts = self
            .store
            .user_factors(&user.id)
            .await?
            .ok_or(ManageError::NotFound("user"))?;
        Ok(UserFactorsView {
            user_id: user.id,
            username: user.username,
            factors: factors.iter().map(FactorView::from).collect(),
            recovery_codes_left: counts.recovery_codes,
        })
    }

    /// Removes every factor and recovery code of the user and signs them out everywhere
    /// (their sessions and refresh families were reached with the factors being taken
    /// away), in one transaction with its `factors.reset` row.
    pub async fn reset_user_factors(
        &self,
        by: impl Into<Caller>,
        key: &str,
    ) -> Result<FactorsReset, ManageError> {
        let now = self.clock.now();
        self.write_user(
            by.into(),
            key,
            Change::Revokes,
            "factors.reset",
            move |conn, record| {
                let id = record.row.id.clone();
                let (removed, signed_out) = stored::reset(conn, &id, now)?;
                let mut details = signed_out_json(&signed_out);
                if let Some(obj) = details.as_object_mut() {
                    obj.insert("factors_removed".into(), removed.into());
                }
                let event = AuditEvent::new("factors.reset")
                    .subject(id)
                    .details(details);
                let reset = FactorsReset {
                    factors_removed: removed,
                    sessions_revoked: signed_out.grants.len(),
                };
                Ok(Written::kept(reset, &record, Some(event)))
            },
        )
        .await
    }

    /// Gives the user a confirmed TOTP authenticator made here, for provisioning and
    /// tests: the secret is sealed with `kit`, which must hold the server's master keys
    /// (`crate::app::mfa_kit`), and handed back once. Refused when the user already has a
    /// confirmed one; an enrolment waiting for its first code is replaced.
    pub async fn enroll_user_totp(
        &self,
        by: impl Into<Caller>,
        key: &str,
        kit: &MfaKit,
    ) -> Result<ProvisionedTotp, ManageError> {
        let user = self.get_user(key).await?;
        let now = self.clock.now();
        let (factor, handed) =
            totp::provisioned(kit, &user.id, &user.username, now).map_err(|_| {
                ManageError::Store(StoreError::Corrupt(
                    "cannot make a sealed TOTP secret".into(),
                ))
            })?;
        let factor_id = factor.id.clone();
        // By id: the secret was sealed for this user, whatever the key named meanwhile.
        self.write_user(
            by.into(),
            &user.id,
            Change::Other,
            "factor.enrolled",
            move |conn, record| {
                if record.row.id != factor.user_id {
                    return Err(ManageError::NotFound("user"));
                }
                if !stored::add_totp(conn, &factor)? {
                    return Err(ManageError::Refused(HAS_TOTP));
                }
                let event = AuditEvent::new("factor.enrolled")
                    .subject(record.row.id.clone())
                    .details(serde_json::json!({
                        "factor": kind_name(factor.kind),
                        "factor_id": factor.id,
                        "provisioned": true,
                    }));
                Ok(Written::kept((), &record, Some(event)))
            },
        )
        .await?;
        Ok(ProvisionedTotp {
            factor_id,
            secret: handed.secret,
            otpauth_uri: handed.uri,
        })
    }
}
