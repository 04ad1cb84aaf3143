#!/usr/bin/env bats
# `readygate manifest create`: the manifest format as written by the real binary.

load helpers

teardown() { stop_servers; }

@test "manifest: header, digest and sorted entries" {
  tree="$BATS_TEST_TMPDIR/tree"
  mkdir -p "$tree/b" "$tree/a"
  printf 'abc' >"$tree/b/file"
  printf 'x' >"$tree/a-z"
  ln -s b/file "$tree/link"
  run "$READYGATE" manifest create --root "$tree"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "#readygate-manifest 2" ]
  [[ "${lines[1]}" =~ ^#digest\ sha256:[0-9a-f]{64}$ ]]
  # Entries sorted bytewise by path: a prefix first, '-' before '.' and '/'.
  printf '%s\n' "${lines[@]:2}" | cut -d' ' -f1 >"$BATS_TEST_TMPDIR/paths"
  LC_ALL=C sort -c "$BATS_TEST_TMPDIR/paths"
  [ "$(cat "$BATS_TEST_TMPDIR/paths" | tr '\n' ' ')" = ". a a-z b b/file link " ]
  [[ "$output" == *"b/file file 0644 $(id -u) $(id -g) 3 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad -"* ]]
  [[ "$output" == *"link symlink 0777 $(id -u) $(id -g) 6 - b/file"* ]]
  [[ "$output" == *"b dir 0755 $(id -u) $(id -g) - - -"* ]]
}

@test "manifest: the digest is the sha256 of the #exclude and entry lines" {
  tree="$BATS_TEST_TMPDIR/tree"
  mkdir -p "$tree/var/cache"
  echo x >"$tree/x"
  "$READYGATE" manifest create --root "$tree" --exclude 'var/cache' >"$BATS_TEST_TMPDIR/m"
  recorded=$(sed -n 's/^#digest sha256://p' "$BATS_TEST_TMPDIR/m")
  computed=$(sed '1d;/^#digest /d' "$BATS_TEST_TMPDIR/m" | sha256sum | cut -d' ' -f1)
  [ "$recorded" = "$computed" ]
}

@test "manifest: --exclude leaves out subtrees and is recorded" {
  tree="$BATS_TEST_TMPDIR/tree"
  mkdir -p "$tree/var/cache/deep" "$tree/logs"
  echo x >"$tree/var/cache/deep/junk"
  echo x >"$tree/logs/app.log"
  echo x >"$tree/keep.txt"
  run "$READYGATE" manifest create --root "$tree" --exclude 'var/cache' --exclude '*.log'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${lines[1]}" = "#exclude var/cache" ]
  [ "${lines[2]}" = "#exclude *.log" ]
  [[ "$output" != *"junk"* ]]
  [[ "$output" != *"app.log"* ]]
  [[ "$output" == *"var dir"* ]]
  [[ "$output" == *"logs dir"* ]]
  [[ "$output" == *"keep.txt file"* ]]
}

@test "manifest: paths with spaces, newlines and percent signs are escaped and round-trip" {
  tree="$BATS_TEST_TMPDIR/tree"
  mkdir -p "$tree/my dir"
  echo a >"$tree/my dir/a b.txt"
  echo b >"$tree/line"$'\n'"break"
  echo c >"$tree/100%"
  echo d >"$tree/-"
  echo e >"$tree/caf"$'\xc3\xa9'
  run "$READYGATE" manifest create --root "$tree"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"my%20dir/a%20b.txt file"* ]]
  [[ "$output" == *"line%0Abreak file"* ]]
  [[ "$output" == *"100%25 file"* ]]
  [[ "$output" == *"%2D file"* ]]
  [[ "$output" == *"caf"$'\xc3\xa9'" file"* ]]
  # Every entry line splits into exactly 8 fields.
  printf '%s\n' "$output" | grep -v '^#' | awk 'NF != 8 { bad = 1 } END { exit bad }'

  # And the check reads them back: the unchanged tree passes.
  "$READYGATE" manifest create --root "$tree" >"$BATS_TEST_TMPDIR/m"
  config=$(printf '[[check]]\nid = "f"\nkind = "files"\nroot = "%s"\nmanifest = "%s"\n' \
    "$tree" "$BATS_TEST_TMPDIR/m" | write_config)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
  rm "$tree/line"$'\n'"break"
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"line%0Abreak"* ]]
}

@test "manifest: a symlinked root is followed, symlinks inside are not" {
  mkdir -p "$BATS_TEST_TMPDIR/releases/42/public" "$BATS_TEST_TMPDIR/outside"
  echo secret >"$BATS_TEST_TMPDIR/outside/secret"
  echo hi >"$BATS_TEST_TMPDIR/releases/42/public/index.html"
  ln -s "$BATS_TEST_TMPDIR/outside" "$BATS_TEST_TMPDIR/releases/42/escape"
  ln -s releases/42 "$BATS_TEST_TMPDIR/current"
  run "$READYGATE" manifest create --root "$BATS_TEST_TMPDIR/current"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "${lines[2]}" == ". dir "* ]]
  [[ "$output" == *"public/index.html file"* ]]
  [[ "$output" == *"escape symlink 0777 "*" - $BATS_TEST_TMPDIR/outside"* ]]
  [[ "$output" != *"secret"* ]]
}

@test "manifest: bad usage exits 64, a missing root exits 2" {
  run "$READYGATE" manifest create
  echo "$output"
  [ "$status" -eq 64 ]
  [[ "$output" == *"--root"* ]]

  run "$READYGATE" manifest create --root
  [ "$status" -eq 64 ]

  run "$READYGATE" manifest create --root "$BATS_TEST_TMPDIR/nope"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"nope: cannot open the root directory"* ]]
}
