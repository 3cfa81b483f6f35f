//! The browser side of the authorization code flow: `/authorize`, the login and consent
//! pages, and logout. src/http/pages.rs extracts a request, calls one entry point here and
//! renders the [`Step`] it returns; the order of the protocol's steps lives here.
//!
//! Each entry point loads what it needs in one storage round trip, parses the pending
//! request once ([`PendingRequest`]), asks the one pure decision ([`decide::decide`]) what
//! comes next, and performs only that: a page mints its CSRF token when (and only when) it
//! is rendered; a redirect to a page's own URL mints nothing; finishing takes the request,
//! remembers consent and stores the code in one transaction.
//!
//! Adding a step (a second factor, a device confirmation, an account chooser) is one new
//! [`Screen`] variant, its rule in [`decide::decide`], and one template that
//! src/http/pages.rs picks for it; the entry points need no change.

pub mod decide;
pub mod error;
pub mod pending;

use zeroize::Zeroizing;

use super::authorize::{self, ErrorRedirect};
use super::client::{RegisteredClient, resources};
use super::context::Ctx;
use super::error::OAuthError;
use super::form::FormMap;
use super::login::{self, LoginFailure};
use super::logout;
use crate::audit::{AuditActor, AuditEvent};
use crate::crypto::tokens::{Secret, matches_digest};
use crate::store::browser::{
    ConsentGiven, Loaded, NewCode, NewSession, Session, SessionLookup, StoredRequest,
};
pub use decide::{ConsentState, Next, Screen, decide};
pub use error::BrowserError;
pub use pending::{PendingRequest, Prompts};

/// How long a validated request waits for the user.
pub const REQUEST_LIFETIME: i64 = 600;
/// RFC 6749 section 4.1.2 recommends at most ten minutes; one is plenty for a redirect.
pub const CODE_LIFETIME: i64 = 60;
pub const CODE_PREFIX: &str = "pca_";
const SESSION_PREFIX: &str = "pcs_s_";

/// The generic login failure: the same words for every reason.
pub const LOGIN_FAILED: &str = "Incorrect username or password.";

const EXPIRED: &str = "This sign-in request has expired or was already used. Go back to the application and start again.";
const UNKNOWN_CLIENT: &str = "The application that sent you here is not known.";
const MISSING_REQUEST: &str = "The sign-in request is missing.";

/// What the browser is sent next.
#[derive(Debug)]
pub enum Step {
    /// Render this page now.
    Show(Page),
    /// Send the browser (303) to the page for `screen` at its own URL, where a GET shows
    /// it: a reload then does not resubmit a form or revalidate the request.
    Visit { screen: Screen, request_id: String },
    /// A 303 to the client (with a code or an error).
    Redirect(String),
}

/// A page of the flow, with a CSRF token minted for it.
#[derive(Debug)]
pub struct Page {
    pub screen: Screen,
    pub request_id: String,
    pub csrf: Secret,
    pub client_name: String,
    pub login_hint: Option<String>,
    /// The requested scope, for the consent page.
    pub scopes: Vec<String>,
    /// A message to show above the form (the generic login failure).
    pub error: Option<&'static str>,
}

/// The login form, as posted.
pub struct LoginForm {
    pub request_id: String,
    pub csrf_token: Option<String>,
    pub username: String,
    pub password: Zeroizing<String>,
}

impl LoginForm {
    pub fn parse(form: &FormMap) -> Result<Self, BrowserError> {
        Ok(Self {
            request_id: form
                .get("request_id")
                .ok_or(BrowserError::Page(MISSING_REQUEST))?
                .to_owned(),
            csrf_token: form.get("csrf_token").map(str::to_owned),
            username: form.get("username").unwrap_or("").to_owned(),
            password: Zeroizing::new(form.get("password").unwrap_or("").to_owned()),
        })
    }
}

/// The consent form, as posted.
pub struct ConsentForm {
    pub request_id: String,
    pub csrf_token: Option<String>,
    pub allow: bool,
}

impl ConsentForm {
    pub fn parse(form: &FormMap) -> Result<Self, BrowserError> {
        let request_id = form
            .get("request_id")
            .ok_or(BrowserError::Page(MISSING_REQUEST))?
            .to_owned();
        let allow = match form.get("decision") {
            Some("allow") => true,
            Some("deny") => false,
            Some(_) | None => return Err(BrowserError::Page("Choose Allow or Deny.")),
        };
        Ok(Self {
            request_id,
            csrf_token: form.get("csrf_token").map(str::to_owned),
            allow,
        })
    }
}

