#!/usr/bin/env bash
# The hub's history pages under load, beside git on the same history (not CI):
#   - the flask corpus imported (`muse import git`), pushed to a musehub on embedded SQLite;
#   - `wrk` with 50 connections over loopback for DURATION each, after a warm-up run: the
#     file-history JSON of CHANGES.rst (goal p99 < 10 ms), its HTML page (< 30 ms), its blame
#     page warm (< 50 ms); p50 / p90 / p99 and requests per second;
#   - `git log -- CHANGES.rst` and `git blame CHANGES.rst` on the same repository (median of RUNS
#     runs of the whole command, process start included), the work each page does once.
# Results go to stdout and, with --write, to bench/web-results.md.
#
# Usage: bench/web.sh [--write]
# Environment: MUSE_CORPUS (default: ../shared/corpus beside the repository), CARGO_TARGET_DIR,
# DURATION (default 10s), CONNECTIONS (50), THREADS (2), RUNS (11).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${MUSE_CORPUS:-$ROOT/../shared/corpus}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
RUNS=${RUNS:-11}
WRITE=0
[[ ${1:-} == --write ]] && WRITE=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
command -v wrk >/dev/null || { echo "error: wrk is needed (Debian: apt-get install wrk)" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse-bench-web.XXXXXX")
HUB_PID=
cleanup() { [[ -n $HUB_PID ]] && kill "$HUB_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

echo "building muse and musehub (release)…" >&2
cargo build --release --quiet -p muse-cli -p muse-hub-server
BIN=$CARGO_TARGET_DIR/release
MUSE=$BIN/muse
MUSEHUB=$BIN/musehub
FILE=CHANGES.rst

# median_ms COMMAND…: the median wall time of RUNS runs after one warm-up.
median_ms() {
  python3 - "$RUNS" "$@" <<'EOF'
import subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for i in range(runs + 1):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if i:
        times.append((time.perf_counter() - t) * 1000)
times.sort()
print(f"{times[len(times) // 2]:.1f}")
EOF
}

echo "importing flask…" >&2
git clone --quiet --mirror "$CORPUS/flask.bundle" "$WORK/flask.git"
git clone --quiet "$CORPUS/flask.bundle" "$WORK/flask-git"
"$MUSE" import git "$WORK/flask.git" "$WORK/flask" >/dev/null
COMMITS=$(git -C "$WORK/flask.git" rev-list --count HEAD)
TOUCHING=$(git -C "$WORK/flask.git" log --format=%H -- "$FILE" | wc -l)

echo "pushing it to a hub…" >&2
HUBDATA=$WORK/hub
export MUSE_CONFIG_DIR=$WORK/client-config
"$MUSEHUB" user add bench --data "$HUBDATA" >/dev/null
"$MUSEHUB" repo create bench/flask --data "$HUBDATA" >/dev/null
"$MUSEHUB" token create --user bench --scope write --data "$HUBDATA" > "$WORK/token"
MUSEHUB_LOG=warn "$MUSEHUB" serve --data "$HUBDATA" --listen 127.0.0.1:0 --rate-limit 0 > "$WORK/serve.out" 2> "$WORK/serve.log" &
HUB_PID=$!
for _ in $(seq 100); do grep -q '^listening on ' "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
HUB=$(sed -n 's/^listening on //p' "$WORK/serve.out")
[[ -n $HUB ]] || { cat "$WORK/serve.log" >&2; echo "error: musehub did not start" >&2; exit 1; }
"$MUSE" auth login "$HUB" --token-stdin < "$WORK/token" >/dev/null
( cd "$WORK/flask" && "$MUSE" remote add origin "$HUB/bench/flask" && "$MUSE" push origin --all >/dev/null )

# load NAME URL [HEADER]: a warm-up run, then the measured one; prints "p50 p90 p99 rps" in ms.
load() {
  local url=$1; shift
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url")
  [[ $status == 200 ]] || { echo "error: $url answered $status" >&2; exit 1; }
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$@" "$url" >/dev/null
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" > "$WORK/wrk.out"
  python3 - "$WORK/wrk.out" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
p = {k: ms(v) for k, v in re.findall(r"^\s+(50|90|99)%\s+(\S+)", text, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if errors:
    sys.exit(f"error: {errors.group(1)} non-2xx answers")
print(f"{p['50']:.2f} {p['90']:.2f} {p['99']:.2f} {rps:.0f}")
EOF
}

echo "measuring…" >&2
# The machine's load (1, 5, 15 minutes) before and after: the figures mean little on a busy machine.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
HISTORY_JSON=$(load "$HUB/api/repos/bench/flask/history/main/$FILE" -H 'Accept: application/json')
HISTORY_HTML=$(load "$HUB/bench/flask/blob/main/$FILE")
BLAME_HTML=$(load "$HUB/bench/flask/blame/main/$FILE")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
GIT_LOG=$(median_ms git -C "$WORK/flask.git" log --format=%H -- "$FILE")
GIT_LOG_FULL=$(median_ms git -C "$WORK/flask.git" log -- "$FILE")
GIT_BLAME=$(median_ms git -C "$WORK/flask-git" blame "$FILE")
GIT_BLAME_P=$(median_ms git -C "$WORK/flask.git" blame --porcelain HEAD -- "$FILE")

row() { # NAME GOAL "p50 p90 p99 rps" GIT_NAME GIT_MS
  read -r p50 p90 p99 rps <<< "$3"
  local met=no
  python3 -c "import sys; sys.exit(0 if $p99 < $2 else 1)" && met=yes
  printf '| %s | %s | %s | %s | %s | < %s ms: %s | `%s` %s ms | %s |\n' "$1" "$p50" "$p90" "$p99" "$rps" "$2" "$met" "$4" "$5" \
    "$(python3 -c "print(f'{$5 / $p50:.1f}x')")"
}

CPU=$(nproc)
REPORT=$(cat <<EOF
| request (flask, \`$FILE\`: $TOUCHING of $COMMITS commits) | p50 ms | p90 ms | p99 ms | req/s | goal (p99) | git, the same work once | git ms / hub p50 |
|---|---|---|---|---|---|---|---|
$(row "file-history JSON \`GET /api/repos/bench/flask/history/main/$FILE\`" 10 "$HISTORY_JSON" "git log -- $FILE" "$GIT_LOG_FULL")
$(row "file page (File History) \`GET /bench/flask/blob/main/$FILE\`" 30 "$HISTORY_HTML" "git log --format=%H -- $FILE" "$GIT_LOG")
$(row "blame page, warm \`GET /bench/flask/blame/main/$FILE\`" 50 "$BLAME_HTML" "git blame $FILE" "$GIT_BLAME")

\`git blame --porcelain HEAD -- $FILE\` (bare): $GIT_BLAME_P ms. wrk: $CONNECTIONS connections, $THREADS threads,
$DURATION per request after a 2 s warm-up, over loopback, server and wrk on the same $CPU-core machine.
Load average (1, 5, 15 min) $LOAD_BEFORE before the hub's runs, $LOAD_AFTER after them.
git figures: median of $RUNS runs of the whole command (process start included), no commit-graph.
EOF
)
echo "$REPORT"
if ((WRITE)); then
  {
    echo "# bench/web.sh results"
    echo
    echo "Run on $(date -u +%Y-%m-%d) ($(uname -m), $CPU cores, shared with other work), release build: \`bench/web.sh --write\`."
    echo
    echo "$REPORT"
  } > "$ROOT/bench/web-results.md"
  echo "written to bench/web-results.md" >&2
fi
