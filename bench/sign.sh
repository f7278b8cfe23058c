#!/usr/bin/env bash
# bench/sign.sh: what signing costs a commit, and what verifying a whole history costs, beside
# git's SSH signing (gpg.format=ssh, which runs ssh-keygen -Y sign / -Y verify) in the same run.
#
# 1. A 100-file commit on a 1,000-file tree (as bench/oplog.sh), alternately signed
#    (MUSE_SIGNING_KEY) and not (--no-sign); git commits the same 100 changed files with and
#    without -S in the same loop. Reports medians and the share signing adds.
# 2. The requests corpus is imported with `muse import git` (its commit count is the size of the
#    history). Imported commits are not signed, so a synthetic history of the same number of
#    signed commits is made with `muse commit --allow-empty` (the same for git with -S), then
#    `muse verify` verifies every commit of it against the allowed signers (one process), and
#    `git verify-commit` (every commit) does the same for git. Reports wall times, and for Muse
#    CPU times (user + system) too: on a loaded machine wall times of tens of milliseconds move
#    by more than what signing costs.
#
# Usage: bench/sign.sh [RUNS] [HISTORY]   (default 31 commits of each kind; HISTORY defaults to
# the requests corpus' commit count)
# Needs: python3, git, ssh-keygen, perf (Debian: linux-perf), cargo; ../shared/corpus/requests.bundle. Several minutes on an
# idle machine (making 2 × 6,700 commits is most of it); not part of CI.
set -euo pipefail
RUNS=${1:-31}
source "$(dirname "$0")/lib.sh" sign
export MUSE_KEY_DIR=$W/keys
unset MUSE_SIGNING_KEY MUSE_AGENT_ID MUSE_MODEL_ID
"$MUSE" key generate --name bench >/dev/null
printf '[user]\n\tsigningkey = %s\n[gpg]\n\tformat = ssh\n[gpg "ssh"]\n\tallowedSignersFile = %s\n' "$MUSE_KEY_DIR/bench" "$W/git_allowed" >>"$GIT_CONFIG_GLOBAL"
echo "bench@example.invalid $(cut -d' ' -f1,2 "$MUSE_KEY_DIR/bench.pub")" >"$W/git_allowed"

timed() { local t0=${EPOCHREALTIME/./}; "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }; echo $(( ${EPOCHREALTIME/./} - t0 )); }
# cputimed CMD…: "WALL_US CPU_US" (CPU: perf's task-clock, the time on a CPU of the process
# and its threads, to 10 µs; less sensitive to a loaded machine than wall time).
cputimed() {
    local t0=${EPOCHREALTIME/./}
    perf stat -x, -e task-clock -o "$W/cpu" -- "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
    echo "$(( ${EPOCHREALTIME/./} - t0 )) $(awk -F, '/task-clock/ { printf "%d", $1 * 1000 }' "$W/cpu")"
}
ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f %%", (a - b) * 100 / b }'; }

log "1. a 100-file commit, signed and not, $RUNS of each"
mkdir "$W/m" "$W/g"
tree_1000 "$W/m"; tree_1000 "$W/g"
(cd "$W/m" && "$MUSE" init . >/dev/null && "$MUSE" commit -m init --no-sign >/dev/null)
(cd "$W/g" && git init -q && git add -A && git commit -q -m init)
m_plain=(); m_signed=(); mc_plain=(); mc_signed=(); g_plain=(); g_signed=()
for i in $(seq 1 "$RUNS"); do
    change_100 "$W/m" "p$i"; read -r wall cpu < <(cd "$W/m" && cputimed "$MUSE" commit -m "p$i" --no-sign); m_plain+=("$wall"); mc_plain+=("$cpu")
    change_100 "$W/m" "s$i"; read -r wall cpu < <(cd "$W/m" && MUSE_SIGNING_KEY=bench cputimed "$MUSE" commit -m "s$i"); m_signed+=("$wall"); mc_signed+=("$cpu")
    change_100 "$W/g" "p$i"; g_plain+=("$(cd "$W/g" && timed sh -c 'git add -A && git commit -q -m p')")
    change_100 "$W/g" "s$i"; g_signed+=("$(cd "$W/g" && timed sh -c 'git add -A && git commit -q -S -m s')")
done
MP=$(median "${m_plain[@]}"); MS=$(median "${m_signed[@]}"); MCP=$(median "${mc_plain[@]}"); MCS=$(median "${mc_signed[@]}"); GP=$(median "${g_plain[@]}"); GS=$(median "${g_signed[@]}")
(cd "$W/m" && "$MUSE" key allow "$MUSE_KEY_DIR/bench.pub" --identity bench@example.invalid >/dev/null && "$MUSE" verify HEAD >/dev/null) \
    || { echo "the signed commits do not verify" >&2; exit 1; }

if [ -n "${2:-}" ]; then
    N=$2
else
    log "2. importing the requests corpus"
    git clone -q --mirror "$CORPUS/requests.bundle" "$W/requests.git"
    "$MUSE" import git "$W/requests.git" "$W/requests" --json >"$W/import.json" 2>/dev/null
    N=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["commits"])' "$W/import.json")
    # Verifying the imported history: every commit is unsigned (a look at each signature field).
    mapfile -t REQ_IDS < <(cd "$W/requests" && "$MUSE" log --all --json | python3 -c 'import json,sys; [print(c["commit_id"]) for c in json.load(sys.stdin)]')
    REQ_T=$(cd "$W/requests" && { t0=${EPOCHREALTIME/./}; "$MUSE" verify "${REQ_IDS[@]}" >/dev/null 2>&1 || true; echo $(( ${EPOCHREALTIME/./} - t0 )); })
