//! Storage for second factors (issue 20): a user's TOTP authenticator, passkeys and
//! recovery codes, and the WebAuthn ceremonies in flight. Plain types in and out; rows stay
//! in `models::factors`. Every change a user or an operator makes is one transaction with
//! its audit event (`Store::run_audited`).

use diesel::Connection;

use super::audit::{AuditEvent, Change};
use super::models::authorization as requests;
use super::models::factors::{self as rows, FactorRow, PASSKEY, TOTP};
use super::models::grants::{SignedOut, sign_out_everywhere};
use super::{DbConnection, Store, StoreError};

/// What a factor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorKind {
    Totp,
    Passkey,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => TOTP,
            Self::Passkey => PASSKEY,
        }
    }
}

/// One factor of a user. `secret_sealed` (TOTP) is the secret sealed under the master key;
/// `credential` (passkey) is webauthn-rs's credential as JSON, which holds no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Factor {
    pub id: String,
    pub user_id: String,
    pub kind: FactorKind,
    pub name: String,
    pub confirmed: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub secret_sealed: Option<Vec<u8>>,
    pub credential: Option<String>,
    pub credential_id: Option<Vec<u8>>,
}

impl std::fmt::Debug for Factor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factor")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

fn factor_of(row: FactorRow) -> Result<Factor, StoreError> {
    let kind = match row.kind.as_str() {
        TOTP => FactorKind::Totp,
        PASSKEY => FactorKind::Passkey,
        other => return Err(StoreError::Corrupt(format!("factor kind {other:?}"))),
    };
    Ok(Factor {
        id: row.id,
        user_id: row.user_id,
        kind,
        name: row.name,
        confirmed: row.confirmed,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        secret_sealed: row.secret_sealed,
        credential: row.credential,
        credential_id: row.credential_id,
    })
}

fn row_of(f: &Factor) -> FactorRow {
    FactorRow {
        id: f.id.clone(),
        user_id: f.user_id.clone(),
        kind: f.kind.as_str().to_owned(),
        name: f.name.clone(),
        secret_sealed: f.secret_sealed.clone(),
        credential: f.credential.clone(),
        credential_id: f.credential_id.clone(),
        confirmed: f.confirmed,
        last_step: None,
        created_at: f.created_at,
        last_used_at: f.last_used_at,
    }
}

/// What a user can prove beyond their password, and the roles that may demand it: what the
/// browser flow decides a second factor on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFactors {
    /// The user's username (normalised), which their throttling counters are kept under.
    pub username: String,
    /// A confirmed TOTP authenticator.
    pub totp: bool,
    pub passkeys: u32,
    /// Recovery codes not yet spent.
    pub recovery_codes: u32,
    pub roles: Vec<String>,
}

