#!/usr/bin/env bash
# History views against git, side by side in one run (not CI):
#   - `muse log -- PATH` vs `git log -- PATH` with a commit-graph holding changed-path Bloom
#     filters (`git commit-graph write --reachable --changed-paths`), on flask CHANGES.rst and
#     requests src/requests/models.py;
#   - `muse blame --json PATH` cold (blame cache emptied before each run) and cached, vs
#     `git blame --porcelain PATH`, on the same files;
#   - the history index's build time (`muse index rebuild`) and size vs git's commit-graph.
# Each figure is the median of RUNS runs (default 11) of the whole command (process start
# included), after one warm-up run.
#
# Usage: bench/history.sh
# Environment: MUSE_CORPUS (default: ../shared/corpus beside the repository), CARGO_TARGET_DIR,
# MUSE_BIN (a muse binary to use instead of building one), RUNS.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${MUSE_CORPUS:-$ROOT/../shared/corpus}
RUNS=${RUNS:-11}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse-bench-history.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ -n "${MUSE_BIN:-}" ]; then
  MUSE=$MUSE_BIN
else
  echo "building muse (release)…" >&2
  cargo build --release --quiet -p muse-cli
  MUSE=$CARGO_TARGET_DIR/release/muse
fi

# median_ms SETUP -- COMMAND…: runs SETUP (a shell snippet, may be ':') then times COMMAND.
median_ms() {
  local setup=$1; shift; shift
  python3 - "$RUNS" "$setup" "$@" <<'EOF'
import subprocess, sys, time
runs, setup, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
times = []
for i in range(runs + 1):
    subprocess.run(setup, shell=True, check=True)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if i:
        times.append((time.perf_counter() - t) * 1000)
times.sort()
print(f"{times[len(times) // 2]:.1f}")
EOF
}

printf '%-10s %-26s %10s %10s %7s\n' repo measure git_ms muse_ms ratio
for spec in flask:CHANGES.rst requests:src/requests/models.py; do
  name=${spec%%:*}; path=${spec#*:}
  git clone --quiet --mirror "$CORPUS/$name.bundle" "$WORK/$name.git"
  git -C "$WORK/$name.git" commit-graph write --reachable --changed-paths 2>/dev/null
  start=$(date +%s%N)
  "$MUSE" import git "$WORK/$name.git" "$WORK/$name" >/dev/null
  import_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  rebuild_ms=$(median_ms ':' -- "$MUSE" -C "$WORK/$name" index rebuild)
  index_bytes=$("$MUSE" -C "$WORK/$name" --json index status | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')
  graph=$WORK/$name.git/objects/info/commit-graph
  graph_bytes=$( [ -f "$graph" ] && stat -c %s "$graph" || cat "$WORK/$name.git"/objects/info/commit-graphs/*.graph | wc -c)
  g=$(median_ms ':' -- git -C "$WORK/$name.git" log --format=%H -- "$path")
  m=$(median_ms ':' -- "$MUSE" -C "$WORK/$name" log --oneline -- "$path")
  printf '%-10s %-26s %10s %10s %7.2f\n' "$name" "log -- $path" "$g" "$m" "$(python3 -c "print($m/$g)")"
  g=$(median_ms ':' -- git -C "$WORK/$name.git" blame --porcelain HEAD -- "$path")
  m=$(median_ms "rm -rf '$WORK/$name/.muse/history/blame'" -- "$MUSE" -C "$WORK/$name" --json blame "$path")
  c=$(median_ms ':' -- "$MUSE" -C "$WORK/$name" --json blame "$path")
  printf '%-10s %-26s %10s %10s %7.2f\n' "$name" "blame (cold)" "$g" "$m" "$(python3 -c "print($m/$g)")"
  printf '%-10s %-26s %10s %10s %7.2f\n' "$name" "blame (cached)" "$g" "$c" "$(python3 -c "print($c/$g)")"
  echo "$name: import ${import_ms} ms (index built by the first reader); index rebuild ${rebuild_ms} ms; index ${index_bytes} B vs git commit-graph with changed paths ${graph_bytes} B"
done
