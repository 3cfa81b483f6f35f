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
//! Adding a step (a second factor, a device confirmation) is one new [`Screen`] variant, its
//! rule in [`decide::decide`], and one template that src/http/pages.rs picks for it; the
//! entry points need no change.
//!
//! Every form's CSRF token is bound to the browser that loaded it
//! ([`crate::crypto::tokens::bound_to_browser`]): the request keeps the token's proof under
//! that browser's binding cookie, so a token copied into another browser is refused.

pub mod account;
pub mod decide;
pub mod error;
pub mod pending;

use zeroize::Zeroizing;

use super::authorize::{self, ErrorRedirect};
use super::client::{RegisteredClient, resources};
use super::context::Ctx;
use super::error::OAuthError;
use super::form::FormMap;
use super::id_token_hint;
use super::login::{self, LoginFailure};
use super::logout::{self, LogoutRequest};
use super::mfa::level;
use super::mfa::{passkeys, totp, verify};
use crate::audit::{self, AuditActor, AuditEvent};
use crate::crypto::tokens::{Secret, bound_to_browser, matches_bound};
use crate::store::browser::{
    ConsentGiven, Loaded, NewCode, NewSession, PendingBounds, Session, SessionLookup, StoredRequest,
};
use crate::store::factors::UserFactors;
pub use decide::{Assurance, ConsentState, Next, Screen, decide};
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

/// The cookies of the browser a request came from, as presented.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cookies<'a> {
    /// The session cookie, if any.
    pub session: Option<&'a str>,
    /// The browser-binding cookie. The pages' handlers set one before a form is rendered,
    /// so a form posted without it did not come from a page of ours in this browser.
    pub browser: Option<&'a str>,
}

/// What the browser is sent next.
#[derive(Debug)]
pub enum Step {
    /// Render this page now.
    Show(Box<Page>),
    /// Send the browser (303) to the page for `screen` at its own URL, where a GET shows
    /// it: a reload then does not resubmit a form or revalidate the request.
    Visit { screen: Screen, request_id: String },
    /// A 303 to the client (with a code or an error).
    Redirect(String),
    /// Something the user must read before going on (new recovery codes, shown once; a
    /// recovery code just spent), with a link back to the request.
    Notice {
        request_id: String,
        codes: Vec<Zeroizing<String>>,
        /// Recovery codes left, after one was used.
        codes_left: Option<u32>,
    },
}

/// How the second-factor page may be answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactorChoices {
    pub totp: bool,
    pub recovery: bool,
    pub passkey: bool,
}

