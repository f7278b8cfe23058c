//! `log --graph`: the commit DAG drawn in ASCII to the left of the log, in git's style: `*` for
//! a commit, `|` for a line of descent going on, `\` where a merge's other parent branches off,
//! `/` where two lines join (`_` where a joining line passes other lines), one column per line.
//!
//! The drawing is given each commit with its parents among the commits shown (see
//! [`shown_parents`]) in an order where children come before their parents (see [`topological`]).

use std::collections::{BinaryHeap, HashMap};

use muse_core::CommitId;
use muse_store::index::HistoryIndex;

/// The graph's rows for one commit; each ends with the space that separates it from the text.
pub struct Rows {
    /// Rows before the commit's: columns waiting for it joining into its column.
    pub before: Vec<String>,
    /// The prefix of the commit's first line (`*` in its column).
    pub commit: String,
    /// Rows right after the commit's first line: a merge's other parents branching off, or the
    /// columns moving left after a line ended. They prefix the commit's next lines when it has
    /// some.
    pub after: Vec<String>,
    /// The prefix of every further line until the next commit.
    pub continuation: String,
}

/// The lines of descent being drawn: each column waits for one commit.
#[derive(Default)]
pub struct Graph {
    columns: Vec<CommitId>,
}

impl Graph {
    /// The rows to print for `commit`, whose parents among the commits shown are `parents`.
    pub fn draw(&mut self, commit: CommitId, parents: &[CommitId]) -> Rows {
        let mut before = Vec::new();
        let column = match self.columns.iter().position(|c| *c == commit) {
            Some(column) => column,
            None => {
                self.columns.push(commit);
                self.columns.len() - 1
            }
        };
        // Join every other column waiting for this commit, the rightmost first, one per row.
        while let Some(join) = self.columns.iter().rposition(|c| *c == commit).filter(|&j| j != column) {
            before.push(self.join_row(column, join));
            self.columns.remove(join);
        }
        let commit_row = self.row(|i| if i == column { '*' } else { '|' });
        let mut after = Vec::new();
        match parents.split_first() {
            None => {
                // A root (or a commit whose parents are not shown): its line ends; the columns
                // to its right move one to the left.
                self.columns.remove(column);
                if column < self.columns.len() {
                    after.push(self.shift_row(column));
                }
            }
            Some((first, others)) => {
                self.columns[column] = *first;
                for (n, other) in others.iter().enumerate() {
                    let at = column + 1 + n;
                    self.columns.insert(at, *other);
                    after.push(self.branch_row(at));
                }
            }
        }
        let continuation = if self.columns.is_empty() { " ".repeat(commit_row.chars().count()) } else { self.row(|_| '|') };
        Rows { before, commit: commit_row, after, continuation }
    }

    /// A row with one character per column, at even positions.
    fn row(&self, mark: impl Fn(usize) -> char) -> String {
        pad(&(0..self.columns.len()).map(|i| mark(i).to_string()).collect::<Vec<_>>().join(" "))
    }

    /// The row in which column `join` runs into column `into` (left of it): `|/`, or `|_|/`
    /// across columns between them; the columns right of `join` move one to the left.
    fn join_row(&self, into: usize, join: usize) -> String {
        let mut cells = vec![' '; self.columns.len() * 2];
        for (i, cell) in cells.iter_mut().enumerate() {
            let column = i / 2;
            *cell = match (i % 2, column) {
                (0, c) if c < join => '|',
                (1, c) if c >= into && c + 1 < join => '_',
                // The joining line, and the columns right of it moving one to the left.
                (1, c) if c + 1 == join || (c >= join && c + 1 < self.columns.len()) => '/',
                _ => ' ',
            };
        }
        pad(&cells.into_iter().collect::<String>())
    }

    /// The row after a line ended at `gone`: the columns from `gone` on come one to the left.
    fn shift_row(&self, gone: usize) -> String {
        let mut cells = vec![' '; self.columns.len() * 2 + 2];
        for (column, _) in self.columns.iter().enumerate() {
            if column < gone {
                cells[column * 2] = '|';
            } else {
                cells[column * 2 + 1] = '/';
            }
        }
        pad(&cells.into_iter().collect::<String>())
    }

    /// The row in which a new column at `at` branches off the column left of it; the columns
    /// after it had been one to the left before.
    fn branch_row(&self, at: usize) -> String {
        let mut cells = vec![' '; self.columns.len() * 2];
        for column in 0..self.columns.len() {
            if column < at {
                cells[column * 2] = '|';
            } else {
                cells[column * 2 - 1] = '\\';
            }
        }
        pad(&cells.into_iter().collect::<String>())
    }
}

/// A graph prefix with its trailing spaces removed, then one space before the text.
fn pad(row: &str) -> String {
    format!("{} ", row.trim_end())
}

