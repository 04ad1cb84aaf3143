#!/usr/bin/env bash
# Benchmark the files check (and `manifest create`) against peer tools on the same trees:
#   readygate check (files kind)  vs  sha256sum -c  vs  mtree -f (mtree-netbsd)  vs  aide --check
#   readygate manifest create     vs  mtree -c
#
# Trees (under $WORK, default bench/files/trees, gitignored, reused between runs):
#   large: $LARGE_COUNT files of $LARGE_MB MiB (default 16 x 128 MiB = 2 GiB)
#   small: $SMALL_FILES files of 1-8 KiB, 100 per directory (default 100000)
#   tiny:  $TINY_ENTRIES entries, a vendor/-style tree: 19 files of 0-100 B per directory,
#          50 directories per package (default 1000000)
# Each measurement runs once to warm the page cache (warm rows) and then $REPS times (default
# 3) under /usr/bin/time; cold rows drop the page cache before each run (sync; echo 3 >
# /proc/sys/vm/drop_caches, root only; skipped with COLD=0). The median run by wall time is
# kept. Prints one Markdown table: wall s, CPU s (user + sys), peak RSS MiB, the wall time as a
# multiple of `sha256sum -c`'s on the same tree and cache (x sha256sum; for `manifest create`,
# of `mtree -c`'s), and for the large tree the hashing rate as a share of the machine's limit,
# 2 x `openssl speed -evp sha256` at 16 KiB blocks (nproc = 2 cores hashing at once).
#
# The floor row is bench/files/floor.c: openat, fstat, pread, close per file on nproc threads,
# no hashing, no comparison: no tool that hashes every file can go below it.
#
# Smoke test: SMALL_FILES=2000 TINY_ENTRIES=20000 LARGE_COUNT=2 LARGE_MB=64 REPS=1 bench/files/run.sh
# Needs: READYGATE (default build/hook/readygate), sha256sum, mtree, aide, openssl, python3,
# /usr/bin/time.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
READYGATE=${READYGATE:-$source_dir/build/hook/readygate}
WORK=${WORK:-$here/trees}
SMALL_FILES=${SMALL_FILES:-100000}
TINY_ENTRIES=${TINY_ENTRIES:-1000000}
LARGE_COUNT=${LARGE_COUNT:-16}
LARGE_MB=${LARGE_MB:-128}
REPS=${REPS:-3}
COLD=${COLD:-1}
TREES=${TREES:-"large small tiny"}
TOOLS=${TOOLS:-"sha256sum readygate mtree aide floor create mtree-c"}
AIDE_TREES=${AIDE_TREES:-"large small"}

for program in "$READYGATE" sha256sum mtree aide openssl python3 cc /usr/bin/time; do
  if ! command -v "$program" >/dev/null 2>&1; then
    echo "run.sh: $program is not installed" >&2
    exit 1
  fi
done
if [ "$COLD" = 1 ] && ! { sync && echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
  echo "run.sh: cannot drop the page cache (not root?): cold rows skipped" >&2
  COLD=0
fi
WORK=$(mkdir -p "$WORK" && cd "$WORK" && pwd)
cc -O2 -pthread -o "$WORK/floor" "$here/floor.c"

make_small_tree() {
  python3 - "$1" "$2" <<'PY'
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

# A vendor/-style tree: vendor/pNNN/mNN/ with 19 files of 0-100 bytes each, until `count`
# entries (files and directories).
make_tiny_tree() {
  python3 - "$1" "$2" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
names = ["README.md", "LICENSE", "composer.json", "index.php", "a.php", "b.php", "c.php",
         "Test.php", "util.php", ".gitignore", "x-y.php", "x.y.php", "x_y.php", "Z.php",
         "data.json", "style.css", "app.js", "empty", "init.py"]
entries = 1
os.makedirs(os.path.join(root, "vendor"))
entries += 1
package = 0
while entries < count:
    pdir = os.path.join(root, "vendor", f"p{package:04d}")
    os.mkdir(pdir)
    entries += 1
    for module in range(50):
        if entries >= count:
            break
        mdir = os.path.join(pdir, f"m{module:02d}")
        os.mkdir(mdir)
        entries += 1
        for name in names:
            if entries >= count:
                break
            fd = os.open(os.path.join(mdir, name), os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, os.urandom(rng.randint(0, 100)))
            os.close(fd)
            entries += 1
    package += 1
PY
}

make_large_tree() {
  local dir=$1 count=$2 mb=$3 i
  mkdir -p "$dir"
  for ((i = 0; i < count; i++)); do
    head -c "$((mb * 1024 * 1024))" /dev/urandom >"$dir/large-$i.bin"
  done
}

tree_dir() {
  case $1 in
  large) echo "$WORK/large-${LARGE_COUNT}x$LARGE_MB" ;;
  small) echo "$WORK/small-$SMALL_FILES" ;;
  tiny) echo "$WORK/tiny-$TINY_ENTRIES" ;;
  esac
}

