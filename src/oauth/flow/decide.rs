//! The one decision of the browser flow: given the pending request, the browser's
//! session, what the user consented to before, and the time, what happens next.
//! Pure: no storage, no clock, no HTTP; its effects are the caller's.

use super::pending::PendingRequest;
use crate::oauth::error::OAuthError;
use crate::oauth::scope::Scope;
use crate::store::browser::Session;

/// A question the user must answer before the request can finish: each is one page.
/// A new step of the flow (a second factor, a device confirmation, an account chooser)
/// is one more variant here, a rule in [`decide`], and one template in src/http/pages.rs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Login,
    Consent,
}

/// What the user has agreed to for the request's client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentState {
    /// First-party clients are trusted by the operator and never ask.
    pub first_party: bool,
    /// The scope remembered for this user and client, if any.
    pub granted: Option<Scope>,
}

/// The next step of a pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Ask the user (the page for this screen).
    Ask(Screen),
    /// Everything is settled: issue the code.
    Issue,
    /// The client asked for no interaction (`prompt=none`) and some is needed: tell it.
    Refuse(OAuthError),
}

/// OpenID Connect Core 3.1.2.1 and 3.1.2.4, as Portcullis keeps them:
/// - a login made for this very request satisfies `prompt=login` and `max_age`;
/// - otherwise a session counts unless `prompt=login` (or `select_account`, read as login)
///   asks for a new one, or it is older than `max_age`;
/// - first-party clients never ask for consent; `prompt=consent` always does; else the
///   remembered consent must cover the requested scope;
/// - with `prompt=none`, whatever would be asked is an error for the client instead.
pub fn decide(
    request: &PendingRequest,
    session: Option<&Session>,
    consent: &ConsentState,
    now: i64,
) -> Next {
    let prompts = &request.prompts;
    let fresh = session.is_some_and(|s| request.session_id.as_deref() == Some(s.sid.as_str()));
    let session_ok = session.is_some_and(|s| {
        fresh || (!prompts.login() && request.max_age.is_none_or(|max| now - s.auth_time <= max))
    });
    if !session_ok {
        return if prompts.none() {
            Next::Refuse(OAuthError::LoginRequired(
                "the user is not signed in".into(),
            ))
        } else {
            Next::Ask(Screen::Login)
        };
    }
    let needs_consent = if consent.first_party {
        false
    } else if prompts.consent() {
        true
    } else {
        !consent
            .granted
            .as_ref()
            .is_some_and(|granted| request.scope.is_subset_of(granted))
    };
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
    const SID: &str = "sid-1";

    fn request(prompts: &[Prompt], max_age: Option<i64>, bound: bool) -> PendingRequest {
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
            session_id: bound.then(|| SID.to_owned()),
            created_at: NOW,
            expires_at: NOW + 600,
            resources: "[]".into(),
        };
        PendingRequest::parse(stored).unwrap()
    }

    fn session(age: i64) -> Session {
        Session {
            sid: SID.into(),
            user_id: "u".into(),
            auth_time: NOW - age,
            amr: vec!["pwd".into()],
        }
    }

    fn consent(first_party: bool, granted: Option<&str>) -> ConsentState {
        ConsentState {
            first_party,
            granted: granted.map(|g| Scope::parse(g).unwrap()),
        }
    }

    fn login_required() -> Next {
        Next::Refuse(OAuthError::LoginRequired(
            "the user is not signed in".into(),
        ))
    }

    fn consent_required() -> Next {
        Next::Refuse(OAuthError::ConsentRequired(
            "the user has not consented".into(),
        ))
    }

    /// Every combination of prompt, session state, max_age, binding, first party and
    /// remembered consent, against the rules written out once more, case by case.
    #[test]
    fn every_combination_follows_the_rules() {
        let prompt_sets: [&[Prompt]; 6] = [
            &[],
            &[Prompt::None],
            &[Prompt::Login],
            &[Prompt::Consent],
            &[Prompt::Login, Prompt::Consent],
            &[Prompt::Consent, Prompt::Login],
        ];
        let sessions = [None, Some(0), Some(59), Some(60), Some(61), Some(10_000)];
        let max_ages = [None, Some(0), Some(60)];
        let consents = [
            consent(false, None),
            consent(false, Some("openid")),
            consent(false, Some("openid email")),
            consent(false, Some("openid email profile")),
            consent(true, None),
            consent(true, Some("openid")),
        ];
        let mut cases = 0;
        for prompts in prompt_sets {
            for age in sessions {
                for max_age in max_ages {
                    for bound in [false, true] {
                        for c in &consents {
                            let req = request(prompts, max_age, bound);
                            let s = age.map(session);
                            let got = decide(&req, s.as_ref(), c, NOW);
                            let none = prompts.contains(&Prompt::None);
                            let login = prompts.contains(&Prompt::Login);
                            let ask_consent = prompts.contains(&Prompt::Consent);
                            let signed_in = match age {
                                None => false,
                                Some(_) if bound => true,
                                Some(_) if login => false,
                                Some(a) => max_age.is_none_or(|m| a <= m),
                            };
                            let covered = c
                                .granted
                                .as_ref()
                                .is_some_and(|g| g.contains("openid") && g.contains("email"));
                            let wanted = if !signed_in {
                                if none {
                                    login_required()
                                } else {
                                    Next::Ask(Screen::Login)
                                }
                            } else if !c.first_party && (ask_consent || !covered) {
                                if none {
                                    consent_required()
                                } else {
                                    Next::Ask(Screen::Consent)
                                }
                            } else {
                                Next::Issue
                            };
                            assert_eq!(
                                got, wanted,
                                "prompts {prompts:?} age {age:?} max_age {max_age:?} \
                                 bound {bound} consent {c:?}"
                            );
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 6 * 6 * 3 * 2 * 6);
    }

    #[test]
    fn no_session_asks_for_login_or_tells_a_silent_client() {
        let c = consent(true, None);
        assert_eq!(
            decide(&request(&[], None, false), None, &c, NOW),
            Next::Ask(Screen::Login)
        );
        assert_eq!(
            decide(&request(&[Prompt::None], None, false), None, &c, NOW),
            login_required()
        );
    }

    #[test]
    fn prompt_login_ignores_an_old_session_but_not_the_login_made_for_it() {
        let c = consent(true, None);
        let s = session(5);
        assert_eq!(
            decide(&request(&[Prompt::Login], None, false), Some(&s), &c, NOW),
            Next::Ask(Screen::Login)
        );
        assert_eq!(
            decide(&request(&[Prompt::Login], None, true), Some(&s), &c, NOW),
            Next::Issue
        );
    }

    #[test]
    fn max_age_is_inclusive_and_a_fresh_login_satisfies_it() {
        let c = consent(true, None);
        let req = request(&[], Some(60), false);
        assert_eq!(decide(&req, Some(&session(60)), &c, NOW), Next::Issue);
        assert_eq!(
            decide(&req, Some(&session(61)), &c, NOW),
            Next::Ask(Screen::Login)
        );
        let bound = request(&[], Some(0), true);
        assert_eq!(decide(&bound, Some(&session(61)), &c, NOW), Next::Issue);
    }

    #[test]
    fn a_session_bound_to_another_request_is_not_fresh() {
        let c = consent(true, None);
        let mut other = session(120);
        other.sid = "someone-else".into();
        assert_eq!(
            decide(
                &request(&[Prompt::Login], None, true),
                Some(&other),
                &c,
                NOW
            ),
            Next::Ask(Screen::Login)
        );
    }

    #[test]
    fn remembered_consent_must_cover_the_whole_scope() {
        let s = session(0);
        let req = request(&[], None, false);
        for (granted, next) in [
            (None, Next::Ask(Screen::Consent)),
            (Some("openid"), Next::Ask(Screen::Consent)),
            (Some("openid email"), Next::Issue),
            (Some("email openid offline_access"), Next::Issue),
        ] {
            assert_eq!(
                decide(&req, Some(&s), &consent(false, granted), NOW),
                next,
                "{granted:?}"
            );
        }
        let silent = request(&[Prompt::None], None, false);
        assert_eq!(
            decide(&silent, Some(&s), &consent(false, Some("openid")), NOW),
            consent_required()
        );
    }

    #[test]
    fn prompt_consent_asks_even_when_remembered_but_never_first_party() {
        let s = session(0);
        let req = request(&[Prompt::Consent], None, false);
        assert_eq!(
            decide(&req, Some(&s), &consent(false, Some("openid email")), NOW),
            Next::Ask(Screen::Consent)
        );
        assert_eq!(
            decide(&req, Some(&s), &consent(true, None), NOW),
            Next::Issue
        );
    }

    #[test]
    fn first_party_clients_skip_consent_even_silently() {
        let s = session(0);
        let req = request(&[Prompt::None], None, false);
        assert_eq!(
            decide(&req, Some(&s), &consent(true, None), NOW),
            Next::Issue
        );
    }
}
