#!/usr/bin/env bash
# bench/bigfile.sh: peak memory of committing and checking out one large file (default 2 GiB),
# which must stay bounded (goal < 200 MB): files above 16 MiB are hashed and compressed as
# streams through a spill file, and written back as streams.
# Usage: bench/bigfile.sh [SIZE_MIB]
set -euo pipefail
SIZE_MIB=${1:-2048}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
cargo build --release -q -p muse-cli --manifest-path "$ROOT/Cargo.toml"
MUSE=$CARGO_TARGET_DIR/release/muse
W=$(mktemp -d "${TMPDIR:-/tmp}/muse-bigfile.XXXXXX")
trap 'rm -rf "$W"' EXIT
export MUSE_AUTHOR="Bench <bench@example.invalid>"
cd "$W"
"$MUSE" init . >/dev/null
echo small > small.txt
"$MUSE" commit -m small >/dev/null
"$MUSE" branch without-big
# Compressible but not trivially so: a repeated 1 MiB block of random bytes and text.
head -c 774144 /dev/urandom | base64 -w 100 > block   # about 1 MiB of text-like bytes
for ((i = 0; i < SIZE_MIB; i++)); do cat block; done > big.bin
rm block
before=$(sha256sum big.bin | cut -d' ' -f1)
measure() { /usr/bin/time -f "%e s, max RSS %M KB" "$@" 2>&1 >/dev/null | tail -1; }
echo "commit of a ${SIZE_MIB} MiB file: $(measure "$MUSE" commit -m big)"
echo "switch away (removes it):       $(measure "$MUSE" switch without-big)"
echo "switch back (writes it):        $(measure "$MUSE" switch main)"
echo "fsck (reads it):                $(measure "$MUSE" fsck)"
after=$(sha256sum big.bin | cut -d' ' -f1)
[[ $before == "$after" ]] && echo "content after the round trip: identical (sha256 $after)" || { echo "content changed!"; exit 1; }
echo "file: $(du -h big.bin | cut -f1), store: $(du -sh .muse | cut -f1)"
