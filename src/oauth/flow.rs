//! The browser side of the authorization code flow: pending requests, sessions, login,
//! consent, and the code. Handlers in src/http/pages.rs render what this decides.

use std::collections::BTreeSet;

use super::authorize::{self, ErrorPage, ErrorRedirect, Prompt};
use super::client::RegisteredClient;
use super::context::{Ctx, store_error};
use super::error::OAuthError;
use super::form::FormMap;
use super::scope::Scope;
use crate::crypto::tokens::{Secret, matches_digest};
use crate::store::models::authorization::{
    self as rows, AuthorizationCodeRow, AuthorizationRequestRow, SessionRow,
};
use crate::store::models::users;

/// How long a validated request waits for the user.
pub const REQUEST_LIFETIME: i64 = 600;
/// RFC 6749 section 4.1.2 recommends at most ten minutes; one is plenty for a redirect.
pub const CODE_LIFETIME: i64 = 60;
pub const CODE_PREFIX: &str = "pca_";
const SESSION_PREFIX: &str = "pcs_s_";

/// What the browser does next.
#[derive(Debug)]
pub enum Step {
    Login(LoginPage),
    Consent(ConsentPage),
    /// A 303 to the client (with a code or an error).
    Redirect(String),
}

#[derive(Debug)]
pub struct LoginPage {
    pub request_id: String,
    pub csrf: Secret,
    pub client_name: String,
    pub login_hint: Option<String>,
}

#[derive(Debug)]
pub struct ConsentPage {
    pub request_id: String,
    pub csrf: Secret,
    pub client_name: String,
    pub scopes: Vec<String>,
}

/// Failures of the browser flow.
#[derive(Debug)]
pub enum FlowError {
    /// Shown to the user; never redirected.
    Page(&'static str),
    /// Storage or hashing cannot take the work now.
    Unavailable(OAuthError),
}

impl From<ErrorPage> for FlowError {
    fn from(e: ErrorPage) -> Self {
        Self::Page(e.0)
    }
}

fn unavailable(err: crate::store::StoreError) -> FlowError {
    FlowError::Unavailable(store_error(err))
}

/// A session from its cookie, if live and its user still enabled; its idle expiry moves.
pub async fn load_session(
    ctx: &Ctx<'_>,
    cookie: Option<&str>,
) -> Result<Option<SessionRow>, FlowError> {
    let Some(cookie) = cookie else {
        return Ok(None);
    };
    let digest = Secret::from_presented(cookie).digest().to_vec();
    let now = ctx.now;
    let idle = ctx.config.sessions.idle;
    ctx.store
        .run(move |conn| {
            let Some(session) = rows::find_session(conn, &digest)? else {
                return Ok(None);
            };
            if session.idle_expires_at <= now || session.absolute_expires_at <= now {
                return Ok(None);
            }
            let enabled =
                users::find_by_id(conn, &session.user_id)?.is_some_and(|u| !u.row.disabled);
            if !enabled {
                return Ok(None);
            }
            rows::touch_session(
                conn,
                &digest,
                now,
                (now + idle).min(session.absolute_expires_at),
            )?;
            Ok(Some(session))
        })
        .await
        .map_err(unavailable)
}

/// A new session after a successful login: always a new id (no fixation). Returns the
/// cookie value and the row.
pub async fn create_session(
    ctx: &Ctx<'_>,
    user_id: &str,
    amr: &[&str],
) -> Result<(Secret, SessionRow), FlowError> {
    let id = Secret::generate(SESSION_PREFIX);
    let row = SessionRow {
        id_digest: id.digest().to_vec(),
        sid: uuid::Uuid::now_v7().simple().to_string(),
        user_id: user_id.to_owned(),
        auth_time: ctx.now,
        amr: serde_json::to_string(amr).unwrap_or_else(|_| "[]".into()),
        created_at: ctx.now,
        last_seen_at: ctx.now,
        idle_expires_at: ctx.now + ctx.config.sessions.idle,
        absolute_expires_at: ctx.now + ctx.config.sessions.absolute,
    };
    let insert = row.clone();
    ctx.store
        .run(move |conn| rows::insert_session(conn, &insert))
        .await
        .map_err(unavailable)?;
    Ok((id, row))
}

pub async fn end_session(ctx: &Ctx<'_>, cookie: &str) -> Result<Option<SessionRow>, FlowError> {
    let digest = Secret::from_presented(cookie).digest().to_vec();
    ctx.store
        .run(move |conn| rows::delete_session(conn, &digest))
        .await
        .map_err(unavailable)
}

/// GET/POST /authorize: validate, store, then continue as far as the user's state allows.
pub async fn begin(
    ctx: &Ctx<'_>,
    form: &FormMap,
    session: Option<SessionRow>,
) -> Result<Step, FlowError> {
    let client = match form.get("client_id") {
        Some(id) => ctx.clients.get(id).await.map_err(unavailable)?,
        None => None,
    };
    let redirect_uri = authorize::client_and_redirect(form, client.as_deref())?;
    let client = client.ok_or(FlowError::Page(
        "The application that sent you here is not known.",
    ))?;
    let request = match authorize::validate(form, &client, redirect_uri) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Step::Redirect(authorize::error_location(
                &e,
                ctx.config.issuer.as_str(),
            )));
        }
    };
    let row = AuthorizationRequestRow {
        id: uuid::Uuid::new_v4().simple().to_string(),
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        redirect_uri_given: request.redirect_uri_given,
        scope: request.scope.to_string(),
        state: request.state.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        prompt: (!request.prompts.is_empty()).then(|| {
            request
                .prompts
                .iter()
                .map(|p| match p {
                    Prompt::None => "none",
                    Prompt::Login => "login",
                    Prompt::Consent => "consent",
                })
                .collect::<Vec<_>>()
                .join(" ")
        }),
        max_age: request.max_age,
        login_hint: request.login_hint.clone(),
        csrf_digest: Vec::new(),
        user_id: None,
        session_id: None,
        created_at: ctx.now,
        expires_at: ctx.now + REQUEST_LIFETIME,
    };
    let insert = row.clone();
    ctx.store
        .run(move |conn| rows::insert_request(conn, &insert))
        .await
        .map_err(unavailable)?;
    proceed(ctx, &client, row, session).await
}

