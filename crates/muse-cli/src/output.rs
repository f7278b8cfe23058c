//! What every command shares: the JSON switch, the working directory, printing and progress.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use muse_store::Repository;

use crate::error::{CliError, CliResult, EXIT_IO};

/// The context a command runs in.
pub struct Ctx {
    /// Whether to print JSON instead of text.
    pub json: bool,
    /// The directory the command acts from.
    pub cwd: PathBuf,
}

impl Ctx {
    /// Builds the context from the global flags.
    pub fn new(json: bool, directory: Option<PathBuf>) -> CliResult<Ctx> {
        let cwd = match directory {
            Some(dir) => dir,
            None => std::env::current_dir().map_err(|e| CliError::new(EXIT_IO, "io", format!("cannot read the current directory: {e}")))?,
        };
        Ok(Ctx { json, cwd })
    }

    /// Opens the repository containing the working directory.
    pub fn repo(&self) -> CliResult<Repository> {
        Ok(Repository::discover(&self.cwd)?)
    }

    /// Prints a value as one JSON document on stdout.
    pub fn print_json<T: serde::Serialize + ?Sized>(&self, value: &T) -> CliResult {
        // Block-buffered: stdout is line-buffered, and pretty JSON has a line per field (a
        // blame of 5,000 lines was 20,000 write calls, most of a cached blame's time).
        let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
        serde_json::to_writer_pretty(&mut out, value).map_err(|e| stdout_error(e.into()))?;
        writeln!(out).map_err(stdout_error)?;
        out.flush().map_err(stdout_error)
    }

    /// A progress bar for `total` steps (or a spinner when unknown), shown only on a terminal
    /// and never under `--json`; it is redrawn every 120 ms and cleared by `finish_and_clear`.
    pub fn progress(&self, total: Option<u64>, what: &str) -> ProgressBar {
        if self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(bar_style()),
            None => ProgressBar::new_spinner()
                .with_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").unwrap_or_else(|_| ProgressStyle::default_spinner())),
        };
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }
}

/// `println!` for command output that returns a [`CliResult`] instead of panicking when stdout
/// is closed (`muse branch x | true`): use as `outln!("…")?`. A closed pipe ends the command
/// quietly (see [`stdout_error`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err($crate::output::stdout_error)
    }};
}
pub(crate) use outln;

/// A callback for `scan_reporting`/`commit_worktree` that turns `bar` (a spinner until then)
/// into a counted "hashing" bar once the number of files to read is known.
pub fn hashing_progress(bar: &ProgressBar) -> impl Fn(u64, u64) + Sync + '_ {
    move |done, total| {
        if done == 0 {
            bar.set_length(total);
            bar.set_style(bar_style());
            bar.set_message("hashing");
        }
        bar.set_position(done);
    }
}

/// A `progress(done, total)` callback that turns `bar` (a spinner until then) into a counted
/// bar of `total` steps, following the total if it changes.
pub fn counted_progress(bar: &ProgressBar) -> impl Fn(u64, u64) + Sync + '_ {
    move |done, total| {
        if bar.length() != Some(total) {
            bar.set_style(bar_style());
            bar.set_length(total);
        }
        bar.set_position(done);
    }
}

/// The style of counted progress bars: `message [=====>    ] 120/400 (5s)`.
pub fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:>12} [{bar:30}] {human_pos}/{human_len} ({eta})").unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
}

/// Maps a failed write to stdout to an I/O error; a closed pipe (`muse log | head`) is the
/// reader's choice, so it ends the command quietly.
pub fn stdout_error(e: std::io::Error) -> CliError {
    let kind = if e.kind() == std::io::ErrorKind::BrokenPipe { BROKEN_PIPE } else { "io" };
    CliError::new(EXIT_IO, kind, format!("cannot write to stdout: {e}"))
}

/// The error kind of a write to a closed pipe, which is not reported.
pub const BROKEN_PIPE: &str = "broken_pipe";
