#!/usr/bin/env bash
# Agreement of `muse blame` and `muse log -- PATH` with git on the corpus (not CI: minutes).
# For each bundle: mirror it, `muse import git` it, take the 20 most-changed files of the
# default branch (`git log --format= --name-only`), and for each file still present at HEAD
#   - blame: every line's commit from `git blame --porcelain HEAD -- FILE` (mapped to Muse ids
#     through .muse/import/git-map) against `muse blame --json FILE HEAD`;
#   - log: `git log --format=%H -- FILE` (mapped) against `muse log --json -- FILE`, exact order.
# Prints one line per file: lines agreeing / lines, log equal or not; and totals per bundle.
#
# Usage: bench/history-agreement.sh [BUNDLE…]   (default: every *.bundle of the corpus)
# Environment: MUSE_CORPUS (default: ../shared/corpus beside the repository), CARGO_TARGET_DIR,
# MUSE_BIN (a muse binary to use instead of building one), TOP (files per bundle, default 20).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${MUSE_CORPUS:-$ROOT/../shared/corpus}
TOP=${TOP:-20}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse-bench-agree.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ -n "${MUSE_BIN:-}" ]; then
  MUSE=$MUSE_BIN
else
  echo "building muse (release)…" >&2
  cargo build --release --quiet -p muse-cli
  MUSE=$CARGO_TARGET_DIR/release/muse
fi

if [ $# -eq 0 ]; then set -- "$CORPUS"/*.bundle; fi
for bundle in "$@"; do
  name=$(basename "$bundle" .bundle)
  git clone --quiet --mirror "$bundle" "$WORK/$name.git"
  "$MUSE" import git "$WORK/$name.git" "$WORK/$name" >/dev/null
  git -C "$WORK/$name.git" log --format= --name-only | sed '/^$/d' | sort | uniq -c | sort -rn \
    | awk -v top="$TOP" 'NR <= top {print $2}' > "$WORK/$name.files"
  python3 - "$MUSE" "$WORK/$name.git" "$WORK/$name" "$name" "$WORK/$name.files" <<'EOF'
import json, subprocess, sys
muse, git_dir, muse_dir, name, files = sys.argv[1:6]
gmap = {}
for line in open(f"{muse_dir}/.muse/import/git-map"):
    p = line.split()
    if len(p) == 2 and p[1].startswith("sha256:"):
        gmap[p[0]] = p[1]
def git(*args):
    return subprocess.run(["git", "-C", git_dir, *args], capture_output=True, text=True, errors="replace")
total = agree = files_equal = logs_equal = n = 0
for path in open(files).read().split():
    present = git("cat-file", "-e", f"HEAD:{path}").returncode == 0
    glog = [gmap.get(h, "?" + h) for h in git("log", "--format=%H", "--", path).stdout.split()]
    mlog = [c["commit_id"] for c in json.loads(subprocess.run([muse, "-C", muse_dir, "--json", "log", "--", path], capture_output=True, text=True).stdout)]
    log_ok = glog == mlog
    logs_equal += log_ok
    n += 1
    if not present:
        print(f"{name} {path}: not at HEAD; log {'equal' if log_ok else 'DIFFERS'} ({len(mlog)} commits)")
        continue
    out = git("blame", "--porcelain", "HEAD", "--", path).stdout.splitlines()
    gl = []
    for line in out:
        parts = line.split(" ")
        if len(parts[0]) == 40 and len(parts) >= 3 and all(c in "0123456789abcdef" for c in parts[0]):
            gl.append((gmap.get(parts[0], "?" + parts[0]), int(parts[1])))
    run = subprocess.run([muse, "-C", muse_dir, "--json", "blame", path, "HEAD"], capture_output=True, text=True)
    if run.returncode != 0:
        print(f"{name} {path}: muse blame failed: {run.stderr.strip()}")
        continue
    ml = [(l["commit_id"], l["orig_line"]) for l in json.loads(run.stdout)["lines"]]
    same = sum(1 for a, b in zip(gl, ml) if a[0] == b[0])
    total += len(gl); agree += same
    files_equal += same == len(gl) == len(ml)
    detail = "" if same == len(gl) else " first differences at lines " + ",".join(str(i + 1) for i, (a, b) in enumerate(zip(gl, ml)) if a[0] != b[0])[:80]
    print(f"{name} {path}: blame {same}/{len(gl)} lines ({100.0 * same / max(len(gl), 1):.2f}%), log {'equal' if log_ok else 'DIFFERS'} ({len(mlog)} commits){detail}")
print(f"{name} TOTAL: blame {agree}/{total} lines ({100.0 * agree / max(total, 1):.3f}%), {files_equal} files identical; log equal for {logs_equal}/{n} files")
EOF
done
