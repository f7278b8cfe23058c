//! Line diffs between two versions of a file, grouped into unified-diff hunks with context,
//! with git's binary detection (a NUL byte in the first 8000 bytes). Pure: no I/O.
#![warn(missing_docs)]

use imara_diff::{Algorithm, Diff, InternedInput};

/// How many bytes are inspected to decide whether content is binary (git uses the same).
const BINARY_SNIFF_LEN: usize = 8000;

/// Whether content looks binary: it has a NUL byte near its start.
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(BINARY_SNIFF_LEN)].contains(&0)
}

/// What a diff line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    /// Unchanged, shown for context.
    Context,
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Removed,
}

/// One line of a hunk, without its line terminator (`\n`; a `\r` before it is kept).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiffLine {
    /// Context, added or removed.
    pub kind: LineKind,
    /// The text (invalid UTF-8 is replaced, for display only).
    pub text: String,
    /// The line is the last of its file and has no terminating newline (unified diffs follow it
    /// with `\ No newline at end of file`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_newline_at_eof: bool,
}

/// A run of changes with surrounding context, as in a unified diff (`@@ -a,b +c,d @@`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiffHunk {
    /// First old line shown (1-based; 0 when the old side is empty).
    pub old_start: u32,
    /// Old lines shown.
    pub old_lines: u32,
    /// First new line shown (1-based; 0 when the new side is empty).
    pub new_start: u32,
    /// New lines shown.
    pub new_lines: u32,
    /// The lines, in order.
    pub lines: Vec<DiffLine>,
}

/// The line diff of one file.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct FileDiff {
    /// Either side is binary: no hunks are computed.
    pub binary: bool,
    /// Lines added.
    pub added: u32,
    /// Lines removed.
    pub removed: u32,
    /// The hunks, in file order.
    pub hunks: Vec<DiffHunk>,
}

/// Diffs `old` against `new` line by line (histogram algorithm, git-like slider heuristics),
/// with `context` unchanged lines around each change.
pub fn diff_lines(old: &[u8], new: &[u8], context: u32) -> FileDiff {
    if is_binary(old) || is_binary(new) {
        return FileDiff { binary: true, ..FileDiff::default() };
    }
    let input = InternedInput::new(imara_diff::sources::byte_lines(old), imara_diff::sources::byte_lines(new));
    let mut diff = Diff::compute(Algorithm::Histogram, &input);
    diff.postprocess_lines(&input);
    let line = |kind: LineKind, token: imara_diff::Token| -> DiffLine {
        let bytes: &[u8] = input.interner[token];
        let (trimmed, no_newline_at_eof) = match bytes.strip_suffix(b"\n") {
            Some(trimmed) => (trimmed, false),
            None => (bytes, true),
        };
        DiffLine { kind, text: String::from_utf8_lossy(trimmed).into_owned(), no_newline_at_eof }
    };
    let (old_len, new_len) = (input.before.len() as u32, input.after.len() as u32);
    let changes: Vec<imara_diff::Hunk> = diff.hunks().collect();
    let mut hunks = Vec::new();
    let mut i = 0;
    while i < changes.len() {
        // Merge changes whose context would touch or overlap.
        let mut j = i;
        while j + 1 < changes.len() && changes[j + 1].before.start - changes[j].before.end <= 2 * context {
            j += 1;
        }
        let old_from = changes[i].before.start.saturating_sub(context);
        let old_to = (changes[j].before.end + context).min(old_len);
        let new_from = changes[i].after.start - (changes[i].before.start - old_from);
        let new_to = (changes[j].after.end + (old_to - changes[j].before.end)).min(new_len);
        let mut lines = Vec::new();
        let mut old_pos = old_from;
        for change in &changes[i..=j] {
            lines.extend((old_pos..change.before.start).map(|k| line(LineKind::Context, input.before[k as usize])));
            lines.extend(change.before.clone().map(|k| line(LineKind::Removed, input.before[k as usize])));
            lines.extend(change.after.clone().map(|k| line(LineKind::Added, input.after[k as usize])));
            old_pos = change.before.end;
        }
        lines.extend((old_pos..old_to).map(|k| line(LineKind::Context, input.before[k as usize])));
        let start = |from: u32, len: u32| if len == 0 { from } else { from + 1 };
        hunks.push(DiffHunk {
            old_start: start(old_from, old_to - old_from),
            old_lines: old_to - old_from,
            new_start: start(new_from, new_to - new_from),
            new_lines: new_to - new_from,
            lines,
        });
        i = j + 1;
    }
    FileDiff { binary: false, added: diff.count_additions(), removed: diff.count_removals(), hunks }
}

