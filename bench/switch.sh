#!/usr/bin/env bash
# bench/switch.sh: a clean `muse switch` beside `git switch` between two branches of the
# synthetic 100,000-file tree of ../shared/bench/git-anchors.sh, in one run, on the same input.
#
#   branch main   the generated tree
#   branch other  main with 1,000 files rewritten, 100 added and 100 removed
#   measured      switching other → main and main → other, alternately, on a clean tree
#                 (muse: all-or-nothing checkout with its operation record, refs, op log)
#
# Usage: bench/switch.sh [RUNS]   (default 5 switches each way)
# Needs: python3, git, cargo. Takes a few minutes; not part of CI.
set -euo pipefail
RUNS=${1:-5}
source "$(dirname "$0")/lib.sh" switch
ANCHORS=$(cd "$ROOT/../shared/bench" && pwd)/git-anchors.sh
timed() { local t0=${EPOCHREALTIME/./}; "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }; echo $(( ${EPOCHREALTIME/./} - t0 )); }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }

# diverge DIR: the same edits in DIR (1,000 rewritten, 100 added, 100 removed).
diverge() { python3 - "$1" <<'PY'
import os, sys
root = sys.argv[1]
def path(i):
    d, s, f = i // 10_000, (i // 100) % 100, i % 100
    return os.path.join(root, f"d{d:02d}", f"s{s:02d}", f"f{f:02d}.txt")
for i in range(0, 100_000, 100):
    with open(path(i), "ab") as fh:
        fh.write(b"on the other branch\n")
for i in range(50, 100_000, 1000):
    os.remove(path(i))
for i in range(100):
    p = os.path.join(root, "added", f"n{i:03d}.txt")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as fh:
        fh.write(b"new on the other branch %d\n" % i)
PY
}

log "generating the 100,000-file tree"
"$ANCHORS" gen "$W/m" 2>/dev/null
cp -a "$W/m" "$W/g"
log "muse: two branches"
cd "$W/m" && "$MUSE" init . >/dev/null && "$MUSE" commit -m main >/dev/null && "$MUSE" switch -c other >/dev/null
diverge "$W/m" && "$MUSE" commit -m other >/dev/null && "$MUSE" status >/dev/null
log "git: two branches"
cd "$W/g" && git init -q && git add -A && git commit -q -m main && git switch -q -c other
diverge "$W/g" && git add -A && git commit -q -m other && git status --porcelain >/dev/null

declare -a M G
for ((r = 0; r < RUNS; r++)); do
    for target in main other; do
        cd "$W/m"; M+=($(timed "$MUSE" switch "$target"))
        cd "$W/g"; G+=($(timed git switch -q "$target"))
    done
done
cd "$W/m"; [[ -z $("$MUSE" status -s) ]] || { echo "muse tree not clean after the switches" >&2; exit 1; }
cd "$W/g"; [[ -z $(git status --porcelain) ]] || { echo "git tree not clean after the switches" >&2; exit 1; }
m=$(median "${M[@]}"); g=$(median "${G[@]}")
echo "| workload | muse | git | muse / git | goal |"
echo "|---|---|---|---|---|"
echo "| clean switch, 100k files, 1,200 differ (median of $((2 * RUNS))) | $(ms "$m") | $(ms "$g") | $(ratio "$m" "$g") | ≤ 1.2× |"