/// For each shown commit, its parents among the shown commits: a parent that is not shown is
/// replaced by its nearest shown ancestors (as git rewrites parents under path limits and
/// filters), a parent with none is dropped. `shown` are positions in `index`.
pub fn shown_parents(index: &HistoryIndex, shown: &[u32]) -> HashMap<u32, Vec<u32>> {
    let is_shown: std::collections::HashSet<u32> = shown.iter().copied().collect();
    // No shown commit lies below the lowest generation shown: the search stops there.
    let floor = shown.iter().filter_map(|&p| index.commit(p)).map(|c| c.generation).min().unwrap_or(0);
    let mut out = HashMap::with_capacity(shown.len());
    for &pos in shown {
        let mut parents = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack: Vec<u32> = index.parents(pos).iter().rev().copied().collect();
        while let Some(p) = stack.pop() {
            if !seen.insert(p) || index.commit(p).is_none_or(|c| c.generation < floor) {
                continue;
            }
            if is_shown.contains(&p) {
                parents.push(p);
            } else {
                stack.extend(index.parents(p).iter().rev());
            }
        }
        out.insert(pos, parents);
    }
    out
}

/// `shown` (in walk order, newest first) reordered so that every commit comes before its
/// parents, keeping the walk order wherever that already holds.
pub fn topological(shown: &[u32], parents: &HashMap<u32, Vec<u32>>) -> Vec<u32> {
    let order: HashMap<u32, usize> = shown.iter().enumerate().map(|(i, &p)| (p, i)).collect();
    let mut children: HashMap<u32, usize> = HashMap::new();
    for list in parents.values() {
        for &p in list {
            *children.entry(p).or_default() += 1;
        }
    }
    let mut ready: BinaryHeap<std::cmp::Reverse<usize>> =
        shown.iter().enumerate().filter(|(_, p)| !children.contains_key(p)).map(|(i, _)| std::cmp::Reverse(i)).collect();
    let mut out = Vec::with_capacity(shown.len());
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        let pos = shown[i];
        out.push(pos);
        for p in parents.get(&pos).into_iter().flatten() {
            if let Some(count) = children.get_mut(p) {
                *count -= 1;
                if *count == 0 {
                    ready.push(std::cmp::Reverse(order[p]));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> CommitId {
        CommitId(muse_core::ObjectId::from_bytes([n; 32]))
    }

    /// Draws a history given as (commit, parents) in display order.
    fn draw(history: &[(u8, &[u8])]) -> String {
        let mut graph = Graph::default();
        let mut out = String::new();
        for (commit, parents) in history {
            let parents: Vec<CommitId> = parents.iter().map(|&p| id(p)).collect();
            let rows = graph.draw(id(*commit), &parents);
            for row in rows.before {
                out.push_str(row.trim_end());
                out.push('\n');
            }
            out.push_str(&format!("{}{commit}\n", rows.commit));
            for row in rows.after {
                out.push_str(row.trim_end());
                out.push('\n');
            }
        }
        out
    }

    #[test]
    fn a_straight_line() {
        assert_eq!(draw(&[(3, &[2]), (2, &[1]), (1, &[])]), "* 3\n* 2\n* 1\n");
    }

    #[test]
    fn a_merge_branches_off_and_joins_back() {
        // 4 merges 3 (first parent) and 2; both come from 1.
        let drawn = draw(&[(4, &[3, 2]), (2, &[1]), (3, &[1]), (1, &[])]);
        assert_eq!(drawn, "* 4\n|\\\n| * 2\n* | 3\n|/\n* 1\n");
    }

    #[test]
    fn a_line_ending_moves_the_columns_right_of_it() {
        // Two unrelated roots, both tips shown: 5 -> 4 and 3 (a root) beside them.
        let drawn = draw(&[(5, &[4]), (3, &[]), (4, &[])]);
        assert_eq!(drawn, "* 5\n| * 3\n* 4\n");
        let drawn = draw(&[(3, &[]), (5, &[4]), (4, &[])]);
        assert_eq!(drawn, "* 3\n* 5\n* 4\n");
        // A root left of a waiting column: the column moves left.
        let drawn = draw(&[(6, &[2, 5]), (2, &[]), (5, &[])]);
        assert_eq!(drawn, "* 6\n|\\\n* | 2\n /\n* 5\n");
    }

    #[test]
    fn columns_right_of_a_join_move_left() {
        let graph = Graph { columns: vec![id(1), id(2), id(1), id(3)] };
        assert_eq!(graph.join_row(0, 2), "|_|/ / ");
        let graph = Graph { columns: vec![id(1), id(1), id(3)] };
        assert_eq!(graph.join_row(0, 1), "|/ / ");
    }

    #[test]
    fn a_join_across_a_column() {
        // 9 merges 8 and 7; 7 merges 6 and 1; 8 and 6 both come from 1... columns 0 and 2 wait
        // for 1 with column 1 between them.
        let drawn = draw(&[(9, &[8, 7]), (7, &[6, 1]), (8, &[1]), (6, &[1]), (1, &[])]);
        assert!(drawn.contains("|_|/"), "{drawn}");
        assert!(drawn.ends_with("* 1\n"), "{drawn}");
        // Every commit is drawn exactly once.
        assert_eq!(drawn.matches('*').count(), 5);
    }
}
