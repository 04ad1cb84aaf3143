#!/usr/bin/env bash
# Benchmark the files check against peer tools on the same trees:
#   readygate check (files kind)  vs  sha256sum -c  vs  mtree -f (mtree-netbsd)  vs  aide --check
#
# Trees (under $WORK, default bench/files/trees, gitignored):
#   small: $SMALL_FILES files of 1-8 KiB random content in nested directories (default 100000)
#   large: $LARGE_COUNT files of $LARGE_MB MiB each (default 16 x 128 MiB = 2 GiB)
# Each tool's inputs are built on the same tree, every check runs once to warm the page cache,
# then $REPS runs (default 3) are measured with /usr/bin/time; the median by wall time is kept.
# Prints a Markdown table: tool, tree, wall s, CPU s (user+sys), peak RSS MiB.
#
# Smoke test: SMALL_FILES=2000 LARGE_COUNT=2 LARGE_MB=64 REPS=1 bench/files/run.sh
# Needs: READYGATE (default build/hook/readygate), sha256sum, mtree, aide, python3, /usr/bin/time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
READYGATE=${READYGATE:-$source_dir/build/hook/readygate}
WORK=${WORK:-$here/trees}
SMALL_FILES=${SMALL_FILES:-100000}
LARGE_COUNT=${LARGE_COUNT:-16}
LARGE_MB=${LARGE_MB:-128}
REPS=${REPS:-3}
TOOLS=${TOOLS:-"readygate sha256sum mtree aide"}

for program in "$READYGATE" sha256sum mtree aide python3 /usr/bin/time; do
  if ! command -v "$program" >/dev/null 2>&1; then
    echo "run.sh: $program is not installed" >&2
    exit 1
  fi
done
WORK=$(mkdir -p "$WORK" && cd "$WORK" && pwd)

# Build a tree of `count` random 1-8 KiB files, 100 files per directory, two levels deep.
make_small_tree() {
  local dir=$1 count=$2
  python3 - "$dir" "$count" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
for i in range(count):
    d = os.path.join(root, f"d{i // 10000:02d}", f"s{(i // 100) % 100:02d}")
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}.bin"), "wb") as f:
        f.write(os.urandom(rng.randint(1024, 8192)))
PY
}

make_large_tree() {
  local dir=$1 count=$2 mb=$3 i
  mkdir -p "$dir"
  for ((i = 0; i < count; i++)); do
    head -c "$((mb * 1024 * 1024))" /dev/urandom >"$dir/large-$i.bin"
  done
}

# Prepare the inputs of every tool for tree `name` at `dir`.
prepare() {
  local name=$1 dir=$2
  local inputs=$WORK/inputs-$name
  rm -rf "$inputs"
  mkdir -p "$inputs"
  "$READYGATE" manifest create --root "$dir" >"$inputs/files.manifest"
  cat >"$inputs/readygate.toml" <<TOML
[gate]
deadline = "60m"

[[check]]
id = "files"
kind = "files"
root = "$dir"
manifest = "$inputs/files.manifest"
timeout = "60m"
TOML
  (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$inputs/sha256sums"
  mtree -c -K sha256digest -p "$dir" >"$inputs/mtree.spec"
  # AIDE: type, permissions, owner, size, link target and sha256 of everything under the tree;
  # num_workers as many as readygate uses (AIDE's default is 1).
  cat >"$inputs/aide.conf" <<CONF
database_in=file:$inputs/aide.db
database_out=file:$inputs/aide.db.new
gzip_dbout=no
num_workers=$(nproc)
report_url=stdout
Sel = ftype+p+u+g+s+l+sha256
$dir Sel
CONF
  aide --init -c "$inputs/aide.conf" >/dev/null
  mv "$inputs/aide.db.new" "$inputs/aide.db"
}

# Run `tool`'s check on tree `name`; exit status 0 means the tree verified.
check() {
  local tool=$1 name=$2 dir=$3 inputs=$WORK/inputs-$2
  case $tool in
  readygate) "$READYGATE" check --config "$inputs/readygate.toml" ;;
  sha256sum) (cd "$dir" && sha256sum -c --quiet "$inputs/sha256sums") ;;
  mtree) mtree -f "$inputs/mtree.spec" -p "$dir" ;;
  aide) aide --check -c "$inputs/aide.conf" ;;
  esac
}

# Print "wall cpu rss_mib" of the median (by wall time) of REPS measured runs.
measure() {
  local tool=$1 name=$2 dir=$3 i out=$WORK/time.out
  if ! check "$tool" "$name" "$dir" >"$WORK/warm.log" 2>&1; then
    echo "run.sh: $tool did not verify the unchanged $name tree:" >&2
    tail -5 "$WORK/warm.log" >&2
    exit 1
  fi
  : >"$WORK/times"
  for ((i = 0; i < REPS; i++)); do
    if ! /usr/bin/time -f '%e %U %S %M' -o "$out" \
      bash -c "$(declare -f check); READYGATE='$READYGATE' WORK='$WORK' check $tool $name '$dir'" \
      >/dev/null 2>&1; then
      echo "run.sh: $tool failed on the $name tree during measurement" >&2
      exit 1
    fi
    cat "$out" >>"$WORK/times"
  done
  sort -n "$WORK/times" | awk -v reps="$REPS" '
    { wall[NR] = $1; cpu[NR] = $2 + $3; rss[NR] = $4 }
    END { m = int((reps + 1) / 2); printf "%.2f %.2f %.1f\n", wall[m], cpu[m], rss[m] / 1024 }'
}

echo "building trees in $WORK (small: $SMALL_FILES files, large: $LARGE_COUNT x $LARGE_MB MiB)" >&2
small=$WORK/small-$SMALL_FILES
large=$WORK/large-${LARGE_COUNT}x$LARGE_MB
[ -d "$small" ] || { make_small_tree "$small.tmp" "$SMALL_FILES" && mv "$small.tmp" "$small"; }
[ -d "$large" ] || { make_large_tree "$large.tmp" "$LARGE_COUNT" "$LARGE_MB" && mv "$large.tmp" "$large"; }

echo "preparing manifests, lists, specs and databases" >&2
prepare small "$small"
prepare large "$large"

echo
echo "$(date -u +%Y-%m-%d), $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), median of $REPS warm-cache runs"
echo
echo "| tool | tree | wall s | CPU s | peak RSS MiB |"
echo "|---|---|---:|---:|---:|"
for tree in small large; do
  if [ "$tree" = small ]; then dir=$small label="$SMALL_FILES x 1-8 KiB"; else dir=$large label="$LARGE_COUNT x $LARGE_MB MiB"; fi
  for tool in $TOOLS; do
    echo "measuring $tool on $tree" >&2
    measure "$tool" "$tree" "$dir" >"$WORK/row"
    read -r wall cpu rss <"$WORK/row"
    echo "| $tool | $label | $wall | $cpu | $rss |"
  done
done
