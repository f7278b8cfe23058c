# bench/lib.sh: the set-up the benchmark scripts share. Source it after `set -euo pipefail`:
#
#     source "$(dirname "$0")/lib.sh" NAME
#
# It sets HERE and ROOT (this directory and the checkout), CORPUS (MUSE_CORPUS, else the
# `shared/corpus` beside the checkout or beside its parent, as for a git worktree), exports
# CARGO_TARGET_DIR (default ~/.cache/muse-target), sets MUSE (MUSE_BIN, else a release build of
# muse-cli), W (a temporary directory named after NAME, removed on exit), an isolated git
# configuration in $GIT_CONFIG_GLOBAL (user Bench, default branch main, no automatic gc or
# maintenance; a script may append to it) and MUSE_AUTHOR; and defines the helpers below.

export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CORPUS=${MUSE_CORPUS:-$ROOT/../shared/corpus}
[ -d "$CORPUS" ] || CORPUS=$ROOT/../../shared/corpus
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
if [ -n "${MUSE_BIN:-}" ]; then
    MUSE=$MUSE_BIN
else
    cargo build --release -q -p muse-cli --manifest-path "$ROOT/Cargo.toml"
    MUSE=$CARGO_TARGET_DIR/release/muse
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/muse-${1:-bench}.XXXXXX")
trap 'rm -rf "$W"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$W/gitconfig
printf '[user]\n\tname = Bench\n\temail = bench@example.invalid\n[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n' >"$GIT_CONFIG_GLOBAL"
export MUSE_AUTHOR="Bench <bench@example.invalid>"

# log TEXT…: a timestamped line on stderr.
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# median N…: the median of its integer arguments.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
# tree_1000 DIR: 1,000 files of 20 lines in 10 directories.
tree_1000() { python3 - "$1" <<'PY'
import os, sys
for i in range(1000):
    d = os.path.join(sys.argv[1], f"d{i // 100}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i % 100:02d}.txt"), "w") as fh:
        fh.write(f"file {i}\n" * 20)
PY
}
# change_100 DIR N: appends line N to every 10th file of a tree_1000 tree.
change_100() { python3 - "$1" "$2" <<'PY'
import os, sys
for i in range(0, 1000, 10):
    with open(os.path.join(sys.argv[1], f"d{i // 100}", f"f{i % 100:02d}.txt"), "a") as fh:
        fh.write(f"change {sys.argv[2]}\n")
PY
}
