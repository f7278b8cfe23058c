//! `muse push [REMOTE] [REFSPEC…] [--force] [--all] [--tags] [--delete] [--set-upstream]`:
//! send commits to a remote and move its refs, all or none; then mirror the new values in the
//! remote-tracking refs.

use muse_core::CommitId;
use muse_store::{Head, RefName, Repository};
use muse_transport::{PushReport, PushStatus, PushUpdate, Remote};

use super::common::short;
use super::remote::{connect, default_remote, remote_url, tracking_ref, transport_error, Bar};
use crate::error::{CliError, CliResult};
use crate::output::{outln, Ctx};

/// Arguments of `muse push`.
#[derive(clap::Args)]
pub struct Args {
    /// The remote (default: the current branch's upstream remote, else `origin`).
    remote: Option<String>,
    /// What to push: `SRC` (a branch or tag, to the same name), `SRC:DST` (any revision to a
    /// remote branch or tag), `:DST` (delete DST); a leading `+` forces that one. Default: the
    /// current branch.
    refspecs: Vec<String>,
    /// Move remote refs even when that is not a fast-forward (what they had is lost there).
    #[arg(short, long)]
    force: bool,
    /// Push every branch.
    #[arg(long)]
    all: bool,
    /// Push every tag (too).
    #[arg(long)]
    tags: bool,
    /// Delete the named remote refs.
    #[arg(short, long, conflicts_with_all = ["all", "tags"])]
    delete: bool,
    /// Remember the remote and branch as the pushed branch's upstream (for pull and push).
    #[arg(short = 'u', long)]
    set_upstream: bool,
}

/// One parsed refspec: a source revision (`None`: delete) and a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refspec {
    /// What to push: a revision (`None` to delete `dst`).
    pub src: Option<String>,
    /// The remote ref, as typed (`None`: the same name as `src`).
    pub dst: Option<String>,
    /// `+`: force this one.
    pub force: bool,
}

/// Parses `[+]SRC`, `[+]SRC:DST` or `:DST`.
pub fn parse_refspec(text: &str) -> CliResult<Refspec> {
    let bad = |why: &str| CliError::invalid(format!("bad refspec '{text}': {why}"));
    let (force, body) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (src, dst) = match body.split_once(':') {
        Some((src, dst)) => (src, Some(dst)),
        None => (body, None),
    };
    if dst.is_some_and(|d| d.is_empty() || d.contains(':')) {
        return Err(bad("the destination after ':' is empty or has another ':'"));
    }
    match (src.is_empty(), dst) {
        (true, None) => Err(bad("it is empty")),
        (true, Some(dst)) => Ok(Refspec { src: None, dst: Some(dst.to_string()), force }),
        (false, dst) => Ok(Refspec { src: Some(src.to_string()), dst: dst.map(str::to_string), force }),
    }
}

/// One resolved update, with the local branch it comes from (for `--set-upstream`).
struct Planned {
    src_branch: Option<RefName>,
    update: PushUpdate,
}

/// Resolves a refspec against `repo`.
fn resolve(repo: &Repository, spec: &Refspec) -> CliResult<Planned> {
    let Some(src) = &spec.src else {
        let dst = spec.dst.as_deref().unwrap_or_default();
        let name = full_name(dst, false)?;
        return Ok(Planned { src_branch: None, update: PushUpdate { name: name.to_string(), new: None, force: spec.force } });
    };
    // A named ref first (so that a branch pushes to the same name), then any revision.
    let named = if src == "HEAD" || src == "@" {
        match repo.head()? {
            Head::Branch(name) => Some(name),
            Head::Detached(_) if spec.dst.is_some() => None,
            Head::Detached(_) => return Err(CliError::invalid("HEAD is detached: name the remote branch (`muse push REMOTE HEAD:BRANCH`)")),
        }
    } else if src.starts_with("refs/") {
        Some(RefName::parse_any(src)?)
    } else {
        [RefName::branch(src), RefName::tag(src)].into_iter().filter_map(Result::ok).find(|n| repo.refs().read(n).ok().flatten().is_some())
    };
    let new = match &named {
        Some(name) => repo.refs().read(name)?.ok_or_else(|| CliError::new(crate::error::EXIT_NOT_FOUND, "not_found", format!("'{src}' names no commit")))?,
        None => repo.resolve(src)?,
    };
    let is_tag = named.as_ref().is_some_and(|n| n.as_str().starts_with("refs/tags/"));
    let dst = match (&spec.dst, &named) {
        (Some(dst), _) => full_name(dst, is_tag)?,
        (None, Some(name)) if !name.is_remote() => name.clone(),
        _ => return Err(CliError::invalid(format!("'{src}' is not a branch or tag: name the remote ref (`{src}:BRANCH`)"))),
    };
    let src_branch = named.filter(|n| n.is_branch());
    Ok(Planned { src_branch, update: PushUpdate { name: dst.to_string(), new: Some(new), force: spec.force } })
}

/// A destination as a full ref name: `refs/…` as is, else a branch (or a tag when the source
/// is a tag).
fn full_name(dst: &str, tag: bool) -> CliResult<RefName> {
    Ok(if dst.starts_with("refs/") {
        RefName::parse(dst)?
    } else if tag {
        RefName::tag(dst)?
    } else {
        RefName::branch(dst)?
    })
}

#[derive(serde::Serialize)]
struct PushJson<'a> {
    remote: &'a str,
    url: String,
    #[serde(flatten)]
    report: &'a PushReport,
}