/// A page of the flow, with a CSRF token minted for it.
#[derive(Debug)]
pub struct Page {
    pub screen: Screen,
    pub request_id: String,
    pub csrf: Secret,
    pub client_name: String,
    /// For a client from a metadata document: the host of its URL, the one thing about it
    /// a stranger cannot choose, shown before the name it gives itself.
    pub client_host: Option<String>,
    /// For a client that registered itself (RFC 7591): the host it sends the browser back
    /// to, which the consent page shows since nobody checked the name it chose.
    pub self_registered_to: Option<String>,
    pub login_hint: Option<String>,
    /// The client's `ui_locales`, which the page's language follows before the browser's.
    pub ui_locales: Option<String>,
    /// The signed-in user's username, for the account page.
    pub signed_in_as: Option<String>,
    /// The requested scope, for the consent page.
    pub scopes: Vec<String>,
    /// The RFC 8707 resources the token would be for, for the consent page: the user
    /// should see where their access goes, not only what it allows.
    pub resources: Vec<String>,
    /// A message to show above the form (the generic login failure).
    pub error: Option<&'static str>,
    /// The second-factor page's choices.
    pub factors: FactorChoices,
    /// The options of the WebAuthn ceremony the page starts (JSON for
    /// `navigator.credentials.get`): a passkey-only sign-in on the login page, the user's
    /// passkeys on the second-factor page.
    pub passkey_options: Option<String>,
    /// The TOTP enrolment the enrolment page shows.
    pub enrolment: Option<totp::Enrolment>,
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

/// The account page's "continue" form, as posted.
pub struct SelectAccountForm {
    pub request_id: String,
    pub csrf_token: Option<String>,
}

impl SelectAccountForm {
    pub fn parse(form: &FormMap) -> Result<Self, BrowserError> {
        Ok(Self {
            request_id: form
                .get("request_id")
                .ok_or(BrowserError::Page(MISSING_REQUEST))?
                .to_owned(),
            csrf_token: form.get("csrf_token").map(str::to_owned),
        })
    }
}

fn lookup(ctx: &Ctx<'_>, cookie: Option<&str>) -> Option<SessionLookup> {
    cookie.map(|c| SessionLookup {
        id_digest: Secret::from_presented(c).digest().to_vec(),
        now: ctx.now,
        idle: ctx.config.sessions.idle,
        ip: ctx.client_ip.map(|ip| ip.to_string()),
    })
}

async fn live_client(
    ctx: &Ctx<'_>,
    client_id: &str,
) -> Result<std::sync::Arc<RegisteredClient>, BrowserError> {
    // The account pages' own requests: their client is built in, never looked up.
    if client_id == super::client::ACCOUNT_CLIENT_ID {
        return Ok(std::sync::Arc::new(account::client(ctx)));
    }
    ctx.clients
        .get(client_id)
        .await?
        .filter(|c| !c.disabled && super::registration::metadata_clients::usable(ctx, c))
        .ok_or(BrowserError::Page(UNKNOWN_CLIENT))
}

fn consent_state(client: &RegisteredClient, stored: Option<&str>) -> ConsentState {
    ConsentState {
        first_party: client.first_party,
        public: !client.confidential,
        // An unreadable remembered consent counts as none: the user is asked again.
        granted: stored.and_then(|s| super::scope::Scope::parse(s).ok()),
        answered: false,
    }
}

/// A loaded request that is still waiting, parsed.
fn waiting(ctx: &Ctx<'_>, loaded: Option<StoredRequest>) -> Result<PendingRequest, BrowserError> {
    let stored = loaded
        .filter(|r| r.expires_at > ctx.now)
        .ok_or(BrowserError::Page(EXPIRED))?;
    PendingRequest::parse(stored)
}

const FORM_REFUSED: &str =
    "The form expired or did not come from this browser. Go back and try again.";

/// The posted token must be the one of the page last rendered for the request, presented
/// by the browser that page was rendered in.
fn check_csrf(
    request: &PendingRequest,
    presented: Option<&str>,
    browser: Option<&str>,
) -> Result<(), BrowserError> {
    match (presented, browser) {
        (Some(token), Some(browser))
            if matches_bound(browser, token, &request.stored.csrf_digest) =>
        {
            Ok(())
        }
        (Some(_) | None, Some(_) | None) => Err(BrowserError::Page(FORM_REFUSED)),
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
#[allow(clippy::too_many_arguments)]
async fn perform(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    request: PendingRequest,
    (session, factors): (Option<Session>, Option<&UserFactors>),
    consent: &ConsentState,
    given: Option<ConsentGiven>,
    browser: Option<&str>,
    ask: Ask,
) -> Result<Step, BrowserError> {
    let assurance = assurance(ctx, client, factors);
    match decide(&request, session.as_ref(), consent, &assurance, ctx.now) {
        Next::Issue => match session {
            Some(session) => issue_code(ctx, &request, &session, given).await,
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
                if let (Screen::Consent | Screen::SecondFactor | Screen::Enrol, Some(s)) =
                    (screen, &session)
                    && request.session_id.as_deref() != Some(s.sid.as_str())
                {
                    ctx.store.bind_request(&request.id, s).await?;
                }
                Ok(Step::Visit {
                    screen,
                    request_id: request.id,
                })
            }
            Ask::Render(error) => {
                render(
                    ctx,
                    client,
                    request,
                    (session, factors),
                    screen,
                    browser,
                    error,
                )
                .await
            }
        },
    }
}

/// What the session's user can prove and what policy asks of them, for `decide`.
fn assurance(ctx: &Ctx<'_>, client: &RegisteredClient, factors: Option<&UserFactors>) -> Assurance {
    Assurance {
        totp: factors.is_some_and(|f| f.totp),
        // Passkeys count only where the server can check them.
        passkey: factors.is_some_and(|f| f.passkeys > 0) && ctx.mfa.passkeys_enabled(),
        required: super::mfa::required_by_policy(
            ctx,
            client,
            factors.map_or(&[][..], |f| f.roles.as_slice()),
        ),
    }
}

/// Mints the page's CSRF token, bound to the browser it is rendered for, and starts the
/// WebAuthn ceremony the page offers; the consent, second-factor and enrolment pages are
/// bound to the session that sees them, since the same session must answer them.
async fn render(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    request: PendingRequest,
    (session, factors): (Option<Session>, Option<&UserFactors>),
    screen: Screen,
    browser: Option<&str>,
    error: Option<&'static str>,
) -> Result<Step, BrowserError> {
    let browser = browser.ok_or(BrowserError::Page(FORM_REFUSED))?;
    let signed_in_as = match (screen, &session) {
        (Screen::SelectAccount, Some(s)) => ctx
            .accounts
            .enabled_profile(&s.user_id)
            .await?
            .map(|p| p.username),
        (
            Screen::SelectAccount
            | Screen::Login
            | Screen::Consent
            | Screen::SecondFactor
            | Screen::Enrol,
            _,
        ) => None,
    };
    let bind = match screen {
        Screen::Consent | Screen::SecondFactor | Screen::Enrol => session
            .clone()
            .filter(|s| request.session_id.as_deref() != Some(s.sid.as_str())),
        Screen::Login | Screen::SelectAccount => None,
    };
    let mut choices = FactorChoices::default();
    let mut enrolment = None;
    let started = match (screen, &session) {
        (Screen::Login, _) => passkeys::start_discoverable(ctx).ok(),
        (Screen::SecondFactor, Some(s)) => {
            let assurance = assurance(ctx, client, factors);
            // A request for phishing resistance is answered by a passkey only.
            let passkey_only = assurance.achievable() == level::Level::PhishingResistant
                && assurance.target(request.acr_minimum) == level::Level::PhishingResistant;
            choices.totp = assurance.totp && !passkey_only;
            choices.recovery = !passkey_only && factors.is_some_and(|f| f.recovery_codes > 0);
            if assurance.passkey {
                match passkeys::start_for_user(ctx, &s.user_id).await {
                    Ok(started) => started,
                    Err(passkeys::PasskeyError::Other(e)) => return Err(e.into()),
                    Err(_) => None,
                }
            } else {
                None
            }
        }
        (Screen::Enrol, Some(s)) => {
            let account = factors.map_or("", |f| f.username.as_str());
            enrolment = totp::enrolment(ctx, &s.user_id, account).await?;
            None
        }
        (Screen::SecondFactor | Screen::Enrol | Screen::SelectAccount | Screen::Consent, _) => None,
    };
    choices.passkey = started.is_some() && screen == Screen::SecondFactor;
    let (passkey_options, ceremony) = match started {
        Some(passkeys::Started { options, state }) => (Some(options), Some(state)),
        None => (None, None),
    };
    let csrf = Secret::generate("");
    ctx.store
        .set_request_csrf(
            &request.id,
            bound_to_browser(browser, csrf.expose()),
            bind,
            ceremony,
        )
        .await?;
    let (scopes, resources) = match screen {
        Screen::Consent => (
            request.scope.iter().map(str::to_owned).collect(),
            resources::from_stored(&request.stored.resources).unwrap_or_default(),
        ),
        Screen::Login | Screen::SelectAccount | Screen::SecondFactor | Screen::Enrol => {
            (Vec::new(), Vec::new())
        }
    };
    Ok(Step::Show(Box::new(Page {
        screen,
        request_id: request.id,
        csrf,
        client_name: client.client_name.clone(),
        client_host: (client.origin == super::client::ClientOrigin::MetadataDocument)
            .then(|| super::registration::metadata_document::host_of(&client.client_id))
            .flatten(),
        self_registered_to: (client.origin == super::client::ClientOrigin::Registration)
            .then(|| {
                url::Url::parse(&request.stored.redirect_uri)
                    .ok()
                    .map(|u| match u.host_str() {
                        Some(host) => host.to_owned(),
                        None => u.scheme().to_owned(),
                    })
            })
            .flatten(),
        login_hint: request.login_hint,
        ui_locales: request.stored.ui_locales.clone(),
        signed_in_as,
        scopes,
        resources,
        error,
        factors: choices,
        passkey_options,
        enrolment,
    })))
}

/// Finishes the request: exactly one finisher takes it, so a double-submitted form cannot
/// mint two codes.
async fn issue_code(
    ctx: &Ctx<'_>,
    request: &PendingRequest,
    session: &Session,
    consent: Option<ConsentGiven>,
) -> Result<Step, BrowserError> {
    if request.client_id == super::client::ACCOUNT_CLIENT_ID {
        return account::finish(ctx, request).await;
    }
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
                acr: level::acr_claim(
                    level::Level::of_amr(&session.amr),
                    request.stored.acr_values.as_deref(),
                )
                .to_owned(),
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
    cookies: Cookies<'_>,
) -> Result<Step, BrowserError> {
    // A client ID metadata document's client is fetched here, the first time it is named
    // and when its document is stale (`registration::metadata_clients`).
    let client = match form.get("client_id") {
        Some(id) => super::registration::metadata_clients::for_authorize(ctx, id).await?,
        None => None,
    };
    let redirect_uri = authorize::client_and_redirect(form, client.as_deref())?;
    let client = client.ok_or(BrowserError::Page(UNKNOWN_CLIENT))?;
    let request = match authorize::validate(form, &client, redirect_uri, &ctx.config.registration) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Step::Redirect(authorize::error_location(
                &e,
                ctx.config.issuer.as_str(),
            )));
        }
    };
    // OpenID Connect Core 3.1.2.1: the hint must be an ID token we issued to this client;
    // its subject is frozen with the request, and `decide` holds the session to it.
    let hint_subject = match form.get("id_token_hint") {
        None => None,
        Some(raw) => match id_token_hint::verify(ctx, raw, Some(&client.client_id)).await {
            Ok(hint) => Some(hint.subject),
            Err(_) => {
                return Ok(Step::Redirect(authorize::error_location(
                    &ErrorRedirect {
                        redirect_uri: request.redirect_uri,
                        state: request.state,
                        error: OAuthError::invalid_request(
                            "id_token_hint is not an ID token issued to this client",
                        ),
                    },
                    ctx.config.issuer.as_str(),
                )));
            }
        },
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
        id_token_hint_subject: hint_subject,
        login_session_id: None,
        acr_values: request.acr_values,
        ui_locales: request.ui_locales,
    };
    let bounds = PendingBounds {
        per_address: ctx.config.authorize.max_pending_per_address,
        total: ctx.config.authorize.max_pending_total,
    };
    let begun = ctx
        .store
        .begin_request(
            stored.clone(),
            ctx.client_key.map(|key| key.to_string()),
            bounds,
            lookup(ctx, cookies.session),
        )
        .await?;
    let Loaded {
        request: _,
        session,
        consent,
        factors,
    } = match begun {
        Ok(loaded) => loaded,
        // The redirect_uri is validated: the client hears it, with its state, and may
        // retry; nothing was stored.
        Err(bound) => {
            ctx.metrics
                .pending_refused
                .with_label_values(&[bound.as_str()])
                .inc();
            tracing::warn!(
                bound = bound.as_str(),
                client_id = %stored.client_id,
                "authorization request refused: too many pending requests"
            );
            return Ok(Step::Redirect(authorize::error_location(
                &ErrorRedirect {
                    redirect_uri: stored.redirect_uri,
                    state: stored.state,
                    // A redirect carries no Retry-After: only the code and its words go back.
                    error: OAuthError::temporarily_unavailable(60),
                },
                ctx.config.issuer.as_str(),
            )));
        }
    };
    let pending = PendingRequest::parse(stored)?;
    let consent = consent_state(&client, consent.as_deref());
    perform(
        ctx,
        &client,
        pending,
        (session, factors.as_ref()),
        &consent,
        None,
        cookies.browser,
        Ask::Visit,
    )
    .await
}

