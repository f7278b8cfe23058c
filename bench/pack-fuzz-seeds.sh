#!/usr/bin/env bash
# pack-fuzz-seeds.sh DIR: writes seed inputs for the mpack fuzz targets into DIR: the test vector
# of docs/mpack.md, and (when a built `muse` is found) the mpack of a small real history with
# deltas of every kind.
set -euo pipefail
out=${1:?usage: pack-fuzz-seeds.sh DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
python3 - "$root/docs/mpack.md" "$out/vector.mpack" <<'PY'
import sys
doc = open(sys.argv[1]).read()
block = doc[doc.index("<!-- mpack-vector-begin -->"):doc.index("<!-- mpack-vector-end -->")]
hexdigits = "".join(l for l in block.splitlines() if l and all(c in "0123456789abcdef" for c in l))
open(sys.argv[2], "wb").write(bytes.fromhex(hexdigits))
PY
muse=${MUSE:-${CARGO_TARGET_DIR:-$root/target}/release/muse}
if [[ -x $muse ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    "$muse" init "$tmp/r" >/dev/null
    for i in 1 2 3 4; do
        mkdir -p "$tmp/r/src"
        seq 1 $((i * 40)) | sed "s/^/line of round $i: /" >"$tmp/r/src/lib.rs"
        echo "readme $i" >"$tmp/r/README"
        MUSE_AUTHOR="Fuzz <fuzz@example.com>" "$muse" -C "$tmp/r" commit -m "round $i" >/dev/null
    done
    "$muse" -C "$tmp/r" bundle create "$tmp/b.bundle" --level 3 >/dev/null
    # Strip the bundle header (up to the first empty line) to get the bare mpack.
    python3 -c 'import sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[2],"wb").write(d[d.index(b"\n\n")+2:])' "$tmp/b.bundle" "$out/history.mpack"
    cp "$tmp/b.bundle" "$out/history.bundle"
fi
ls -l "$out" >&2
