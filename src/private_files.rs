//! Directories and files only this account can open. The mode is given when each is
//! made, never by a chmod afterwards, so no other local account can open one in between;
//! what exists already keeps the mode its owner gave it. Used for everything that holds a
//! secret on disk: the SQLite database, the development master key, the first admin's
//! password file and backups.

use std::fs::File;
use std::io;
use std::path::Path;

/// Makes `dir` and any missing parents with mode 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes `path`, which must not exist yet (`AlreadyExists` otherwise), with mode 0600,
/// open for writing.
pub fn create_new(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}
