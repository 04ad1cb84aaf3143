#!/usr/bin/env bats
# The files kind and `manifest create` where a tree or a manifest is hostile or large: the
# manifest's own path, device numbers, very deep trees, failing thread starts, unbounded
# manifests, names that look like headers, costly excludes, and memory that must not grow with
# the number of entries.

load helpers

setup() {
  TREE="$BATS_TEST_TMPDIR/tree"
  mkdir -p "$TREE/app/lib" "$TREE/public"
  printf '<?php echo "hello";\n' >"$TREE/public/index.php"
  printf 'lib code\n' >"$TREE/app/lib/util.php"
  printf 'debug=false\n' >"$TREE/app/app.ini"
  MANIFEST="$BATS_TEST_TMPDIR/files.manifest"
}

teardown() {
  stop_servers
  if [ -n "${SHARED_DIR:-}" ]; then
    rm -rf "$SHARED_DIR"
  fi
}

files_config() {
  printf '[[check]]\nid = "app-files"\nkind = "files"\nroot = "%s"\nmanifest = "%s"\n%s' \
    "$TREE" "$MANIFEST" "${1:-}" | write_config
}

# Make `dir` hold a chain of `depth` directories named d, the last holding app.log.
deep_tree() {
  python3 - "$1" "$2" <<'PY'
import os, sys
root, depth = sys.argv[1], int(sys.argv[2])
os.makedirs(root, exist_ok=True)
fd = os.open(root, os.O_RDONLY)
for _ in range(depth):
    os.mkdir("d", dir_fd=fd)
    child = os.open("d", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = child
log = os.open("app.log", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
os.write(log, b"x\n")
os.close(log)
os.close(fd)
PY
}

@test "files_scale: a symlink at the manifest's own path is a finding, not skipped" {
  # The README's layout: the manifest ships inside the tree, excluded from itself.
  mkdir -p "$TREE/.readygate"
  inside="$TREE/.readygate/files.manifest"
  "$READYGATE" manifest create --root "$TREE" --exclude .readygate/files.manifest >"$inside"
  MANIFEST=$inside
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 0 ]

  # Swap: an app file gets the manifest's bytes, the manifest's path a symlink to that file.
  cp "$inside" "$TREE/app/app.ini"
  rm "$inside"
  ln -s ../app/app.ini "$inside"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *".readygate/files.manifest"*"the manifest file itself"*"symlink to ../app/app.ini"* ]]
  [[ "$output" == *"app/app.ini: expected size 12, found size"* ]]
}

@test "files_scale: a device whose number changed fails (/dev/null -> /dev/mem)" {
  mkdir -p "$TREE/dev"
  mknod "$TREE/dev/null" c 1 3
  "$READYGATE" manifest create --root "$TREE" >"$MANIFEST"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 0 ]

  rm "$TREE/dev/null"
  mknod "$TREE/dev/null" c 1 1
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"dev/null"*"device 1:3"*"device 1:1"* ]]
  grep -q '^dev/null char 0644 0 0 - - 1:3$' "$MANIFEST"
}

@test "files_scale: a version 1 manifest with a device entry is an error, not a pass" {
  body=". dir 0755 0 0 - - -
null char 0644 0 0 - - -"
  printf '#readygate-manifest 1\n#digest sha256:%s\n%s\n' \
    "$(printf '%s\n' "$body" | sha256sum | cut -d' ' -f1)" "$body" >"$MANIFEST"
  run "$READYGATE" check --config "$(files_config 'ignore = ["owner"]')"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"version 1 manifest records no device numbers"* ]]
}

@test "files_scale: a tree 10,000 directories deep is an error naming the path, never a crash" {
  "$READYGATE" manifest create --root "$TREE" >"$MANIFEST"
  deep_tree "$TREE/deep" 10000
  run "$READYGATE" manifest create --root "$TREE"
  echo "${output:0:400}"
  [ "$status" -eq 2 ]
  [[ "$output" == *"deep/d/d/d/"*"path longer than 16384 bytes"* ]]

  run "$READYGATE" check --config "$(files_config)"
  echo "${output:0:400}"
  [ "$status" -eq 2 ]
  [[ "$output" == *"1 path could not be read"* ]]
}

@test "files_scale: --exclude '**/*.log' on a 3,000-deep tree takes seconds, not minutes" {
  deep_tree "$TREE/deep" 3000
  run timeout 60 "$READYGATE" manifest create --root "$TREE" --exclude '**/*.log'
  [ "$status" -eq 0 ]
  [ "$(printf '%s\n' "$output" | grep -c ' dir ')" -eq 3005 ]
  [[ "$output" != *"app.log"* ]]
  printf '%s\n' "$output" >"$MANIFEST"
  run timeout 60 "$READYGATE" check --config "$(files_config)"
  echo "${output:0:400}"
  [ "$status" -eq 0 ]
}

