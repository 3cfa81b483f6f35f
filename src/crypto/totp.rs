//! Time-based one-time passwords as authenticator apps expect them (RFC 6238 over RFC 4226
//! HOTP): HMAC-SHA-1, 6 digits, 30-second steps, the secret shown in base32 (RFC 4648).
//!
//! A building block for second factors (issue 20): pure over the secret, the code and the
//! time, which the caller passes in. Storage (the sealed secret, the last step used) and
//! throttling are the caller's. SHA-1 is what every authenticator app implements for TOTP;
//! HMAC-SHA-1 has no known weakness that matters here (RFC 6238 section 1.2, RFC 4226
//! appendix A).

use std::fmt;

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Seconds per step (RFC 6238 section 4.1, `X`).
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Steps accepted on either side of now: one, for a clock a little off or a code typed as
/// the step turned (RFC 6238 section 5.2 recommends at most one).
pub const SKEW_STEPS: i64 = 1;
/// 160 bits, the HMAC-SHA-1 output length RFC 4226 section 4 recommends.
pub const SECRET_LEN: usize = 20;

/// A TOTP shared secret. No `Debug` output of the bytes; zeroised on drop.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    pub fn generate() -> Result<Self, TotpError> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_LEN]);
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| TotpError::Random)?;
        Ok(Self(bytes))
    }

    /// The raw bytes, e.g. as unsealed from storage. At least 16 bytes (RFC 4226 section 4).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TotpError> {
        if bytes.len() < 16 {
            return Err(TotpError::SecretTooShort);
        }
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// A secret typed or pasted in base32 (case and spaces ignored, padding optional).
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        Self::from_bytes(base32_decode(text).ok_or(TotpError::NotBase32)?)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Unpadded base32, the form authenticator apps take by hand and in `otpauth://` URIs.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32_encode(&self.0))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<hidden>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("the system random number generator failed")]
    Random,
    #[error("a TOTP secret must be at least 16 bytes")]
    SecretTooShort,
    #[error("the secret is not base32")]
    NotBase32,
    #[error("a code is {DIGITS} digits")]
    Malformed,
    #[error("the code is wrong or expired")]
    Wrong,
    #[error("the code was already used")]
    Replayed,
}

/// The step a unix time falls in (RFC 6238 section 4.2, `T0` = 0). Floors for times before
/// 1970, which no caller should pass but which must not panic.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// HOTP (RFC 4226 section 5.3) for one counter value, as a number below 10^DIGITS.
pub fn hotp(secret: &TotpSecret, counter: u64) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.expose());
    let mac = hmac::sign(&key, &counter.to_be_bytes());
    let mac = mac.as_ref();
    // Dynamic truncation: the low nibble of the last byte picks four bytes, top bit cleared.
    // A SHA-1 tag is 20 bytes and the offset at most 15, so the four bytes always exist.
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word: [u8; 4] = mac
        .get(offset..offset + 4)
        .and_then(|bytes| bytes.try_into().ok())
        .unwrap_or_default();
    let binary = u32::from_be_bytes(word) & 0x7fff_ffff;
    binary % 10u32.pow(DIGITS as u32)
}

/// The code for a step, zero-padded to `DIGITS`.
pub fn code_at_step(secret: &TotpSecret, step: i64) -> String {
    // Steps before 1970 do not exist for a caller; saturate rather than wrap.
    let counter = u64::try_from(step).unwrap_or(0);
    format!("{:0width$}", hotp(secret, counter), width = DIGITS)
}

/// Checks `code` at `now` (unix seconds) and returns the step it matched, which the caller
/// stores so that the same code, or an older one, is never accepted again for this user
/// (RFC 6238 section 5.2): `last_used_step` is the step stored after the last success.
///
/// Spaces are ignored (apps show `123 456`); anything else but 6 ASCII digits is
/// `Malformed`. Every candidate step is compared, in constant time, so the time taken does
/// not say which step matched.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    now: i64,
    last_used_step: Option<i64>,
) -> Result<i64, TotpError> {
    let digits: Zeroizing<String> = Zeroizing::new(code.chars().filter(|c| *c != ' ').collect());
    if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::Malformed);
    }
    let current = step_at(now);
    let mut matched = None;
    for step in current - SKEW_STEPS..=current + SKEW_STEPS {
        let expected = Zeroizing::new(code_at_step(secret, step));
        if bool::from(expected.as_bytes().ct_eq(digits.as_bytes())) && matched.is_none() {
            matched = Some(step);
        }
    }
    let step = matched.ok_or(TotpError::Wrong)?;
    if last_used_step.is_some_and(|last| step <= last) {
        return Err(TotpError::Replayed);
    }
    Ok(step)
}

