//! The per-file step: a line-level three-way merge (diff3), behind the [`FileMerger`] trait so a
//! structural (symbol-aware) merge can replace it for the languages it understands.
//!
//! Both sides are diffed against the base (git's diff: Myers with its slider post-processing,
//! [`muse_diff::changed_ranges`]). Changes whose base ranges are disjoint and not adjacent merge
//! cleanly; changes that overlap or touch (as in git, two edits of neighbouring lines conflict)
//! form one region, clean when both sides made the same change, else a conflict. A conflict
//! block is written zdiff3-style: lines both sides agree on at its start and end are moved out
//! of the block, which shows ours, the base and theirs, each marker naming its side.

use std::ops::Range;

use muse_diff::changed_ranges;

/// The length of a conflict marker (`<<<<<<<`), as in git.
pub const MARKER_LEN: usize = 7;

/// What the markers of a conflict block call the three versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// The common ancestor (after `|||||||`).
    pub base: String,
    /// The side merged into (after `<<<<<<<`).
    pub ours: String,
    /// The side merged in (after `>>>>>>>`).
    pub theirs: String,
}

/// Lines `start..end` (0-based, half-open) of one version, with their text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineSpan {
    /// The first line, 0-based.
    pub start: u32,
    /// One past the last line.
    pub end: u32,
    /// The lines' bytes (as text: invalid UTF-8 replaced, for reports only).
    pub text: String,
}

/// One conflict of a file: what each version holds in the region, and where its marker block is
/// in the merged content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConflictHunk {
    /// The region in the base.
    pub base: LineSpan,
    /// The region in ours.
    pub ours: LineSpan,
    /// The region in theirs.
    pub theirs: LineSpan,
    /// The lines of the marker block in the merged content (markers included), 0-based.
    pub markers: Range<u32>,
}

/// A file merged line by line: its content (with marker blocks where it conflicts) and the
/// conflicts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileMerge {
    /// The merged bytes.
    pub content: Vec<u8>,
    /// The conflicts, in file order (empty: a clean merge).
    pub conflicts: Vec<ConflictHunk>,
}

impl FileMerge {
    /// Whether the merge is clean.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }
}

/// Merges one file's three versions. Implementations must be pure and total (any bytes in,
/// never a panic); binary content never reaches them (the tree merge reports it as a conflict).
pub trait FileMerger: Sync {
    /// Merges `ours` and `theirs`, both descended from `base`, for the file at `path`.
    fn merge(&self, path: &str, base: &[u8], ours: &[u8], theirs: &[u8], labels: &Labels) -> FileMerge;
}

/// The line-level three-way merge described in the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineMerger;

impl FileMerger for LineMerger {
    fn merge(&self, _path: &str, base: &[u8], ours: &[u8], theirs: &[u8], labels: &Labels) -> FileMerge {
        merge_lines(base, ours, theirs, labels)
    }
}

/// The lines of `data`: each ends after its `\n`; a last line without one is a line.
pub fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

/// One side's change: base lines `base` became the side's lines `side`.
#[derive(Debug, Clone)]
struct Hunk {
    base: Range<usize>,
    side: Range<usize>,
}

fn hunks(base: &[u8], side: &[u8]) -> Vec<Hunk> {
    changed_ranges(base, side)
        .into_iter()
        .map(|r| Hunk { base: r.old.start as usize..r.old.end as usize, side: r.new.start as usize..r.new.end as usize })
        .collect()
}

/// Where base range `range` lies in a side, given that side's hunks inside it (`inside`) and
/// the shift of lines before it (`shift`: side line = base line + shift).
fn side_range(range: &Range<usize>, inside: &[Hunk], shift: isize) -> Range<usize> {
    let start = inside.first().map_or(range.start as isize + shift, |h| h.side.start as isize - (h.base.start as isize - range.start as isize));
    let end_shift = inside.last().map_or(shift, |h| h.side.end as isize - h.base.end as isize);
    start.max(0) as usize..(range.end as isize + end_shift).max(0) as usize
}

