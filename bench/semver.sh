#!/usr/bin/env bash
# bench/semver.sh: what computing the semver bump adds to a commit of 100 changed files.
#
# The working copy is the muse-python corpus history's tip (426 files, 368 of them Python,
# 11 KB on average). Each run appends one public function to the same 100 Python files (so the
# commit is `minor`: 100 symbols added, 100 files parsed) and commits, in three ways:
#   off    semver.compute = false (no symbol work at all);
#   warm   semver.compute = true, the steady state: the parent's side of every file is in the
#          symbol cache (the previous commit parsed it), the new side is parsed;
#   cold   semver.compute = true with the symbol cache emptied first: both sides are parsed.
# git commits the same 100 changed files in the same run, for scale. Reports medians.
#
# Usage: bench/semver.sh [RUNS]   (default 15 commits of each kind)
# Needs: python3, git, cargo, ../shared/corpus. Takes a few minutes; not part of CI.
set -euo pipefail
export LC_ALL=C
RUNS=${1:-15}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CORPUS=${MUSE_CORPUS:-$ROOT/../shared/corpus}
[ -f "$CORPUS/muse-python.bundle" ] || CORPUS=$ROOT/../../shared/corpus
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
cargo build --release -q -p muse-cli --manifest-path "$ROOT/Cargo.toml"
MUSE=$CARGO_TARGET_DIR/release/muse

W=$(mktemp -d "${TMPDIR:-/tmp}/muse-semver.XXXXXX")
trap 'rm -rf "$W"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$W/gitconfig
printf '[user]\n\tname = Bench\n\temail = bench@example.invalid\n[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n' >"$GIT_CONFIG_GLOBAL"
export MUSE_AUTHOR="Bench <bench@example.invalid>"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
timed() { local t0=${EPOCHREALTIME/./}; "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }; echo $(( ${EPOCHREALTIME/./} - t0 )); }
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

off=() warm=() cold=() git=()
for i in $(seq 1 "$RUNS"); do
    for kind in off warm cold; do
        n="${kind}_$i"
        change "$W/m" "$n"
        (cd "$W/m" && "$MUSE" config semver.compute "$([ "$kind" = off ] && echo false || echo true)")
        [ "$kind" = cold ] && rm -rf "$W/m/.muse/code"
        t=$(cd "$W/m" && timed "$MUSE" commit -m "$n")
        eval "$kind+=($t)"
    done
    change "$W/g" "git_$i"
    git+=("$(cd "$W/g" && timed git commit -q -a -m "git_$i")")
done
bump=$(cd "$W/m" && "$MUSE" semver --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["computed"], len(d["additions"]))')
m_off=$(median "${off[@]}") m_warm=$(median "${warm[@]}") m_cold=$(median "${cold[@]}") m_git=$(median "${git[@]}")
echo "100 changed Python files ($BYTES bytes), $RUNS commits of each kind, medians (last computed bump and additions: $bump):"
echo "  muse commit, semver.compute = false : $(ms "$m_off")"
echo "  muse commit, computed (warm cache)   : $(ms "$m_warm")   extra $(ms $((m_warm - m_off)))"
echo "  muse commit, computed (cold cache)   : $(ms "$m_cold")   extra $(ms $((m_cold - m_off)))"
echo "  git commit -a (same changes)         : $(ms "$m_git")"
awk -v w="$m_warm" -v c="$m_cold" -v o="$m_off" -v g="$m_git" 'BEGIN { printf "  ratios: computed/off %.2fx (warm), %.2fx (cold); computed (warm)/git %.2fx\n", w / o, c / o, w / g }'
