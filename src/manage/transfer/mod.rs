//! Export and import of clients and users (with their roles) as JSON files in a
//! directory, for backups, moving between backends (SQLite -> Postgres) and seeding
//! environments.
//!
//! - Signing keys are never exported: they are sealed under this deployment's master key
//!   and a new deployment makes its own.
//! - Password hashes and client secret digests travel only with `include_credentials`, on
//!   export and on import alike.
//! - Import is all-or-nothing (one transaction, audit rows included) and idempotent:
//!   objects are matched by `id` / `client_id`, created or updated, never deleted, and
//!   importing the same files twice changes nothing the second time.

//!
//! `format` is the files (what they hold, reading and writing them); `export` reads the
//! database into a bundle; `import` checks a bundle with the rules `user create` and
//! `client create` apply and writes it in one transaction.

mod export;
mod format;
mod import;

pub use format::{
    Bundle, CLIENTS_FILE, ExportedClient, ExportedUser, FORMAT, ImportReport, MANIFEST_FILE,
    Manifest, NO_PASSWORD, USERS_FILE, VERSION, read_dir, write_dir,
};
