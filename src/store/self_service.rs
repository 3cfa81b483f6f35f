//! Storage for what a person does for themselves without an operator (issue 22): the
//! single-use account tokens mailed to them (verify an address, reset a password, finish a
//! sign-up), the address change waiting for its verification, their name, and the counters
//! that bound how many such mails an address or an account can cause. Plain types in and
//! out; every redemption is one transaction that spends the token by a guarded `UPDATE`
//! (of two redemptions, one wins) together with the change it allows and its audit event.

use diesel::prelude::*;

use super::audit::{AuditEvent, Change};
use super::conn::DbConnection;
use super::models::grants::sign_out_everywhere;
use super::models::throttle;
use super::models::users::{self, UserRow};
use super::schema::{account_tokens, users as users_table};
use super::{Store, StoreError};

/// What an account token allows. Stored as its `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Proves the address in the token's `email` (a new one, or the current unverified one).
    VerifyEmail,
    /// Sets a new password for the token's user.
    ResetPassword,
    /// Proves the address of a self sign-up and creates its user.
    SignUp,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::SignUp => "sign_up",
        }
    }
}

/// A token to store: its digest only (the clear value goes into the mail and nowhere else).
#[derive(Clone)]
pub struct NewAccountToken {
    pub digest: Vec<u8>,
    pub purpose: TokenPurpose,
    pub user_id: Option<String>,
    pub email: Option<String>,
    /// A sign-up's chosen (normalised) username and password hash: the user is made from
    /// them when the address is verified.
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl std::fmt::Debug for NewAccountToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccountToken")
            .field("purpose", &self.purpose)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A person a reset can be mailed to: an enabled user with an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub user_id: String,
    pub username: String,
    pub email: String,
}

/// What a reset did, for the notice mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reset {
    Done(Recipient),
    /// The link was used, expired, unknown, or its user is gone or disabled.
    Invalid,
}

/// What a verification link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The address is now the user's, verified. `previous`: the address it replaced.
    Email {
        user_id: String,
        email: String,
        previous: Option<String>,
    },
    /// A sign-up finished: the user exists now.
    SignedUp { user_id: String, username: String },
    /// The username was taken between the sign-up and its verification.
    UsernameTaken,
    /// Used, expired, unknown, or superseded by a later change of address.
    Invalid,
}

/// The row of an unspent, unexpired token (for the page a link opens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveToken {
    pub purpose: String,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
}

/// Spends the token `digest` of `purpose` if it is live: one guarded `UPDATE`, so of two
/// redemptions racing, exactly one sees a row changed. Returns the spent row's fields.
#[allow(clippy::type_complexity)]
fn spend(
    conn: &mut DbConnection,
    digest: &[u8],
    purpose: TokenPurpose,
    now: i64,
) -> Result<
    Option<(
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    )>,
    StoreError,
> {
    let n = diesel::update(
        account_tokens::table
            .filter(account_tokens::digest.eq(digest))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .filter(account_tokens::consumed_at.is_null())
            .filter(account_tokens::expires_at.gt(now)),
    )
    .set(account_tokens::consumed_at.eq(Some(now)))
    .execute(conn)?;
    if n != 1 {
        return Ok(None);
    }
    Ok(Some(
        account_tokens::table
            .filter(account_tokens::digest.eq(digest))
            .select((
                account_tokens::user_id,
                account_tokens::email,
                account_tokens::username,
                account_tokens::password_hash,
            ))
            .first(conn)?,
    ))
}

/// A live token's purpose, user id, email and username, as selected.
type TokenColumns = (String, Option<String>, Option<String>, Option<String>);

