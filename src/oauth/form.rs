//! Strict `application/x-www-form-urlencoded` parsing for protocol requests.
//!
//! `url::form_urlencoded::parse` is lenient by design (WHATWG): a malformed `%` escape
//! passes through literally and invalid UTF-8 becomes U+FFFD, so two components could read
//! different values from one request. Here both are `invalid_request`, as docs/security.md asks
//! for malformed input. The splitting rules are the same as the WHATWG parser's: pairs on
//! `&`, name and value on the first `=`, `+` is a space, empty segments are skipped.

use std::collections::BTreeMap;
use std::fmt;

use zeroize::{Zeroize, Zeroizing};

use super::error::OAuthError;

/// Bounds on what one request may carry. The body size itself is bounded by the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormLimits {
    /// Segments counted before duplicates or empty values are dropped.
    pub max_params: usize,
    pub max_name_len: usize,
    /// Decoded bytes; room for a JWT-sized value, far more than any token request needs.
    pub max_value_len: usize,
    /// Parameters whose value is only ever compared with what we issued, never parsed or
    /// reflected: any length (the body limit bounds them) and any bytes. Introspection's
    /// `token` is one: RFC 7662 section 2.2 wants `{"active":false}` for whatever is not a
    /// live token of ours, not a 400 for a value we would not have minted.
    pub opaque: &'static [&'static str],
    /// Parameters that may appear more than once (RFC 8707 `resource`); every other name
    /// sent twice is still `invalid_request`.
    pub repeatable: &'static [&'static str],
}

impl Default for FormLimits {
    fn default() -> Self {
        Self {
            max_params: 32,
            max_name_len: 64,
            max_value_len: 4096,
            opaque: &[],
            repeatable: &[],
        }
    }
}

impl FormLimits {
    /// Requests that may name several resources (RFC 8707 section 2): the token and
    /// authorization requests.
    pub fn with_resources() -> Self {
        Self {
            repeatable: &["resource"],
            ..Self::default()
        }
    }

    /// The introspection request: `token` is opaque.
    pub fn introspection() -> Self {
        Self {
            opaque: &["token"],
            ..Self::default()
        }
    }

    /// The revocation request: `token` is opaque as well. RFC 7009 section 2.2 answers an
    /// invalid token with 200, so a value we could not have issued is nothing to revoke,
    /// not a 400.
    pub fn revocation() -> Self {
        Self::introspection()
    }
}

/// The parameters of one request, each at most once unless the limits make it repeatable.
/// Values may be secrets (passwords, client secrets, refresh tokens), so they are zeroised
/// on drop and `Debug` shows names only.
#[derive(Default)]
pub struct FormMap {
    params: BTreeMap<String, Vec<Zeroizing<String>>>,
}

