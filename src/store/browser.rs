//! Storage for the browser side of the authorization code flow (`oauth::flow`): pending
//! requests, sessions, remembered consent and the codes they end in. Each operation is one
//! `run` (one connection checkout) and, where it writes more than once, one transaction.
//! It takes and returns the plain types below; rows and diesel stay in `models`.

use std::collections::BTreeSet;

use diesel::Connection;

use super::audit::{AuditEvent, Change};
use super::factors::{UserFactors, user_factors};
use super::models::authorization::{
    self as rows, AuthorizationCodeRow, AuthorizationRequestRow, SessionRow,
};
/// The bounds on live pending requests, and which one refused a request.
pub use super::models::authorization::{PendingBound, PendingBounds};
use super::models::throttle;
use super::models::users;
use super::{Store, StoreError};

/// A throttling key's stored failure counter (login form and password grant alike).
pub use super::models::throttle::{GiveBack, Reserved as ThrottlePlace};

/// A validated authorization request as stored, frozen until it is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRequest {
    pub id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    /// Space-separated, as validated.
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// Space-separated prompt values (`none`, `login`, `consent`); None when absent.
    pub prompt: Option<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// Digest of the CSRF token of the page last rendered for it (empty: none yet).
    pub csrf_digest: Vec<u8>,
    /// The session that logged in for, or was shown the consent page of, this request.
    pub session_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// RFC 8707 resources granted from the client's allow-list, a JSON list; the code
    /// carries it to redemption.
    pub resources: String,
    /// The `sub` of a verified `id_token_hint`: the only user this request may finish for.
    pub id_token_hint_subject: Option<String>,
    /// The session whose login was made for this request (see `session_id` for the one
    /// answering it).
    pub login_session_id: Option<String>,
    /// The `acr_values` the client asked for (known values, space-separated).
    pub acr_values: Option<String>,
    /// The client's `ui_locales`, for the language of the pages.
    pub ui_locales: Option<String>,
}

/// A live browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub sid: String,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
}

/// A session to create: its cookie's digest and its lifetimes.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_digest: Vec<u8>,
    pub session: Session,
    pub now: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    /// The browser's User-Agent (bounded by the caller), shown on the sessions page.
    pub user_agent: Option<String>,
    /// The client address, as the rate limiter sees it.
    pub ip: Option<String>,
}

/// Finding a session by its cookie: live, its user still enabled; its idle expiry moves.
#[derive(Debug, Clone)]
pub struct SessionLookup {
    pub id_digest: Vec<u8>,
    pub now: i64,
    /// Seconds of idleness a session survives.
    pub idle: i64,
    /// The address the session is used from now, stored with its last use (the same
    /// statement that moves its idle expiry).
    pub ip: Option<String>,
}

/// What a browser step needs to decide: the request, the browser's session, and the
/// scope its user has consented to for the request's client (space-separated).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub request: Option<StoredRequest>,
    pub session: Option<Session>,
    pub consent: Option<String>,
    /// The session user's factors and roles (None without a session).
    pub factors: Option<UserFactors>,
}

/// The code a finished request becomes.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub digest: Vec<u8>,
    pub user_id: String,
    pub auth_time: i64,
    pub sid: String,
    pub amr: Vec<String>,
    /// The `acr` its ID token will state.
    pub acr: String,
    pub now: i64,
    pub expires_at: i64,
}

/// Consent to remember when a request finishes: added to what the user granted before.
#[derive(Debug, Clone)]
pub struct ConsentGiven {
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub now: i64,
}

fn request_of(row: AuthorizationRequestRow) -> StoredRequest {
    StoredRequest {
        id: row.id,
        client_id: row.client_id,
        redirect_uri: row.redirect_uri,
        redirect_uri_given: row.redirect_uri_given,
        scope: row.scope,
        state: row.state,
        nonce: row.nonce,
        code_challenge: row.code_challenge,
        prompt: row.prompt,
        max_age: row.max_age,
        login_hint: row.login_hint,
        csrf_digest: row.csrf_digest,
        session_id: row.session_id,
        created_at: row.created_at,
        expires_at: row.expires_at,
        resources: row.resources,
        id_token_hint_subject: row.id_token_hint_subject,
        login_session_id: row.login_session_id,
        acr_values: row.acr_values,
        ui_locales: row.ui_locales,
    }
}

fn session_of(row: SessionRow) -> Result<Session, StoreError> {
    let amr: Vec<String> = serde_json::from_str(&row.amr)
        .map_err(|e| StoreError::Corrupt(format!("session amr: {e}")))?;
    Ok(Session {
        sid: row.sid,
        user_id: row.user_id,
        auth_time: row.auth_time,
        amr,
    })
}