impl UserFactors {
    /// A TOTP authenticator or a passkey (recovery codes stand in for one, never alone).
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

/// The user's factor counts, with their roles (read by the caller with the user).
pub(crate) fn user_factors(
    conn: &mut DbConnection,
    user_id: &str,
    username: String,
    roles: Vec<String>,
) -> Result<UserFactors, StoreError> {
    let (totp, passkeys, codes) = rows::counts(conn, user_id)?;
    Ok(UserFactors {
        username,
        totp: totp > 0,
        passkeys: u32::try_from(passkeys).unwrap_or(u32::MAX),
        recovery_codes: u32::try_from(codes).unwrap_or(u32::MAX),
        roles,
    })
}

/// Stores a TOTP authenticator (`Store::begin_totp`) inside the caller's transaction: an
/// unconfirmed one is replaced; false (nothing stored) when the user already has a
/// confirmed one. The operator's provisioning (`manage`) calls it with the user locked.
pub(crate) fn add_totp(conn: &mut DbConnection, factor: &Factor) -> Result<bool, StoreError> {
    let confirmed = rows::of_user(conn, &factor.user_id)?
        .iter()
        .any(|f| f.kind == TOTP && f.confirmed);
    if confirmed {
        return Ok(false);
    }
    rows::delete_unconfirmed_totp(conn, &factor.user_id)?;
    rows::insert(conn, &row_of(factor))?;
    Ok(true)
}

/// The reset of `Store::reset_factors` inside the caller's transaction (the operator's
/// reset in `manage`, which judges the caller against the locked user first): every
/// factor and recovery code goes, and the user is signed out everywhere. Answers how many
/// factors there were and what the sign-out ended.
pub(crate) fn reset(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<(usize, SignedOut), StoreError> {
    let n = rows::delete_all(conn, user_id)?;
    let signed_out = sign_out_everywhere(conn, user_id, now, "factors_reset")?;
    Ok((n, signed_out))
}

impl Store {
    /// Every factor of a user, oldest first (unconfirmed TOTP enrolments included).
    pub async fn factors_of(&self, user_id: &str) -> Result<Vec<Factor>, StoreError> {
        let user_id = user_id.to_owned();
        self.run(move |conn| {
            rows::of_user(conn, &user_id)?
                .into_iter()
                .map(factor_of)
                .collect()
        })
        .await
    }

    /// The user's factor counts and roles; None for an unknown user.
    pub async fn user_factors(&self, user_id: &str) -> Result<Option<UserFactors>, StoreError> {
        let user_id = user_id.to_owned();
        self.run(move |conn| {
            let Some(user) = super::models::users::find_by_id(conn, &user_id)? else {
                return Ok(None);
            };
            user_factors(conn, &user_id, user.row.username, user.roles).map(Some)
        })
        .await
    }

    /// Starts a TOTP enrolment: replaces an unconfirmed one; false (nothing stored) when
    /// the user already has a confirmed authenticator, which must be removed first.
    pub async fn begin_totp(&self, factor: Factor) -> Result<bool, StoreError> {
        self.run(move |conn| conn.transaction(|conn| add_totp(conn, &factor)))
            .await
    }

    /// Takes a TOTP step for the factor (see `models::factors::take_step`): false for a
    /// step already taken (a replayed code). `enrolled` is the audit event of a first
    /// code, which confirms the enrolment; it is recorded with it, and with the recovery
    /// codes that come with a first factor (`codes`, digests), in one transaction.
    pub async fn take_totp_step(
        &self,
        factor_id: &str,
        step: i64,
        now: i64,
        enrolled: Option<(AuditEvent, Vec<Vec<u8>>)>,
    ) -> Result<bool, StoreError> {
        let id = factor_id.to_owned();
        let taken = self
            .run_recorded::<_, StoreError, _>(Change::Other, now, None, move |conn| {
                let Some(row) = rows::find(conn, &id)? else {
                    return Ok((false, None));
                };
                let first = !row.confirmed;
                if !rows::take_step(conn, &id, step, now)? {
                    return Ok((false, None));
                }
                match (first, enrolled) {
                    (true, Some((event, codes))) => {
                        if !codes.is_empty() {
                            rows::replace_codes(conn, &row.user_id, &codes, now)?;
                        }
                        Ok((true, Some(event)))
                    }
                    (true, None) | (false, _) => Ok((true, None)),
                }
            })
            .await?;
        Ok(taken)
    }

    /// Spends a recovery code of the user, recording `event` with it; false when the code
    /// is not one of theirs or was spent.
    pub async fn spend_recovery_code(
        &self,
        user_id: &str,
        digest: Vec<u8>,
        now: i64,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        let user_id = user_id.to_owned();
        let spent = self
            .run_audited(Change::Other, now, None, move |conn| {
                Ok(rows::spend_code(conn, &user_id, &digest, now)?.then_some(((), event)))
            })
            .await?;
        Ok(spent.is_some())
    }

    /// A new set of recovery codes (digests) that voids the old one, with its audit event.
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        digests: Vec<Vec<u8>>,
        now: i64,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        let user_id = user_id.to_owned();
        self.run_audited(Change::Other, now, Some(event.clone()), move |conn| {
            rows::replace_codes(conn, &user_id, &digests, now)?;
            Ok(Some(((), event)))
        })
        .await
        .map(|_| ())
    }

    /// Registers a passkey, with its audit event, and the recovery codes of a first
    /// factor (`codes`: empty when the user has some already).
    pub async fn add_passkey(
        &self,
        factor: Factor,
        codes: Vec<Vec<u8>>,
        now: i64,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        self.run_audited(Change::Other, now, Some(event.clone()), move |conn| {
            rows::insert(conn, &row_of(&factor))?;
            if !codes.is_empty() {
                rows::replace_codes(conn, &factor.user_id, &codes, now)?;
            }
            Ok(Some(((), event)))
        })
        .await
        .map(|_| ())
    }

    /// The passkey with this credential id, if any.
    pub async fn find_passkey(&self, credential_id: Vec<u8>) -> Result<Option<Factor>, StoreError> {
        self.run(move |conn| {
            rows::find_by_credential_id(conn, &credential_id)?
                .map(factor_of)
                .transpose()
        })
        .await
    }

    /// Stores a passkey's credential after use (its counter and backup state move).
    pub async fn update_passkey(
        &self,
        factor_id: &str,
        credential: String,
        now: i64,
    ) -> Result<(), StoreError> {
        let id = factor_id.to_owned();
        self.run(move |conn| rows::update_credential(conn, &id, &credential, now))
            .await
    }

    /// Removes one factor of the user, with its audit event; the recovery codes go with
    /// the last factor. False when there was no such factor.
    pub async fn remove_factor(
        &self,
        user_id: &str,
        factor_id: &str,
        now: i64,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        let (user_id, id) = (user_id.to_owned(), factor_id.to_owned());
        let removed = self
            .run_audited(Change::Other, now, None, move |conn| {
                if !rows::delete(conn, &user_id, &id)? {
                    return Ok(None);
                }
                let (totp, passkeys, _) = rows::counts(conn, &user_id)?;
                if totp + passkeys == 0 {
                    rows::delete_codes(conn, &user_id)?;
                }
                Ok(Some(((), event)))
            })
            .await?;
        Ok(removed.is_some())
    }

    /// An operator's reset: every factor and recovery code of the user goes, and so does
    /// everything that lets them in without their credentials (sessions, refresh
    /// families), in one transaction with its audit event. Answers how many factors there
    /// were.
    pub async fn reset_factors<F>(
        &self,
        user_id: &str,
        now: i64,
        event: F,
    ) -> Result<usize, StoreError>
    where
        F: FnOnce(usize) -> AuditEvent + Send + 'static,
    {
        let user_id = user_id.to_owned();
        let done = self
            .run_audited(Change::Revokes, now, None, move |conn| {
                let (n, _) = reset(conn, &user_id, now)?;
                Ok(Some((n, event(n))))
            })
            .await?;
        Ok(done.unwrap_or(0))
    }

    /// Keeps the WebAuthn ceremony a request's page started (replacing any earlier one).
    pub async fn set_request_ceremony(
        &self,
        request_id: &str,
        ceremony: Option<String>,
    ) -> Result<(), StoreError> {
        let id = request_id.to_owned();
        self.run(move |conn| requests::set_ceremony(conn, &id, ceremony.as_deref()))
            .await
    }

    /// Takes the request's WebAuthn ceremony: it answers once.
    pub async fn take_request_ceremony(
        &self,
        request_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let id = request_id.to_owned();
        self.run(move |conn| conn.transaction(|conn| requests::take_ceremony(conn, &id)))
            .await
    }

    /// Keeps the passkey registration an account page started for the session.
    pub async fn set_session_ceremony(
        &self,
        session_digest: Vec<u8>,
        ceremony: Option<String>,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            requests::set_session_ceremony(conn, &session_digest, ceremony.as_deref())
        })
        .await
    }

    /// Takes the session's passkey registration: it answers once.
    pub async fn take_session_ceremony(
        &self,
        session_digest: Vec<u8>,
    ) -> Result<Option<String>, StoreError> {
        self.run(move |conn| {
            conn.transaction(|conn| requests::take_session_ceremony(conn, &session_digest))
        })
        .await
    }
}
