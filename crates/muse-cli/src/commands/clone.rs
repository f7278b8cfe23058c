//! `muse clone PATH [DIR]`: copy a local repository (every branch and tag, HEAD, the files)
//! through the same mpack path as every transfer; `muse clone URL [DIR]`: the same from a hub.

use std::fs;
use std::path::{Path, PathBuf};

use muse_core::Tree;
use muse_pack::{BuildOptions, RefStatus};
use muse_store::oplog::RefChange;
use muse_store::worktree::checkout::{transition, Transition};
use muse_store::worktree::operation::RefMove;
use muse_store::{RefName, Repository};
use muse_transport::Remote;

use super::bundle::{moved_refs, pack_error};
use super::fetch::{fail_if_rejected, fetch_advertised, FetchJson, Options, RefJson, Status};
use super::record::{head_moved, record, ref_change};
use super::remote::{connect, transport_error, url_key, Bar};
use crate::error::{CliError, CliResult, EXIT_CONFLICT};
use crate::output::{outln, Ctx};

/// Arguments of `muse clone`.
#[derive(clap::Args)]
pub struct Args {
    /// The repository to clone: a working copy or bare store directory, or a hub URL
    /// (http[s]://HOST[:PORT]/OWNER/NAME).
    source: PathBuf,
    /// Where to create the clone (default: the source's directory name, here).
    dir: Option<PathBuf>,
}

/// Clones and reports.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    if let Some(url) = args.source.to_str().filter(|s| is_url(s)) {
        return clone_url(url, args.dir, ctx);
    }
    let source = ctx.cwd.join(&args.source);
    let dir = match args.dir {
        Some(dir) => ctx.cwd.join(dir),
        None => {
            // `project.muse` (a bare store) clones into `project`, as git drops `.git`.
            let name = source.canonicalize().ok().and_then(|p| {
                p.file_name().map(|n| {
                    let n = n.to_string_lossy();
                    PathBuf::from(n.strip_suffix(".muse").filter(|s| !s.is_empty()).unwrap_or(&n))
                })
            });
            ctx.cwd.join(name.ok_or_else(|| CliError::invalid(format!("cannot derive a directory name from {}; give DIR", args.source.display())))?)
        }
    };
    let spinner = ctx.progress(None, "cloning");
    // A local clone is not sent anywhere: a fast level keeps it quick; `muse gc` recompresses.
    let report = muse_pack::clone_local(&source, &dir, &BuildOptions { level: 3, ..BuildOptions::default() }).map_err(pack_error)?;
    spinner.finish_and_clear();
    // The clone's first operation: its refs and HEAD, so that gc and `op log` see them.
    if let Ok(repo) = muse_store::Repository::open(std::path::Path::new(&report.path)) {
        let head = repo.head().ok();
        let heads = match head {
            Some(head @ muse_store::Head::Detached(_)) => head_moved(&repo, head.clone(), head, true),
            _ => Vec::new(),
        };
        record(&repo, "clone", moved_refs(&report.refs), heads);
    }
    if ctx.json {
        ctx.print_json(&report)?;
    } else {
        outln!(
            "Cloned into {}: {} commits, {} trees, {} blobs; {} refs; HEAD {}; {} files checked out",
            report.path,
            report.apply.commits_written,
            report.apply.snapshots_written,
            report.apply.blobs_written,
            report.refs.iter().filter(|r| r.status != RefStatus::Rejected).count(),
            report.head,
            report.files
        )?;
        for r in &report.apply.rejected {
            outln!("rejected {} {}: {}", r.kind.as_str(), r.id, r.reason)?;
        }
        for r in report.refs.iter().filter(|r| r.status == RefStatus::Rejected) {
            outln!("rejected ref {}: {}", r.name, r.reason.as_deref().unwrap_or("not written"))?;
        }
    }
    // As `bundle apply`: what was valid is kept; anything rejected makes the clone a failure.
    let rejected = report.apply.rejected.len() + report.refs.iter().filter(|r| r.status == RefStatus::Rejected).count();
    if rejected > 0 {
        return Err(CliError::failed(format!("{rejected} record(s) or ref(s) were rejected; the clone holds everything else")));
    }
    Ok(())
}

/// The config key marking a clone from a URL whose transfer has not finished: its value is the
/// URL, and `muse clone URL DIR` resumes it.
const PENDING_KEY: &str = "clone.pending";

#[derive(serde::Serialize)]
struct UrlCloneJson<'a> {
    path: String,
    head: Option<String>,
    files: usize,
    resumed: bool,
    #[serde(flatten)]
    fetch: &'a FetchJson,
}

