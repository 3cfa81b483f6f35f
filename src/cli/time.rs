//! Times at the command line: shown as RFC 3339 in UTC (`2026-12-07T09:30:00Z`), taken as
//! RFC 3339, unix seconds (what `--json` prints, so output can be fed back) or an age
//! (`30m`, `1h`, `2d`: that long before now). The store keeps unix seconds throughout.

use ::time::OffsetDateTime;
use ::time::format_description::well_known::Rfc3339;

/// Unix seconds as RFC 3339 in UTC; a value outside the calendar's range (only a corrupt
/// row holds one) is shown as the number, never dropped.
pub fn show(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// `show` for a time that may be missing.
pub fn show_opt(unix: Option<i64>, missing: &str) -> String {
    unix.map_or_else(|| missing.to_owned(), show)
}

/// A clap value parser: `parse_instant_at` against the system clock (an age means before
/// the moment the command started); the pure function below is what is tested.
pub fn parse_instant(text: &str) -> Result<i64, String> {
    use crate::clock::Clock as _;
    parse_instant_at(text, crate::clock::SystemClock.now())
}

/// A point in time as RFC 3339, unix seconds, or an age before `now`.
pub fn parse_instant_at(text: &str, now: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(unix) = text.parse::<i64>() {
        return Ok(unix);
    }
    if let Some(age) = parse_age(text) {
        return now
            .checked_sub(age)
            .ok_or_else(|| format!("`{text}` is too long ago"));
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| {
            format!(
                "`{text}` is not a time: use RFC 3339 (2026-12-07T09:30:00Z), unix seconds, \
                 or an age such as 30s, 30m, 1h, 2d, 1w"
            )
        })
}

/// `<digits><unit>` with unit s, m, h, d or w, as seconds.
fn parse_age(text: &str) -> Option<i64> {
    let unit = text.chars().last()?;
    let per: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let digits = text.strip_suffix(unit)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok()?.checked_mul(per)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000; // 2026-11-29T...Z

    #[test]
    fn shows_rfc3339_in_utc() {
        assert_eq!(show(0), "1970-01-01T00:00:00Z");
        assert_eq!(show(1_796_601_600), "2026-12-07T00:00:00Z");
        assert_eq!(show(i64::MAX), i64::MAX.to_string());
        assert_eq!(show_opt(None, "never"), "never");
    }

    #[test]
    fn takes_rfc3339_unix_seconds_and_ages() {
        assert_eq!(
            parse_instant_at("2026-12-07T00:00:00Z", NOW),
            Ok(1_796_601_600)
        );
        assert_eq!(
            parse_instant_at("2026-12-07T01:00:00+01:00", NOW),
            Ok(1_796_601_600)
        );
        assert_eq!(parse_instant_at("1796601600", NOW), Ok(1_796_601_600));
        assert_eq!(parse_instant_at("30s", NOW), Ok(NOW - 30));
        assert_eq!(parse_instant_at("30m", NOW), Ok(NOW - 1800));
        assert_eq!(parse_instant_at("1h", NOW), Ok(NOW - 3600));
        assert_eq!(parse_instant_at("2d", NOW), Ok(NOW - 2 * 86_400));
        assert_eq!(parse_instant_at("1w", NOW), Ok(NOW - 7 * 86_400));
        // A round trip through what the CLI shows.
        assert_eq!(parse_instant_at(&show(NOW), 0), Ok(NOW));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "h",
            "1x",
            "-1h",
            "1.5h",
            "yesterday",
            "2026-12-07",
            "99999999999999999999d",
        ] {
            let err = parse_instant_at(bad, NOW).unwrap_err();
            assert!(err.contains('`'), "{bad}: {err}");
        }
    }
}
