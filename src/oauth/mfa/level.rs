//! How strongly a session was authenticated: the `amr` values of RFC 8176 it carries, the
//! assurance level they add up to, and the `acr` values (OpenID Connect Core 2) that name
//! those levels to clients.
//!
//! Three levels, ordered:
//! - `urn:portcullis:acr:1fa`: one factor, a password;
//! - `urn:portcullis:acr:mfa`: a password and a second factor that can be phished (a TOTP
//!   code or a recovery code);
//! - `phr` (OpenID "EAP ACR Values" 1.0, phishing-resistant): a passkey, alone with user
//!   verification or after a password. A passkey is bound to our origin, so a phishing
//!   site can neither ask for it nor replay what it signs.
//!
//! A higher level satisfies a request for a lower one.

/// `amr` values (RFC 8176 section 2).
pub const PWD: &str = "pwd";
pub const OTP: &str = "otp";
/// A passkey bound to its device (not backup-eligible): hardware-held, as far as we know
/// without attestation.
pub const HWK: &str = "hwk";
/// A synced passkey (backup-eligible): software-held.
pub const SWK: &str = "swk";
pub const MFA: &str = "mfa";
/// User verification by the authenticator (PIN or biometrics), reported as RFC 8176's
/// `user` presence test plus the `mfa` it makes a passkey.
pub const USER: &str = "user";

pub const ACR_1FA: &str = "urn:portcullis:acr:1fa";
pub const ACR_MFA: &str = "urn:portcullis:acr:mfa";
pub const ACR_PHR: &str = "phr";

/// For discovery's `acr_values_supported`, lowest first.
pub const ACR_VALUES_SUPPORTED: [&str; 3] = [ACR_1FA, ACR_MFA, ACR_PHR];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    OneFactor,
    MultiFactor,
    PhishingResistant,
}

impl Level {
    /// The level a session's methods reach.
    pub fn of_amr(amr: &[String]) -> Self {
        let has = |v: &str| amr.iter().any(|m| m == v);
        if has(HWK) || has(SWK) {
            Self::PhishingResistant
        } else if has(MFA) {
            Self::MultiFactor
        } else {
            Self::OneFactor
        }
    }

    pub fn acr(self) -> &'static str {
        match self {
            Self::OneFactor => ACR_1FA,
            Self::MultiFactor => ACR_MFA,
            Self::PhishingResistant => ACR_PHR,
        }
    }

    pub fn from_acr(value: &str) -> Option<Self> {
        match value {
            ACR_1FA => Some(Self::OneFactor),
            ACR_MFA => Some(Self::MultiFactor),
            ACR_PHR => Some(Self::PhishingResistant),
            _ => None,
        }
    }
}

/// The `acr_values` a request sent, keeping the values we know, in its order of
/// preference (OpenID Connect Core 3.1.2.1); None when none is known. Unknown values are
/// ignored: `acr_values` is a voluntary request.
pub fn known_acr_values(raw: &str) -> Option<String> {
    let known: Vec<&str> = raw
        .split(' ')
        .filter(|v| Level::from_acr(v).is_some())
        .collect();
    (!known.is_empty()).then(|| known.join(" "))
}

/// The weakest level the request would accept (any one of its values satisfies it).
pub fn requested_minimum(acr_values: Option<&str>) -> Option<Level> {
    acr_values?.split(' ').filter_map(Level::from_acr).min()
}

/// The `acr` an ID token states for a session at `level`: the first requested value it
/// satisfies, in the client's order of preference, or else the session's own level.
pub fn acr_claim(level: Level, acr_values: Option<&str>) -> &'static str {
    acr_values
        .into_iter()
        .flat_map(|v| v.split(' '))
        .filter_map(Level::from_acr)
        .find(|wanted| *wanted <= level)
        .unwrap_or(level)
        .acr()
}

/// The `amr` of a session that adds a second factor (`added`: `otp`, `hwk` or `swk`) to
/// the methods it had.
pub fn with_second_factor(amr: &[String], added: &str) -> Vec<String> {
    let mut out: Vec<String> = amr.to_vec();
    for v in [added, MFA] {
        if !out.iter().any(|m| m == v) {
            out.push(v.to_owned());
        }
    }
    out
}

/// The `amr` of a passkey-only sign-in with user verification.
pub fn passkey_alone(kind: &str) -> Vec<String> {
    vec![kind.to_owned(), USER.to_owned(), MFA.to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amr(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn levels_follow_the_methods() {
        assert_eq!(Level::of_amr(&amr(&["pwd"])), Level::OneFactor);
        assert_eq!(
            Level::of_amr(&amr(&["pwd", "otp", "mfa"])),
            Level::MultiFactor
        );
        assert_eq!(
            Level::of_amr(&amr(&["pwd", "hwk", "mfa"])),
            Level::PhishingResistant
        );
        assert_eq!(Level::of_amr(&passkey_alone(SWK)), Level::PhishingResistant);
        assert_eq!(Level::of_amr(&[]), Level::OneFactor);
    }

    #[test]
    fn acr_values_keep_known_values_in_order() {
        assert_eq!(known_acr_values("bogus"), None);
        assert_eq!(
            known_acr_values("phr bogus urn:portcullis:acr:mfa").as_deref(),
            Some("phr urn:portcullis:acr:mfa")
        );
        assert_eq!(
            requested_minimum(Some("phr urn:portcullis:acr:mfa")),
            Some(Level::MultiFactor)
        );
        assert_eq!(requested_minimum(None), None);
    }

    #[test]
    fn the_claim_is_the_first_preference_the_session_meets() {
        assert_eq!(acr_claim(Level::PhishingResistant, None), ACR_PHR);
        assert_eq!(acr_claim(Level::OneFactor, None), ACR_1FA);
        assert_eq!(
            acr_claim(Level::PhishingResistant, Some("urn:portcullis:acr:mfa phr")),
            ACR_MFA
        );
        assert_eq!(
            acr_claim(Level::MultiFactor, Some("phr urn:portcullis:acr:mfa")),
            ACR_MFA
        );
        // Nothing requested is met: the session's own level, truthfully.
        assert_eq!(acr_claim(Level::OneFactor, Some("phr")), ACR_1FA);
    }

    #[test]
    fn a_second_factor_adds_itself_and_mfa_once() {
        let up = with_second_factor(&amr(&["pwd"]), OTP);
        assert_eq!(up, amr(&["pwd", "otp", "mfa"]));
        assert_eq!(with_second_factor(&up, OTP), up);
    }
}