/// GET /login, /select_account and /consent: the page the request needs now (or its
/// end, when the browser's session already settles it).
pub async fn show(
    ctx: &Ctx<'_>,
    request_id: Option<&str>,
    cookies: Cookies<'_>,
) -> Result<Step, BrowserError> {
    let id = request_id.ok_or(BrowserError::Page(MISSING_REQUEST))?;
    let loaded = ctx
        .store
        .load_request(id, lookup(ctx, cookies.session))
        .await?;
    let request = waiting(ctx, loaded.request)?;
    let client = live_client(ctx, &request.client_id).await?;
    let consent = consent_state(&client, loaded.consent.as_deref());
    perform(
        ctx,
        &client,
        request,
        (loaded.session, loaded.factors.as_ref()),
        &consent,
        None,
        cookies.browser,
        Ask::Render(None),
    )
    .await
}

/// A successful login, or a session that proved more (a second factor): the session's new
/// cookie (an upgraded session's old one stops working), and where the browser goes next.
#[derive(Debug)]
pub struct SignedIn {
    pub cookie: Secret,
    pub step: Step,
    /// A new device cookie for a browser that has signed in fully (`oauth::login::Source`).
    pub device: Option<zeroize::Zeroizing<String>>,
}

/// POST /login. A rejected password shows the form again with the one generic message;
/// a success starts a new session (always a new id: no fixation) bound to the request,
/// and the request's rules are decided again for it.
pub async fn submit_login(
    ctx: &Ctx<'_>,
    form: LoginForm,
    cookies: Cookies<'_>,
    device_cookie: Option<&str>,
) -> Result<Result<SignedIn, Step>, BrowserError> {
    let loaded = ctx.store.load_request(&form.request_id, None).await?;
    let request = waiting(ctx, loaded.request)?;
    let client = live_client(ctx, &request.client_id).await?;
    check_csrf(&request, form.csrf_token.as_deref(), cookies.browser)?;
    let user = match login::check_password(
        ctx,
        &form.username,
        form.password,
        &client.client_id,
        "login_form",
        login::Source::Browser { device_cookie },
    )
    .await
    {
        Ok(user) => user,
        Err(LoginFailure::Rejected) => {
            let consent = consent_state(&client, None);
            // The form comes back with the name as typed: only the password was wrong (or
            // the attempt throttled), and the page says the same for every reason.
            let mut request = request;
            request.login_hint = Some(form.username.clone());
            let again = perform(
                ctx,
                &client,
                request,
                (None, None),
                &consent,
                None,
                cookies.browser,
                Ask::Render(Some(LOGIN_FAILED)),
            )
            .await?;
            return Ok(Err(again));
        }
        Err(LoginFailure::Unavailable(e)) => return Err(BrowserError::Unavailable(e)),
    };
    // The name that passed the password check normalises; the cookie binds that form.
    let device = crate::accounts::username::normalise(&form.username)
        .ok()
        .and_then(|name| ctx.device_keys.issue(&name));
    let (cookie, step, factors) = start_session(
        ctx,
        &client,
        request,
        user.id,
        vec![level::PWD.to_owned()],
        cookies.browser,
    )
    .await?;
    // A device cookie marks a browser that signed in: for a user who must still show a
    // second factor that is only after it (`submit_factor`), or a stolen password would buy
    // its holder a trusted device and wrong codes would not count on the username.
    let device = if assurance(ctx, &client, Some(&factors)).target(None) > level::Level::OneFactor {
        None
    } else {
        device
    };
    Ok(Ok(SignedIn {
        cookie,
        step,
        device,
    }))
}

