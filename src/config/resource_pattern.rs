//! `registration.allowed_resources`: the RFC 8707 resources a dynamically registered
//! client may name, written as patterns. Parsed once when the configuration loads;
//! [`ResourcePattern::matches`] is pure, so the registration policy and the token endpoint
//! ask the same question of the same values.
//!
//! The pattern language has two forms, nothing more:
//!
//! - **An exact resource URI**, `https://mcp.example.com/mcp`: matches that string only,
//!   byte for byte, as a registered resource always is (`oauth::client::resources`).
//! - **A prefix ending in `/*`**, `https://mcp.example.com/tools/*`: matches the prefix up
//!   to and including its last `/` (`https://mcp.example.com/tools/`), followed by zero or
//!   more path segments of unreserved characters (`A-Z a-z 0-9 - . _ ~`) separated by
//!   single `/`, none of them `.` or `..`, optionally ending with `/`. So it matches
//!   `https://mcp.example.com/tools/`, `.../tools/search` and `.../tools/a/b/`, but not
//!   `.../tools` (no slash), `.../tools/../admin`, `.../tools/a%2Fb`, `.../tools/a?x=1`
//!   or `.../tools/a//b`: nothing that a resource server, a proxy or a URL parser could
//!   read as a path outside the prefix.
//!
//! The `*` is only ever the last character, right after a `/`: there are no wildcards in
//! hosts, ports or the middle of a path, so a pattern always names one origin. Every
//! pattern is an absolute `https` URI (plain `http` only on a loopback host, for
//! development), without user information, query or fragment, with its scheme and host
//! written as they read once parsed (lower case, no default port), so that what the
//! operator wrote is what is compared.

use std::fmt;

use crate::url_rules::is_loopback_host;

/// The longest resource URI the server takes anywhere (`oauth::client::resources`).
const MAX_LEN: usize = 2048;

/// One entry of `registration.allowed_resources`, validated.
#[derive(Clone, PartialEq, Eq)]
pub struct ResourcePattern {
    kind: Kind,
    /// As the operator wrote it, for messages and `config check`.
    written: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Exact,
    /// The prefix, ending with `/`.
    Prefix(String),
}

impl ResourcePattern {
    /// Reads one pattern; the error says what is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > MAX_LEN {
            return Err(format!("is longer than {MAX_LEN} characters"));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("contains whitespace or control characters".into());
        }
        if raw.contains('#') || raw.contains('?') {
            return Err("must have no query or fragment (RFC 8707 section 2)".into());
        }
        let (kind, as_url) = match raw.strip_suffix('*') {
            Some(prefix) => {
                if !prefix.ends_with('/') {
                    return Err(
                        "`*` may only end the pattern, right after a `/` (like `https://mcp.example.com/*`)"
                            .into(),
                    );
                }
                (Kind::Prefix(prefix.to_owned()), prefix)
            }
            None => (Kind::Exact, raw),
        };
        if as_url.contains('*') {
            return Err(
                "`*` may only end the pattern, right after a `/` (no wildcard hosts)".into(),
            );
        }
        let url = url::Url::parse(as_url).map_err(|_| "is not an absolute URI".to_owned())?;
        let host = url.host().ok_or("has no host")?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback_host(&host) => {}
            "http" => return Err("must use https (plain http only on a loopback host)".into()),
            other => return Err(format!("uses the scheme `{other}`; use https")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry user information".into());
        }
        let authority = match url.port() {
            Some(port) => format!("{}://{}:{port}", url.scheme(), host),
            None => format!("{}://{}", url.scheme(), host),
        };
        let rest = as_url
            .strip_prefix(&authority)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'));
        let Some(path) = rest else {
            return Err(format!(
                "write the scheme and host as they read once parsed (`{authority}`): lower case, no default port"
            ));
        };
        // The prefix itself must not reach outside its own path either.
        if let Kind::Prefix(_) = kind
            && !path.is_empty()
            && !plain_segments(path.trim_start_matches('/'))
        {
            return Err(
                "the path before `*` must be plain segments of A-Z a-z 0-9 - . _ ~ (no `.` or `..`)"
                    .into(),
            );
        }
        Ok(Self {
            kind,
            written: raw.to_owned(),
        })
    }

    /// Does the resource URI `uri` fall under this pattern?
    pub fn matches(&self, uri: &str) -> bool {
        match &self.kind {
            Kind::Exact => uri.as_bytes() == self.written.as_bytes(),
            Kind::Prefix(prefix) => uri
                .strip_prefix(prefix.as_str())
                .is_some_and(plain_segments),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }
}