impl FormMap {
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        Self::parse_with(body, &FormLimits::default())
    }

    pub fn parse_with(body: &[u8], limits: &FormLimits) -> Result<Self, OAuthError> {
        let mut params: BTreeMap<String, Vec<Zeroizing<String>>> = BTreeMap::new();
        let segments = body.split(|&b| b == b'&').filter(|s| !s.is_empty());
        for (index, segment) in segments.enumerate() {
            if index >= limits.max_params {
                return Err(OAuthError::invalid_request(format!(
                    "the request has more than {} parameters",
                    limits.max_params
                )));
            }
            let mut parts = segment.splitn(2, |&b| b == b'=');
            let Some(raw_name) = parts.next().filter(|name| !name.is_empty()) else {
                return Err(OAuthError::invalid_request("a parameter has no name"));
            };
            // `name` without `=` is the name with an empty value, as in WHATWG
            // urlencoded parsing: here the default is the answer.
            let raw_value = parts.next().unwrap_or_default();
            let name_too_long = || {
                OAuthError::invalid_request(format!(
                    "a parameter name is longer than {} bytes",
                    limits.max_name_len
                ))
            };
            // An escape is three bytes for one, so longer raw input can only decode too long;
            // refusing it first bounds the decoding work on junk.
            if raw_name.len() > limits.max_name_len.saturating_mul(3) {
                return Err(name_too_long());
            }
            let name = decode(raw_name).ok_or_else(|| {
                OAuthError::invalid_request("a parameter name is not valid percent-encoded UTF-8")
            })?;
            if name.len() > limits.max_name_len {
                return Err(name_too_long());
            }
            let opaque = limits.opaque.contains(&name.as_str());
            let value_too_long = || {
                OAuthError::invalid_request(format!(
                    "{} is longer than {} bytes",
                    describe(&name),
                    limits.max_value_len
                ))
            };
            if !opaque && raw_value.len() > limits.max_value_len.saturating_mul(3) {
                return Err(value_too_long());
            }
            let value = if opaque {
                // Never parsed, reflected or logged: bytes that are not valid UTF-8 only
                // need to stay unequal to every token we issue, which replacing them keeps.
                decode_lossy(raw_value)
            } else {
                decode(raw_value).ok_or_else(|| {
                    OAuthError::invalid_request(format!(
                        "{} is not valid percent-encoded UTF-8",
                        describe(&name)
                    ))
                })?
            };
            if !opaque && value.len() > limits.max_value_len {
                return Err(value_too_long());
            }
            // RFC 6749 section 3.1: a parameter without a value is as if omitted.
            if value.is_empty() {
                continue;
            }
            let repeatable = limits.repeatable.contains(&name.as_str());
            match params.get_mut(name.as_str()) {
                Some(values) if repeatable => values.push(value),
                Some(_) => {
                    return Err(OAuthError::invalid_request(format!(
                        "{} was sent more than once",
                        describe(&name)
                    )));
                }
                None => {
                    params.insert(String::clone(&name), vec![value]);
                }
            }
        }
        Ok(Self { params })
    }

    /// The value of a parameter; for a repeatable one, the first.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .and_then(|values| values.first())
            .map(|v| v.as_str())
    }

    /// Every value of a parameter, in request order (one at most unless repeatable). The
    /// copies are plain strings: for parameters that are not secrets, such as `resource`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.params
            .get(name)
            .map(|values| values.iter().map(|v| String::clone(v)).collect())
            .unwrap_or_default()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }

    /// The value of a required parameter, or `invalid_request` naming it.
    pub fn require(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter `{name}`")))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

impl fmt::Debug for FormMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

/// `parameter `name`` when the name is a plain identifier, `a parameter` otherwise: names
/// come from the request, and an error must not reflect arbitrary input.
fn describe(name: &str) -> String {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if plain {
        format!("parameter `{name}`")
    } else {
        "a parameter".to_owned()
    }
}

/// Decodes one form-encoded name or value: `+` is a space, `%XX` a byte, and the result must
/// be UTF-8. `None` for a truncated or non-hex escape or invalid UTF-8. Also used for the
/// Basic credentials of RFC 6749 section 2.3.1.
pub(crate) fn decode(raw: &[u8]) -> Option<Zeroizing<String>> {
    let mut out = Zeroizing::new(Vec::with_capacity(raw.len()));
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(|&h| hex_value(h))?;
                let lo = bytes.next().and_then(|&l| hex_value(l))?;
                out.push((hi << 4) | lo);
            }
            other => out.push(other),
        }
    }
    match String::from_utf8(std::mem::take(&mut *out)) {
        Ok(text) => Some(Zeroizing::new(text)),
        Err(err) => {
            err.into_bytes().zeroize();
            None
        }
    }
}