/// Loads a pending request by id, refusing unknown and expired ones.
pub async fn pending(
    ctx: &Ctx<'_>,
    id: &str,
) -> Result<(AuthorizationRequestRow, std::sync::Arc<RegisteredClient>), FlowError> {
    let lookup = id.to_owned();
    let row = ctx
        .store
        .run(move |conn| rows::find_request(conn, &lookup))
        .await
        .map_err(unavailable)?
        .filter(|r| r.expires_at > ctx.now)
        .ok_or(FlowError::Page(
            "This sign-in request has expired or was already used. Go back to the application and start again.",
        ))?;
    let client = ctx
        .clients
        .get(&row.client_id)
        .await
        .map_err(unavailable)?
        .filter(|c| !c.disabled)
        .ok_or(FlowError::Page(
            "The application that sent you here is not known.",
        ))?;
    Ok((row, client))
}

/// Checks a form's CSRF token against the pending request.
pub fn check_csrf(row: &AuthorizationRequestRow, presented: Option<&str>) -> Result<(), FlowError> {
    match presented {
        Some(token) if matches_digest(token, &row.csrf_digest) => Ok(()),
        Some(_) | None => Err(FlowError::Page(
            "The form expired or did not come from this site. Go back and try again.",
        )),
    }
}

/// A fresh CSRF token for a page about to be rendered (the old one stops working).
async fn new_csrf(ctx: &Ctx<'_>, request_id: &str) -> Result<Secret, FlowError> {
    let token = Secret::generate("");
    let (id, digest) = (request_id.to_owned(), token.digest().to_vec());
    ctx.store
        .run(move |conn| {
            use crate::store::schema::authorization_requests as t;
            use diesel::prelude::*;
            diesel::update(t::table.find(&id))
                .set(t::csrf_digest.eq(digest))
                .execute(conn)?;
            Ok(())
        })
        .await
        .map_err(unavailable)?;
    Ok(token)
}

fn prompts(row: &AuthorizationRequestRow) -> BTreeSet<&str> {
    row.prompt
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect()
}

fn error_redirect(ctx: &Ctx<'_>, row: &AuthorizationRequestRow, error: OAuthError) -> Step {
    Step::Redirect(authorize::error_location(
        &ErrorRedirect {
            redirect_uri: row.redirect_uri.clone(),
            state: row.state.clone(),
            error,
        },
        ctx.config.issuer.as_str(),
    ))
}

/// Decides the next step for a pending request given the browser's session.
pub async fn proceed(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    row: AuthorizationRequestRow,
    session: Option<SessionRow>,
) -> Result<Step, FlowError> {
    let prompts = prompts(&row);
    // A login made for this very request satisfies prompt=login and max_age.
    let fresh = session
        .as_ref()
        .is_some_and(|s| row.session_id.as_deref() == Some(s.sid.as_str()));
    let session_ok = session.as_ref().is_some_and(|s| {
        fresh
            || (!prompts.contains("login")
                && row.max_age.is_none_or(|max| ctx.now - s.auth_time <= max))
    });
    let Some(session) = session.filter(|_| session_ok) else {
        if prompts.contains("none") {
            let _taken = take(ctx, &row.id).await?;
            return Ok(error_redirect(
                ctx,
                &row,
                OAuthError::LoginRequired("the user is not signed in".into()),
            ));
        }
        let csrf = new_csrf(ctx, &row.id).await?;
        return Ok(Step::Login(LoginPage {
            request_id: row.id,
            csrf,
            client_name: client.client_name.clone(),
            login_hint: row.login_hint,
        }));
    };

    let requested =
        Scope::parse(&row.scope).map_err(|_| FlowError::Page("The request's scope is invalid."))?;
    let needs_consent = if client.first_party {
        false
    } else if prompts.contains("consent") {
        true
    } else {
        let (user, cid) = (session.user_id.clone(), client.client_id.clone());
        let stored = ctx
            .store
            .run(move |conn| rows::find_consent(conn, &user, &cid))
            .await
            .map_err(unavailable)?;
        !stored
            .and_then(|s| Scope::parse(&s).ok())
            .is_some_and(|granted| requested.is_subset_of(&granted))
    };
    if needs_consent {
        if prompts.contains("none") {
            let _taken = take(ctx, &row.id).await?;
            return Ok(error_redirect(
                ctx,
                &row,
                OAuthError::ConsentRequired("the user has not consented".into()),
            ));
        }
        // The consent form must be answered by the same session.
        if row.session_id.as_deref() != Some(session.sid.as_str()) {
            let (id, user, sid) = (row.id.clone(), session.user_id.clone(), session.sid.clone());
            ctx.store
                .run(move |conn| rows::bind_request(conn, &id, &user, &sid))
                .await
                .map_err(unavailable)?;
        }
        let csrf = new_csrf(ctx, &row.id).await?;
        return Ok(Step::Consent(ConsentPage {
            request_id: row.id,
            csrf,
            client_name: client.client_name.clone(),
            scopes: requested.iter().map(str::to_owned).collect(),
        }));
    }
    issue_code(ctx, &row, &session).await
}

