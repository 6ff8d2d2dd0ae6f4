//! Random keys kept in the data directory, readable by their owner only. A key file that is
//! there but unreadable or damaged is an error, never replaced: a new key would silently
//! invalidate everything made with the old one (signed URLs, sealed tokens).

use std::path::Path;

/// The key in `path` (64 hex characters = 32 bytes), created on first use.
pub fn load_or_create(path: &Path) -> Result<String, String> {
    match std::fs::read_to_string(path) {
        Ok(existing) if existing.trim().len() >= 64 => return Ok(existing.trim().to_owned()),
        Ok(_) => {
            return Err(format!(
                "{} is damaged (shorter than 64 characters)",
                path.display()
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let key = hex::encode(viral_core::ids::random_bytes::<32>());
    write_private(path, &key).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_kept_private_and_never_replaced_when_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/a.key");
        let first = load_or_create(&path).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        std::fs::write(&path, "short").unwrap();
        assert!(load_or_create(&path).unwrap_err().contains("damaged"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short");
    }
}