/// Decodes an opaque value: as [`decode`], except that a malformed escape stays as it was
/// written and invalid UTF-8 becomes U+FFFD. Only for values compared, never interpreted.
fn decode_lossy(raw: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(Vec::with_capacity(raw.len()));
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let escaped = (b == b'%')
            .then(|| Some((hex_value(*raw.get(i + 1)?)?, hex_value(*raw.get(i + 2)?)?)))
            .flatten();
        match (b, escaped) {
            (b'%', Some((hi, lo))) => {
                out.push((hi << 4) | lo);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (other, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    Zeroizing::new(String::from_utf8_lossy(&out).into_owned())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        FormMap::parse(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn parses_pairs_and_decodes() {
        let form = FormMap::parse(b"grant_type=password&username=a%40b.c&password=p+w%2B%26%3D%25")
            .unwrap();
        assert_eq!(form.get("grant_type"), Some("password"));
        assert_eq!(form.get("username"), Some("a@b.c"));
        assert_eq!(form.get("password"), Some("p w+&=%"));
        assert_eq!(form.len(), 3);
        assert!(form.contains("username"));
        assert!(!form.contains("scope"));
        assert_eq!(form.get("scope"), None);
    }

    #[test]
    fn round_trips_what_url_form_urlencoded_writes() {
        let tricky = "s\u{e9}cr\u{e8}t &=+%/?#\u{1f512}";
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_secret", tricky)
            .append_pair("a b", "c")
            .finish();
        let form = FormMap::parse(body.as_bytes()).unwrap();
        assert_eq!(form.get("client_secret"), Some(tricky));
        assert_eq!(form.get("a b"), Some("c"));
    }

    #[test]
    fn empty_values_are_omitted() {
        let form = FormMap::parse(b"scope=&state&code=x&&").unwrap();
        assert_eq!(form.names().collect::<Vec<_>>(), vec!["code"]);
        // ...so an empty copy does not make a duplicate.
        let form = FormMap::parse(b"scope=&scope=a").unwrap();
        assert_eq!(form.get("scope"), Some("a"));
        assert!(FormMap::parse(b"").unwrap().is_empty());
    }

    #[test]
    fn value_may_contain_equals() {
        let form = FormMap::parse(b"code_verifier=a=b==").unwrap();
        assert_eq!(form.get("code_verifier"), Some("a=b=="));
    }

    #[test]
    fn duplicates_are_refused_by_name() {
        assert_eq!(
            err("grant_type=password&grant_type=client_credentials"),
            "invalid_request: parameter `grant_type` was sent more than once"
        );
        // Same decoded name, different encodings.
        assert_eq!(
            err("scope=a&sc%6Fpe=b"),
            "invalid_request: parameter `scope` was sent more than once"
        );
        assert_eq!(
            err("x%22y=1&x%22y=2"),
            "invalid_request: a parameter was sent more than once"
        );
    }

    #[test]
    fn malformed_encoding_is_refused() {
        assert_eq!(
            err("password=%zz"),
            "invalid_request: parameter `password` is not valid percent-encoded UTF-8"
        );
        assert_eq!(
            err("password=abc%4"),
            "invalid_request: parameter `password` is not valid percent-encoded UTF-8"
        );
        assert_eq!(
            err("password=%"),
            "invalid_request: parameter `password` is not valid percent-encoded UTF-8"
        );
        assert_eq!(
            err("username=%C3%28"),
            "invalid_request: parameter `username` is not valid percent-encoded UTF-8"
        );
        assert_eq!(
            err("na%ffme=x"),
            "invalid_request: a parameter name is not valid percent-encoded UTF-8"
        );
        let raw_invalid_utf8: &[u8] = b"username=\xff";
        assert_eq!(
            FormMap::parse(raw_invalid_utf8).unwrap_err().to_string(),
            "invalid_request: parameter `username` is not valid percent-encoded UTF-8"
        );
        assert_eq!(err("=x"), "invalid_request: a parameter has no name");
    }

    #[test]
    fn limits() {
        let limits = FormLimits {
            max_params: 3,
            max_name_len: 8,
            max_value_len: 5,
            ..FormLimits::default()
        };
        let parse = |body: &str| {
            FormMap::parse_with(body.as_bytes(), &limits)
                .map(|f| f.len())
                .map_err(|e| e.to_string())
        };
        assert_eq!(parse("a=1&b=2&c=3"), Ok(3));
        assert_eq!(
            parse("a=1&b=2&c=3&d=4"),
            Err("invalid_request: the request has more than 3 parameters".into())
        );
        // Valueless segments still count, so they cannot be used to make the parser spin.
        assert_eq!(
            parse("a&b&c&d"),
            Err("invalid_request: the request has more than 3 parameters".into())
        );
        assert_eq!(parse("abcdefgh=1"), Ok(1));
        assert_eq!(
            parse("abcdefghi=1"),
            Err("invalid_request: a parameter name is longer than 8 bytes".into())
        );
        assert_eq!(parse("a=12345"), Ok(1));
        assert_eq!(parse("a=%31%32%33%34%35"), Ok(1));
        assert_eq!(
            parse("a=123456"),
            Err("invalid_request: parameter `a` is longer than 5 bytes".into())
        );
        // Too long before decoding, even when the escapes are malformed.
        assert_eq!(
            parse("a=%zz%zz%zz%zz%zz%zz"),
            Err("invalid_request: parameter `a` is longer than 5 bytes".into())
        );
        assert_eq!(
            parse(&format!("{}=1", "%zz".repeat(9))),
            Err("invalid_request: a parameter name is longer than 8 bytes".into())
        );
        assert_eq!(FormLimits::default().max_params, 32);
    }

    #[test]
    fn opaque_values_are_taken_whole_and_never_refused() {
        let limits = FormLimits {
            max_value_len: 5,
            ..FormLimits::introspection()
        };
        let parse = |body: &[u8]| {
            FormMap::parse_with(body, &limits).map(|f| f.get("token").map(str::to_owned))
        };
        let long = format!("token={}", "a".repeat(10_000));
        assert_eq!(
            parse(long.as_bytes()).unwrap().map(|t| t.len()),
            Some(10_000)
        );
        assert_eq!(parse(b"token=%zz%4").unwrap().as_deref(), Some("%zz%4"));
        assert_eq!(
            parse(b"token=%ff%C3%28").unwrap().as_deref(),
            Some("\u{fffd}\u{fffd}(")
        );
        assert_eq!(parse(b"token=\xff").unwrap().as_deref(), Some("\u{fffd}"));
        assert_eq!(parse(b"token=a+b%2B").unwrap().as_deref(), Some("a b+"));
        // Still one value, and other parameters keep their limits.
        assert!(parse(b"token=a&token=b").is_err());
        assert!(parse(b"token=a&other=123456").is_err());
        assert_eq!(parse(b"token=").unwrap(), None);
    }

    #[test]
    fn repeatable_parameters_keep_every_value() {
        let form = FormMap::parse_with(
            b"resource=a&scope=x&resource=b",
            &FormLimits::with_resources(),
        )
        .unwrap();
        assert_eq!(form.all("resource"), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(form.get("resource"), Some("a"));
        assert_eq!(form.all("scope"), vec!["x".to_owned()]);
        assert!(form.all("nothing").is_empty());
        assert_eq!(
            FormMap::parse(b"resource=a&resource=b")
                .unwrap_err()
                .to_string(),
            "invalid_request: parameter `resource` was sent more than once"
        );
    }

    #[test]
    fn missing_required_parameter() {
        let form = FormMap::parse(b"a=1").unwrap();
        assert_eq!(form.require("a").unwrap(), "1");
        assert_eq!(
            form.require("code").unwrap_err().to_string(),
            "invalid_request: missing parameter `code`"
        );
    }

    #[test]
    fn debug_shows_names_only() {
        let form = FormMap::parse(b"password=hunter2&username=alice").unwrap();
        let shown = format!("{form:?}");
        assert_eq!(shown, r#"{"password", "username"}"#);
    }

    #[test]
    fn decode_component() {
        assert_eq!(
            decode(b"a+b%20c").as_deref().map(String::as_str),
            Some("a b c")
        );
        assert_eq!(
            decode(b"%e2%82%AC").as_deref().map(String::as_str),
            Some("\u{20ac}")
        );
        assert!(decode(b"%g0").is_none());
        assert!(decode(b"%0").is_none());
        assert!(decode(b"%80").is_none());
    }
}
