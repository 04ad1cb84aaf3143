#!/usr/bin/env bats
# The command line: usage errors exit 64, configuration errors exit 78 with file:line:col.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_servers; }

@test "--version and --help print and exit 0" {
  run "$READYGATE" --version
  [ "$status" -eq 0 ]
  [[ "$output" =~ ^readygate\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
  run "$READYGATE" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"readygate check"* ]]
  [[ "$output" == *"78  bad configuration"* ]]
}

@test "each command has its own help" {
  run "$READYGATE" check --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--only ID,..."* ]]
  [[ "$output" == *"files "* ]]
  run "$READYGATE" config --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"config validate"* ]]
  run "$READYGATE" manifest create --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--exclude GLOB"* ]]
}

@test "bad usage exits 64 and says what was wrong" {
  run "$READYGATE"
  [ "$status" -eq 64 ]
  [[ "$output" == *"no command given"* ]]
  run "$READYGATE" frobnicate
  [ "$status" -eq 64 ]
  [[ "$output" == *'unknown command "frobnicate"'* ]]
  run "$READYGATE" check --bogus
  [ "$status" -eq 64 ]
  [[ "$output" == *"unknown option --bogus"* ]]
  run "$READYGATE" check --format xml
  [ "$status" -eq 64 ]
  [[ "$output" == *'unknown report format "xml"'* ]]
  run "$READYGATE" check --deadline 10
  [ "$status" -eq 64 ]
  [[ "$output" == *"missing unit"* ]]
  run "$READYGATE" check --config
  [ "$status" -eq 64 ]
  run "$READYGATE" manifest create
  [ "$status" -eq 64 ]
  [[ "$output" == *"missing --root"* ]]
  run "$READYGATE" config check
  [ "$status" -eq 64 ]
}

@test "a missing config file exits 78 naming it" {
  run "$READYGATE" check --config "$BATS_TEST_TMPDIR/nope.toml"
  [ "$status" -eq 78 ]
  [[ "$output" == *"$BATS_TEST_TMPDIR/nope.toml: cannot read the configuration: cannot open: No such file or directory"* ]]
}

@test "READYGATE_CONFIG names the config when --config is absent" {
  READYGATE_CONFIG="$BATS_TEST_TMPDIR/from-env.toml" run "$READYGATE" config validate
  [ "$status" -eq 78 ]
  [[ "$output" == *"from-env.toml: cannot read"* ]]
}