fn lookup(ctx: &Ctx<'_>, cookie: Option<&str>) -> Option<SessionLookup> {
    cookie.map(|c| SessionLookup {
        id_digest: Secret::from_presented(c).digest().to_vec(),
        now: ctx.now,
        idle: ctx.config.sessions.idle,
    })
}

async fn live_client(
    ctx: &Ctx<'_>,
    client_id: &str,
) -> Result<std::sync::Arc<RegisteredClient>, BrowserError> {
    ctx.clients
        .get(client_id)
        .await?
        .filter(|c| !c.disabled)
        .ok_or(BrowserError::Page(UNKNOWN_CLIENT))
}

fn consent_state(client: &RegisteredClient, stored: Option<&str>) -> ConsentState {
    ConsentState {
        first_party: client.first_party,
        // An unreadable remembered consent counts as none: the user is asked again.
        granted: stored.and_then(|s| super::scope::Scope::parse(s).ok()),
    }
}

/// A loaded request that is still waiting, parsed.
fn waiting(ctx: &Ctx<'_>, loaded: Option<StoredRequest>) -> Result<PendingRequest, BrowserError> {
    let stored = loaded
        .filter(|r| r.expires_at > ctx.now)
        .ok_or(BrowserError::Page(EXPIRED))?;
    PendingRequest::parse(stored)
}

fn check_csrf(request: &PendingRequest, presented: Option<&str>) -> Result<(), BrowserError> {
    match presented {
        Some(token) if matches_digest(token, &request.stored.csrf_digest) => Ok(()),
        Some(_) | None => Err(BrowserError::Page(
            "The form expired or did not come from this site. Go back and try again.",
        )),
    }
}

fn error_redirect(ctx: &Ctx<'_>, request: &PendingRequest, error: OAuthError) -> Step {
    Step::Redirect(authorize::error_location(
        &ErrorRedirect {
            redirect_uri: request.stored.redirect_uri.clone(),
            state: request.stored.state.clone(),
            error,
        },
        ctx.config.issuer.as_str(),
    ))
}

