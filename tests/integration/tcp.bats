#!/usr/bin/env bats
# The tcp kind through the real binary: a listening port passes, anything else is exit 2.

load helpers

teardown() { stop_servers; }

tcp_config() {
  printf '[[check]]\nid = "port"\nkind = "tcp"\naddress = "%s"\ntimeout = "2s"\n' "$1" | write_config
}

@test "tcp: a listening port passes (exit 0)" {
  start_http_server "$BATS_TEST_TMPDIR"
  run "$READYGATE" check --config "$(tcp_config "127.0.0.1:$HTTP_PORT")"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"127.0.0.1:$HTTP_PORT: connected in"* ]]
}

@test "tcp: localhost resolves and connects" {
  start_http_server "$BATS_TEST_TMPDIR"
  run "$READYGATE" check --config "$(tcp_config "localhost:$HTTP_PORT")"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "tcp: a port nobody listens on is an error (exit 2), connection refused" {
  port=$(free_port)
  run "$READYGATE" check --config "$(tcp_config "127.0.0.1:$port")"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"127.0.0.1:$port: connection refused"* ]]
}

@test "tcp: --format json reports the error" {
  port=$(free_port)
  run "$READYGATE" check --config "$(tcp_config "127.0.0.1:$port")" --format json
  echo "$output"
  [ "$status" -eq 2 ]
  python3 - "$output" <<'PY'
import json, sys
check = json.loads(sys.argv[1])["checks"][0]
assert check["status"] == "error", check
assert check["message"].endswith("connection refused"), check
PY
}

@test "tcp: a bad address is a configuration error (exit 78)" {
  run "$READYGATE" check --config "$(tcp_config "::1:80")"
  echo "$output"
  [ "$status" -eq 78 ]
  [[ "$output" == *'key "address"'*'[::1]:80'* ]]
  run "$READYGATE" check --config "$(tcp_config "127.0.0.1:0")"
  [ "$status" -eq 78 ]
  [[ "$output" == *"expected a port from 1 to 65535"* ]]
}
