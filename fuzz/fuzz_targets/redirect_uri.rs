//! Redirect URI registration rules and the one comparison /authorize and /logout use:
//! matching is reflexive and symmetric, and a registrable URI only ever matches a URI that
//! is itself registrable and points at the same scheme, host, path and query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::oauth::redirect_uri::{matches, validate_for_registration};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (registered, requested) = text.split_once('\n').unwrap_or((text, text));
    let registrable = validate_for_registration(registered).is_ok();
    let _ = validate_for_registration(requested);
    assert!(matches(registered, registered));
    let matched = matches(registered, requested);
    assert_eq!(matched, matches(requested, registered), "not symmetric");
    if registrable && matched {
        assert!(
            validate_for_registration(requested).is_ok(),
            "{registered:?} matched the unregistrable {requested:?}"
        );
        let a = url::Url::parse(registered).expect("registrable means parsable");
        let b = url::Url::parse(requested).expect("validated above");
        assert_eq!(a.scheme(), b.scheme());
        assert_eq!(
            a.host_str(),
            b.host_str(),
            "{registered:?} vs {requested:?}"
        );
        assert_eq!(a.path(), b.path());
        assert_eq!(a.query(), b.query());
        assert_eq!(a.fragment(), b.fragment());
    }
});