/// Pushes and reports.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let remote_name = match &args.remote {
        Some(name) => name.clone(),
        None => default_remote(&repo)?,
    };
    let url = remote_url(&repo, &remote_name)?;
    let mut specs: Vec<Refspec> = Vec::new();
    for text in &args.refspecs {
        let spec = parse_refspec(text)?;
        specs.push(if args.delete {
            if spec.src.is_some() && spec.dst.is_some() {
                return Err(CliError::invalid(format!("--delete takes remote ref names, not '{text}'")));
            }
            Refspec { dst: spec.dst.or(spec.src), src: None, force: spec.force }
        } else {
            spec
        });
    }
    if args.all {
        specs.extend(repo.refs().list("refs/heads/")?.into_iter().map(|(n, _)| Refspec { src: Some(n.to_string()), dst: None, force: false }));
    }
    if args.tags {
        specs.extend(repo.refs().list("refs/tags/")?.into_iter().map(|(n, _)| Refspec { src: Some(n.to_string()), dst: None, force: false }));
    }
    if specs.is_empty() {
        if args.delete {
            return Err(CliError::invalid("--delete needs the remote refs to delete"));
        }
        specs.push(Refspec { src: Some("HEAD".into()), dst: None, force: false });
    }
    let mut planned = Vec::with_capacity(specs.len());
    for spec in &specs {
        let plan = resolve(&repo, spec)?;
        if planned.iter().any(|p: &Planned| p.update.name == plan.update.name) {
            return Err(CliError::invalid(format!("{} is pushed twice", plan.update.name)));
        }
        planned.push(plan);
    }
    let remote = connect(&url)?;
    let updates: Vec<PushUpdate> = planned.iter().map(|p| PushUpdate { force: p.update.force || args.force, ..p.update.clone() }).collect();
    let bar = Bar::new(ctx, "pushing");
    let report = remote.push(&repo, &updates, &bar);
    bar.finish();
    let report = report.map_err(transport_error)?;
    update_tracking(&repo, &remote_name, &report)?;
    if args.set_upstream {
        for p in &planned {
            if let (Some(src), Some(dst)) = (&p.src_branch, p.update.name.strip_prefix("refs/heads/")) {
                repo.set_config(&format!("branch.{}.remote", src.short()), &remote_name)?;
                repo.set_config(&format!("branch.{}.merge", src.short()), &format!("refs/heads/{dst}"))?;
            }
        }
    }
    if ctx.json {
        return ctx.print_json(&PushJson { remote: &remote_name, url: remote.url().to_string(), report: &report });
    }
    print_text(&remote, &report)
}

/// Mirrors the pushed branches in `refs/remotes/REMOTE/…` (not recorded in the op log: undoing
/// them would not undo the push).
fn update_tracking(repo: &Repository, remote: &str, report: &PushReport) -> CliResult {
    for r in &report.refs {
        let Some(tracking) = tracking_ref(remote, &r.name) else { continue };
        let current = repo.refs().read(&tracking)?;
        if current != r.new {
            // Best effort: a concurrent fetch may have moved it; the next fetch sets it anyway.
            let _ = repo.refs().compare_and_swap(&tracking, current, r.new);
        }
    }
    Ok(())
}

fn print_text(remote: &Remote, report: &PushReport) -> CliResult {
    outln!("To {}", remote.url())?;
    if let Some(pack) = &report.pack {
        let resumed = if pack.bytes_resumed > 0 { format!(", resumed after {} bytes the hub held", pack.bytes_resumed) } else { String::new() };
        outln!("  sent {} commits, {} trees, {} blobs ({} bytes{resumed})", pack.stats.commits, pack.stats.trees, pack.stats.blobs, pack.bytes)?;
    }
    for r in &report.refs {
        let fmt = |id: Option<CommitId>| id.map(short).unwrap_or_else(|| "(none)".into());
        let word = match r.status {
            PushStatus::Created => "[new]",
            PushStatus::FastForward => "[updated]",
            PushStatus::Forced => "[forced update]",
            PushStatus::Deleted => "[deleted]",
            PushStatus::UpToDate => "[up to date]",
        };
        outln!(" {word:<16} {:<32} {} -> {}", r.name, fmt(r.old), fmt(r.new))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refspecs() {
        let spec = |src: Option<&str>, dst: Option<&str>, force| Refspec { src: src.map(Into::into), dst: dst.map(Into::into), force };
        assert_eq!(parse_refspec("main").unwrap(), spec(Some("main"), None, false));
        assert_eq!(parse_refspec("main:release").unwrap(), spec(Some("main"), Some("release"), false));
        assert_eq!(parse_refspec("+HEAD~2:refs/heads/x").unwrap(), spec(Some("HEAD~2"), Some("refs/heads/x"), true));
        assert_eq!(parse_refspec(":gone").unwrap(), spec(None, Some("gone"), false));
        for bad in ["", "+", "main:", ":", "a:b:c", "+:"] {
            assert!(parse_refspec(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn destinations() {
        assert_eq!(full_name("main", false).unwrap().as_str(), "refs/heads/main");
        assert_eq!(full_name("v1", true).unwrap().as_str(), "refs/tags/v1");
        assert_eq!(full_name("refs/tags/v1", false).unwrap().as_str(), "refs/tags/v1");
        assert!(full_name("refs/remotes/origin/main", false).is_err());
        assert!(full_name("bad..name", false).is_err());
    }
}