/// A sign-in for this request: a new session (always a new id: no fixation) with the
/// methods `amr` that made it, bound to the request as the login made for it, and the
/// request's rules decided again for it. Answers the session's cookie, the next step and
/// its user's factors.
async fn start_session(
    ctx: &Ctx<'_>,
    client: &RegisteredClient,
    mut request: PendingRequest,
    user_id: String,
    amr: Vec<String>,
    browser: Option<&str>,
) -> Result<(Secret, Step, UserFactors), BrowserError> {
    let cookie = Secret::generate(SESSION_PREFIX);
    let session = Session {
        sid: uuid::Uuid::now_v7().simple().to_string(),
        user_id,
        auth_time: ctx.now,
        amr,
    };
    let (consent, factors) = ctx
        .store
        .create_session(
            NewSession {
                id_digest: cookie.digest().to_vec(),
                session: session.clone(),
                now: ctx.now,
                idle_expires_at: ctx.now + ctx.config.sessions.idle,
                absolute_expires_at: ctx.now + ctx.config.sessions.absolute,
                user_agent: ctx.user_agent.clone(),
                ip: ctx.client_ip.map(|ip| ip.to_string()),
            },
            &request.id,
            &client.client_id,
        )
        .await?;
    request.session_id = Some(session.sid.clone());
    request.login_session_id = Some(session.sid.clone());
    let consent = consent_state(client, consent.as_deref());
    let step = perform(
        ctx,
        client,
        request,
        (Some(session), Some(&factors)),
        &consent,
        None,
        browser,
        Ask::Visit,
    )
    .await?;
    Ok((cookie, step, factors))
}

