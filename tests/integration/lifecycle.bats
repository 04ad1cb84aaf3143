#!/usr/bin/env bats
# readygate lifecycle, the real binary against the AWS fake (fixtures/aws_fake.py: IMDSv2 and the
# Auto Scaling Query API on loopback, every request's SigV4 verified by botocore with the
# credentials its IMDS handed out). Assertions read the fake's log (aws_fake_summary: one line
# per API request, "Action[=Result] STATUS CODE sig=ok|bad"), the result file and stderr.

bats_require_minimum_version 1.5.0

load helpers

teardown() {
  if [ -n "${RG_PID:-}" ]; then
    kill -KILL "$RG_PID" 2>/dev/null || true
  fi
  stop_servers
}

HEARTBEAT_OK="RecordLifecycleActionHeartbeat 200 OK sig=ok"
SUBJECT="i-0123456789abcdef0 (group rg-asg, hook rg-launch-hook)"

# Print a config whose [lifecycle] points at the last AWS fake, with $DEADLINE (default 20s),
# $HEARTBEAT (default 1s) and the extra [lifecycle] lines `extra`, then the [[check]] tables read
# from standard input.
lifecycle_config() {
  local extra=${1:-}
  {
    cat <<EOF
[gate]
deadline = "${DEADLINE:-20s}"
retry_interval = "300ms"

[lifecycle]
hook_name = "rg-launch-hook"
imds_endpoint = "$AWS_IMDS_URL"
autoscaling_endpoint = "$AWS_API_URL"
heartbeat_interval = "${HEARTBEAT:-1s}"
result_file = "$BATS_TEST_TMPDIR/run/lifecycle.json"
$extra

EOF
    cat
  } | write_config
}

# A [[check]] that passes after `seconds`.
sleeping_check() {
  cat <<EOF
[[check]]
id = "app"
kind = "command"
argv = ["sleep", "$1"]
timeout = "2m"
EOF
}

# Print Python expression `expr` over the result file's JSON document `d` (a tuple: its items
# separated by spaces).
result_json() {
  "$SYSTEM_PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(*v) if isinstance(v, tuple) else print(v)' "$BATS_TEST_TMPDIR/run/lifecycle.json" "$1"
}

