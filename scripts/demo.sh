#!/usr/bin/env bash
# Builds muse and MuseHub and plays a short story in a fresh demo repository: a person and two AI
# agents commit with provenance and semantic-version bumps, one agent works in its own workspace,
# and the log shows who (which model) changed what. Then it starts the hub on its embedded
# default (SQLite, in DIR-hub), pushes the demo repository to it, clones it back over HTTP, and
# keeps the hub serving until Ctrl-C.
# Usage: scripts/demo.sh [--no-serve] [DIR]   (--no-serve: stop the hub once the clone is checked)
set -euo pipefail
cd "$(dirname "$0")/.."
SERVE=1
if [[ ${1:-} == --no-serve ]]; then SERVE=0; shift; fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
cargo build --release -p muse-cli -p muse-hub-server >&2
BIN=$CARGO_TARGET_DIR/release
muse() { "$BIN/muse" "$@"; }
DEMO=${1:-$(mktemp -d "${TMPDIR:-/tmp}/muse-demo.XXXXXX")}
mkdir -p "$DEMO" && cd "$DEMO"
[[ -e .muse ]] && { echo "error: $DEMO already holds a repository" >&2; exit 1; }
unset MUSE_AGENT_ID MUSE_MODEL_ID MUSE_TOOLCHAIN_ID
export MUSE_AUTHOR="Ada Lovelace <ada@example.com>"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

muse init . >/dev/null
mkdir -p src
printf 'def greet(name):\n    return "Hello, " + name\n' > src/greet.py
printf '# Greeter\n' > README.md
muse commit -m "Initial greeter" --bump minor >/dev/null

printf 'def greet(name, punctuation="!"):\n    return "Hello, " + name + punctuation\n' > src/greet.py
echo "Write a greeting with configurable punctuation." > /tmp/muse-demo-prompt.txt
muse commit -m "feat: configurable punctuation" --agent-id agent-7 --model-id claude-opus-4 \
    --toolchain-id muse-cli/0.1 --prompt-file /tmp/muse-demo-prompt.txt --bump minor >/dev/null

muse workspace add ../"$(basename "$DEMO")-agent-b" -b agent-b/rename >/dev/null
( cd ../"$(basename "$DEMO")-agent-b"
  printf 'def salute(name, punctuation="!"):\n    return "Hello, " + name + punctuation\n' > src/greet.py
  muse commit -m "refactor!: rename greet to salute" --agent-id agent-9 --model-id gpt-5-codex \
      --bump major --breaking "greet() is now salute()" >/dev/null )

printf '# Greeter\n\nSay hello.\n' > README.md
muse commit -m "docs: say what it does" --agent-id agent-7 --model-id claude-opus-4 --bump patch >/dev/null

step muse log --all --oneline
step muse log --oneline -- src/greet.py
step muse show agent-b/rename
step muse workspace list
step muse status
step muse fsck
printf '\nDemo repository: %s\n' "$DEMO"

# The hub: SQLite metadata and the hosted stores under DIR-hub, a user, a repository, a token.
HUBDATA=$DEMO-hub
export MUSE_CONFIG_DIR=$HUBDATA/client-config      # the demo's token stays out of ~/.config
rm -rf "$HUBDATA" && mkdir -p "$HUBDATA"
"$BIN/musehub" user add ada --data "$HUBDATA" >/dev/null
"$BIN/musehub" repo create ada/greeter --data "$HUBDATA" >/dev/null
"$BIN/musehub" token create --user ada --scope write --label demo --data "$HUBDATA" > "$HUBDATA/token"
"$BIN/musehub" serve --data "$HUBDATA" --listen 127.0.0.1:0 > "$HUBDATA/serve.out" 2> "$HUBDATA/serve.log" &
HUB_PID=$!
trap 'kill $HUB_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^listening on ' "$HUBDATA/serve.out" 2>/dev/null && break; sleep 0.1; done
HUB=$(sed -n 's/^listening on //p' "$HUBDATA/serve.out")
[[ -n $HUB ]] || { cat "$HUBDATA/serve.log" >&2; echo "error: musehub did not start" >&2; exit 1; }
muse auth login "$HUB" --token-stdin < "$HUBDATA/token" >/dev/null
step muse remote add origin "$HUB/ada/greeter"
step muse push origin --all
step muse clone "$HUB/ada/greeter" "$DEMO-clone"
( cd "$DEMO-clone" && step muse log --all --oneline )

if ((SERVE)); then
    printf '\nMuseHub is serving %s (data: %s; logs: %s/serve.log).\n' "$HUB/ada/greeter" "$HUBDATA" "$HUBDATA"
    printf 'Try: muse clone %s   ·   curl %s/api/v1/repos/ada/greeter\nCtrl-C stops it.\n' "$HUB/ada/greeter" "$HUB"
    wait "$HUB_PID"
fi
