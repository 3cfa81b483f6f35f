//! Checks shared by the targets (included with `#[path]`, each target is its own crate).

use portcullis::oauth::error::OAuthError;

/// RFC 6749 section 5.2: `error_description` is `%x20-21 / %x23-5B / %x5D-7E`, and ours are
/// bounded; a description built from request input must still obey both.
#[allow(dead_code)]
pub fn assert_wire_safe(err: &OAuthError) {
    let code = err.code();
    assert!(!code.is_empty());
    if let Some(text) = err.description() {
        assert!(text.len() <= 512, "description too long: {}", text.len());
        assert!(
            text.bytes().all(|b| b == 0x20
                || b == 0x21
                || (0x23..=0x5B).contains(&b)
                || (0x5D..=0x7E).contains(&b)),
            "description outside the RFC 6749 character set: {text:?}"
        );
    }
    let status = err.status();
    assert!(
        (400..500).contains(&status) || status == 503,
        "status {status} for {code}"
    );
}