# Assert the fake's log is at least `min` (default 0) heartbeats answered 200, then exactly one
# CompleteLifecycleAction with `result` answered 200, every signature valid.
assert_heartbeats_then() {
  local result=$1 min=${2:-0} i
  run aws_fake_summary
  echo "$output"
  [ "${#lines[@]}" -ge $((min + 1)) ]
  for ((i = 0; i < ${#lines[@]} - 1; i++)); do
    [ "${lines[i]}" = "$HEARTBEAT_OK" ]
  done
  [ "${lines[-1]}" = "CompleteLifecycleAction=$result 200 OK sig=ok" ]
}

# Print how many different access keys signed the fake's API requests.
access_keys_used() {
  "$SYSTEM_PYTHON" -c 'import json, sys
keys = {e["auth"]["access_key"] for e in map(json.loads, open(sys.argv[1]))
        if e["server"] == "api" and e.get("auth", {}).get("access_key")}
print(len(keys))' "$AWS_FAKE_LOG"
}

# Print milliseconds since the epoch.
now_ms() {
  date +%s%3N
}

@test "lifecycle: checks pass: heartbeats at once and every interval, then one CONTINUE (exit 0)" {
  start_aws_fake
  config=$(sleeping_check 2.5 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "stdout: $output"
  echo "stderr: $stderr"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  assert_heartbeats_then CONTINUE 3
  [ "${#lines[@]}" -le 5 ]
  # One line says what was found and what will happen, the last one what happened.
  [[ "${stderr_lines[0]}" == "readygate lifecycle: $SUBJECT, target state InService: 1 check until 1"*"s left, heartbeat every 1s" ]]
  [[ "${stderr_lines[-1]}" =~ ^"readygate lifecycle: CONTINUE accepted for $SUBJECT: pass, 1 check: 1 pass ("[0-9.]+"s, "[0-9]+" heartbeats)"$ ]]
  [ "$(result_json 'd["schema"], d["result"], d["accepted"], d["exit_code"], d["report"]["verdict"]')" = "readygate.lifecycle/1 CONTINUE True 0 pass" ]
  [ "$(result_json 'd["group_source"], d["region"], d["target_lifecycle_state"], d["report"]["checks"][0]["id"]')" = "instance tag aws:autoscaling:groupName us-east-1 InService app" ]
  [ "$(result_json 'd["heartbeats"]["recorded"] >= 3, d["heartbeats"]["failed"], d["completion_attempts"]')" = "True 0 1" ]
}

@test "lifecycle: a failed check: ABANDON (exit 1), the failure on the journal line" {
  start_aws_fake
  config=$(lifecycle_config <<'EOF'
[[check]]
id = "app-version"
kind = "command"
argv = ["sh", "-c", "echo 1.4.1"]
stdout_contains = "1.4.2"
EOF
)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 1 ]
  assert_heartbeats_then ABANDON
  [[ "${stderr_lines[-1]}" == "readygate lifecycle: ABANDON accepted for $SUBJECT: fail, 1 check: 1 fail; app-version (fail): "* ]]
  [ "$(result_json 'd["result"], d["accepted"], d["exit_code"], d["report"]["checks"][0]["status"]')" = "ABANDON True 1 fail" ]
}

@test "lifecycle: the app is ready after 3 retries: CONTINUE" {
  start_aws_fake
  cat >"$BATS_TEST_TMPDIR/ready.sh" <<'EOF'
n=$(cat "$1" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$1"
[ "$n" -ge 4 ] || { echo "not ready yet ($n)"; exit 1; }
EOF
  config=$(lifecycle_config <<EOF
[[check]]
id = "app"
kind = "command"
argv = ["/bin/sh", "$BATS_TEST_TMPDIR/ready.sh", "$BATS_TEST_TMPDIR/attempts"]
retry = true
EOF
)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 0 ]
  assert_heartbeats_then CONTINUE 1
  [ "$(cat "$BATS_TEST_TMPDIR/attempts")" = 4 ]
  [ "$(result_json 'd["report"]["checks"][0]["attempts"], d["report"]["checks"][0]["status"]')" = "4 pass" ]
  [ "$(grep -c 'app (command): attempt [1-3]: fail: exit code 1 (expected 0); retrying in 300ms' <<<"$stderr")" -eq 3 ]
}

@test "lifecycle: throttled twice (and a throttled heartbeat): retried with backoff, then CONTINUE" {
  start_aws_fake '{"failures": {"CompleteLifecycleAction": ["Throttling", "Throttling"],
    "RecordLifecycleActionHeartbeat": ["Throttling"]}}'
  config=$(sleeping_check 1.5 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 0 ]
  run aws_fake_summary
  echo "$output"
  [ "${lines[0]}" = "RecordLifecycleActionHeartbeat 400 Throttling sig=ok" ]
  [ "${lines[1]}" = "$HEARTBEAT_OK" ]
  [ "${lines[-3]}" = "CompleteLifecycleAction=CONTINUE 400 Throttling sig=ok" ]
  [ "${lines[-2]}" = "CompleteLifecycleAction=CONTINUE 400 Throttling sig=ok" ]
  [ "${lines[-1]}" = "CompleteLifecycleAction=CONTINUE 200 OK sig=ok" ]
  [[ "$stderr" == *"CompleteLifecycleAction: Throttling: Rate exceeded (HTTP 400, request "*"); retrying in "* ]]
  [ "$(result_json 'd["completion_attempts"]')" = 3 ]
}

@test "lifecycle: 5xx and dropped connections are retried too" {
  start_aws_fake '{"failures": {"CompleteLifecycleAction": ["InternalFailure", "Drop", "ServiceUnavailable"]}}'
  config=$(sleeping_check 0.2 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 0 ]
  run aws_fake_summary
  echo "$output"
  [ "${lines[-4]}" = "CompleteLifecycleAction=CONTINUE 500 InternalFailure sig=ok" ]
  [ "${lines[-3]}" = "CompleteLifecycleAction=CONTINUE - Dropped sig=ok" ]
  [ "${lines[-2]}" = "CompleteLifecycleAction=CONTINUE 503 ServiceUnavailable sig=ok" ]
  [ "${lines[-1]}" = "CompleteLifecycleAction=CONTINUE 200 OK sig=ok" ]
}

@test "lifecycle: IMDS refusing connections: no check runs, nothing is sent, a clear error (exit 2)" {
  start_aws_fake '{"imds": "refuse"}'
  config=$(lifecycle_config 'on_error = "continue"' <<EOF
[[check]]
id = "marker"
kind = "command"
argv = ["touch", "$BATS_TEST_TMPDIR/checked"]
EOF
)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 2 ]
  [ ! -e "$BATS_TEST_TMPDIR/checked" ]
  run aws_fake_summary
  [ -z "$output" ]
  [[ "$stderr" == "readygate lifecycle: no result sent: meta-data/instance-id at $AWS_IMDS_URL: instance metadata service: "*"onnection refused"*"(4 attempts): not an EC2 instance, or its metadata service is disabled (HttpEndpoint) or out of reach; on_error = \"continue\" cannot be carried out, so the hook's DefaultResult decides when its HeartbeatTimeout passes" ]]
  [ "$(result_json 'd["result"], d["accepted"], d["exit_code"], d["instance_id"], d["report"]')" = "None False 2 None None" ]
}

