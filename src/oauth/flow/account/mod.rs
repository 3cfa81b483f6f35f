//! The user's own pages (`/account`, `/account/password`, `/account/security`,
//! `/account/sessions`, `/account/apps`): who may see them, and the CSRF token of their
//! forms. The changes they make are `password`, `security`, `sessions` and `apps`;
//! src/http/account.rs renders them.
//!
//! **Signing in.** The account pages are a client of this server like any other, with one
//! difference: it is built in (`client`, id `oauth::client::ACCOUNT_CLIENT_ID`), first
//! party, and its requests end in a redirect to the account page they started from instead
//! of a code. A browser without a session good enough for the pages (`signed_in`) gets a
//! pending request of that client (`begin`) and is sent to `/login`; the login, second
//! factor and enrolment steps then run unchanged, with their throttles, audit events and
//! session rules, and `flow::issue_code` hands a finished account request to `finish`.
//! "Good enough" is the flow's own rule (`Assurance::target`): a user who has a second
//! factor, or whom policy requires to have one, must have proved one in this session.
//!
//! The built-in client cannot be used anywhere else: it is not in the clients table
//! (registration refuses its id), so `/authorize` answers it as an unknown client and
//! `/token` cannot authenticate it; only `flow::live_client` knows it, for requests this
//! module stored. Its requests carry no `redirect_uri` of anyone's choosing: `finish` sends
//! the browser to one of the account pages' own paths (`AccountPage`), nothing else.
//!
//! **Forms.** Every form's token is stateless, like the logout confirmation's: an HMAC
//! keyed by the browser-binding cookie over the digest of the session cookie
//! (`Account::csrf_token`). A token copied to another browser, or kept past the session (a
//! new cookie after a second factor, a sign-out), proves nothing.

pub mod apps;
pub mod links;
pub mod notices;
pub mod password;
pub mod recovery;
pub mod security;
pub mod sessions;
pub mod verification;

use subtle::ConstantTimeEq;

use super::{
    Ask, BrowserError, Cookies, FORM_REFUSED, PendingRequest, REQUEST_LIFETIME, Step, assurance,
    consent_state, lookup, perform,
};
use crate::accounts::Profile;
use crate::crypto::tokens::{Secret, bound_to_browser};
use crate::oauth::client::resources;
use crate::oauth::client::{ACCOUNT_CLIENT_ID, AuthMethod, GrantTypes, RegisteredClient};
use crate::oauth::context::Ctx;
use crate::oauth::error::OAuthError;
use crate::oauth::mfa::level::Level;
use crate::oauth::scope::Scope;
use crate::store::browser::{Loaded, PendingBounds, Session, StoredRequest};
use crate::store::factors::UserFactors;

/// The account pages. A sign-in started from one returns to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountPage {
    Profile,
    /// The name and address form (`/account/profile`).
    Details,
    Password,
    Security,
    Sessions,
    Apps,
}

impl AccountPage {
    const ALL: [AccountPage; 6] = [
        Self::Profile,
        Self::Details,
        Self::Password,
        Self::Security,
        Self::Sessions,
        Self::Apps,
    ];

    /// The page's route, relative to the issuer.
    pub fn route(self) -> &'static str {
        match self {
            Self::Profile => "/account",
            Self::Details => "/account/profile",
            Self::Password => "/account/password",
            Self::Security => "/account/security",
            Self::Sessions => "/account/sessions",
            Self::Apps => "/account/apps",
        }
    }

    /// The page's path as the browser asks for it: under the issuer's path.
    fn path(self, ctx: &Ctx<'_>) -> String {
        format!("{}{}", ctx.config.issuer.path(), self.route())
    }
}

/// The name the sign-in pages show: "to continue to your account". The pages put it in
/// the person's language (`account-client-name` in the catalogues).
pub const CLIENT_NAME: &str = "your account";

