#!/usr/bin/env bash
# bench/semver-corpus.sh: the computed bump of every commit of a corpus history.
#
# Imports the history (default flask: a library, so its public API is meaningful) and runs
# `muse semver COMMIT --json` on every commit reachable from a branch or tag (each against its
# first parent; a root commit against the empty tree). Prints the distribution of computed
# bumps (all commits, and non-merge commits), the most frequent rules, the time per commit, and
# writes one TSV line per commit (id, parents, computed, breaking, additions, files, subject)
# to OUT for sampling by hand (bench/semver-results.md).
#
# Usage: bench/semver-corpus.sh [NAME] [OUT]   (default flask, $TMPDIR/semver-NAME.tsv)
# Needs: python3, git, cargo, ../shared/corpus. Takes a few minutes; not part of CI.
set -euo pipefail
export LC_ALL=C
NAME=${1:-flask}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
OUT=${2:-${TMPDIR:-/tmp}/semver-$NAME.tsv}
CORPUS=${MUSE_CORPUS:-$ROOT/../shared/corpus}
[ -f "$CORPUS/$NAME.bundle" ] || CORPUS=$ROOT/../../shared/corpus
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
cargo build --release -q -p muse-cli --manifest-path "$ROOT/Cargo.toml"
MUSE=$CARGO_TARGET_DIR/release/muse
W=$(mktemp -d "${TMPDIR:-/tmp}/muse-semver-corpus.XXXXXX")
trap 'rm -rf "$W"' EXIT
export MUSE_AUTHOR="Bench <bench@example.invalid>"
git clone -q --mirror "$CORPUS/$NAME.bundle" "$W/$NAME.git"
"$MUSE" import git "$W/$NAME.git" "$W/$NAME" >/dev/null
python3 - "$MUSE" "$W/$NAME" "$OUT" <<'PY'
import collections, json, subprocess, sys, time
muse, repo, out = sys.argv[1:]
log = json.loads(subprocess.run([muse, "-C", repo, "--json", "log", "--all"], check=True, capture_output=True).stdout)
log.reverse()  # oldest first: each parent's side is usually in the symbol cache already
bumps, bumps_single, rules = collections.Counter(), collections.Counter(), collections.Counter()
started = time.time()
with open(out, "w") as fh:
    for c in log:
        r = json.loads(subprocess.run([muse, "-C", repo, "--json", "semver", c["commit_id"]], check=True, capture_output=True).stdout)
        bumps[r["computed"]] += 1
        if len(c["parents"]) < 2:
            bumps_single[r["computed"]] += 1
        for f in r["breaking"] + r["additions"]:
            rules[f["rule"]] += 1
        subject = c["message"].splitlines()[0] if c["message"] else ""
        fh.write("\t".join([c["commit_id"], str(len(c["parents"])), r["computed"], str(len(r["breaking"])), str(len(r["additions"])), str(len(r["files"])), subject]) + "\n")
elapsed = time.time() - started
order = ["none", "patch", "minor", "major"]
print(f"{len(log)} commits, {elapsed:.1f} s ({1000 * elapsed / max(len(log), 1):.1f} ms per `muse semver`)")
for title, counter in [("all commits", bumps), ("non-merge commits", bumps_single)]:
    total = sum(counter.values())
    print(f"{title} ({total}): " + ", ".join(f"{b} {counter[b]} ({100 * counter[b] / max(total, 1):.1f}%)" for b in order))
print("findings by rule: " + ", ".join(f"{k} {v}" for k, v in rules.most_common()))
print(f"per-commit lines: {out}")
PY
