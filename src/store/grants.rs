//! Grants and their refresh tokens as the token endpoint, introspection and revocation
//! see them: named operations that take and return plain types, each one transaction.
//! A change and its audit event commit together (revocation, refresh reuse, code replay),
//! and spending an authorization code stores the grant it creates in the same transaction.
//! The rows and the SQL stay in `models`.

use super::audit::{AuditEvent, Change};
use super::models::authorization::{self as codes, AuthorizationCodeRow, CodeUserRow};
use super::models::grants::{self as rows, GrantRow, RefreshLookup, RefreshTokenRow};
use super::{Store, StoreError};

/// A stored grant: what a user (or a client) was given, and whether it still holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    /// `None` for a grant without a resource owner.
    pub user_id: Option<String>,
    /// Space-separated, as granted.
    pub scope: String,
    pub auth_time: Option<i64>,
    pub expires_at: i64,
    pub revoked: bool,
    /// RFC 8707 resources granted; empty: tokens are for this server.
    pub resources: Vec<String>,
}

/// A stored JSON list of strings. Written by our own code: anything else is corrupt,
/// never "none", for a grant read as having no resources would be a grant for this server.
fn stored_list(raw: &str, what: &'static str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(raw).map_err(|_| StoreError::Corrupt(format!("{what} is not a JSON list")))
}

fn list_to_stored(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}

impl TryFrom<GrantRow> for Grant {
    type Error = StoreError;
    fn try_from(row: GrantRow) -> Result<Self, StoreError> {
        Ok(Self {
            resources: stored_list(&row.resources, "grant resources")?,
            id: row.id,
            client_id: row.client_id,
            user_id: row.user_id,
            scope: row.scope,
            auth_time: row.auth_time,
            expires_at: row.expires_at,
            revoked: row.revoked_at.is_some(),
        })
    }
}

/// A stored refresh token (known by its digest only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshToken {
    pub issued_at: i64,
    pub expires_at: i64,
    /// Spent: a successor was issued, so presenting it again is reuse.
    pub rotated: bool,
}

impl From<RefreshTokenRow> for RefreshToken {
    fn from(row: RefreshTokenRow) -> Self {
        Self {
            issued_at: row.issued_at,
            expires_at: row.expires_at,
            rotated: row.rotated_at.is_some(),
        }
    }
}

/// A grant about to be stored for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub resources: Vec<String>,
}

impl NewGrant {
    fn row(&self) -> GrantRow {
        GrantRow {
            id: self.id.clone(),
            client_id: self.client_id.clone(),
            user_id: Some(self.user_id.clone()),
            scope: self.scope.clone(),
            auth_time: Some(self.auth_time),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: None,
            revoked_reason: None,
            resources: list_to_stored(&self.resources),
        }
    }
}

/// A refresh token about to be stored under a grant: its digest, never the token.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub digest: Vec<u8>,
    pub issued_at: i64,
    pub expires_at: i64,
}

// The digest is not secret, but it names a live token: kept out of logs all the same.
impl std::fmt::Debug for NewRefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewRefreshToken")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl NewRefreshToken {
    fn row(&self, grant_id: &str) -> RefreshTokenRow {
        RefreshTokenRow {
            digest: self.digest.clone(),
            grant_id: grant_id.to_owned(),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            rotated_at: None,
        }
    }
}

/// What a refresh needs to decide, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshUse {
    pub token: RefreshToken,
    pub grant: Grant,
    /// The grant's client now, read from the database, not from a cache.
    pub client: GrantClient,
    /// The grant's user now; `None` when the grant has no user or the user is gone.
    pub user: Option<GrantUser>,
}

/// A grant's client as a refresh sees it: what it may still be granted, and whether it is
/// still the registration the grant was made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantClient {
    pub disabled: bool,
    /// The JSON list of scopes the client may be granted now, as stored.
    pub scopes: String,
    /// Which registration of the client_id this is (the access tokens' `client_instance`).
    pub instance: String,
    /// The RFC 8707 resources the client may name now.
    pub resources: Vec<String>,
    /// Who registered it now (`cli`, `api`, `registration`, `metadata_document`): what its
    /// resources mean depends on it.
    pub origin: String,
}