/// The account pages' built-in client (see the module's notes). Public and first party:
/// no secret exists to be stolen, and the user is not asked to consent to their own
/// account. No grant type: it never reaches `/token`.
pub(super) fn client(ctx: &Ctx<'_>) -> RegisteredClient {
    RegisteredClient {
        client_id: ACCOUNT_CLIENT_ID.to_owned(),
        client_name: CLIENT_NAME.to_owned(),
        confidential: false,
        secret_digest: None,
        token_endpoint_auth_method: AuthMethod::None,
        grant_types: GrantTypes::default(),
        scope: Scope::default(),
        roles: Vec::new(),
        first_party: true,
        require_pkce: false,
        redirect_uris: AccountPage::ALL.iter().map(|p| p.path(ctx)).collect(),
        post_logout_redirect_uris: Vec::new(),
        resources: Vec::new(),
        access_token_lifetime: None,
        refresh_token_lifetime: None,
        disabled: false,
        instance: "built-in".to_owned(),
        // Policy by role (`mfa.required_roles`) still applies; demanding a factor of
        // everyone here would leave users without one no page to enrol it on.
        require_mfa: false,
        // Built in, so the server's own: never a self-registered client.
        origin: crate::oauth::client::ClientOrigin::Cli,
        last_used_at: None,
    }
}

/// A signed-in user on the account pages, with a session that reaches what the flow would
/// ask of them.
pub struct Account {
    pub session: Session,
    pub profile: Profile,
    pub factors: UserFactors,
    /// Policy demands a second factor of this user (`mfa::required_by_policy` for the
    /// account pages): their last factor may not be removed.
    pub factor_required: bool,
    /// The session cookie as presented: what the forms' tokens and the passkey
    /// registration's ceremony are bound to.
    cookie: Secret,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("sid", &self.session.sid)
            .field("user_id", &self.session.user_id)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// The token every form of the account pages carries.
    pub fn csrf_token(&self, browser: &str) -> String {
        account_token(browser, self.cookie.expose())
    }

    /// The token of the sign-out form, which posts to `/logout` as its confirmation page
    /// does (`flow::confirm_logout`).
    pub fn logout_token(&self, browser: &str) -> String {
        super::logout_token(browser, self.cookie.expose())
    }

    fn session_digest(&self) -> Vec<u8> {
        self.cookie.digest().to_vec()
    }
}

/// The account forms' CSRF token: bound to the browser, and to the session by its
/// digest. The label keeps it apart from the logout confirmation's token over the same
/// session.
fn account_token(browser: &str, session_cookie: &str) -> String {
    let session = Secret::from_presented(session_cookie).digest();
    let proof = bound_to_browser(
        browser,
        &format!("account {}", crate::encoding::hex(&session)),
    );
    crate::encoding::hex(&proof)
}

/// Is the session behind `cookies` one the account pages accept? None: no session, a
/// session that ended, or one that has not proved what the user must prove.
async fn signed_in(ctx: &Ctx<'_>, cookies: Cookies<'_>) -> Result<Option<Account>, BrowserError> {
    let Some(cookie) = cookies.session else {
        return Ok(None);
    };
    let Some(lookup) = lookup(ctx, Some(cookie)) else {
        return Ok(None);
    };
    let Some((session, factors)) = ctx.store.load_session_with_factors(lookup).await? else {
        return Ok(None);
    };
    let Some(profile) = ctx.accounts.enabled_profile(&session.user_id).await? else {
        return Ok(None);
    };
    let client = client(ctx);
    let assurance = assurance(ctx, &client, Some(&factors));
    if Level::of_amr(&session.amr) < assurance.target(None) {
        return Ok(None);
    }
    Ok(Some(Account {
        session,
        profile,
        factors,
        factor_required: assurance.required,
        cookie: Secret::from_presented(cookie),
    }))
}

/// What a GET of an account page leads to.
#[derive(Debug)]
pub enum Entry {
    /// Show the page to this user.
    Granted(Box<Account>),
    /// Sign in first: the step of the account client's new request (a page of the flow).
    SignIn(Step),
}

