//! `muse blame PATH [REV]`: for every line, the commit that last changed it, with its provenance.

use std::collections::{BTreeSet, HashMap};
use std::io::{IsTerminal, Write};

use muse_blame::cache::cached_blame;
use muse_blame::stats::is_agent;
use muse_blame::{BlameError, BlameOptions};
use muse_core::{Commit, CommitId};
use muse_store::index::HistoryIndex;
use muse_store::Repository;

use super::common::{repo_path, short};
use crate::error::{CliError, CliResult, EXIT_INVALID_INPUT};
use crate::output::{stdout_error, Ctx};

/// Arguments of `muse blame`.
#[derive(clap::Args)]
pub struct Args {
    /// The file to blame.
    path: String,
    /// The revision (default: HEAD).
    #[arg(default_value = "HEAD")]
    revision: String,
    /// Only lines START to END (1-based, inclusive), or START,+COUNT.
    #[arg(short = 'L', value_name = "START,END")]
    lines: Option<String>,
    /// Ignore this commit's changes (repeatable): its lines go to the parent's line at the same place.
    #[arg(long = "ignore-rev", value_name = "REV")]
    ignore_revs: Vec<String>,
    /// Ignore the commits listed in FILE (one revision per line; `#` comments; git ids of an
    /// imported history are mapped through the import).
    #[arg(long = "ignore-revs-file", value_name = "FILE")]
    ignore_revs_file: Option<std::path::PathBuf>,
}

/// The `--json` document (docs/cli.md), serialized directly rather than through a
/// `serde_json::Value` (which copied every line's fields once more); keys in the order they
/// always had.
#[derive(serde::Serialize)]
struct BlameJson<'a> {
    cached: bool,
    commit_id: CommitId,
    lines: &'a [LineJson<'a>],
    path: &'a str,
}

/// One blamed line as `--json` prints it (docs/cli.md).
#[derive(serde::Serialize)]
/// Fields in alphabetical order, the order the output has always had.
struct LineJson<'a> {
    agent_id: &'a str,
    author: &'a str,
    commit_id: CommitId,
    committed_at: &'a str,
    content: String,
    kind: &'static str,
    line: u32,
    model_id: &'a str,
    orig_line: u32,
    orig_path: &'a str,
    toolchain_id: &'a str,
}

/// Maps a blame failure to its exit code: a binary file or a range outside the file is invalid
/// input (8, kinds `binary_file` and `invalid_input`); a missing path is not found (4).
pub fn blame_error(e: BlameError) -> CliError {
    match e {
        BlameError::Store(e) => e.into(),
        BlameError::PathNotFound { .. } => CliError::new(crate::error::EXIT_NOT_FOUND, "not_found", e.to_string()),
        BlameError::Binary { .. } => CliError::new(EXIT_INVALID_INPUT, "binary_file", e.to_string()),
        BlameError::NotAFile { .. } | BlameError::BadRange { .. } => CliError::invalid(e.to_string()),
    }
}

/// Parses `START,END` or `START,+COUNT`.
fn parse_range(text: &str) -> CliResult<(u32, u32)> {
    let bad = || CliError::new(crate::error::EXIT_USAGE, "usage", format!("-L {text}: expected START,END or START,+COUNT (1-based)"));
    let (start, end) = text.split_once(',').ok_or_else(bad)?;
    let start: u32 = start.parse().map_err(|_| bad())?;
    let end: u32 = match end.strip_prefix('+') {
        Some(count) => start.checked_add(count.parse::<u32>().map_err(|_| bad())?.saturating_sub(1)).ok_or_else(bad)?,
        None => end.parse().map_err(|_| bad())?,
    };
    Ok((start, end))
}