@test "lifecycle: IMDS answering 500: the same, after a few tries" {
  start_aws_fake '{"imds": "error"}'
  config=$(sleeping_check 0 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"instance metadata service answered 500 to the IMDSv2 token request (4 attempts): not an EC2 instance"*"on_error = \"abandon\" cannot be carried out"* ]]
  [ "$(grep -c '"path": "/latest/api/token"' "$AWS_FAKE_LOG")" -eq 4 ]
  run aws_fake_summary
  [ -z "$output" ]
}

@test "lifecycle: IMDS that never answers: 2 s per try, the hop limit named, done in seconds" {
  start_aws_fake '{"imds": "stall", "stall_seconds": 60}'
  config=$(sleeping_check 0 | lifecycle_config)
  started=$(now_ms)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  elapsed=$(($(now_ms) - started))
  echo "$stderr"
  echo "elapsed: ${elapsed}ms"
  [ "$status" -eq 2 ]
  [ "$elapsed" -lt 15000 ]
  [[ "$stderr" == *"/latest/api/token: operation timed out after 200"*" milliseconds"*"a container on this instance needs the metadata hop limit (HttpPutResponseHopLimit) at 2 or more (4 attempts): not an EC2 instance"* ]]
}

@test "lifecycle: credentials expiring mid-run are refreshed before they expire" {
  start_aws_fake '{"credential_lifetime_seconds": 3}'
  config=$(sleeping_check 5 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 0 ]
  assert_heartbeats_then CONTINUE 4
  # The fake rotates them with 1.5 s left: several keys signed, none of them too late.
  [ "$(access_keys_used)" -ge 2 ]
  ! grep -q ExpiredToken "$AWS_FAKE_LOG"
}

@test "lifecycle: credentials expired under it: ExpiredToken, fresh ones from IMDS, the call again" {
  start_aws_fake
  config=$(sleeping_check 4 | lifecycle_config)
  "$READYGATE" lifecycle --config "$config" 2>"$BATS_TEST_TMPDIR/stderr" &
  RG_PID=$!
  sleep 1.5
  aws_fake_control expire-credentials >/dev/null
  status=0
  wait "$RG_PID" || status=$?
  RG_PID=
  cat "$BATS_TEST_TMPDIR/stderr"
  [ "$status" -eq 0 ]
  run aws_fake_summary
  echo "$output"
  expired=$(grep -n "403 ExpiredToken" <<<"$output" | head -1 | cut -d: -f1)
  [ -n "$expired" ]
  [ "${lines[$expired]}" = "$HEARTBEAT_OK" ] # the very next request, re-signed
  [ "${lines[-1]}" = "CompleteLifecycleAction=CONTINUE 200 OK sig=ok" ]
  [ "$(access_keys_used)" -eq 2 ]
}

@test "lifecycle: the deadline passes: ABANDON right after it (exit 2)" {
  start_aws_fake
  config=$(sleeping_check 60 | DEADLINE=3s lifecycle_config)
  started=$(now_ms)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  elapsed=$(($(now_ms) - started))
  echo "$stderr"
  echo "elapsed: ${elapsed}ms"
  [ "$status" -eq 2 ]
  [ "$elapsed" -lt 6000 ]
  assert_heartbeats_then ABANDON 2
  [[ "${stderr_lines[-1]}" == "readygate lifecycle: ABANDON accepted for $SUBJECT: error, 1 check: 1 error; app (error): "*"; the deadline was reached ("* ]]
  [ "$(result_json 'd["report"]["deadline_reached"], d["exit_code"]')" = "True 2" ]
}

