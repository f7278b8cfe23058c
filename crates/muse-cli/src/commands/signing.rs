//! Signing the commits this CLI makes, the key directory, and the repository's allowed-signers
//! file (`docs/formats.md` §4.1–4.2, `docs/cli.md` §Signing). Only commands that create commits
//! call [`Signer::for_commit`]; nothing else opens a private key.

use std::path::{Path, PathBuf};

use muse_core::Commit;
use muse_sign::{AllowedSigners, SignError, SigningKey};
use muse_store::commit::CommitDraft;
use muse_store::Repository;

use crate::error::{CliError, CliResult, EXIT_INVALID_INPUT, EXIT_IO, EXIT_NOT_FOUND};

/// The environment variable naming the signing key (a path, or a name in the key directory);
/// setting it turns signing on.
pub const SIGNING_KEY_ENV: &str = "MUSE_SIGNING_KEY";
/// The environment variable that overrides the key directory.
pub const KEY_DIR_ENV: &str = "MUSE_KEY_DIR";
/// The config key that turns signing on (`true`).
pub const SIGN_CONFIG: &str = "commit.sign";
/// The config key naming the signing key (a path, or a name in the key directory).
pub const KEY_CONFIG: &str = "user.signing_key";
/// The config key naming another allowed-signers file (relative to the working copy).
pub const ALLOWED_CONFIG: &str = "verify.allowed_signers";
/// The key used when none is named.
pub const DEFAULT_KEY: &str = "default";

/// `--sign` / `--no-sign`, shared by the commands that make commits.
#[derive(clap::Args, Default, Clone, Copy)]
pub struct SignFlags {
    /// Sign the commit (default: on when config commit.sign is true or $MUSE_SIGNING_KEY is set).
    #[arg(long, conflicts_with = "no_sign")]
    sign: bool,
    /// Do not sign the commit, whatever the config and environment say.
    #[arg(long)]
    no_sign: bool,
}

impl SignFlags {
    fn choice(self) -> Option<bool> {
        match (self.sign, self.no_sign) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

/// A loaded signing key.
pub struct Signer {
    key: SigningKey,
}

impl Signer {
    /// The signer of a new commit when signing is on (the flag, else `$MUSE_SIGNING_KEY` set,
    /// else config `commit.sign = true`), loaded before any work so that a missing or
    /// passphrase-protected key fails the command before it writes anything. `None` when off.
    pub fn for_commit(repo: &Repository, flags: SignFlags) -> CliResult<Option<Signer>> {
        let config = repo.config()?;
        let env_key = std::env::var(SIGNING_KEY_ENV).ok().filter(|v| !v.is_empty());
        let on = flags.choice().unwrap_or(env_key.is_some() || config.get(SIGN_CONFIG).is_some_and(|v| v == "true"));
        if !on {
            return Ok(None);
        }
        let named = env_key.or_else(|| config.get(KEY_CONFIG).cloned()).unwrap_or_else(|| DEFAULT_KEY.to_string());
        let path = key_path(&named)?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let code = if e.kind() == std::io::ErrorKind::NotFound { EXIT_NOT_FOUND } else { EXIT_IO };
            let kind = if code == EXIT_NOT_FOUND { "not_found" } else { "io" };
            CliError::new(
                code,
                kind,
                format!(
                    "cannot read the signing key {}: {e} (make one with `muse key generate`, or name one with ${SIGNING_KEY_ENV} or config {KEY_CONFIG})",
                    path.display()
                ),
            )
        })?;
        let key = SigningKey::from_openssh(&text).map_err(|e| sign_error(e, &path.display().to_string()))?;
        Ok(Some(Signer { key }))
    }

