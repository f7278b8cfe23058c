#!/usr/bin/env bash
# Imports git histories with `muse import git` and reports, beside git, for each one:
#   - import time (and peak memory), against `git clone --mirror` of the same bundle;
#   - the time of a re-import when nothing changed;
#   - the Muse object store size against `git count-objects -v` size-pack;
#   - `muse log -- PATH` time and commit count against `git log -- PATH`, for the 3 busiest files.
# Then it checks correctness with the ignored acceptance test (commit counts, every ref's files
# and blob SHA-256s, exact `log -- PATH` order), in release mode.
#
# Usage: bench/import.sh [BUNDLE…]          (default: every *.bundle of the corpus)
#        bench/import.sh --synthetic N      (a generated N-commit linear history: memory bound)
# Environment: MUSE_CORPUS (default: ../shared/corpus beside the repository), CARGO_TARGET_DIR,
# MUSE_BIN (a muse binary to use instead of building one).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${MUSE_CORPUS:-$ROOT/../shared/corpus}
export MUSE_CORPUS=$CORPUS
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=init.defaultBranch GIT_CONFIG_VALUE_0=main
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muse-bench-import.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ -n "${MUSE_BIN:-}" ]; then
  MUSE=$MUSE_BIN
else
  echo "building muse (release)…" >&2
  cargo build --release --quiet -p muse-cli
  MUSE=$CARGO_TARGET_DIR/release/muse
fi

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
json_field() { sed -n "s/^  \"$2\": \\([0-9.]*\\),\\{0,1\\}$/\\1/p" "$1"; }

# Runs `muse import git` on $1 into $2, recording seconds and peak RSS (MiB) in $3.json / $3.mem.
timed_import() {
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o "$3.mem" "$MUSE" --json import git "$1" "$2" > "$3.json"
  else
    "$MUSE" --json import git "$1" "$2" > "$3.json"
    echo 0 > "$3.mem"
  fi
}

bench_repo() { # name, path of a bare git repository
  local name=$1 src=$2 dst=$WORK/$1.muse
  local t0 clone_s import_s noop_s rss_mib commits git_commits size_pack muse_kib
  timed_import "$src" "$dst" "$WORK/$name"
  import_s=$(printf '%.2f' "$(json_field "$WORK/$name.json" seconds)")
  commits=$(json_field "$WORK/$name.json" commits)
  rss_mib=$(( $(tail -n 1 "$WORK/$name.mem") / 1024 ))
  t0=$(now); "$MUSE" --json import git "$src" "$dst" > "$WORK/$name.noop.json"; noop_s=$(since "$t0")
  git_commits=$(git -C "$src" rev-list --count --all)
  size_pack=$(git -C "$src" count-objects -v | awk '/^size-pack:/ { print $2 }')
  muse_kib=$(du -sk "$dst/.muse/objects" | cut -f1)
  printf '\n== %s\n' "$name"
  printf 'commits           muse %s   git %s %s\n' "$commits" "$git_commits" "$([ "$commits" = "$git_commits" ] && echo ok || echo MISMATCH)"
  printf 'import            muse %ss (peak RSS %s MiB)   git clone --mirror %ss\n' "$import_s" "$rss_mib" "${CLONE_S:-n/a}"
  printf 're-import, no-op  muse %ss\n' "$noop_s"
  printf 'store size        muse %s KiB   git size-pack %s KiB   ratio %s\n' "$muse_kib" "$size_pack" \
    "$(awk -v m="$muse_kib" -v g="$size_pack" 'BEGIN { printf "%.2f", m / g }')"
  local branch path g_s m_s g_n m_n busiest
  branch=$(git -C "$src" symbolic-ref --short HEAD)
  # The 3 most-changed paths of the default branch (awk, not head: no SIGPIPE under pipefail).
  mapfile -t busiest < <(git -C "$src" log --format= --name-only "$branch" | grep -v '^$' | sort | uniq -c |
    sort -k1,1nr -k2 | awk 'NR <= 3 { sub(/^ *[0-9]+ /, ""); print }')
  for path in "${busiest[@]}"; do
    t0=$(now); g_n=$(git -C "$src" log --format=%H "$branch" -- "$path" | wc -l); g_s=$(since "$t0")
    t0=$(now); m_n=$( (cd "$dst" && "$MUSE" log --oneline "$branch" -- "$path") | wc -l); m_s=$(since "$t0")
    printf 'log -- %-28s muse %ss (%s commits)   git %ss (%s commits) %s\n' "$path" "$m_s" "$m_n" "$g_s" "$g_n" \
      "$([ "$m_n" = "$g_n" ] && echo ok || echo MISMATCH)"
  done
}

if [ "${1:-}" = "--synthetic" ]; then
  n=${2:?usage: bench/import.sh --synthetic N}
  src=$WORK/synthetic.git
  git init --quiet --bare "$src"
  echo "generating a $n-commit history…" >&2
  awk -v n="$n" 'BEGIN {
    for (i = 1; i <= n; i++) {
      printf "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata <<EOM\ncommit %d\nEOM\n", 1000000000 + i * 60, i
      content = sprintf("file %d version %d\n", i % 1000, i)
      printf "M 100644 inline dir%d/sub%d/file%d.txt\ndata %d\n%s\n", i % 50, i % 7, i % 1000, length(content), content
    }
  }' | git -C "$src" fast-import --quiet
  git -C "$src" symbolic-ref HEAD refs/heads/main
  bench_repo "synthetic-$n" "$src"
  exit 0
fi

if [ $# -eq 0 ]; then
  set -- "$CORPUS"/*.bundle
fi
names=()
for bundle in "$@"; do
  name=$(basename "$bundle" .bundle)
  t0=$(now); git clone --quiet --mirror "$bundle" "$WORK/$name.git"; CLONE_S=$(since "$t0")
  bench_repo "$name" "$WORK/$name.git"
  names+=("$name.bundle")
done

printf '\n== correctness (every ref'"'"'s files and SHA-256s, log -- PATH order, against git)\n'
MUSE_BENCH_BUNDLES="${names[*]}" cargo test --release --quiet -p muse-import --test corpus -- --ignored --nocapture every_corpus 2>&1 |
  grep -E 'match git|panicked|test result'