fn amr_text(amr: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(amr).map_err(|e| StoreError::Corrupt(format!("amr: {e}")))
}

fn live_session(
    conn: &mut crate::store::DbConnection,
    lookup: &SessionLookup,
) -> Result<Option<Session>, StoreError> {
    Ok(live_session_with_roles(conn, lookup)?.map(|(session, _)| session))
}

/// A live session and its user's factors, in the same unit of work.
fn live_session_with_factors(
    conn: &mut crate::store::DbConnection,
    lookup: Option<&SessionLookup>,
) -> Result<(Option<Session>, Option<UserFactors>), StoreError> {
    let Some(lookup) = lookup else {
        return Ok((None, None));
    };
    match live_session_with_roles(conn, lookup)? {
        Some((session, (username, roles))) => {
            let factors = user_factors(conn, &session.user_id, username, roles)?;
            Ok((Some(session), Some(factors)))
        }
        None => Ok((None, None)),
    }
}

/// A session's user: their username and roles.
type SessionUser = (String, Vec<String>);

fn live_session_with_roles(
    conn: &mut crate::store::DbConnection,
    lookup: &SessionLookup,
) -> Result<Option<(Session, SessionUser)>, StoreError> {
    let Some(row) = rows::find_session(conn, &lookup.id_digest)? else {
        return Ok(None);
    };
    let now = lookup.now;
    if row.idle_expires_at <= now || row.absolute_expires_at <= now {
        return Ok(None);
    }
    let Some(user) = users::find_by_id(conn, &row.user_id)?.filter(|u| !u.row.disabled) else {
        return Ok(None);
    };
    rows::touch_session(
        conn,
        &lookup.id_digest,
        now,
        (now + lookup.idle).min(row.absolute_expires_at),
        lookup.ip.as_deref(),
    )?;
    Ok(Some((session_of(row)?, (user.row.username, user.roles))))
}

fn consent_for(
    conn: &mut crate::store::DbConnection,
    session: Option<&Session>,
    client_id: &str,
) -> Result<Option<String>, StoreError> {
    match session {
        Some(s) => rows::find_consent(conn, &s.user_id, client_id),
        None => Ok(None),
    }
}