/// The line three-way merge of `base`, `ours` and `theirs` (see the module documentation).
pub fn merge_lines(base: &[u8], ours: &[u8], theirs: &[u8], labels: &Labels) -> FileMerge {
    if ours == theirs {
        return FileMerge { content: ours.to_vec(), conflicts: Vec::new() };
    }
    if base == ours {
        return FileMerge { content: theirs.to_vec(), conflicts: Vec::new() };
    }
    if base == theirs {
        return FileMerge { content: ours.to_vec(), conflicts: Vec::new() };
    }
    let (b, o, t) = (split_lines(base), split_lines(ours), split_lines(theirs));
    let (ho, ht) = (hunks(base, ours), hunks(base, theirs));
    let mut out = Output::default();
    // Line shifts (side = base + shift) before the current position.
    let (mut shift_o, mut shift_t) = (0isize, 0isize);
    let (mut i, mut j) = (0, 0);
    let mut at = 0; // base lines before this one are emitted
    while i < ho.len() || j < ht.len() {
        // Start a region with the hunk that begins first, then take in every hunk of either side
        // that overlaps or touches it.
        let first_o = ho.get(i).map(|h| h.base.start);
        let first_t = ht.get(j).map(|h| h.base.start);
        let start = match (first_o, first_t) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => break,
        };
        let mut end = start;
        let (i0, j0) = (i, j);
        loop {
            let mut grew = false;
            if let Some(h) = ho.get(i).filter(|h| h.base.start <= end) {
                end = end.max(h.base.end);
                i += 1;
                grew = true;
            }
            if let Some(h) = ht.get(j).filter(|h| h.base.start <= end) {
                end = end.max(h.base.end);
                j += 1;
                grew = true;
            }
            if !grew {
                break;
            }
        }
        // Unchanged base lines before the region.
        out.lines(&b[at..start]);
        at = end;
        let region = start..end;
        let (in_o, in_t) = (&ho[i0..i], &ht[j0..j]);
        let ro = side_range(&region, in_o, shift_o);
        let rt = side_range(&region, in_t, shift_t);
        shift_o = ro.end as isize - end as isize;
        shift_t = rt.end as isize - end as isize;
        match (in_o.is_empty(), in_t.is_empty()) {
            (false, true) => out.lines(&o[ro]),
            (true, false) => out.lines(&t[rt]),
            _ if o[ro.clone()] == t[rt.clone()] => out.lines(&o[ro]),
            _ => out.conflict(&b, &o, &t, region, ro, rt, labels),
        }
    }
    out.lines(&b[at..]);
    FileMerge { content: out.content, conflicts: out.conflicts }
}

#[derive(Default)]
struct Output {
    content: Vec<u8>,
    lines: u32,
    conflicts: Vec<ConflictHunk>,
}

impl Output {
    fn lines(&mut self, lines: &[&[u8]]) {
        for line in lines {
            self.content.extend_from_slice(line);
            self.lines += 1;
        }
    }