async fn take(ctx: &Ctx<'_>, id: &str) -> Result<bool, FlowError> {
    let id = id.to_owned();
    ctx.store
        .run(move |conn| rows::take_request(conn, &id))
        .await
        .map_err(unavailable)
}

/// Consent answered: remember it and finish, or tell the client the user said no.
pub async fn decide_consent(
    ctx: &Ctx<'_>,
    row: AuthorizationRequestRow,
    session: Option<SessionRow>,
    allow: bool,
) -> Result<Step, FlowError> {
    let session = session
        .filter(|s| row.session_id.as_deref() == Some(s.sid.as_str()))
        .ok_or(FlowError::Page(
            "Your session ended. Go back to the application and start again.",
        ))?;
    if !allow {
        let _taken = take(ctx, &row.id).await?;
        return Ok(error_redirect(
            ctx,
            &row,
            OAuthError::AccessDenied("the user denied the request".into()),
        ));
    }
    let (user, cid, now) = (session.user_id.clone(), row.client_id.clone(), ctx.now);
    let requested =
        Scope::parse(&row.scope).map_err(|_| FlowError::Page("The request's scope is invalid."))?;
    ctx.store
        .run(move |conn| {
            let merged = match rows::find_consent(conn, &user, &cid)? {
                Some(old) => {
                    let mut all: BTreeSet<String> = old
                        .split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect();
                    all.extend(requested.iter().map(str::to_owned));
                    all.into_iter().collect::<Vec<_>>().join(" ")
                }
                None => requested.to_string(),
            };
            rows::save_consent(conn, &user, &cid, &merged, now)
        })
        .await
        .map_err(unavailable)?;
    issue_code(ctx, &row, &session).await
}

async fn issue_code(
    ctx: &Ctx<'_>,
    row: &AuthorizationRequestRow,
    session: &SessionRow,
) -> Result<Step, FlowError> {
    // Only one finisher per request: a double-submitted form cannot mint two codes.
    if !take(ctx, &row.id).await? {
        return Err(FlowError::Page(
            "This sign-in request was already completed.",
        ));
    }
    let code = Secret::generate(CODE_PREFIX);
    let code_row = AuthorizationCodeRow {
        digest: code.digest().to_vec(),
        client_id: row.client_id.clone(),
        user_id: session.user_id.clone(),
        redirect_uri: row.redirect_uri.clone(),
        redirect_uri_given: row.redirect_uri_given,
        scope: row.scope.clone(),
        nonce: row.nonce.clone(),
        code_challenge: row.code_challenge.clone(),
        auth_time: session.auth_time,
        sid: Some(session.sid.clone()),
        amr: session.amr.clone(),
        created_at: ctx.now,
        expires_at: ctx.now + CODE_LIFETIME,
        consumed_at: None,
        grant_id: None,
    };
    ctx.store
        .run(move |conn| rows::insert_code(conn, &code_row))
        .await
        .map_err(unavailable)?;
    let mut params = vec![("code", code.expose())];
    if let Some(state) = &row.state {
        params.push(("state", state.as_str()));
    }
    params.push(("iss", ctx.config.issuer.as_str()));
    Ok(Step::Redirect(authorize::redirect_with(
        &row.redirect_uri,
        &params,
    )))
}

/// After a successful login: bind the request to the new session and continue.
pub async fn after_login(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    row: AuthorizationRequestRow,
    session: SessionRow,
) -> Result<Step, FlowError> {
    let (id, user, sid) = (row.id.clone(), session.user_id.clone(), session.sid.clone());
    ctx.store
        .run(move |conn| rows::bind_request(conn, &id, &user, &sid))
        .await
        .map_err(unavailable)?;
    let mut row = row;
    row.user_id = Some(session.user_id.clone());
    row.session_id = Some(session.sid.clone());
    proceed(ctx, client, row, Some(session)).await
}
