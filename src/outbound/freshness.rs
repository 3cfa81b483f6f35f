//! How long a fetched response says it may be reused (RFC 9111 section 4.2.1), from its
//! `Cache-Control` and `Age` headers: `max-age` minus `Age`; `no-store` or `no-cache`
//! mean not at all. `Expires` is not read: documents that care send `max-age`, and a
//! date would need our clock to agree with theirs. The caller bounds the answer.

/// Seconds the response may be reused: `Some(0)` for `no-store`/`no-cache`, `Some(n)` for
/// `max-age=n` (less `age`; the smallest when repeated), `None` when it says nothing
/// usable (no `max-age`, or one that is not a number).
pub fn fresh_for(cache_control: &str, age: Option<u64>) -> Option<u64> {
    let mut max_age: Option<u64> = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age") {
            // RFC 9111 section 1.2.2: a value too large for us is "forever", kept finite.
            let seconds = value.and_then(|v| {
                if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
                    Some(v.parse::<u64>().unwrap_or(u64::MAX))
                } else {
                    None
                }
            })?;
            max_age = Some(max_age.map_or(seconds, |m| m.min(seconds)));
        }
    }
    max_age.map(|m| m.saturating_sub(age.unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_max_age_and_the_refusals() {
        assert_eq!(fresh_for("", None), None);
        assert_eq!(fresh_for("public", None), None);
        assert_eq!(fresh_for("max-age=600", None), Some(600));
        assert_eq!(fresh_for("public, MAX-AGE=600", Some(100)), Some(500));
        assert_eq!(fresh_for("max-age=\"60\"", None), Some(60));
        assert_eq!(fresh_for("max-age=60", Some(600)), Some(0));
        assert_eq!(fresh_for("max-age=600, max-age=60", None), Some(60));
        assert_eq!(fresh_for("max-age=600, no-cache", None), Some(0));
        assert_eq!(fresh_for("no-store", None), Some(0));
        assert_eq!(fresh_for("private, no-cache=\"set-cookie\"", None), Some(0));
        assert_eq!(
            fresh_for("max-age=99999999999999999999999", None),
            Some(u64::MAX)
        );
        // A malformed max-age says nothing usable.
        assert_eq!(fresh_for("max-age=-1", None), None);
        assert_eq!(fresh_for("max-age=1h", None), None);
        assert_eq!(fresh_for("max-age", None), None);
        assert_eq!(fresh_for("s-maxage=600", None), None);
    }
}
