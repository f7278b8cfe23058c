//! `muse tag`: list tags, create `muse tag NAME [REV]`, delete `muse tag -d NAME`.

use std::io::Write;

use muse_core::CommitId;
use muse_store::RefName;

use super::common::short;
use super::record::{record, ref_change};
use crate::error::{CliError, CliResult, EXIT_CONFLICT, EXIT_NOT_FOUND};
use crate::output::{outln, stdout_error, Ctx};

/// Arguments of `muse tag`.
#[derive(clap::Args)]
pub struct Args {
    /// The tag to create (or delete, with -d). Without it, list tags.
    name: Option<String>,
    /// What the tag points at (default: HEAD).
    revision: Option<String>,
    /// Delete the tag.
    #[arg(short, long, requires = "name", conflicts_with = "revision")]
    delete: bool,
}

#[derive(serde::Serialize)]
struct TagJson {
    name: String,
    commit_id: CommitId,
}

/// Lists, creates or deletes tags. Tags never move: creating an existing tag is a conflict.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let Some(name) = args.name else {
        let tags: Vec<TagJson> = repo.refs().list("refs/tags/")?.into_iter().map(|(n, id)| TagJson { name: n.short().to_string(), commit_id: id }).collect();
        if ctx.json {
            return ctx.print_json(&tags);
        }
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for t in tags {
            writeln!(out, "{:<24} {}", t.name, short(t.commit_id)).map_err(stdout_error)?;
        }
        return out.flush().map_err(stdout_error);
    };
    let ref_name = RefName::tag(&name)?;
    if args.delete {
        let current = repo.refs().read(&ref_name)?.ok_or_else(|| CliError::new(EXIT_NOT_FOUND, "not_found", format!("tag '{name}' not found")))?;
        repo.refs().compare_and_swap(&ref_name, Some(current), None)?;
        record(&repo, "tag", vec![ref_change(&ref_name, Some(current), None)], vec![]);
        if ctx.json {
            return ctx.print_json(&serde_json::json!({ "deleted": name, "commit_id": current }));
        }
        outln!("Deleted tag {name} (was {})", short(current))?;
        return Ok(());
    }
    let target = repo.resolve(args.revision.as_deref().unwrap_or("HEAD"))?;
    if repo.refs().read(&ref_name)?.is_some() {
        return Err(CliError::new(EXIT_CONFLICT, "conflict", format!("tag '{name}' already exists")));
    }
    repo.refs().compare_and_swap(&ref_name, None, Some(target))?;
    record(&repo, "tag", vec![ref_change(&ref_name, None, Some(target))], vec![]);
    if ctx.json {
        return ctx.print_json(&TagJson { name, commit_id: target });
    }
    outln!("Tagged {} as {name}", short(target))?;
    Ok(())
}