/// The session that must answer a posted page of the request: the browser's, bound to it.
fn answering_session(
    request: &PendingRequest,
    session: Option<Session>,
) -> Result<Session, BrowserError> {
    session
        .filter(|s| request.session_id.as_deref() == Some(s.sid.as_str()))
        .ok_or(BrowserError::Page(
            "Your session ended. Go back to the application and start again.",
        ))
}

/// POST /select_account, "continue as": the browser's session answers the request from
/// now on. (Signing in as another account is the page's login form, POST /login.)
pub async fn submit_select_account(
    ctx: &Ctx<'_>,
    form: SelectAccountForm,
    cookies: Cookies<'_>,
) -> Result<Step, BrowserError> {
    let loaded = ctx
        .store
        .load_request(&form.request_id, lookup(ctx, cookies.session))
        .await?;
    let mut request = waiting(ctx, loaded.request)?;
    let client = live_client(ctx, &request.client_id).await?;
    check_csrf(&request, form.csrf_token.as_deref(), cookies.browser)?;
    let session = loaded.session.ok_or(BrowserError::Page(
        "Your session ended. Go back to the application and start again.",
    ))?;
    // The page's token is spent with the choice, and the choice is this session.
    ctx.store
        .set_request_csrf(&request.id, Vec::new(), Some(session.clone()), None)
        .await?;
    request.session_id = Some(session.sid.clone());
    let consent = consent_state(&client, loaded.consent.as_deref());
    perform(
        ctx,
        &client,
        request,
        (Some(session), loaded.factors.as_ref()),
        &consent,
        None,
        cookies.browser,
        Ask::Visit,
    )
    .await
}

/// POST /consent: the user's answer. A refusal tells the client; an approval is decided
/// again with the session as it is now (`max_age` is measured at this moment), and
/// remembered with the code it issues.
pub async fn submit_consent(
    ctx: &Ctx<'_>,
    form: ConsentForm,
    cookies: Cookies<'_>,
) -> Result<Step, BrowserError> {
    let loaded = ctx
        .store
        .load_request(&form.request_id, lookup(ctx, cookies.session))
        .await?;
    let request = waiting(ctx, loaded.request)?;
    let client = live_client(ctx, &request.client_id).await?;
    check_csrf(&request, form.csrf_token.as_deref(), cookies.browser)?;
    let session = answering_session(&request, loaded.session)?;
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
    let mut consent = consent_state(&client, loaded.consent.as_deref());
    consent.answered = true;
    perform(
        ctx,
        &client,
        request,
        (Some(session), loaded.factors.as_ref()),
        &consent,
        Some(given),
        cookies.browser,
        Ask::Visit,
    )
    .await
}

/// How the second-factor form was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorMethod {
    Totp,
    Recovery,
    Passkey,
}

/// The second-factor form (or the enrolment form: a TOTP code), as posted.
pub struct FactorForm {
    pub request_id: String,
    pub csrf_token: Option<String>,
    pub method: FactorMethod,
    pub code: Zeroizing<String>,
    /// The passkey's answer, JSON from `navigator.credentials.get`.
    pub credential: Option<String>,
}

