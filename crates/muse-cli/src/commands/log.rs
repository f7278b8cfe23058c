//! `muse log [REV…] [-- PATH…]`: history, newest first; with paths, only commits that changed them.

use std::collections::HashMap;
use std::io::Write;

use muse_core::CommitId;
use muse_store::history::LogWalk;
use muse_store::index::HistoryIndex;
use muse_store::{Head, Repository};

use super::common::{commit_header, repo_path, short, CommitJson};
use crate::error::CliResult;
use crate::output::{stdout_error, Ctx};

/// Arguments of `muse log`.
#[derive(clap::Args)]
pub struct Args {
    /// Where to start (default: HEAD).
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
    /// Only commits that changed these paths.
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<String>,
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
    let mut starts = Vec::new();
    for rev in &args.revisions {
        starts.push(repo.resolve(rev)?);
    }
    if args.all {
        for prefix in ["refs/heads/", "refs/tags/", "refs/remotes/"] {
            starts.extend(repo.refs().list(prefix)?.into_iter().map(|(_, id)| id));
        }
    }
    if args.revisions.is_empty() {
        starts.extend(repo.head_commit()?);
    }
    let paths = args.paths.iter().map(|p| repo_path(&repo, &ctx.cwd, p)).collect::<CliResult<Vec<_>>>()?;
    // Path-limited history (and --first-parent) comes from the history index, brought up to
    // date here; plain history walks the commits, which it reads for printing anyway.
    let index = if paths.is_empty() && !args.first_parent { None } else { Some(HistoryIndex::open(&repo, &starts)?) };
    let walk: Box<dyn Iterator<Item = Result<(CommitId, muse_core::Commit), muse_store::StoreError>>> = match &index {
        Some(index) => {
            Box::new(index.log(&repo, &starts, &paths, args.first_parent)?.map(|item| item.and_then(|id| Ok((id, repo.objects().read_commit(&id)?)))))
        }
        None => Box::new(LogWalk::new(&repo, &starts, paths)?),
    };
    let filter = Filter::new(&args)?;
    let walk = walk.filter(|item| item.as_ref().map_or(true, |(_, c)| filter.passes(c))).take(args.max_count.unwrap_or(usize::MAX));
    if ctx.json {
        let commits: Vec<(CommitId, muse_core::Commit)> = walk.collect::<Result<_, _>>()?;
        let view: Vec<CommitJson> = commits.iter().map(|(id, c)| CommitJson::new(*id, c)).collect();
        return ctx.print_json(&view);
    }
    let decorations = decorations(&repo)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (i, item) in walk.enumerate() {
        let (id, commit) = item?;
        let decoration = decorations.get(&id).map(|d| format!(" ({})", d.join(", "))).unwrap_or_default();
        if args.oneline {
            let warn = if commit.breaking_changes.is_empty() { "" } else { " ⚠" };
            let model = if commit.model_id.is_empty() { String::new() } else { format!(" [{}]", commit.model_id) };
            writeln!(out, "{}{decoration} {}{warn}{model} {}", short(id), commit.sem_ver_bump, commit.message.lines().next().unwrap_or(""))
                .map_err(stdout_error)?;
        } else {
            if i > 0 {
                writeln!(out).map_err(stdout_error)?;
            }
            write!(out, "{}", commit_header(id, &commit, &decoration)).map_err(stdout_error)?;
        }
    }
    out.flush().map_err(stdout_error)
}
