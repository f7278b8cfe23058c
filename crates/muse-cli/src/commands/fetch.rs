//! `muse fetch [REMOTE] [--prune] [--force]`: receive what a remote has that this repository
//! lacks, then set the remote-tracking refs (`refs/remotes/REMOTE/BRANCH`) and new tags.

use std::collections::BTreeSet;

use muse_core::CommitId;
use muse_pack::Rejected;
use muse_protocol::RefAdvertisement;
use muse_store::oplog::RefChange;
use muse_store::{ObjectKind, RefName, Repository};
use muse_transport::{FetchReport, Phase, Progress, Remote};

use super::common::short;
use super::record::{record, ref_change};
use super::remote::{connect, default_remote, remote_url, tracking_ref, transport_error, Bar};
use crate::error::{CliError, CliResult};
use crate::output::{outln, Ctx};

/// Arguments of `muse fetch`.
#[derive(clap::Args)]
pub struct Args {
    /// The remote (default: the current branch's upstream remote, else `origin`).
    remote: Option<String>,
    /// Remove remote-tracking refs whose branch the remote no longer has.
    #[arg(long)]
    prune: bool,
    /// Move local tags that differ from the remote's.
    #[arg(long)]
    force: bool,
}

/// What happened to one local ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Created.
    Created,
    /// Moved forward.
    FastForward,
    /// Moved to a commit not descending from the old one.
    Forced,
    /// Already at the value.
    UpToDate,
    /// Removed (`--prune`).
    Pruned,
    /// Left alone: see `reason`.
    Rejected,
}

/// One local ref a fetch considered.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RefJson {
    /// The local ref (`refs/remotes/origin/main`, `refs/tags/v1`).
    pub name: String,
    /// The remote's ref it follows (`refs/heads/main`), `null` for pruned refs.
    pub remote_ref: Option<String>,
    /// Its value before.
    pub old: Option<CommitId>,
    /// Its value after (`null`: pruned).
    pub new: Option<CommitId>,
    /// What happened.
    pub status: Status,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a fetch did: its `--json` shape (docs/cli.md).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FetchJson {
    /// The remote's name.
    pub remote: String,
    /// Its URL.
    pub url: String,
    /// Every local ref considered, by name.
    pub refs: Vec<RefJson>,
    /// Objects written and rejected; transfer figures.
    #[serde(flatten)]
    pub transfer: FetchReport,
    /// Negotiation requests made.
    pub negotiation_rounds: u32,
}

impl FetchJson {
    /// Records and refs that were rejected.
    pub fn rejected(&self) -> usize {
        self.transfer.apply.rejected.len() + self.refs.iter().filter(|r| r.status == Status::Rejected).count()
    }

    /// The local ref changes, for the op log.
    pub fn changes(&self) -> Vec<RefChange> {
        self.refs
            .iter()
            .filter(|r| !matches!(r.status, Status::UpToDate | Status::Rejected))
            .map(|r| RefChange { name: r.name.clone(), old: r.old, new: r.new })
            .collect()
    }
}

/// Fetches and reports.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let name = match args.remote {
        Some(name) => name,
        None => default_remote(&repo)?,
    };
    let url = remote_url(&repo, &name)?;
    let bar = Bar::new(ctx, "fetching");
    let report = fetch(&repo, &name, &url, &Options { prune: args.prune, force_tags: args.force }, &bar);
    bar.finish();
    let report = report?;
    record(&repo, "fetch", report.changes(), vec![]);
    print(ctx, &report)?;
    fail_if_rejected(&report)
}

/// How a fetch treats refs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Remove remote-tracking refs of branches the remote no longer has.
    pub prune: bool,
    /// Move local tags that differ from the remote's.
    pub force_tags: bool,
}

/// Exit 1 when records or refs were rejected (everything else was applied), as `bundle apply`.
pub fn fail_if_rejected(report: &FetchJson) -> CliResult {
    match report.rejected() {
        0 => Ok(()),
        n => Err(CliError::failed(format!("{n} record(s) or ref(s) were rejected; everything else was fetched"))),
    }
}

