//! RFC 8707 resource indicators: which resources a client may name, and what a request
//! that names some is granted.
//!
//! A token minted for a resource server is a bearer credential that server can replay
//! anywhere it is accepted, so the audience is never the client's free choice: a client
//! names only resources from its registered allow-list (`resources`, set by an operator),
//! compared byte for byte like redirect URIs, and anything else is `invalid_target`
//! (RFC 8707 section 2). Later steps (redeeming a code, refreshing) may keep or narrow
//! what an earlier step granted, never widen it, and never beyond the allow-list as it is
//! now, so removing a resource from a client ends its use at the next refresh.

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

/// The resources a request that names `requested` is granted from the client's
/// allow-list: each must be a valid resource URI listed there exactly. Nothing named,
/// nothing granted (the token is for this server).
pub fn grant(requested: &[String], allow_list: &[String]) -> Result<Vec<String>, OAuthError> {
    if requested.len() > MAX_RESOURCES {
        return Err(invalid_target("too many resource parameters"));
    }
    for resource in requested {
        if check_uri(resource).is_err() {
            return Err(invalid_target(
                "resource must be an absolute URI without a fragment (RFC 8707)",
            ));
        }
        if !allow_list.contains(resource) {
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
    allow_list: &[String],
) -> Result<Vec<String>, OAuthError> {
    if requested.is_empty() {
        let kept: Vec<String> = held
            .iter()
            .filter(|r| allow_list.contains(r))
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
        assert_eq!(grant(&[], &allowed).unwrap(), Vec::<String>::new());
        assert_eq!(
            grant(
                &list(&["https://b.example/api", "https://a.example/"]),
                &allowed
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
            let err = grant(&list(&[bad]), &allowed).unwrap_err();
            assert_eq!(err.code(), "invalid_target", "{bad}");
        }
        let many: Vec<String> = (0..17).map(|i| format!("https://a.example/{i}")).collect();
        assert_eq!(grant(&many, &many).unwrap_err().code(), "invalid_target");
    }

    #[test]
    fn narrow_keeps_or_narrows_and_never_widens() {
        let allowed = list(&["https://a.example/", "https://b.example/"]);
        let held = list(&["https://a.example/", "https://b.example/"]);
        assert_eq!(narrow(&[], &held, &allowed).unwrap(), held);
        assert_eq!(
            narrow(&list(&["https://b.example/"]), &held, &allowed).unwrap(),
            list(&["https://b.example/"])
        );
        // Held only one: the other is a widening even though the client may name it.
        let one = list(&["https://a.example/"]);
        let err = narrow(&list(&["https://b.example/"]), &one, &allowed).unwrap_err();
        assert_eq!(err.code(), "invalid_target");
        // A grant for this server only stays so.
        let err = narrow(&list(&["https://a.example/"]), &[], &allowed).unwrap_err();
        assert_eq!(err.code(), "invalid_target");
        assert!(narrow(&[], &[], &allowed).unwrap().is_empty());
        // Removed from the allow-list since: dropped, and refused when nothing is left.
        let now_allowed = list(&["https://b.example/"]);
        assert_eq!(
            narrow(&[], &held, &now_allowed).unwrap(),
            list(&["https://b.example/"])
        );
        assert_eq!(
            narrow(&[], &one, &now_allowed).unwrap_err().code(),
            "invalid_target"
        );
    }

    #[test]
    fn stored_form_round_trips() {
        let r = list(&["https://a.example/"]);
        assert_eq!(from_stored(&to_stored(&r)), Some(r));
        assert_eq!(from_stored("[]"), Some(Vec::new()));
        assert_eq!(from_stored("nope"), None);
    }
}
