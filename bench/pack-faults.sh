#!/usr/bin/env bash
# bench/pack-faults.sh: syscall-level fault injection into `muse bundle apply`, with strace as a
# test-only filesystem shim. For every invocation of every write-side syscall the apply makes
# (openat, write, pwrite64, fsync, fdatasync, ftruncate, rename, renameat2, unlink, mkdir), it
# runs the apply again with that one invocation failing with EIO, and again with the process
# receiving SIGKILL on entering it. After each run: `muse fsck` must pass (leftover temporary
# files are allowed: `muse gc` removes them), every ref must name a complete commit (fsck checks
# closures and refs), and applying the bundle again must succeed and leave fsck clean.
#
# Usage: bench/pack-faults.sh            Environment: CARGO_TARGET_DIR, MUSE_BIN.
# Prints one line per syscall and a closing "N passed, N failed" line.
set -euo pipefail
command -v strace >/dev/null || { echo "strace is needed (apt-get install strace)" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
export MUSE_AUTHOR="Faults <faults@example.invalid>"
if [ -n "${MUSE_BIN:-}" ]; then MUSE=$MUSE_BIN; else cargo build --release --quiet -p muse-cli; MUSE=$CARGO_TARGET_DIR/release/muse; fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse-pack-faults.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# A source history (3 commits, a tag) and a target holding its first commit on `main`, HEAD on
# another branch so that `main` may move.
S=$WORK/src
"$MUSE" init "$S" >/dev/null
for i in 1 2 3; do
  mkdir -p "$S/src" "$S/docs"
  seq 1 $((i * 50)) | sed "s/^/line $i: /" >"$S/src/lib.rs"
  echo "doc $i" >"$S/docs/d$i.md"
  "$MUSE" -C "$S" commit -m "commit $i" >/dev/null
  [ $i -eq 1 ] && "$MUSE" -C "$S" bundle create "$WORK/base.bundle" >/dev/null
done
"$MUSE" -C "$S" tag v1 >/dev/null
"$MUSE" -C "$S" bundle create "$WORK/inc.bundle" main v1 --not main~2 >/dev/null
T0=$WORK/template
"$MUSE" init "$T0" -b other >/dev/null
"$MUSE" -C "$T0" bundle apply "$WORK/base.bundle" >/dev/null

SYSCALLS=(openat write pwrite64 fsync fdatasync ftruncate rename renameat renameat2 unlink unlinkat mkdir)
passed=0 failed=0
for sc in "${SYSCALLS[@]}"; do
  rm -rf "$WORK/t"; cp -a "$T0" "$WORK/t"
  strace -f -qq -e trace="$sc" -o "$WORK/trace" "$MUSE" -C "$WORK/t" bundle apply "$WORK/inc.bundle" >/dev/null
  count=$(grep -c "$sc(" "$WORK/trace" || true)
  [ "$count" -gt 0 ] || continue
  bad=0
  for ((n = 1; n <= count; n++)); do
    for mode in error=EIO signal=KILL; do
      rm -rf "$WORK/t"; cp -a "$T0" "$WORK/t"
      # In its own session (strace re-raises the tracee's SIGKILL), and in a subshell so that
      # the shell's "Killed" notice goes to /dev/null too.
      (setsid -w strace -f -qq -o /dev/null -e trace="$sc" -e inject="$sc:$mode:when=$n" \
        "$MUSE" -C "$WORK/t" bundle apply "$WORK/inc.bundle" >/dev/null 2>&1 || true) 2>/dev/null
      if "$MUSE" -C "$WORK/t" fsck >/dev/null 2>"$WORK/err" \
        && "$MUSE" -C "$WORK/t" bundle apply "$WORK/inc.bundle" >/dev/null 2>>"$WORK/err" \
        && "$MUSE" -C "$WORK/t" fsck >/dev/null 2>>"$WORK/err"; then
        passed=$((passed + 1))
      else
        failed=$((failed + 1)) bad=$((bad + 1))
        echo "FAIL: $sc #$n $mode: $(head -c 300 "$WORK/err")" >&2
      fi
    done
  done
  echo "$sc: $count invocations × {EIO, SIGKILL}: $((2 * count - bad)) sound, $bad not"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
