//! RFC 8707 resource indicators: which resources a client may name, and what a request
//! that names some is granted.
//!
//! A token minted for a resource server is a bearer credential that server can replay
//! anywhere it is accepted, so the audience is never the client's free choice: a client
//! names only resources its [`AllowList`] allows, and anything else is `invalid_target`
//! (RFC 8707 section 2). For a client an operator registered, that is its `resources`,
//! compared byte for byte like redirect URIs. For a client that registered itself (RFC
//! 7591) or came from a metadata document, it is the resources the server lets such
//! clients name (`registration.allowed_resources`, patterns) and, when the client listed
//! some at registration, only those: so an MCP client that names its server only at
//! `/authorize` works, and one that registered a list is held to it. Later steps
//! (redeeming a code, refreshing) may keep or narrow what an earlier step granted, never
//! widen it, and never beyond the allow-list as it is now, so removing a resource from a
//! client (or a pattern from the configuration) ends its use at the next refresh.

use super::ClientOrigin;
use crate::config::{RegistrationConfig, ResourcePattern};
use crate::oauth::error::OAuthError;

/// Longest resource URI accepted, at registration and in requests.
pub const MAX_RESOURCE_LEN: usize = 2048;
/// Most resources one client may list, or one request may name.
pub const MAX_RESOURCES: usize = 16;

/// RFC 8707 section 2: an absolute URI without a fragment. Whitespace and control
/// characters are refused too: the value is compared as a string and may be shown.
pub fn check_uri(uri: &str) -> Result<(), &'static str> {
    if uri.len() > MAX_RESOURCE_LEN {
        return Err("is longer than 2048 characters");
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters");
    }
    match url::Url::parse(uri) {
        Ok(parsed) if parsed.fragment().is_some() || uri.contains('#') => {
            Err("must not have a fragment")
        }
        Ok(parsed) if parsed.has_host() => Ok(()),
        Ok(_) | Err(_) => Err("is not an absolute URI with a host"),
    }
}

fn invalid_target(description: &'static str) -> OAuthError {
    OAuthError::InvalidTarget(description.into())
}

/// What a client may name as a resource now.
#[derive(Debug, Clone, Copy)]
pub enum AllowList<'a> {
    /// Set by an operator: these URIs, exactly.
    Listed(&'a [String]),
    /// A dynamically registered client: what `patterns` match, and of that only what it
    /// `listed` at registration when it listed anything.
    Registered {
        listed: &'a [String],
        patterns: &'a [ResourcePattern],
    },
}

impl<'a> AllowList<'a> {
    /// The allow-list of a client of this origin with these `listed` resources, under the
    /// registration settings in force now.
    pub fn for_client(
        origin: ClientOrigin,
        listed: &'a [String],
        registration: &'a RegistrationConfig,
    ) -> Self {
        if origin.is_dynamic() {
            Self::Registered {
                listed,
                patterns: &registration.allowed_resources,
            }
        } else {
            Self::Listed(listed)
        }
    }

    /// Whether `uri` (already checked with `check_uri`) may be named.
    pub fn allows(&self, uri: &str) -> bool {
        match self {
            Self::Listed(listed) => listed.iter().any(|r| r == uri),
            Self::Registered { listed, patterns } => {
                crate::config::resource_pattern::any_matches(patterns, uri)
                    && (listed.is_empty() || listed.iter().any(|r| r == uri))
            }
        }
    }
}

impl super::RegisteredClient {
    /// What this client may name as a resource under the registration settings in force.
    pub fn resources_allowed<'a>(&'a self, registration: &'a RegistrationConfig) -> AllowList<'a> {
        AllowList::for_client(self.origin, &self.resources, registration)
    }
}

