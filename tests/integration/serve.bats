#!/usr/bin/env bats
# readygate serve against the real binary, driven with curl on loopback: the health contract
# (200 only for a fresh pass), Azure's body, Prometheus metrics, refused requests, SIGHUP reloads,
# SIGTERM, and that a check that hangs never delays an answer.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_servers; }

# A copy of the demo application tree and a config verifying it (files + a command), no server
# needed; `extra` (optional) is appended to the config. INTERVAL and MAX_AGE set [serve].
make_host() {
  HOST="$BATS_TEST_TMPDIR/host"
  rm -rf "$HOST"
  mkdir -p "$HOST"
  cp -a "$RG_SOURCE_DIR/examples/demo/app" "$RG_SOURCE_DIR/examples/demo/release" "$HOST/"
  CONFIG="$HOST/readygate.toml"
  cat >"$CONFIG" <<EOF
[serve]
interval = "${INTERVAL:-1s}"
max_age = "${MAX_AGE:-10s}"

[[check]]
id = "app-files"
kind = "files"
root = "app"
manifest = "release/files.manifest"
ignore = ["owner"]

[[check]]
id = "release-config"
kind = "command"
argv = ["grep", "-qx", "release = 1.4.2", "app/config/app.ini"]
${1:-}
EOF
}

# Start readygate serve with `args...` on a free port; sets PORT, URL, SERVE_PID and SERVE_LOG.
start_serve() {
  PORT=$(free_port)
  URL="http://127.0.0.1:$PORT"
  start_server "$READYGATE" serve --listen "127.0.0.1:$PORT" "$@"
  SERVE_PID=$RG_SERVER_PID
  SERVE_LOG=$RG_SERVER_LOG
  wait_for_port "$PORT" || { cat "$SERVE_LOG" >&2; return 1; }
}

# Print the HTTP status of GET `path` (curl never waits more than `max` seconds, default 2).
status_of() {
  curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time "${2:-2}" "$URL$1"
}

# Wait up to `seconds` until GET `path` answers `status`; on failure show the log.
wait_for_status() {
  local path=$1 want=$2 seconds=${3:-10} i got=
  for ((i = 0; i < seconds * 20; i++)); do
    got=$(status_of "$path")
    [ "$got" = "$want" ] && return 0
    sleep 0.05
  done
  echo "GET $path: expected $want within ${seconds}s, last answer $got" >&2
  cat "$SERVE_LOG" >&2
  return 1
}

# Wait up to 10 s until `file` has a line containing `text`.
wait_for_log() {
  local text=$1 file=$2 i
  for ((i = 0; i < 200; i++)); do
    grep -qF -- "$text" "$file" && return 0
    sleep 0.05
  done
  echo "no \"$text\" in $file within 10s" >&2
  cat "$file" >&2
  return 1
}

@test "serve: a passing host answers 200, with text, JSON, Azure, metrics and the report" {
  make_host
  start_serve --config "$CONFIG"
  wait_for_status /healthz 200

  run curl -sS --noproxy '*' "$URL/healthz"
  [[ "$output" =~ ^healthy:\ verdict\ pass\ \(2\ pass,\ 0\ fail,\ 0\ error,\ 0\ skip\),\ [0-9.]+s\ old$ ]]
  run curl -sS --noproxy '*' -H 'Accept: application/json' "$URL/healthz"
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["healthy"] is True and d["state"] == "healthy" and d["counts"]["pass"] == 2, d' "$output"
  run curl -sS --noproxy '*' "$URL/healthz?format=json"
  [[ "$output" == '{"healthy":true,'* ]]
  run curl -sS --noproxy '*' -D - "$URL/azure"
  [[ "$output" == "HTTP/1.1 200 OK"* ]]
  [[ "$output" == *"Content-Type: application/json"* ]]
  [[ "$output" == *'{"ApplicationHealthState":"Healthy"}' ]]
  run curl -sS --noproxy '*' "$URL/metrics"
  [[ "$output" == *'readygate_check_status{id="app-files",kind="files",status="pass"} 1'* ]]
  [[ "$output" == *'readygate_check_duration_seconds{id="release-config",kind="command"}'* ]]
  [[ "$output" == *'readygate_verdict{verdict="pass"} 1'* ]]
  [[ "$output" == *'readygate_serve_healthy 1'* ]]
  run curl -sS --noproxy '*' "$URL/report"
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["schema"] == "readygate.report/1" and d["verdict"] == "pass" and len(d["checks"]) == 2, d' "$output"
  run curl -sS --noproxy '*' -I "$URL/healthz"
  [[ "$output" == "HTTP/1.1 200 OK"* ]]
  grep -q "listening on 127.0.0.1:$PORT (2 checks every 1s, max_age 10s)" "$SERVE_LOG"
  grep -q "verdict pass" "$SERVE_LOG"
}

