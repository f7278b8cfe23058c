//! `muse show [REV]`: one commit, its provenance and its diff against its first parent.

use std::io::Write;

use muse_store::snapshot::diff_snapshots;

use super::common::{commit_header, CommitJson};
use super::diff::{file_diffs, print_diffs, Side};
use crate::error::CliResult;
use crate::output::{stdout_error, Ctx};

/// Arguments of `muse show`.
#[derive(clap::Args)]
pub struct Args {
    /// The commit (default: HEAD), or REV:PATH for a file's bytes (a directory's entries) at REV.
    #[arg(default_value = "HEAD")]
    revision: String,
}

/// `muse show REV:PATH`: the file's bytes as they are, or a directory's entries one per line.
fn show_path(repo: &muse_store::Repository, ctx: &Ctx, rev: &str, path: &str) -> CliResult {
    let id = repo.resolve(if rev.is_empty() { "HEAD" } else { rev })?;
    let path = path.trim_matches('/');
    let snapshot = repo.objects().read_commit(&id)?.snapshot;
    let not_found = || crate::error::CliError::new(crate::error::EXIT_NOT_FOUND, "not_found", format!("path '{path}' is not in commit {id}"));
    let (kind, object) = muse_store::snapshot::lookup(repo.objects(), snapshot, path)?.ok_or_else(not_found)?;
    if kind == muse_core::EntryKind::Tree {
        let tree = repo.objects().read_tree(&muse_core::TreeId(object))?;
        if ctx.json {
            let entries: Vec<serde_json::Value> =
                tree.entries().iter().map(|e| serde_json::json!({ "name": e.name, "kind": e.kind.as_str(), "id": e.id })).collect();
            return ctx.print_json(&serde_json::json!({ "commit_id": id, "path": path, "kind": "tree", "id": object, "entries": entries }));
        }
        let mut out = std::io::stdout().lock();
        for entry in tree.entries() {
            let slash = if entry.kind == muse_core::EntryKind::Tree { "/" } else { "" };
            writeln!(out, "{}{slash}", entry.name).map_err(stdout_error)?;
        }
        return Ok(());
    }
    let data = repo.objects().read(&object)?.data;
    if ctx.json {
        let binary = muse_diff::is_binary(&data);
        let content = if binary { None } else { std::str::from_utf8(&data).ok() };
        return ctx.print_json(&serde_json::json!({ "commit_id": id, "path": path, "kind": kind.as_str(), "id": object, "size": data.len(), "binary": binary, "content": content }));
    }
    let mut out = std::io::stdout().lock();
    out.write_all(&data).and_then(|()| out.flush()).map_err(stdout_error)
}

/// Prints the commit and its changes.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    // REV:PATH (the colon of a full id's `sha256:` prefix is not the separator).
    let text = args.revision.as_str();
    let id_prefix = if text.starts_with("sha256:") { "sha256:".len() } else { 0 };
    if let Some(at) = text[id_prefix..].find(':') {
        let (rev, path) = text.split_at(id_prefix + at);
        return show_path(&repo, ctx, rev, &path[1..]);
    }
    let id = repo.resolve(&args.revision)?;
    let commit = repo.objects().read_commit(&id)?;
    let parent_snapshot = match commit.parents.first() {
        Some(p) => Some(repo.objects().read_commit(p)?.snapshot),
        None => None,
    };
    let changes = diff_snapshots(repo.objects(), parent_snapshot, Some(commit.snapshot))?;
    let files = file_diffs(&repo, &changes, Side::Store)?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({ "commit": CommitJson::new(id, &commit), "files": files }));
    }
    writeln!(std::io::stdout().lock(), "{}", commit_header(id, &commit, "")).map_err(stdout_error)?;
    print_diffs(&files)
}