/// The resources a request that names `requested` is granted from the client's
/// allow-list: each must be a valid resource URI the allow-list allows. Nothing named,
/// nothing granted (the token is for this server).
pub fn grant(requested: &[String], allow_list: AllowList<'_>) -> Result<Vec<String>, OAuthError> {
    if requested.len() > MAX_RESOURCES {
        return Err(invalid_target("too many resource parameters"));
    }
    for resource in requested {
        if check_uri(resource).is_err() {
            return Err(invalid_target(
                "resource must be an absolute URI without a fragment (RFC 8707)",
            ));
        }
        if !allow_list.allows(resource) {
            return Err(invalid_target("resource is not registered for this client"));
        }
    }
    let mut granted = requested.to_vec();
    granted.sort();
    granted.dedup();
    Ok(granted)
}

/// The resources a later step grants from what an earlier one did (`held`): those
/// requested, each held and still in the allow-list; nothing requested keeps what is held
/// and still allowed. A grant for this server only (`held` empty) stays so.
pub fn narrow(
    requested: &[String],
    held: &[String],
    allow_list: AllowList<'_>,
) -> Result<Vec<String>, OAuthError> {
    if requested.is_empty() {
        let kept: Vec<String> = held
            .iter()
            .filter(|r| allow_list.allows(r))
            .cloned()
            .collect();
        // Falling back to this server as the audience would be a different audience,
        // not a narrower one.
        if kept.is_empty() && !held.is_empty() {
            return Err(invalid_target(
                "the resources of this grant are no longer registered for this client",
            ));
        }
        return Ok(kept);
    }
    let granted = grant(requested, allow_list)?;
    if granted.iter().any(|r| !held.contains(r)) {
        return Err(invalid_target(
            "resource was not part of the original grant",
        ));
    }
    Ok(granted)
}

/// The stored form of a list of resources: a JSON list, as every list column.
pub fn to_stored(resources: &[String]) -> String {
    serde_json::Value::from(resources.to_vec()).to_string()
}

