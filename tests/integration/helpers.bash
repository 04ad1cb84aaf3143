# Shared by every integration suite: the binary under test, free ports, real servers on loopback.
#
# Load with `load helpers` from a .bats file. Servers started with start_server are stopped (with
# their whole process group) by stop_servers, which every suite's teardown calls.
# With RG_REQUIRE_SERVERS=1 (CI) a missing server program fails the test instead of skipping it.

: "${READYGATE:?READYGATE must name the readygate binary under test}"
RG_SOURCE_DIR=${RG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
FIXTURES="$RG_SOURCE_DIR/tests/integration/fixtures"
# Debian's python3 when there is one: it starts in a sixth of the time of a pyenv shim found
# first on PATH (50 ms against 300 ms), and free_port runs for every server.
RG_PYTHON=${RG_PYTHON:-$(command -v /usr/bin/python3 || echo python3)}

# Skip the test when `program` is missing, or fail it when servers are required.
require_program() {
  local program=$1
  if ! command -v "$program" >/dev/null 2>&1; then
    if [ "${RG_REQUIRE_SERVERS:-0}" = 1 ]; then
      echo "RG_REQUIRE_SERVERS=1 and $program is not installed" >&2
      return 1
    fi
    skip "$program is not installed"
  fi
}

# Debian's interpreter, which python3-botocore is installed for; a python3 earlier on PATH (pyenv,
# a venv) may lack it or ship an urllib3 that botocore 1.29 cannot use.
SYSTEM_PYTHON=${RG_SYSTEM_PYTHON:-/usr/bin/python3}

# Skip the test when $SYSTEM_PYTHON cannot import `module`, or fail it when servers are required.
require_python_module() {
  local module=$1
  if ! "$SYSTEM_PYTHON" -c "import $module" >/dev/null 2>&1; then
    if [ "${RG_REQUIRE_SERVERS:-0}" = 1 ]; then
      echo "RG_REQUIRE_SERVERS=1 and $SYSTEM_PYTHON cannot import $module" >&2
      return 1
    fi
    skip "$SYSTEM_PYTHON cannot import $module"
  fi
}

# Print a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  # The kernel may hand out the port it just gave back: a test's ports are remembered in its
  # temporary directory, so two servers of one test never get the same one.
  "$RG_PYTHON" - "${BATS_TEST_TMPDIR:-${BATS_FILE_TMPDIR:-/tmp}}/.rg-ports" <<'PY'
import socket, sys
record = sys.argv[1]
try:
    taken = set(open(record).read().split())
except FileNotFoundError:
    taken = set()
while True:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = str(s.getsockname()[1])
    s.close()
    if port not in taken:
        break
with open(record, "a") as f:
    f.write(port + "\n")
print(port)
PY
}

