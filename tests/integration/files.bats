#!/usr/bin/env bats
# The files kind through the real binary: a release tree and its manifest from
# `readygate manifest create`, then one kind of damage per test.

load helpers

setup() {
  TREE="$BATS_TEST_TMPDIR/tree"
  # var/ ships empty; what the app writes under it at run time is excluded by 'var/**'.
  mkdir -p "$TREE/app/lib" "$TREE/public" "$TREE/var"
  printf '<?php echo "hello";\n' >"$TREE/public/index.php"
  printf 'lib code\n' >"$TREE/app/lib/util.php"
  printf 'debug=false\n' >"$TREE/app/app.ini"
  ln -s public "$TREE/web"
  MANIFEST="$BATS_TEST_TMPDIR/files.manifest"
  "$READYGATE" manifest create --root "$TREE" --exclude 'var/**' >"$MANIFEST"
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

@test "files: the release tree passes (exit 0)" {
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"9 entries match the manifest (digest sha256:"* ]]
}

@test "files: runtime files under an excluded path are not extra" {
  mkdir -p "$TREE/var/log"
  echo started >"$TREE/var/log/app.log"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "files: a missing file fails (exit 1) and is named" {
  rm "$TREE/app/lib/util.php"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"1 missing, 0 extra, 0 modified of 9 entries"* ]]
  [[ "$output" == *"app/lib/util.php"*"missing"* ]]
}

