//! JWT parsing and verification (`crypto::jwt::verify`, RS256 only): a token verifies only
//! if our key signed exactly that header and payload; anything we sign verifies back to
//! the same claims; errors never echo the token.
#![no_main]

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use portcullis::crypto::jwt::{self, Expected, Signer, VerificationKeys};
use portcullis::crypto::key_material::PrivateKeyDer;
use serde_json::{Map, Value};

const ISSUER: &str = "https://issuer.example";
const NOW: i64 = 1_800_000_000;
const TYP: &str = "at+jwt";

struct Fixture {
    signer: Signer,
    keys: VerificationKeys,
    /// A token of ours with ordinary claims, for splicing fuzz input into.
    token: String,
    /// Signing inputs (`header.payload`) our key has signed in this process.
    signed: Mutex<HashSet<String>>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // A fresh key per process: no key material in the repository.
        // Made by aws-lc, not `generate_rsa_private_key` (pure Rust): under the fuzzer's
        // instrumentation that prime search took minutes and stalled short CI runs.
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("key generation");
        let pkcs8 = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
            .expect("PKCS#8");
        let der = PrivateKeyDer::from_pkcs8_der(pkcs8.as_ref().to_vec());
        let signer = Signer::new(&der, "fuzz-key").expect("signer");
        let mut keys = VerificationKeys::new();
        keys.insert(signer.verification_key().expect("public key"));
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": "alice", "aud": "api", "iat": NOW - 10, "exp": NOW + 60,
            "scope": "openid profile", "client_id": "app",
        });
        let token = signer.sign(TYP, &claims).expect("sign");
        let signed = Mutex::new(HashSet::from([signing_input(&token).to_owned()]));
        Fixture {
            signer,
            keys,
            token,
            signed,
        }
    })
}

fn signing_input(token: &str) -> &str {
    token.rsplit_once('.').map_or(token, |(input, _)| input)
}

fn expected() -> Expected<'static> {
    Expected {
        typ: TYP,
        issuer: ISSUER,
        audience: None,
        now: NOW,
        leeway: 5,
    }
}

fn check(token: &str) -> Option<Map<String, Value>> {
    let f = fixture();
    match jwt::verify::<Map<String, Value>>(token, &f.keys, &expected()) {
        Ok(claims) => {
            let ours = f.signed.lock().unwrap().contains(signing_input(token));
            assert!(ours, "a token our key never signed verified: {token:?}");
            Some(claims)
        }
        Err(err) => {
            let message = err.to_string();
            for part in token.split('.') {
                assert!(
                    part.len() <= 100 || !message.contains(part),
                    "error echoes the token"
                );
            }
            None
        }
    }
}

// The key is made before fuzzing starts: RSA key generation is slow under the sanitizer,
// and libFuzzer's per-input timeout would count it against the first input.
fuzz_target!(init: { fixture(); }, |data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match mode % 3 {
        // Arbitrary input as a token.
        0 => {
            check(&text);
        }
        // One part of a real token replaced by fuzz input: valid only if unchanged.
        1 => {
            let mut parts: Vec<&str> = f.token.split('.').collect();
            let index = usize::from(rest.first().copied().unwrap_or(0)) % 3;
            let replacement = text.get(1..).unwrap_or_default();
            parts[index] = replacement;
            let token = parts.join(".");
            let verified = check(&token).is_some();
            assert_eq!(verified, token == f.token, "{token:?}");
        }
        // Fuzz claims signed by us verify back to themselves.
        _ => {
            let Ok(mut claims) = serde_json::from_slice::<Map<String, Value>>(rest) else {
                return;
            };
            claims.insert("iss".into(), ISSUER.into());
            claims.insert("iat".into(), (NOW - 10).into());
            claims.insert("exp".into(), (NOW + 60).into());
            claims.remove("nbf");
            let token = f.signer.sign(TYP, &claims).expect("claims are a JSON object");
            {
                let mut signed = f.signed.lock().unwrap();
                // Bounded memory over a long run; a forgotten input is never re-sent.
                if signed.len() > 100_000 {
                    signed.clear();
                    signed.insert(signing_input(&f.token).to_owned());
                }
                signed.insert(signing_input(&token).to_owned());
            }
            let verified = check(&token).expect("a token we signed verifies");
            let reread: Map<String, Value> =
                serde_json::from_slice(&serde_json::to_vec(&claims).unwrap()).unwrap();
            assert_eq!(verified, reread);
            // Any one changed character of it does not verify.
            let at = usize::from(rest.len() as u16) % token.len();
            let mut bytes = token.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            if tampered != token {
                assert!(check(&tampered).is_none(), "a tampered token verified");
            }
        }
    }
});