    /// The signer of a commit whose template [`Signer::prepare`] named a key (`None` when it
    /// names none): the same key, loaded again where the commit is finally written.
    pub fn for_template(repo: &Repository, template: &Commit) -> CliResult<Option<Signer>> {
        if template.signer_key_id.is_empty() {
            return Ok(None);
        }
        let signer = Signer::for_commit(repo, SignFlags { sign: true, no_sign: false })?;
        match signer {
            Some(s) if s.key.key_id() == template.signer_key_id => Ok(Some(s)),
            _ => Err(CliError::new(
                crate::error::EXIT_CONFLICT,
                "conflict",
                format!("the signing key changed while the command ran (expected {})", template.signer_key_id),
            )),
        }
    }

    /// Sets the template's `signer_key_id`: the commit will be signed by this key.
    pub fn prepare(&self, template: &mut Commit) {
        template.signer_key_id = self.key.key_id();
    }

    /// Signs a whole commit (its key id and signature).
    pub fn sign(&self, commit: &mut Commit) {
        muse_sign::sign_commit(&self.key, commit);
    }
}

/// The fields of a commit about to be written (a `muse_store::commit::Review`'s result), signed
/// by `signer` when given: its key id set, then the signature of the whole commit, with the
/// parents and snapshot of `draft`.
pub fn seal(signer: Option<&Signer>, draft: &CommitDraft<'_>, template: Commit) -> Commit {
    let Some(signer) = signer else { return template };
    let mut whole = Commit { parents: draft.parents.to_vec(), snapshot: draft.snapshot, ..template };
    signer.sign(&mut whole);
    whole
}

/// A key named by a path (it holds a `/` or starts with `.`), else by a name in the key directory.
pub fn key_path(named: &str) -> CliResult<PathBuf> {
    if named.contains('/') || named.starts_with('.') {
        return Ok(PathBuf::from(named));
    }
    Ok(key_dir()?.join(named))
}

/// Where `muse key generate` writes keys: `$MUSE_KEY_DIR`, else `$XDG_CONFIG_HOME/muse/keys`,
/// else `$HOME/.config/muse/keys`.
pub fn key_dir() -> CliResult<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var(KEY_DIR_ENV) {
        return Ok(dir);
    }
    if let Some(config) = var("XDG_CONFIG_HOME") {
        return Ok(config.join("muse").join("keys"));
    }
    var("HOME")
        .map(|home| home.join(".config").join("muse").join("keys"))
        .ok_or_else(|| CliError::invalid(format!("no key directory: set ${KEY_DIR_ENV} or $HOME")))
}

/// The repository's allowed-signers file: config `verify.allowed_signers` (relative to the
/// working copy), else `allowed_signers` in the store directory.
pub fn allowed_signers_path(repo: &Repository) -> CliResult<PathBuf> {
    Ok(match repo.config()?.get(ALLOWED_CONFIG) {
        Some(path) => repo.work_dir().join(path),
        None => repo.store().store_dir().join("allowed_signers"),
    })
}

/// The allowed signers (none when the file does not exist).
pub fn load_allowed(path: &Path) -> CliResult<AllowedSigners> {
    match std::fs::read_to_string(path) {
        Ok(text) => AllowedSigners::parse(&text).map_err(|e| sign_error(e, &path.display().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AllowedSigners::default()),
        Err(e) => Err(CliError::new(EXIT_IO, "io", format!("cannot read {}: {e}", path.display()))),
    }
}

/// Writes the allowed signers atomically (a temporary file beside it, then a rename).
pub fn save_allowed(path: &Path, signers: &AllowedSigners) -> CliResult {
    write_atomic(path, signers.render().as_bytes(), Some(0o644))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, fsynced, then
/// renamed; with `mode`, the file has those permissions from its creation.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> CliResult {
    use std::io::Write;
    let io = |e: std::io::Error| CliError::new(EXIT_IO, "io", format!("cannot write {}: {e}", path.display()));
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir).map_err(io)?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// The CLI error of a key or allowed-signers problem (exit 8, with the error's own kind).
pub fn sign_error(e: SignError, source: &str) -> CliError {
    let code = if matches!(e, SignError::Random(_)) { EXIT_IO } else { EXIT_INVALID_INPUT };
    CliError::new(code, e.kind(), format!("{source}: {e}"))
}
