use serde::Serialize;
use zeroize::Zeroizing;

use super::authority::{Caller, Holding};
use super::{ManageError, Service, dedup_sorted, invalid, validate_role};
use crate::accounts::username;
use crate::audit::AuditEvent;
use crate::crypto::tokens::random_password;
use crate::store::audit::Change;
use crate::store::models::grants;
use crate::store::models::users::{self as rows, UserRecord, UserRow};
use crate::store::{DbConnection, StoreError};

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

/// An active grant of a user (a refresh-token family): revoking it ends every refresh and
/// access token issued under it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct GrantView {
    /// The grant id (the `gid` claim of the tokens issued under it).
    pub id: String,
    pub client_id: String,
    pub scope: String,
    pub auth_time: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A live browser session of a user: where they are signed in (never its cookie).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct BrowserSessionView {
    /// The public session id (the `sid` claim of ID tokens issued in it).
    pub id: String,
    /// The User-Agent summarised ("Firefox on Linux").
    pub device: String,
    /// The User-Agent it signed in with, as sent (at most 512 bytes).
    pub user_agent: Option<String>,
    /// The client address it was last used from, as the rate limiter sees it.
    pub ip: Option<String>,
    pub auth_time: i64,
    /// RFC 8176 methods the session proved.
    pub amr: Vec<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// When it ends unless used again.
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

/// The one rule for a new password (`accounts::new_password`), which the account page,
/// sign-up and reset apply too; `username` is the account's (normalised) name when known.
pub fn validate_password(
    password: &str,
    username: Option<&str>,
    policy: crate::accounts::new_password::Policy,
) -> Result<(), ManageError> {
    crate::accounts::new_password::check(password, username, policy)
        .map_err(|refused| invalid("password", refused.to_string()))
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

/// The role whose last enabled holder cannot be removed.
const ADMIN_ROLE: &str = "admin";

/// What a write did to a user, decided on the locked row inside the transaction.
pub(super) struct Written<T> {
    value: T,
    /// The user's roles after the change; `None` when the user is gone. The caller must
    /// be allowed to confer them.
    roles_after: Option<Vec<String>>,
    /// Whether the user is still an enabled holder of the admin role.
    enabled_admin_after: bool,
    /// `None` when nothing changed: nothing is recorded.
    event: Option<AuditEvent>,
}

impl<T> Written<T> {
    /// A change that leaves the user in place as `record` says.
    pub(super) fn kept(value: T, record: &UserRecord, event: Option<AuditEvent>) -> Self {
        Self {
            value,
            roles_after: Some(record.roles.clone()),
            enabled_admin_after: is_enabled_admin(record),
            event,
        }
    }
}

fn is_enabled_admin(record: &UserRecord) -> bool {
    !record.row.disabled && record.roles.iter().any(|r| r == ADMIN_ROLE)
}

fn holding(roles: &[String]) -> Holding {
    Holding {
        roles: roles.to_vec(),
        scopes: Vec::new(),
    }
}

/// The user that `key` (an id, or a username) names, locked until the transaction ends.
fn lock_user(conn: &mut DbConnection, key: &str) -> Result<Option<UserRecord>, StoreError> {
    if let Some(found) = rows::lock(conn, key)? {
        return Ok(Some(found));
    }
    let Ok(name) = username::normalise(key) else {
        return Ok(None);
    };
    match rows::find_by_username(conn, &name)? {
        Some(found) => rows::lock(conn, &found.row.id),
        None => Ok(None),
    }
}

fn store_error_for_user(err: StoreError) -> ManageError {
    match err {
        StoreError::Conflict => ManageError::Conflict(super::USERNAME_TAKEN),
        StoreError::NotFound => ManageError::NotFound("user"),
        other @ (StoreError::Unavailable(_) | StoreError::Query(_) | StoreError::Corrupt(_)) => {
            ManageError::Store(other)
        }
    }
}

impl Service {
    /// Every write to an existing user goes through here, in one transaction: lock the
    /// enabled admins (so the last one cannot be taken away by two writes at once), lock
    /// the target, refuse when it holds more than the caller (`Caller::may_act_on`), let
    /// `change` apply itself, refuse when the user would then hold more than the caller
    /// may confer or when the last enabled admin would be gone, and append the audit row.
    /// A refusal rolls everything back; an access refusal is then recorded on its own.
    pub(super) async fn write_user<T: Send + 'static>(
        &self,
        by: Caller,
        key: &str,
        kind: Change,
        attempted: &'static str,
        change: impl FnOnce(&mut DbConnection, UserRecord) -> Result<Written<T>, ManageError>
        + Send
        + 'static,
    ) -> Result<T, ManageError> {
        let (target, judge) = (key.to_owned(), by.clone());
        let meant = AuditEvent::new(attempted)
            .subject(key.to_owned())
            .by(by.actor().clone());
        let done = self
            .store
            .run_recorded(kind, self.clock.now(), Some(meant), move |conn| {
                rows::lock_role_holders(conn, ADMIN_ROLE)?;
                let record = lock_user(conn, &target)?.ok_or(ManageError::NotFound("user"))?;
                if !judge.may_act_on(&holding(&record.roles)) {
                    return Err(ManageError::Denied(super::HOLDS_MORE));
                }
                let was_enabled_admin = is_enabled_admin(&record);
                let written = change(conn, record)?;
                if let Some(roles) = &written.roles_after
                    && !judge.may_confer(&holding(roles))
                {
                    return Err(ManageError::Denied(super::CONFERS_MORE));
                }
                if was_enabled_admin
                    && !written.enabled_admin_after
                    && rows::count_enabled_with_role(conn, ADMIN_ROLE)? < 1
                {
                    return Err(ManageError::Refused("this is the last enabled admin"));
                }
                let event = written.event.map(|e| e.by(judge.actor().clone()));
                Ok((written.value, event))
            })
            .await;
        match done {
            Ok(value) => Ok(value),
            Err(err) => self.denied(by.actor(), attempted, Some(key), err).await,
        }
    }

    pub async fn create_user(
        &self,
        by: impl Into<Caller>,
        new: NewUser,
    ) -> Result<CreatedUser, ManageError> {
        let by = by.into();
        let username = validate_new_user(
            &new.username,
            new.email.as_deref(),
            new.name.as_deref(),
            &new.roles,
        )?;
        let roles = dedup_sorted(new.roles);
        if !by.may_confer(&holding(&roles)) {
            let err = ManageError::Denied(super::CONFERS_MORE);
            return self.denied(by.actor(), "user.created", None, err).await;
        }
        let (password, generated) = match new.password {
            Some(p) => {
                validate_password(&p, Some(&username), self.policy)?;
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
        let user = UserView::from(UserRecord {
            row: row.clone(),
            roles: roles.clone(),
        });
        let event = AuditEvent::new("user.created")
            .by(by.actor().clone())
            .subject(user.id.clone())
            .details(serde_json::json!({ "after": user }));
        self.store
            .run_recorded(Change::Other, now, Some(event.clone()), move |conn| {
                rows::insert(conn, &row, &roles).map_err(store_error_for_user)?;
                Ok::<_, ManageError>(((), Some(event)))
            })
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

    /// Sets a new password: the old one stops working at once.
    pub async fn set_password(
        &self,
        by: impl Into<Caller>,
        key: &str,
        password: Zeroizing<String>,
    ) -> Result<UserView, ManageError> {
        // The username is the account's as stored (`find_user` also takes an id).
        let username = self.find_user(key).await?.row.username;
        validate_password(&password, Some(&username), self.policy)?;
        // Hashed before the transaction: it is slow, and needs no row.
        let hash = self.passwords.hash(password).await?;
        let now = self.clock.now();
        // Whoever held the old password may hold sessions and refresh tokens made with it
        // (OWASP session management): they end with it, in the same transaction.
        self.write_user(
            by.into(),
            key,
            Change::Revokes,
            "user.password_set",
            move |conn, mut record| {
                record.row.password_hash = hash;
                record.row.updated_at = now;
                rows::update(conn, &record.row)?;
                let signed_out =
                    grants::sign_out_everywhere(conn, &record.row.id, now, "password set")?;
                let event = AuditEvent::new("user.password_set")
                    .subject(record.row.id.clone())
                    .details(signed_out_json(&signed_out));
                Ok(Written::kept(
                    UserView::from(record.clone()),
                    &record,
                    Some(event),
                ))
            },
        )
        .await
    }

    pub async fn set_user_disabled(
        &self,
        by: impl Into<Caller>,
        key: &str,
        disabled: bool,
    ) -> Result<UserView, ManageError> {
        let now = self.clock.now();
        let event_type = if disabled {
            "user.disabled"
        } else {
            "user.enabled"
        };
        // A disabled user's tokens must stop working on this replica at once, including
        // where introspection remembers standings (`oauth::standing`).
        self.write_user(
            by.into(),
            key,
            Change::Revokes,
            event_type,
            move |conn, mut record| {
                let before = UserView::from(record.clone());
                record.row.disabled = disabled;
                record.row.updated_at = now;
                rows::update(conn, &record.row)?;
                // A disabled user's sessions and refresh families end with the change:
                // enabling the account again later does not bring them back.
                if disabled {
                    grants::sign_out_everywhere(conn, &record.row.id, now, "user disabled")?;
                }
                let after = UserView::from(record.clone());
                let event = AuditEvent::new(event_type)
                    .subject(record.row.id.clone())
                    .details(serde_json::json!({ "before": before, "after": after }));
                Ok(Written::kept(after, &record, Some(event)))
            },
        )
        .await
    }

    pub async fn add_user_role(
        &self,
        by: impl Into<Caller>,
        key: &str,
        role: &str,
    ) -> Result<UserView, ManageError> {
        validate_role(role)?;
        let role = role.to_owned();
        self.write_user(
            by.into(),
            key,
            Change::Other,
            "user.role_added",
            move |conn, mut record| {
                let before = record.roles.clone();
                let added = rows::add_role(conn, &record.row.id, &role)?;
                if added {
                    record.roles = rows::roles_of(conn, &record.row.id)?;
                }
                // Adding a role held already changes nothing, and records nothing.
                let event = added.then(|| {
                    AuditEvent::new("user.role_added")
                        .subject(record.row.id.clone())
                        .details(serde_json::json!({
                            "role": role,
                            "before": { "roles": before },
                            "after": { "roles": record.roles },
                        }))
                });
                Ok(Written::kept(
                    UserView::from(record.clone()),
                    &record,
                    event,
                ))
            },
        )
        .await
    }

    pub async fn remove_user_role(
        &self,
        by: impl Into<Caller>,
        key: &str,
        role: &str,
    ) -> Result<UserView, ManageError> {
        let role = role.to_owned();
        self.write_user(
            by.into(),
            key,
            Change::Revokes,
            "user.role_removed",
            move |conn, mut record| {
                if !record.roles.contains(&role) {
                    return Err(ManageError::NotFound("role on this user"));
                }
                let before = record.roles.clone();
                rows::remove_role(conn, &record.row.id, &role)?;
                record.roles = rows::roles_of(conn, &record.row.id)?;
                let event = AuditEvent::new("user.role_removed")
                    .subject(record.row.id.clone())
                    .details(serde_json::json!({
                        "role": role,
                        "before": { "roles": before },
                        "after": { "roles": record.roles },
                    }));
                Ok(Written::kept(
                    UserView::from(record.clone()),
                    &record,
                    Some(event),
                ))
            },
        )
        .await
    }

    pub async fn delete_user(&self, by: impl Into<Caller>, key: &str) -> Result<(), ManageError> {
        self.write_user(
            by.into(),
            key,
            Change::Revokes,
            "user.deleted",
            move |conn, record| {
                rows::delete(conn, &record.row.id)?;
                let event = AuditEvent::new("user.deleted")
                    .subject(record.row.id.clone())
                    .details(serde_json::json!({ "before": UserView::from(record) }));
                Ok(Written {
                    value: (),
                    roles_after: None,
                    enabled_admin_after: false,
                    event: Some(event),
                })
            },
        )
        .await
    }

    /// Changes profile fields. A new username is normalised and must be free.
    pub async fn update_user(
        &self,
        by: impl Into<Caller>,
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
        let now = self.clock.now();
        self.write_user(
            by.into(),
            key,
            Change::Other,
            "user.updated",
            move |conn, mut record| {
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
                record.row.updated_at = now;
                rows::update(conn, &record.row).map_err(store_error_for_user)?;
                let after = UserView::from(record.clone());
                let event = AuditEvent::new("user.updated")
                    .subject(after.id.clone())
                    .details(serde_json::json!({ "before": before, "after": after }));
                Ok(Written::kept(after, &record, Some(event)))
            },
        )
        .await
    }

    /// The user's live browser sessions, the most recently seen first.
    pub async fn list_user_sessions(
        &self,
        key: &str,
    ) -> Result<Vec<BrowserSessionView>, ManageError> {
        let record = self.find_user(key).await?;
        let found = self
            .store
            .user_sessions(&record.row.id, self.clock.now())
            .await?;
        Ok(found
            .into_iter()
            .map(|s| BrowserSessionView {
                device: crate::accounts::device::describe(s.user_agent.as_deref()).to_string(),
                id: s.sid,
                user_agent: s.user_agent,
                ip: s.ip,
                auth_time: s.auth_time,
                amr: s.amr,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                expires_at: s.expires_at,
            })
            .collect())
    }

    /// Ends one browser session of the user, as logout would (its cookie finds nothing
    /// after), under the same rule as every write to a user; `NotFound("session")` when
    /// the user has no session of that id.
    pub async fn end_user_session(
        &self,
        by: impl Into<Caller>,
        key: &str,
        sid: &str,
    ) -> Result<(), ManageError> {
        let sid = sid.to_owned();
        self.write_user(
            by.into(),
            key,
            Change::Other,
            "session.ended",
            move |conn, record| {
                let ended = crate::store::models::authorization::delete_session_of_user(
                    conn,
                    &record.row.id,
                    &sid,
                )?
                .ok_or(ManageError::NotFound("session"))?;
                let event = AuditEvent::new("session.ended")
                    .subject(record.row.id.clone())
                    .details(serde_json::json!({ "sid": ended.sid, "via": "admin" }));
                Ok(Written::kept((), &record, Some(event)))
            },
        )
        .await
    }

    /// The user's grants that are neither revoked nor expired.
    pub async fn list_user_grants(&self, key: &str) -> Result<Vec<GrantView>, ManageError> {
        let record = self.find_user(key).await?;
        let now = self.clock.now();
        let found = self
            .store
            .run(move |conn| grants::active_for_user(conn, &record.row.id, now))
            .await?;
        Ok(found
            .into_iter()
            .map(|g| GrantView {
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
        by: impl Into<Caller>,
        key: &str,
    ) -> Result<usize, ManageError> {
        let now = self.clock.now();
        self.write_user(
            by.into(),
            key,
            Change::Revokes,
            "user.sessions_revoked",
            move |conn, record| {
                let id = record.row.id.clone();
                // Browser sessions end too, so the next /authorize asks for a login.
                let signed_out =
                    grants::sign_out_everywhere(conn, &id, now, "revoked by an administrator")?;
                let event = AuditEvent::new("user.sessions_revoked")
                    .subject(id)
                    .details(signed_out_json(&signed_out));
                Ok(Written::kept(signed_out.grants.len(), &record, Some(event)))
            },
        )
        .await
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