impl FactorForm {
    pub fn parse(form: &FormMap) -> Result<Self, BrowserError> {
        let method = match form.get("method") {
            Some("totp") | None => FactorMethod::Totp,
            Some("recovery") => FactorMethod::Recovery,
            Some("passkey") => FactorMethod::Passkey,
            Some(_) => return Err(BrowserError::Page("Choose how to verify.")),
        };
        Ok(Self {
            request_id: form
                .get("request_id")
                .ok_or(BrowserError::Page(MISSING_REQUEST))?
                .to_owned(),
            csrf_token: form.get("csrf_token").map(str::to_owned),
            method,
            code: Zeroizing::new(form.get("code").unwrap_or("").to_owned()),
            credential: form.get("credential").map(str::to_owned),
        })
    }
}

const FACTOR_FAILED: &str = "That did not work. Check the code and try again.";
const PASSKEY_FAILED: &str = "That passkey could not be used. Try again, or use another way.";
const ENROL_FAILED: &str =
    "That code did not match. Check the time on your device and enter the current code.";

/// Gives the session the methods it now has, under a new cookie.
async fn upgrade(
    ctx: &Ctx<'_>,
    cookie: Option<&str>,
    session: &mut Session,
    amr: Vec<String>,
) -> Result<Secret, BrowserError> {
    let old = cookie.ok_or(BrowserError::Page(SESSION_ENDED))?;
    let fresh = Secret::generate(SESSION_PREFIX);
    let event = AuditEvent::new("login.second_factor")
        .by(AuditActor::user(&session.user_id))
        .subject(session.user_id.clone())
        .details(serde_json::json!({
            "sid": session.sid,
            "amr": amr,
            "ip": ctx.client_ip.map(|ip| ip.to_string()),
        }));
    let upgraded = ctx
        .store
        .upgrade_session(
            Secret::from_presented(old).digest().to_vec(),
            fresh.digest().to_vec(),
            amr.clone(),
            ctx.now,
            event,
        )
        .await?;
    if !upgraded {
        return Err(BrowserError::Page(SESSION_ENDED));
    }
    session.amr = amr;
    Ok(fresh)
}

const SESSION_ENDED: &str = "Your session ended. Go back to the application and start again.";

/// POST /login/factor: a TOTP code, a recovery code or a passkey from the session that
/// gave its password (or must step up). A failure shows the page again; a success gives the
/// session the factor and decides again.
pub async fn submit_factor(
    ctx: &Ctx<'_>,
    form: FactorForm,
    cookies: Cookies<'_>,
    device_cookie: Option<&str>,
) -> Result<Result<SignedIn, Step>, BrowserError> {
    let loaded = ctx
        .store
        .load_request(&form.request_id, lookup(ctx, cookies.session))
        .await?;
    let request = waiting(ctx, loaded.request)?;
    let client = live_client(ctx, &request.client_id).await?;
    check_csrf(&request, form.csrf_token.as_deref(), cookies.browser)?;
    let mut session = answering_session(&request, loaded.session)?;
    let factors = loaded.factors.unwrap_or_default();
    let consent = consent_state(&client, loaded.consent.as_deref());
    let (added, failed) = match form.method {
        FactorMethod::Totp | FactorMethod::Recovery => {
            let code = match form.method {
                FactorMethod::Recovery => verify::Code::Recovery(&form.code),
                FactorMethod::Totp | FactorMethod::Passkey => verify::Code::Totp(&form.code),
            };
            let ok = verify::code(
                ctx,
                &factors.username,
                &session.user_id,
                code,
                device_cookie,
            )
            .await
            .map_err(|e| match e {
                login::LoginFailure::Unavailable(e) => BrowserError::Unavailable(e),
                login::LoginFailure::Rejected => BrowserError::Page(FACTOR_FAILED),
            })?;
            (ok.then_some(level::OTP), FACTOR_FAILED)
        }
        FactorMethod::Passkey => {
            let state = ctx.store.take_request_ceremony(&request.id).await?;
            let answer = form.credential.as_deref().unwrap_or("");
            match passkeys::finish_for_user(ctx, &session.user_id, answer, state).await {
                Ok(asserted) => {
                    super::mfa::count(ctx, "passkey", "success");
                    audit::record(
                        ctx.store,
                        ctx.now,
                        AuditEvent::new("factor.used")
                            .by(AuditActor::user(&session.user_id))
                            .subject(session.user_id.clone())
                            .details(serde_json::json!({
                                "factor": "passkey",
                                "factor_id": asserted.factor_id,
                            })),
                    )
                    .await?;
                    (Some(asserted.kind), PASSKEY_FAILED)
                }
                Err(passkeys::PasskeyError::Other(e)) => return Err(e.into()),
                Err(_) => {
                    super::mfa::count(ctx, "passkey", "failure");
                    (None, PASSKEY_FAILED)
                }
            }
        }
    };
    let Some(added) = added else {
        let again = perform(
            ctx,
            &client,
            request,
            (Some(session), Some(&factors)),
            &consent,
            None,
            cookies.browser,
            Ask::Render(Some(failed)),
        )
        .await?;
        return Ok(Err(again));
    };
    let amr = level::with_second_factor(&session.amr, added);
    let cookie = upgrade(ctx, cookies.session, &mut session, amr).await?;
    let device = ctx.device_keys.issue(&factors.username);
    if form.method == FactorMethod::Recovery {
        // The user is told, on a page of its own, that a code is gone and how many are left.
        let left = factors.recovery_codes.saturating_sub(1);
        return Ok(Ok(SignedIn {
            cookie,
            step: Step::Notice {
                request_id: request.id,
                codes: Vec::new(),
                codes_left: Some(left),
            },
            device,
        }));
    }
    let step = perform(
        ctx,
        &client,
        request,
        (Some(session), Some(&factors)),
        &consent,
        None,
        cookies.browser,
        Ask::Visit,
    )
    .await?;
    Ok(Ok(SignedIn {
        cookie,
        step,
        device,
    }))
}

