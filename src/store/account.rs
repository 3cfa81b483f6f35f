//! Storage for what a user changes on their own account pages (`oauth::flow::account`):
//! their password, which ends what else holds their account. (Their factors are
//! `store::factors`.) Plain types in and out.

use super::audit::{AuditEvent, Change};
use super::models::authorization;
use super::models::grants::sign_out_elsewhere;
use super::models::users;
use super::{Store, StoreError};

/// What a password change ended besides the password, for its audit event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndedElsewhere {
    /// Ids of the grants revoked: every refresh-token family of the user.
    pub grants: Vec<String>,
    /// The user's other browser sessions.
    pub sessions: usize,
    /// Codes not yet redeemed.
    pub codes: usize,
    /// Pending requests bound to the other sessions.
    pub requests: usize,
}

impl Store {
    /// The user's new password hash, in one transaction with the end of everything the
    /// old password may have opened elsewhere (`models::grants::sign_out_elsewhere`: every
    /// refresh-token family, every other session) and the audit event made from what
    /// ended. The session `keep_sid`, which made the change, stays. False when the user is
    /// gone.
    pub async fn change_password<F>(
        &self,
        user_id: &str,
        keep_sid: &str,
        password_hash: String,
        now: i64,
        event: F,
    ) -> Result<bool, StoreError>
    where
        F: FnOnce(&EndedElsewhere) -> AuditEvent + Send + 'static,
    {
        let (user_id, keep_sid) = (user_id.to_owned(), keep_sid.to_owned());
        let done = self
            .run_audited(Change::Revokes, now, None, move |conn| {
                let Some(mut record) = users::find_by_id(conn, &user_id)? else {
                    return Ok(None);
                };
                record.row.password_hash = password_hash;
                record.row.updated_at = now;
                users::update(conn, &record.row)?;
                let ended = sign_out_elsewhere(conn, &user_id, &keep_sid, now, "password changed")?;
                let ended = EndedElsewhere {
                    grants: ended.grants,
                    sessions: ended.sessions,
                    codes: ended.codes,
                    requests: ended.requests,
                };
                let event = event(&ended);
                Ok(Some(((), event)))
            })
            .await?;
        Ok(done.is_some())
    }
}

/// A live browser session as the sessions pages and the admin API list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDetails {
    /// The public session id (`sid` of ID tokens), never the cookie.
    pub sid: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// When it ends unless used again (the earlier of its idle and absolute expiry).
    pub expires_at: i64,
}

/// A client the user consented to, with what they granted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    pub client_id: String,
    /// None when the client no longer exists.
    pub client_name: Option<String>,
    /// Space-separated.
    pub scope: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What revoking an app ended, for its audit event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppRevoked {
    /// The consent was there (and is gone).
    pub consent: bool,
    /// Ids of the grants revoked: the refresh-token families the client held for the user.
    pub grants: Vec<String>,
    /// The client's codes for the user not yet redeemed.
    pub codes: usize,
}

fn details_of(row: super::models::authorization::SessionRow) -> Result<SessionDetails, StoreError> {
    let amr: Vec<String> = serde_json::from_str(&row.amr)
        .map_err(|e| StoreError::Corrupt(format!("session amr: {e}")))?;
    Ok(SessionDetails {
        sid: row.sid,
        user_agent: row.user_agent,
        ip: row.ip,
        auth_time: row.auth_time,
        amr,
        created_at: row.created_at,
        last_seen_at: row.last_seen_at,
        expires_at: row.idle_expires_at.min(row.absolute_expires_at),
    })
}

impl Store {
    /// The user's live browser sessions, the most recently seen first.
    pub async fn user_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<SessionDetails>, StoreError> {
        let user_id = user_id.to_owned();
        self.run(move |conn| {
            authorization::live_sessions_of_user(conn, &user_id, now)?
                .into_iter()
                .map(details_of)
                .collect()
        })
        .await
    }

    /// Ends one of the user's sessions as logout does (its row goes, so its cookie finds
    /// nothing), with the audit event made from it, in one transaction. False when the
    /// user has no such session: another user's `sid` is never touched.
    pub async fn end_user_session<F>(
        &self,
        user_id: &str,
        sid: &str,
        now: i64,
        event: F,
    ) -> Result<bool, StoreError>
    where
        F: FnOnce(&SessionDetails) -> AuditEvent + Send + 'static,
    {
        let (user_id, sid) = (user_id.to_owned(), sid.to_owned());
        let done = self
            .run_audited(Change::Other, now, None, move |conn| {
                let Some(row) = authorization::delete_session_of_user(conn, &user_id, &sid)? else {
                    return Ok(None);
                };
                let ended = details_of(row)?;
                let event = event(&ended);
                Ok(Some(((), event)))
            })
            .await?;
        Ok(done.is_some())
    }

    /// Ends every session of the user but `keep_sid`, as logout would each, with one
    /// audit event; returns how many ended (nothing is recorded when none did). Refresh
    /// families are not sessions: the connected apps keep theirs.
    pub async fn end_other_sessions<F>(
        &self,
        user_id: &str,
        keep_sid: &str,
        now: i64,
        event: F,
    ) -> Result<usize, StoreError>
    where
        F: FnOnce(usize) -> AuditEvent + Send + 'static,
    {
        let (user_id, keep_sid) = (user_id.to_owned(), keep_sid.to_owned());
        let done = self
            .run_audited(Change::Other, now, None, move |conn| {
                let ended = authorization::delete_other_sessions(conn, &user_id, &keep_sid)?;
                Ok((ended > 0).then(|| (ended, event(ended))))
            })
            .await?;
        Ok(done.unwrap_or(0))
    }

    /// The clients the user consented to, by client id.
    pub async fn connected_apps(&self, user_id: &str) -> Result<Vec<ConnectedApp>, StoreError> {
        let user_id = user_id.to_owned();
        let rows = self
            .run(move |conn| authorization::consents_of_user(conn, &user_id))
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(client_id, client_name, scope, created_at, updated_at)| ConnectedApp {
                    client_id,
                    client_name,
                    scope,
                    created_at,
                    updated_at,
                },
            )
            .collect())
    }

    /// Revokes an app: forgets the consent (the next sign-in through it asks again),
    /// ends every grant the client holds for the user (its refresh-token families, and
    /// through the `gid` check its access tokens) and deletes its codes not yet redeemed,
    /// with the audit event, in one transaction that drops remembered standings. None when
    /// there was nothing to revoke.
    pub async fn revoke_app<F>(
        &self,
        user_id: &str,
        client_id: &str,
        now: i64,
        event: F,
    ) -> Result<Option<AppRevoked>, StoreError>
    where
        F: FnOnce(&AppRevoked) -> AuditEvent + Send + 'static,
    {
        let (user_id, client_id) = (user_id.to_owned(), client_id.to_owned());
        self.run_audited(Change::Revokes, now, None, move |conn| {
            let consent = authorization::delete_consent(conn, &user_id, &client_id)?;
            let grants = super::models::grants::end_user_client_grants(
                conn,
                &user_id,
                &client_id,
                now,
                "revoked by the user",
            )?;
            let codes =
                authorization::delete_pending_codes_of_user_for_client(conn, &user_id, &client_id)?;
            if !consent && grants.is_empty() && codes == 0 {
                return Ok(None);
            }
            let revoked = AppRevoked {
                consent,
                grants,
                codes,
            };
            let event = event(&revoked);
            Ok(Some((revoked, event)))
        })
        .await
    }
}