@test "lifecycle: on_error = \"continue\" admits a host that could not be verified, never a failed one" {
  start_aws_fake
  config=$(sleeping_check 60 | DEADLINE=2s lifecycle_config 'on_error = "continue"')
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 0 ]
  assert_heartbeats_then CONTINUE 1

  start_aws_fake
  config=$(lifecycle_config 'on_error = "continue"' <<'EOF'
[[check]]
id = "app"
kind = "command"
argv = ["false"]
EOF
)
  run "$READYGATE" lifecycle --config "$config"
  [ "$status" -eq 1 ]
  assert_heartbeats_then ABANDON
}

@test "lifecycle: on_error = \"continue\" never admits a host a check was seen failing on, beside one that could not be verified" {
  start_aws_fake
  # The unverifiable check comes first: error outranks fail in the verdict, not in the decision.
  config=$(lifecycle_config 'on_error = "continue"' <<EOF
[[check]]
id = "db-port"
kind = "tcp"
address = "127.0.0.1:$(free_port)"

[[check]]
id = "app-version"
kind = "command"
argv = ["sh", "-c", "echo 1.4.1"]
stdout_contains = "1.4.2"
EOF
)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 2 ] # error outranks fail for the exit code
  assert_heartbeats_then ABANDON
  [[ "${stderr_lines[-1]}" == "readygate lifecycle: ABANDON accepted for $SUBJECT: error, 2 checks: 1 fail, 1 error; app-version (fail): "* ]]
  [ "$(result_json 'd["result"], d["accepted"], d["exit_code"], d["report"]["verdict"], d["report"]["seen_failing"]')" = "ABANDON True 2 error True" ]
  [ "$(result_json '[c["status"] + ":" + str(c["seen_failing"]) for c in d["report"]["checks"]]')" = "['error:False', 'fail:True']" ]
}

@test "lifecycle: on_error = \"continue\": a retry that failed every attempt it completed, its last cut by the deadline, abandons" {
  start_aws_fake
  cat >"$BATS_TEST_TMPDIR/app.sh" <<'EOF'
n=$(cat "$1" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$1"
[ "$n" -ge 3 ] && exec sleep 60
echo "version 1.4.1 (attempt $n)"
exit 1
EOF
  config=$(DEADLINE=3s lifecycle_config 'on_error = "continue"' <<EOF
[[check]]
id = "app"
kind = "command"
argv = ["/bin/sh", "$BATS_TEST_TMPDIR/app.sh", "$BATS_TEST_TMPDIR/attempts"]
retry = true
EOF
)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 2 ]
  assert_heartbeats_then ABANDON 1
  [ "$(cat "$BATS_TEST_TMPDIR/attempts")" = 3 ]
  [[ "${stderr_lines[-1]}" == "readygate lifecycle: ABANDON accepted for $SUBJECT: error, 1 check: 1 error; app (error, seen failing): "*"; the deadline was reached ("* ]]
  [ "$(result_json 'd["result"], d["report"]["checks"][0]["status"], d["report"]["checks"][0]["attempts"], d["report"]["checks"][0]["seen_failing"]')" = "ABANDON error 3 True" ]
}

@test "lifecycle: a proxy in the environment is ignored, for IMDS and for Auto Scaling" {
  start_aws_fake
  proxy="http://127.0.0.1:$(free_port)" # nothing listens there: a request through it would fail
  config=$(sleeping_check 0.5 | lifecycle_config)
  run env -u NO_PROXY -u no_proxy http_proxy="$proxy" HTTP_PROXY="$proxy" https_proxy="$proxy" \
    HTTPS_PROXY="$proxy" ALL_PROXY="$proxy" all_proxy="$proxy" \
    "$READYGATE" lifecycle --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
  assert_heartbeats_then CONTINUE
  # The fake refuses what came through a proxy (X-Forwarded-For); nothing did.
  ! grep -q '"status": 403' "$AWS_FAKE_LOG"
}

@test "lifecycle: no active lifecycle action: final at the first heartbeat, the checks stop, nothing else is sent" {
  start_aws_fake '{"lifecycle_action_active": false}'
  config=$(sleeping_check 30 | lifecycle_config)
  started=$(now_ms)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  elapsed=$(($(now_ms) - started))
  echo "$stderr"
  [ "$status" -eq 2 ]
  [ "$elapsed" -lt 5000 ]
  run aws_fake_summary
  echo "$output"
  [ "$output" = "RecordLifecycleActionHeartbeat 400 ValidationError sig=ok" ]
  [[ "${stderr_lines[-1]}" == "readygate lifecycle: no result sent for $SUBJECT: ValidationError: No active Lifecycle Action found with instance ID i-0123456789abcdef0 (HTTP 400, request "*"): the hook timed out (its HeartbeatTimeout passed) or someone completed it; "* ]]
  [ "$(result_json 'd["result"], d["no_active_action"], d["exit_code"]')" = "None True 2" ]
}

