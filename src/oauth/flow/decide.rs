//! The one decision of the browser flow: given the pending request, the browser's
//! session, what the user consented to before, and the time, what happens next.
//! Pure: no storage, no clock, no HTTP; its effects are the caller's.

use super::pending::PendingRequest;
use crate::oauth::error::OAuthError;
use crate::oauth::mfa::level::Level;
use crate::oauth::scope::Scope;
use crate::store::browser::Session;

/// A question the user must answer before the request can finish: each is one page.
/// A new step of the flow (a second factor, a device confirmation) is one more variant
/// here, a rule in [`decide`], and one template in src/http/pages.rs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Login,
    /// The session's user must prove a second factor (TOTP, recovery code or passkey).
    SecondFactor,
    /// The user must have a second factor and has none: enrol one now.
    Enrol,
    /// `prompt=select_account`: who is signed in, continue as them or sign in as another.
    SelectAccount,
    Consent,
}

/// What the session's user can prove beyond a password, and whether policy demands a
/// second factor of them for this request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Assurance {
    /// A confirmed TOTP authenticator.
    pub totp: bool,
    pub passkey: bool,
    /// The client's `require_mfa`, or one of the user's roles is in `mfa.required_roles`.
    pub required: bool,
}

impl Assurance {
    /// The most the user can reach with the factors they have.
    pub fn achievable(&self) -> Level {
        if self.passkey {
            Level::PhishingResistant
        } else if self.totp {
            Level::MultiFactor
        } else {
            Level::OneFactor
        }
    }

    /// The level this request needs: a second factor whenever the user has one (a user
    /// with a factor is always asked for it) or policy requires one; what `acr_values`
    /// asks, as far as the user's factors reach (the request is voluntary, and the ID
    /// token's `acr` says truthfully what was reached).
    pub fn target(&self, requested: Option<Level>) -> Level {
        let policy = if self.totp || self.passkey || self.required {
            Level::MultiFactor
        } else {
            Level::OneFactor
        };
        let asked = requested.map_or(Level::OneFactor, |r| r.min(self.achievable()));
        policy.max(asked)
    }
}

/// What the user has agreed to for the request's client, and what the client is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentState {
    /// First-party clients are trusted by the operator and ask only on `prompt=consent`.
    pub first_party: bool,
    /// A public client: anyone can send its `client_id` (RFC 8252 section 8.6).
    pub public: bool,
    /// The scope remembered for this user and client, if any.
    pub granted: Option<Scope>,
    /// The user has just allowed this very request on its consent page.
    pub answered: bool,
}

/// The next step of a pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Ask the user (the page for this screen).
    Ask(Screen),
    /// Everything is settled: issue the code.
    Issue,
    /// The client asked for no interaction (`prompt=none`) and some is needed, or the
    /// user signed in is not the one the client named: tell it.
    Refuse(OAuthError),
}

fn login_required(why: &str) -> Next {
    Next::Refuse(OAuthError::LoginRequired(why.to_owned().into()))
}