@test "malformed configs exit 78 with file:line:col and what was expected" {
  config=$(write_config <<'TOML'
[gate]
deadline = "10m"

[[check]]
id = "api"
kind = "tcp"
address = "127.0.0.1:1"
sttaus = 200
TOML
)
  run "$READYGATE" check --config "$config"
  [ "$status" -eq 78 ]
  [[ "$output" == *"readygate.toml:8:10: check \"api\" (tcp): unknown key \"sttaus\""* ]]

  config=$(write_config <<'TOML'
[gate]
deadline = 600
TOML
)
  run "$READYGATE" config validate --config "$config"
  [ "$status" -eq 78 ]
  [[ "$output" == *"readygate.toml:2:12: [gate]: key \"deadline\": expected a duration string"* ]]

  config=$(write_config <<'TOML'
[[check]]
id = "a"
kind = "tcp"
address = "127.0.0.1:1"

[[check]]
id = "a"
kind = "tcp"
address = "127.0.0.1:2"
TOML
)
  run "$READYGATE" config validate --config "$config"
  [ "$status" -eq 78 ]
  [[ "$output" == *"readygate.toml:7:6: check \"a\": duplicate id"* ]]

  config=$(write_config <<'TOML'
[[check]]
id = "web"
kind = "webservr"
TOML
)
  run "$READYGATE" check --config "$config"
  [ "$status" -eq 78 ]
  [[ "$output" == *"readygate.toml:1:1: check \"web\": unknown kind \"webservr\""* ]]

  config=$(write_config <<'TOML'
[[check]]
id = "a"
kind = "tcp"
timeout = "5 seconds"
address = "127.0.0.1:1"
TOML
)
  run "$READYGATE" check --config "$config"
  [ "$status" -eq 78 ]
  [[ "$output" == *"readygate.toml:4:11:"*"invalid duration"* ]]

  config=$(write_config <<'TOML'
[[check]
id = "a"
TOML
)
  run "$READYGATE" check --config "$config"
  [ "$status" -eq 78 ]
  [[ "$output" == *"readygate.toml:1:"* ]]
}

@test "config validate accepts a good config and touches nothing" {
  config=$(write_config <<'TOML'
[[check]]
id = "port"
kind = "tcp"
address = "127.0.0.1:1"
TOML
)
  run "$READYGATE" config validate --config "$config"
  [ "$status" -eq 0 ]
  [[ "$output" == *"valid: 1 check, deadline 5m"* ]]
}

@test "--only runs the named checks and reports the rest as skipped" {
  config=$(write_config <<'TOML'
[[check]]
id = "ok"
kind = "command"
argv = ["true"]

[[check]]
id = "broken"
kind = "command"
argv = ["false"]
TOML
)
  run "$READYGATE" check --config "$config" --only ok --format tap
  [ "$status" -eq 0 ]
  [[ "$output" == *"ok 1"* ]]
  [[ "$output" == *"SKIP"* ]]
  run "$READYGATE" check --config "$config"
  [ "$status" -eq 1 ]
  run "$READYGATE" check --config "$config" --only nope
  [ "$status" -eq 64 ]
  [[ "$output" == *'no check with id "nope"'* ]]
  # A repeated --only adds to the first: "broken" must not be skipped into a pass.
  run "$READYGATE" check --config "$config" --only broken --only ok --format tap
  [ "$status" -eq 1 ]
  [[ "$output" == *"not ok 2 - broken"* ]]
  [[ "$output" != *"SKIP"* ]]
}

@test "error outranks fail in the exit code" {
  config=$(write_config <<'TOML'
[[check]]
id = "fails"
kind = "command"
argv = ["false"]

[[check]]
id = "cannot-run"
kind = "command"
argv = ["/nonexistent/binary"]
TOML
)
  run "$READYGATE" check --config "$config"
  [ "$status" -eq 2 ]
}

@test "the run deadline ends a hanging run on time, and SIGTERM ends it promptly" {
  config=$(write_config <<'TOML'
[gate]
deadline = "1s"

[[check]]
id = "hangs"
kind = "command"
argv = ["sleep", "30"]
timeout = "1m"
TOML
)
  start=$(date +%s%N)
  run "$READYGATE" check --config "$config"
  elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$status" -eq 2 ]
  [ "$elapsed_ms" -lt 4000 ]

  config=$(write_config <<'TOML'
[[check]]
id = "hangs"
kind = "command"
argv = ["sleep", "30"]
timeout = "1m"
TOML
)
  "$READYGATE" check --config "$config" >"$BATS_TEST_TMPDIR/out" 2>&1 &
  pid=$!
  sleep 0.5
  start=$(date +%s%N)
  kill -TERM "$pid"
  status=0
  wait "$pid" || status=$?
  elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$status" -eq 2 ]
  [ "$elapsed_ms" -lt 3000 ]
  grep -q "interrupted" "$BATS_TEST_TMPDIR/out"
}

@test "SIGTERM leaves no command running after readygate exits" {
  # A unique argument marks the commands of this test, so only they are looked for. Several
  # commands and runs, because a command left behind is a race readygate used to lose at times.
  marker="rg-sigterm-$$-$RANDOM"
  config="$BATS_TEST_TMPDIR/sigterm.toml"
  printf '[gate]\nconcurrency = 8\n' >"$config"
  for i in 1 2 3 4 5 6 7 8; do
    printf '[[check]]\nid = "c%s"\nkind = "command"\nshell = true\ncommand = "sleep 30; : %s"\n' \
      "$i" "$marker" >>"$config"
  done
  for run in 1 2 3 4 5; do
    "$READYGATE" check --config "$config" >"$BATS_TEST_TMPDIR/out" 2>&1 &
    pid=$!
    sleep 0.5
    kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    [ "$status" -eq 2 ]
    left=$(pgrep -f "$marker" || true)
    for leader in $left; do
      kill -KILL -- "-$leader" || true # each command leads its own process group
    done
    [ -z "$left" ]
  done
}

@test "the bundled demo passes, and fails with exit 1 once a file is removed" {
  require_program python3
  require_program sqlite3
  demo="$BATS_TEST_TMPDIR/demo"
  cp -a "$RG_SOURCE_DIR/examples/demo" "$demo"
  "$demo/make-db" "$BATS_TEST_TMPDIR/demo.db"
  export READYGATE_DEMO_DB="$BATS_TEST_TMPDIR/demo.db"
  # The demo's fixed port may be taken by a demo started by hand: then use that one.
  if ! (exec 3<>/dev/tcp/127.0.0.1/18471) 2>/dev/null; then
    start_server "$demo/app/bin/start"
    wait_for_port 18471
  fi
  run "$READYGATE" check --config "$demo/readygate.toml"
  echo "$output"
  [ "$status" -eq 0 ]
  rm "$demo/app/public/css/site.css"
  run "$READYGATE" check --config "$demo/readygate.toml"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"public/css/site.css"* ]]
  sqlite3 "$READYGATE_DEMO_DB" "DELETE FROM schema_migrations WHERE version = '20240612143000'"
  run "$READYGATE" check --config "$demo/readygate.toml" --only schema
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"1 pending (20240612143000)"* ]]
}

