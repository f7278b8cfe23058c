#!/usr/bin/env bash
# bench/clone-hub.sh: clone and push through the hub against git through `git daemon`, on one
# corpus history (default: requests), in one run on this machine.
#
#   - full push: `muse push --all --tags` of the imported history to an empty hub repository
#     (every hash verified by the hub) against `git push --mirror` to an empty bare repository
#     served by `git daemon --enable=receive-pack`;
#   - clone: `muse clone http://…` (negotiate, stream the pack into the store, check out) against
#     `git clone git://…` of the same history;
#
# Usage: bench/clone-hub.sh [NAME]   (NAME.bundle in the corpus; default requests)
# Environment: MUSE_CORPUS (default ../shared/corpus), CARGO_TARGET_DIR, MUSE_BIN, MUSEHUB_BIN.
# Timings are single wall-clock runs (best of 3 for the clones) on a shared 2-core machine.
# First run (requests, 6,729 commits, 2026-11-30, release builds, loaded machine): full push
# 2057 ms vs git push --mirror 957 ms (2.15x); clone 3558 ms vs git clone 1071 ms (3.32x).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${MUSE_CORPUS:-$ROOT/../shared/corpus}
NAME=${1:-requests}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export MUSE_AUTHOR="Bench <bench@example.invalid>"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse-bench-hub.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

if [ -n "${MUSE_BIN:-}" ] && [ -n "${MUSEHUB_BIN:-}" ]; then
  MUSE=$MUSE_BIN HUB=$MUSEHUB_BIN
else
  echo "building muse and musehub (release)…" >&2
  cargo build --release --quiet -p muse-cli -p muse-hub-server
  MUSE=$CARGO_TARGET_DIR/release/muse HUB=$CARGO_TARGET_DIR/release/musehub
fi

now() { python3 -c 'import time; print(time.monotonic())'; }
elapsed() { python3 -c "import sys; print(f'{(float(sys.argv[2]) - float(sys.argv[1])) * 1000:.0f}')" "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The history: a git mirror (for git daemon) and its muse import.
git clone --quiet --mirror "$CORPUS/$NAME.bundle" "$WORK/git/$NAME.git"
git init --quiet --bare --initial-branch=main "$WORK/git/empty.git"
"$MUSE" import git "$WORK/git/$NAME.git" "$WORK/orig" >/dev/null

# The hub, a user, two repositories and a token.
DATA=$WORK/hub
"$HUB" serve --data "$DATA" --listen 127.0.0.1:0 --json >"$WORK/hub.out" 2>"$WORK/hub.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/hub.out" ] && break; sleep 0.1; done
HUB_URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$WORK/hub.out")
"$HUB" user add bench --data "$DATA" >/dev/null
"$HUB" repo create "bench/$NAME" --data "$DATA" >/dev/null
export MUSE_TOKEN
MUSE_TOKEN=$("$HUB" token create --user bench --scope write --data "$DATA")
MUSE_CONFIG_DIR=$WORK/config
export MUSE_CONFIG_DIR

# git daemon on a free port, serving $WORK/git (push allowed).
PORT=$(free_port)
git daemon --reuseaddr --base-path="$WORK/git" --export-all --enable=receive-pack --listen=127.0.0.1 --port="$PORT" "$WORK/git" &
PIDS+=($!)
for _ in $(seq 100); do git ls-remote "git://127.0.0.1:$PORT/$NAME.git" >/dev/null 2>&1 && break; sleep 0.1; done

echo "history: $NAME ($(git -C "$WORK/git/$NAME.git" rev-list --all | wc -l) commits)"

# Full push.
(cd "$WORK/orig" && "$MUSE" remote add origin "$HUB_URL/bench/$NAME" >/dev/null)
t0=$(now); (cd "$WORK/orig" && "$MUSE" --json push --all --tags >"$WORK/push.json"); t1=$(now)
MUSE_PUSH=$(elapsed "$t0" "$t1")
t0=$(now); git -C "$WORK/git/$NAME.git" push --quiet --mirror "git://127.0.0.1:$PORT/empty.git"; t1=$(now)
GIT_PUSH=$(elapsed "$t0" "$t1")
PACK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pack"]["bytes"])' "$WORK/push.json")
echo "full push:   muse ${MUSE_PUSH} ms (pack $PACK bytes)   git push --mirror ${GIT_PUSH} ms   ratio $(ratio "$MUSE_PUSH" "$GIT_PUSH")"

# Clones, best of 3 each.
best() { local b=""; for v in "$@"; do if [ -z "$b" ] || [ "$v" -lt "$b" ]; then b=$v; fi; done; echo "$b"; }
M=() G=()
for i in 1 2 3; do
  t0=$(now); "$MUSE" clone "$HUB_URL/bench/$NAME" "$WORK/mclone$i" >/dev/null; t1=$(now); M+=("$(elapsed "$t0" "$t1")")
  t0=$(now); git clone --quiet "git://127.0.0.1:$PORT/$NAME.git" "$WORK/gclone$i"; t1=$(now); G+=("$(elapsed "$t0" "$t1")")
done
MC=$(best "${M[@]}") GC=$(best "${G[@]}")
echo "clone:       muse ${MC} ms (runs ${M[*]})   git clone ${GC} ms (runs ${G[*]})   ratio $(ratio "$MC" "$GC")"
