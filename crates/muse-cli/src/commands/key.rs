//! `muse key generate|list|allow|revoke`: signing keys and the repository's allowed signers
//! (`docs/cli.md` §Signing). `list`, `allow` and `revoke` read public keys only.

use std::path::{Path, PathBuf};

use muse_sign::{AllowedSigner, Bound, PublicKey, SigningKey};

use super::signing::{allowed_signers_path, key_dir, load_allowed, save_allowed, sign_error, write_atomic, DEFAULT_KEY};
use crate::error::{CliError, CliResult, EXIT_CONFLICT, EXIT_IO, EXIT_NOT_FOUND};
use crate::output::{outln, Ctx};

/// Arguments of `muse key`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: KeyCommand,
}

/// The `key` subcommands.
#[derive(clap::Subcommand)]
enum KeyCommand {
    /// Make a new Ed25519 key in the key directory (the private key is never printed).
    Generate {
        /// The key's file name in the key directory (an agent's id, say).
        #[arg(long, default_value = DEFAULT_KEY)]
        name: String,
        /// The comment in the public key (default: the name).
        #[arg(long)]
        comment: Option<String>,
    },
    /// List the keys of the key directory and the repository's allowed signers.
    List,
    /// Allow a public key to sign for an identity (a person's e-mail or agent:ID).
    Allow {
        /// The OpenSSH public key file (`ssh-ed25519 …`, e.g. KEY.pub).
        pubkey_file: PathBuf,
        /// An e-mail address (people) or agent:ID (agents); repeatable.
        #[arg(long = "identity", value_name = "ID", required = true)]
        identities: Vec<String>,
        /// Only for agent commits of these model ids (comma-separated).
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Only for commits made at or after this date, YYYYMMDD[HHMM[SS]] UTC.
        #[arg(long, value_name = "DATE")]
        valid_after: Option<String>,
        /// Only for commits made before this date, YYYYMMDD[HHMM[SS]] UTC.
        #[arg(long, value_name = "DATE")]
        valid_before: Option<String>,
    },
    /// Revoke a key: every commit it signed verifies as revoked.
    Revoke {
        /// The key: its id (SHA256:…) or its public key file.
        key: String,
    },
}

/// Runs a `key` subcommand.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    match args.command {
        KeyCommand::Generate { name, comment } => generate(ctx, &name, comment.as_deref()),
        KeyCommand::List => list(ctx),
        KeyCommand::Allow { pubkey_file, identities, models, valid_after, valid_before } => {
            let public = read_public(&ctx.cwd.join(&pubkey_file))?;
            let invalid = |e| sign_error(e, "muse key allow");
            let mut entry = AllowedSigner::new(identities, public).map_err(invalid)?.with_models(models).map_err(invalid)?;
            let bound = |text: Option<String>| text.map(|t| Bound::parse(&t).map_err(CliError::invalid)).transpose();
            entry.valid_after = bound(valid_after)?;
            entry.valid_before = bound(valid_before)?;
            allow(ctx, entry)
        }
        KeyCommand::Revoke { key } => revoke(ctx, &key),
    }
}

/// The JSON of a key in the key directory.
#[derive(serde::Serialize)]
struct KeyJson {
    name: String,
    key_id: String,
    public_key: String,
    public_key_path: PathBuf,
    private_key_path: PathBuf,
    has_private_key: bool,
}

/// The JSON of an allowed-signers entry.
#[derive(serde::Serialize)]
struct EntryJson {
    identities: Vec<String>,
    models: Vec<String>,
    valid_after: Option<String>,
    valid_before: Option<String>,
    revoked: bool,
    key_id: String,
    public_key: String,
    comment: String,
}

impl EntryJson {
    fn new(e: &AllowedSigner) -> Self {
        EntryJson {
            identities: e.principals.clone(),
            models: e.models.clone(),
            valid_after: e.valid_after.as_ref().map(|b| b.as_str().to_string()),
            valid_before: e.valid_before.as_ref().map(|b| b.as_str().to_string()),
            revoked: e.revoked,
            key_id: e.key.key_id(),
            public_key: e.key.to_openssh(),
            comment: e.comment.clone(),
        }
    }
}

fn io_error(path: &Path, e: std::io::Error) -> CliError {
    CliError::new(EXIT_IO, "io", format!("{}: {e}", path.display()))
}

fn read_public(path: &Path) -> CliResult<PublicKey> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CliError::new(EXIT_NOT_FOUND, "not_found", format!("no public key file {}", path.display())),
        _ => io_error(path, e),
    })?;
    PublicKey::from_openssh(&text).map_err(|e| sign_error(e, &path.display().to_string()))
}