tree_label() {
  case $1 in
  large) echo "$LARGE_COUNT x $LARGE_MB MiB" ;;
  small) echo "$SMALL_FILES x 1-8 KiB" ;;
  tiny) echo "$TINY_ENTRIES entries of 0-100 B" ;;
  esac
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
  # num_workers as many as there are CPUs (AIDE's default is 1).
  cat >"$inputs/aide.conf" <<CONF
database_in=file:$inputs/aide.db
database_out=file:$inputs/aide.db.new
gzip_dbout=no
num_workers=$(nproc)
report_url=stdout
Sel = ftype+p+u+g+s+l+sha256
$dir Sel
CONF
  if [[ " $TOOLS " == *" aide "* ]] && [[ " $AIDE_TREES " == *" $name "* ]]; then
    aide --init -c "$inputs/aide.conf" >/dev/null
    mv "$inputs/aide.db.new" "$inputs/aide.db"
  fi
}

# Run `tool` on tree `name`; exit status 0 means the tree verified (or the manifest was written).
run_tool() {
  local tool=$1 name=$2 dir=$3 inputs=$WORK/inputs-$2
  case $tool in
  readygate) "$READYGATE" check --config "$inputs/readygate.toml" ;;
  sha256sum) (cd "$dir" && sha256sum -c --quiet "$inputs/sha256sums") ;;
  mtree) mtree -f "$inputs/mtree.spec" -p "$dir" ;;
  aide) aide --check -c "$inputs/aide.conf" ;;
  floor) "$WORK/floor" "$dir" "$(nproc)" ;;
  create) "$READYGATE" manifest create --root "$dir" >"$WORK/create.out" ;;
  mtree-c) mtree -c -K sha256digest -p "$dir" >"$WORK/create.out" ;;
  esac
}

# Print "wall cpu rss_mib" of the median (by wall time) of REPS measured runs; `cache` is warm
# (one unmeasured run first) or cold (the page cache dropped before each run).
measure() {
  local tool=$1 name=$2 dir=$3 cache=$4 i out=$WORK/time.out
  if ! run_tool "$tool" "$name" "$dir" >"$WORK/warm.log" 2>&1; then
    echo "run.sh: $tool did not verify the unchanged $name tree:" >&2
    tail -5 "$WORK/warm.log" >&2
    exit 1
  fi
  : >"$WORK/times"
  for ((i = 0; i < REPS; i++)); do
    if [ "$cache" = cold ]; then
      sync
      echo 3 >/proc/sys/vm/drop_caches
    fi
    if ! /usr/bin/time -f '%e %U %S %M' -o "$out" \
      bash -c "$(declare -f run_tool); READYGATE='$READYGATE' WORK='$WORK' run_tool $tool $name '$dir'" \
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

# Bytes per second one core hashes with SHA-256 (OpenSSL EVP, 16 KiB blocks, 3 s).
hash_rate() {
  openssl speed -evp sha256 -bytes 16384 -seconds 3 2>/dev/null |
    awk '/^sha256/ { v = $NF; sub(/k$/, "", v); print v * 1000 }'
}

echo "building trees in $WORK" >&2
for tree in $TREES; do
  dir=$(tree_dir "$tree")
  if [ ! -d "$dir" ]; then
    case $tree in
    large) make_large_tree "$dir.tmp" "$LARGE_COUNT" "$LARGE_MB" ;;
    small) make_small_tree "$dir.tmp" "$SMALL_FILES" ;;
    tiny) make_tiny_tree "$dir.tmp" "$TINY_ENTRIES" ;;
    esac
    mv "$dir.tmp" "$dir"
  fi