    /// A line that must end before a marker: a last line without `\n` gets one.
    fn block_lines(&mut self, lines: &[&[u8]]) {
        for line in lines {
            self.content.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                self.content.push(b'\n');
            }
            self.lines += 1;
        }
    }

    fn marker(&mut self, c: u8, label: &str) {
        self.content.extend(std::iter::repeat_n(c, MARKER_LEN));
        if !label.is_empty() {
            self.content.push(b' ');
            self.content.extend_from_slice(label.as_bytes());
        }
        self.content.push(b'\n');
        self.lines += 1;
    }

    #[allow(clippy::too_many_arguments)]
    fn conflict(&mut self, b: &[&[u8]], o: &[&[u8]], t: &[&[u8]], base: Range<usize>, mut ours: Range<usize>, mut theirs: Range<usize>, labels: &Labels) {
        // zdiff3: lines both sides agree on at the start and the end stay outside the block.
        while ours.start < ours.end && theirs.start < theirs.end && o[ours.start] == t[theirs.start] && o[ours.start].ends_with(b"\n") {
            self.lines(&o[ours.start..ours.start + 1]);
            ours.start += 1;
            theirs.start += 1;
        }
        let mut suffix = 0;
        while ours.start < ours.end - suffix && theirs.start < theirs.end - suffix && o[ours.end - suffix - 1] == t[theirs.end - suffix - 1] {
            suffix += 1;
        }
        ours.end -= suffix;
        theirs.end -= suffix;
        let span = |lines: &[&[u8]], r: &Range<usize>| LineSpan {
            start: r.start as u32,
            end: r.end as u32,
            text: String::from_utf8_lossy(&lines[r.clone()].concat()).into_owned(),
        };
        let first = self.lines;
        self.marker(b'<', &labels.ours);
        self.block_lines(&o[ours.clone()]);
        self.marker(b'|', &labels.base);
        self.block_lines(&b[base.clone()]);
        self.marker(b'=', "");
        self.block_lines(&t[theirs.clone()]);
        self.marker(b'>', &labels.theirs);
        self.conflicts.push(ConflictHunk { base: span(b, &base), ours: span(o, &ours), theirs: span(t, &theirs), markers: first..self.lines });
        self.lines(&o[ours.end..ours.end + suffix]);
    }
}