fn generate(ctx: &Ctx, name: &str, comment: Option<&str>) -> CliResult {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) || name.ends_with(".pub") {
        return Err(CliError::invalid(format!("key name {name:?} must be a plain file name (no /, no leading dot, no .pub)")));
    }
    let dir = key_dir()?;
    std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| io_error(&dir, e))?;
    }
    let (private_path, public_path) = (dir.join(name), dir.join(format!("{name}.pub")));
    if private_path.exists() || public_path.exists() {
        return Err(CliError::new(EXIT_CONFLICT, "conflict", format!("a key named {name} exists already in {}", dir.display())));
    }
    let key = SigningKey::generate().map_err(|e| sign_error(e, "muse key generate"))?;
    let comment = comment.unwrap_or(name);
    let private = key.to_openssh(comment).map_err(|e| sign_error(e, "muse key generate"))?;
    let public = format!("{} {comment}\n", key.public_key().to_openssh());
    write_atomic(&public_path, public.as_bytes(), Some(0o644))?;
    write_atomic(&private_path, private.as_bytes(), Some(0o600))?;
    let json = KeyJson {
        name: name.to_string(),
        key_id: key.key_id(),
        public_key: key.public_key().to_openssh(),
        public_key_path: public_path,
        private_key_path: private_path,
        has_private_key: true,
    };
    if ctx.json {
        return ctx.print_json(&json);
    }
    outln!("generated key {} ({})", json.name, json.key_id)?;
    outln!("private key: {} (never share it)", json.private_key_path.display())?;
    outln!("public key:  {}", json.public_key_path.display())?;
    Ok(())
}

/// The keys of the key directory, by name, read from their `.pub` files alone.
fn directory_keys() -> CliResult<Vec<KeyJson>> {
    let dir = key_dir()?;
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(&dir, e)),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| io_error(&dir, e))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".pub")).map(str::to_string) else { continue };
        let Ok(public) = read_public(&path) else { continue };
        let private_key_path = dir.join(&name);
        keys.push(KeyJson {
            key_id: public.key_id(),
            public_key: public.to_openssh(),
            public_key_path: path,
            has_private_key: private_key_path.is_file(),
            private_key_path,
            name,
        });
    }
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(keys)
}

fn list(ctx: &Ctx) -> CliResult {
    let keys = directory_keys()?;
    let allowed = match ctx.repo() {
        Ok(repo) => {
            let path = allowed_signers_path(&repo)?;
            let entries: Vec<EntryJson> = load_allowed(&path)?.entries().map(EntryJson::new).collect();
            Some((path, entries))
        }
        Err(e) if e.kind == "not_a_repository" => None,
        Err(e) => return Err(e),
    };
    if ctx.json {
        let allowed = allowed.map(|(path, entries)| serde_json::json!({ "path": path, "entries": entries }));
        return ctx.print_json(&serde_json::json!({ "key_dir": key_dir()?, "keys": keys, "allowed_signers": allowed }));
    }
    for k in &keys {
        let private = if k.has_private_key { "" } else { " (public only)" };
        outln!("{}\t{}{private}", k.name, k.key_id)?;
    }
    if let Some((path, entries)) = allowed {
        outln!("allowed signers ({}):", path.display())?;
        for e in entries {
            let mut conditions = Vec::new();
            if !e.models.is_empty() {
                conditions.push(format!("models {}", e.models.join(",")));
            }
            if let Some(after) = &e.valid_after {
                conditions.push(format!("from {after}"));
            }
            if let Some(before) = &e.valid_before {
                conditions.push(format!("before {before}"));
            }
            if e.revoked {
                conditions.push("revoked".into());
            }
            let conditions = if conditions.is_empty() { String::new() } else { format!(" ({})", conditions.join(", ")) };
            outln!("  {}\t{}{conditions}", e.identities.join(","), e.key_id)?;
        }
    }
    Ok(())
}

fn allow(ctx: &Ctx, entry: AllowedSigner) -> CliResult {
    let repo = ctx.repo()?;
    let path = allowed_signers_path(&repo)?;
    let mut signers = load_allowed(&path)?;
    let json = EntryJson::new(&entry);
    signers.add(entry);
    save_allowed(&path, &signers)?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({ "path": path, "entry": json }));
    }
    outln!("allowed {} to sign for {} in {}", json.key_id, json.identities.join(", "), path.display())?;
    Ok(())
}

fn revoke(ctx: &Ctx, key: &str) -> CliResult {
    let repo = ctx.repo()?;
    let key_id = if key.starts_with("SHA256:") { key.to_string() } else { read_public(&ctx.cwd.join(key))?.key_id() };
    let path = allowed_signers_path(&repo)?;
    let mut signers = load_allowed(&path)?;
    let count = signers.revoke(&key_id);
    if count == 0 {
        return Err(CliError::new(EXIT_NOT_FOUND, "not_found", format!("no allowed signer in {} has the key {key_id}", path.display())));
    }
    save_allowed(&path, &signers)?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({ "path": path, "key_id": key_id, "entries_revoked": count }));
    }
    outln!("revoked {key_id} ({count} entr{})", if count == 1 { "y" } else { "ies" })?;
    Ok(())
}