@test "retrying checks are logged on stderr; the report stays on stdout" {
  marker="$BATS_TEST_TMPDIR/ready"
  config=$(write_config <<TOML
[gate]
deadline = "20s"
retry_interval = "300ms"

[[check]]
id = "starts-late"
kind = "command"
argv = ["sh", "-c", "n=\$(cat '$marker' 2>/dev/null || echo 0); echo \$((n + 1)) > '$marker'; [ \$n -ge 2 ]"]
retry = true
TOML
)
  run --separate-stderr "$READYGATE" check --config "$config" --format json
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"readygate: starts-late (command): attempt 1: fail: "*"; retrying in 300ms"* ]]
  [[ "$stderr" == *"attempt 2: fail"* ]]
  [[ "$stderr" != *"attempt 3"* ]]
  python3 - "$output" <<'PY'
import json, sys
check = json.loads(sys.argv[1])["checks"][0]
assert check["status"] == "pass" and check["attempts"] == 3, check
PY
}

@test "a config that is a device, a fifo or too large exits 78 at once, never hangs" {
  mkfifo "$BATS_TEST_TMPDIR/fifo.toml"
  ln -s /dev/zero "$BATS_TEST_TMPDIR/zero.toml"
  truncate -s 17M "$BATS_TEST_TMPDIR/huge.toml"
  for config in /dev/zero "$BATS_TEST_TMPDIR/zero.toml" "$BATS_TEST_TMPDIR/fifo.toml" \
    "$BATS_TEST_TMPDIR/huge.toml"; do
    SECONDS=0
    run timeout 10 "$READYGATE" check --config "$config"
    echo "$config: $output"
    [ "$status" -eq 78 ]
    [ "$SECONDS" -lt 3 ]
  done
  [[ "$output" == *"larger than the limit of 16 MiB"* ]]
}

@test "a report that cannot be written exits 2, never 0" {
  config=$(write_config <<'TOML'
[[check]]
id = "ok"
kind = "command"
argv = ["true"]
TOML
)
  run "$READYGATE" check --config "$config"
  [ "$status" -eq 0 ]
  # A full disk.
  run bash -c '"$0" check --config "$1" >/dev/full' "$READYGATE" "$config"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"cannot write the report"* ]]
  # A standard output that is not open for writing.
  run bash -c '"$0" check --config "$1" 1</dev/null' "$READYGATE" "$config"
  echo "$output"
  [ "$status" -eq 2 ]
}