/// How an entry point presents a question to the user.
#[derive(Clone, Copy)]
enum Ask {
    /// Render the page now (a GET of the page's own URL, or a form shown again).
    Render(Option<&'static str>),
    /// Send the browser to the page's URL (after /authorize or a POST).
    Visit,
}

/// Performs what `decide` chose.
async fn perform(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    request: PendingRequest,
    session: Option<Session>,
    consent: &ConsentState,
    ask: Ask,
) -> Result<Step, BrowserError> {
    match decide(&request, session.as_ref(), consent, ctx.now) {
        Next::Issue => match session {
            Some(session) => issue_code(ctx, &request, &session, None).await,
            // `decide` issues only with a session; refuse rather than trust that here.
            None => Err(BrowserError::Page(EXPIRED)),
        },
        Next::Refuse(error) => {
            let _taken = ctx.store.take_request(&request.id).await?;
            Ok(error_redirect(ctx, &request, error))
        }
        Next::Ask(screen) => match ask {
            Ask::Visit => {
                // The consent page must be answered by this session, and a session
                // shown it counts for this request from now on (as a login made for
                // it does), even if the page is opened a little later.
                if let (Screen::Consent, Some(s)) = (screen, &session)
                    && request.session_id.as_deref() != Some(s.sid.as_str())
                {
                    ctx.store.bind_request(&request.id, s).await?;
                }
                Ok(Step::Visit {
                    screen,
                    request_id: request.id,
                })
            }
            Ask::Render(error) => render(ctx, client, request, session, screen, error).await,
        },
    }
}

/// Mints the page's CSRF token; the consent page is bound to the session that sees it,
/// since the same session must answer it.
async fn render(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    request: PendingRequest,
    session: Option<Session>,
    screen: Screen,
    error: Option<&'static str>,
) -> Result<Step, BrowserError> {
    let bind = match screen {
        Screen::Consent => {
            session.filter(|s| request.session_id.as_deref() != Some(s.sid.as_str()))
        }
        Screen::Login => None,
    };
    let csrf = Secret::generate("");
    ctx.store
        .set_request_csrf(&request.id, csrf.digest().to_vec(), bind)
        .await?;
    let scopes = match screen {
        Screen::Consent => request.scope.iter().map(str::to_owned).collect(),
        Screen::Login => Vec::new(),
    };
    Ok(Step::Show(Page {
        screen,
        request_id: request.id,
        csrf,
        client_name: client.client_name.clone(),
        login_hint: request.login_hint,
        scopes,
        error,
    }))
}

/// Finishes the request: exactly one finisher takes it, so a double-submitted form cannot
/// mint two codes.
async fn issue_code(
    ctx: &Ctx<'_>,
    request: &PendingRequest,
    session: &Session,
    consent: Option<ConsentGiven>,
) -> Result<Step, BrowserError> {
    let code = Secret::generate(CODE_PREFIX);
    let taken = ctx
        .store
        .take_request_and_insert_code(
            &request.stored,
            NewCode {
                digest: code.digest().to_vec(),
                user_id: session.user_id.clone(),
                auth_time: session.auth_time,
                sid: session.sid.clone(),
                amr: session.amr.clone(),
                now: ctx.now,
                expires_at: ctx.now + CODE_LIFETIME,
            },
            consent,
        )
        .await?;
    if !taken {
        return Err(BrowserError::Page(
            "This sign-in request was already completed.",
        ));
    }
    let mut params = vec![("code", code.expose())];
    if let Some(state) = &request.stored.state {
        params.push(("state", state.as_str()));
    }
    params.push(("iss", ctx.config.issuer.as_str()));
    Ok(Step::Redirect(authorize::redirect_with(
        &request.stored.redirect_uri,
        &params,
    )))
}

/// GET/POST /authorize: validate, store, then continue as far as the browser's session
/// allows; a page is reached through its own URL.
pub async fn begin(
    ctx: &Ctx<'_>,
    form: &FormMap,
    cookie: Option<&str>,
) -> Result<Step, BrowserError> {
    let client = match form.get("client_id") {
        Some(id) => ctx.clients.get(id).await?,
        None => None,
    };
    let redirect_uri = authorize::client_and_redirect(form, client.as_deref())?;
    let client = client.ok_or(BrowserError::Page(UNKNOWN_CLIENT))?;
    let request = match authorize::validate(form, &client, redirect_uri) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Step::Redirect(authorize::error_location(
                &e,
                ctx.config.issuer.as_str(),
            )));
        }
    };
    let stored = StoredRequest {
        id: uuid::Uuid::new_v4().simple().to_string(),
        client_id: request.client_id,
        redirect_uri: request.redirect_uri,
        redirect_uri_given: request.redirect_uri_given,
        scope: request.scope.to_string(),
        state: request.state,
        nonce: request.nonce,
        code_challenge: request.code_challenge,
        prompt: request.prompts.into_iter().collect::<Prompts>().stored(),
        max_age: request.max_age,
        login_hint: request.login_hint,
        csrf_digest: Vec::new(),
        session_id: None,
        created_at: ctx.now,
        expires_at: ctx.now + REQUEST_LIFETIME,
        resources: resources::to_stored(&request.resources),
    };
    let Loaded {
        request: _,
        session,
        consent,
    } = ctx
        .store
        .begin_request(stored.clone(), lookup(ctx, cookie))
        .await?;
    let pending = PendingRequest::parse(stored)?;
    let consent = consent_state(&client, consent.as_deref());
    perform(ctx, &client, pending, session, &consent, Ask::Visit).await
}

/// GET /login and GET /consent: the page the request needs now (or its end, when the
/// browser's session already settles it).
pub async fn show(
    ctx: &Ctx<'_>,
    request_id: Option<&str>,
    cookie: Option<&str>,
) -> Result<Step, BrowserError> {
    let id = request_id.ok_or(BrowserError::Page(MISSING_REQUEST))?;
    let loaded = ctx.store.load_request(id, lookup(ctx, cookie)).await?;
    let request = waiting(ctx, loaded.request)?;
    let client = live_client(ctx, &request.client_id).await?;
    let consent = consent_state(&client, loaded.consent.as_deref());
    perform(
        ctx,
        &client,
        request,
        loaded.session,
        &consent,
        Ask::Render(None),
    )
    .await
}

