//! `muse log [REV…] [-- PATH…]`: history, newest first; with paths, only commits that changed
//! them; revisions may be ranges (`A..B`, `A...B`, `^A`); each commit optionally with its
//! `--stat` or patch, beside an ASCII `--graph`.

use std::collections::HashMap;
use std::io::Write;

use muse_core::{Commit, CommitId};
use muse_store::history::LogWalk;
use muse_store::index::HistoryIndex;
use muse_store::snapshot::diff_snapshots;
use muse_store::{Head, Repository};

use super::common::{commit_header, repo_path, short, CommitJson};
use super::diff::{file_diffs, stat, write_diffs, write_stat, FileDiffJson, Side, StatJson};
use super::graph::{shown_parents, topological, Graph};
use super::verify::{allowed_entries, verify_commit, VerificationJson};
use crate::error::{CliError, CliResult};
use crate::output::{stdout_error, Ctx};

/// Arguments of `muse log`.
#[derive(clap::Args)]
pub struct Args {
    /// Where to start (default: HEAD): revisions, `^REV` to leave out REV's history, `A..B`
    /// (B's history without A's) or `A...B` (either's without what both share).
    revisions: Vec<String>,
    /// Start from every branch, tag and remote-tracking ref as well.
    #[arg(long)]
    all: bool,
    /// Show at most N commits.
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    max_count: Option<usize>,
    /// One line per commit: short id, bump, model and subject.
    #[arg(long)]
    oneline: bool,
    /// Follow only the first parent of merges (with paths: changes against the first parent).
    #[arg(long)]
    first_parent: bool,
    /// Only commits whose author contains TEXT.
    #[arg(long, value_name = "TEXT")]
    author: Option<String>,
    /// Only commits by this agent (`human`: commits with neither agent nor model).
    #[arg(long, value_name = "AGENT")]
    agent: Option<String>,
    /// Only commits by this model (`human`: commits with neither agent nor model).
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Only commits made at or after DATE (RFC 3339, or YYYY-MM-DD for midnight UTC).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// After each commit, the files it changed against its first parent, with lines added and removed.
    #[arg(long)]
    stat: bool,
    /// After each commit, its changes against its first parent as a unified diff.
    #[arg(short = 'p', long = "patch")]
    patch: bool,
    /// Draw the commit graph in ASCII beside the log (children before their parents).
    #[arg(long)]
    graph: bool,
    /// Verify each commit's signature against the allowed signers and show the status.
    #[arg(long)]
    show_signature: bool,
    /// Only commits that changed these paths.
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<String>,
}

/// The revisions of a `log` command line: where the walk starts, and what it leaves out.
#[derive(Default)]
struct Range {
    /// The walk starts here.
    include: Vec<CommitId>,
    /// Their history is left out (`^A`, the `A` of `A..B`).
    exclude: Vec<CommitId>,
    /// For each `A...B`: the history both share is left out.
    symmetric: Vec<(CommitId, CommitId)>,
}

impl Range {
    /// Parses `REV`, `^REV`, `A..B` and `A...B` (an empty side is HEAD, as in git).
    fn parse(repo: &Repository, revisions: &[String]) -> CliResult<Range> {
        let mut range = Range::default();
        let resolve = |rev: &str| repo.resolve(if rev.is_empty() { "HEAD" } else { rev });
        for rev in revisions {
            if let Some((a, b)) = rev.split_once("...") {
                let (a, b) = (resolve(a)?, resolve(b)?);
                range.include.extend([a, b]);
                range.symmetric.push((a, b));
            } else if let Some((a, b)) = rev.split_once("..") {
                range.exclude.push(resolve(a)?);
                range.include.push(resolve(b)?);
            } else if let Some(excluded) = rev.strip_prefix('^') {
                range.exclude.push(repo.resolve(excluded)?);
            } else {
                range.include.push(repo.resolve(rev)?);
            }
        }
        Ok(range)
    }

    /// Whether anything is left out.
    fn hides(&self) -> bool {
        !self.exclude.is_empty() || !self.symmetric.is_empty()
    }

    /// The commits left out, as a mask by index position.
    fn hidden(&self, index: &HistoryIndex) -> CliResult<Vec<bool>> {
        let mut hidden = index.ancestors(&self.exclude)?;
        for (a, b) in &self.symmetric {
            let (of_a, of_b) = (index.ancestors(&[*a])?, index.ancestors(&[*b])?);
            for ((hide, a), b) in hidden.iter_mut().zip(of_a).zip(of_b) {
                *hide |= a && b;
            }
        }
        Ok(hidden)
    }
}

/// One commit of `log --json`: the commit object, with `stat` under `--stat` and `files` (as in
/// `show --json`) under `--patch`.
#[derive(serde::Serialize)]
struct EntryJson<'a> {
    #[serde(flatten)]
    commit: CommitJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stat: Option<StatJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<Vec<FileDiffJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification: Option<VerificationJson>,
}