# Wait up to `seconds` (default 10) until 127.0.0.1:`port` accepts connections.
wait_for_port() {
  local port=$1 seconds=${2:-10} i
  for ((i = 0; i < seconds * 20; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  echo "nothing answered on 127.0.0.1:$port within ${seconds}s" >&2
  return 1
}

# Start `command...` in its own process group, logging to $BATS_TEST_TMPDIR/server-N.log (in
# setup_file: $BATS_FILE_TMPDIR), and remember it for stop_servers. Sets RG_SERVER_PID and
# RG_SERVER_LOG; prints nothing; the caller waits with wait_for_port. fd 3 is closed, or bats
# would wait for the server to exit.
start_server() {
  RG_SERVER_LOG="${BATS_TEST_TMPDIR:-$BATS_FILE_TMPDIR}/server-${#RG_SERVER_PIDS[@]}.log"
  setsid "$@" >"$RG_SERVER_LOG" 2>&1 </dev/null 3>&- &
  RG_SERVER_PID=$!
  RG_SERVER_PIDS+=("$RG_SERVER_PID")
}
RG_SERVER_PIDS=()

# Run `command...` in stop_servers before any server is signalled (last registered first): for
# what outlives a process group, such as podman's containers.
on_stop() {
  RG_STOP_COMMANDS+=("$(printf '%q ' "$@")")
}
RG_STOP_COMMANDS=()

# Stop every server this test (or, from teardown_file, this file) started, with its process group.
stop_servers() {
  local pid i
  for ((i = ${#RG_STOP_COMMANDS[@]} - 1; i >= 0; i--)); do
    eval "${RG_STOP_COMMANDS[i]}" || true
  done
  RG_STOP_COMMANDS=()
  for pid in "${RG_SERVER_PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${RG_SERVER_PIDS[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  RG_SERVER_PIDS=()
}

# Start the fixture HTTP server (tests/integration/fixtures/http_server.py) serving `root` on a
# free port; sets HTTP_PORT.
start_http_server() {
  local root=$1
  require_program python3
  HTTP_PORT=$(free_port)
  start_server "$RG_PYTHON" "$FIXTURES/http_server.py" --port "$HTTP_PORT" --root "$root"
  wait_for_port "$HTTP_PORT"
}

# Wait up to `seconds` (default 10) until `file` exists; on failure show the servers' logs.
wait_for_file() {
  local file=$1 seconds=${2:-10} i
  for ((i = 0; i < seconds * 20; i++)); do
    [ -e "$file" ] && return 0
    sleep 0.05
  done
  echo "$file did not appear within ${seconds}s" >&2
  cat "$BATS_TEST_TMPDIR"/server-*.log >&2 2>/dev/null || true
  return 1
}

# Start the AWS fake (fixtures/aws_fake.py: IMDSv2 + Auto Scaling, SigV4 checked by botocore) with
# the scenario JSON `scenario` (default {}); sets AWS_IMDS_URL, AWS_API_URL and AWS_FAKE_LOG.
# A test may start several; the variables name the last one.
start_aws_fake() {
  local scenario=${1:-"{}"} name="$BATS_TEST_TMPDIR/aws-fake-${#RG_SERVER_PIDS[@]}" ports
  require_python_module botocore
  printf '%s\n' "$scenario" >"$name.json"
  AWS_FAKE_LOG="$name.log"
  start_server "$SYSTEM_PYTHON" "$FIXTURES/aws_fake.py" --scenario "$name.json" \
    --log "$AWS_FAKE_LOG" --ready-file "$name.ready"
  wait_for_file "$name.ready"
  read -r -a ports <"$name.ready"
  AWS_IMDS_URL="http://127.0.0.1:${ports[0]}"
  AWS_API_URL="http://127.0.0.1:${ports[1]}"
}

# Print one line per Auto Scaling request the last AWS fake received:
# "Action[=LifecycleActionResult] HTTP-status Code sig=ok|bad".
aws_fake_summary() {
  "$SYSTEM_PYTHON" "$FIXTURES/aws_fake.py" --summary "$AWS_FAKE_LOG"
}

# POST the JSON `body` (default {}) to the last AWS fake's control path /_fake/`name`
# (scenario, expire-credentials, expire-imds-tokens); prints its state as JSON.
aws_fake_control() {
  curl -sSf --noproxy '*' -X POST --data-binary "${2:-"{}"}" "$AWS_API_URL/_fake/$1"
}

# Write a config to $BATS_TEST_TMPDIR/readygate.toml from standard input; prints its path.
write_config() {
  cat >"$BATS_TEST_TMPDIR/readygate.toml"
  echo "$BATS_TEST_TMPDIR/readygate.toml"
}

# Assert that the JSON report in $output has a first check with `status` and the finding
# {subject, expected, found} — parsed with Python's json, independently of readygate.
assert_json_finding() {
  python3 - "$output" "$@" <<'PY'
import json, sys
report = json.loads(sys.argv[1])
status, subject, expected, found = sys.argv[2:6]
check = report["checks"][0]
assert check["status"] == status, check
assert {"subject": subject, "expected": expected, "found": found} in check["findings"], check
PY
}