/// A grant's user as a refresh sees it: roles are read fresh on every use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantUser {
    pub disabled: bool,
    pub roles: Vec<String>,
}

/// A stored authorization code (known by its digest only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the authorization request carried `redirect_uri` (RFC 6749 section 4.1.3).
    pub redirect_uri_given: bool,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub sid: Option<String>,
    /// Authentication methods of the login the code came from (OIDC Core `amr`).
    pub amr: Vec<String>,
    pub expires_at: i64,
    /// Redeemed already: presenting it again is a replay.
    pub consumed: bool,
    /// RFC 8707 resources the authorization request was granted.
    pub resources: Vec<String>,
    /// The `acr` its ID token states (None for codes issued before it was recorded).
    pub acr: Option<String>,
}

/// The user a code was issued for, with what an ID token may say about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeUser {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub disabled: bool,
    pub roles: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a code redemption needs to decide, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRedemption {
    pub code: AuthorizationCode,
    pub user: CodeUser,
}

fn redemption(
    code: AuthorizationCodeRow,
    user: CodeUserRow,
    roles: Vec<String>,
) -> Result<CodeRedemption, StoreError> {
    // Written by our own flow as a JSON list: anything else is corrupt, never "no amr".
    let amr = serde_json::from_str(&code.amr)
        .map_err(|_| StoreError::Corrupt("authorization code amr is not a JSON list".into()))?;
    let resources = stored_list(&code.resources, "authorization code resources")?;
    Ok(CodeRedemption {
        code: AuthorizationCode {
            client_id: code.client_id,
            redirect_uri: code.redirect_uri,
            redirect_uri_given: code.redirect_uri_given,
            scope: code.scope,
            nonce: code.nonce,
            code_challenge: code.code_challenge,
            auth_time: code.auth_time,
            sid: code.sid,
            amr,
            expires_at: code.expires_at,
            consumed: code.consumed_at.is_some(),
            resources,
            acr: code.acr,
        },
        user: CodeUser {
            id: user.id,
            username: user.username,
            email: user.email,
            email_verified: user.email_verified,
            name: user.name,
            disabled: user.disabled,
            roles,
            created_at: user.created_at,
            updated_at: user.updated_at,
        },
    })
}

impl Store {
    /// The authorization code with this digest and its user, in one round trip.
    pub async fn find_code_for_redemption(
        &self,
        digest: Vec<u8>,
    ) -> Result<Option<CodeRedemption>, StoreError> {
        self.run(move |conn| codes::find_code_for_redemption(conn, &digest))
            .await?
            .map(|(code, user, roles)| redemption(code, user, roles))
            .transpose()
    }

    /// Spends the code and stores the grant (and its first refresh token) its redemption
    /// creates, in one transaction. `false`, and nothing stored, when the code was spent
    /// already (by a concurrent redemption).
    pub async fn take_code_and_issue_grant(
        &self,
        code_digest: Vec<u8>,
        now: i64,
        grant: NewGrant,
        refresh: Option<NewRefreshToken>,
    ) -> Result<bool, StoreError> {
        self.run(move |conn| {
            let refresh = refresh.map(|r| r.row(&grant.id));
            rows::take_code_and_insert_grant(
                conn,
                &code_digest,
                now,
                &grant.row(),
                refresh.as_ref(),
            )
        })
        .await
    }

