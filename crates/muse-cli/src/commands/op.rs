//! `muse op log [-n N]` and `muse op restore OP`: the operation log and going back to the state
//! right after any operation in it.

use std::collections::HashSet;

use muse_store::oplog::{apply_transition, restore_transition};
use muse_store::workspace::workspace_head;
use muse_store::RefName;

use super::record::record_with;
use super::undo::{describe, print_changes, read_log, report, OpJson};
use crate::error::{CliError, CliResult, EXIT_NOT_FOUND};
use crate::output::{outln, Ctx};

/// Arguments of `muse op`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// List operations, newest first.
    Log {
        /// Show at most N operations.
        #[arg(short = 'n', long = "max-count", value_name = "N")]
        max_count: Option<usize>,
    },
    /// Put every ref and HEAD back to its state right after operation OP (files follow where
    /// an operation since then checked them out; uncommitted changes are never overwritten).
    Restore {
        /// The operation's id, as `op log` shows it.
        op: u64,
    },
}

#[derive(serde::Serialize)]
struct LogJson<'a> {
    operations: Vec<OpJson<'a>>,
    warnings: Vec<String>,
}

/// Lists operations or restores one's state.
pub fn run(args: Args, ctx: &Ctx) -> CliResult {
    let repo = ctx.repo()?;
    let log = read_log(&repo)?;
    match args.action {
        Action::Log { max_count } => {
            let undone: HashSet<u64> = log.operations.iter().filter_map(|o| o.undoes).collect();
            let ops: Vec<OpJson> = log.operations.iter().rev().take(max_count.unwrap_or(usize::MAX)).map(|o| OpJson::new(o, undone.contains(&o.id))).collect();
            if ctx.json {
                let warnings = log
                    .torn
                    .iter()
                    .map(|(at, bytes)| format!("the op log ends with {bytes} unreadable byte(s) at offset {at} (an interrupted write); they are ignored"))
                    .collect();
                return ctx.print_json(&LogJson { operations: ops, warnings });
            }
            for o in &ops {
                let place = o.op.workspace.as_deref().map(|w| format!(" [workspace {w}]")).unwrap_or_default();
                let agent = if o.op.agent_id.is_empty() { String::new() } else { format!(" (agent {})", o.op.agent_id) };
                let state = if o.undone { " (undone)" } else { "" };
                outln!("operation {}{state}  {}  {}{agent}{place}", o.op.id, o.time, o.op.author)?;
                outln!("    {}", describe(o.op))?;
                print_changes(&o.op.refs, &o.op.heads)?;
            }
            Ok(())
        }
        Action::Restore { op } => {
            let target = log
                .operations
                .iter()
                .find(|o| o.id == op)
                .ok_or_else(|| CliError::new(EXIT_NOT_FOUND, "not_found", format!("no operation {op} in the op log (see `muse op log`)")))?;
            let current_ref = |name: &str| repo.refs().read(&RefName::parse_any(name)?);
            let current_head = |ws: &Option<String>| workspace_head(&repo, ws.as_deref());
            let (refs, heads) = restore_transition(&log.operations, op, &current_ref, &current_head)?;
            let (refs, heads) = apply_transition(&repo, refs, heads)?;
            let recorded = record_with(&repo, "op restore", refs.clone(), heads.clone(), |o| o.restores = Some(op));
            report(ctx, "Restored the state after", target, recorded.map(|o| o.id), &refs, &heads)
        }
    }
}