/// Fetches from remote `name` at `url` into `repo`: the objects, then the remote-tracking refs
/// and tags (not recorded in the op log: the caller records).
pub fn fetch(repo: &Repository, name: &str, url: &str, options: &Options, progress: &dyn Progress) -> CliResult<FetchJson> {
    let remote = connect(url)?;
    let advert = remote.advertise().map_err(transport_error)?;
    fetch_advertised(repo, name, &remote, &advert, options, progress)
}

/// [`fetch`] with the advertisement already read.
pub fn fetch_advertised(
    repo: &Repository,
    name: &str,
    remote: &Remote,
    advert: &RefAdvertisement,
    options: &Options,
    progress: &dyn Progress,
) -> CliResult<FetchJson> {
    let mut wants: Vec<CommitId> = Vec::new();
    for r in &advert.refs {
        if repo.objects().kind(&r.commit_id.0)? != Some(ObjectKind::Commit) {
            wants.push(r.commit_id);
        }
    }
    wants.sort();
    wants.dedup();
    let mut report =
        FetchJson { remote: name.to_string(), url: remote.url().to_string(), refs: Vec::new(), transfer: FetchReport::default(), negotiation_rounds: 0 };
    if !wants.is_empty() {
        let negotiated = remote.negotiate(repo, advert, progress).map_err(transport_error)?;
        report.negotiation_rounds = negotiated.rounds;
        progress.phase(Phase::Receiving);
        for chunk in wants.chunks(muse_protocol::MAX_FETCH_WANTS) {
            let part = remote.fetch(repo.objects(), chunk, &negotiated.haves, progress).map_err(transport_error)?;
            merge(&mut report.transfer, part);
        }
        let _ = repo.objects().consolidate_if_needed();
    }
    update_refs(repo, name, advert, options, &mut report)?;
    Ok(report)
}

/// Adds a part's figures to the whole.
fn merge(total: &mut FetchReport, part: FetchReport) {
    total.apply.commits_written += part.apply.commits_written;
    total.apply.snapshots_written += part.apply.snapshots_written;
    total.apply.blobs_written += part.apply.blobs_written;
    total.apply.rejected.extend(part.apply.rejected);
    total.pack_bytes += part.pack_bytes;
    total.bytes_received += part.bytes_received;
    total.bytes_resumed += part.bytes_resumed;
    total.resumes += part.resumes;
}

/// Moves the remote-tracking refs (always, as they mirror the remote) and creates new tags
/// (moving a differing one only with `force_tags`), each by compare-and-swap and only to a
/// commit the store holds.
fn update_refs(repo: &Repository, name: &str, advert: &RefAdvertisement, options: &Options, report: &mut FetchJson) -> CliResult {
    let mut seen = BTreeSet::new();
    for r in &advert.refs {
        let local = if r.name.starts_with("refs/heads/") {
            tracking_ref(name, &r.name)
        } else if let Some(tag) = r.name.strip_prefix("refs/tags/") {
            RefName::tag(tag).ok()
        } else {
            None
        };
        let Some(local) = local else {
            report.refs.push(rejected(r.name.clone(), Some(&r.name), None, r.commit_id, "not a valid branch or tag name here".into()));
            continue;
        };
        seen.insert(local.clone());
        let old = repo.refs().read(&local)?;
        let mut entry =
            RefJson { name: local.to_string(), remote_ref: Some(r.name.clone()), old, new: Some(r.commit_id), status: Status::UpToDate, reason: None };
        if old == Some(r.commit_id) {
            report.refs.push(entry);
            continue;
        }
        if repo.objects().kind(&r.commit_id.0)? != Some(ObjectKind::Commit) {
            report.refs.push(rejected(
                local.to_string(),
                Some(&r.name),
                old,
                r.commit_id,
                format!("commit {} was not received (see the rejected records)", r.commit_id),
            ));
            continue;
        }
        let forward = match old {
            None => true,
            Some(old) => muse_store::history::is_ancestor(repo, old, r.commit_id)?,
        };
        if !local.is_remote() && old.is_some() && !options.force_tags {
            entry.status = Status::Rejected;
            entry.reason = Some(format!("the local tag points at {}; --force moves it", short(old.unwrap_or(r.commit_id))));
            report.refs.push(entry);
            continue;
        }
        entry.status = match (old, forward) {
            (None, _) => Status::Created,
            (Some(_), true) => Status::FastForward,
            (Some(_), false) => Status::Forced,
        };
        if let Err(e) = repo.refs().compare_and_swap(&local, old, Some(r.commit_id)) {
            entry.status = Status::Rejected;
            entry.reason = Some(e.to_string());
        }
        report.refs.push(entry);
    }
    if options.prune {
        for (tracking, id) in repo.refs().list(&format!("refs/remotes/{name}/"))? {
            if !seen.contains(&tracking) {
                let mut entry = RefJson { name: tracking.to_string(), remote_ref: None, old: Some(id), new: None, status: Status::Pruned, reason: None };
                if let Err(e) = repo.refs().compare_and_swap(&tracking, Some(id), None) {
                    entry.status = Status::Rejected;
                    entry.reason = Some(e.to_string());
                }
                report.refs.push(entry);
            }
        }
    }
    report.refs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(())
}