/// A successful login: the new session's cookie, and where the browser goes next.
#[derive(Debug)]
pub struct SignedIn {
    pub cookie: Secret,
    pub step: Step,
}

/// POST /login. A rejected password shows the form again with the one generic message;
/// a success starts a new session (always a new id: no fixation) bound to the request.
pub async fn submit_login(
    ctx: &Ctx<'_>,
    form: LoginForm,
) -> Result<Result<SignedIn, Step>, BrowserError> {
    let loaded = ctx.store.load_request(&form.request_id, None).await?;
    let request = waiting(ctx, loaded.request)?;
    let client = live_client(ctx, &request.client_id).await?;
    check_csrf(&request, form.csrf_token.as_deref())?;
    let user = match login::check_password(
        ctx,
        &form.username,
        form.password,
        &client.client_id,
        "login_form",
    )
    .await
    {
        Ok(user) => user,
        Err(LoginFailure::Rejected) => {
            let consent = consent_state(&client, None);
            let again = perform(
                ctx,
                &client,
                request,
                None,
                &consent,
                Ask::Render(Some(LOGIN_FAILED)),
            )
            .await?;
            return Ok(Err(again));
        }
        Err(LoginFailure::Unavailable(e)) => return Err(BrowserError::Unavailable(e)),
    };
    let cookie = Secret::generate(SESSION_PREFIX);
    let session = Session {
        sid: uuid::Uuid::now_v7().simple().to_string(),
        user_id: user.id,
        auth_time: ctx.now,
        amr: vec!["pwd".to_owned()],
    };
    let consent = ctx
        .store
        .create_session(
            NewSession {
                id_digest: cookie.digest().to_vec(),
                session: session.clone(),
                now: ctx.now,
                idle_expires_at: ctx.now + ctx.config.sessions.idle,
                absolute_expires_at: ctx.now + ctx.config.sessions.absolute,
            },
            &request.id,
            &client.client_id,
        )
        .await?;
    let mut request = request;
    request.session_id = Some(session.sid.clone());
    let consent = consent_state(&client, consent.as_deref());
    let step = perform(ctx, &client, request, Some(session), &consent, Ask::Visit).await?;
    Ok(Ok(SignedIn { cookie, step }))
}

/// POST /consent: remember the consent and finish, or tell the client the user said no.
pub async fn submit_consent(
    ctx: &Ctx<'_>,
    form: ConsentForm,
    cookie: Option<&str>,
) -> Result<Step, BrowserError> {
    let loaded = ctx
        .store
        .load_request(&form.request_id, lookup(ctx, cookie))
        .await?;
    let request = waiting(ctx, loaded.request)?;
    live_client(ctx, &request.client_id).await?;
    check_csrf(&request, form.csrf_token.as_deref())?;
    let session = loaded
        .session
        .filter(|s| request.session_id.as_deref() == Some(s.sid.as_str()))
        .ok_or(BrowserError::Page(
            "Your session ended. Go back to the application and start again.",
        ))?;
    if !form.allow {
        let _taken = ctx.store.take_request(&request.id).await?;
        return Ok(error_redirect(
            ctx,
            &request,
            OAuthError::AccessDenied("the user denied the request".into()),
        ));
    }
    let given = ConsentGiven {
        user_id: session.user_id.clone(),
        client_id: request.client_id.clone(),
        scope: request.scope.to_string(),
        now: ctx.now,
    };
    issue_code(ctx, &request, &session, Some(given)).await
}

/// GET/POST /logout (OpenID Connect RP-Initiated Logout 1.0): check where the browser
/// may go back to, then end the session and audit it in one transaction. Returns the
/// redirect target (None: show the logged-out page).
pub async fn logout(
    ctx: &Ctx<'_>,
    form: &FormMap,
    cookie: Option<&str>,
) -> Result<Option<String>, BrowserError> {
    let target = logout::target(ctx, form).await?;
    if let Some(cookie) = cookie {
        let digest = Secret::from_presented(cookie).digest().to_vec();
        ctx.store
            .end_session_with_audit(digest, ctx.now, |ended| {
                AuditEvent::new("logout")
                    .by(AuditActor::user(&ended.user_id))
                    .subject(ended.user_id.clone())
                    .details(serde_json::json!({ "sid": ended.sid }))
            })
            .await?;
    }
    Ok(target)
}