impl Store {
    /// Stores a new account token (its digest).
    pub async fn insert_account_token(&self, token: NewAccountToken) -> Result<(), StoreError> {
        self.run(move |conn| {
            diesel::insert_into(account_tokens::table)
                .values((
                    account_tokens::digest.eq(&token.digest),
                    account_tokens::purpose.eq(token.purpose.as_str()),
                    account_tokens::user_id.eq(&token.user_id),
                    account_tokens::email.eq(&token.email),
                    account_tokens::username.eq(&token.username),
                    account_tokens::password_hash.eq(&token.password_hash),
                    account_tokens::created_at.eq(token.created_at),
                    account_tokens::expires_at.eq(token.expires_at),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// The token `digest` if it is unspent and unexpired at `now` (nothing is spent).
    pub async fn live_account_token(
        &self,
        digest: Vec<u8>,
        now: i64,
    ) -> Result<Option<LiveToken>, StoreError> {
        self.run(move |conn| {
            let found: Option<TokenColumns> = account_tokens::table
                .filter(account_tokens::digest.eq(&digest))
                .filter(account_tokens::consumed_at.is_null())
                .filter(account_tokens::expires_at.gt(now))
                .select((
                    account_tokens::purpose,
                    account_tokens::user_id,
                    account_tokens::email,
                    account_tokens::username,
                ))
                .first(conn)
                .optional()?;
            Ok(found.map(|(purpose, user_id, email, username)| LiveToken {
                purpose,
                user_id,
                email,
                username,
            }))
        })
        .await
    }

    /// Who a forgotten-password request names: the enabled user with this (normalised)
    /// username, or else every enabled user whose address is `email` (addresses are not
    /// unique). Users without an address cannot be mailed and are left out.
    pub async fn recovery_recipients(
        &self,
        username: Option<String>,
        email: Option<String>,
    ) -> Result<Vec<Recipient>, StoreError> {
        self.run(move |conn| {
            let mut rows: Vec<UserRow> = Vec::new();
            if let Some(name) = username
                && let Some(found) = users::find_by_username(conn, &name)?
            {
                rows.push(found.row);
            }
            if rows.is_empty()
                && let Some(email) = email
            {
                rows = users_table::table
                    .filter(users_table::email.eq(email))
                    .select(UserRow::as_select())
                    .order(users_table::id.asc())
                    .limit(5)
                    .load(conn)?;
            }
            Ok(rows
                .into_iter()
                .filter(|r| !r.disabled)
                .filter_map(|r| {
                    r.email.map(|email| Recipient {
                        user_id: r.id,
                        username: r.username,
                        email,
                    })
                })
                .collect())
        })
        .await
    }

    /// Whether a user has this username (normalised) or address: a sign-up cannot take it.
    pub async fn account_exists(
        &self,
        username: String,
        email: String,
    ) -> Result<(bool, bool), StoreError> {
        self.run(move |conn| {
            let name: i64 = users_table::table
                .filter(users_table::username.eq(&username))
                .count()
                .get_result(conn)?;
            let mail: i64 = users_table::table
                .filter(users_table::email.eq(&email))
                .count()
                .get_result(conn)?;
            Ok((name > 0, mail > 0))
        })
        .await
    }

    /// Counts one mail-causing request on each key (`(key, limit)`) within the window
    /// `window_secs`, on the login throttle's counters (`models::throttle::reserve`, atomic
    /// across replicas): false, counting nothing, when any key has reached its limit.
    pub async fn count_self_service(
        &self,
        keys: Vec<(String, u32)>,
        window_secs: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.run(move |conn| {
            let windows: Vec<(String, i64)> = keys
                .iter()
                .map(|(k, _)| (k.clone(), now - window_secs))
                .collect();
            let limits: Vec<u32> = keys.iter().map(|(_, l)| *l).collect();
            let taken = throttle::reserve(conn, &windows, now, |seen| {
                seen.iter()
                    .zip(&limits)
                    .any(|(seen, limit)| seen.is_some_and(|(n, _)| n >= *limit))
                    .then_some(())
            })?;
            Ok(taken.is_ok())
        })
        .await
    }

    /// The address `user_id` asked to change to, waiting for its verification.
    pub async fn pending_email(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let user_id = user_id.to_owned();
        self.run(move |conn| {
            Ok(users_table::table
                .find(&user_id)
                .select(users_table::pending_email)
                .first::<Option<String>>(conn)
                .optional()?
                .flatten())
        })
        .await
    }

    /// The user's display name (`None` clears it), with its audit event. False when the
    /// user is gone.
    pub async fn set_name(
        &self,
        user_id: &str,
        name: Option<String>,
        now: i64,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        let user_id = user_id.to_owned();
        let done = self
            .run_audited(Change::Other, now, None, move |conn| {
                let n = diesel::update(users_table::table.find(&user_id))
                    .set((users_table::name.eq(name), users_table::updated_at.eq(now)))
                    .execute(conn)?;
                Ok((n == 1).then_some(((), event)))
            })
            .await?;
        Ok(done.is_some())
    }

    /// A change of address asked for: `pending_email` and the verification token that
    /// proves it, with the audit event, in one transaction. The current address stays in
    /// force until the token is redeemed. False when the user is gone.
    pub async fn request_email_change(
        &self,
        user_id: &str,
        token: NewAccountToken,
        now: i64,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        let user_id = user_id.to_owned();
        let done = self
            .run_audited(Change::Other, now, None, move |conn| {
                let n = diesel::update(users_table::table.find(&user_id))
                    .set((
                        users_table::pending_email.eq(&token.email),
                        users_table::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                if n != 1 {
                    return Ok(None);
                }
                diesel::insert_into(account_tokens::table)
                    .values((
                        account_tokens::digest.eq(&token.digest),
                        account_tokens::purpose.eq(token.purpose.as_str()),
                        account_tokens::user_id.eq(&token.user_id),
                        account_tokens::email.eq(&token.email),
                        account_tokens::created_at.eq(token.created_at),
                        account_tokens::expires_at.eq(token.expires_at),
                    ))
                    .execute(conn)?;
                Ok(Some(((), event)))
            })
            .await?;
        Ok(done.is_some())
    }

    /// Redeems a password-reset token: spends it, sets the new hash, ends every session
    /// and refresh-token family of the user (`sign_out_everywhere`), spends the user's
    /// other reset tokens, and marks the address verified when the link went to the
    /// address the user has now (following it proved it); all with the audit event
    /// `event(user_id, ended grants, ended sessions)`, in one transaction.
    pub async fn reset_password<F>(
        &self,
        digest: Vec<u8>,
        password_hash: String,
        now: i64,
        event: F,
    ) -> Result<Reset, StoreError>
    where
        F: FnOnce(&str, &[String], usize) -> AuditEvent + Send + 'static,
    {
        let done = self
            .run_audited(Change::Revokes, now, None, move |conn| {
                let Some((Some(user_id), email, _, _)) =
                    spend(conn, &digest, TokenPurpose::ResetPassword, now)?
                else {
                    return Ok(None);
                };
                let Some(mut record) = users::lock(conn, &user_id)? else {
                    return Ok(None);
                };
                if record.row.disabled {
                    return Ok(None);
                }
                record.row.password_hash = password_hash;
                record.row.updated_at = now;
                if email.is_some() && email == record.row.email {
                    record.row.email_verified = true;
                }
                users::update(conn, &record.row)?;
                let ended = sign_out_everywhere(conn, &user_id, now, "password reset")?;
                diesel::update(
                    account_tokens::table
                        .filter(account_tokens::user_id.eq(&user_id))
                        .filter(account_tokens::purpose.eq(TokenPurpose::ResetPassword.as_str()))
                        .filter(account_tokens::consumed_at.is_null()),
                )
                .set(account_tokens::consumed_at.eq(Some(now)))
                .execute(conn)?;
                let event = event(&user_id, &ended.grants, ended.sessions);
                let recipient = Recipient {
                    user_id,
                    username: record.row.username,
                    email: record.row.email.unwrap_or_default(),
                };
                Ok(Some((recipient, event)))
            })
            .await?;
        Ok(done.map_or(Reset::Invalid, Reset::Done))
    }

    /// Redeems a verification link (an address, or a sign-up) with its audit event
    /// `event(&outcome)`, in one transaction. An address link proves the address it was
    /// sent to: the waiting `pending_email` becomes the user's address, or the current
    /// one is marked verified; a link to an address the user has since replaced proves
    /// nothing. A sign-up link creates its user, verified, with no roles.
    pub async fn redeem_verification<F>(
        &self,
        digest: Vec<u8>,
        new_user_id: String,
        now: i64,
        event: F,
    ) -> Result<Verified, StoreError>
    where
        F: FnOnce(&Verified) -> AuditEvent + Send + 'static,
    {
        self.run_recorded(Change::Other, now, None, move |conn| {
            let outcome = if let Some((user_id, email, _, _)) =
                spend(conn, &digest, TokenPurpose::VerifyEmail, now)?
            {
                verify_address(conn, user_id, email, now)?
            } else if let Some((_, email, username, hash)) =
                spend(conn, &digest, TokenPurpose::SignUp, now)?
            {
                create_signed_up(conn, new_user_id, email, username, hash, now)?
            } else {
                Verified::Invalid
            };
            let recorded = match &outcome {
                Verified::Invalid => None,
                Verified::Email { .. } | Verified::SignedUp { .. } | Verified::UsernameTaken => {
                    Some(event(&outcome))
                }
            };
            Ok::<_, StoreError>((outcome, recorded))
        })
        .await
    }
}

fn verify_address(
    conn: &mut DbConnection,
    user_id: Option<String>,
    email: Option<String>,
    now: i64,
) -> Result<Verified, StoreError> {
    let (Some(user_id), Some(email)) = (user_id, email) else {
        return Ok(Verified::Invalid);
    };
    let Some(record) = users::lock(conn, &user_id)? else {
        return Ok(Verified::Invalid);
    };
    let pending: Option<String> = users_table::table
        .find(&user_id)
        .select(users_table::pending_email)
        .first(conn)?;
    let previous = record.row.email.clone();
    if pending.as_deref() == Some(email.as_str()) {
        diesel::update(users_table::table.find(&user_id))
            .set((
                users_table::email.eq(Some(&email)),
                users_table::email_verified.eq(true),
                users_table::pending_email.eq(None::<String>),
                users_table::updated_at.eq(now),
            ))
            .execute(conn)?;
    } else if previous.as_deref() == Some(email.as_str()) {
        diesel::update(users_table::table.find(&user_id))
            .set((
                users_table::email_verified.eq(true),
                users_table::updated_at.eq(now),
            ))
            .execute(conn)?;
    } else {
        return Ok(Verified::Invalid);
    }
    Ok(Verified::Email {
        user_id,
        previous: previous.filter(|p| *p != email),
        email,
    })
}

fn create_signed_up(
    conn: &mut DbConnection,
    id: String,
    email: Option<String>,
    username: Option<String>,
    password_hash: Option<String>,
    now: i64,
) -> Result<Verified, StoreError> {
    let (Some(email), Some(username), Some(password_hash)) = (email, username, password_hash)
    else {
        return Ok(Verified::Invalid);
    };
    if users::find_by_username(conn, &username)?.is_some() {
        return Ok(Verified::UsernameTaken);
    }
    let row = UserRow {
        id: id.clone(),
        username: username.clone(),
        email: Some(email),
        email_verified: true,
        name: None,
        password_hash,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    users::insert(conn, &row, &[])?;
    Ok(Verified::SignedUp {
        user_id: id,
        username,
    })
}