@test "with fds 0-2 closed at start the verdict still decides the exit code" {
  pass=$(write_config <<'TOML'
[[check]]
id = "ok"
kind = "command"
argv = ["true"]
TOML
)
  # Closed fds must not become the signal pipe: the report would be read back as signals.
  run bash -c '"$0" check --config "$1" <&- >&- 2>&-' "$READYGATE" "$pass"
  [ "$status" -eq 0 ]
  fail="$BATS_TEST_TMPDIR/fail.toml"
  sed 's/"true"/"false"/' "$pass" >"$fail"
  run bash -c '"$0" check --config "$1" <&- >&- 2>&-' "$READYGATE" "$fail"
  [ "$status" -eq 1 ]
  run bash -c '"$0" check --config "$1" <&- >&-' "$READYGATE" "$fail"
  [ "$status" -eq 1 ]
}

@test "--tag and --skip-tag select checks by their tags; dependencies left out do not hold back" {
  config=$(write_config <<'TOML'
[[check]]
id = "db"
kind = "command"
argv = ["false"]
tags = ["db"]

[[check]]
id = "web"
kind = "command"
argv = ["true"]
tags = ["web", "fast"]
depends_on = ["db"]

[[check]]
id = "slow"
kind = "command"
argv = ["false"]
tags = ["web", "slow"]
TOML
)
  run "$READYGATE" check --config "$config" --tag web --skip-tag slow --format json
  echo "$output"
  [ "$status" -eq 0 ]
  python3 - "$output" <<'PY'
import json, sys
checks = {c["id"]: c for c in json.loads(sys.argv[1])["checks"]}
assert checks["db"]["status"] == "skip" and "--tag" in checks["db"]["message"], checks["db"]
assert checks["web"]["status"] == "pass", checks["web"]
assert checks["slow"]["status"] == "skip" and "--skip-tag" in checks["slow"]["message"], checks["slow"]
PY
  run "$READYGATE" check --config "$config" --tag web
  [ "$status" -eq 1 ]
  run "$READYGATE" check --config "$config"
  [ "$status" -eq 1 ]
  run "$READYGATE" check --config "$config" --tag nosuch
  [ "$status" -eq 64 ]
  [[ "$output" == *'no check has the tag "nosuch"'* ]]
}

@test "readygate help KIND lists the kind's keys; an unknown topic is bad usage" {
  run "$READYGATE" help http
  [ "$status" -eq 0 ]
  [[ "$output" == *"url"*"string (required)"* ]]
  [[ "$output" == *"proxy"* ]]
  [[ "$output" == *"depends_on"* ]]
  run "$READYGATE" help check
  [ "$status" -eq 0 ]
  [[ "$output" == *"--skip-tag TAG"* ]]
  run "$READYGATE" help nosuch
  [ "$status" -eq 64 ]
}

@test "config validate lists every problem, unknown keys first with a suggestion, the same in every kind" {
  config=$(write_config <<'TOML'
[[check]]
id = "cmd"
kind = "command"
agrv = ["true"]

[[check]]
id = "api"
kind = "http"
ulr = "http://127.0.0.1:1/"

[[check]]
id = "port"
kind = "tcp"
address = "127.0.0.1:99999"
TOML
)
  run "$READYGATE" config validate --config "$config"
  echo "$output"
  [ "$status" -eq 78 ]
  [[ "${lines[0]}" == *':4:8: check "cmd" (command): unknown key "agrv" (did you mean "argv"?)' ]]
  [[ "${lines[1]}" == *':9:7: check "api" (http): unknown key "ulr" (did you mean "url"?)' ]]
  [[ "${lines[2]}" == *'check "api" (http): missing key "url" (expected a string)' ]]
  [[ "${lines[3]}" == *':14:11: check "port" (tcp): key "address"'* ]]
  [ "${#lines[@]}" -eq 4 ]
}