/// GET of an account page: the page, or a sign-in that comes back to it.
pub async fn enter(
    ctx: &Ctx<'_>,
    page: AccountPage,
    cookies: Cookies<'_>,
) -> Result<Entry, BrowserError> {
    match signed_in(ctx, cookies).await? {
        Some(account) => Ok(Entry::Granted(Box::new(account))),
        None => begin(ctx, page, cookies).await.map(Entry::SignIn),
    }
}

/// A POST of an account form: its user, when the session still reaches the pages and the
/// form's token is this browser's for this session. None when the session does not (the
/// handler sends the browser to the page, whose GET signs in again); a wrong or missing
/// token is refused.
pub async fn posted(
    ctx: &Ctx<'_>,
    cookies: Cookies<'_>,
    presented: Option<&str>,
) -> Result<Option<Account>, BrowserError> {
    let Some(account) = signed_in(ctx, cookies).await? else {
        return Ok(None);
    };
    let valid = match (cookies.browser, presented) {
        (Some(browser), Some(presented)) => bool::from(
            account
                .csrf_token(browser)
                .as_bytes()
                .ct_eq(presented.as_bytes()),
        ),
        (Some(_) | None, Some(_) | None) => false,
    };
    if !valid {
        return Err(BrowserError::Forbidden(FORM_REFUSED));
    }
    Ok(Some(account))
}

/// Starts a sign-in for the account pages: a pending request of the built-in client,
/// stored under the same bounds as `/authorize`'s (a GET without a session must not grow
/// storage without limit), decided as any request is.
async fn begin(
    ctx: &Ctx<'_>,
    page: AccountPage,
    cookies: Cookies<'_>,
) -> Result<Step, BrowserError> {
    let client = client(ctx);
    let stored = StoredRequest {
        id: uuid::Uuid::new_v4().simple().to_string(),
        client_id: ACCOUNT_CLIENT_ID.to_owned(),
        redirect_uri: page.path(ctx),
        redirect_uri_given: false,
        scope: String::new(),
        state: None,
        nonce: None,
        code_challenge: None,
        prompt: None,
        max_age: None,
        login_hint: None,
        csrf_digest: Vec::new(),
        session_id: None,
        created_at: ctx.now,
        expires_at: ctx.now + REQUEST_LIFETIME,
        resources: resources::to_stored(&[]),
        id_token_hint_subject: None,
        login_session_id: None,
        acr_values: None,
        ui_locales: None,
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
        Err(bound) => {
            ctx.metrics
                .pending_refused
                .with_label_values(&[bound.as_str()])
                .inc();
            tracing::warn!(
                bound = bound.as_str(),
                "account sign-in refused: too many pending requests"
            );
            return Err(BrowserError::Unavailable(
                OAuthError::temporarily_unavailable(60),
            ));
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

/// Finishes a request of the account client (`flow::issue_code` sends it here): the
/// request is taken, so it finishes once, and no code exists; the browser goes back to the
/// account page it came from. Only the pages' own paths are ever a target.
pub(super) async fn finish(ctx: &Ctx<'_>, request: &PendingRequest) -> Result<Step, BrowserError> {
    if !ctx.store.take_request(&request.id).await? {
        return Err(BrowserError::Page(
            "This sign-in request was already completed.",
        ));
    }
    let target = AccountPage::ALL
        .into_iter()
        .map(|page| page.path(ctx))
        .find(|path| *path == request.stored.redirect_uri)
        .unwrap_or_else(|| AccountPage::Profile.path(ctx));
    Ok(Step::Redirect(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_browser_and_session() {
        let t = account_token("pcb_a", "pcs_s_1");
        assert_eq!(t, account_token("pcb_a", "pcs_s_1"));
        assert_ne!(t, account_token("pcb_b", "pcs_s_1"));
        assert_ne!(t, account_token("pcb_a", "pcs_s_2"));
        // Not the logout confirmation's token over the same session.
        assert_ne!(t, super::super::logout_token("pcb_a", "pcs_s_1"));
    }
}