@test "serve: breaking the host turns /healthz to 503 within one interval, and back" {
  INTERVAL=1s make_host
  start_serve --config "$CONFIG"
  wait_for_status /healthz 200
  cp -p "$HOST/app/public/css/site.css" "$BATS_TEST_TMPDIR/site.css"
  rm "$HOST/app/public/css/site.css"
  local start=$SECONDS
  # One interval (1s) plus the run itself; allow for a loaded machine.
  wait_for_status /healthz 503 4
  [ $((SECONDS - start)) -le 4 ]
  run curl -sS --noproxy '*' "$URL/healthz"
  [[ "$output" == "unhealthy: verdict fail (1 pass, 1 fail, 0 error, 0 skip)"* ]]
  # The health body names no check and no path: it may be reachable from outside.
  [[ "$output" != *"site.css"* ]]
  run curl -sS --noproxy '*' "$URL/azure"
  [ "$output" = '{"ApplicationHealthState":"Unhealthy"}' ]
  run curl -sS --noproxy '*' "$URL/metrics"
  [[ "$output" == *'readygate_check_status{id="app-files",kind="files",status="fail"} 1'* ]]
  [[ "$output" == *'readygate_verdict{verdict="fail"} 1'* ]]
  [[ "$output" == *'readygate_serve_healthy 0'* ]]
  run curl -sS --noproxy '*' "$URL/report"
  [[ "$output" == *'public/css/site.css'* ]]
  grep -q 'verdict fail .*app-files (files): fail' "$SERVE_LOG"

  cp -p "$BATS_TEST_TMPDIR/site.css" "$HOST/app/public/css/site.css"
  wait_for_status /healthz 200 4
}

@test "serve: before the first verdict, 503 and Initializing, answered at once" {
  make_host '
[[check]]
id = "slow"
kind = "command"
argv = ["sleep", "30"]
timeout = "20s"'
  start_serve --config "$CONFIG"
  run curl -sS --noproxy '*' --max-time 1 -w '\n%{http_code} %{time_total}' "$URL/healthz"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "unhealthy: no run has finished yet" ]]
  [[ "${lines[1]}" =~ ^503\ 0\.[0-4] ]]
  run curl -sS --noproxy '*' --max-time 1 "$URL/azure"
  [ "$output" = '{"ApplicationHealthState":"Initializing"}' ]
  [ "$(status_of /report 1)" = 503 ]
  run curl -sS --noproxy '*' --max-time 1 "$URL/metrics"
  [[ "$output" == *'readygate_serve_healthy 0'* ]]
  [[ "$output" != *'readygate_check_status'* ]]
}