/// Whether `source` is a hub URL rather than a path.
fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// `muse clone URL [DIR]`: a new repository with remote `origin`, every branch as a
/// remote-tracking ref, the tags, and the remote's default branch checked out. A transfer cut
/// off (the network, a kill) leaves DIR marked [`PENDING_KEY`] with the bytes received, and the
/// same command resumes it; any other failure removes what the clone created.
fn clone_url(url: &str, dir: Option<PathBuf>, ctx: &Ctx) -> CliResult {
    let parsed = muse_protocol::RepoUrl::parse(url).map_err(|e| CliError::invalid(e.to_string()))?;
    let dir = ctx.cwd.join(dir.unwrap_or_else(|| PathBuf::from(parsed.name())));
    let pending = Repository::open(&dir).ok().filter(|r| r.config().ok().and_then(|c| c.get(PENDING_KEY).cloned()).as_deref() == Some(url));
    if pending.is_none() && dir.exists() && fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(CliError::new(EXIT_CONFLICT, "conflict", format!("{} exists and is not an empty directory", dir.display())));
    }
    let remote = connect(url)?;
    let advert = remote.advertise().map_err(transport_error)?;
    let branch = advert.head.as_deref().and_then(|h| h.strip_prefix("refs/heads/")).unwrap_or("main").to_string();
    let resumed = pending.is_some();
    let existed = dir.exists();
    let repo = match pending {
        Some(repo) => repo,
        None => {
            let repo = Repository::init(&dir, &branch)?;
            let configured = repo.set_config(&url_key("origin"), url).and_then(|_| repo.set_config(PENDING_KEY, url));
            if let Err(e) = configured {
                remove_created(&dir, existed);
                return Err(e.into());
            }
            repo
        }
    };
    let bar = Bar::new(ctx, "cloning");
    let result = fill(&repo, &remote, &advert, &branch, &bar);
    bar.finish();
    let (fetched, files, changes) = match result {
        Ok(done) => done,
        Err(mut e) if e.kind == "network" => {
            e.message = format!("{}; the bytes received are kept: `muse clone {url} {}` resumes", e.message, dir.display());
            return Err(e);
        }
        Err(e) => {
            remove_created(&dir, existed && !resumed);
            return Err(e);
        }
    };
    repo.set_config(PENDING_KEY, "")?;
    let head = repo.head().ok();
    let heads = match &head {
        Some(head) if files > 0 => head_moved(&repo, head.clone(), head.clone(), true),
        _ => Vec::new(),
    };
    record(&repo, "clone", changes, heads);
    let head_name = advert.head.clone();
    if ctx.json {
        ctx.print_json(&UrlCloneJson { path: repo.work_dir().display().to_string(), head: head_name, files, resumed, fetch: &fetched })?;
    } else {
        let t = &fetched.transfer;
        outln!(
            "Cloned {url} into {}: {} commits, {} trees, {} blobs ({} bytes{}); {} refs; {} files checked out",
            repo.work_dir().display(),
            t.apply.commits_written,
            t.apply.snapshots_written,
            t.apply.blobs_written,
            t.pack_bytes,
            if t.bytes_resumed > 0 { format!(", resumed after {} bytes", t.bytes_resumed) } else { String::new() },
            fetched.refs.len(),
            files
        )?;
    }
    fail_if_rejected(&fetched)
}

/// Fetches everything, then creates the default branch and checks it out (all or nothing).
/// Returns the fetch, the files written and the ref changes for the op log.
fn fill(
    repo: &Repository,
    remote: &Remote,
    advert: &muse_protocol::RefAdvertisement,
    branch: &str,
    bar: &Bar,
) -> CliResult<(FetchJson, usize, Vec<RefChange>)> {
    let mut fetched = fetch_advertised(repo, "origin", remote, advert, &Options::default(), bar)?;
    let mut changes = fetched.changes();
    let local = RefName::branch(branch)?;
    let tracking = RefName::remote("origin", branch)?;
    let mut files = 0;
    if let (Some(id), None) = (repo.refs().read(&tracking)?, repo.refs().read(&local)?) {
        let snapshot = repo.objects().read_commit(&id)?.snapshot;
        let refs = vec![RefMove { name: local.clone(), old: None, new: Some(id) }];
        let t = Transition { kind: "clone".into(), from: Tree::empty_id(), to: snapshot, head_after: None, refs, force: false };
        files = transition(repo, &t)?.written;
        changes.push(ref_change(&local, None, Some(id)));
        fetched.refs.push(RefJson {
            name: local.to_string(),
            remote_ref: Some(format!("refs/heads/{branch}")),
            old: None,
            new: Some(id),
            status: Status::Created,
            reason: None,
        });
        repo.set_config(&format!("branch.{branch}.remote"), "origin")?;
        repo.set_config(&format!("branch.{branch}.merge"), &format!("refs/heads/{branch}"))?;
    }
    Ok((fetched, files, changes))
}

/// Removes what a failed clone created: DIR itself, or only its contents when it existed.
fn remove_created(dir: &Path, existed: bool) {
    let paths = if existed { fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default() } else { vec![dir.to_path_buf()] };
    for path in paths {
        let _ = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
    }
}
