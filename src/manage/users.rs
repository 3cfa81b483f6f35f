use diesel::Connection;
use serde::Serialize;
use zeroize::Zeroizing;

use super::{Actor, ManageError, Service, dedup_sorted, invalid, validate_role};
use crate::accounts::username;
use crate::audit::AuditEvent;
use crate::crypto::tokens::random_password;
use crate::store::models::grants;
use crate::store::models::users::{self as rows, UserRecord, UserRow};
use crate::store::{DbConnection, StoreError};

/// The shortest password we accept for a person (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// A user as shown to operators: never the password hash.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct UserView {
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

impl From<UserRecord> for UserView {
    fn from(r: UserRecord) -> Self {
        Self {
            id: r.row.id,
            username: r.row.username,
            email: r.row.email,
            email_verified: r.row.email_verified,
            name: r.row.name,
            disabled: r.row.disabled,
            roles: r.roles,
            created_at: r.row.created_at,
            updated_at: r.row.updated_at,
        }
    }
}

#[derive(Debug, Default)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub roles: Vec<String>,
    /// None: generate one and return it.
    pub password: Option<Zeroizing<String>>,
}

/// Fields to change; `None` leaves a field as it is, `Some(None)` clears an optional one.
#[derive(Debug, Default, Clone)]
pub struct UserUpdate {
    pub username: Option<String>,
    pub email: Option<Option<String>>,
    pub email_verified: Option<bool>,
    pub name: Option<Option<String>>,
}

/// An active grant of a user, shown as a "session" until server-side login sessions
/// exist: revoking it ends every refresh and access token issued under it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SessionView {
    /// The grant id (the `gid` claim of the tokens issued under it).
    pub id: String,
    pub client_id: String,
    pub scope: String,
    pub auth_time: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug)]
pub struct CreatedUser {
    pub user: UserView,
    /// Set when the password was generated: shown once, never stored in clear.
    pub generated_password: Option<Zeroizing<String>>,
}

pub(super) fn validate_email(email: &str) -> Result<(), ManageError> {
    let mut parts = email.split('@');
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "email",
            format!("`{email}` is not an email address"),
        ))
    }
}

pub(super) fn validate_name(name: &str) -> Result<(), ManageError> {
    if name.trim().is_empty() || name.chars().count() > 256 || name.chars().any(char::is_control) {
        return Err(invalid("name", "must be 1 to 256 printable characters"));
    }
    Ok(())
}

pub fn validate_password(password: &str) -> Result<(), ManageError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > crate::crypto::password::MAX_PASSWORD_BYTES {
        return Err(invalid("password", "is too long"));
    }
    Ok(())
}

/// What a sign-out everywhere ended, as its audit row shows it.
pub(super) fn signed_out_json(signed_out: &grants::SignedOut) -> serde_json::Value {
    serde_json::json!({
        "grants": signed_out.grants,
        "sessions_ended": signed_out.sessions,
        "codes_deleted": signed_out.codes,
        "requests_deleted": signed_out.requests,
    })
}

pub(super) fn normalise(raw: &str) -> Result<String, ManageError> {
    username::normalise(raw).map_err(|e| invalid("username", e.to_string()))
}

/// The checks `user create` and an import apply to a new user's profile; returns the
/// normalised username.
pub(super) fn validate_new_user(
    username: &str,
    email: Option<&str>,
    name: Option<&str>,
    roles: &[String],
) -> Result<String, ManageError> {
    let username = normalise(username)?;
    if let Some(email) = email {
        validate_email(email)?;
    }
    if let Some(name) = name {
        validate_name(name)?;
    }
    for role in roles {
        validate_role(role)?;
    }
    Ok(username)
}

