//! `export` and `import`: users and clients as a directory of JSON files.

use std::path::Path;

use super::CliError;
use super::output::Output;
use crate::manage::transfer;
use crate::manage::{Actor, Service};

pub(super) async fn export(
    svc: &Service,
    dir: &Path,
    include_credentials: bool,
    out: Output,
) -> Result<(), CliError> {
    let bundle = svc.export_bundle(include_credentials).await?;
    transfer::write_dir(&bundle, dir).map_err(|e| {
        CliError::Other(format!("cannot write the export to {}: {e}", dir.display()))
    })?;
    out.show(&bundle.manifest, |manifest| {
        println!(
            "exported {} user(s) and {} client(s) to {}{}",
            manifest.users,
            manifest.clients,
            dir.display(),
            if include_credentials {
                " (with credentials: keep these files secret)"
            } else {
                ""
            }
        );
    })
}

pub(super) async fn import(
    svc: &Service,
    dir: &Path,
    include_credentials: bool,
    out: Output,
) -> Result<(), CliError> {
    let bundle = transfer::read_dir(dir)?;
    let report = svc
        .import_bundle(&Actor::cli(), bundle, include_credentials)
        .await?;
    out.show(&report, |report| {
        println!(
            "users: {} created, {} updated, {} unchanged; clients: {} created, {} updated, {} unchanged",
            report.users_created,
            report.users_updated,
            report.users_unchanged,
            report.clients_created,
            report.clients_updated,
            report.clients_unchanged
        );
        if report.credentials_skipped {
            println!(
                "the files carry credentials that were not imported (add --include-credentials)"
            );
        }
    })
}
