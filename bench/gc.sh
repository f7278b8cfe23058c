#!/usr/bin/env bash
# bench/gc.sh: `muse gc` against `git repack -adf` on the corpus histories, and the cost of an
# incremental bundle against the length of the history behind it.
#
# For each history (default: flask, requests, ripgrep, muse-python), in the same run:
#   - git: a mirror clone of the bundle, then `git repack -adf` (time, peak RSS, pack size);
#   - muse: `muse import git` of that mirror, then `muse gc` (time, peak RSS, store size: every
#     pack in .muse/objects/packs), with the ratios muse / git; the index bytes of each (git's
#     .idx and .rev, muse's .idx) are printed beside, not counted.
# Then, on requests: `muse bundle create out main --not main~10` on the whole history (6,729
# commits) and on a history cut to about 500 commits (a branch at main~N with ~500 ancestors,
# imported alone): the times should be alike.
#
# Usage: bench/gc.sh [NAME…]        Environment: MUSE_CORPUS, CARGO_TARGET_DIR, MUSE_BIN.
# Peak RSS from /usr/bin/time -v. Single wall-clock runs on a shared 2-core machine: ±15 %.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${MUSE_CORPUS:-$ROOT/../shared/corpus}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export MUSE_AUTHOR="Bench <bench@example.invalid>"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse-bench-gc.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ -n "${MUSE_BIN:-}" ]; then
  MUSE=$MUSE_BIN
else
  echo "building muse (release)…" >&2
  cargo build --release --quiet -p muse-cli
  MUSE=$CARGO_TARGET_DIR/release/muse
fi

# measure CMD…: runs CMD under /usr/bin/time -v (output discarded); sets SECS and RSS_MB.
measure() {
  local log=$WORK/time.log
  if ! /usr/bin/time -v -o "$log" "$@" >/dev/null 2>"$WORK/err.log"; then
    cat "$WORK/err.log" >&2
    echo "command failed: $*" >&2
    exit 1
  fi
  SECS=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$log")
  RSS_MB=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$log")
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
bytes_of() { find "$@" -type f -name '*.pack' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
idx_bytes_of() { find "$@" -type f \( -name '*.idx' -o -name '*.rev' \) -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(flask requests ripgrep muse-python)

printf '%-12s %12s %12s %6s | %8s %8s %6s | %8s %8s %6s | %10s %10s\n' history "git bytes" "muse bytes" size "git s" "muse s" time "git MB" "muse MB" memory "git idx" "muse idx"
for name in "${names[@]}"; do
  mirror=$WORK/$name.git
  git clone --quiet --mirror "$CORPUS/$name.bundle" "$mirror"
  measure git -C "$mirror" repack -adf --quiet
  git_bytes=$(bytes_of "$mirror/objects/pack")
  git_secs=$SECS git_mb=$RSS_MB
  "$MUSE" import git "$mirror" "$WORK/$name" >/dev/null
  measure "$MUSE" -C "$WORK/$name" gc
  muse_bytes=$(bytes_of "$WORK/$name/.muse/objects/packs")
  printf '%-12s %12d %12d %6s | %8s %8s %6s | %8s %8s %6s | %10d %10d\n' "$name" "$git_bytes" "$muse_bytes" "$(ratio "$muse_bytes" "$git_bytes")" \
    "$git_secs" "$SECS" "$(ratio "$SECS" "$git_secs")" "$git_mb" "$RSS_MB" "$(ratio "$RSS_MB" "$git_mb")" \
    "$(idx_bytes_of "$mirror/objects/pack")" "$(idx_bytes_of "$WORK/$name/.muse/objects/packs")"
done

# Incremental bundles: the last 10 commits of main, on the whole history and on a short one.
if [ -d "$WORK/requests" ]; then
  full=$WORK/requests
else
  git clone --quiet --mirror "$CORPUS/requests.bundle" "$WORK/requests.git"
  "$MUSE" import git "$WORK/requests.git" "$WORK/requests" >/dev/null
  full=$WORK/requests
fi
git clone --quiet --mirror "$CORPUS/requests.bundle" "$WORK/short-src.git" 2>/dev/null || true
src=$WORK/short-src.git
total=$(git -C "$src" rev-list --count main)
# The first-parent ancestor of main with about 500 commits behind it.
cut=$(git -C "$src" rev-list --first-parent main | while read -r c; do
  if [ "$(git -C "$src" rev-list --count "$c")" -le 500 ]; then echo "$c"; break; fi
done)
git -C "$src" branch -f short "$cut"
git init --quiet --bare -b main "$WORK/short.git"
git -C "$src" push --quiet "$WORK/short.git" short:main
short_count=$(git -C "$WORK/short.git" rev-list --count main)
"$MUSE" import git "$WORK/short.git" "$WORK/short" >/dev/null
echo
printf '%-34s %8s %8s %8s\n' "incremental bundle (main --not main~10)" commits seconds MB
for repo in "$full" "$WORK/short"; do
  count=$([ "$repo" = "$full" ] && echo "$total" || echo "$short_count")
  measure "$MUSE" -C "$repo" bundle create "$WORK/inc.mpack" main --not main~10
  printf '%-34s %8s %8s %8s\n' "$(basename "$repo")" "$count" "$SECS" "$RSS_MB"
done