impl Service {
    pub async fn create_user(
        &self,
        actor: &Actor,
        new: NewUser,
    ) -> Result<CreatedUser, ManageError> {
        let username = validate_new_user(
            &new.username,
            new.email.as_deref(),
            new.name.as_deref(),
            &new.roles,
        )?;
        let roles = dedup_sorted(new.roles);
        let (password, generated) = match new.password {
            Some(p) => {
                validate_password(&p)?;
                (p, None)
            }
            None => {
                let p = random_password();
                (p.clone(), Some(p))
            }
        };
        let hash = self.passwords.hash(password).await?;
        let now = self.clock.now();
        let row = UserRow {
            id: uuid::Uuid::now_v7().to_string(),
            username,
            email: new.email.map(|e| e.trim().to_owned()),
            email_verified: false,
            name: new.name,
            password_hash: hash,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        let insert_row = row.clone();
        let insert_roles = roles.clone();
        self.store
            .run(move |conn| rows::insert(conn, &insert_row, &insert_roles))
            .await
            .map_err(|e| match e {
                StoreError::Conflict => ManageError::Conflict(super::USERNAME_TAKEN),
                other @ (StoreError::Unavailable(_)
                | StoreError::NotFound
                | StoreError::Query(_)
                | StoreError::Corrupt(_)) => ManageError::Store(other),
            })?;
        let user = UserView::from(UserRecord { row, roles });
        self.audit(
            actor,
            AuditEvent::new("user.created")
                .subject(user.id.clone())
                .details(serde_json::json!({ "after": user })),
        )
        .await?;
        Ok(CreatedUser {
            user,
            generated_password: generated,
        })
    }

    /// Looks a user up by id or (normalised) username.
    async fn find_user(&self, key: &str) -> Result<UserRecord, ManageError> {
        let key = key.to_owned();
        let by_name = username::normalise(&key).ok();
        self.store
            .run(move |conn| {
                if let Some(found) = rows::find_by_id(conn, &key)? {
                    return Ok(Some(found));
                }
                match by_name {
                    Some(name) => rows::find_by_username(conn, &name),
                    None => Ok(None),
                }
            })
            .await?
            .ok_or(ManageError::NotFound("user"))
    }

    pub async fn get_user(&self, key: &str) -> Result<UserView, ManageError> {
        Ok(self.find_user(key).await?.into())
    }

    pub async fn list_users(
        &self,
        search: Option<String>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<UserView>, ManageError> {
        if !(1..=1000).contains(&limit) {
            return Err(invalid("limit", "must be 1..=1000"));
        }
        if offset < 0 {
            return Err(invalid("offset", "must be >= 0"));
        }
        let found = self
            .store
            .run(move |conn| rows::list(conn, search.as_deref(), offset, limit))
            .await?;
        Ok(found.into_iter().map(UserView::from).collect())
    }

    pub async fn user_count(&self) -> Result<i64, ManageError> {
        Ok(self.store.run(rows::count).await?)
    }

    pub async fn set_password(
        &self,
        actor: &Actor,
        key: &str,
        password: Zeroizing<String>,
    ) -> Result<UserView, ManageError> {
        validate_password(&password)?;
        let mut record = self.find_user(key).await?;
        record.row.password_hash = self.passwords.hash(password).await?;
        let now = self.clock.now();
        record.row.updated_at = now;
        let row = record.row.clone();
        // Whoever held the old password may hold sessions and refresh tokens made with it
        // (OWASP session management): they end with it, in the same transaction.
        let signed_out = self
            .store
            .run_revoking(move |conn| {
                conn.transaction(|conn| {
                    rows::update(conn, &row)?;
                    grants::sign_out_everywhere(conn, &row.id, now, "password set")
                })
            })
            .await?;
        self.audit(
            actor,
            AuditEvent::new("user.password_set")
                .subject(record.row.id.clone())
                .details(signed_out_json(&signed_out)),
        )
        .await?;
        Ok(record.into())
    }

    pub async fn set_user_disabled(
        &self,
        actor: &Actor,
        key: &str,
        disabled: bool,
    ) -> Result<UserView, ManageError> {
        let mut record = self.find_user(key).await?;
        let takes_an_admin =
            disabled && record.roles.iter().any(|r| r == "admin") && !record.row.disabled;
        let before = UserView::from(record.clone());
        let now = self.clock.now();
        record.row.disabled = disabled;
        record.row.updated_at = now;
        let row = record.row.clone();
        // A disabled user's sessions and refresh families end with the change: enabling
        // the account again later does not bring them back.
        self.change_user(takes_an_admin, move |conn| {
            rows::update(conn, &row)?;
            if disabled {
                grants::sign_out_everywhere(conn, &row.id, now, "user disabled")?;
            }
            Ok(())
        })
        .await?;
        self.audit(
            actor,
            AuditEvent::new(if disabled {
                "user.disabled"
            } else {
                "user.enabled"
            })
            .subject(record.row.id.clone())
            .details(
                serde_json::json!({ "before": before, "after": UserView::from(record.clone()) }),
            ),
        )
        .await?;
        Ok(record.into())
    }

    /// Applies `change` to one user; when it takes an enabled admin away, only if another
    /// remains, checked and changed in one transaction (`rows::unless_last_with_role`).
    async fn change_user(
        &self,
        takes_an_admin: bool,
        change: impl FnOnce(&mut DbConnection) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), ManageError> {
        // A disabled or deleted user's tokens must stop working on this replica at once,
        // including where introspection remembers standings (`oauth::standing`).
        let changed = if takes_an_admin {
            self.store
                .run_revoking(move |conn| rows::unless_last_with_role(conn, "admin", change))
                .await?
        } else {
            self.store
                .run_revoking(move |conn| conn.transaction(change))
                .await
                .map(Some)?
        };
        changed.ok_or(ManageError::Refused("this is the last enabled admin"))
    }

    pub async fn add_user_role(
        &self,
        actor: &Actor,
        key: &str,
        role: &str,
    ) -> Result<UserView, ManageError> {
        validate_role(role)?;
        let record = self.find_user(key).await?;
        let (id, r) = (record.row.id.clone(), role.to_owned());
        let added = self
            .store
            .run(move |conn| rows::add_role(conn, &id, &r))
            .await?;
        let after = self.get_user(&record.row.id).await?;
        if added {
            self.audit(
                actor,
                AuditEvent::new("user.role_added")
                    .subject(record.row.id.clone())
                    .details(serde_json::json!({
                        "role": role,
                        "before": { "roles": record.roles },
                        "after": { "roles": after.roles },
                    })),
            )
            .await?;
        }
        Ok(after)
    }

    pub async fn remove_user_role(
        &self,
        actor: &Actor,
        key: &str,
        role: &str,
    ) -> Result<UserView, ManageError> {
        let record = self.find_user(key).await?;
        if !record.roles.iter().any(|r| r == role) {
            return Err(ManageError::NotFound("role on this user"));
        }
        let (id, r) = (record.row.id.clone(), role.to_owned());
        self.change_user(role == "admin" && !record.row.disabled, move |conn| {
            rows::remove_role(conn, &id, &r).map(|_removed| ())
        })
        .await?;
        let after = self.get_user(&record.row.id).await?;
        self.audit(
            actor,
            AuditEvent::new("user.role_removed")
                .subject(record.row.id.clone())
                .details(serde_json::json!({
                    "role": role,
                    "before": { "roles": record.roles },
                    "after": { "roles": after.roles },
                })),
        )
        .await?;
        Ok(after)
    }

    pub async fn delete_user(&self, actor: &Actor, key: &str) -> Result<(), ManageError> {
        let record = self.find_user(key).await?;
        let id = record.row.id.clone();
        self.change_user(
            record.roles.iter().any(|r| r == "admin") && !record.row.disabled,
            move |conn| rows::delete(conn, &id),
        )
        .await?;
        let subject = record.row.id.clone();
        self.audit(
            actor,
            AuditEvent::new("user.deleted")
                .subject(subject)
                .details(serde_json::json!({ "before": UserView::from(record) })),
        )
        .await?;
        Ok(())
    }

    /// Changes profile fields. A new username is normalised and must be free.
    pub async fn update_user(
        &self,
        actor: &Actor,
        key: &str,
        change: UserUpdate,
    ) -> Result<UserView, ManageError> {
        let username = change.username.as_deref().map(normalise).transpose()?;
        if let Some(Some(email)) = &change.email {
            validate_email(email)?;
        }
        if let Some(Some(name)) = &change.name {
            validate_name(name)?;
        }
        let mut record = self.find_user(key).await?;
        let before = UserView::from(record.clone());
        if let Some(username) = username {
            record.row.username = username;
        }
        if let Some(email) = change.email {
            let email = email.map(|e| e.trim().to_owned());
            if email != record.row.email {
                // A new address has not been verified by anyone.
                record.row.email_verified = false;
            }
            record.row.email = email;
        }
        if let Some(verified) = change.email_verified {
            record.row.email_verified = verified && record.row.email.is_some();
        }
        if let Some(name) = change.name {
            record.row.name = name;
        }
        record.row.updated_at = self.clock.now();
        let row = record.row.clone();
        self.store
            .run(move |conn| rows::update(conn, &row))
            .await
            .map_err(|e| match e {
                StoreError::Conflict => ManageError::Conflict(super::USERNAME_TAKEN),
                StoreError::NotFound => ManageError::NotFound("user"),
                other @ (StoreError::Unavailable(_)
                | StoreError::Query(_)
                | StoreError::Corrupt(_)) => ManageError::Store(other),
            })?;
        let after = UserView::from(record);
        self.audit(
            actor,
            AuditEvent::new("user.updated")
                .subject(after.id.clone())
                .details(serde_json::json!({ "before": before, "after": after })),
        )
        .await?;
        Ok(after)
    }

    /// The user's grants that are neither revoked nor expired.
    pub async fn list_user_sessions(&self, key: &str) -> Result<Vec<SessionView>, ManageError> {
        let record = self.find_user(key).await?;
        let now = self.clock.now();
        let found = self
            .store
            .run(move |conn| grants::active_for_user(conn, &record.row.id, now))
            .await?;
        Ok(found
            .into_iter()
            .map(|g| SessionView {
                id: g.id,
                client_id: g.client_id,
                scope: g.scope,
                auth_time: g.auth_time,
                created_at: g.created_at,
                expires_at: g.expires_at,
            })
            .collect())
    }

    /// Signs the user out everywhere (`grants::sign_out_everywhere`): every grant revoked,
    /// browser sessions ended, codes not yet redeemed and bound authorization requests
    /// deleted. Their refresh tokens stop working at once, the login page is shown again,
    /// and their access tokens fail at the next userinfo, introspection or admin API call.
    /// Returns how many grants were revoked.
    pub async fn revoke_user_sessions(
        &self,
        actor: &Actor,
        key: &str,
    ) -> Result<usize, ManageError> {
        let record = self.find_user(key).await?;
        let (id, now) = (record.row.id.clone(), self.clock.now());
        // Browser sessions end too, so the next /authorize asks for a login.
        let signed_out = self
            .store
            .run_revoking(move |conn| {
                grants::sign_out_everywhere(conn, &id, now, "revoked by an administrator")
            })
            .await?;
        self.audit(
            actor,
            AuditEvent::new("user.sessions_revoked")
                .subject(record.row.id.clone())
                .details(signed_out_json(&signed_out)),
        )
        .await?;
        Ok(signed_out.grants.len())
    }
}

impl Service {
    /// Checks a username and password (see `crate::accounts::Accounts::verify`): unknown
    /// users, wrong passwords and disabled accounts all answer `None`.
    pub async fn authenticate(
        &self,
        username: &str,
        password: Zeroizing<String>,
    ) -> Result<Option<UserView>, ManageError> {
        let record = self.accounts().verify(username, password).await?;
        Ok(record.map(UserView::from))
    }
}