@test "files_scale: threads that cannot start mean fewer threads, never an abort" {
  # RLIMIT_NPROC counts the threads of the real user: with a limit of 2, the main thread and
  # one more fit, the next thread start fails. Root ignores the limit, so drop to a user id
  # nothing else runs as (nobody may be busy in a test running alongside).
  SHARED_DIR=$(mktemp -d /tmp/readygate-files-XXXXXX)
  cp -a "$TREE" "$SHARED_DIR/tree"
  chmod -R a+rX "$SHARED_DIR"
  as_nobody=(setpriv --reuid=64321 --regid=64321 --clear-groups)
  [ "$(id -u)" -eq 0 ] || as_nobody=()
  run prlimit --nproc=2 "${as_nobody[@]}" "$READYGATE" manifest create --root "$SHARED_DIR/tree"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"app/app.ini file"* ]]
  printf '%s\n' "$output" >"$SHARED_DIR/files.manifest"
  printf '[[check]]\nid = "f"\nkind = "files"\nroot = "%s"\nmanifest = "%s"\nworkers = 4\n' \
    "$SHARED_DIR/tree" "$SHARED_DIR/files.manifest" >"$SHARED_DIR/readygate.toml"
  chmod a+r "$SHARED_DIR/files.manifest" "$SHARED_DIR/readygate.toml"
  # Main, the signal watcher and the runner's thread for the check fit in 4, with room for the
  # config reader's helper thread, which may still be exiting when the run starts (under load it
  # did); the walk's 4 threads do not.
  run prlimit --nproc=4 "${as_nobody[@]}" "$READYGATE" check --config "$SHARED_DIR/readygate.toml"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "files_scale: a manifest that is /dev/zero, a symlink to it, a fifo or huge is an error at once" {
  "$READYGATE" manifest create --root "$TREE" >"$BATS_TEST_TMPDIR/good.manifest"
  for kind in zero link fifo huge; do
    rm -f "$BATS_TEST_TMPDIR/files.manifest"
    case $kind in
    zero) MANIFEST=/dev/zero ;;
    link) MANIFEST="$BATS_TEST_TMPDIR/files.manifest" && ln -s /dev/zero "$MANIFEST" ;;
    fifo) MANIFEST="$BATS_TEST_TMPDIR/files.manifest" && mkfifo "$MANIFEST" ;;
    huge) MANIFEST="$BATS_TEST_TMPDIR/files.manifest" && cp "$BATS_TEST_TMPDIR/good.manifest" "$MANIFEST" &&
      truncate -s 3G "$MANIFEST" ;;
    esac
    run timeout 20 "$READYGATE" check --config "$(files_config)"
    echo "$kind: $output"
    [ "$status" -eq 2 ]
    case $kind in
    huge) [[ "$output" == *"larger than 1073741824 bytes"* ]] ;;
    *) [[ "$output" == *"cannot read the manifest: not a regular file"* ]] ;;
    esac
  done
}

@test "files_scale: a manifest line longer than the limit is an error, not a memory sink" {
  "$READYGATE" manifest create --root "$TREE" >"$MANIFEST"
  { head -c 200000 /dev/zero | tr '\0' a; echo; } >>"$MANIFEST"
  run timeout 20 "$READYGATE" check --config "$(files_config)"
  echo "${output:0:300}"
  [ "$status" -eq 2 ]
  [[ "$output" == *"line longer than 65536 bytes"* ]]
}

@test "files_scale: a top-level name starting with '#' round-trips" {
  echo notes >"$TREE/#notes"
  mkdir "$TREE/#dir"
  "$READYGATE" manifest create --root "$TREE" >"$MANIFEST"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 0 ]
  grep -q '^%23notes file ' "$MANIFEST"
  rm "$TREE/#notes"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"#notes"*"missing"* ]]
}

@test "files_scale: damage at the very first and the very last entry is found" {
  # "!" sorts before "." and "~" after every other name: the first and last entries.
  echo first >"$TREE/!first"
  mkdir -p "$TREE/~z/~z"
  echo last >"$TREE/~z/~z/~last"
  "$READYGATE" manifest create --root "$TREE" >"$MANIFEST"
  [ "$(sed -n 3p "$MANIFEST" | cut -d' ' -f1)" = '!first' ]
  [ "$(tail -1 "$MANIFEST" | cut -d' ' -f1)" = '~z/~z/~last' ]
  run "$READYGATE" check --config "$(files_config)"
  [ "$status" -eq 0 ]

  echo FIRST >"$TREE/!first"
  echo LAST >"$TREE/~z/~z/~last"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"0 missing, 0 extra, 2 modified"* ]]

  rm "$TREE/!first" "$TREE/~z/~z/~last"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"2 missing, 0 extra, 0 modified"* ]]

  echo new >"$TREE/~z/~z/~later"
  echo new >"$TREE/!before"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"2 missing, 2 extra, 0 modified"* ]]
}

