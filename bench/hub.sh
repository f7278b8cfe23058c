#!/usr/bin/env bash
# bench/hub.sh: MuseHub's transfers beside git's, on the imported psf/requests history, in one run.
#
#   1. clone:  `muse clone http://127.0.0.1:PORT/bench/requests` from `musehub serve` (SQLite)
#              vs `git clone -q git://127.0.0.1:PORT/…` from `git daemon` (both check out main);
#   2. push:   `muse push --all --tags` of the whole history into an empty hub repository (every
#              hash verified by the hub) vs `git push -q --mirror file://…` into an empty bare repo;
#   3. load:   50 `muse clone`s started at once: wall time, clones/s, p50/p99 of one clone, and
#              the hub's peak RSS (VmHWM), before and after;
#   4. resume: a clone cut off at about 90 % of its pack by a proxy, then resumed: bytes sent again.
#
# Usage: bench/hub.sh [RUNS]   (default 5 runs per timing, median quoted, min–max shown)
# Environment: MUSE_CORPUS, CARGO_TARGET_DIR, MUSE_BIN / MUSEHUB_BIN (prebuilt release binaries).
# Not part of CI. Wall-clock figures on a shared 2-core machine: compare the ratios of one run.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${MUSE_CORPUS:-$ROOT/../shared/corpus}
RUNS=${1:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export MUSE_AUTHOR="Bench <bench@example.invalid>"
W=$(mktemp -d "${TMPDIR:-/tmp}/muse-bench-hub.XXXXXX")
export MUSE_CONFIG_DIR=$W/config
HUB_PID= DAEMON_PID= PROXY_PID=
cleanup() {
    for pid in $HUB_PID $DAEMON_PID $PROXY_PID; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ -n ${MUSE_BIN:-} && -n ${MUSEHUB_BIN:-} ]]; then
    MUSE=$MUSE_BIN MUSEHUB=$MUSEHUB_BIN
else
    log "building muse and musehub (release)"
    cargo build --release --quiet -p muse-cli -p muse-hub-server
    MUSE=$CARGO_TARGET_DIR/release/muse MUSEHUB=$CARGO_TARGET_DIR/release/musehub
fi

