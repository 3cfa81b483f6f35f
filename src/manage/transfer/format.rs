//! The export's files: a manifest, the users and the clients, as JSON.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::manage::{ManageError, invalid};

pub const FORMAT: &str = "portcullis-export";
pub const VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const USERS_FILE: &str = "users.json";
pub const CLIENTS_FILE: &str = "clients.json";

/// The stored hash of a user imported without credentials: it parses as no known
/// format, so every password check fails until an operator sets a password.
pub const NO_PASSWORD: &str = "!";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub exported_at: i64,
    pub include_credentials: bool,
    pub users: usize,
    pub clients: usize,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExportedUser {
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub roles: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// argon2id or bcrypt PHC string; only with `include_credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExportedClient {
    pub client_id: String,
    pub client_name: String,
    pub confidential: bool,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub scope: String,
    pub token_endpoint_auth_method: String,
    #[serde(default)]
    pub first_party: bool,
    pub require_pkce: bool,
    #[serde(default)]
    pub access_token_lifetime: Option<i64>,
    #[serde(default)]
    pub refresh_token_lifetime: Option<i64>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub roles: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// RFC 8707 allow-list; absent in files written before it existed, which import as
    /// "no resources".
    #[serde(default)]
    pub resources: Vec<String>,
    /// A second factor for every user of the client; absent in files written before it
    /// existed, which import as "not required", what those clients asked for then.
    #[serde(default)]
    pub require_mfa: bool,
    /// Who registered it; absent in files written before issue 21, whose clients were
    /// all made by operators (`cli`).
    #[serde(default = "operator_origin")]
    pub origin: String,
    /// When a token was last issued to it, so a self-registered client moved to another
    /// server is not taken for idle there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    /// Metadata of a self-registered client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// base64url SHA-256 of the secret; only with `include_credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_digest: Option<String>,
    /// base64url SHA-256 of a self-registered client's registration access token (RFC
    /// 7592); only with `include_credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_token_digest: Option<String>,
}

fn operator_origin() -> String {
    "cli".to_owned()
}

/// Credentials are not the kind of thing a `{:?}` should print.
impl std::fmt::Debug for ExportedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportedUser")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ExportedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportedClient")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Everything one export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub manifest: Manifest,
    pub users: Vec<ExportedUser>,
    pub clients: Vec<ExportedClient>,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    pub users_created: usize,
    pub users_updated: usize,
    pub users_unchanged: usize,
    pub clients_created: usize,
    pub clients_updated: usize,
    pub clients_unchanged: usize,
    /// True when the files carried credentials that were left out because
    /// `include_credentials` was not given.
    pub credentials_skipped: bool,
}

/// Writes the bundle as three files; readable by the owner only when it holds credentials.
pub fn write_dir(bundle: &Bundle, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let write = |name: &str, value: serde_json::Value| -> std::io::Result<()> {
        let mut text = serde_json::to_string_pretty(&value).map_err(std::io::Error::other)?;
        text.push('\n');
        let path = dir.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        file.sync_all()
    };
    write(USERS_FILE, serde_json::to_value(&bundle.users)?)?;
    write(CLIENTS_FILE, serde_json::to_value(&bundle.clients)?)?;
    // The manifest last: a directory with a manifest holds a complete export.
    write(MANIFEST_FILE, serde_json::to_value(&bundle.manifest)?)
}

/// Reads a bundle; a malformed file is an error naming the file and the JSON path.
pub fn read_dir(dir: &Path) -> Result<Bundle, ManageError> {
    fn read<T: serde::de::DeserializeOwned>(
        dir: &Path,
        name: &'static str,
    ) -> Result<T, ManageError> {
        let path = dir.join(name);
        let text = std::fs::read(&path)
            .map_err(|e| invalid("dir", format!("cannot read {}: {e}", path.display())))?;
        let mut de = serde_json::Deserializer::from_slice(&text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            invalid(
                name,
                format!("{}: at `{}`: {}", path.display(), e.path(), e.inner()),
            )
        })
    }
    Ok(Bundle {
        manifest: read(dir, MANIFEST_FILE)?,
        users: read(dir, USERS_FILE)?,
        clients: read(dir, CLIENTS_FILE)?,
    })
}
