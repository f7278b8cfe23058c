#!/usr/bin/env bash
# bench/semver.sh: what computing the semver bump adds to a commit of 100 changed files.
#
# The working copy is the muse-python corpus history's tip (426 files, 368 of them Python,
# 11 KB on average). Each run appends one public function to the same 100 Python files (so the
# commit is `minor`: 100 symbols added, 100 files parsed) and commits, in three ways:
#   off    semver.compute = false (no symbol work at all);
#   warm   semver.compute = true, the steady state: the parent's side of every file is in the
#          symbol cache (the previous commit, a computed one, parsed it), the new side is parsed;
#   cold   semver.compute = true with the symbol cache emptied first: both sides are parsed.
# git commits the same 100 changed files in the same run, for scale. Reports medians.
#
# Usage: bench/semver.sh [RUNS]   (default 15 commits of each kind)
# Needs: python3, git, cargo, ../shared/corpus. Takes a few minutes; not part of CI.
set -euo pipefail
RUNS=${1:-15}
source "$(dirname "$0")/lib.sh" semver

# timed CMD…: "WALL_US CPU_US" (CPU: user + system time of the command and its children).
timed() {
    local TIMEFORMAT='%R %U %S'
    { time "$@" >/dev/null 2>"$W/err"; } 2>"$W/time" || { cat "$W/err" >&2; exit 1; }
    awk '{ printf "%d %d\n", $1 * 1e6, ($2 + $3) * 1e6 }' "$W/time"
}
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }

log "checking out muse-python twice (muse and git)"
git clone -q "$CORPUS/muse-python.bundle" "$W/g"
rm -rf "$W/g/.git/hooks"
mkdir "$W/m"
(cd "$W/g" && git ls-files -z | xargs -0 cp --parents -t "$W/m")
(cd "$W/m" && "$MUSE" init . >/dev/null && "$MUSE" commit -m init --bump none >/dev/null 2>&1)
# The 100 Python files: every third of the sorted list.
(cd "$W/g" && git ls-files '*.py' | sort | awk 'NR % 3 == 1' | head -100) >"$W/files"
[ "$(wc -l <"$W/files")" -eq 100 ] || { echo "fewer than 100 Python files" >&2; exit 1; }
BYTES=$(cd "$W/m" && xargs cat <"$W/files" | wc -c)

# change DIR N: appends a public function to each of the 100 files.
change() { while read -r f; do printf '\n\ndef bench_added_%s(x, y=1):\n    return x + y\n' "$2" >>"$1/$f"; done <"$W/files"; }

for kind in off warm cold git; do eval "${kind}_wall=() ${kind}_cpu=()"; done
for i in $(seq 1 "$RUNS"); do
    # cold first: the warm commit's parent side is then the cold commit's new side, in the cache.
    for kind in cold warm off; do
        n="${kind}_$i"
        change "$W/m" "$n"
        (cd "$W/m" && "$MUSE" config semver.compute "$([ "$kind" = off ] && echo false || echo true)")
        [ "$kind" = cold ] && rm -rf "$W/m/.muse/code"
        read -r wall cpu < <(cd "$W/m" && timed "$MUSE" commit -m "$n")
        eval "${kind}_wall+=($wall) ${kind}_cpu+=($cpu)"
    done
    change "$W/g" "git_$i"
    read -r wall cpu < <(cd "$W/g" && timed git commit -q -a -m "git_$i")
    git_wall+=("$wall") git_cpu+=("$cpu")
done
bump=$(cd "$W/m" && "$MUSE" semver --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["computed"], len(d["additions"]))')
for kind in off warm cold git; do
    eval "w_$kind=\$(median \"\${${kind}_wall[@]}\") c_$kind=\$(median \"\${${kind}_cpu[@]}\")"
done
echo "100 changed Python files ($BYTES bytes), $RUNS commits of each kind, medians of wall / CPU (user+sys) time;"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; last computed bump and additions: $bump"
echo "  muse commit, semver.compute = false : $(ms "$w_off") / $(ms "$c_off")"
echo "  muse commit, computed (warm cache)   : $(ms "$w_warm") / $(ms "$c_warm")   extra $(ms $((w_warm - w_off))) / $(ms $((c_warm - c_off)))"
echo "  muse commit, computed (cold cache)   : $(ms "$w_cold") / $(ms "$c_cold")   extra $(ms $((w_cold - w_off))) / $(ms $((c_cold - c_off)))"
echo "  git commit -a (same changes)         : $(ms "$w_git") / $(ms "$c_git")"
awk -v w="$w_warm" -v o="$w_off" -v g="$w_git" -v cw="$c_warm" -v co="$c_off" 'BEGIN { printf "  ratios (wall): computed (warm)/off %.2fx, computed (warm)/git %.2fx; CPU computed (warm)/off %.2fx\n", w / o, w / g, cw / co }'