@test "lifecycle: CompleteLifecycleAction answered \"no active action\" or AccessDenied: final, not retried (exit 2)" {
  start_aws_fake '{"failures": {"CompleteLifecycleAction": ["NoActiveAction"]}}'
  config=$(sleeping_check 0.2 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 2 ]
  run aws_fake_summary
  [ "${lines[-1]}" = "CompleteLifecycleAction=CONTINUE 400 ValidationError sig=ok" ]
  [ "$(grep -c CompleteLifecycleAction <<<"$output")" -eq 1 ]
  [[ "$stderr" == *"CONTINUE not accepted for $SUBJECT: ValidationError: No active Lifecycle Action found"*"the hook timed out (its HeartbeatTimeout passed) or someone completed it"* ]]

  start_aws_fake '{"failures": {"CompleteLifecycleAction": ["AccessDenied"]}}'
  config=$(sleeping_check 0.2 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 2 ]
  run aws_fake_summary
  [ "$(grep -c CompleteLifecycleAction <<<"$output")" -eq 1 ]
  [[ "$stderr" == *"CONTINUE not accepted for $SUBJECT: refused: AccessDenied: User: arn:aws:sts::123456789012:assumed-role/rg-instance-role/i-0123456789abcdef0 is not authorized to perform: autoscaling:CompleteLifecycleAction (HTTP 403"* ]]
}

@test "lifecycle: CONTINUE carried out but its answer lost, then \"no active action\": the outcome is unknown (accepted null), not refused" {
  start_aws_fake '{"failures": {"CompleteLifecycleAction": ["AcceptThenDrop"]}}'
  config=$(sleeping_check 0.2 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 2 ] # 0 only once Auto Scaling said it accepted CONTINUE
  run aws_fake_summary
  echo "$output"
  [ "${lines[-2]}" = "CompleteLifecycleAction=CONTINUE - AcceptedThenDropped sig=ok" ]
  [ "${lines[-1]}" = "CompleteLifecycleAction=CONTINUE 400 ValidationError sig=ok" ]
  [[ "${stderr_lines[-1]}" == "readygate lifecycle: CONTINUE sent, outcome unknown, for $SUBJECT: attempt 1 got no definite answer ("*"), then attempt 2 was answered ValidationError: No active Lifecycle Action found"*": attempt 1 most likely completed the action and its answer was lost, but the hook may also have timed out or been completed by someone else; Auto Scaling does not say which (the instance's lifecycle state does); pass, 1 check: 1 pass ("* ]]
  [[ "$stderr" != *"not accepted"* ]]
  [ "$(result_json 'd["result"], d["accepted"], d["no_active_action"], d["exit_code"], d["completion_attempts"]')" = "CONTINUE None True 2 2" ]

  # The same for ABANDON: a failed check still exits 1.
  start_aws_fake '{"failures": {"CompleteLifecycleAction": ["AcceptThenDrop"]}}'
  config=$(lifecycle_config <<'EOF'
[[check]]
id = "app"
kind = "command"
argv = ["false"]
EOF
)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 1 ]
  [[ "${stderr_lines[-1]}" == "readygate lifecycle: ABANDON sent, outcome unknown, for $SUBJECT: attempt 1 got no definite answer ("* ]]
  [ "$(result_json 'd["result"], d["accepted"], d["exit_code"]')" = "ABANDON None 1" ]
}