@test "serve: a check that hangs never delays an answer, nor do requests pile up behind it" {
  MAX_AGE=60s make_host '
[[check]]
id = "maybe-wedged"
kind = "command"
shell = true
command = "if [ -e wedge ]; then exec sleep 60; fi"
timeout = "30s"'
  start_serve --config "$CONFIG"
  wait_for_status /healthz 200
  touch "$HOST/wedge"
  sleep 1.5 # the next run has started and hangs in its command
  local i times
  times=$(for i in $(seq 20); do
    curl -s -o /dev/null --noproxy '*' --max-time 2 -w '%{http_code} %{time_total}\n' "$URL/healthz" &
  done; wait)
  echo "$times"
  [ "$(grep -c '^200 ' <<<"$times")" -eq 20 ]
  # every answer came from the last verdict, without waiting for the hanging run
  run awk '$2 >= 0.5' <<<"$times"
  [ -z "$output" ]
  run curl -sS --noproxy '*' "$URL/metrics"
  [[ "$output" == *'readygate_serve_runs_total 1'* ]] # the hanging run has not finished
  # SIGTERM ends serve promptly even with the run still hanging, with exit 0.
  kill -TERM "$SERVE_PID"
  local waited=0
  while kill -0 "$SERVE_PID" 2>/dev/null && [ $waited -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
  run kill -0 "$SERVE_PID"
  [ "$status" -ne 0 ]
  local code=0
  wait "$SERVE_PID" || code=$?
  [ "$code" -eq 0 ]
  grep -q 'serve: stopped' "$SERVE_LOG"
}

@test "serve: malformed and oversize requests are refused and the server keeps serving" {
  make_host
  start_serve --config "$CONFIG"
  wait_for_status /healthz 200
  [ "$(status_of /nope)" = 404 ]
  [ "$(status_of /healthz/)" = 404 ]
  [ "$(status_of '/healthz?config=/etc/passwd')" = 400 ]
  [ "$(status_of '/healthz?format=yaml')" = 400 ]
  [ "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' -X POST -d x "$URL/healthz")" = 413 ]
  [ "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' -X DELETE "$URL/healthz")" = 405 ]
  run curl -sS --noproxy '*' -D - -o /dev/null -X PUT "$URL/report"
  [[ "$output" == *"Allow: GET, HEAD"* ]]
  local big
  big=$(head -c 20000 /dev/zero | tr '\0' a)
  [ "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' -H "X-Big: $big" "$URL/healthz")" = 431 ]
  local headers=() i
  for i in $(seq 70); do headers+=(-H "X-H$i: y"); done
  [ "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "${headers[@]}" "$URL/healthz")" = 431 ]
  # Not HTTP at all, and a request cut short: answered 400 or closed, never a crash.
  run bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'HELLO\r\n\r\n' >&3; timeout 3 cat <&3"
  [[ "$output" == "HTTP/1.1 400 Bad Request"* ]]
  bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; printf 'GET /healthz HTTP/1.1\r\nHost' >&3; exec 3>&-"
  [ "$(status_of /healthz)" = 200 ]
  kill -0 "$SERVE_PID"
}

@test "serve: idle connections are closed and max_connections bounds what is open" {
  make_host
  sed -i 's/^\[serve\]$/[serve]\nmax_connections = 3\nidle_timeout = "1s"/' "$CONFIG"
  start_serve --config "$CONFIG"
  wait_for_status /healthz 200
  exec 5<>"/dev/tcp/127.0.0.1/$PORT" 6<>"/dev/tcp/127.0.0.1/$PORT" 7<>"/dev/tcp/127.0.0.1/$PORT"
  sleep 0.2
  # All three slots are held by silent clients: a fourth connection is closed unanswered.
  [ "$(status_of /healthz)" = 000 ]
  # The idle clients are dropped after idle_timeout, and the endpoint answers again.
  run timeout 5 cat <&5
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  exec 5<&- 6<&- 7<&-
  wait_for_status /healthz 200 5
  run curl -sS --noproxy '*' "$URL/metrics"
  [[ "$output" =~ readygate_serve_connections_refused_total\ [1-9] ]]
}

@test "serve: SIGHUP with a bad config keeps the old one serving; a good one is applied" {
  make_host
  start_serve --config "$CONFIG"
  wait_for_status /healthz 200
  cp "$CONFIG" "$HOST/good.toml"
  printf '[[check]]\nid = "extra"\nkind = "command"\nargvv = ["true"]\n' >>"$CONFIG"
  kill -HUP "$SERVE_PID"
  wait_for_log "reload refused" "$SERVE_LOG"
  grep -q 'reload refused, the previous configuration keeps serving: .*readygate.toml:[0-9]*:[0-9]*: check "extra" (command): unknown key "argvv"' "$SERVE_LOG"
  kill -0 "$SERVE_PID"
  sleep 1.2
  [ "$(status_of /healthz)" = 200 ]
  run curl -sS --noproxy '*' "$URL/metrics"
  [[ "$output" == *'readygate_serve_reloads_total{result="refused"} 1'* ]]
  [[ "$output" != *'id="extra"'* ]]

  # A good new config: one more check, which fails; the endpoint follows it.
  cp "$HOST/good.toml" "$CONFIG"
  printf '[[check]]\nid = "extra"\nkind = "command"\nargv = ["false"]\n' >>"$CONFIG"
  kill -HUP "$SERVE_PID"
  wait_for_status /healthz 503 5
  run curl -sS --noproxy '*' "$URL/metrics"
  [[ "$output" == *'readygate_check_status{id="extra",kind="command",status="fail"} 1'* ]]
  [[ "$output" == *'readygate_serve_reloads_total{result="applied"} 1'* ]]
  grep -q 'serve: reloaded .*readygate.toml (3 checks)' "$SERVE_LOG"
}

@test "serve: a verdict older than max_age is stale: 503" {
  # The second run hangs past max_age: the pass it last published goes stale.
  INTERVAL=1s MAX_AGE=2s make_host '
[[check]]
id = "maybe-wedged"
kind = "command"
shell = true
command = "if [ -e wedge ]; then exec sleep 60; fi"'
  start_serve --config "$CONFIG"
  wait_for_status /healthz 200
  touch "$HOST/wedge"
  wait_for_status /healthz 503 6
  run curl -sS --noproxy '*' "$URL/healthz"
  [[ "$output" == "unhealthy: the verdict (pass) is "*"s old, older than max_age 2s" ]]
  run curl -sS --noproxy '*' "$URL/azure"
  [ "$output" = '{"ApplicationHealthState":"Unhealthy"}' ]
}

@test "serve: listens on several addresses, IPv6 included" {
  make_host
  local port6
  port6=$(free_port)
  start_serve --config "$CONFIG" --listen "[::1]:$port6"
  wait_for_status /healthz 200
  [ "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' -g "http://[::1]:$port6/healthz")" = 200 ]
  grep -q "listening on 127.0.0.1:$PORT, \[::1\]:$port6 " "$SERVE_LOG"
}

@test "serve: bad usage exits 64, a bad [serve] table 78, a taken port 2" {
  make_host
  run "$READYGATE" serve --config "$CONFIG" --listen localhost:9901
  [ "$status" -eq 64 ]
  [[ "$output" == *'--listen: "localhost:9901": expected a numeric IPv4 address, not a name'* ]]
  sed -i 's/^interval = .*/interval = "2m"/' "$CONFIG"
  run "$READYGATE" serve --config "$CONFIG"
  [ "$status" -eq 78 ]
  [[ "$output" == *'readygate.toml:3:11: [serve]: key "max_age": 10s is shorter than interval (2m)'* ]]
  make_host
  start_serve --config "$CONFIG"
  run "$READYGATE" serve --config "$CONFIG" --listen "127.0.0.1:$PORT"
  [ "$status" -eq 2 ]
  [[ "$output" == *"cannot listen on 127.0.0.1:$PORT: "* ]]
}
