//! A User-Agent said the way a person recognises their device: "Firefox on Linux",
//! "Safari on iPhone", "curl". A summary for the sessions page and the admin API, never a
//! security decision: the header is whatever the client chose to send.

/// What a User-Agent names, each part when it can be told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    /// The browser or program: "Firefox", "Chrome", "curl".
    pub browser: Option<String>,
    /// The operating system or device: "Linux", "iPhone", "Windows".
    pub os: Option<String>,
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.browser, &self.os) {
            (Some(b), Some(o)) => write!(f, "{b} on {o}"),
            (Some(one), None) | (None, Some(one)) => f.write_str(one),
            (None, None) => f.write_str("unknown device"),
        }
    }
}

/// Browsers by a token of theirs, the most specific first: Edge and Opera also say
/// "Chrome", headless Chrome says "HeadlessChrome/", Chrome also says "Safari".
const BROWSERS: [(&str, &str); 12] = [
    ("Edg/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("HeadlessChrome/", "Chrome (headless)"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Version/", "Safari"),
];

/// Systems by a token of theirs, the most specific first: an iPhone says "like Mac OS X",
/// Android says "Linux".
const SYSTEMS: [(&str, &str); 9] = [
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
    ("BSD", "BSD"),
];

/// Summarises a User-Agent (None: none was sent).
pub fn describe(user_agent: Option<&str>) -> Device {
    let Some(ua) = user_agent.map(str::trim).filter(|ua| !ua.is_empty()) else {
        return Device::default();
    };
    let os = SYSTEMS
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| (*name).to_owned());
    let browser = if ua.starts_with("Mozilla/") {
        BROWSERS
            .iter()
            .find(|(token, _)| ua.contains(token))
            .map(|(_, name)| (*name).to_owned())
    } else {
        // A program: the product token it starts with ("curl/8.5.0" is curl).
        ua.split(['/', ' '])
            .next()
            .filter(|p| !p.is_empty())
            .map(|p| p.chars().take(40).collect())
    };
    Device { browser, os }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(ua: &str) -> String {
        describe(Some(ua)).to_string()
    }

    #[test]
    fn common_browsers_are_named() {
        assert_eq!(
            said("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"),
            "Firefox on Linux"
        );
        assert_eq!(
            said(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
            ),
            "Edge on Windows"
        );
        assert_eq!(
            said(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
            ),
            "Safari on iPhone"
        );
        assert_eq!(
            said(
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
            ),
            "Chrome on Android"
        );
        assert_eq!(
            said(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
            ),
            "Chrome on macOS"
        );
    }

    #[test]
    fn programs_and_nothing() {
        assert_eq!(said("curl/8.5.0"), "curl");
        assert_eq!(said("reqwest"), "reqwest");
        assert_eq!(describe(None), Device::default());
        assert_eq!(describe(Some("  ")).to_string(), "unknown device");
    }
}
