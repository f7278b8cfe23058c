#!/usr/bin/env bash
# Builds muse and plays a short story in a fresh demo repository: a person and two AI agents
# commit with provenance and semantic-version bumps, one agent works in its own workspace, and
# the log shows who (which model) changed what. Usage: scripts/demo.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
cargo build --release -p muse-cli >&2
muse() { "$CARGO_TARGET_DIR/release/muse" "$@"; }
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
