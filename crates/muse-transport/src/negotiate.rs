//! Have/want negotiation (`docs/protocol.md` §Negotiation): find which of the client's commits
//! the server holds in a few rounds, however long the histories.
//!
//! The walk visits commits newest first. A commit known common (an advertised commit the
//! client holds, or one the server said it holds) passes "common" on to its parents without
//! being sent, since the server then holds them too; any other commit is sent in the next batch
//! (16 the first round, doubling up to 4096) and its parents queued, to be turned common if the
//! answer says it is. The walk stops when no commit that is not known common is left in the
//! queue.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use muse_core::{rfc3339_to_unix, CommitId};
use muse_store::history::NewestFirst;
use muse_store::{ObjectKind, ObjectStore};

use crate::error::Result;

/// The first round's batch.
pub const FIRST_BATCH: usize = 16;

/// What negotiation needs to know about the local history.
pub trait CommitGraph {
    /// Whether the commit is held locally.
    fn has(&self, id: &CommitId) -> Result<bool>;
    /// The commit's parents and its time (seconds, nanoseconds since the epoch) for ordering.
    fn parents_and_time(&self, id: &CommitId) -> Result<(Vec<CommitId>, (i64, u32))>;
}

impl CommitGraph for ObjectStore {
    fn has(&self, id: &CommitId) -> Result<bool> {
        Ok(self.kind(&id.0)? == Some(ObjectKind::Commit))
    }

    fn parents_and_time(&self, id: &CommitId) -> Result<(Vec<CommitId>, (i64, u32))> {
        let commit = self.read_commit(id)?;
        let time = rfc3339_to_unix(&commit.committed_at).unwrap_or((i64::MIN, 0));
        Ok((commit.parents, time))
    }
}

/// The outcome of a negotiation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// Common commits none of which reaches another: the `haves` of the fetch.
    pub haves: Vec<CommitId>,
    /// Requests made.
    pub rounds: u32,
    /// Commits sent in all rounds.
    pub sent: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// In the queue, not known common.
    Queued,
    /// In the queue (or done), known common.
    Common,
    /// Sent (answered not common, or not answered yet).
    Sent,
}

struct Walk<'g, G: CommitGraph + ?Sized> {
    graph: &'g G,
    heap: NewestFirst<CommitId>,
    state: HashMap<CommitId, State>,
    /// Commits in the queue not known common: the walk ends when none is left.
    pending: usize,
    /// Commits made common directly (advertised or answered), not through a descendant.
    roots: HashSet<CommitId>,
}

impl<G: CommitGraph + ?Sized> Walk<'_, G> {
    fn push(&mut self, id: CommitId, common: bool) -> Result<()> {
        match self.state.entry(id) {
            Entry::Occupied(mut slot) => {
                if common {
                    match *slot.get() {
                        State::Queued => {
                            self.pending -= 1;
                            slot.insert(State::Common);
                        }
                        // Sent: its answer will say common too (the server's closure rule).
                        State::Sent | State::Common => {}
                    }
                    // Reached from a common descendant: not maximal.
                    self.roots.remove(&id);
                }
                return Ok(());
            }
            Entry::Vacant(slot) => {
                slot.insert(if common { State::Common } else { State::Queued });
            }
        }
        if !common {
            self.pending += 1;
        }
        let (_, time) = self.graph.parents_and_time(&id)?;
        self.heap.push(time, id);
        Ok(())
    }

    fn mark_common(&mut self, id: CommitId) -> Result<()> {
        let (parents, _) = self.graph.parents_and_time(&id)?;
        for parent in parents {
            self.push(parent, true)?;
        }
        Ok(())
    }
}

