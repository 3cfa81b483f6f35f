//! Which language a page or mail is in: the first of the authorization request's
//! `ui_locales` (OpenID Connect Core §3.1.2.1, space-separated BCP 47 tags in order of
//! preference) that we have, else the best of the browser's `Accept-Language` (RFC 9110
//! §12.5.4, weighted by `q`), else the configured default. A tag matches a catalogue of
//! the same tag or of its language alone (`de-AT` takes `de`), case-insensitively, as RFC
//! 4647 §3.4 lookup does.

/// At most this many tags of either list are considered: a header of thousands of tags
/// costs nothing more than one of eight.
const MAX_TAGS: usize = 16;

/// The language to use, as one of `available` (lower-case tags).
pub fn choose<'a>(
    available: &'a [String],
    default: &'a str,
    ui_locales: Option<&str>,
    accept_language: Option<&str>,
) -> &'a str {
    let requested = ui_locales
        .into_iter()
        .flat_map(str::split_ascii_whitespace)
        .take(MAX_TAGS)
        .find_map(|tag| lookup(available, tag));
    if let Some(found) = requested {
        return found;
    }
    accept_language
        .map(weighted)
        .unwrap_or_default()
        .into_iter()
        .find_map(|tag| lookup(available, tag))
        .unwrap_or(default)
}

/// The tags of an `Accept-Language` value, best first; `q=0` means "not this one", and a
/// malformed weight counts as 1 as a lenient reader would.
fn weighted(header: &str) -> Vec<&str> {
    let mut tags: Vec<(u16, usize, &str)> = header
        .split(',')
        .take(MAX_TAGS)
        .enumerate()
        .filter_map(|(i, item)| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .map(quality)
                .next()
                .unwrap_or(1000);
            (!tag.is_empty() && tag != "*" && q > 0).then_some((q, i, tag))
        })
        .collect();
    // Higher weight first; equal weights keep the order the browser sent.
    tags.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    tags.into_iter().map(|(_, _, tag)| tag).collect()
}

/// A `qvalue` in thousandths (RFC 9110 §12.4.2).
fn quality(q: &str) -> u16 {
    let q = q.trim();
    match q.split_once('.') {
        None => q.parse::<u16>().map(|v| v.min(1) * 1000).unwrap_or(1000),
        Some((whole, frac)) => {
            if whole == "1" {
                return 1000;
            }
            let digits: String = frac.chars().take(3).collect();
            let scale = 10u16.pow(3u32.saturating_sub(digits.len() as u32));
            digits.parse::<u16>().map(|v| v * scale).unwrap_or(1000)
        }
    }
}

fn lookup<'a>(available: &'a [String], tag: &str) -> Option<&'a str> {
    let tag = tag.trim().to_ascii_lowercase().replace('_', "-");
    let exact = available.iter().find(|a| **a == tag);
    let language = tag.split('-').next().unwrap_or("");
    exact
        .or_else(|| available.iter().find(|a| *a == language))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn available() -> Vec<String> {
        vec!["en".into(), "de".into(), "pt-br".into()]
    }

    #[test]
    fn ui_locales_come_before_the_browser() {
        let a = available();
        assert_eq!(choose(&a, "en", Some("fr de"), Some("en")), "de");
        assert_eq!(choose(&a, "en", Some("fr"), Some("de-CH, en;q=0.5")), "de");
        assert_eq!(choose(&a, "en", None, None), "en");
        assert_eq!(choose(&a, "de", Some("xx"), Some("fr")), "de");
    }

    #[test]
    fn accept_language_is_weighted_and_regions_fall_back_to_the_language() {
        let a = available();
        assert_eq!(
            choose(&a, "en", None, Some("fr;q=0.9, de;q=0.8, en;q=0.1")),
            "de"
        );
        assert_eq!(choose(&a, "en", None, Some("en;q=0.5, de-AT")), "de");
        assert_eq!(choose(&a, "en", None, Some("de;q=0, en")), "en");
        assert_eq!(choose(&a, "en", None, Some("PT-BR")), "pt-br");
        assert_eq!(choose(&a, "de", None, Some("*")), "de");
        assert_eq!(choose(&a, "en", None, Some(";;;,q=,de;q=abc")), "de");
    }

    #[test]
    fn weights_parse_as_rfc_9110_says() {
        assert_eq!(quality("0.8"), 800);
        assert_eq!(quality("0.05"), 50);
        assert_eq!(quality("1"), 1000);
        assert_eq!(quality("1.000"), 1000);
        assert_eq!(quality("0"), 0);
    }
}
