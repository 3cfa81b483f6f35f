//! Client ID metadata documents (issue 21): the `client_id` URL as `/authorize` reads it
//! (`ClientIdUrl::parse`) and a fetched document as it is checked (`check_document`). The
//! first line is the URL, the rest the document. An accepted URL is its own normal form;
//! an accepted document names exactly that URL and is a public client inside the
//! registration policy; refusals are words, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::config::{RegistrationConfig, RegistrationMode, ResourcePattern};
use portcullis::oauth::client::GrantType;
use portcullis::oauth::registration::metadata_document::{
    ClientIdUrl, MAX_CLIENT_ID_LEN, check_document, is_client_id_url,
};

fn config() -> RegistrationConfig {
    RegistrationConfig {
        mode: RegistrationMode::Closed,
        allowed_scopes: vec!["openid".into(), "offline_access".into(), "mcp:tools".into()],
        allowed_resources: ["https://mcp.example.com/*"]
            .into_iter()
            .filter_map(|p| ResourcePattern::parse(p).ok())
            .collect(),
        idle_secs: 86_400,
        max_clients: 10,
        metadata_documents: Default::default(),
        self_signup: false,
        self_signup_email_domains: Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (raw, body) = text.split_once('\n').unwrap_or((text, ""));
    for allow_http in [false, true] {
        let Ok(url) = ClientIdUrl::parse(raw, allow_http) else {
            continue;
        };
        assert_eq!(url.as_str(), raw);
        assert!(raw.len() <= MAX_CLIENT_ID_LEN && is_client_id_url(raw));
        assert!(raw.starts_with("https://") || allow_http);
        let parsed = url::Url::parse(raw).expect("accepted is a URL");
        assert!(parsed.fragment().is_none() && !raw.contains('#'));
        assert!(parsed.username().is_empty() && parsed.password().is_none());
        let _ = url.display_host();
        match check_document(&url, body.as_bytes(), &config()) {
            Ok(r) => {
                let doc: serde_json::Value = serde_json::from_str(body).expect("accepted is JSON");
                assert_eq!(doc["client_id"], raw);
                assert!(r.is_public());
                assert!(!r.grant_types.contains(&GrantType::Password));
                assert!(!r.grant_types.contains(&GrantType::ClientCredentials));
                assert!(!r.scopes.iter().any(|s| s == "admin"));
                assert!(!r.redirect_uris.is_empty());
            }
            Err(why) => {
                let _ = why.to_string();
            }
        }
    }
});