@test "lifecycle: SIGTERM after every check passed, while CONTINUE is being sent: it goes out, and the journal line says a signal came" {
  start_aws_fake '{"failures": {"CompleteLifecycleAction": ["Stall"]}, "stall_seconds": 2}'
  config=$(sleeping_check 0.2 | lifecycle_config)
  "$READYGATE" lifecycle --config "$config" 2>"$BATS_TEST_TMPDIR/stderr" &
  RG_PID=$!
  # The first CompleteLifecycleAction has taken the injected stall once none is pending.
  for _ in $(seq 200); do
    pending=$(curl -sS --noproxy '*' "$AWS_API_URL/_fake/state" | "$SYSTEM_PYTHON" -c \
      'import json, sys; print(len(json.load(sys.stdin)["pending_failures"]["CompleteLifecycleAction"]))')
    [ "$pending" = 0 ] && break
    sleep 0.05
  done
  [ "$pending" = 0 ]
  kill -TERM "$RG_PID"
  status=0
  wait "$RG_PID" || status=$?
  RG_PID=
  cat "$BATS_TEST_TMPDIR/stderr"
  [ "$status" -eq 0 ]
  run aws_fake_summary
  echo "$output"
  [ "${lines[-2]}" = "CompleteLifecycleAction=CONTINUE - Dropped sig=ok" ]
  [ "${lines[-1]}" = "CompleteLifecycleAction=CONTINUE 200 OK sig=ok" ]
  grep -q "^readygate: interrupted by SIGTERM, stopping$" "$BATS_TEST_TMPDIR/stderr"
  last=$(tail -n 1 "$BATS_TEST_TMPDIR/stderr")
  [[ "$last" =~ ^"readygate lifecycle: CONTINUE accepted for $SUBJECT: pass, 1 check: 1 pass; a signal came while CONTINUE was being sent, and it went out regardless ("[0-9.]+"s, "[0-9]+" heartbeat"s?")"$ ]]
  [ "$(result_json 'd["result"], d["accepted"], d["interrupted"], d["signal_while_completing"], d["exit_code"]')" = "CONTINUE True False True 0" ]
}

@test "lifecycle: SIGTERM stops the checks and sends ABANDON at once" {
  start_aws_fake
  config=$(sleeping_check 60 | lifecycle_config)
  "$READYGATE" lifecycle --config "$config" 2>"$BATS_TEST_TMPDIR/stderr" &
  RG_PID=$!
  for _ in $(seq 100); do
    grep -q RecordLifecycleActionHeartbeat "$AWS_FAKE_LOG" 2>/dev/null && break
    sleep 0.05
  done
  started=$(now_ms)
  kill -TERM "$RG_PID"
  status=0
  wait "$RG_PID" || status=$?
  elapsed=$(($(now_ms) - started))
  RG_PID=
  cat "$BATS_TEST_TMPDIR/stderr"
  [ "$status" -eq 2 ]
  [ "$elapsed" -lt 3000 ]
  assert_heartbeats_then ABANDON 1
  grep -q "ABANDON accepted for $SUBJECT: error, 1 check: 1 error; app (error): "".*; interrupted by a signal (" "$BATS_TEST_TMPDIR/stderr"
  [ "$(result_json 'd["interrupted"], d["report"]["interrupted"]')" = "True True" ]
}

@test "lifecycle: without the group tag, DescribeAutoScalingInstances names the group" {
  start_aws_fake '{"instance_metadata_tags": false}'
  config=$(sleeping_check 0.2 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 0 ]
  run aws_fake_summary
  echo "$output"
  [ "${lines[0]}" = "DescribeAutoScalingInstances 200 OK sig=ok" ]
  [ "${lines[-1]}" = "CompleteLifecycleAction=CONTINUE 200 OK sig=ok" ]
  [ "$(result_json 'd["group_name"], d["group_source"], d["lifecycle_state"]')" = "rg-asg DescribeAutoScalingInstances Pending:Wait" ]
}

@test "lifecycle: group_name and region from the config win over IMDS" {
  start_aws_fake '{"instance_metadata_tags": false, "region": "eu-west-1", "group_name": "web"}'
  config=$(sleeping_check 0.2 | lifecycle_config $'group_name = "web"\nregion = "eu-west-1"')
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 0 ]
  assert_heartbeats_then CONTINUE
  [ "$(result_json 'd["group_source"], d["region"]')" = "config eu-west-1" ]
}