/// Negotiates with `ask` (one request: which of these commits does the server hold?) from the
/// local `tips`, knowing that the server holds `advertised` commits. `tips` and `advertised`
/// may hold commits the store lacks (they are skipped).
pub fn negotiate<G: CommitGraph + ?Sized>(
    graph: &G,
    tips: &[CommitId],
    advertised: &[CommitId],
    mut ask: impl FnMut(&[CommitId]) -> Result<Vec<CommitId>>,
) -> Result<Negotiated> {
    let mut walk = Walk { graph, heap: NewestFirst::new(), state: HashMap::new(), pending: 0, roots: HashSet::new() };
    for id in advertised {
        if graph.has(id)? && !walk.state.contains_key(id) {
            walk.push(*id, true)?;
            walk.roots.insert(*id);
        }
    }
    for id in tips {
        if graph.has(id)? {
            walk.push(*id, false)?;
        }
    }
    let mut out = Negotiated::default();
    let mut batch_size = FIRST_BATCH;
    while walk.pending > 0 {
        let mut batch = Vec::with_capacity(batch_size);
        while batch.len() < batch_size && walk.pending > 0 {
            let Some(id) = walk.heap.pop() else { break };
            match walk.state.get(&id).copied() {
                Some(State::Common) => walk.mark_common(id)?,
                Some(State::Queued) => {
                    walk.pending -= 1;
                    walk.state.insert(id, State::Sent);
                    batch.push(id);
                    // Its parents are candidates at once (a commit answered common turns them
                    // common), so that a batch fills up even on a line of history.
                    let (parents, _) = graph.parents_and_time(&id)?;
                    for parent in parents {
                        walk.push(parent, false)?;
                    }
                }
                Some(State::Sent) | None => {}
            }
        }
        if batch.is_empty() {
            break;
        }
        let common: HashSet<CommitId> = ask(&batch)?.into_iter().collect();
        out.rounds += 1;
        out.sent += batch.len() as u64;
        // Common answers first, so that a parent shared with a common sibling is not queued
        // as unknown.
        for id in batch.iter().filter(|id| common.contains(id)) {
            walk.state.insert(*id, State::Common);
            walk.roots.insert(*id);
        }
        for id in batch.iter().filter(|id| common.contains(id)) {
            walk.mark_common(*id)?;
        }
        batch_size = (batch_size * 2).min(muse_protocol::MAX_NEGOTIATE_HAVES);
    }
    let mut haves: Vec<CommitId> = walk.roots.into_iter().collect();
    haves.sort();
    haves.truncate(muse_protocol::MAX_FETCH_HAVES);
    out.haves = haves;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use muse_core::ObjectId;

    /// A history in memory: commit n has the given parents and time n.
    struct Graph(HashMap<CommitId, (Vec<CommitId>, i64)>);

    impl CommitGraph for Graph {
        fn has(&self, id: &CommitId) -> Result<bool> {
            Ok(self.0.contains_key(id))
        }
        fn parents_and_time(&self, id: &CommitId) -> Result<(Vec<CommitId>, (i64, u32))> {
            let (parents, time) = self.0.get(id).ok_or(muse_store::StoreError::ObjectNotFound(id.0))?;
            Ok((parents.clone(), (*time, 0)))
        }
    }

    fn id(label: &str, n: u64) -> CommitId {
        CommitId(ObjectId::sha256(format!("{label}{n}").as_bytes()))
    }

    /// Adds a line of `len` commits labelled `label` on top of `base` (times continuing from
    /// `start`); returns the ids, oldest first.
    fn line(graph: &mut Graph, label: &str, base: Option<CommitId>, start: i64, len: u64) -> Vec<CommitId> {
        let mut out = Vec::new();
        let mut parent = base;
        for n in 0..len {
            let c = id(label, n);
            graph.0.insert(c, (parent.into_iter().collect(), start + n as i64));
            out.push(c);
            parent = Some(c);
        }
        out
    }

    /// A fake server holding `held` (and, by the closure rule, their ancestors in `graph`).
    fn server(graph: &Graph, held: &[CommitId]) -> HashSet<CommitId> {
        let mut set = HashSet::new();
        let mut stack = held.to_vec();
        while let Some(c) = stack.pop() {
            if set.insert(c) {
                stack.extend(graph.0[&c].0.iter().copied());
            }
        }
        set
    }

    fn run(graph: &Graph, tips: &[CommitId], advertised: &[CommitId], held: &HashSet<CommitId>) -> (Negotiated, Vec<usize>) {
        let mut sizes = Vec::new();
        let result = negotiate(graph, tips, advertised, |haves| {
            assert!(haves.len() <= muse_protocol::MAX_NEGOTIATE_HAVES);
            sizes.push(haves.len());
            Ok(haves.iter().copied().filter(|h| held.contains(h)).collect())
        })
        .unwrap();
        (result, sizes)
    }

    #[test]
    fn a_client_behind_the_server_needs_no_round() {
        let mut g = Graph(HashMap::new());
        let ours = line(&mut g, "a", None, 0, 5000);
        let tip = *ours.last().unwrap();
        // The server is ahead: its tip is unknown here, but it advertises a tag at our tip.
        let (n, sizes) = run(&g, &[tip], &[tip], &server(&g, &[tip]));
        assert_eq!((n.rounds, n.haves.clone()), (0, vec![tip]), "{sizes:?}");
    }

    #[test]
    fn a_client_with_nothing_in_common_asks_log2_rounds() {
        let mut g = Graph(HashMap::new());
        let ours = line(&mut g, "a", None, 0, 10_000);
        let mut remote = Graph(HashMap::new());
        let theirs = line(&mut remote, "b", None, 0, 10);
        let held = server(&remote, &[*theirs.last().unwrap()]);
        let (n, sizes) = run(&g, &[*ours.last().unwrap()], &[*theirs.last().unwrap()], &held);
        // 16 + 32 + ... : 10 000 commits in ceil(log2(10000/16 + 1)) rounds.
        assert_eq!(sizes, vec![16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 1824]);
        assert!(n.rounds as f64 <= (10_000f64 / 16.0).log2() + 1.0);
        assert!(n.haves.is_empty());
        assert_eq!(n.sent, 10_000);
    }

    #[test]
    fn a_diverged_client_stops_at_the_fork() {
        let mut g = Graph(HashMap::new());
        let base = line(&mut g, "base", None, 0, 3000);
        let fork = *base.last().unwrap();
        let mut remote = Graph(g.0.clone());
        let ours = line(&mut g, "ours", Some(fork), 3000, 100);
        let theirs = line(&mut remote, "theirs", Some(fork), 3000, 50);
        let held = server(&remote, &[*theirs.last().unwrap()]);
        let (n, sizes) = run(&g, &[*ours.last().unwrap()], &[*theirs.last().unwrap()], &held);
        assert_eq!(n.haves, vec![fork]);
        // 100 own commits, then the fork: 16 + 32 + 64 = 112 > 101, in 3 rounds, never the
        // 2999 commits below the fork.
        assert_eq!(n.rounds, 3, "{sizes:?}");
        assert!(n.sent <= 112);
    }

    #[test]
    fn merges_and_several_tips_find_every_maximal_common_commit() {
        let mut g = Graph(HashMap::new());
        let base = line(&mut g, "base", None, 0, 100);
        let left = line(&mut g, "left", Some(base[99]), 100, 20);
        let right = line(&mut g, "right", Some(base[50]), 100, 30);
        // The server has left[9] and right[19]; we have both lines and a merge on top.
        let merge = id("merge", 0);
        g.0.insert(merge, (vec![left[19], right[29]], 200));
        let held = server(&g, &[left[9], right[19]]);
        let (n, _) = run(&g, &[merge, base[10]], &[], &held);
        let mut expected = vec![left[9], right[19]];
        expected.sort();
        assert_eq!(n.haves, expected);
    }

    #[test]
    fn unknown_tips_and_advertised_commits_are_skipped() {
        let mut g = Graph(HashMap::new());
        let ours = line(&mut g, "a", None, 0, 3);
        let (n, sizes) = run(&g, &[id("zzz", 1), ours[2]], &[id("yyy", 1)], &HashSet::new());
        assert_eq!((n.rounds, n.haves.len()), (1, 0));
        assert_eq!(sizes, vec![3]);
    }
}