/// POST /login/enrol: the first code of the authenticator the enrolment page showed. It
/// confirms the enrolment, counts as the session's second factor, and the new recovery
/// codes are shown once.
pub async fn submit_enrol(
    ctx: &Ctx<'_>,
    form: FactorForm,
    cookies: Cookies<'_>,
    device_cookie: Option<&str>,
) -> Result<Result<SignedIn, Step>, BrowserError> {
    let loaded = ctx
        .store
        .load_request(&form.request_id, lookup(ctx, cookies.session))
        .await?;
    let request = waiting(ctx, loaded.request)?;
    let client = live_client(ctx, &request.client_id).await?;
    check_csrf(&request, form.csrf_token.as_deref(), cookies.browser)?;
    let mut session = answering_session(&request, loaded.session)?;
    let factors = loaded.factors.unwrap_or_default();
    let confirmed = verify::confirm_totp(
        ctx,
        &factors.username,
        &session.user_id,
        &form.code,
        device_cookie,
    )
    .await
    .map_err(|e| match e {
        login::LoginFailure::Unavailable(e) => BrowserError::Unavailable(e),
        login::LoginFailure::Rejected => BrowserError::Page(ENROL_FAILED),
    })?;
    let Some(codes) = confirmed else {
        let consent = consent_state(&client, loaded.consent.as_deref());
        let again = perform(
            ctx,
            &client,
            request,
            (Some(session), Some(&factors)),
            &consent,
            None,
            cookies.browser,
            Ask::Render(Some(ENROL_FAILED)),
        )
        .await?;
        return Ok(Err(again));
    };
    let amr = level::with_second_factor(&session.amr, level::OTP);
    let cookie = upgrade(ctx, cookies.session, &mut session, amr).await?;
    Ok(Ok(SignedIn {
        cookie,
        step: Step::Notice {
            request_id: request.id,
            codes,
            codes_left: None,
        },
        device: ctx.device_keys.issue(&factors.username),
    }))
}

/// The passkey sign-in form, as posted by the login page's script.
pub struct PasskeyForm {
    pub request_id: String,
    pub csrf_token: Option<String>,
    pub credential: String,
}

impl PasskeyForm {
    pub fn parse(form: &FormMap) -> Result<Self, BrowserError> {
        Ok(Self {
            request_id: form
                .get("request_id")
                .ok_or(BrowserError::Page(MISSING_REQUEST))?
                .to_owned(),
            csrf_token: form.get("csrf_token").map(str::to_owned),
            credential: form.get("credential").unwrap_or("").to_owned(),
        })
    }
}

/// POST /login/passkey: a sign-in with a passkey alone, answering the ceremony the login
/// page started for this request (taken, so it answers once). User verification is
/// required, so the passkey stands for two factors; the session starts at the
/// phishing-resistant level.
pub async fn submit_passkey(
    ctx: &Ctx<'_>,
    form: PasskeyForm,
    cookies: Cookies<'_>,
) -> Result<Result<SignedIn, Step>, BrowserError> {
    let loaded = ctx.store.load_request(&form.request_id, None).await?;
    let request = waiting(ctx, loaded.request)?;
    let client = live_client(ctx, &request.client_id).await?;
    check_csrf(&request, form.csrf_token.as_deref(), cookies.browser)?;
    let state = ctx.store.take_request_ceremony(&request.id).await?;
    let asserted = match passkeys::finish_discoverable(ctx, &form.credential, state).await {
        Ok(a) => Some(a),
        Err(passkeys::PasskeyError::Other(e)) => return Err(e.into()),
        Err(_) => None,
    };
    let user = match &asserted {
        Some(a) => ctx.accounts.enabled_profile(&a.user_id).await?,
        None => None,
    };
    let (Some(asserted), Some(user)) = (asserted, user) else {
        super::mfa::count(ctx, "passkey", "failure");
        let consent = consent_state(&client, None);
        let again = perform(
            ctx,
            &client,
            request,
            (None, None),
            &consent,
            None,
            cookies.browser,
            Ask::Render(Some(PASSKEY_FAILED)),
        )
        .await?;
        return Ok(Err(again));
    };
    super::mfa::count(ctx, "passkey", "success");
    // A complete sign-in: the browser is the user's device from now on.
    let device = ctx.device_keys.issue(&user.username);
    audit::record(
        ctx.store,
        ctx.now,
        AuditEvent::new("login.success")
            .by(AuditActor::client(&client.client_id))
            .subject(user.id.clone())
            .details(serde_json::json!({
                "username": user.username,
                "client_id": client.client_id,
                "via": "passkey",
                "factor_id": asserted.factor_id,
                "ip": ctx.client_ip.map(|ip| ip.to_string()),
                "outcome": "success",
            })),
    )
    .await?;
    let (cookie, step, _) = start_session(
        ctx,
        &client,
        request,
        user.id,
        level::passkey_alone(asserted.kind),
        cookies.browser,
    )
    .await?;
    Ok(Ok(SignedIn {
        cookie,
        step,
        device,
    }))
}