@test "files_scale: a manifest cut in the middle is an error, even when the tree matches its first half" {
  for i in $(seq 1 200); do echo "$i" >"$TREE/public/f$i"; done
  "$READYGATE" manifest create --root "$TREE" >"$BATS_TEST_TMPDIR/full.manifest"
  lines=$(wc -l <"$BATS_TEST_TMPDIR/full.manifest")
  head -n $((lines / 2)) "$BATS_TEST_TMPDIR/full.manifest" >"$MANIFEST"
  run "$READYGATE" check --config "$(files_config 'allow_extra = ["**"]')"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"digest mismatch"* ]]
}

@test "files_scale: peak memory does not grow with the number of entries" {
  # 20,000 and 200,000 empty files in directories of 1,000: the old code held both the manifest
  # and the walk, about 470 bytes an entry (+85 MiB here); streaming holds what is in flight.
  peak_rss_kib() {
    python3 -c '
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if code == 0 else -code - 1000)
' "$@"
  }
  # Under AddressSanitizer freed memory waits in a quarantine (256 MiB) before reuse: turned off,
  # the growth is the program's again; its absolute size is not (shadow memory), see below.
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
  for count in 20000 200000; do
    tree="$BATS_TEST_TMPDIR/tree-$count"
    python3 - "$tree" "$count" <<'PY'
import os, sys
root, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    if i % 1000 == 0:
        d = os.path.join(root, f"d{i // 1000:04d}")
        os.makedirs(d)
    os.close(os.open(os.path.join(d, f"f{i:07d}"), os.O_WRONLY | os.O_CREAT, 0o644))
PY
    manifest="$BATS_TEST_TMPDIR/m-$count"
    create_rss=$(peak_rss_kib sh -c "exec '$READYGATE' manifest create --root '$tree' >'$manifest'")
    config=$(printf '[[check]]\nid = "f"\nkind = "files"\nroot = "%s"\nmanifest = "%s"\n' \
      "$tree" "$manifest" | write_config)
    check_rss=$(peak_rss_kib "$READYGATE" check --config "$config")
    echo "$count entries: manifest create $create_rss KiB, check $check_rss KiB"
    [ "$create_rss" -gt 0 ] && [ "$check_rss" -gt 0 ]
    eval "create_$count=$create_rss check_$count=$check_rss"
    rm -rf "$tree"
  done
  # Ten times the entries, at most 12 MiB more (the walk's look-ahead fills up at ~32k entries).
  [ $((create_200000 - create_20000)) -lt 12288 ]
  [ $((check_200000 - check_20000)) -lt 12288 ]
  # The budget itself holds for the release build (CI); a sanitizer build's RSS is mostly shadow.
  [ -n "${RG_SANITIZE:-}" ] || [ "$check_200000" -lt 65536 ]
}

@test "files_scale: an allowed directory the manifest lists things in, unreadable, is an error" {
  # As nobody: root reads through chmod 000.
  SHARED_DIR=$(mktemp -d /tmp/readygate-files-XXXXXX)
  mkdir -p "$TREE/var/keep"
  echo release >"$TREE/var/keep/config.ini"
  cp -a "$TREE" "$SHARED_DIR/tree"
  "$READYGATE" manifest create --root "$SHARED_DIR/tree" >"$SHARED_DIR/files.manifest"
  printf '[[check]]\nid = "f"\nkind = "files"\nroot = "%s"\nmanifest = "%s"\n%s\n' \
    "$SHARED_DIR/tree" "$SHARED_DIR/files.manifest" 'ignore = ["owner"]
allow_extra = ["var"]' >"$SHARED_DIR/readygate.toml"
  chmod -R a+rX "$SHARED_DIR"
  chmod 000 "$SHARED_DIR/tree/var"
  as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  [ "$(id -u)" -eq 0 ] || as_nobody=()
  run "${as_nobody[@]}" "$READYGATE" check --config "$SHARED_DIR/readygate.toml"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"var"*"Permission denied"* ]]
  [[ "$output" != *"var/keep/config.ini: expected present, found missing"* ]]
}
