#!/usr/bin/env bash
# bench/pack.sh: Muse's transfer packs (mpack) against git on the corpus histories.
#
# For each history (default: requests, flask, ripgrep), imported with `muse import git`:
#   - pack size: the mpack of every branch and tag (`muse bundle create`, at the default zstd
#     level 9 and at 19, minus the bundle's text header) against `git repack -adf` size-pack of a
#     bare clone;
#   - build time: `muse bundle create` against `git pack-objects --all` (reusing git's deltas) and
#     `git pack-objects --all --no-reuse-delta` (computing them, as muse does here);
#   - apply time and peak memory: `muse bundle apply` into a fresh repository against
#     `git index-pack --stdin` of the same history's pack;
#   - `muse gc` time and the store size after it; `muse clone` time.
# Then, with --big N (MiB), the peak memory of applying a pack of about N MiB (random, so
# incompressible, 16 MiB files): the streaming bound.
#
# Usage: bench/pack.sh [NAME…] | bench/pack.sh --big 1024
# Environment: MUSE_CORPUS (default ../shared/corpus), CARGO_TARGET_DIR, MUSE_BIN.
# Timings are single wall-clock runs on a shared 2-core machine: read them as ±15 %.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${MUSE_CORPUS:-$ROOT/../shared/corpus}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export MUSE_AUTHOR="Bench <bench@example.invalid>"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse-bench-pack.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ -n "${MUSE_BIN:-}" ]; then
  MUSE=$MUSE_BIN
else
  echo "building muse (release)…" >&2
  cargo build --release --quiet -p muse-cli
  MUSE=$CARGO_TARGET_DIR/release/muse
fi

# measure CMD…: runs CMD (output discarded), sets SECS and RSS_MB (peak resident set of the
# command and its children).
measure() {
  local out
  out=$(python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
dt = time.monotonic() - t
if r.returncode != 0:
    sys.stderr.write(r.stderr.decode(errors="replace"))
    sys.exit(f"command failed ({r.returncode}): {' '.join(sys.argv[1:])}")
print(f"{dt:.2f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f}")
PY
)
  read -r SECS RSS_MB <<<"$out"
}

kib() { echo $(( ($1 + 1023) / 1024 )); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mpack_bytes() { # the size of a bundle's mpack: the file minus its header (up to the blank line)
  python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); print(len(d) - d.index(b"\n\n") - 2)' "$1"
}

if [ "${1:-}" = --big ]; then
  MB=${2:?usage: bench/pack.sh --big MiB}
  R=$WORK/big
  "$MUSE" init "$R" >/dev/null
  for ((i = 0; i < MB / 16; i++)); do head -c $((16 << 20)) /dev/urandom >"$R/f$i.bin"; done
  echo "committing $MB MiB…" >&2
  "$MUSE" -C "$R" commit -q -m big >/dev/null 2>&1 || "$MUSE" -C "$R" commit -m big >/dev/null
  measure "$MUSE" -C "$R" bundle create "$WORK/big.bundle" --level 1
  build=$SECS build_rss=$RSS_MB
  size=$(stat -c %s "$WORK/big.bundle")
  "$MUSE" init "$WORK/dst" -b other >/dev/null
  measure "$MUSE" -C "$WORK/dst" bundle apply "$WORK/big.bundle"
  echo "| pack of $(kib "$size") KiB ($((MB / 16)) random files of 16 MiB) | build ${build} s, peak ${build_rss} MB | apply ${SECS} s, peak **${RSS_MB} MB** |"
  "$MUSE" -C "$WORK/dst" fsck >/dev/null
  exit 0
fi

NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || NAMES=(requests flask ripgrep)
echo "| history | git repack -adf | mpack level 9 (ratio) | mpack level 19 (ratio) | muse build 9 / 19 | git pack-objects reuse / no-reuse | muse apply (peak) | git index-pack (peak) | muse gc → store | muse clone after gc |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for name in "${NAMES[@]}"; do
  echo "$name: preparing…" >&2
  git clone -q --mirror "$CORPUS/$name.bundle" "$WORK/$name.git"
  G=$WORK/$name-g.git
  git clone -q --bare --no-local "$WORK/$name.git" "$G"
  git -C "$G" repack -adfq
  git_kib=$(git -C "$G" count-objects -v | awk '$1 == "size-pack:" { print $2 }')
  # Verbatim pack reuse off, so that git really walks and writes objects.
  measure git -c pack.allowPackReuse=false -C "$G" pack-objects --all --revs --stdout --quiet
  git_build=$SECS
  git -C "$G" pack-objects --all --revs --stdout --quiet </dev/null >"$WORK/g.pack"
  measure git -c pack.allowPackReuse=false -C "$G" pack-objects --all --revs --no-reuse-delta --stdout --quiet
  git_build_fresh=$SECS
  git init -q --bare "$WORK/idx.git"
  measure sh -c "git -C '$WORK/idx.git' index-pack --stdin <'$WORK/g.pack'"
  git_apply=$SECS git_apply_rss=$RSS_MB
  rm -rf "$WORK/idx.git" "$WORK/g.pack"

  M=$WORK/$name-m
  "$MUSE" import git "$WORK/$name.git" "$M" >/dev/null
  measure "$MUSE" -C "$M" bundle create "$WORK/$name-19.bundle" --level 19
  build19=$SECS
  mp19=$(mpack_bytes "$WORK/$name-19.bundle")
  measure "$MUSE" -C "$M" bundle create "$WORK/$name.bundle"
  build=$SECS
  mp=$(mpack_bytes "$WORK/$name.bundle")
  "$MUSE" init "$WORK/$name-d" -b other >/dev/null
  measure "$MUSE" -C "$WORK/$name-d" bundle apply "$WORK/$name.bundle"
  apply=$SECS apply_rss=$RSS_MB
  "$MUSE" -C "$WORK/$name-d" fsck >/dev/null
  measure "$MUSE" -C "$M" gc
  gc=$SECS
  store=$(du -sk "$M/.muse/objects/packs" | cut -f1)
  measure "$MUSE" clone "$M" "$WORK/$name-c"
  clone=$SECS
  echo "| $name | $git_kib KiB | $(kib "$mp") KiB (**$(ratio "$(kib "$mp")" "$git_kib")×**) | $(kib "$mp19") KiB (**$(ratio "$(kib "$mp19")" "$git_kib")×**) | $build s / $build19 s | $git_build s / $git_build_fresh s | $apply s ($apply_rss MB) | $git_apply s ($git_apply_rss MB) | $gc s → $store KiB | $clone s |"
  rm -rf "$WORK/$name"*
done
