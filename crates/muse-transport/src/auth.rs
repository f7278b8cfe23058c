//! Tokens: `MUSE_TOKEN`, else the credentials file that `muse auth login` writes, one token per
//! hub, readable by its owner only (mode 0600).
//!
//! The file is `credentials` in the user's muse configuration directory: `$MUSE_CONFIG_DIR`
//! when set (tests), else `$XDG_CONFIG_HOME/muse`, else `~/.config/muse`. It is JSON:
//! `{"hubs": [{"hub": "https://hub.example", "token": "muse_…", "user": "ada"}]}`, rewritten
//! atomically (temporary file, fsync, rename).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TransportError};

/// The environment variable whose token wins over the credentials file.
pub const TOKEN_ENV: &str = "MUSE_TOKEN";
/// The environment variable that overrides the configuration directory.
pub const CONFIG_DIR_ENV: &str = "MUSE_CONFIG_DIR";

/// One hub's token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The hub's base URL (`https://hub.example`, no trailing `/`).
    pub hub: String,
    /// The token (`muse_…`); never printed.
    pub token: String,
    /// The user it was issued to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("hub", &self.hub).field("token", &"<hidden>").field("user", &self.user).finish()
    }
}

#[derive(Default, Serialize, Deserialize)]
struct File {
    hubs: Vec<Credential>,
}

/// The credentials file's contents.
#[derive(Debug)]
pub struct Credentials {
    path: PathBuf,
    hubs: Vec<Credential>,
}

/// The user's muse configuration directory (see the module documentation), if one can be named.
pub fn config_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var(CONFIG_DIR_ENV).or_else(|| var("XDG_CONFIG_HOME").map(|d| d.join("muse"))).or_else(|| var("HOME").map(|h| h.join(".config").join("muse")))
}

/// A hub URL in the form tokens are kept under: scheme, authority and path, without a
/// trailing `/`. Refuses what is not `http(s)://HOST…`.
pub fn normalize_hub(url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed.strip_prefix("https://").or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && !rest.contains(['?', '#', '@']) && rest.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(trimmed.to_string())
        }
        _ => Err(TransportError::HubUrl(url.to_string())),
    }
}

impl Credentials {
    /// Reads the credentials file in the configuration directory (none yet: empty).
    pub fn load_default() -> Result<Credentials> {
        let dir = config_dir().ok_or_else(|| TransportError::Credentials {
            path: PathBuf::from("credentials"),
            reason: "no configuration directory: set HOME, XDG_CONFIG_HOME or MUSE_CONFIG_DIR".into(),
        })?;
        Credentials::load(&dir.join("credentials"))
    }

    /// Reads the credentials file at `path` (missing: empty).
    pub fn load(path: &Path) -> Result<Credentials> {
        let text = match fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials { path: path.to_path_buf(), hubs: Vec::new() }),
            Err(e) => return Err(TransportError::io("read", path, e)),
        };
        let file: File = serde_json::from_slice(&text).map_err(|e| TransportError::Credentials { path: path.to_path_buf(), reason: e.to_string() })?;
        Ok(Credentials { path: path.to_path_buf(), hubs: file.hubs })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every stored credential, sorted by hub.
    pub fn hubs(&self) -> &[Credential] {
        &self.hubs
    }

    /// The credential for the repository or hub at `url`: the one whose hub URL is the longest
    /// prefix of it (at a `/` boundary).
    pub fn for_url(&self, url: &str) -> Option<&Credential> {
        let url = url.trim_end_matches('/');
        self.hubs.iter().filter(|c| url == c.hub || url.strip_prefix(c.hub.as_str()).is_some_and(|rest| rest.starts_with('/'))).max_by_key(|c| c.hub.len())
    }

    /// Stores `token` for `hub` (already normalized), replacing any earlier one.
    pub fn set(&mut self, hub: &str, token: &str, user: Option<&str>) {
        self.hubs.retain(|c| c.hub != hub);
        self.hubs.push(Credential { hub: hub.to_string(), token: token.to_string(), user: user.map(str::to_string) });
        self.hubs.sort_by(|a, b| a.hub.cmp(&b.hub));
    }

    /// Forgets `hub`'s token; whether there was one.
    pub fn remove(&mut self, hub: &str) -> bool {
        let before = self.hubs.len();
        self.hubs.retain(|c| c.hub != hub);
        self.hubs.len() != before
    }

    /// Writes the file: mode 0600 from its creation, in a directory of mode 0700, atomically.
    pub fn save(&self) -> Result<()> {
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        let text = serde_json::to_vec_pretty(&File { hubs: self.hubs.clone() })
            .map_err(|e| TransportError::Credentials { path: self.path.clone(), reason: e.to_string() })?;
        let tmp = dir.join(format!(".credentials-{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file = private_file(&tmp)?;
            file.write_all(&text)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            TransportError::io("write", &self.path, e)
        })
    }
}

/// The token to send to the repository or hub at `url`: `MUSE_TOKEN` when set, else the
/// credentials file's.
pub fn token_for(url: &str) -> Result<Option<String>> {
    if let Some(token) = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
        return Ok(Some(token));
    }
    let Some(dir) = config_dir() else { return Ok(None) };
    Ok(Credentials::load(&dir.join("credentials"))?.for_url(url).map(|c| c.token.clone()))
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| TransportError::io("create", dir, e))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| TransportError::io("create", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubs_are_normalized() {
        assert_eq!(normalize_hub("http://127.0.0.1:8080/").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(normalize_hub("https://example.com/hub").unwrap(), "https://example.com/hub");
        for bad in ["ftp://x", "http://", "http:///x", "http://u@h", "example.com"] {
            assert!(normalize_hub(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_file_is_private_and_tokens_match_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("muse/credentials");
        let mut creds = Credentials::load(&path).unwrap();
        creds.set("http://h:1", "muse_a", Some("ada"));
        creds.set("http://h:1/sub", "muse_b", None);
        creds.save().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let creds = Credentials::load(&path).unwrap();
        assert_eq!(creds.for_url("http://h:1/ada/repo").unwrap().token, "muse_a");
        assert_eq!(creds.for_url("http://h:1/sub/ada/repo").unwrap().token, "muse_b");
        assert!(creds.for_url("http://h:10/ada/repo").is_none());
        assert!(!format!("{creds:?}").contains("muse_a"), "a token in Debug output");
        let mut creds = creds;
        assert!(creds.remove("http://h:1"));
        creds.save().unwrap();
        assert_eq!(Credentials::load(&path).unwrap().hubs().len(), 1);
        // A second save replaces the file and keeps the mode.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