/// The changes of `commit` against its first parent (none for a merge, as `git log -p` shows
/// none by default), when `--stat` or `--patch` asks for them.
fn changes(repo: &Repository, commit: &Commit, args: &Args) -> CliResult<Option<Vec<FileDiffJson>>> {
    if !(args.stat || args.patch) {
        return Ok(None);
    }
    if commit.parents.len() > 1 {
        return Ok(Some(Vec::new()));
    }
    let parent_snapshot = match commit.parents.first() {
        Some(p) => Some(repo.objects().read_commit(p)?.snapshot),
        None => None,
    };
    let changes = diff_snapshots(repo.objects(), parent_snapshot, Some(commit.snapshot))?;
    file_diffs(repo, &changes, Side::Store).map(Some)
}

/// The text of one log entry (without the graph), every line ending in `\n`.
fn entry_text(
    id: CommitId,
    commit: &Commit,
    decoration: &str,
    files: Option<&[FileDiffJson]>,
    args: &Args,
    signature: Option<&VerificationJson>,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    if args.oneline {
        let warn = if commit.breaking_changes.is_empty() { "" } else { " ⚠" };
        let model = if commit.model_id.is_empty() { String::new() } else { format!(" [{}]", commit.model_id) };
        let status = signature.map(|s| format!(" {}", s.status.as_str())).unwrap_or_default();
        writeln!(out, "{}{decoration}{status} {}{warn}{model} {}", short(id), commit.sem_ver_bump, commit.message.lines().next().unwrap_or(""))?;
    } else {
        let header = commit_header(id, commit, decoration);
        match (signature, header.split_once('\n')) {
            (Some(signature), Some((first, rest))) => write!(out, "{first}\nSignature: {}\n{rest}", signature.text())?,
            _ => out.extend_from_slice(header.as_bytes()),
        }
    }
    if let Some(files) = files.filter(|f| !f.is_empty()) {
        if args.stat {
            if !args.oneline {
                out.push(b'\n');
            }
            write_stat(&mut out, &stat(files))?;
        }
        if args.patch {
            out.push(b'\n');
            write_diffs(&mut out, files)?;
        }
    }
    Ok(out)
}

/// The `--author/--agent/--model/--since` filter: whether `commit` passes.
struct Filter {
    author: Option<String>,
    agent: Option<String>,
    model: Option<String>,
    since: Option<(i64, u32)>,
}

impl Filter {
    fn new(args: &Args) -> CliResult<Filter> {
        let since = match &args.since {
            None => None,
            Some(text) => {
                let full = if text.len() == 10 { format!("{text}T00:00:00Z") } else { text.clone() };
                Some(
                    muse_core::rfc3339_to_unix(&full)
                        .ok_or_else(|| crate::error::CliError::invalid(format!("--since {text}: expected an RFC 3339 date-time or YYYY-MM-DD")))?,
                )
            }
        };
        Ok(Filter { author: args.author.clone(), agent: args.agent.clone(), model: args.model.clone(), since })
    }

    fn passes(&self, commit: &muse_core::Commit) -> bool {
        let human = commit.agent_id.is_empty() && commit.model_id.is_empty();
        let matches = |wanted: &Option<String>, value: &str| wanted.as_ref().is_none_or(|w| if w == "human" { human } else { w == value });
        self.author.as_ref().is_none_or(|a| commit.author.contains(a.as_str()))
            && matches(&self.agent, &commit.agent_id)
            && matches(&self.model, &commit.model_id)
            && self.since.is_none_or(|since| muse_core::rfc3339_to_unix(&commit.committed_at).is_some_and(|t| t >= since))
    }
}

/// Ref names pointing at each commit, for `(HEAD -> main, tag: v1)` decorations.
pub fn decorations(repo: &Repository) -> CliResult<HashMap<CommitId, Vec<String>>> {
    let mut out: HashMap<CommitId, Vec<String>> = HashMap::new();
    let head = repo.head()?;
    for (name, id) in repo.refs().list("refs/heads/")? {
        let label = if head == Head::Branch(name.clone()) { format!("HEAD -> {}", name.short()) } else { name.short().to_string() };
        out.entry(id).or_default().push(label);
    }
    if let Head::Detached(id) = head {
        out.entry(id).or_default().insert(0, "HEAD".into());
    }
    for (name, id) in repo.refs().list("refs/remotes/")? {
        out.entry(id).or_default().push(name.short().to_string());
    }
    for (name, id) in repo.refs().list("refs/tags/")? {
        out.entry(id).or_default().push(format!("tag: {}", name.short()));
    }
    Ok(out)
}