@test "files: an extra file fails and is named; allow_extra lets it be" {
  echo '<?php system($_GET["c"]);' >"$TREE/public/shell.php"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"public/shell.php"* ]]
  [[ "$output" == *"0 missing, 1 extra, 0 modified"* ]]

  run "$READYGATE" check --config "$(files_config 'allow_extra = ["public/*.php"]')"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "files: modified content of the same size fails with both digests" {
  printf 'lib CODE\n' >"$TREE/app/lib/util.php"
  expected=$(printf 'lib code\n' | sha256sum | cut -d' ' -f1)
  found=$(sha256sum "$TREE/app/lib/util.php" | cut -d' ' -f1)
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"app/lib/util.php"* ]]
  [[ "$output" == *"$expected"* ]]
  [[ "$output" == *"$found"* ]]
}

@test "files: a file cut short fails (exit 1) with both sizes" {
  truncate -s 4 "$TREE/app/lib/util.php"
  run "$READYGATE" check --config "$(files_config)" --format json
  echo "$output"
  [ "$status" -eq 1 ]
  assert_json_finding fail 'app/lib/util.php' 'size 9' 'size 4'
}

@test "files: a changed mode fails; ignore = [\"mode\"] accepts it" {
  chmod 0600 "$TREE/app/app.ini"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"app/app.ini"*"mode 0644"*"mode 0600"* ]]

  run "$READYGATE" check --config "$(files_config 'ignore = ["mode"]')"
  [ "$status" -eq 0 ]
}

@test "files: a setuid bit appearing on a binary fails (exit 1), both modes in octal" {
  cp /bin/true "$TREE/app/tool"
  chmod 0755 "$TREE/app/tool"
  "$READYGATE" manifest create --root "$TREE" --exclude 'var/**' >"$MANIFEST"
  chmod u+s "$TREE/app/tool"
  run "$READYGATE" check --config "$(files_config)" --format json
  echo "$output"
  [ "$status" -eq 1 ]
  assert_json_finding fail 'app/tool' 'mode 0755' 'mode 4755'
}

@test "files: a changed group alone fails (exit 1)" {
  # Root may give a file any group; another user only one of its own.
  group=1234
  if [ "$(id -u)" -ne 0 ]; then
    group=$(id -G | tr ' ' '\n' | grep -vx "$(id -g)" | head -n 1)
    if [ -z "$group" ]; then
      echo "not root and in no second group: cannot change a file's group" >&2
      return 1
    fi
  fi
  chgrp "$group" "$TREE/app/app.ini"
  run "$READYGATE" check --config "$(files_config)" --format json
  echo "$output"
  [ "$status" -eq 1 ]
  assert_json_finding fail 'app/app.ini' "owner $(id -u):$(id -g)" "owner $(id -u):$group"
}

@test "files: a fifo where a file was fails (exit 1), named by type" {
  rm "$TREE/app/app.ini"
  mkfifo -m 0644 "$TREE/app/app.ini"
  run "$READYGATE" check --config "$(files_config)" --format json
  echo "$output"
  [ "$status" -eq 1 ]
  assert_json_finding fail 'app/app.ini' 'file' 'fifo'
}

@test "files: a swapped symlink target fails, reported by target and never followed" {
  rm "$TREE/web"
  ln -s /etc "$TREE/web"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"web"*"symlink to public"*"symlink to /etc"* ]]
  # Following it would have listed /etc's files as extras.
  [[ "$output" == *"0 missing, 0 extra, 1 modified of 9 entries"* ]]
}

@test "files: a symlink retargeted to a path of the same length fails (exit 1)" {
  mkdir "$TREE/static"
  rm "$TREE/web"
  ln -s static "$TREE/web" # as long as "public"
  run "$READYGATE" check --config "$(files_config 'allow_extra = ["static"]')" --format json
  echo "$output"
  [ "$status" -eq 1 ]
  assert_json_finding fail 'web' 'symlink to public' 'symlink to static'
}

@test "files: --format json names the path" {
  rm "$TREE/app/app.ini"
  run "$READYGATE" check --config "$(files_config)" --format json
  echo "$output"
  [ "$status" -eq 1 ]
  assert_json_finding fail 'app/app.ini' 'present' 'missing'
}

@test "files: an edited manifest is an error (exit 2)" {
  sed -i 's/ 0644 / 0666 /' "$MANIFEST"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"digest mismatch"* ]]
}

@test "files: a manifest without entries is an error (exit 2), even with allow_extra = [\"**\"]" {
  # A well-formed header and the digest of nothing: it would check nothing at all.
  printf '#readygate-manifest 1\n#digest sha256:%s\n' "$(printf '' | sha256sum | cut -d' ' -f1)" \
    >"$MANIFEST"
  run "$READYGATE" check --config "$(files_config 'allow_extra = ["**"]')"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *'no entry for the root "."'* ]]
}

@test "files: a missing manifest is an error (exit 2) naming it" {
  rm "$MANIFEST"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"$MANIFEST"* ]]
}

@test "files: manifest_sha256 pins the manifest; another one fails" {
  digest=$(sed -n 's/^#digest //p' "$MANIFEST")
  run "$READYGATE" check --config "$(files_config "manifest_sha256 = \"$digest\"")"
  echo "$output"
  [ "$status" -eq 0 ]

  other=sha256:$(printf x | sha256sum | cut -d' ' -f1)
  run "$READYGATE" check --config "$(files_config "manifest_sha256 = \"$other\"")"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"$other"* ]]
}

@test "files: an unknown key is a config error (exit 78)" {
  run "$READYGATE" check --config "$(files_config 'ignores = ["owner"]')"
  echo "$output"
  [ "$status" -eq 78 ]
  [[ "$output" == *"ignores"* ]]
}

# Root reads through chmod 000, so as root the check runs as nobody: copy the tree, a manifest of
# it and the config (with the keys in $1) to a directory every user can read; the test then takes
# away what it wants unreadable and runs readygate through `unprivileged`.
share_tree() {
  SHARED_DIR=$(mktemp -d /tmp/readygate-files-XXXXXX)
  chmod 0755 "$SHARED_DIR"
  cp -a "$TREE" "$SHARED_DIR/tree"
  TREE="$SHARED_DIR/tree"
  MANIFEST="$SHARED_DIR/files.manifest"
  "$READYGATE" manifest create --root "$TREE" >"$MANIFEST"
  chmod -R a+rX "$SHARED_DIR"
  files_config "${1:-}" >/dev/null
  cp "$BATS_TEST_TMPDIR/readygate.toml" "$SHARED_DIR/readygate.toml"
  chmod 0644 "$SHARED_DIR/readygate.toml"
  # The unprivileged user can read the rest (and setpriv works here).
  unprivileged cat "$SHARED_DIR/readygate.toml" "$MANIFEST" "$TREE/app/lib/util.php" >/dev/null
}

# Run `command...` as nobody when root, else as the caller.
unprivileged() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
  else
    "$@"
  fi
}

@test "files: an unreadable file is an error (exit 2) naming it" {
  share_tree 'ignore = ["owner"]'
  chmod 000 "$TREE/app/app.ini"
  # The case is set up only if the check's user really cannot read it (`|| false`: set -e ignores
  # a command negated with `!`).
  ! unprivileged cat "$TREE/app/app.ini" >/dev/null 2>&1 || false
  run unprivileged "$READYGATE" check --config "$SHARED_DIR/readygate.toml"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"app/app.ini"*"Permission denied"* ]]
  [[ "$output" == *"1 path could not be read"* ]]
}

@test "files: an unreadable directory is an error (exit 2) naming it, and what is under it is not missing" {
  share_tree 'ignore = ["owner"]'
  chmod 000 "$TREE/app/lib"
  ! unprivileged ls "$TREE/app/lib" >/dev/null 2>&1 || false
  run unprivileged "$READYGATE" check --config "$SHARED_DIR/readygate.toml" --format json
  echo "$output"
  [ "$status" -eq 2 ]
  assert_json_finding error 'app/lib' 'readable' 'open: Permission denied'
  # Its own mode changed to 0000 (the one modified entry); app/lib/util.php is not called missing.
  assert_json_finding error 'app/lib' 'mode 0755' 'mode 0000'
  [[ "$output" == *"1 path could not be read; 0 missing, 0 extra, 1 modified of 9 entries"* ]]
}

@test "files: a symlinked root is followed" {
  mkdir -p "$BATS_TEST_TMPDIR/releases"
  mv "$TREE" "$BATS_TEST_TMPDIR/releases/42"
  ln -s releases/42 "$TREE"
  run "$READYGATE" check --config "$(files_config)"
  echo "$output"
  [ "$status" -eq 0 ]
}