/// The `otpauth://totp/` URI authenticator apps read from a QR code (the Key URI Format of
/// Google Authenticator, which every app follows): label `issuer:account`, with the
/// parameters spelled out even where they are the defaults, since some apps ignore defaults.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret) -> Zeroizing<String> {
    let label = format!("{}:{}", encode_component(issuer), encode_component(account));
    Zeroizing::new(format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        secret.to_base32().as_str(),
        encode_component(issuer),
    ))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (a `:` in the issuer
/// would otherwise split the label in the wrong place).
fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 section 6 base32, without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(base32_char(buffer >> bits));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(base32_char(buffer << (5 - bits)));
    }
    out
}

/// The base32 character of the low five bits of `value`.
fn base32_char(value: u32) -> char {
    // Five bits index the 32-letter alphabet: always in range.
    let index = (value & 31) as usize;
    char::from(BASE32_ALPHABET.get(index).copied().unwrap_or(b'A'))
}

/// Base32 as people type it: case-insensitive, spaces and trailing `=` ignored. None for
/// any other character, or for trailing bits that are not zero (a mistyped last letter).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes().filter(|b| *b != b' ') {
        let value = BASE32_ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // Leftover bits are padding of the last quantum; RFC 4648 section 3.5 makes them zero,
    // and five or more left over means a character too many.
    (bits < 5 && buffer == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The secret of RFC 4226 appendix D and RFC 6238 appendix B (SHA-1).
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
    }

    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(
                hotp(&rfc_secret(), counter as u64),
                code,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn totp_matches_rfc_6238_appendix_b_sha1() {
        // The RFC's 8-digit values, of which a 6-digit code is the last six digits.
        let table = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, eight) in table {
            let code = code_at_step(&rfc_secret(), step_at(time));
            assert_eq!(code, eight[2..], "time {time}");
            assert_eq!(verify(&rfc_secret(), &code, time, None), Ok(step_at(time)));
        }
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let secret = rfc_secret();
        let now = 1_234_567_890;
        let step = step_at(now);
        for offset in [-1, 0, 1] {
            let code = code_at_step(&secret, step + offset);
            assert_eq!(verify(&secret, &code, now, None), Ok(step + offset));
        }
        for offset in [-2, 2] {
            let code = code_at_step(&secret, step + offset);
            assert_eq!(verify(&secret, &code, now, None), Err(TotpError::Wrong));
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_older_ones_never_after() {
        let secret = rfc_secret();
        let now = 1_234_567_890;
        let code = code_at_step(&secret, step_at(now));
        let used = verify(&secret, &code, now, None).unwrap();
        assert_eq!(
            verify(&secret, &code, now, Some(used)),
            Err(TotpError::Replayed)
        );
        // The previous step's code is still inside the skew window, but older than the
        // one used: refused too.
        let older = code_at_step(&secret, used - 1);
        assert_eq!(
            verify(&secret, &older, now, Some(used)),
            Err(TotpError::Replayed)
        );
        // The next step's code is new.
        let later = code_at_step(&secret, used + 1);
        assert_eq!(
            verify(&secret, &later, now + STEP_SECS, Some(used)),
            Ok(used + 1)
        );
    }

    #[test]
    fn only_six_digits_are_a_code() {
        let secret = rfc_secret();
        let now = 59;
        assert_eq!(verify(&secret, "287 082", now, None), Ok(1));
        for bad in [
            "",
            "28708",
            "2870822",
            "28708a",
            "２８７０８２",
            "287-082",
            "+87082",
        ] {
            assert_eq!(
                verify(&secret, bad, now, None),
                Err(TotpError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn base32_follows_rfc_4648() {
        // RFC 4648 section 10, without padding.
        let vectors = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base32_decode("mzxw 6ytb oi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZXW1"), None, "1 is not base32");
        assert_eq!(base32_decode("MZ"), None, "non-zero trailing bits");
        assert_eq!(base32_decode("MZXR"), None, "non-zero trailing bits");
    }

    #[test]
    fn secrets_round_trip_and_never_print() {
        let secret = TotpSecret::generate().unwrap();
        assert_eq!(secret.expose().len(), SECRET_LEN);
        let again = TotpSecret::from_base32(&secret.to_base32()).unwrap();
        assert_eq!(again.expose(), secret.expose());
        assert_eq!(format!("{secret:?}"), "TotpSecret(<hidden>)");
        assert_eq!(
            TotpSecret::from_bytes(vec![0; 15]).unwrap_err(),
            TotpError::SecretTooShort
        );
    }

    #[test]
    fn otpauth_uri_names_issuer_account_and_parameters() {
        let uri = otpauth_uri("Portcullis: Test", "alice@example.com", &rfc_secret());
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Portcullis%3A%20Test:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Portcullis%3A%20Test&algorithm=SHA1&digits=6&period=30"
        );
    }
}
