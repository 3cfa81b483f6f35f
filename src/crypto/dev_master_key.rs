//! The development master key: with a loopback issuer and no configured master key, one
//! is generated once into `keys/master.key` (mode 0600, git-ignored) so `cargo run` works
//! with no set-up. Production refuses to start without a configured key (`config::validate`).

use std::io::Write;
use std::path::Path;

use super::key_material::{MasterKey, MasterKeys};
use crate::private_files;

#[derive(Debug, thiserror::Error)]
pub enum DevKeyError {
    #[error("cannot read or write the development master key {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the development master key {path} is not valid: {reason}")]
    Invalid { path: String, reason: String },
}

pub fn load_or_create(path: &Path) -> Result<MasterKeys, DevKeyError> {
    let shown = path.display().to_string();
    let io = |source| DevKeyError::Io {
        path: shown.clone(),
        source,
    };
    if !path.exists() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Closed to others like the key file itself (an existing one is kept).
            private_files::create_dir(dir).map_err(io)?;
        }
        let key = MasterKey::generate().map_err(|e| DevKeyError::Invalid {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        // Write a temporary file, then link it into place: two processes starting at
        // once end up with the same key, never a half-written or overwritten one.
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        {
            let mut file = private_files::create_new(&tmp).map_err(io)?;
            file.write_all(key.to_base64().as_bytes()).map_err(io)?;
            file.write_all(b"\n").map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        let linked = std::fs::hard_link(&tmp, path);
        let _removed = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                tracing::warn!(
                    path = %shown,
                    fingerprint = %key.fingerprint(),
                    "generated a DEVELOPMENT master key; configure keys.master_keys for anything but local development"
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(e)),
        }
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let key = MasterKey::from_base64(text.trim()).map_err(|e| DevKeyError::Invalid {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    tracing::warn!(
        path = %shown,
        fingerprint = %key.fingerprint(),
        "using the DEVELOPMENT master key file"
    );
    Ok(MasterKeys::from(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("master.key");
        let first = load_or_create(&path).unwrap();
        let second = load_or_create(&path).unwrap();
        assert_eq!(first.fingerprints(), second.fingerprints());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Only the key file is left behind.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        std::fs::write(&path, "not base64!").unwrap();
        let err = load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("not valid"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not base64!");
    }
}