fi
log "2. a signed history of $N commits, in Muse and in git"
mkdir "$W/hm" "$W/hg"
(cd "$W/hm" && "$MUSE" init . >/dev/null && "$MUSE" key allow "$MUSE_KEY_DIR/bench.pub" --identity bench@example.invalid >/dev/null \
    && for i in $(seq 1 "$N"); do MUSE_SIGNING_KEY=bench "$MUSE" commit --allow-empty -m "c$i" >/dev/null; done)
(cd "$W/hg" && git init -q && for i in $(seq 1 "$N"); do git commit -q -S --allow-empty -m "c$i"; done)
mapfile -t IDS < <(cd "$W/hm" && "$MUSE" log --json | python3 -c 'import json,sys; [print(c["commit_id"]) for c in json.load(sys.stdin)]')
[ "${#IDS[@]}" -eq "$N" ] || { echo "expected $N commits, found ${#IDS[@]}" >&2; exit 1; }
mv_t=(); mvc_t=()
for _ in 1 2 3 4 5; do
    read -r wall cpu < <(cd "$W/hm" && cputimed "$MUSE" verify "${IDS[@]}"); mv_t+=("$wall"); mvc_t+=("$cpu")
done
# git runs ssh-keygen once per commit: once is enough to see the scale.
GV=$(cd "$W/hg" && timed sh -c 'git rev-list HEAD | xargs git verify-commit')
MV=$(median "${mv_t[@]}"); MVC=$(median "${mvc_t[@]}")

echo
echo "## bench/sign.sh: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "100-file commit on a 1,000-file tree, median of $RUNS:"
echo "| | unsigned | signed | signing adds |"
echo "|---|---|---|---|"
echo "| muse commit, wall | $(ms "$MP") | $(ms "$MS") | $(ms $((MS - MP))) ($(pct "$MS" "$MP")) |"
echo "| muse commit, CPU (task-clock) | $(ms "$MCP") | $(ms "$MCS") | $(ms $((MCS - MCP))) ($(pct "$MCS" "$MCP")) |"
echo "| git commit (-S, ssh) | $(ms "$GP") | $(ms "$GS") | $(ms $((GS - GP))) ($(pct "$GS" "$GP")) |"
echo
echo "Verifying a signed history of $N commits (the requests corpus' size); muse: median of 5, git: one run:"
echo "| | whole history | per commit |"
echo "|---|---|---|"
echo "| muse verify (every id), wall | $(ms "$MV") | $(awk -v t="$MV" -v n="$N" 'BEGIN { printf "%.1f µs", t / n }') |"
echo "| muse verify (every id), CPU | $(ms "$MVC") | $(awk -v t="$MVC" -v n="$N" 'BEGIN { printf "%.1f µs", t / n }') |"
echo "| git verify-commit (every id), wall | $(ms "$GV") | $(awk -v t="$GV" -v n="$N" 'BEGIN { printf "%.1f µs", t / n }') |"
echo "| ratio git / muse | $(awk -v a="$GV" -v b="$MV" 'BEGIN { printf "%.1f×", a / b }') | |"
if [ -n "${REQ_T:-}" ]; then
    echo
    echo "muse verify of the imported requests history itself ($N commits, all unsigned, so all reported): $(ms "$REQ_T")"
fi