done

if [ "${1:-}" = trees ]; then
  exit 0 # `run.sh trees` only builds the trees
fi

echo "preparing manifests, lists, specs and databases" >&2
for tree in $TREES; do
  prepare "$tree" "$(tree_dir "$tree")"
done

rate=$(hash_rate)
limit=$(awk -v r="$rate" -v n="$(nproc)" 'BEGIN { printf "%.0f", r * n }')
large_bytes=$((LARGE_COUNT * LARGE_MB * 1024 * 1024))
caches="warm"
[ "$COLD" = 1 ] && caches="warm cold"

echo
echo "$(date -u +%Y-%m-%d), $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(uname -r)," \
  "median of $REPS runs; hash limit 2 x openssl speed = $(awk -v l="$limit" 'BEGIN { printf "%.2f", l / 1e9 }') GB/s," \
  "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| tool | tree | cache | wall s | CPU s | peak RSS MiB | x sha256sum | GB/s (% of limit) |"
echo "|---|---|---|---:|---:|---:|---:|---:|"
for tree in $TREES; do
  dir=$(tree_dir "$tree")
  label=$(tree_label "$tree")
  for cache in $caches; do
    base="" create_wall="" create_base=""
    for tool in $TOOLS; do
      # manifest create and the syscall floor are measured on the trees of many entries, where
      # the walk is the cost.
      if [ "$tree" = large ] && { [ "$tool" = create ] || [ "$tool" = mtree-c ] || [ "$tool" = floor ]; }; then
        continue
      fi
      # AIDE needs minutes per run on the tiny tree (about 0.25 ms an entry): AIDE_TREES.
      if [ "$tool" = aide ] && [[ " $AIDE_TREES " != *" $tree "* ]]; then
        echo "| aide --check | $label | $cache | not measured (AIDE_TREES) | | | | |"
        continue
      fi
      echo "measuring $tool on $tree ($cache)" >&2
      measure "$tool" "$tree" "$dir" "$cache" >"$WORK/row"
      read -r wall cpu rss <"$WORK/row"
      ratio="-"
      case $tool in
      sha256sum) base=$wall name="sha256sum -c" ;;
      readygate) name="readygate check" ;;
      mtree) name="mtree -f" ;;
      aide) name="aide --check" ;;
      floor) name="syscall floor (floor.c)" ;;
      create) create_wall=$wall name="readygate manifest create" ;;
      mtree-c) create_base=$wall name="mtree -c" ;;
      esac
      case $tool in
      sha256sum | readygate | mtree | aide | floor)
        [ -n "$base" ] && ratio=$(awk -v w="$wall" -v b="$base" 'BEGIN { printf "%.2f", w / b }')
        ;;
      mtree-c)
        [ -n "$create_wall" ] &&
          ratio="create: $(awk -v a="$create_wall" -v b="$wall" 'BEGIN { printf "%.2f", a / b }') x mtree -c"
        ;;
      esac
      speed="-"
      if [ "$tree" = large ]; then
        speed=$(awk -v b="$large_bytes" -v w="$wall" -v l="$limit" \
          'BEGIN { printf "%.2f (%.0f %%)", b / w / 1e9, 100 * b / w / l }')
      fi
      echo "| $name | $label | $cache | $wall | $cpu | $rss | $ratio | $speed |"
    done
  done
done