/// OpenID Connect Core 3.1.2.1 to 3.1.2.6, and RFC 8252 section 8.6, in this order:
/// 1. No session: the login page (`login_required` with `prompt=none`).
/// 2. An `id_token_hint` names another user than the session's: `login_required` with
///    `prompt=none`, and also when the user just signed in for this request as someone else
///    (Core 3.1.2.1: the hinted user must be the one signed in); the login page otherwise.
/// 3. The session must be fresh enough: a login made for this very request satisfies
///    `prompt=login` and `max_age`; any other
///    session must be younger than `max_age` *now* (this runs again when a form is posted)
///    and `prompt=login` refuses it.
/// 4. The session's factors must reach what the request needs (`Assurance::target`):
///    the second-factor page when the user's factors can, the enrolment page when the user
///    must have a factor and has none; `login_required` and `interaction_required` with
///    `prompt=none`.
/// 5. `prompt=select_account`: the account page until the user chose this session (or
///    signed in for the request).
/// 6. Consent, unless just given for this request: `prompt=consent` always asks; a
///    non-first-party client asks unless remembered consent covers the scope; and a public
///    non-first-party client, whose identity nothing assures, asks unless the user
///    interacted (signed in) for this very request.
/// 7. Issue. Whatever would be asked is `prompt=none`'s error instead.
pub fn decide(
    request: &PendingRequest,
    session: Option<&Session>,
    consent: &ConsentState,
    assurance: &Assurance,
    now: i64,
) -> Next {
    let prompts = &request.prompts;
    let Some(session) = session else {
        return if prompts.none() {
            login_required("the user is not signed in")
        } else {
            Next::Ask(Screen::Login)
        };
    };
    let bound = request.session_id.as_deref() == Some(session.sid.as_str());
    let signed_in_for_request = request.login_session_id.as_deref() == Some(session.sid.as_str());
    if request
        .hint_subject
        .as_deref()
        .is_some_and(|sub| sub != session.user_id)
    {
        return if prompts.none() || signed_in_for_request {
            login_required("the signed-in user is not the one named by id_token_hint")
        } else {
            Next::Ask(Screen::Login)
        };
    }
    let session_ok = signed_in_for_request
        || (!prompts.login()
            && request
                .max_age
                .is_none_or(|max| now - session.auth_time <= max));
    if !session_ok {
        return if prompts.none() {
            login_required("the user must sign in again")
        } else {
            Next::Ask(Screen::Login)
        };
    }
    let have = Level::of_amr(&session.amr);
    let want = assurance.target(request.acr_minimum);
    if have < want {
        return match (prompts.none(), want <= assurance.achievable()) {
            (true, true) => login_required("a second factor is needed"),
            (true, false) => Next::Refuse(OAuthError::InteractionRequired(
                "the user must enrol a second factor".into(),
            )),
            (false, true) => Next::Ask(Screen::SecondFactor),
            (false, false) => Next::Ask(Screen::Enrol),
        };
    }
    if prompts.select_account() && !bound {
        return Next::Ask(Screen::SelectAccount);
    }
    let covered = consent
        .granted
        .as_ref()
        .is_some_and(|granted| request.scope.is_subset_of(granted));
    let needs_consent = !consent.answered
        && (prompts.consent()
            || (!consent.first_party && !covered)
            || (!consent.first_party && consent.public && !signed_in_for_request));
    if needs_consent {
        return if prompts.none() {
            Next::Refuse(OAuthError::ConsentRequired(
                "the user has not consented".into(),
            ))
        } else {
            Next::Ask(Screen::Consent)
        };
    }
    Next::Issue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::authorize::Prompt;
    use crate::oauth::flow::pending::Prompts;
    use crate::store::browser::StoredRequest;

    const NOW: i64 = 1_800_000_000;
    const NO_FACTORS: Assurance = Assurance {
        totp: false,
        passkey: false,
        required: false,
    };
    /// The request began 30 seconds ago.
    const CREATED: i64 = NOW - 30;
    const SID: &str = "sid-1";
    const ALICE: &str = "alice-id";

    /// How the session `SID` is tied to the request.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Tie {
        /// Not at all.
        Loose,
        /// It was shown the consent page, or chosen on the account page.
        Answering,
        /// It logged in for the request (and so answers it too).
        LoggedIn,
    }

    fn request(prompts: &[Prompt], max_age: Option<i64>, tie: Tie) -> PendingRequest {
        hinted(prompts, max_age, tie, None)
    }

    fn hinted(
        prompts: &[Prompt],
        max_age: Option<i64>,
        tie: Tie,
        hint: Option<&str>,
    ) -> PendingRequest {
        let stored = StoredRequest {
            id: "r".into(),
            client_id: "rp".into(),
            redirect_uri: "https://rp.example/cb".into(),
            redirect_uri_given: true,
            scope: "openid email".into(),
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: Prompts::from_iter(prompts.iter().copied()).stored(),
            max_age,
            login_hint: None,
            csrf_digest: Vec::new(),
            session_id: (tie != Tie::Loose).then(|| SID.to_owned()),
            created_at: CREATED,
            expires_at: CREATED + 600,
            id_token_hint_subject: hint.map(str::to_owned),
            login_session_id: (tie == Tie::LoggedIn).then(|| SID.to_owned()),
            resources: "[]".into(),
            acr_values: None,
            ui_locales: None,
        };
        PendingRequest::parse(stored).unwrap()
    }

    /// A session of alice's that authenticated `age` seconds ago.
    fn session(age: i64) -> Session {
        Session {
            sid: SID.into(),
            user_id: ALICE.into(),
            auth_time: NOW - age,
            amr: vec!["pwd".into()],
        }
    }

    fn consent(first_party: bool, public: bool, granted: Option<&str>) -> ConsentState {
        ConsentState {
            first_party,
            public,
            granted: granted.map(|g| Scope::parse(g).unwrap()),
            answered: false,
        }
    }

    fn is_login_required(next: &Next) -> bool {
        matches!(next, Next::Refuse(OAuthError::LoginRequired(_)))
    }

    fn consent_required() -> Next {
        Next::Refuse(OAuthError::ConsentRequired(
            "the user has not consented".into(),
        ))
    }

    /// Every combination of prompt, session age, max_age, binding, hint, client kind,
    /// remembered and just-given consent, against the rules written out once more.
    #[test]
    fn every_combination_follows_the_rules() {
        let prompt_sets: [&[Prompt]; 8] = [
            &[],
            &[Prompt::None],
            &[Prompt::Login],
            &[Prompt::Consent],
            &[Prompt::SelectAccount],
            &[Prompt::Login, Prompt::Consent],
            &[Prompt::SelectAccount, Prompt::Consent],
            &[Prompt::Login, Prompt::SelectAccount],
        ];
        let ages = [
            None,
            Some(0),
            Some(30),
            Some(31),
            Some(60),
            Some(61),
            Some(10_000),
        ];
        let max_ages = [None, Some(0), Some(60)];
        let hints = [None, Some(ALICE), Some("bob-id")];
        let clients = [(false, false), (false, true), (true, false), (true, true)];
        let granted = [
            None,
            Some("openid"),
            Some("openid email"),
            Some("email openid profile"),
        ];
        let mut cases = 0;
        for prompts in prompt_sets {
            for age in ages {
                for max_age in max_ages {
                    for tie in [Tie::Loose, Tie::Answering, Tie::LoggedIn] {
                        for hint in hints {
                            for (first_party, public) in clients {
                                for g in granted {
                                    for answered in [false, true] {
                                        let req = hinted(prompts, max_age, tie, hint);
                                        let s = age.map(session);
                                        let mut c = consent(first_party, public, g);
                                        c.answered = answered;
                                        let got = decide(&req, s.as_ref(), &c, &NO_FACTORS, NOW);
                                        let want = expected(prompts, age, max_age, tie, hint, &c);
                                        let same = match (&got, &want) {
                                            (Next::Refuse(a), Next::Refuse(b)) => {
                                                a.code() == b.code()
                                            }
                                            (a, b) => a == b,
                                        };
                                        assert!(
                                            same,
                                            "got {got:?}, want {want:?}: prompts {prompts:?} \
                                             age {age:?} max_age {max_age:?} tie {tie:?} \
                                             hint {hint:?} consent {c:?}"
                                        );
                                        cases += 1;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 8 * 7 * 3 * 3 * 3 * 4 * 4 * 2);
    }

    /// The rules of `decide`, spelled out independently of it.
    fn expected(
        prompts: &[Prompt],
        age: Option<i64>,
        max_age: Option<i64>,
        tie: Tie,
        hint: Option<&str>,
        c: &ConsentState,
    ) -> Next {
        let none = prompts.contains(&Prompt::None);
        let ask = |screen| {
            if none {
                match screen {
                    Screen::Consent => consent_required(),
                    Screen::Login | Screen::SelectAccount | Screen::SecondFactor => {
                        Next::Refuse(OAuthError::LoginRequired("".into()))
                    }
                    Screen::Enrol => Next::Refuse(OAuthError::InteractionRequired("".into())),
                }
            } else {
                Next::Ask(screen)
            }
        };
        let Some(age) = age else {
            return ask(Screen::Login);
        };
        let bound = tie != Tie::Loose;
        let fresh = tie == Tie::LoggedIn;
        if hint == Some("bob-id") {
            return if fresh {
                Next::Refuse(OAuthError::LoginRequired("".into()))
            } else {
                ask(Screen::Login)
            };
        }
        let old_enough_ok = max_age.is_none_or(|m| age <= m);
        if !fresh && (prompts.contains(&Prompt::Login) || !old_enough_ok) {
            return ask(Screen::Login);
        }
        if prompts.contains(&Prompt::SelectAccount) && !bound {
            return ask(Screen::SelectAccount);
        }
        let covered = c
            .granted
            .as_ref()
            .is_some_and(|g| g.contains("openid") && g.contains("email"));
        let consent_asked = prompts.contains(&Prompt::Consent)
            || (!c.first_party && !covered)
            || (!c.first_party && c.public && !fresh);
        if consent_asked && !c.answered {
            return ask(Screen::Consent);
        }
        Next::Issue
    }

    #[test]
    fn no_session_asks_for_login_or_tells_a_silent_client() {
        let c = consent(true, false, None);
        assert_eq!(
            decide(&request(&[], None, Tie::Loose), None, &c, &NO_FACTORS, NOW),
            Next::Ask(Screen::Login)
        );
        assert!(is_login_required(&decide(
            &request(&[Prompt::None], None, Tie::Loose),
            None,
            &c,
            &NO_FACTORS,
            NOW
        )));
    }

    #[test]
    fn prompt_login_ignores_an_old_session_but_not_the_login_made_for_it() {
        let c = consent(true, false, None);
        assert_eq!(
            decide(
                &request(&[Prompt::Login], None, Tie::Loose),
                Some(&session(5)),
                &c,
                &NO_FACTORS,
                NOW
            ),
            Next::Ask(Screen::Login)
        );
        assert_eq!(
            decide(
                &request(&[Prompt::Login], None, Tie::LoggedIn),
                Some(&session(5)),
                &c,
                &NO_FACTORS,
                NOW
            ),
            Next::Issue
        );
        // Shown a page of the request, but not signed in for it.
        assert_eq!(
            decide(
                &request(&[Prompt::Login], None, Tie::Answering),
                Some(&session(31)),
                &c,
                &NO_FACTORS,
                NOW
            ),
            Next::Ask(Screen::Login)
        );
    }

    #[test]
    fn max_age_is_inclusive_and_measured_now_unless_signed_in_for_the_request() {
        let c = consent(true, false, None);
        let req = request(&[], Some(60), Tie::Loose);
        assert_eq!(
            decide(&req, Some(&session(60)), &c, &NO_FACTORS, NOW),
            Next::Issue
        );
        assert_eq!(
            decide(&req, Some(&session(61)), &c, &NO_FACTORS, NOW),
            Next::Ask(Screen::Login)
        );
        // The consent page was shown to a 50-second-old session; posted 20 seconds later
        // the session is 70 seconds old: sign in again.
        let bound = request(&[], Some(60), Tie::Answering);
        let mut answered = consent(false, false, None);
        answered.answered = true;
        assert_eq!(
            decide(&bound, Some(&session(50)), &answered, &NO_FACTORS, NOW),
            Next::Issue
        );
        assert_eq!(
            decide(&bound, Some(&session(70)), &answered, &NO_FACTORS, NOW),
            Next::Ask(Screen::Login)
        );
        // max_age=0 is met by the login made for this very request.
        let zero = request(&[], Some(0), Tie::LoggedIn);
        assert_eq!(
            decide(&zero, Some(&session(20)), &c, &NO_FACTORS, NOW),
            Next::Issue
        );
    }

    #[test]
    fn a_session_bound_to_another_request_is_not_fresh() {
        let c = consent(true, false, None);
        let mut other = session(5);
        other.sid = "someone-else".into();
        assert_eq!(
            decide(
                &request(&[Prompt::Login], None, Tie::LoggedIn),
                Some(&other),
                &c,
                &NO_FACTORS,
                NOW
            ),
            Next::Ask(Screen::Login)
        );
    }

    #[test]
    fn id_token_hint_of_another_user() {
        let c = consent(true, false, None);
        let bob = hinted(&[], None, Tie::Loose, Some("bob-id"));
        assert_eq!(
            decide(&bob, Some(&session(5)), &c, &NO_FACTORS, NOW),
            Next::Ask(Screen::Login)
        );
        let silent = hinted(&[Prompt::None], None, Tie::Loose, Some("bob-id"));
        assert!(is_login_required(&decide(
            &silent,
            Some(&session(5)),
            &c,
            &NO_FACTORS,
            NOW
        )));
        // Signed in for the request, but as alice: the client gets an error, not alice.
        let signed_in = hinted(&[], None, Tie::LoggedIn, Some("bob-id"));
        assert!(is_login_required(&decide(
            &signed_in,
            Some(&session(5)),
            &c,
            &NO_FACTORS,
            NOW
        )));
        let alice = hinted(&[Prompt::None], None, Tie::Loose, Some(ALICE));
        assert_eq!(
            decide(&alice, Some(&session(5)), &c, &NO_FACTORS, NOW),
            Next::Issue
        );
    }

    #[test]
    fn select_account_asks_until_the_user_chose() {
        let c = consent(true, false, None);
        assert_eq!(
            decide(
                &request(&[Prompt::SelectAccount], None, Tie::Loose),
                Some(&session(99)),
                &c,
                &NO_FACTORS,
                NOW
            ),
            Next::Ask(Screen::SelectAccount)
        );
        assert_eq!(
            decide(
                &request(&[Prompt::SelectAccount], None, Tie::Answering),
                Some(&session(99)),
                &c,
                &NO_FACTORS,
                NOW
            ),
            Next::Issue
        );
        assert_eq!(
            decide(
                &request(&[Prompt::SelectAccount], None, Tie::Loose),
                None,
                &c,
                &NO_FACTORS,
                NOW
            ),
            Next::Ask(Screen::Login)
        );
    }

    #[test]
    fn remembered_consent_must_cover_the_whole_scope() {
        let s = session(99);
        let req = request(&[], None, Tie::Loose);
        for (granted, next) in [
            (None, Next::Ask(Screen::Consent)),
            (Some("openid"), Next::Ask(Screen::Consent)),
            (Some("openid email"), Next::Issue),
            (Some("email openid offline_access"), Next::Issue),
        ] {
            assert_eq!(
                decide(
                    &req,
                    Some(&s),
                    &consent(false, false, granted),
                    &NO_FACTORS,
                    NOW
                ),
                next,
                "{granted:?}"
            );
        }
        let silent = request(&[Prompt::None], None, Tie::Loose);
        assert_eq!(
            decide(
                &silent,
                Some(&s),
                &consent(false, false, Some("openid")),
                &NO_FACTORS,
                NOW
            ),
            consent_required()
        );
    }

    #[test]
    fn prompt_consent_asks_every_client_even_when_remembered() {
        let s = session(99);
        let req = request(&[Prompt::Consent], None, Tie::Loose);
        for c in [
            consent(false, false, Some("openid email")),
            consent(true, false, None),
            consent(true, true, None),
        ] {
            assert_eq!(
                decide(&req, Some(&s), &c, &NO_FACTORS, NOW),
                Next::Ask(Screen::Consent)
            );
        }
    }

    #[test]
    fn public_clients_get_no_code_without_interaction_unless_first_party() {
        let s = session(99);
        let remembered = consent(false, true, Some("openid email"));
        assert_eq!(
            decide(
                &request(&[], None, Tie::Loose),
                Some(&s),
                &remembered,
                &NO_FACTORS,
                NOW
            ),
            Next::Ask(Screen::Consent)
        );
        assert_eq!(
            decide(
                &request(&[Prompt::None], None, Tie::Loose),
                Some(&s),
                &remembered,
                &NO_FACTORS,
                NOW
            ),
            consent_required()
        );
        // Signing in for this very request is interaction.
        assert_eq!(
            decide(
                &request(&[], None, Tie::LoggedIn),
                Some(&session(5)),
                &remembered,
                &NO_FACTORS,
                NOW
            ),
            Next::Issue
        );
        let first_party = consent(true, true, None);
        assert_eq!(
            decide(
                &request(&[Prompt::None], None, Tie::Loose),
                Some(&s),
                &first_party,
                &NO_FACTORS,
                NOW
            ),
            Next::Issue
        );
    }

    fn with_amr(age: i64, amr: &[&str]) -> Session {
        let mut s = session(age);
        s.amr = amr.iter().map(|m| (*m).to_owned()).collect();
        s
    }

    fn acr(prompts: &[Prompt], acr_values: Option<&str>) -> PendingRequest {
        let mut req = request(prompts, None, Tie::Loose);
        req.acr_minimum = crate::oauth::mfa::level::requested_minimum(acr_values);
        req
    }

    const TOTP: Assurance = Assurance {
        totp: true,
        passkey: false,
        required: false,
    };
    const PASSKEY: Assurance = Assurance {
        totp: true,
        passkey: true,
        required: false,
    };
    const REQUIRED: Assurance = Assurance {
        totp: false,
        passkey: false,
        required: true,
    };

    #[test]
    fn a_user_with_a_factor_is_always_asked_for_it() {
        let c = consent(true, false, None);
        let pwd = with_amr(5, &["pwd"]);
        for a in [TOTP, PASSKEY] {
            assert_eq!(
                decide(&acr(&[], None), Some(&pwd), &c, &a, NOW),
                Next::Ask(Screen::SecondFactor)
            );
            assert!(is_login_required(&decide(
                &acr(&[Prompt::None], None),
                Some(&pwd),
                &c,
                &a,
                NOW
            )));
        }
        let otp = with_amr(5, &["pwd", "otp", "mfa"]);
        assert_eq!(
            decide(&acr(&[], None), Some(&otp), &c, &TOTP, NOW),
            Next::Issue
        );
        // A passkey user who proved a code has a second factor: enough unless asked for more.
        assert_eq!(
            decide(&acr(&[], None), Some(&otp), &c, &PASSKEY, NOW),
            Next::Issue
        );
    }

    #[test]
    fn policy_leads_a_user_without_factors_to_enrol() {
        let c = consent(true, false, None);
        let pwd = with_amr(5, &["pwd"]);
        assert_eq!(
            decide(&acr(&[], None), Some(&pwd), &c, &REQUIRED, NOW),
            Next::Ask(Screen::Enrol)
        );
        assert!(matches!(
            decide(&acr(&[Prompt::None], None), Some(&pwd), &c, &REQUIRED, NOW),
            Next::Refuse(OAuthError::InteractionRequired(_))
        ));
        let mut both = REQUIRED;
        both.totp = true;
        assert_eq!(
            decide(&acr(&[], None), Some(&pwd), &c, &both, NOW),
            Next::Ask(Screen::SecondFactor)
        );
    }

    #[test]
    fn acr_values_step_up_as_far_as_the_factors_reach() {
        let c = consent(true, false, None);
        let pwd = with_amr(5, &["pwd"]);
        let otp = with_amr(5, &["pwd", "otp", "mfa"]);
        let key = with_amr(5, &["hwk", "user", "mfa"]);
        // Asking for a passkey of a TOTP user who showed a code: they have none, so the
        // code is as far as they reach (acr says so in the ID token).
        assert_eq!(
            decide(&acr(&[], Some("phr")), Some(&otp), &c, &TOTP, NOW),
            Next::Issue
        );
        // A passkey user who showed only a code steps up to the passkey.
        assert_eq!(
            decide(&acr(&[], Some("phr")), Some(&otp), &c, &PASSKEY, NOW),
            Next::Ask(Screen::SecondFactor)
        );
        assert!(is_login_required(&decide(
            &acr(&[Prompt::None], Some("phr")),
            Some(&otp),
            &c,
            &PASSKEY,
            NOW
        )));
        assert_eq!(
            decide(&acr(&[], Some("phr")), Some(&key), &c, &PASSKEY, NOW),
            Next::Issue
        );
        // One factor asked for and none held: nothing to step up to.
        assert_eq!(
            decide(
                &acr(&[], Some("urn:portcullis:acr:1fa")),
                Some(&pwd),
                &c,
                &NO_FACTORS,
                NOW
            ),
            Next::Issue
        );
        // Any of the listed values satisfies: the weakest one counts.
        assert_eq!(
            decide(
                &acr(&[], Some("phr urn:portcullis:acr:mfa")),
                Some(&otp),
                &c,
                &PASSKEY,
                NOW
            ),
            Next::Issue
        );
    }

    #[test]
    fn the_second_factor_comes_after_freshness() {
        let c = consent(true, false, None);
        let mut req = acr(&[], None);
        req.max_age = Some(60);
        // Too old: the password first, however many factors the session proved.
        assert_eq!(
            decide(
                &req,
                Some(&with_amr(61, &["pwd", "otp", "mfa"])),
                &c,
                &TOTP,
                NOW
            ),
            Next::Ask(Screen::Login)
        );
    }
}