@test "lifecycle: a warm-pool launch (Warmed:Stopped) is verified the same way" {
  start_aws_fake '{"target_lifecycle_state": "Warmed:Stopped", "lifecycle_state": "Warmed:Pending:Wait"}'
  config=$(sleeping_check 0.2 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 0 ]
  assert_heartbeats_then CONTINUE
  [[ "${stderr_lines[0]}" == *"target state Warmed:Stopped: 1 check"* ]]

  start_aws_fake '{"target_lifecycle_state": "Warmed:Running"}'
  config=$(sleeping_check 0.2 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  [ "$status" -eq 0 ]
  [[ "$stderr" == *"target lifecycle state Warmed:Running: the instance enters a warm pool and will pause again at Pending:Wait when it leaves it, without booting"* ]]
}

@test "lifecycle: a target state with no launch action (Terminated): nothing is sent, no check runs" {
  start_aws_fake '{"target_lifecycle_state": "Terminated"}'
  config=$(lifecycle_config <<EOF
[[check]]
id = "marker"
kind = "command"
argv = ["touch", "$BATS_TEST_TMPDIR/checked"]
EOF
)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 2 ]
  [ ! -e "$BATS_TEST_TMPDIR/checked" ]
  run aws_fake_summary
  [ -z "$output" ]
  [[ "$stderr" == *"no result sent for $SUBJECT: the target lifecycle state is Terminated: there is no launch lifecycle action to complete"* ]]
}

@test "lifecycle: no instance profile: said plainly, nothing sent" {
  start_aws_fake '{"role_name": null}'
  config=$(sleeping_check 0 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "$stderr"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"no result sent for $SUBJECT: no instance profile (IAM role) is attached to this instance"* ]]
  run aws_fake_summary
  [ -z "$output" ]
}

@test "lifecycle --dry-run: prints what it found and the calls it would make; sends nothing" {
  start_aws_fake
  config=$(sleeping_check 30 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config" --dry-run
  echo "$output"
  echo "$stderr"
  [ "$status" -eq 0 ]
  [[ "$output" == *"instance       i-0123456789abcdef0  (IMDS meta-data/instance-id)"* ]]
  [[ "$output" == *"group          rg-asg  (instance tag aws:autoscaling:groupName)"* ]]
  [[ "$output" == *"target state   InService  (IMDS meta-data/autoscaling/target-lifecycle-state)"* ]]
  [[ "$output" == *"credentials    role rg-instance-role, expiring "*"  (IMDS instance profile; never printed)"* ]]
  [[ "$output" == *"would run 1 check until the deadline (20s): app"* ]]
  [[ "$output" == *"Action=RecordLifecycleActionHeartbeat&Version=2011-01-01&LifecycleHookName=rg-launch-hook&AutoScalingGroupName=rg-asg&InstanceId=i-0123456789abcdef0"* ]]
  [[ "$output" == *"LifecycleActionResult=CONTINUE"* ]]
  [[ "$output" == *"LifecycleActionResult=ABANDON"* ]]
  run aws_fake_summary
  [ -z "$output" ]
  [ ! -e "$BATS_TEST_TMPDIR/run/lifecycle.json" ]

  # Without the tag it reads the group with DescribeAutoScalingInstances, and only that.
  start_aws_fake '{"instance_metadata_tags": false}'
  config=$(sleeping_check 30 | lifecycle_config)
  run --separate-stderr "$READYGATE" lifecycle --config "$config" --dry-run
  [ "$status" -eq 0 ]
  [[ "$output" == *"group          rg-asg  (DescribeAutoScalingInstances)"* ]]
  [[ "$output" == *"current state  Pending:Wait  (DescribeAutoScalingInstances)"* ]]
  run aws_fake_summary
  [ "$output" = "DescribeAutoScalingInstances 200 OK sig=ok" ]
}

@test "lifecycle: a config without [lifecycle], or with an unknown key, exits 78 before touching AWS" {
  start_aws_fake
  config=$(write_config <<'EOF'
[[check]]
id = "app"
kind = "command"
argv = ["true"]
EOF
)
  run "$READYGATE" lifecycle --config "$config"
  echo "$output"
  [ "$status" -eq 78 ]
  [[ "$output" == *"readygate.toml: no [lifecycle] table: readygate lifecycle needs one with at least hook_name"* ]]
  config=$(sleeping_check 0 | lifecycle_config 'heartbeat_intervall = "30s"')
  run "$READYGATE" lifecycle --config "$config"
  echo "$output"
  [ "$status" -eq 78 ]
  [[ "$output" == *"readygate.toml:11:23: [lifecycle]: unknown key \"heartbeat_intervall\" (did you mean \"heartbeat_interval\"?)"* ]]
  [ "$(wc -l <"$AWS_FAKE_LOG")" -eq 0 ]
  run "$READYGATE" config validate --config "$config"
  [ "$status" -eq 78 ]
}

@test "lifecycle --help documents every [lifecycle] key the README lists, and the exit codes" {
  run "$READYGATE" lifecycle --help
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"usage: readygate lifecycle [--config FILE] [--dry-run]"* ]]
  [[ "$output" == *"[lifecycle] keys:"* ]]
  [[ "$output" == *"DefaultResult=ABANDON"* ]]
  keys=$(sed -n '/^### `\[lifecycle\]`/,/^#/p' "$RG_SOURCE_DIR/README.md" | grep -o '^| `[a-z_]*`' | tr -d '|` ')
  [ "$(wc -w <<<"$keys")" -eq 8 ]
  for key in $keys; do
    grep -Eq "^  $key +(string|duration|path) \((required|default|optional)" <<<"$output"
  done
  run "$READYGATE" --help
  [[ "$output" == *"lifecycle        verify, then complete the AWS Auto Scaling launch lifecycle hook"* ]]
}