/// Walks and prints the history.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let mut range = Range::parse(&repo, &args.revisions)?;
    if args.all {
        for prefix in ["refs/heads/", "refs/tags/", "refs/remotes/"] {
            range.include.extend(repo.refs().list(prefix)?.into_iter().map(|(_, id)| id));
        }
    }
    if args.revisions.is_empty() {
        range.include.extend(repo.head_commit()?);
    }
    let starts = range.include.clone();
    let paths = args.paths.iter().map(|p| repo_path(&repo, &ctx.cwd, p)).collect::<CliResult<Vec<_>>>()?;
    // Path-limited history, --first-parent, ranges and the graph come from the history index,
    // brought up to date here; plain history walks the commits, which it reads for printing
    // anyway.
    let use_index = !paths.is_empty() || args.first_parent || range.hides() || args.graph;
    let index = if use_index { Some(HistoryIndex::open(&repo, &[starts.as_slice(), &range.exclude].concat())?) } else { None };
    let walk: Box<dyn Iterator<Item = Result<(CommitId, Commit), muse_store::StoreError>>> = match &index {
        Some(index) => {
            let hidden = range.hidden(index)?;
            Box::new(
                index.log_hiding(&repo, &starts, hidden, &paths, args.first_parent)?.map(|item| item.and_then(|id| Ok((id, repo.objects().read_commit(&id)?)))),
            )
        }
        None => Box::new(LogWalk::new(&repo, &starts, paths)?),
    };
    let filter = Filter::new(&args)?;
    let allowed = if args.show_signature { Some(allowed_entries(&repo)?) } else { None };
    let signature = |id: CommitId, commit: &Commit| allowed.as_ref().map(|entries| verify_commit(id, commit, entries));
    let walk = walk.filter(|item| item.as_ref().map_or(true, |(_, c)| filter.passes(c))).take(args.max_count.unwrap_or(usize::MAX));
    if ctx.json {
        let commits: Vec<(CommitId, Commit)> = walk.collect::<Result<_, _>>()?;
        let mut view = Vec::with_capacity(commits.len());
        for (id, c) in &commits {
            let files = changes(&repo, c, &args)?;
            let stat = files.as_deref().filter(|_| args.stat).map(stat);
            view.push(EntryJson { commit: CommitJson::new(*id, c), stat, files: files.filter(|_| args.patch), verification: signature(*id, c) });
        }
        return ctx.print_json(&view);
    }
    let decorations = decorations(&repo)?;
    let decoration = |id: &CommitId| decorations.get(id).map(|d| format!(" ({})", d.join(", "))).unwrap_or_default();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match &index {
        Some(index) if args.graph => print_graph(&repo, index, walk, &args, &decoration, &signature, &mut out)?,
        _ => {
            for (i, item) in walk.enumerate() {
                let (id, commit) = item?;
                if i > 0 && !args.oneline {
                    writeln!(out).map_err(stdout_error)?;
                }
                let files = changes(&repo, &commit, &args)?;
                let text = entry_text(id, &commit, &decoration(&id), files.as_deref(), &args, signature(id, &commit).as_ref()).map_err(stdout_error)?;
                out.write_all(&text).map_err(stdout_error)?;
            }
        }
    }
    out.flush().map_err(stdout_error)
}

/// Prints the walk with the graph: collects it, orders children before parents, rewrites
/// parents to the commits shown, and prefixes every line with its graph row.
fn print_graph(
    repo: &Repository,
    index: &HistoryIndex,
    walk: impl Iterator<Item = Result<(CommitId, Commit), muse_store::StoreError>>,
    args: &Args,
    decoration: &dyn Fn(&CommitId) -> String,
    signature: &dyn Fn(CommitId, &Commit) -> Option<VerificationJson>,
    out: &mut dyn Write,
) -> CliResult {
    let mut commits = HashMap::new();
    let mut shown = Vec::new();
    for item in walk {
        let (id, commit) = item?;
        let pos = index.position(&id).ok_or_else(|| CliError::invalid(format!("commit {id} is not in the history index")))?;
        shown.push(pos);
        commits.insert(pos, (id, commit));
    }
    let parents = shown_parents(index, &shown);
    let order = topological(&shown, &parents);
    let mut graph = Graph::default();
    for (n, pos) in order.iter().enumerate() {
        let (id, commit) = &commits[pos];
        let parent_ids: Vec<CommitId> = parents[pos].iter().map(|&p| commits[&p].0).collect();
        let rows = graph.draw(*id, &parent_ids);
        let files = changes(repo, commit, args)?;
        let mut text = entry_text(*id, commit, &decoration(id), files.as_deref(), args, signature(*id, commit).as_ref()).map_err(stdout_error)?;
        if !args.oneline && n + 1 < order.len() {
            text.push(b'\n');
        }
        let write = |out: &mut dyn Write, prefix: &str, line: &[u8]| -> std::io::Result<()> {
            let mut full = prefix.as_bytes().to_vec();
            full.extend_from_slice(line);
            while full.last() == Some(&b' ') {
                full.pop();
            }
            full.push(b'\n');
            out.write_all(&full)
        };
        for row in &rows.before {
            write(out, row, b"").map_err(stdout_error)?;
        }
        let mut after = rows.after.iter();
        for (i, line) in text.strip_suffix(b"\n").unwrap_or(&text).split(|&b| b == b'\n').enumerate() {
            let prefix = if i == 0 { rows.commit.as_str() } else { after.next().unwrap_or(&rows.continuation) };
            write(out, prefix, line).map_err(stdout_error)?;
        }
        for row in after {
            write(out, row, b"").map_err(stdout_error)?;
        }
    }
    Ok(())
}