fn rejected(name: String, remote_ref: Option<&str>, old: Option<CommitId>, new: CommitId, reason: String) -> RefJson {
    RefJson { name, remote_ref: remote_ref.map(str::to_string), old, new: Some(new), status: Status::Rejected, reason: Some(reason) }
}

/// Prints a fetch's report: JSON, or one line per changed ref.
pub fn print(ctx: &Ctx, report: &FetchJson) -> CliResult {
    if ctx.json {
        return ctx.print_json(report);
    }
    print_text(report)
}

/// The text form of a fetch's report.
pub fn print_text(report: &FetchJson) -> CliResult {
    let changed: Vec<&RefJson> = report.refs.iter().filter(|r| r.status != Status::UpToDate).collect();
    if changed.is_empty() && report.transfer.apply.rejected.is_empty() {
        outln!("{}: up to date", report.remote)?;
        return Ok(());
    }
    outln!("From {}", report.url)?;
    if report.transfer.pack_bytes > 0 {
        let t = &report.transfer;
        let resumed = if t.bytes_resumed > 0 { format!(", resumed after {} bytes", t.bytes_resumed) } else { String::new() };
        outln!(
            "  received {} commits, {} trees, {} blobs ({} bytes{resumed})",
            t.apply.commits_written,
            t.apply.snapshots_written,
            t.apply.blobs_written,
            t.pack_bytes
        )?;
    }
    for r in changed {
        let word = match r.status {
            Status::Created => "[new]",
            Status::FastForward => "[updated]",
            Status::Forced => "[forced update]",
            Status::Pruned => "[pruned]",
            Status::Rejected => "[rejected]",
            Status::UpToDate => "",
        };
        let range = format!("{} -> {}", r.old.map(short).unwrap_or_else(|| "(none)".into()), r.new.map(short).unwrap_or_else(|| "(none)".into()));
        let short_name = r.name.strip_prefix("refs/remotes/").or_else(|| r.name.strip_prefix("refs/")).unwrap_or(&r.name);
        outln!(" {word:<16} {short_name:<32} {range}{}", r.reason.as_deref().map(|w| format!(": {w}")).unwrap_or_default())?;
    }
    for r in &report.transfer.apply.rejected {
        print_rejected(r)?;
    }
    Ok(())
}

fn print_rejected(r: &Rejected) -> CliResult {
    outln!("rejected {} {}: {}", r.kind.as_str(), r.id, r.reason)
}

/// The changes of `refs` for the op log, adding one more.
pub fn with_change(mut changes: Vec<RefChange>, name: &RefName, old: Option<CommitId>, new: Option<CommitId>) -> Vec<RefChange> {
    changes.push(ref_change(name, old, new));
    changes
}