/// Whether `content` still holds a conflict marker line (`<<<<<<< `, `=======`, `>>>>>>> ` at
/// the start of a line, [`MARKER_LEN`] long): what `merge --continue` refuses.
pub fn has_conflict_markers(content: &[u8]) -> bool {
    split_lines(content).into_iter().any(|line| {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == [b'='; MARKER_LEN] {
            return true;
        }
        [b'<', b'>', b'|']
            .iter()
            .any(|&c| line.len() >= MARKER_LEN && line[..MARKER_LEN].iter().all(|&x| x == c) && matches!(line.get(MARKER_LEN), None | Some(b' ')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels() -> Labels {
        Labels { base: "base".into(), ours: "ours".into(), theirs: "theirs".into() }
    }

    fn merge(b: &str, o: &str, t: &str) -> FileMerge {
        merge_lines(b.as_bytes(), o.as_bytes(), t.as_bytes(), &labels())
    }

    fn text(m: &FileMerge) -> &str {
        std::str::from_utf8(&m.content).unwrap()
    }

    #[test]
    fn changes_to_separate_regions_merge_cleanly() {
        let m = merge("a\nb\nc\nd\ne\n", "A\nb\nc\nd\ne\n", "a\nb\nc\nd\nE\n");
        assert!(m.is_clean());
        assert_eq!(text(&m), "A\nb\nc\nd\nE\n");
        // An insertion on one side and a deletion on the other, apart.
        let m = merge("a\nb\nc\nd\ne\n", "a\nx\nb\nc\nd\ne\n", "a\nb\nc\nd\n");
        assert_eq!(text(&m), "a\nx\nb\nc\nd\n");
    }

    #[test]
    fn the_same_change_on_both_sides_is_clean() {
        let m = merge("a\nb\nc\n", "a\nB\nc\nd\n", "a\nB\nc\n");
        assert!(m.is_clean(), "{}", text(&m));
        assert_eq!(text(&m), "a\nB\nc\nd\n");
    }

    #[test]
    fn overlapping_and_adjacent_changes_conflict_with_diff3_markers() {
        let m = merge("a\nb\nc\n", "a\nB1\nc\n", "a\nB2\nc\n");
        assert_eq!(text(&m), "a\n<<<<<<< ours\nB1\n||||||| base\nb\n=======\nB2\n>>>>>>> theirs\nc\n");
        assert_eq!(m.conflicts.len(), 1);
        let c = &m.conflicts[0];
        assert_eq!((c.base.start, c.base.end, c.base.text.as_str()), (1, 2, "b\n"));
        assert_eq!((c.ours.text.as_str(), c.theirs.text.as_str()), ("B1\n", "B2\n"));
        assert_eq!(c.markers, 1..8);
        // Neighbouring lines changed on each side: a conflict, as in git.
        let m = merge("a\nb\nc\nd\n", "a\nB\nc\nd\n", "a\nb\nC\nd\n");
        assert_eq!(m.conflicts.len(), 1, "{}", text(&m));
    }

    #[test]
    fn common_lines_at_the_edges_of_a_conflict_move_out_of_the_block() {
        let m = merge("a\nb\nz\n", "a\nsame\nX\nend\nz\n", "a\nsame\nY\nend\nz\n");
        assert_eq!(text(&m), "a\nsame\n<<<<<<< ours\nX\n||||||| base\nb\n=======\nY\n>>>>>>> theirs\nend\nz\n");
    }

    #[test]
    fn a_missing_final_newline_never_glues_a_marker_to_a_line() {
        let m = merge("a\n", "a\nx", "a\ny");
        assert_eq!(text(&m), "a\n<<<<<<< ours\nx\n||||||| base\n=======\ny\n>>>>>>> theirs\n");
        assert!(has_conflict_markers(&m.content));
        assert!(!has_conflict_markers(b"a\n<<<<<<<< eight\n=======x\n"));
    }

    fn arb_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop_oneof!["a", "b", "c", "d", "e"], 0..12).prop_map(|lines| lines.iter().map(|l| format!("{l}\n")).collect())
    }

    /// Every line a side inserts (its diff from the base) is in the result, clean or in a block.
    fn inserted_lines_kept(base: &str, side: &str, result: &[u8]) -> bool {
        let lines = split_lines(side.as_bytes());
        let mut have: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
        for line in split_lines(result) {
            *have.entry(line).or_default() += 1;
        }
        let mut need: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
        for h in hunks(base.as_bytes(), side.as_bytes()) {
            for line in &lines[h.side] {
                *need.entry(line).or_default() += 1;
            }
        }
        need.iter().all(|(line, n)| have.get(line).copied().unwrap_or(0) >= *n)
    }

    proptest! {
        #[test]
        fn merge_laws(b in arb_text(), x in arb_text(), y in arb_text()) {
            let l = labels();
            let bb = b.as_bytes();
            // merge(b, x, b) = x; merge(b, b, y) = y; merge(b, x, x) = x.
            prop_assert_eq!(merge_lines(bb, x.as_bytes(), bb, &l), FileMerge { content: x.clone().into_bytes(), conflicts: vec![] });
            prop_assert_eq!(merge_lines(bb, bb, y.as_bytes(), &l), FileMerge { content: y.clone().into_bytes(), conflicts: vec![] });
            prop_assert_eq!(merge_lines(bb, x.as_bytes(), x.as_bytes(), &l), FileMerge { content: x.clone().into_bytes(), conflicts: vec![] });
            // Swapping the sides swaps ours and theirs in each conflict, and nothing else.
            let xy = merge_lines(bb, x.as_bytes(), y.as_bytes(), &l);
            let swapped = Labels { ours: l.theirs.clone(), theirs: l.ours.clone(), base: l.base.clone() };
            let yx = merge_lines(bb, y.as_bytes(), x.as_bytes(), &swapped);
            prop_assert_eq!(xy.conflicts.len(), yx.conflicts.len());
            for (p, q) in xy.conflicts.iter().zip(&yx.conflicts) {
                prop_assert_eq!(&p.base, &q.base);
                prop_assert_eq!(&p.ours, &q.theirs);
                prop_assert_eq!(&p.theirs, &q.ours);
                prop_assert_eq!(&p.markers, &q.markers);
            }
            if xy.is_clean() {
                prop_assert_eq!(&xy.content, &yx.content);
            }
            // No content loss: every line either side inserted is in the result.
            prop_assert!(inserted_lines_kept(&b, &x, &xy.content));
            prop_assert!(inserted_lines_kept(&b, &y, &xy.content));
        }
    }
}
