#!/usr/bin/env bash
# bench/oplog.sh: what recording an operation in the op log adds to a 100-file commit.
#
# One repository of 1,000 files whose store already holds 2,000 tags and an op log of 2,000
# operations (the record of an operation holds only what it changed and an append reads only
# the last record, so neither should matter). Each run changes the same 100 files and commits,
# alternately with recording (the default) and without (MUSE_OPLOG_BENCH_SKIP=1, which exists
# for this script only); git commits the same 100 changed files in the same run, for scale.
# Reports medians.
#
# Usage: bench/oplog.sh [RUNS]   (default 31 commits of each kind)
# Needs: python3, git, cargo. Takes about a minute on an idle machine; not part of CI.
set -euo pipefail
RUNS=${1:-31}
source "$(dirname "$0")/lib.sh" oplog
unset MUSE_OPLOG_BENCH_SKIP

timed() { local t0=${EPOCHREALTIME/./}; "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }; echo $(( ${EPOCHREALTIME/./} - t0 )); }
ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }

log "building the repositories"
mkdir "$W/m" "$W/g"
tree_1000 "$W/m"; tree_1000 "$W/g"
(cd "$W/m" && "$MUSE" init . >/dev/null && "$MUSE" commit -q -m init >/dev/null 2>&1 || "$MUSE" commit -m init >/dev/null)
(cd "$W/g" && git init -q && git add -A && git commit -q -m init)
log "2,000 tags and operations"
(cd "$W/m" && for i in $(seq 1 2000); do "$MUSE" tag "t$i" >/dev/null; done)
OPS_BEFORE=$(cd "$W/m" && "$MUSE" op log -n 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["operations"][0]["id"])')

declare -a WITH WITHOUT GIT
for ((r = 0; r < RUNS; r++)); do
    cd "$W/m"
    change_100 "$W/m" "a$r"; sync
    WITH+=($(timed "$MUSE" commit -m "with $r"))
    change_100 "$W/m" "b$r"; sync
    WITHOUT+=($(MUSE_OPLOG_BENCH_SKIP=1 timed "$MUSE" commit -m "without $r"))
    cd "$W/g"
    change_100 "$W/g" "a$r"; sync
    GIT+=($(timed bash -c 'git add -A && git commit -q -m x'))
done
OPS_AFTER=$(cd "$W/m" && "$MUSE" op log -n 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["operations"][0]["id"])')
[ $((OPS_AFTER - OPS_BEFORE)) -eq "$RUNS" ] || { echo "expected $RUNS recorded commits, got $((OPS_AFTER - OPS_BEFORE))" >&2; exit 1; }

MW=$(median "${WITH[@]}"); MO=$(median "${WITHOUT[@]}"); MG=$(median "${GIT[@]}")
LOG_BYTES=$(stat -c %s "$W/m/.muse/oplog")
echo "100-file commit, 1,000-file tree, 2,000 tags, op log of $OPS_AFTER operations ($LOG_BYTES bytes), median of $RUNS:"
echo "  muse commit, recorded in the op log:   $(ms "$MW")"
echo "  muse commit, not recorded:             $(ms "$MO")"
awk -v a="$MW" -v b="$MO" 'BEGIN { printf "  op log overhead:                       %+.1f %% (%+.2f ms)\n", (a - b) * 100 / b, (a - b) / 1000 }'
echo "  git add -A && git commit:              $(ms "$MG")"
