#!/usr/bin/env bats
# The command kind through the real binary: exit codes, output expectations, a missing program,
# and a hanging command killed with its process group at the check's timeout.

load helpers

teardown() {
  stop_servers
  if [ -n "${MARKER:-}" ]; then
    pkill -KILL -f "$MARKER" 2>/dev/null || true
  fi
}

@test "command: a command with the expected exit code and output passes" {
  config=$(write_config <<'EOF'
[[check]]
id = "greets"
kind = "command"
argv = ["sh", "-c", "echo 'service ready, version 1.4.2'"]
stdout_contains = "ready"
stdout_matches = 'version 1\.4\.[0-9]+'
stderr_matches = '^$'
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"PASS"*"greets"* ]]
}

@test "command: stderr_matches = '^\$' fails on any stderr, even one ending in a newline" {
  config=$(write_config <<'EOF'
[[check]]
id = "quiet"
kind = "command"
argv = ["sh", "-c", "echo 'FATAL: cannot open database' >&2"]
stderr_matches = '^$'
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"stderr: expected matches /^\$/, found FATAL: cannot open database\\n"* ]]
}

@test "command: shell, working_dir relative to the config and env" {
  mkdir -p "$BATS_TEST_TMPDIR/app"
  echo "release 7" >"$BATS_TEST_TMPDIR/app/VERSION"
  config=$(write_config <<'EOF'
[[check]]
id = "release-file"
kind = "command"
shell = true
command = 'cat VERSION; echo "mode=$RG_MODE"'
working_dir = "app"
env = { RG_MODE = "verify" }
stdout_contains = ["release 7", "mode=verify"]
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "command: another exit code fails, showing expected and found" {
  config=$(write_config <<'EOF'
[[check]]
id = "migrations"
kind = "command"
argv = ["sh", "-c", "echo pending >&2; exit 3"]
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"FAIL"*"migrations"* ]]
  [[ "$output" == *"exit code: expected 0, found 3"* ]]
}

@test "command: exit code 0 fails when another code is expected" {
  # grep exits 1 when it finds nothing: the check expects 1, so an error in the log (0) fails.
  echo "ERROR: migration 42 failed" >"$BATS_TEST_TMPDIR/app.log"
  config=$(write_config <<EOF
[[check]]
id = "no-errors-logged"
kind = "command"
argv = ["grep", "-q", "ERROR", "$BATS_TEST_TMPDIR/app.log"]
exit_code = 1
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"exit code: expected 1, found 0"* ]]
}

@test "command: stdout without the expected string fails, in json too" {
  config=$(write_config <<'EOF'
[[check]]
id = "health"
kind = "command"
argv = ["echo", "status: degraded"]
stdout_contains = "status: ok"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"stdout: expected contains \"status: ok\", found status: degraded\\n"* ]]

  run "$READYGATE" check --config "$config" --format json
  echo "$output"
  [ "$status" -eq 1 ]
  assert_json_finding fail 'stdout' 'contains "status: ok"' 'status: degraded\n'
}

@test "command: a command killed by a signal fails, naming it" {
  config=$(write_config <<'EOF'
[[check]]
id = "crashes"
kind = "command"
shell = true
command = "kill -SEGV $$"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"killed by SIGSEGV"* ]]
}

@test "command: a missing program is an error (exit 2)" {
  config=$(write_config <<'EOF'
[[check]]
id = "tool"
kind = "command"
argv = ["readygate-no-such-tool", "--status"]
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"cannot run readygate-no-such-tool: No such file or directory"* ]]
}

@test "command: a hanging command is killed with its children at the timeout (exit 2)" {
  # A unique sleep length marks this test's processes for pgrep.
  MARKER="sleep 300.$$$RANDOM"
  config=$(write_config <<EOF
[[check]]
id = "hangs"
kind = "command"
shell = true
command = "$MARKER & $MARKER"
timeout = "1s"
EOF
)
  start=$(date +%s%N)
  run "$READYGATE" check --config "$config"
  elapsed_ms=$((($(date +%s%N) - start) / 1000000))
  echo "$output"
  echo "took ${elapsed_ms} ms"
  [ "$status" -eq 2 ]
  [[ "$output" == *"did not exit within"* ]]
  [ "$elapsed_ms" -lt 4000 ]
  # SIGKILL is delivered asynchronously; give the kernel a moment.
  for _ in $(seq 20); do
    pgrep -f "$MARKER" >/dev/null || break
    sleep 0.05
  done
  run pgrep -f "$MARKER"
  echo "still running: $output"
  [ "$status" -eq 1 ]
}

@test "command: an invalid pattern is a configuration error (exit 78) naming the key" {
  config=$(write_config <<'EOF'
[[check]]
id = "bad"
kind = "command"
argv = ["true"]
stdout_matches = "(unclosed"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 78 ]
  [[ "$output" == *"key \"stdout_matches\": invalid regular expression \"(unclosed\": unmatched parenthesis"* ]]
}

@test "command: command without shell = true is a configuration error (exit 78)" {
  config=$(write_config <<'EOF'
[[check]]
id = "bad"
kind = "command"
command = "true"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 78 ]
  [[ "$output" == *"key \"command\": needs shell = true"* ]]
}
