//! One module per command; [`Command`] lists them and [`run`] dispatches.

mod auth;
mod blame;
mod branch;
mod bundle;
mod clone;
mod commit;
mod common;
mod config;
mod diff;
mod export;
mod fetch;
mod fsck;
mod gc;
mod graph;
mod hub;
mod import;
mod index;
mod init;
mod key;
mod log;
mod merge;
mod op;
mod pick;
mod pull;
mod push;
mod record;
mod recover;
mod remote;
mod restore;
mod semver;
mod show;
mod signing;
mod stats;
mod status;
mod switch;
mod tag;
mod undo;
mod verify;
mod workspace;

use crate::error::CliResult;
use crate::output::Ctx;

/// The commands of `muse`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Create an empty repository.
    Init(init::Args),
    /// Record the working copy as a new commit, with provenance.
    Commit(commit::Args),
    /// Show how the working copy differs from HEAD.
    Status(status::Args),
    /// Show line changes between the working copy and commits.
    Diff(diff::Args),
    /// Show history, newest first (only commits touching PATHs after `--`).
    Log(log::Args),
    /// Rebuild or inspect the history index (behind `log -- PATH`, `blame` and `stats`).
    Index(index::Args),
    /// Show who last changed each line of a file, with each line's agent, model and author.
    Blame(blame::Args),
    /// Share of a tree's lines by model, by agent and human (from blame).
    Stats(stats::Args),
    /// Export line attribution for other tools (Agent Trace records).
    Export(export::Args),
    /// Show one commit with its provenance and changes.
    Show(show::Args),
    /// The semver bump of a commit against its first parent: recorded, and computed from the code.
    Semver(semver::Args),
    /// List, create or delete branches.
    Branch(branch::Args),
    /// Switch the working copy to another branch.
    Switch(switch::Args),
    /// Bring files back to HEAD's (or --source's) content, discarding uncommitted changes.
    Restore(restore::Args),
    /// List, create or delete tags.
    Tag(tag::Args),
    /// Verify the integrity of the whole store.
    Fsck(fsck::Args),
    /// Manage extra working copies that share this store.
    Workspace(workspace::Args),
    /// Read or set repository settings.
    Config(config::Args),
    /// Import history from another version control system (git).
    Import(import::Args),
    /// Write or apply a bundle: history in one file, for offline transfer.
    Bundle(bundle::Args),
    /// Copy a repository (a local one, or one on a hub): every branch and tag, and the files.
    Clone(clone::Args),
    /// Add, remove or list remotes: repositories on hubs.
    Remote(remote::Args),
    /// Receive a remote's new commits; update the remote-tracking refs (origin/main) and tags.
    Fetch(fetch::Args),
    /// Fetch, then bring the current branch up to its remote branch (fast-forward or merge).
    Pull(pull::Args),
    /// Merge branches or commits into HEAD (fast-forward when possible); --continue, --abort.
    Merge(merge::Args),
    /// Merge two commits into a tree in the store only (no working copy, no ref): a dry run.
    MergeTree(merge::TreeArgs),
    /// Apply the change a commit made on top of HEAD, as a new commit; --continue, --abort.
    CherryPick(pick::Args),
    /// Undo the change a commit made, as a new commit on top of HEAD; --continue, --abort.
    Revert(pick::Args),
    /// Send commits to a remote and move its branches or tags (all or none).
    Push(push::Args),
    /// Store or forget the token sent to a hub.
    Auth(auth::Args),
    /// Run the hub server or administer it (the `musehub` executable).
    Hub(hub::Args),
    /// Roll back (or with --continue finish) an interrupted switch, clone, import or apply.
    Recover(recover::Args),
    /// Repack the store into one compact pack; remove leftovers of interrupted writes.
    Gc(gc::Args),
    /// Undo the last operation not undone yet (repeatable: each undo goes one further back).
    Undo(undo::Args),
    /// The operation log: every command that moved refs, HEAD or a working copy.
    Op(op::Args),
    /// Signing keys: generate, list, allow a key to sign for an identity, revoke.
    Key(key::Args),
    /// Verify commits' signatures against the allowed signers (exit 1 unless all are good).
    Verify(verify::Args),
}

/// Runs one parsed command.
pub fn run(command: Command, ctx: &Ctx) -> CliResult {
    match command {
        Command::Init(args) => init::run(args, ctx),
        Command::Commit(args) => commit::run(args, ctx),
        Command::Status(args) => status::run(args, ctx),
        Command::Diff(args) => diff::run(args, ctx),
        Command::Index(args) => index::run(args, ctx),
        Command::Blame(args) => blame::run(args, ctx),
        Command::Stats(args) => stats::run(args, ctx),
        Command::Log(args) => log::run(args, ctx),
        Command::Export(args) => export::run(args, ctx),
        Command::Show(args) => show::run(args, ctx),
        Command::Semver(args) => semver::run(args, ctx),
        Command::Branch(args) => branch::run(args, ctx),
        Command::Switch(args) => switch::run(args, ctx),
        Command::Restore(args) => restore::run(args, ctx),
        Command::Tag(args) => tag::run(args, ctx),
        Command::Fsck(args) => fsck::run(args, ctx),
        Command::Workspace(args) => workspace::run(args, ctx),
        Command::Config(args) => config::run(args, ctx),
        Command::Import(args) => import::run(args, ctx),
        Command::Bundle(args) => bundle::run(args, ctx),
        Command::Clone(args) => clone::run(args, ctx),
        Command::Remote(args) => remote::run(args, ctx),
        Command::Fetch(args) => fetch::run(args, ctx),
        Command::Pull(args) => pull::run(args, ctx),
        Command::Merge(args) => merge::run(args, ctx),
        Command::MergeTree(args) => merge::run_tree(args, ctx),
        Command::CherryPick(args) => pick::run(args, ctx, muse_merge::state::StepKind::CherryPick),
        Command::Revert(args) => pick::run(args, ctx, muse_merge::state::StepKind::Revert),
        Command::Push(args) => push::run(args, ctx),
        Command::Auth(args) => auth::run(args, ctx),
        Command::Hub(args) => hub::run(args, ctx),
        Command::Gc(args) => gc::run(args, ctx),
        Command::Undo(args) => undo::run(args, ctx),
        Command::Op(args) => op::run(args, ctx),
        Command::Recover(args) => recover::run(args, ctx),
        Command::Key(args) => key::run(args, ctx),
        Command::Verify(args) => verify::run(args, ctx),
    }
}
