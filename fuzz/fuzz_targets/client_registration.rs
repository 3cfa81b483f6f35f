//! Dynamic client registration (issue 21): a registration body as `/register` reads it
//! (`oauth::registration::ClientMetadata::from_json`), the policy over it
//! (`policy::check`), and the resource patterns of `registration.allowed_resources`
//! (`config::ResourcePattern`). Bad input is a 400 with an RFC 7591 code (or a pattern
//! refused with a reason), never a panic; an accepted registration stays inside the policy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::config::{RegistrationConfig, RegistrationMode, ResourcePattern};
use portcullis::oauth::client::GrantType;
use portcullis::oauth::registration::{ClientMetadata, Registrant, check};

fn config() -> RegistrationConfig {
    RegistrationConfig {
        mode: RegistrationMode::Open,
        allowed_scopes: vec!["openid".into(), "profile".into(), "mcp:tools".into()],
        allowed_resources: ["https://mcp.example.com/*", "https://api.example.com/v1"]
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
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        let Ok(meta) = ClientMetadata::from_json(body) else {
            return;
        };
        for registrant in [Registrant::Anonymous, Registrant::InitialAccessToken] {
            match check(&meta, &config(), registrant) {
                Ok(r) => {
                    assert!(!r.grant_types.contains(&GrantType::Password));
                    assert!(!r.scopes.iter().any(|s| s == "admin"));
                    assert!(r.resources.iter().all(|u| config().allows_resource(u)));
                }
                Err(e) => {
                    assert_eq!(e.status(), 400);
                    assert!(
                        [
                            "invalid_redirect_uri",
                            "invalid_client_metadata",
                            "invalid_software_statement"
                        ]
                        .contains(&e.code()),
                        "{e}"
                    );
                }
            }
        }
    } else {
        let Ok(text) = std::str::from_utf8(body) else {
            return;
        };
        let (pattern, uri) = text.split_once('\n').unwrap_or((text, text));
        if let Ok(p) = ResourcePattern::parse(pattern)
            && p.matches(uri)
        {
            // A match is the pattern itself, or below its prefix on the same origin.
            let parsed = url::Url::parse(uri).expect("a match parses");
            assert!(
                parsed.fragment().is_none() && parsed.query().is_none(),
                "{uri}"
            );
        }
    }
});
