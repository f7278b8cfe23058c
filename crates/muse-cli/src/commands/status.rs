//! `muse status`: how the working copy differs from HEAD.

use std::io::Write;

use muse_core::Tree;
use muse_store::worktree::scan_reporting;
use muse_store::Head;

use super::common::{change_word, save_cache_or_warn, warn_skipped};
use crate::error::CliResult;
use crate::output::{stdout_error, Ctx};

/// Arguments of `muse status`.
#[derive(clap::Args)]
pub struct Args {
    /// One line per change: a status letter and the path (quoted, with C escapes, when it holds
    /// a control character, a double quote or a backslash).
    #[arg(short, long)]
    short: bool,
    /// Like `--short`, but each entry ends with a NUL byte and paths are never quoted.
    #[arg(short = 'z')]
    nul: bool,
}

#[derive(serde::Serialize)]
struct StatusJson {
    branch: Option<String>,
    head: Option<muse_core::CommitId>,
    workspace: Option<String>,
    clean: bool,
    changes: Vec<ChangeJson>,
    skipped: Vec<SkippedJson>,
    nested: Vec<String>,
    /// The stopped merge, cherry-pick or revert, if any (docs/cli.md §Merging).
    merge: Option<MergeJson>,
}

#[derive(serde::Serialize)]
struct MergeJson {
    kind: muse_merge::state::StepKind,
    rev: String,
    rev_commit: muse_core::CommitId,
    /// Conflicted paths, sorted, each once.
    conflicts: Vec<String>,
    /// Revisions a `merge --continue` goes on to merge.
    remaining: Vec<String>,
}

#[derive(serde::Serialize)]
struct SkippedJson {
    path: String,
    reason: String,
}

#[derive(serde::Serialize)]
struct ChangeJson {
    path: String,
    status: &'static str,
    kind: Option<muse_core::EntryKind>,
}

/// Scans the working copy (refreshing the stat cache) and prints the changes.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    muse_store::worktree::operation::ensure_none_pending(&repo, "status")?;
    let head = repo.head()?;
    let head_commit = repo.head_commit()?;
    let merge = muse_merge::state::MergeState::read(&repo)?.map(|state| {
        let mut conflicts: Vec<String> = state.conflicts.iter().map(|c| c.path.clone()).collect();
        conflicts.sort();
        conflicts.dedup();
        MergeJson { kind: state.kind, rev: state.theirs_label, rev_commit: state.theirs, conflicts, remaining: state.remaining }
    });
    let base = match head_commit {
        Some(id) => repo.objects().read_commit(&id)?.snapshot,
        None => Tree::empty_id(),
    };
    let bar = ctx.progress(None, "scanning");
    let mut result = scan_reporting(&repo, base, None, &crate::output::hashing_progress(&bar))?;
    bar.finish_and_clear();
    save_cache_or_warn(&repo, &result);
    let branch = match &head {
        Head::Branch(name) => Some(name.short().to_string()),
        Head::Detached(_) => None,
    };
    let changes: Vec<ChangeJson> = result
        .changes
        .iter()
        .map(|c| ChangeJson { path: c.path.clone(), status: change_word(c.base, c.work), kind: c.work.or(c.base).map(|(k, _)| k) })
        .collect();
    let skipped = std::mem::take(&mut result.skipped);
    let nested = std::mem::take(&mut result.nested);
    // The scan holds one entry per file; the process ends right after printing, and freeing
    // 100,000 paths one by one would cost a good share of a clean status.
    std::mem::forget(result);
    if ctx.json {
        let skipped: Vec<SkippedJson> =
            skipped.iter().map(|s| SkippedJson { path: s.path.to_string_lossy().into_owned(), reason: s.reason.to_string() }).collect();
        return ctx.print_json(&StatusJson {
            branch,
            head: head_commit,
            workspace: repo.workspace().map(str::to_string),
            clean: changes.is_empty() && skipped.is_empty(),
            changes,
            skipped,
            nested,
            merge,
        });
    }
    warn_skipped(&skipped);
    for dir in &nested {
        eprintln!("warning: {dir} holds a nested repository (its own .muse); the files of it that this working copy tracks stay tracked");
    }
    // Buffered, and a closed pipe (`muse status | head`) ends the command quietly.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.short || args.nul {
        for path in merge.iter().flat_map(|m| &m.conflicts) {
            if args.nul {
                write!(out, "U {path}\0").map_err(stdout_error)?;
            } else {
                writeln!(out, "U {}", quote_path(path)).map_err(stdout_error)?;
            }
        }
        for c in &changes {
            let letter = match c.status {
                "added" => 'A',
                "deleted" => 'D',
                "type_changed" => 'T',
                _ => 'M',
            };
            if args.nul {
                write!(out, "{letter} {}\0", c.path).map_err(stdout_error)?;
            } else {
                writeln!(out, "{letter} {}", quote_path(&c.path)).map_err(stdout_error)?;
            }
        }
        return out.flush().map_err(stdout_error);
    }
    match (&branch, head_commit) {
        (Some(b), Some(_)) => writeln!(out, "On branch {b}"),
        (Some(b), None) => writeln!(out, "On branch {b} (no commits yet)"),
        (None, Some(id)) => writeln!(out, "HEAD detached at {}", id.0.short(12)),
        (None, None) => Ok(()),
    }
    .map_err(stdout_error)?;
    if let Some(m) = &merge {
        let command = m.kind.command();
        writeln!(out, "A {command} of {} stopped on conflicts: fix them, then `muse {command} --continue` (or `muse {command} --abort`)", m.rev)
            .map_err(stdout_error)?;
        writeln!(out, "Unmerged paths:").map_err(stdout_error)?;
        for path in &m.conflicts {
            writeln!(out, "  {:<13}{}", "conflicted:", quote_path(path)).map_err(stdout_error)?;
        }
    }
    if changes.is_empty() && !skipped.is_empty() {
        writeln!(out, "no changes in the files that could be read ({} path(s) skipped)", skipped.len()).map_err(stdout_error)?;
    } else if changes.is_empty() {
        writeln!(out, "nothing to commit, working copy clean").map_err(stdout_error)?;
    } else {
        writeln!(out, "Changes to be committed (everything not in .museignore):").map_err(stdout_error)?;
        for c in &changes {
            writeln!(out, "  {:<13}{}", format!("{}:", c.status.replace('_', " ")), quote_path(&c.path)).map_err(stdout_error)?;
        }
    }
    out.flush().map_err(stdout_error)
}

/// A path as one unambiguous line: unchanged unless it holds a control character, a double
/// quote or a backslash; then in double quotes with C escapes (newline, tab, carriage return,
/// quote, backslash, and three-digit octal for other control bytes), as git prints such names.
/// Other UTF-8 is printed as it is.
fn quote_path(path: &str) -> std::borrow::Cow<'_, str> {
    if !path.chars().any(|c| c.is_control() || c == '"' || c == '\\') {
        return std::borrow::Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len() + 2);
    out.push('"');
    for c in path.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:03o}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::quote_path;

    #[test]
    fn paths_are_quoted_only_when_a_line_could_be_misread() {
        assert_eq!(quote_path("src/ünï code.rs"), "src/ünï code.rs");
        assert_eq!(quote_path("a\nb"), "\"a\\nb\"");
        assert_eq!(quote_path("say \"hi\"\\x\t\u{1}"), "\"say \\\"hi\\\"\\\\x\\t\\001\"");
    }
}