    /// Stores a user's new grant and, when given, its first refresh token: both or neither.
    pub async fn issue_user_grant(
        &self,
        grant: NewGrant,
        refresh: Option<NewRefreshToken>,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            let refresh = refresh.map(|r| r.row(&grant.id));
            rows::insert_grant_with_refresh(conn, &grant.row(), refresh.as_ref())
        })
        .await
    }

    /// A code was presented again: revokes the grant its first redemption created and
    /// records `event` (its subject: that grant) in the same transaction. Nothing is
    /// recorded when the code names no grant.
    pub async fn revoke_code_grant_with_audit(
        &self,
        code_digest: Vec<u8>,
        now: i64,
        reason: &'static str,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let meant = event.clone();
        self.run_audited(Change::Revokes, now, Some(meant), move |conn| {
            let revoked = codes::revoke_grant_of_code(conn, &code_digest, now, reason)?;
            Ok(revoked.map(|grant_id| ((), event.subject(grant_id))))
        })
        .await
        .map(|_| ())
    }

    /// Revokes a grant, so its refresh tokens and (through the `gid` deny-list) its
    /// access tokens stop working, and records `event` in the same transaction.
    pub async fn revoke_grant_with_audit(
        &self,
        grant_id: String,
        now: i64,
        reason: &'static str,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let meant = event.clone();
        self.run_audited(Change::Revokes, now, Some(meant), move |conn| {
            rows::revoke_grant(conn, &grant_id, now, reason)?;
            Ok(Some(((), event)))
        })
        .await
        .map(|_| ())
    }

    /// The refresh token with this digest and its grant.
    pub async fn find_refresh_token(
        &self,
        digest: Vec<u8>,
    ) -> Result<Option<(RefreshToken, Grant)>, StoreError> {
        self.run(move |conn| rows::find_refresh_token(conn, &digest))
            .await?
            .map(|(token, grant)| Ok((token.into(), grant.try_into()?)))
            .transpose()
    }

    /// The refresh token with this digest, its grant and the grant's user with roles, in
    /// one round trip.
    pub async fn find_refresh_token_for_use(
        &self,
        digest: Vec<u8>,
    ) -> Result<Option<RefreshUse>, StoreError> {
        self.run(move |conn| rows::find_refresh_token_for_use(conn, &digest))
            .await?
            .map(
                |RefreshLookup {
                     token,
                     grant,
                     client,
                     user,
                 }| {
                    Ok(RefreshUse {
                        token: token.into(),
                        grant: grant.try_into()?,
                        client: GrantClient {
                            disabled: client.disabled,
                            scopes: client.scopes,
                            instance: client.instance,
                            resources: stored_list(&client.resources, "client resources")?,
                            origin: client.origin,
                        },
                        user: user.map(|u| GrantUser {
                            disabled: u.disabled,
                            roles: u.roles,
                        }),
                    })
                },
            )
            .transpose()
    }

    /// Spends the refresh token with digest `spent` if nobody has yet and stores its
    /// successor under `grant_id`, in one transaction (one statement on Postgres). `false`,
    /// and nothing stored, when another presenter won.
    pub async fn rotate_refresh(
        &self,
        spent: Vec<u8>,
        now: i64,
        grant_id: String,
        next: NewRefreshToken,
    ) -> Result<bool, StoreError> {
        self.run(move |conn| rows::rotate_refresh_token(conn, &spent, now, &next.row(&grant_id)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(amr: &str) -> AuthorizationCodeRow {
        AuthorizationCodeRow {
            digest: vec![1; 32],
            client_id: "web".into(),
            user_id: "u1".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_given: true,
            scope: "openid".into(),
            nonce: None,
            code_challenge: None,
            auth_time: 10,
            sid: None,
            amr: amr.into(),
            created_at: 10,
            expires_at: 70,
            consumed_at: None,
            grant_id: None,
            resources: "[]".into(),
            acr: None,
        }
    }

    fn user() -> CodeUserRow {
        CodeUserRow {
            id: "u1".into(),
            username: "alice".into(),
            email: None,
            email_verified: false,
            name: None,
            disabled: false,
            created_at: 1,
            updated_at: 2,
        }
    }

    #[test]
    fn a_code_reads_as_its_domain_type() {
        let r = redemption(code(r#"["pwd"]"#), user(), vec!["admin".into()]).unwrap();
        assert_eq!(r.code.amr, vec!["pwd".to_owned()]);
        assert!(!r.code.consumed);
        assert_eq!(r.user.roles, vec!["admin".to_owned()]);
        let none = redemption(code("[]"), user(), Vec::new()).unwrap();
        assert!(none.code.amr.is_empty());
    }

    #[test]
    fn a_corrupt_amr_is_an_error_not_an_empty_list() {
        for corrupt in ["", "pwd", "{}", "[1]"] {
            assert!(
                matches!(
                    redemption(code(corrupt), user(), Vec::new()),
                    Err(StoreError::Corrupt(_))
                ),
                "{corrupt:?}"
            );
        }
    }
}