/// Zero or more segments of unreserved characters, each non-empty and neither `.` nor
/// `..`, separated by single `/`, optionally ending with `/`.
fn plain_segments(rest: &str) -> bool {
    if rest.is_empty() {
        return true;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.split('/').all(|segment| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    })
}

impl fmt::Debug for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.written, f)
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// Whether any of `patterns` matches `uri`.
pub fn any_matches(patterns: &[ResourcePattern], uri: &str) -> bool {
    patterns.iter().any(|p| p.matches(uri))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(raw: &str) -> ResourcePattern {
        ResourcePattern::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    #[test]
    fn exact_patterns_match_themselves_only() {
        let mcp = p("https://mcp.example.com/mcp");
        assert!(mcp.matches("https://mcp.example.com/mcp"));
        for near in [
            "https://mcp.example.com/mcp/",
            "https://mcp.example.com/MCP",
            "https://MCP.example.com/mcp",
            "https://mcp.example.com:443/mcp",
            "https://mcp.example.com/mcp/x",
            "https://mcp.example.com/mc",
            "http://mcp.example.com/mcp",
        ] {
            assert!(!mcp.matches(near), "{near}");
        }
        // MCP prefers the form without a trailing slash: both forms can be written.
        let bare = p("https://mcp.example.com");
        assert!(bare.matches("https://mcp.example.com"));
        assert!(!bare.matches("https://mcp.example.com/"));
        assert!(p("https://mcp.example.com:8443/").matches("https://mcp.example.com:8443/"));
    }

    #[test]
    fn prefix_patterns_match_plain_segments_below_them() {
        let tools = p("https://mcp.example.com/tools/*");
        for inside in [
            "https://mcp.example.com/tools/",
            "https://mcp.example.com/tools/search",
            "https://mcp.example.com/tools/a/b",
            "https://mcp.example.com/tools/a/b/",
            "https://mcp.example.com/tools/v1.2_x~y-z",
            "https://mcp.example.com/tools/...",
        ] {
            assert!(tools.matches(inside), "{inside}");
        }
        for outside in [
            "https://mcp.example.com/tools",
            "https://mcp.example.com/toolsx/a",
            "https://mcp.example.com/tools/../admin",
            "https://mcp.example.com/tools/./a",
            "https://mcp.example.com/tools/a/..",
            "https://mcp.example.com/tools/a//b",
            "https://mcp.example.com/tools//",
            "https://mcp.example.com/tools/a%2Fb",
            "https://mcp.example.com/tools/a?x=1",
            "https://mcp.example.com/tools/a#f",
            "https://mcp.example.com/tools/a\\b",
            "https://mcp.example.com/tools/a@b",
            "https://mcp.example.com/tools/a b",
            "https://mcp.example.com/admin",
            "https://mcp.example.com.evil.example/tools/a",
            "http://mcp.example.com/tools/a",
        ] {
            assert!(!tools.matches(outside), "{outside}");
        }
        let root = p("https://mcp.example.com/*");
        assert!(root.matches("https://mcp.example.com/"));
        assert!(root.matches("https://mcp.example.com/mcp"));
        assert!(!root.matches("https://mcp.example.com"));
        assert!(!root.matches("https://mcp.example.com@evil.example/"));
        assert!(!root.matches("https://mcp.example.com:444/"));
    }

    #[test]
    fn refused_patterns_say_why() {
        for (raw, why) in [
            ("", "absolute"),
            ("mcp.example.com/*", "absolute"),
            ("https://*.example.com/", "no wildcard hosts"),
            ("https://mcp.example.com/a*", "right after a `/`"),
            ("https://mcp.example.com/*/x", "no wildcard hosts"),
            ("https://mcp.example.com/**", "right after a `/`"),
            ("http://mcp.example.com/", "https"),
            ("ftp://mcp.example.com/", "scheme `ftp`"),
            ("urn:example:mcp", "host"),
            ("https://mcp.example.com/#x", "fragment"),
            ("https://mcp.example.com/?x=1", "query"),
            ("https://user@mcp.example.com/", "user information"),
            ("https://MCP.example.com/", "lower case"),
            ("HTTPS://mcp.example.com/", "lower case"),
            ("https://mcp.example.com:443/", "default port"),
            ("https://mcp.example.com/a/../b/*", "plain segments"),
            ("https://mcp.example.com/a%20b/*", "plain segments"),
            ("https://mcp.example.com/ x", "whitespace"),
        ] {
            let err = ResourcePattern::parse(raw).expect_err(raw);
            assert!(err.contains(why), "{raw}: {err}");
        }
        assert!(
            ResourcePattern::parse(&format!("https://a.example/{}", "x".repeat(2048))).is_err()
        );
    }

    #[test]
    fn loopback_http_is_allowed_for_development() {
        let local = p("http://127.0.0.1:8000/*");
        assert!(local.matches("http://127.0.0.1:8000/mcp"));
        assert!(!local.matches("http://127.0.0.1:8001/mcp"));
        assert!(p("http://localhost:3000/mcp").matches("http://localhost:3000/mcp"));
        assert!(p("http://[::1]:3000/*").matches("http://[::1]:3000/mcp"));
    }

    #[test]
    fn any_of_a_list() {
        let list = [p("https://a.example/x"), p("https://b.example/*")];
        assert!(any_matches(&list, "https://a.example/x"));
        assert!(any_matches(&list, "https://b.example/y"));
        assert!(!any_matches(&list, "https://a.example/y"));
        assert!(!any_matches(&[], "https://a.example/x"));
        assert_eq!(format!("{:?}", list[1]), "\"https://b.example/*\"");
        assert_eq!(list[1].to_string(), "https://b.example/*");
    }

    /// Properties over generated input: a match never leaves the pattern's origin or its
    /// path, and never carries what a parser would rewrite.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn segment() -> impl Strategy<Value = String> {
            "[A-Za-z0-9._~-]{1,6}".prop_filter("not a dot segment", |s| s != "." && s != "..")
        }

        fn prefix() -> impl Strategy<Value = String> {
            (
                prop_oneof![
                    Just("https://mcp.example.com".to_owned()),
                    Just("https://a.example:8443".to_owned()),
                    Just("http://127.0.0.1:9000".to_owned()),
                ],
                proptest::collection::vec(segment(), 0..3),
            )
                .prop_map(|(origin, segments)| {
                    let mut s = origin;
                    for seg in segments {
                        s.push('/');
                        s.push_str(&seg);
                    }
                    s.push('/');
                    s
                })
        }

        proptest! {
            #[test]
            fn prefix_matches_stay_under_the_prefix(prefix in prefix(), tail in "[ -~]{0,16}") {
                let pattern = ResourcePattern::parse(&format!("{prefix}*")).unwrap();
                let uri = format!("{prefix}{tail}");
                if pattern.matches(&uri) {
                    let base = url::Url::parse(&prefix).unwrap();
                    let parsed = url::Url::parse(&uri).unwrap();
                    prop_assert_eq!(parsed.scheme(), base.scheme());
                    prop_assert_eq!(parsed.host_str(), base.host_str());
                    prop_assert_eq!(parsed.port(), base.port());
                    prop_assert!(parsed.path().starts_with(base.path()), "{}", uri);
                    prop_assert_eq!(parsed.query(), None);
                    prop_assert_eq!(parsed.fragment(), None);
                    // What a parser reads is what was written: nothing to normalise.
                    prop_assert_eq!(parsed.as_str(), uri.as_str());
                }
            }

            #[test]
            fn plain_segments_below_a_prefix_always_match(
                prefix in prefix(),
                segments in proptest::collection::vec(segment(), 0..4),
                slash in any::<bool>(),
            ) {
                let pattern = ResourcePattern::parse(&format!("{prefix}*")).unwrap();
                let mut uri = format!("{prefix}{}", segments.join("/"));
                if slash && !segments.is_empty() {
                    uri.push('/');
                }
                prop_assert!(pattern.matches(&uri), "{}", uri);
                for hostile in ["..", ".", "%2e%2e", "a?x", "a#x", "a//b", "a\\b", "a@b", "a b"] {
                    let bad = format!("{prefix}{hostile}");
                    prop_assert!(!pattern.matches(&bad), "{}", bad);
                }
            }

            #[test]
            fn exact_patterns_match_only_their_own_string(prefix in prefix(), other in "[ -~]{0,40}") {
                let written = prefix.trim_end_matches('/');
                let pattern = ResourcePattern::parse(written).unwrap();
                prop_assert!(pattern.matches(written));
                prop_assert_eq!(pattern.matches(&other), other == written);
            }

            #[test]
            fn parsing_never_panics(raw in "\\PC{0,80}") {
                let _ = ResourcePattern::parse(&raw);
            }
        }
    }
}