/// Renders hunks as unified-diff text (`@@ … @@` headers and ` `/`+`/`-` lines).
pub fn render_hunks(diff: &FileDiff) -> String {
    let mut out = String::new();
    for hunk in &diff.hunks {
        out.push_str(&format!("@@ -{},{} +{},{} @@\n", hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines));
        for line in &hunk.lines {
            let sign = match line.kind {
                LineKind::Context => ' ',
                LineKind::Added => '+',
                LineKind::Removed => '-',
            };
            out.push(sign);
            out.push_str(&line.text);
            out.push('\n');
            if line.no_newline_at_eof {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

/// One changed region of a line diff: lines `old` of the old version became lines `new` of the
/// new version (either range may be empty), 0-based, half-open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedRange {
    /// The old lines replaced.
    pub old: std::ops::Range<u32>,
    /// The new lines that replace them.
    pub new: std::ops::Range<u32>,
}

/// The changed regions between `old` and `new` with git's default diff settings (Myers with
/// git's early-abort heuristics, then git's slider post-processing with the indent heuristic),
/// in order. What `blame` uses, so that it matches `git blame` line for line. Lines end after
/// each `\n`; a last line without one is a line.
pub fn changed_ranges(old: &[u8], new: &[u8]) -> Vec<ChangedRange> {
    let input = InternedInput::new(imara_diff::sources::byte_lines(old), imara_diff::sources::byte_lines(new));
    let mut diff = Diff::compute(Algorithm::Myers, &input);
    diff.postprocess_lines(&input);
    diff.hunks().map(|h| ChangedRange { old: h.before, new: h.after }).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn changed_ranges_name_the_replaced_lines() {
        let ranges = super::changed_ranges(b"a\nb\nc\n", b"a\nB\nc\nd");
        assert_eq!(ranges, vec![super::ChangedRange { old: 1..2, new: 1..2 }, super::ChangedRange { old: 3..3, new: 3..4 }]);
    }

    use super::*;

    #[test]
    fn one_changed_line_gives_one_hunk_with_context() {
        let old = b"1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let new = b"1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        let diff = diff_lines(old, new, 3);
        assert_eq!((diff.added, diff.removed), (1, 1));
        assert_eq!(render_hunks(&diff), "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
    }

    #[test]
    fn new_file_and_binary() {
        let diff = diff_lines(b"", b"a\nb\n", 3);
        assert_eq!(render_hunks(&diff), "@@ -0,0 +1,2 @@\n+a\n+b\n");
        assert!(diff_lines(b"a\0", b"b", 3).binary);
    }

    #[test]
    fn a_missing_final_newline_is_marked_so_the_diff_applies_back() {
        let diff = diff_lines(b"a\nb\n", b"a\nb", 3);
        assert_eq!(render_hunks(&diff), "@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n");
        let diff = diff_lines(b"x", b"y\n", 3);
        assert_eq!(render_hunks(&diff), "@@ -1,1 +1,1 @@\n-x\n\\ No newline at end of file\n+y\n");
        let diff = diff_lines(b"a\nb", b"A\nb", 3);
        assert_eq!(render_hunks(&diff), "@@ -1,2 +1,2 @@\n-a\n+A\n b\n\\ No newline at end of file\n");
        let crlf = diff_lines(b"a\r\n", b"b\r\n", 3);
        assert_eq!(render_hunks(&crlf), "@@ -1,1 +1,1 @@\n-a\r\n+b\r\n");
    }

    #[test]
    fn distant_changes_make_separate_hunks() {
        let old: String = (1..=30).map(|i| format!("l{i}\n")).collect();
        let new = old.replace("l3\n", "three\n").replace("l27\n", "x\n");
        assert_eq!(diff_lines(old.as_bytes(), new.as_bytes(), 3).hunks.len(), 2);
    }
}