@test "packaging/examples/lifecycle: the hook abandons by default, the policy is scoped to the group, the configs are valid" {
  dir="$RG_SOURCE_DIR/packaging/examples/lifecycle"
  run "$READYGATE" config validate --config "$dir/readygate.toml"
  echo "$output"
  [ "$status" -eq 0 ]
  "$SYSTEM_PYTHON" - "$dir" "$BATS_TEST_TMPDIR" <<'PY'
import json, re, sys, yaml
directory, scratch = sys.argv[1:]

user_data = yaml.safe_load(open(directory + "/cloud-init.yaml"))
files = {f["path"]: f["content"] for f in user_data["write_files"]}
open(scratch + "/from-user-data.toml", "w").write(files["/etc/readygate/readygate.toml"])
commands = [" ".join(map(str, command)) for command in user_data["runcmd"]]
assert "systemctl enable readygate-lifecycle.service" in commands, commands
assert "systemctl start --no-block readygate-lifecycle.service" in commands, commands

class Loader(yaml.SafeLoader):
    pass
def intrinsic(loader, suffix, node):  # !Ref, !Sub, !GetAtt: keep their argument
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    return loader.construct_sequence(node)
Loader.add_multi_constructor("!", intrinsic)
template = yaml.load(open(directory + "/cloudformation.yaml"), Loader=Loader)["Resources"]
hooks = template["WebGroup"]["Properties"]["LifecycleHookSpecificationList"]
assert [(h["LifecycleTransition"], h["DefaultResult"]) for h in hooks] == [
    ("autoscaling:EC2_INSTANCE_LAUNCHING", "ABANDON")], hooks
assert hooks[0]["HeartbeatTimeout"] >= 2 * 30  # heartbeat_interval = "30s" in readygate.toml
metadata = template["WebLaunchTemplate"]["Properties"]["LaunchTemplateData"]["MetadataOptions"]
assert metadata["HttpTokens"] == "required" and metadata["InstanceMetadataTags"] == "enabled"
statement, = template["WebRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
assert statement["Resource"].endswith(":autoScalingGroupName/web-asg"), statement

def scoped(statements):
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        if s["Resource"] == "*":
            assert actions == ["autoscaling:DescribeAutoScalingInstances"], s
        else:
            assert re.fullmatch(r"arn:aws:autoscaling:[a-z0-9-]+:\d{12}:autoScalingGroup:\*:"
                                r"autoScalingGroupName/[\w-]+", s["Resource"]), s
    return {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
assert scoped(json.load(open(directory + "/iam-policy.json"))["Statement"]) == {
    "autoscaling:RecordLifecycleActionHeartbeat", "autoscaling:CompleteLifecycleAction",
    "autoscaling:DescribeAutoScalingInstances"}

terraform = open(directory + "/lifecycle-hook.tf").read()
assert re.search(r'initial_lifecycle_hook \{[^}]*default_result\s*=\s*"ABANDON"', terraform)
assert 'http_tokens                 = "required"' in terraform
PY
  run "$READYGATE" config validate --config "$BATS_TEST_TMPDIR/from-user-data.toml"
  echo "$output"
  [ "$status" -eq 0 ]
  unit="$RG_SOURCE_DIR/packaging/systemd/readygate-lifecycle.service"
  grep -qx 'Type=oneshot' "$unit"
  grep -qx 'ExecStart=/usr/bin/readygate lifecycle --config /etc/readygate/readygate.toml' "$unit"
  grep -qx 'RuntimeDirectory=readygate' "$unit"
}