impl Store {
    /// Stores a validated request, unless its client network (`client_key`, the rate
    /// limits' counting key) or the server as a whole already holds as many live pending
    /// requests as `bounds` allow; then, in the same round trip, finds the browser's
    /// session and what its user consented to for the client. A refused request stores
    /// nothing and reads nothing more.
    pub async fn begin_request(
        &self,
        request: StoredRequest,
        client_key: Option<String>,
        bounds: PendingBounds,
        session: Option<SessionLookup>,
    ) -> Result<Result<Loaded, PendingBound>, StoreError> {
        self.run(move |conn| {
            let row = AuthorizationRequestRow {
                id: request.id.clone(),
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                redirect_uri_given: request.redirect_uri_given,
                scope: request.scope.clone(),
                state: request.state.clone(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                prompt: request.prompt.clone(),
                max_age: request.max_age,
                login_hint: request.login_hint.clone(),
                csrf_digest: request.csrf_digest.clone(),
                user_id: None,
                session_id: request.session_id.clone(),
                created_at: request.created_at,
                expires_at: request.expires_at,
                resources: request.resources.clone(),
                id_token_hint_subject: request.id_token_hint_subject.clone(),
                login_session_id: request.login_session_id.clone(),
                client_key,
                acr_values: request.acr_values.clone(),
                ui_locales: request.ui_locales.clone(),
            };
            if let Err(bound) = rows::insert_request_within(conn, &row, request.created_at, bounds)?
            {
                return Ok(Err(bound));
            }
            let (session, factors) = live_session_with_factors(conn, session.as_ref())?;
            let consent = consent_for(conn, session.as_ref(), &request.client_id)?;
            Ok(Ok(Loaded {
                request: Some(request),
                session,
                consent,
                factors,
            }))
        })
        .await
    }

    /// A pending request by id, with the browser's session and its user's consent for the
    /// request's client, in one round trip. Expiry is the caller's to judge.
    pub async fn load_request(
        &self,
        id: &str,
        session: Option<SessionLookup>,
    ) -> Result<Loaded, StoreError> {
        let id = id.to_owned();
        self.run(move |conn| {
            let Some(row) = rows::find_request(conn, &id)? else {
                return Ok(Loaded {
                    request: None,
                    session: None,
                    consent: None,
                    factors: None,
                });
            };
            let (session, factors) = live_session_with_factors(conn, session.as_ref())?;
            let consent = consent_for(conn, session.as_ref(), &row.client_id)?;
            Ok(Loaded {
                request: Some(request_of(row)),
                session,
                consent,
                factors,
            })
        })
        .await
    }

    /// A session from its cookie, if live and its user still enabled; its idle expiry moves.
    pub async fn load_session(&self, lookup: SessionLookup) -> Result<Option<Session>, StoreError> {
        self.run(move |conn| live_session(conn, &lookup)).await
    }

    /// A live session with its user's factors and roles, in one round trip: what the
    /// account pages decide access on. None for no such session, an expired one, or a
    /// disabled user.
    pub async fn load_session_with_factors(
        &self,
        lookup: SessionLookup,
    ) -> Result<Option<(Session, UserFactors)>, StoreError> {
        self.run(move |conn| {
            Ok(match live_session_with_factors(conn, Some(&lookup))? {
                (Some(session), Some(factors)) => Some((session, factors)),
                (Some(_) | None, _) => None,
            })
        })
        .await
    }

    /// Records the CSRF token of a page about to be rendered (the old one stops working),
    /// for a consent or second-factor page the session that must answer it, and the
    /// WebAuthn ceremony the page starts (None: any earlier one ends).
    pub async fn set_request_csrf(
        &self,
        request_id: &str,
        csrf_digest: Vec<u8>,
        bind: Option<Session>,
        ceremony: Option<String>,
    ) -> Result<(), StoreError> {
        let id = request_id.to_owned();
        self.run(move |conn| {
            conn.transaction(|conn| {
                if let Some(s) = &bind {
                    rows::bind_request(conn, &id, &s.user_id, &s.sid)?;
                }
                rows::set_ceremony(conn, &id, ceremony.as_deref())?;
                rows::set_csrf(conn, &id, &csrf_digest)
            })
        })
        .await
    }

    /// Records the session that must answer the request's consent page.
    pub async fn bind_request(
        &self,
        request_id: &str,
        session: &Session,
    ) -> Result<(), StoreError> {
        let (id, user, sid) = (
            request_id.to_owned(),
            session.user_id.clone(),
            session.sid.clone(),
        );
        self.run(move |conn| rows::bind_request(conn, &id, &user, &sid))
            .await
    }

    /// A new session after a login, bound to the request it was made for (whose login
    /// form's CSRF token stops working); returns what its user consented to for the
    /// request's client.
    pub async fn create_session(
        &self,
        new: NewSession,
        request_id: &str,
        client_id: &str,
    ) -> Result<(Option<String>, UserFactors), StoreError> {
        let (id, client_id) = (request_id.to_owned(), client_id.to_owned());
        self.run(move |conn| {
            let row = SessionRow {
                id_digest: new.id_digest.clone(),
                sid: new.session.sid.clone(),
                user_id: new.session.user_id.clone(),
                auth_time: new.session.auth_time,
                amr: amr_text(&new.session.amr)?,
                created_at: new.now,
                last_seen_at: new.now,
                idle_expires_at: new.idle_expires_at,
                absolute_expires_at: new.absolute_expires_at,
                user_agent: new.user_agent.clone(),
                ip: new.ip.clone(),
            };
            conn.transaction(|conn| {
                rows::insert_session(conn, &row)?;
                rows::mark_login(conn, &id, &row.user_id, &row.sid)?;
                // The login form's token is spent: replaying the form does nothing.
                rows::set_csrf(conn, &id, &[])?;
                let consent = rows::find_consent(conn, &row.user_id, &client_id)?;
                let user = users::find_by_id(conn, &row.user_id)?.ok_or(StoreError::NotFound)?;
                let factors = user_factors(conn, &row.user_id, user.row.username, user.roles)?;
                Ok((consent, factors))
            })
        })
        .await
    }

    /// A session that proved a second factor: its methods become `amr`, and its cookie
    /// changes to the one whose digest is `new_digest` (its `sid` and `auth_time` stay),
    /// recorded with `event`. False when the session is gone.
    pub async fn upgrade_session(
        &self,
        old_digest: Vec<u8>,
        new_digest: Vec<u8>,
        amr: Vec<String>,
        now: i64,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        let amr = amr_text(&amr)?;
        let done = self
            .run_audited(Change::Other, now, None, move |conn| {
                Ok(rows::upgrade_session(conn, &old_digest, &new_digest, &amr)?
                    .then_some(((), event)))
            })
            .await?;
        Ok(done.is_some())
    }

    /// Deletes a pending request; true if this call did (so only one caller finishes it).
    pub async fn take_request(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.run(move |conn| rows::take_request(conn, &id)).await
    }

    /// Finishes a request: takes it, remembers the consent given (if any) and stores its
    /// code, all or nothing. False when another caller took the request first.
    pub async fn take_request_and_insert_code(
        &self,
        request: &StoredRequest,
        code: NewCode,
        consent: Option<ConsentGiven>,
    ) -> Result<bool, StoreError> {
        let row = AuthorizationCodeRow {
            digest: code.digest,
            client_id: request.client_id.clone(),
            user_id: code.user_id,
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_given: request.redirect_uri_given,
            scope: request.scope.clone(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time: code.auth_time,
            sid: Some(code.sid),
            amr: amr_text(&code.amr)?,
            created_at: code.now,
            expires_at: code.expires_at,
            consumed_at: None,
            grant_id: None,
            resources: request.resources.clone(),
            acr: Some(code.acr),
        };
        let id = request.id.clone();
        self.run(move |conn| {
            conn.transaction(|conn| {
                if !rows::take_request(conn, &id)? {
                    return Ok(false);
                }
                if let Some(given) = &consent {
                    remember_consent(conn, given)?;
                }
                rows::insert_code(conn, &row)?;
                Ok(true)
            })
        })
        .await
    }

    /// Ends the session behind a cookie and appends the audit event made from it, in one
    /// transaction. None when there was no such session.
    pub async fn end_session_with_audit<F>(
        &self,
        id_digest: Vec<u8>,
        now: i64,
        event: F,
    ) -> Result<Option<Session>, StoreError>
    where
        F: FnOnce(&Session) -> AuditEvent + Send + 'static,
    {
        self.run_audited(Change::Other, now, None, move |conn| {
            let Some(row) = rows::delete_session(conn, &id_digest)? else {
                return Ok(None);
            };
            let session = session_of(row)?;
            let event = event(&session);
            Ok(Some((session, event)))
        })
        .await
    }
}

/// Throttling of password checks: counters per key (a username, a client IP), shared by
/// every replica and by the login form and the password grant.
impl Store {
    /// Takes a place for one password check on every key, or refuses without taking any
    /// when `admit` says so (see `throttle::reserve`): the counting happens before the
    /// check, so parallel attempts cannot all read the same old counts.
    pub async fn reserve_login_attempt<R, A>(
        &self,
        keys: Vec<(String, i64)>,
        now: i64,
        admit: A,
    ) -> Result<Result<Vec<ThrottlePlace>, R>, StoreError>
    where
        R: Send + 'static,
        A: FnOnce(&[Option<(u32, i64)>]) -> Option<R> + Send + 'static,
    {
        self.run(move |conn| throttle::reserve(conn, &keys, now, admit))
            .await
    }

    /// A password check that succeeded: gives its places back as said and records `event`
    /// (its `login.success`) in one transaction, so a success costs one round trip more
    /// than its check, as before places were taken.
    pub async fn login_succeeded(
        &self,
        places: Vec<(ThrottlePlace, GiveBack)>,
        now: i64,
        event: AuditEvent,
    ) -> Result<(), StoreError> {
        self.run_audited(Change::Other, now, Some(event.clone()), move |conn| {
            places
                .iter()
                .try_for_each(|(place, what)| throttle::give_back(conn, place, *what))?;
            Ok(Some(((), event)))
        })
        .await
        .map(|_| ())
    }

    /// Gives back each place as said (see `throttle::give_back`).
    pub async fn give_back_login_places(
        &self,
        places: Vec<(ThrottlePlace, GiveBack)>,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            places
                .iter()
                .try_for_each(|(place, what)| throttle::give_back(conn, place, *what))
        })
        .await
    }
}

/// Adds `given.scope` to what the user granted the client before.
fn remember_consent(
    conn: &mut crate::store::DbConnection,
    given: &ConsentGiven,
) -> Result<(), StoreError> {
    let merged = match rows::find_consent(conn, &given.user_id, &given.client_id)? {
        Some(old) => {
            let all: BTreeSet<&str> = old
                .split(' ')
                .chain(given.scope.split(' '))
                .filter(|s| !s.is_empty())
                .collect();
            all.into_iter().collect::<Vec<_>>().join(" ")
        }
        None => given.scope.clone(),
    };
    rows::save_consent(conn, &given.user_id, &given.client_id, &merged, given.now)
}