/// Reads a stored list; `None` when the column does not hold a JSON list of strings.
pub fn from_stored(raw: &str) -> Option<Vec<String>> {
    serde_json::from_str(raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn listed(items: &[String]) -> AllowList<'_> {
        AllowList::Listed(items)
    }

    #[test]
    fn only_absolute_uris_without_fragment() {
        assert!(check_uri("https://api.example.com/").is_ok());
        assert!(check_uri("https://api.example.com/v1?x=1").is_ok());
        for bad in [
            "",
            "api",
            "/relative",
            "urn:example:thing",
            "https://api.example.com/#f",
            "https://api.example.com/#",
            "https://api.example.com/ x",
            "https://api.example.com/\n",
        ] {
            assert!(check_uri(bad).is_err(), "{bad:?}");
        }
        assert!(check_uri(&format!("https://a.example/{}", "x".repeat(2048))).is_err());
    }

    #[test]
    fn grant_takes_only_what_the_allow_list_names_exactly() {
        let allowed = list(&["https://a.example/", "https://b.example/api"]);
        let allowed = listed(&allowed);
        assert_eq!(grant(&[], allowed).unwrap(), Vec::<String>::new());
        assert_eq!(
            grant(
                &list(&["https://b.example/api", "https://a.example/"]),
                allowed
            )
            .unwrap(),
            list(&["https://a.example/", "https://b.example/api"])
        );
        for bad in [
            "https://A.example/",
            "https://a.example",
            "https://b.example/api/",
            "https://c.example/",
            "https://a.example/#x",
            "nope",
        ] {
            let err = grant(&list(&[bad]), allowed).unwrap_err();
            assert_eq!(err.code(), "invalid_target", "{bad}");
        }
        let many: Vec<String> = (0..17).map(|i| format!("https://a.example/{i}")).collect();
        assert_eq!(
            grant(&many, listed(&many)).unwrap_err().code(),
            "invalid_target"
        );
    }

    #[test]
    fn narrow_keeps_or_narrows_and_never_widens() {
        let allowed = list(&["https://a.example/", "https://b.example/"]);
        let allowed = listed(&allowed);
        let held = list(&["https://a.example/", "https://b.example/"]);
        assert_eq!(narrow(&[], &held, allowed).unwrap(), held);
        assert_eq!(
            narrow(&list(&["https://b.example/"]), &held, allowed).unwrap(),
            list(&["https://b.example/"])
        );
        // Held only one: the other is a widening even though the client may name it.
        let one = list(&["https://a.example/"]);
        let err = narrow(&list(&["https://b.example/"]), &one, allowed).unwrap_err();
        assert_eq!(err.code(), "invalid_target");
        // A grant for this server only stays so.
        let err = narrow(&list(&["https://a.example/"]), &[], allowed).unwrap_err();
        assert_eq!(err.code(), "invalid_target");
        assert!(narrow(&[], &[], allowed).unwrap().is_empty());
        // Removed from the allow-list since: dropped, and refused when nothing is left.
        let now_allowed = list(&["https://b.example/"]);
        assert_eq!(
            narrow(&[], &held, listed(&now_allowed)).unwrap(),
            list(&["https://b.example/"])
        );
        assert_eq!(
            narrow(&[], &one, listed(&now_allowed)).unwrap_err().code(),
            "invalid_target"
        );
    }

    fn registration(patterns: &[&str]) -> RegistrationConfig {
        RegistrationConfig {
            mode: crate::config::RegistrationMode::Open,
            allowed_scopes: Vec::new(),
            allowed_resources: patterns
                .iter()
                .map(|p| ResourcePattern::parse(p).unwrap())
                .collect(),
            idle_secs: 86_400,
            max_clients: 10,
            metadata_documents: Default::default(),
            self_signup: false,
            self_signup_email_domains: Vec::new(),
        }
    }

    #[test]
    fn dynamic_clients_name_what_the_patterns_allow_within_what_they_listed() {
        let config = registration(&["https://mcp.example.com/*", "https://docs.example/api"]);
        let none: Vec<String> = Vec::new();
        let open = AllowList::for_client(ClientOrigin::Registration, &none, &config);
        for ok in [
            "https://mcp.example.com/",
            "https://mcp.example.com/mcp",
            "https://docs.example/api",
        ] {
            assert_eq!(grant(&list(&[ok]), open).unwrap(), list(&[ok]), "{ok}");
        }
        for bad in [
            "https://mcp.example.com",
            "https://mcp.example.com/../x",
            "https://docs.example/api/",
            "https://other.example/",
        ] {
            assert_eq!(
                grant(&list(&[bad]), open).unwrap_err().code(),
                "invalid_target",
                "{bad}"
            );
        }
        // What it listed at registration holds it, within the patterns as they are now.
        let mine = list(&["https://mcp.example.com/mcp"]);
        let held_to = AllowList::for_client(ClientOrigin::MetadataDocument, &mine, &config);
        assert!(grant(&mine, held_to).is_ok());
        assert_eq!(
            grant(&list(&["https://mcp.example.com/other"]), held_to)
                .unwrap_err()
                .code(),
            "invalid_target"
        );
        let narrowed = registration(&["https://docs.example/api"]);
        let now = AllowList::for_client(ClientOrigin::Registration, &mine, &narrowed);
        assert_eq!(grant(&mine, now).unwrap_err().code(), "invalid_target");
        assert_eq!(
            narrow(&[], &mine, now).unwrap_err().code(),
            "invalid_target"
        );
        // An operator's client is held to its list, whatever the patterns say.
        let operator = AllowList::for_client(ClientOrigin::Api, &none, &config);
        assert_eq!(
            grant(&list(&["https://mcp.example.com/mcp"]), operator)
                .unwrap_err()
                .code(),
            "invalid_target"
        );
        let cli = AllowList::for_client(ClientOrigin::Cli, &mine, &narrowed);
        assert!(grant(&mine, cli).is_ok());
    }

    #[test]
    fn stored_form_round_trips() {
        let r = list(&["https://a.example/"]);
        assert_eq!(from_stored(&to_stored(&r)), Some(r));
        assert_eq!(from_stored("[]"), Some(Vec::new()));
        assert_eq!(from_stored("nope"), None);
    }
}