# bench PREP CMD: runs CMD RUNS times after one warm-up, PREP before each; sets B_MED/B_MIN/B_MAX (µs).
bench() {
    local prep=$1 cmd=$2 i t0 t1
    local -a us=()
    for ((i = 0; i < RUNS + 1; i++)); do
        eval "$prep" >/dev/null 2>"$W/prep.err" || { cat "$W/prep.err" >&2; die "prepare failed: $prep"; }
        t0=${EPOCHREALTIME/./}
        eval "$cmd" >/dev/null 2>"$W/cmd.err" || { cat "$W/cmd.err" >&2; die "command failed: $cmd"; }
        t1=${EPOCHREALTIME/./}
        ((i == 0)) || us+=($((t1 - t0)))
    done
    mapfile -t us < <(printf '%s\n' "${us[@]}" | sort -n)
    B_MIN=${us[0]} B_MAX=${us[${#us[@]} - 1]} B_MED=${us[${#us[@]} / 2]}
}
ms() { awk -v u="$1" 'BEGIN { printf "%.0f ms", u / 1e3 }'; }
spread() { printf '%s – %s' "$(ms "$B_MIN")" "$(ms "$B_MAX")"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
hwm_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

log "importing psf/requests"
git clone -q --mirror "$CORPUS/requests.bundle" "$W/requests.git"
"$MUSE" import git "$W/requests.git" "$W/src" >/dev/null
COMMITS=$(git -C "$W/requests.git" rev-list --all --count)

log "starting musehub"
"$MUSEHUB" serve --data "$W/hub" --listen 127.0.0.1:0 >"$W/hub.out" 2>"$W/hub.log" &
HUB_PID=$!
for _ in $(seq 100); do grep -q listening "$W/hub.out" 2>/dev/null && break; sleep 0.1; done
HUB=$(sed -n 's/^listening on //p' "$W/hub.out")
[[ -n $HUB ]] || { cat "$W/hub.log" >&2; die "musehub did not start"; }
"$MUSEHUB" user add bench --data "$W/hub" >/dev/null
export MUSE_TOKEN
MUSE_TOKEN=$("$MUSEHUB" token create --data "$W/hub" --user bench --scope admin)

# --- 2. push (first, so that the hub has the history to clone) ---------------------------------
N=0
new_repo() {
    N=$((N + 1))
    "$MUSEHUB" repo create "bench/push$N" --data "$W/hub" >/dev/null
    "$MUSE" -C "$W/src" remote add "push$N" "$HUB/bench/push$N" >/dev/null
}
bench "new_repo" "\"$MUSE\" -C '$W/src' push \"push\$N\" --all --tags"
PUSH_MED=$B_MED PUSH_SPREAD=$(spread)
"$MUSEHUB" repo create bench/requests --data "$W/hub" >/dev/null
"$MUSE" -C "$W/src" remote add hub "$HUB/bench/requests" >/dev/null
"$MUSE" -C "$W/src" push hub --all --tags >/dev/null
git clone -q --bare --no-local "$W/requests.git" "$W/push-src.git"
bench "rm -rf '$W/tgt.git' && git init -q --bare '$W/tgt.git'" "git -C '$W/push-src.git' push -q --mirror 'file://$W/tgt.git'"
GPUSH_MED=$B_MED GPUSH_SPREAD=$(spread)

# --- 1. clone -----------------------------------------------------------------------------------
bench "rm -rf '$W/c'" "\"$MUSE\" clone '$HUB/bench/requests' '$W/c'"
CLONE_MED=$B_MED CLONE_SPREAD=$(spread)
MUSE_FILES=$(cd "$W/c" && find . -path ./.muse -prune -o -type f -print | wc -l)
PORT=$(free_port)
git daemon --export-all --base-path="$W" --port="$PORT" --listen=127.0.0.1 --reuseaddr >"$W/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 50); do git ls-remote "git://127.0.0.1:$PORT/requests.git" HEAD >/dev/null 2>&1 && break; sleep 0.1; done
bench "rm -rf '$W/c'" "git clone -q 'git://127.0.0.1:$PORT/requests.git' '$W/c'"
GCLONE_MED=$B_MED GCLONE_SPREAD=$(spread)
GIT_FILES=$(git -C "$W/c" ls-files | wc -l)

# --- 3. 50 concurrent clones ---------------------------------------------------------------------
HWM_BEFORE=$(hwm_kb "$HUB_PID")
rm -rf "$W/many" && mkdir "$W/many"
t0=${EPOCHREALTIME/./}
for i in $(seq 50); do
    ( s=${EPOCHREALTIME/./}; "$MUSE" clone "$HUB/bench/requests" "$W/many/$i" >/dev/null 2>"$W/many/$i.err" || echo "clone $i failed" >&2
      echo $((${EPOCHREALTIME/./} - s)) >"$W/many/$i.us" ) &
done
wait $(jobs -p | grep -v -e "^$HUB_PID\$" -e "^$DAEMON_PID\$") 2>/dev/null || true
t1=${EPOCHREALTIME/./}
LOAD_WALL=$((t1 - t0))
mapfile -t LOAD < <(cat "$W"/many/*.us | sort -n)
LOAD_OK=$(ls -d "$W"/many/*/.muse 2>/dev/null | wc -l)
P50=${LOAD[${#LOAD[@]} / 2]} P99=${LOAD[${#LOAD[@]} * 99 / 100]}
HWM_AFTER=$(hwm_kb "$HUB_PID")
rm -rf "$W/many"

# --- 4. a clone cut at ~90 %, resumed --------------------------------------------------------------
PACK_BYTES=$("$MUSE" clone "$HUB/bench/requests" "$W/size" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["pack_bytes"])')
rm -rf "$W/size"
CUT=$((PACK_BYTES * 9 / 10))
PPORT=$(free_port)
HUB_PORT=${HUB##*:}
# A proxy that closes the first connection carrying a fetch once CUT bytes of response went through.
python3 - "$PPORT" "$HUB_PORT" "$CUT" >"$W/proxy.log" 2>&1 <<'PY' &
import socket, sys, threading
listen, target, cut = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
lock = threading.Lock()
state = {"cut_done": False}
def close(*socks):
    for s in socks:
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
def serve(client):
    upstream = socket.create_connection(("127.0.0.1", target))
    conn = {"armed": False, "after": 0}
    def requests():
        try:
            while data := client.recv(65536):
                with lock:
                    if b"/muse/fetch" in data and not state["cut_done"]:
                        state["cut_done"] = conn["armed"] = True
                upstream.sendall(data)
        except OSError:
            pass
        close(client, upstream)
    threading.Thread(target=requests, daemon=True).start()
    try:
        while data := upstream.recv(65536):
            if conn["armed"]:
                room = cut - conn["after"]
                if len(data) >= room:
                    client.sendall(data[:room]); break
                conn["after"] += len(data)
            client.sendall(data)
    except OSError:
        pass
    close(client, upstream)
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen)); server.listen(64)
while True:
    c, _ = server.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
PROXY_PID=$!
sleep 0.5
MUSE_NET_RETRIES=0 "$MUSE" clone "http://127.0.0.1:$PPORT/bench/requests" "$W/cut" --json >"$W/cut1.json" 2>"$W/cut1.err" && die "the cut clone succeeded"
"$MUSE" clone "http://127.0.0.1:$PPORT/bench/requests" "$W/cut" --json >"$W/cut2.json"
read -r RESUMED RECEIVED < <(python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(j["bytes_resumed"], j["bytes_received"])' "$W/cut2.json")

thousands() { sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta' <<<"$1"; }
cat <<EOF
## MuseHub transfers beside git: psf/requests ($(thousands "$COMMITS") commits, all branches and tags)

$(date -u +%Y-%m-%d), $(git --version), release build, hub on SQLite, $RUNS runs each (median; min – max).

| workload | muse | git | muse / git | goal |
|---|---|---|---|---|
| clone over HTTP from musehub vs \`git clone\` from git daemon (both check out main: $MUSE_FILES / $GIT_FILES files) | $(ms "$CLONE_MED") ($CLONE_SPREAD) | $(ms "$GCLONE_MED") ($GCLONE_SPREAD) | **$(ratio "$CLONE_MED" "$GCLONE_MED")** | ≤ 0.70× |
| full push into an empty repo (\`muse push --all --tags\`, every hash verified) vs \`git push --mirror file://\` | $(ms "$PUSH_MED") ($PUSH_SPREAD) | $(ms "$GPUSH_MED") ($GPUSH_SPREAD) | **$(ratio "$PUSH_MED" "$GPUSH_MED")** | ≤ 1.00× |

50 clones at once: $LOAD_OK/50 complete in $(ms "$LOAD_WALL") ($(awk -v n="$LOAD_OK" -v u="$LOAD_WALL" 'BEGIN { printf "%.1f", n / (u / 1e6) }') clones/s); one clone p50 $(ms "$P50"), p99 $(ms "$P99"); hub peak RSS $((HWM_BEFORE / 1024)) MiB before, $((HWM_AFTER / 1024)) MiB after (pack $(thousands "$PACK_BYTES") bytes).

Resumed clone: cut after $(thousands "$CUT") of $(thousands "$PACK_BYTES") pack bytes (90 %); the second run received $(thousands "$RECEIVED") bytes and reused $(thousands "$RESUMED"): $(thousands $((RECEIVED - (PACK_BYTES - RESUMED)))) bytes sent again beyond the missing part.
EOF
