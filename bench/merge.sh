#!/usr/bin/env bash
# bench/merge.sh: re-merging the real merge commits of corpus histories, `muse merge-tree` beside
# `git merge-tree --write-tree` on the same two parents, in one run.
#
#   input     every two-parent merge commit of each bundle (default: muse-python requests flask;
#             ../shared/corpus), imported into muse with `muse import git`
#   measured  one process per merge on each side (muse: merge bases, tree merge with renames,
#             the merged blobs and trees written to a pack; git: the same with merge-ort),
#             all merges of a bundle back to back; totals and the median merge
#
# Usage: bench/merge.sh [BUNDLE…]
# Needs: git, cargo. Takes a few minutes; not part of CI. Results: bench/merge-results.md.
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CORPUS=${MUSE_CORPUS:-$(cd "$ROOT/../shared/corpus" && pwd)}
BUNDLES=("$@")
[ ${#BUNDLES[@]} -gt 0 ] || BUNDLES=(muse-python requests flask)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
cargo build --release -q -p muse-cli --manifest-path "$ROOT/Cargo.toml"
MUSE=$CARGO_TARGET_DIR/release/muse

W=$(mktemp -d "${TMPDIR:-/tmp}/muse-merge.XXXXXX")
trap 'rm -rf "$W"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export MUSE_AUTHOR="Bench <bench@example.invalid>"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.1f ms", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }

printf '| bundle | merges | conflicted (muse / git) | muse total | git total | ratio | muse median | git median |\n|---|---|---|---|---|---|---|---|\n'
for b in "${BUNDLES[@]}"; do
  log "$b: mirror and import"
  git clone --quiet --mirror "$CORPUS/$b.bundle" "$W/$b.git"
  "$MUSE" import git "$W/$b.git" "$W/$b" >/dev/null
  git -C "$W/$b.git" rev-list --merges --parents --all | awk 'NF == 3 {print $2, $3}' >"$W/$b.pairs"
  # git id -> muse id, from the import's map.
  declare -A MAP=()
  while read -r g m; do MAP[$g]=$m; done < <(tail -n +2 "$W/$b/.muse/import/git-map")
  n=0; mc=0; gc=0; mt=(); gt=(); msum=0; gsum=0
  log "$b: $(wc -l <"$W/$b.pairs") merges"
  while read -r p1 p2; do
    # Exit 1 is "conflicts" on both sides; anything else is a failure of the run.
    t0=${EPOCHREALTIME/./}
    rc=0; (cd "$W/$b" && "$MUSE" merge-tree "${MAP[$p1]}" "${MAP[$p2]}" >/dev/null 2>"$W/err") || rc=$?
    t1=${EPOCHREALTIME/./}
    [ $rc -le 1 ] || { cat "$W/err" >&2; exit 1; }; mc=$((mc + rc))
    rc=0; git -C "$W/$b.git" merge-tree --write-tree "$p1" "$p2" >/dev/null 2>"$W/err" || rc=$?
    t2=${EPOCHREALTIME/./}
    [ $rc -le 1 ] || { cat "$W/err" >&2; exit 1; }; gc=$((gc + rc))
    mt+=($((t1 - t0))); gt+=($((t2 - t1))); msum=$((msum + t1 - t0)); gsum=$((gsum + t2 - t1)); n=$((n + 1))
  done <"$W/$b.pairs"
  unset MAP
  printf '| %s | %d | %d / %d | %s | %s | %s | %s | %s |\n' "$b" "$n" "$mc" "$gc" "$(ms $msum)" "$(ms $gsum)" "$(ratio $msum $gsum)" "$(ms "$(median "${mt[@]}")")" "$(ms "$(median "${gt[@]}")")"
done