/// What /logout does next.
#[derive(Debug)]
pub enum LogoutStep {
    /// Ask the user to confirm; the page posts back the checked request with this token.
    Confirm {
        request: LogoutRequest,
        csrf_token: String,
    },
    /// The session, if there was one, has ended: go to this address (None: the
    /// signed-out page).
    Done(Option<String>),
}

/// The CSRF token of the logout confirmation: bound to the browser and to the session it
/// would end. Made again to check it, so logout stores nothing for an unauthenticated GET.
fn logout_token(browser: &str, session_cookie: &str) -> String {
    let session = Secret::from_presented(session_cookie).digest();
    let proof = bound_to_browser(
        browser,
        &format!("logout {}", crate::encoding::hex(&session)),
    );
    crate::encoding::hex(&proof)
}

async fn end_session(ctx: &Ctx<'_>, cookie: &str) -> Result<(), BrowserError> {
    let digest = Secret::from_presented(cookie).digest().to_vec();
    ctx.store
        .end_session_with_audit(digest, ctx.now, |ended| {
            AuditEvent::new("logout")
                .by(AuditActor::user(&ended.user_id))
                .subject(ended.user_id.clone())
                .details(serde_json::json!({ "sid": ended.sid }))
        })
        .await?;
    Ok(())
}

/// GET /logout, or a POST from a client (OpenID Connect RP-Initiated Logout 1.0). The
/// session ends at once only when a valid `id_token_hint` names its user: the client that
/// holds that user's ID token may sign them out. Anything else asks the user, so no link
/// or image on another site can end a session by itself.
pub async fn logout(
    ctx: &Ctx<'_>,
    form: &FormMap,
    cookies: Cookies<'_>,
) -> Result<LogoutStep, BrowserError> {
    let request = logout::check(ctx, form).await?;
    let Some(cookie) = cookies.session else {
        return Ok(LogoutStep::Done(request.location()));
    };
    let Some(session) = ctx
        .store
        .load_session(SessionLookup {
            id_digest: Secret::from_presented(cookie).digest().to_vec(),
            now: ctx.now,
            idle: ctx.config.sessions.idle,
            ip: ctx.client_ip.map(|ip| ip.to_string()),
        })
        .await?
    else {
        // Nothing to end: the browser may go back at once.
        return Ok(LogoutStep::Done(request.location()));
    };
    if request
        .hint
        .as_ref()
        .is_some_and(|h| h.subject == session.user_id)
    {
        end_session(ctx, cookie).await?;
        return Ok(LogoutStep::Done(request.location()));
    }
    let browser = cookies.browser.ok_or(BrowserError::Page(FORM_REFUSED))?;
    Ok(LogoutStep::Confirm {
        csrf_token: logout_token(browser, cookie),
        request,
    })
}

/// POST /logout from the confirmation page: the request is checked again, the token must
/// be this browser's for this session, and only then does the session end.
pub async fn confirm_logout(
    ctx: &Ctx<'_>,
    form: &FormMap,
    cookies: Cookies<'_>,
) -> Result<LogoutStep, BrowserError> {
    let request = logout::check(ctx, form).await?;
    let Some(cookie) = cookies.session else {
        return Ok(LogoutStep::Done(request.location()));
    };
    let expected = cookies.browser.map(|b| logout_token(b, cookie));
    let presented = form.get("csrf_token");
    let valid = match (expected, presented) {
        (Some(expected), Some(presented)) => bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            presented.as_bytes(),
        )),
        (Some(_) | None, Some(_) | None) => false,
    };
    if !valid {
        return Err(BrowserError::Forbidden(FORM_REFUSED));
    }
    end_session(ctx, cookie).await?;
    Ok(LogoutStep::Done(request.location()))
}
