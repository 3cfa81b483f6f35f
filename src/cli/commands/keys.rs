//! `keys ...`: signing keys (list, rotate, retire) and master-key rewrapping.

use serde_json::json;

use super::CliError;
use super::output::Output;
use crate::cli::KeysCommand;
use crate::crypto::keystore::{KeyInfo, KeyStore};
use crate::manage::{Actor, Service};

/// `keys generate-master-key`: one fresh key on stdout, alone on its line, so
/// `portcullis keys generate-master-key > master_keys` makes a file for
/// `keys.master_keys_file`. Nothing else is printed, and nothing is stored or logged.
pub(super) fn generate_master_key(out: Output) -> Result<(), CliError> {
    let key = crate::config::master_key::MasterKey::generate()
        .map_err(|e| CliError::Other(format!("cannot generate a master key: {e}")))?;
    let encoded = key.to_base64();
    if out.is_json() {
        super::output::print_json(&json!({
            "master_key": encoded.as_str(),
            "fingerprint": key.fingerprint(),
        }))
    } else {
        println!("{}", encoded.as_str());
        Ok(())
    }
}

fn print_keys(keys: &[KeyInfo]) {
    println!(
        "{:<32}  {:<6}  {:<8}  {:>12}  {:>12}  {:>12}",
        "kid", "alg", "status", "created", "activated", "delete after"
    );
    let at = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), |t| t.to_string());
    for k in keys {
        println!(
            "{:<32}  {:<6}  {:<8}  {:>12}  {:>12}  {:>12}",
            k.kid,
            k.alg,
            k.status,
            k.created_at,
            at(k.activated_at),
            at(k.delete_after)
        );
    }
}

pub(super) async fn run(
    svc: &Service,
    keys: &KeyStore,
    cmd: KeysCommand,
    now: i64,
    out: Output,
) -> Result<(), CliError> {
    let actor = Actor::cli();
    match cmd {
        // Handled before any configuration is loaded (`commands::run`).
        KeysCommand::GenerateMasterKey => generate_master_key(out)?,
        KeysCommand::List => {
            let listed = svc.list_keys(keys);
            out.show(&listed, |listed| print_keys(listed))?;
        }
        KeysCommand::Rotate { immediately } => {
            let outcome = svc.rotate_keys(&actor, keys, immediately).await?;
            out.show(&outcome, |outcome| {
                if outcome.switched {
                    println!("key {} signs from now on", outcome.next_kid);
                } else {
                    println!(
                        "key {} is published and starts signing at {} (in {} s), once JWKS caches have seen it",
                        outcome.next_kid,
                        outcome.signs_from,
                        outcome.signs_from - now
                    );
                }
            })?;
        }
        KeysCommand::Retire { kid } => {
            svc.retire_key(&actor, keys, &kid).await?;
            out.show(&json!({ "retired": kid }), |_| {
                println!("retired key {kid}");
            })?;
        }
        KeysCommand::Rewrap => {
            let changed = svc.rewrap_keys(&actor, keys).await?;
            out.show(&json!({ "rewrapped": changed }), |_| {
                println!("re-encrypted {changed} key(s) under the first master key");
            })?;
        }
    }
    Ok(())
}