/// The commits to ignore: `--ignore-rev`s and the lines of `--ignore-revs-file`.
fn ignored(repo: &Repository, args: &Args) -> CliResult<BTreeSet<CommitId>> {
    let mut revs: Vec<String> = args.ignore_revs.clone();
    if let Some(file) = &args.ignore_revs_file {
        let text = std::fs::read_to_string(file).map_err(|e| CliError::new(crate::error::EXIT_IO, "io", format!("read {}: {e}", file.display())))?;
        revs.extend(text.lines().map(|l| l.split('#').next().unwrap_or("").trim().to_string()).filter(|l| !l.is_empty()));
    }
    // The import's map (docs/import-git.md): "<git id> sha256:<muse id>" lines.
    let git_map: HashMap<String, CommitId> = if revs.iter().any(|r| is_git_id(r)) {
        std::fs::read_to_string(repo.store_dir().join("import/git-map"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter_map(|(git, muse)| Some((git.to_string(), CommitId::parse(muse).ok()?)))
            .collect()
    } else {
        HashMap::new()
    };
    let mut out = BTreeSet::new();
    for rev in revs {
        let mapped = git_map.get(&rev.to_ascii_lowercase()).copied();
        out.insert(match mapped {
            Some(id) => id,
            None => repo.resolve(&rev)?,
        });
    }
    Ok(out)
}

fn is_git_id(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A colour per model (agent lines), none for human lines, when stdout is a terminal.
fn colour(commit: &Commit) -> &'static str {
    const COLOURS: [&str; 6] = ["\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[32m", "\x1b[34m", "\x1b[31m"];
    if !is_agent(commit) {
        return "";
    }
    let key = if commit.model_id.is_empty() { &commit.agent_id } else { &commit.model_id };
    COLOURS[key.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize)) % COLOURS.len()]
}

/// Blames and prints.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let commit = repo.resolve(&args.revision)?;
    let path = repo_path(&repo, &ctx.cwd, &args.path)?;
    let options = BlameOptions { ignore: ignored(&repo, &args)?, lines: args.lines.as_deref().map(parse_range).transpose()? };
    let index = HistoryIndex::open(&repo, &[commit])?;
    let (blame, cached) = cached_blame(&repo, &index, commit, &path, &options).map_err(blame_error)?;
    let mut commits: HashMap<CommitId, Commit> = HashMap::new();
    for line in &blame.lines {
        if let std::collections::hash_map::Entry::Vacant(slot) = commits.entry(line.commit) {
            slot.insert(repo.objects().read_commit(&line.commit)?);
        }
    }
    if ctx.json {
        let texts = blame.texts();
        let lines: Vec<LineJson> = blame
            .lines
            .iter()
            .map(|l| {
                let c = &commits[&l.commit];
                LineJson {
                    line: l.line,
                    content: String::from_utf8_lossy(texts.get(l.line as usize - 1).copied().unwrap_or_default()).into_owned(),
                    commit_id: l.commit,
                    orig_line: l.orig_line,
                    orig_path: &l.orig_path,
                    author: &c.author,
                    agent_id: &c.agent_id,
                    model_id: &c.model_id,
                    toolchain_id: &c.toolchain_id,
                    committed_at: &c.committed_at,
                    kind: if is_agent(c) { "agent" } else { "human" },
                }
            })
            .collect();
        return ctx.print_json(&BlameJson { cached, commit_id: blame.commit, lines: &lines, path: &blame.path });
    }
    let colours = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let texts = blame.texts();
    let who = |c: &Commit| -> String {
        if is_agent(c) {
            if c.model_id.is_empty() {
                c.agent_id.clone()
            } else {
                c.model_id.clone()
            }
        } else {
            c.author.split(" <").next().unwrap_or(&c.author).to_string()
        }
    };
    let width = commits.values().map(|c| who(c).chars().count()).max().unwrap_or(0).min(24);
    let digits = blame.lines.last().map_or(1, |l| l.line.to_string().len());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in &blame.lines {
        let c = &commits[&line.commit];
        let name: String = who(c).chars().take(width).collect();
        let date = c.committed_at.get(..10).unwrap_or(&c.committed_at);
        let text = String::from_utf8_lossy(texts.get(line.line as usize - 1).copied().unwrap_or_default());
        let (on, off) = if colours && !colour(c).is_empty() { (colour(c), "\x1b[0m") } else { ("", "") };
        writeln!(out, "{on}{} ({name:<width$} {date} {:>digits$}){off} {text}", short(line.commit), line.line).map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)
}
