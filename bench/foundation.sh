#!/usr/bin/env bash
# bench/foundation.sh: Muse beside git on the synthetic 100,000-file tree of
# ../shared/bench/git-anchors.sh, in one run, on the same machine and the same input.
#
#   first commit      muse init && muse commit (durable: fsync'd packs and refs)
#                     vs git init && git add -A && git commit (git defaults, and with fsync)
#   clean status      muse status vs git status --porcelain (stat caches warm)
#   100-file commit   the same 100 files changed in both, then commit
#
# Usage: bench/foundation.sh [RUNS]   (default 3 runs of each commit, 10 of status)
# Needs: python3 (tree generator), git, cargo. Takes a few minutes; not part of CI.
set -euo pipefail
RUNS=${1:-3}
source "$(dirname "$0")/lib.sh" foundation
ANCHORS=$(cd "$ROOT/../shared/bench" && pwd)/git-anchors.sh
# timed CMD...: runs CMD in the current directory, prints elapsed microseconds
timed() { local t0=${EPOCHREALTIME/./}; "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }; echo $(( ${EPOCHREALTIME/./} - t0 )); }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }

log "generating the 100,000-file tree"
"$ANCHORS" gen "$W/src" 2>/dev/null
cp -a "$W/src" "$W/pristine"

# change_100 DIR: rewrites the same 100 files (every 1000th) the same way in DIR.
change_100() { python3 - "$1" <<'PY'
import os, sys
root = sys.argv[1]
for i in range(0, 100_000, 1000):
    d, s, f = i // 10_000, (i // 100) % 100, i % 100
    p = os.path.join(root, f"d{d:02d}", f"s{s:02d}", f"f{f:02d}.txt")
    with open(p, "ab") as fh:
        fh.write(b"one more line\n")
PY
}

declare -a M_FIRST G_FIRST G_FIRST_FSYNC M_STATUS G_STATUS M_100 G_100
for ((r = 0; r < RUNS; r++)); do
    log "run $((r + 1))/$RUNS: first commit"
    rm -rf "$W/m" "$W/g" && cp -a "$W/pristine" "$W/m" && cp -a "$W/pristine" "$W/g" && sync
    cd "$W/m"; M_FIRST+=($(timed bash -c "'$MUSE' init . && '$MUSE' commit -m init"))
    cd "$W/g"; G_FIRST+=($(timed bash -c 'git init -q && git add -A && git commit -q -m init'))
    rm -rf "$W/g/.git" && sync
    G_FIRST_FSYNC+=($(timed bash -c 'git init -q && git -c core.fsync=committed,index -c core.fsyncMethod=batch add -A && git -c core.fsync=committed,index -c core.fsyncMethod=batch commit -q -m init'))
    log "run $((r + 1))/$RUNS: 100 changed files"
    change_100 "$W/m"; change_100 "$W/g"
    cd "$W/m"; "$MUSE" status >/dev/null; M_100+=($(timed "$MUSE" commit -m "100 files"))
    cd "$W/g"; git status --porcelain >/dev/null; G_100+=($(timed bash -c 'git add -A && git commit -q -m "100 files"'))
done
log "clean status, 10 runs each"
cd "$W/m"; "$MUSE" status >/dev/null; cd "$W/g"; git status --porcelain >/dev/null
for ((r = 0; r < 10; r++)); do
    cd "$W/m"; M_STATUS+=($(timed "$MUSE" status))
    cd "$W/g"; G_STATUS+=($(timed git status --porcelain))
done

mf=$(median "${M_FIRST[@]}"); gf=$(median "${G_FIRST[@]}"); gff=$(median "${G_FIRST_FSYNC[@]}")
ms_=$(median "${M_STATUS[@]}"); gs=$(median "${G_STATUS[@]}")
m1=$(median "${M_100[@]}"); g1=$(median "${G_100[@]}")
echo "| workload | muse | git | muse / git | goal |"
echo "|---|---|---|---|---|"
echo "| first commit, 100k files (muse fsync'd; git defaults) | $(ms "$mf") | $(ms "$gf") | $(ratio "$mf" "$gf") | ≤ 0.25× |"
echo "| first commit, 100k files (git with fsync too) | $(ms "$mf") | $(ms "$gff") | $(ratio "$mf" "$gff") | |"
echo "| clean status | $(ms "$ms_") | $(ms "$gs") | $(ratio "$ms_" "$gs") | ≤ 0.7× |"
echo "| commit of 100 changed files | $(ms "$m1") | $(ms "$g1") | $(ratio "$m1" "$g1") | ≤ 0.5× |"
echo
echo "medians of $RUNS runs (status: 10); store sizes: muse $(du -sk "$W/m/.muse" | cut -f1) KiB, git $(du -sk "$W/g/.git" | cut -f1) KiB; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
