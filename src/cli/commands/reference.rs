//! `completions` and `man`: generated from the same clap tree as the parser, so they never
//! disagree with it. Neither loads the configuration nor opens the database.

use std::io::Write as _;
use std::path::Path;

use clap::CommandFactory as _;

use super::CliError;
use crate::cli::Cli;

pub(super) fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "portcullis", &mut buf);
    write_stdout(&buf)
}

/// The top page on stdout, or every page (`portcullis.1`, `portcullis-user-create.1`, ...)
/// into `dir`.
pub(super) fn man(dir: Option<&Path>) -> Result<(), CliError> {
    let cmd = Cli::command();
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(cmd, dir))
            .map_err(|e| CliError::Other(format!("{}: {e}", dir.display())))?;
        return Ok(());
    }
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| CliError::Other(format!("cannot render the manual page: {e}")))?;
    write_stdout(&buf)
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Other(format!("cannot write to standard output: {e}")))
}
