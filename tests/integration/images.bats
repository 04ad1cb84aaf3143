#!/usr/bin/env bats
# The images kind against real parts: Debian's docker-registry (plain, htpasswd, token), images
# built with umoci and pushed with skopeo, podman's Docker-compatible API with containers
# running, and a misbehaving proxy (fixtures/registry_proxy.py) for a registry that fails,
# stalls or flaps.

bats_require_minimum_version 1.5.0

load helpers
load servers

# One plain registry and one podman service for the file; each test uses its own repositories
# and container names.
setup_file() {
  start_shared start_registry
  start_shared start_podman
}

teardown_file() {
  stop_servers
  # `podman container cleanup` (run by conmon for each container removed, outside the service's
  # process group) may still write under the podman directory: wait for every process that names
  # it, or bats's removal of the directory races with them ("Directory not empty").
  local i
  for ((i = 0; i < 100; i++)); do
    pgrep -f -- "${PODMAN_DIR:-/nonexistent}/" >/dev/null || return 0
    sleep 0.1
  done
  echo "processes still use $PODMAN_DIR:" >&2
  pgrep -a -f -- "$PODMAN_DIR/" >&2 || true
}

setup() { require_shared; }

teardown() { stop_servers; }

# Run container `name` from `image` with the compose label of `service`; prints its ID.
podman_run_service() {
  local name=$1 service=$2 image=$3
  TMPDIR="$PODMAN_DIR/tmp" podman pull -q --tls-verify=false "$image" >/dev/null
  TMPDIR="$PODMAN_DIR/tmp" podman run -d --name "$name" --pull never \
    --label "com.docker.compose.service=$service" "$image" sleep 3600
}

# Run container `name` from `image` (on $REGISTRY, pulled first) with the `podman run` options
# given before `--` and the command after it; prints its ID.
podman_run_with() {
  local name=$1 image=$2 options=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    options+=("$1")
    shift
  done
  shift
  TMPDIR="$PODMAN_DIR/tmp" podman pull -q --tls-verify=false "$image" >/dev/null
  TMPDIR="$PODMAN_DIR/tmp" podman run -d --name "$name" --pull never "${options[@]}" "$image" "$@"
}

# Start fixtures/registry_proxy.py in front of $REGISTRY with `args...`; sets PROXY
# (127.0.0.1:PORT) and PROXY_LOG.
start_registry_proxy() {
  local ready="$BATS_TEST_TMPDIR/proxy-${#RG_SERVER_PIDS[@]}.ready"
  start_server "$RG_PYTHON" "$FIXTURES/registry_proxy.py" --upstream "$REGISTRY" \
    --ready-file "$ready" "$@"
  PROXY_LOG=$RG_SERVER_LOG
  wait_for_file "$ready"
  PROXY="127.0.0.1:$(cat "$ready")"
}

# The start of an images check on the shared podman, with plain HTTP to the loopback
# registries, quick probes, and `timeout`.
check_header() {
  cat <<EOF
[[check]]
id = "containers"
kind = "images"
socket = "$PODMAN_SOCK"
insecure_registries = ["$REGISTRY", "${PROXY:-127.0.0.1:1}"]
probe_interval = "50ms"
timeout = "${1:-20s}"
EOF
}

# Print the JSON report's first check as "status|message" and then one line per finding.
json_summary() {
  "$RG_PYTHON" -c '
import json, sys
check = json.loads(sys.argv[1])["checks"][0]
print(check["status"] + "|" + check["message"])
for f in check.get("findings", []):
    print(f["subject"] + "|" + f["expected"] + "|" + f["found"])
' "$output"
}

@test "images: pinned and running containers, by name and by compose service, pass" {
  web=$(push_image app/web v1)
  api=$(push_image app/api v1 "api" v2s2)
  podman_run web "$REGISTRY/app/web:v1"
  podman_run_service app-api-1 api "$REGISTRY/app/api:v1"
  web_config=$(manifest_config_digest app/web v1)
  api_config=$(manifest_config_digest app/api v1)
  cat >"$BATS_TEST_TMPDIR/compose.yaml" <<EOF
services:
  web:
    image: $REGISTRY/app/web:v1@$web
  api:
    image: "$REGISTRY/app/api:v1@$api"
EOF
  config=$(write_config <<EOF
$(check_header)
pinned_refs = ["compose.yaml"]

[[check.expect]]
container = "web"
image = "$REGISTRY/app/web:v1@$web"

[[check.expect]]
service = "api"
image = "$REGISTRY/app/api:v1@$api"
EOF
)
  run -0 "$READYGATE" check --config "$config" --format json
  json_summary
  summary=$(json_summary)
  [[ "$summary" == "pass|2 of 2 run their pinned images; 2 tags resolved to their pins on 3 probes each; 2 references in 1 files pinned by digest"* ]]
  [[ "$summary" == *"container web|$web (config $web_config)|running $web_config; registry v1: $web x3"* ]]
  [[ "$summary" == *"service api|$api (config $api_config)|app-api-1 running $api_config; registry v1: $api x3"* ]]
}

@test "images: a container on another digest fails with both digests" {
  old=$(push_image app/moved v1)
  podman_run moved "$REGISTRY/app/moved:v1"
  old_config=$(manifest_config_digest app/moved v1)
  new=$(push_image app/moved v1 "release 2")
  new_config=$(manifest_config_digest app/moved v1)
  config=$(write_config <<EOF
$(check_header)
[[check.expect]]
container = "moved"
image = "$REGISTRY/app/moved:v1@$new"
EOF
)
  run -1 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"container moved runs $old_config, not the pinned $new (config $new_config)"* ]]
  [[ "$output" != *"$old"* ]] || [ "$old" = "$old_config" ]
}

@test "images: a tag moved since the pin (drift) fails naming the registry's digest" {
  pinned=$(push_image app/drift v1)
  podman_run drift "$REGISTRY/app/drift:v1"
  moved=$(push_image app/drift v1 "pushed after the release")
  config=$(write_config <<EOF
$(check_header)
[[check.expect]]
container = "drift"
image = "$REGISTRY/app/drift:v1@$pinned"
EOF
)
  run -1 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"the tag $REGISTRY/app/drift:v1 is now $moved, not the pinned $pinned"* ]]
  [[ "$output" == *"registry v1: $moved x3"* ]]
}

@test "images: a latest reference in a compose file fails with file:line" {
  cat >"$BATS_TEST_TMPDIR/compose.yaml" <<EOF
# the app
services:
  web:
    image: $REGISTRY/app/web@sha256:$(printf '%064d' 0)
  worker:
    image: $REGISTRY/app/worker:latest
    restart: always
EOF
  cat >"$BATS_TEST_TMPDIR/worker.service" <<EOF
[Service]
ExecStart=/usr/bin/podman run --rm --name worker \\
  -e MODE=batch $REGISTRY/app/worker
EOF
  config=$(write_config <<EOF
$(check_header)
pinned_refs = ["compose.yaml", "worker.service"]
EOF
)
  run -1 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"$BATS_TEST_TMPDIR/compose.yaml:6: image \"$REGISTRY/app/worker:latest\" is not pinned by digest (tag latest)"* ]]
  [[ "$output" == *"$BATS_TEST_TMPDIR/worker.service:3: expected pinned by digest (@sha256:...), found \"$REGISTRY/app/worker\": no tag (latest)"* ]]
}

@test "images: a tag whose digest changes between probes fails listing both digests" {
  one=$(push_image app/flap v1)
  two=$(push_image app/flap v2)
  podman_run flap "$REGISTRY/app/flap:v1"
  start_registry_proxy --flap v1=v2
  config=$(write_config <<EOF
$(check_header)
probes = 4
[[check.expect]]
container = "flap"
image = "$PROXY/app/flap:v1@$one"
EOF
)
  run -1 "$READYGATE" check --config "$config"
  echo "$output"
  cat "$PROXY_LOG"
  [[ "$output" == *"the registry answered $PROXY/app/flap:v1 inconsistently"* ]]
  [[ "$output" == *"registry v1: $one x2, $two x2"* ]]
}

@test "images: a registry that is down is an error" {
  pin=$(push_image app/down v1)
  podman_run down "$REGISTRY/app/down:v1"
  PROXY="127.0.0.1:$(free_port)"
  config=$(write_config <<EOF
$(check_header)
[[check.expect]]
container = "down"
image = "$PROXY/app/down:v1@$pin"
EOF
)
  run -2 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"cannot resolve the pin"*"connection refused"* ]]
}

@test "images: a registry that stalls is an error at the check's timeout" {
  pin=$(push_image app/stall v1)
  podman_run stall "$REGISTRY/app/stall:v1"
  start_registry_proxy --stall
  config=$(write_config <<EOF
$(check_header 4s)
[[check.expect]]
container = "stall"
image = "$PROXY/app/stall:v1@$pin"
EOF
)
  started=$(date +%s%N)
  run -2 "$READYGATE" check --config "$config"
  elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
  echo "$output"
  echo "elapsed: $elapsed_ms ms"
  [[ "$output" == *"http://$PROXY/v2/app/stall/manifests/"*"timed out"* ]]
  [ "$elapsed_ms" -ge 3900 ]
  [ "$elapsed_ms" -lt 6500 ]
}

@test "images: a registry answering 500 is an error; with retry the next attempt passes" {
  pin=$(push_image app/flaky v1)
  podman_run flaky "$REGISTRY/app/flaky:v1"
  start_registry_proxy --fail-first 1
  config=$(write_config <<EOF
[gate]
retry_interval = "200ms"
deadline = "30s"

$(check_header)
retry = true
[[check.expect]]
container = "flaky"
image = "$PROXY/app/flaky:v1@$pin"
EOF
)
  run -0 "$READYGATE" check --config "$config" --format json
  echo "$output"
  cat "$PROXY_LOG"
  [[ "$output" == *'"attempts":2'* ]]
  grep -q -- "-> 500" "$PROXY_LOG"

  start_registry_proxy --fail-first 1000 --fail-status 503
  config=$(write_config <<EOF
$(check_header)
[[check.expect]]
container = "flaky"
image = "$PROXY/app/flaky:v1@$pin"
EOF
)
  run -2 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"the registry answered 503 (UNAVAILABLE: injected failure)"* ]]
}

@test "images: an index pin is walked to the engine's platform" {
  amd64=$(push_image app/multi amd64)
  other=$(push_image app/multi other)
  size=$(registry_curl "/v2/app/multi/manifests/$amd64" -H "Accept: $REGISTRY_ACCEPT" | wc -c)
  other_size=$(registry_curl "/v2/app/multi/manifests/$other" -H "Accept: $REGISTRY_ACCEPT" | wc -c)
  index=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"amd64"}}]}' \
    "$other" "$other_size" "$amd64" "$size")
  registry_curl /v2/app/multi/manifests/multi -X PUT \
    -H "Content-Type: application/vnd.oci.image.index.v1+json" --data-binary "$index" -o /dev/null
  index_digest=$(manifest_digest app/multi multi)
  [ "$index_digest" = "sha256:$(printf '%s' "$index" | sha256sum | cut -d' ' -f1)" ]
  podman_run multi "$REGISTRY/app/multi@$index_digest"
  amd64_config=$(manifest_config_digest app/multi amd64)
  config=$(write_config <<EOF
$(check_header)
[[check.expect]]
container = "multi"
image = "$REGISTRY/app/multi:multi@$index_digest"
EOF
)
  run -0 "$READYGATE" check --config "$config" --format json
  summary=$(json_summary)
  echo "$summary"
  [[ "$summary" == *"container multi|$index_digest (linux/amd64 manifest $amd64, config $amd64_config)|running $amd64_config"* ]]

  sed -i 's/^probe_interval/platform = "linux\/arm64"\nprobe_interval/' "$config"
  run -1 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"container multi runs $amd64_config, not the pinned $index_digest"* ]]
}

@test "images: allow_unexpected = false fails for a running container nobody expects" {
  pin=$(push_image app/only v1)
  start_podman # a podman of this test's own, so no other test's container counts
  podman_run only "$REGISTRY/app/only:v1"
  podman_run stray "$REGISTRY/app/only:v1"
  config=$(write_config <<EOF
$(check_header)
allow_unexpected = false
[[check.expect]]
container = "only"
image = "$REGISTRY/app/only@$pin"
EOF
)
  run -1 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"container stray is running ($REGISTRY/app/only:v1) but no expectation names it"* ]]
  TMPDIR="$PODMAN_DIR/tmp" podman rm -f -t 0 stray >/dev/null
  run -0 "$READYGATE" check --config "$config"
  echo "$output"
}

@test "images: a stopped or missing container fails" {
  pin=$(push_image app/stopped v1)
  podman_run stopped "$REGISTRY/app/stopped:v1" true
  for _ in $(seq 50); do
    [ "$(podman inspect -f '{{.State.Status}}' stopped)" = exited ] && break
    sleep 0.1
  done
  config=$(write_config <<EOF
$(check_header)
[[check.expect]]
container = "stopped"
image = "$REGISTRY/app/stopped@$pin"
[[check.expect]]
container = "never-started"
image = "$REGISTRY/app/stopped@$pin"
EOF
)
  run -1 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"container stopped is exited, expected running (and 1 more)"* ]]
  [[ "$output" == *"container never-started: expected $pin, found no container"* ]]
}

@test "images: a missing engine socket is an error" {
  config=$(write_config <<EOF
[[check]]
id = "containers"
kind = "images"
socket = "$BATS_TEST_TMPDIR/no-such.sock"
allow_unexpected = false
EOF
)
  run -2 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"ERROR  containers  images  "*"ms  engine $BATS_TEST_TMPDIR/no-such.sock /version: cannot connect: no such file or directory"* ]]
}

@test "images: a socket readygate may not open (permission denied) is an error" {
  dir="$BATS_TEST_TMPDIR/open"
  mkdir -p "$dir"
  _rg_open_path "$dir"
  chmod 755 "$dir"
  # A socket that only root may connect to: podman's own, reached through a root-only socket.
  start_server "$RG_PYTHON" -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o600); s.listen(1)
while True: time.sleep(60)
' "$dir/engine.sock"
  wait_for_file "$dir/engine.sock"
  cat >"$dir/readygate.toml" <<EOF
[[check]]
id = "containers"
kind = "images"
socket = "$dir/engine.sock"
allow_unexpected = false
EOF
  chmod 644 "$dir/readygate.toml"
  run -2 setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
    "$READYGATE" check --config "$dir/readygate.toml"
  echo "$output"
  [[ "$output" == *"engine $dir/engine.sock /version: cannot connect: permission denied"* ]]
}

@test "images: htpasswd registry: password_file or docker_config; none is an error" {
  start_registry htpasswd
  pin=$(push_image app/basic v1)
  podman_run basic "$REGISTRY/app/basic:v1"
  printf '%s\n' "$REGISTRY_PASSWORD" >"$BATS_TEST_TMPDIR/password"
  chmod 600 "$BATS_TEST_TMPDIR/password"
  expect="[[check.expect]]
container = \"basic\"
image = \"$REGISTRY/app/basic:v1@$pin\""
  config=$(write_config <<EOF
$(check_header)
username = "$REGISTRY_USER"
password_file = "password"
$expect
EOF
)
  run -0 "$READYGATE" check --config "$config"
  echo "$output"

  config=$(write_config <<EOF
$(check_header)
$expect
EOF
)
  run -2 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"registry $REGISTRY: asks for credentials (Basic)"* ]]

  auth=$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASSWORD" | base64 -w0)
  printf '{"auths": {"http://%s": {"auth": "%s"}}}\n' "$REGISTRY" "$auth" >"$BATS_TEST_TMPDIR/config.json"
  chmod 600 "$BATS_TEST_TMPDIR/config.json"
  config=$(write_config <<EOF
$(check_header)
docker_config = "config.json"
$expect
EOF
)
  run -0 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" != *"$REGISTRY_PASSWORD"* ]]
}

@test "images: token registry: anonymous tokens, and tokens for a user's password" {
  start_registry token
  pin=$(push_image app/token v1)
  podman_run token "$REGISTRY/app/token:v1"
  config=$(write_config <<EOF
$(check_header)
[[check.expect]]
container = "token"
image = "$REGISTRY/app/token:v1@$pin"
EOF
)
  run -0 "$READYGATE" check --config "$config"
  echo "$output"
  # readygate asked once (service first; skopeo and podman ask with scope first) for the pin
  # and the three probes: a token is kept while it is valid.
  cat "$TOKEN_LOG"
  [ "$(grep -c '^token /token?service=readygate-test-registry&scope=repository%3Aapp%2Ftoken%3Apull$' "$TOKEN_LOG")" -eq 1 ]

  start_registry token-login
  pin=$(push_image app/login v1)
  podman_run login "$REGISTRY/app/login:v1"
  export RG_TEST_REGISTRY_PASSWORD=$REGISTRY_PASSWORD
  config=$(write_config <<EOF
$(check_header)
username = "$REGISTRY_USER"
password_env = "RG_TEST_REGISTRY_PASSWORD"
[[check.expect]]
container = "login"
image = "$REGISTRY/app/login:v1@$pin"
EOF
)
  run -0 "$READYGATE" check --config "$config"
  echo "$output"
  RG_TEST_REGISTRY_PASSWORD=wrong-password run -2 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"refused the credentials given (401)"* ]]
}

@test "images: a container in a restart loop fails, even caught while it runs" {
  pin=$(push_image app/loop v1)
  # Runs 1.5 s, exits 1, is restarted by podman: between restarts it is "running" with Running
  # true, which is all a single look sees. The check looks again stable_for (2 s) later.
  podman_run_with loop "$REGISTRY/app/loop:v1" --restart always -- sh -c 'sleep 1.5; exit 1'
  status=none
  for _ in $(seq 600); do
    read -r status count <<<"$(TMPDIR="$PODMAN_DIR/tmp" podman inspect -f '{{.State.Status}} {{.RestartCount}}' loop)"
    [ "$status" = running ] && [ "$count" -ge 1 ] && break
    sleep 0.1
  done
  echo "loop: $status after $count restarts"
  [ "$status" = running ]
  config=$(write_config <<EOF
$(check_header)
[[check.expect]]
container = "loop"
image = "$REGISTRY/app/loop@$pin"
EOF
)
  run -1 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"container loop was running, then "*" later, expected running (restarted "* ||
    "$output" == *"container loop restarted "*"): a restart loop"* ||
    "$output" == *"container loop is stopped, expected running (restarted "* ]]
}

@test "images: a paused container is not running, expected or not" {
  pin=$(push_image app/held v1)
  start_podman # a podman of this test's own, so no other test's container counts
  podman_run only "$REGISTRY/app/held:v1"
  podman_run held "$REGISTRY/app/held:v1"
  TMPDIR="$PODMAN_DIR/tmp" podman pause held >/dev/null
  [ "$(TMPDIR="$PODMAN_DIR/tmp" podman inspect -f '{{.State.Status}}' held)" = paused ]
  config=$(write_config <<EOF
$(check_header)
[[check.expect]]
container = "held"
image = "$REGISTRY/app/held@$pin"
EOF
)
  run -1 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"container held is paused, expected running"* ]]

  # Not expected at all: a paused container is still one nobody expects.
  config=$(write_config <<EOF
$(check_header)
allow_unexpected = false
[[check.expect]]
container = "only"
image = "$REGISTRY/app/held@$pin"
EOF
)
  run -1 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"container held is paused ($REGISTRY/app/held:v1) but no expectation names it"* ]]
}

@test "images: unhealthy by its own health check fails; a check still starting is an error" {
  pin=$(push_image app/health v1)
  # podman runs health checks from systemd timers, which this host has not: the test runs each
  # check by hand (`podman healthcheck run`), so every state is reached on purpose. The image
  # has no /bin/sh: the checks are exec forms.
  podman_run_with sick "$REGISTRY/app/health:v1" --health-cmd '["/bin/busybox", "false"]' \
    --health-retries 1 --health-interval 1h -- sleep 3600
  podman_run_with fine "$REGISTRY/app/health:v1" --health-cmd '["/bin/busybox", "true"]' \
    --health-interval 1h -- sleep 3600
  config=$(write_config <<EOF
$(check_header)
[[check.expect]]
container = "sick"
image = "$REGISTRY/app/health@$pin"
[[check.expect]]
container = "fine"
image = "$REGISTRY/app/health@$pin"
EOF
)
  [ "$(TMPDIR="$PODMAN_DIR/tmp" podman inspect -f '{{.State.Health.Status}}' sick)" = starting ]
  run -2 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"container sick: its health check is still starting (not yet healthy); retry = true waits for it"* ]]

  run ! env TMPDIR="$PODMAN_DIR/tmp" podman healthcheck run sick
  TMPDIR="$PODMAN_DIR/tmp" podman healthcheck run fine
  [ "$(TMPDIR="$PODMAN_DIR/tmp" podman inspect -f '{{.State.Health.Status}}' sick)" = unhealthy ]
  run -1 "$READYGATE" check --config "$config" --format json
  summary=$(json_summary)
  echo "$summary"
  [[ "$summary" == "fail|container sick is unhealthy by its own health check (failing streak 1)"* ]]
  [[ "$summary" == *"container sick|"*"|running, unhealthy"* ]]

  config=$(write_config <<EOF
$(check_header)
[[check.expect]]
container = "fine"
image = "$REGISTRY/app/health@$pin"
EOF
)
  run -0 "$READYGATE" check --config "$config" --format json
  summary=$(json_summary)
  echo "$summary"
  [[ "$summary" == *"container fine|"*"|running "*", healthy" ]]
}

@test "images: with retry, a health check that settles healthy while the check waits passes" {
  pin=$(push_image app/settle v1)
  podman_run_with settle "$REGISTRY/app/settle:v1" --health-cmd '["/bin/busybox", "true"]' \
    --health-interval 1h -- sleep 3600
  config=$(write_config <<EOF
[gate]
retry_interval = "300ms"
deadline = "60s"

$(check_header)
retry = true
[[check.expect]]
container = "settle"
image = "$REGISTRY/app/settle@$pin"
EOF
)
  "$READYGATE" check --config "$config" --format json >"$BATS_TEST_TMPDIR/report.json" \
    2>"$BATS_TEST_TMPDIR/stderr" &
  gate=$!
  # The first attempt finds the check starting, and retries: not a pass, not a final error.
  for _ in $(seq 600); do
    grep -q "attempt 1: error: container settle: its health check is still starting" \
      "$BATS_TEST_TMPDIR/stderr" && break
    sleep 0.1
  done
  cat "$BATS_TEST_TMPDIR/stderr"
  grep -q "attempt 1: error: container settle: its health check is still starting" \
    "$BATS_TEST_TMPDIR/stderr"
  kill -0 "$gate" # still waiting for the health check to settle
  TMPDIR="$PODMAN_DIR/tmp" podman healthcheck run settle
  status=0
  wait "$gate" || status=$?
  output=$(cat "$BATS_TEST_TMPDIR/report.json")
  [ "$status" = 0 ]
  summary=$(json_summary)
  echo "$summary"
  [[ "$summary" == "pass|"* ]]
  [[ "$summary" == *"container settle|"*"|running "*", healthy" ]]
  attempts=$("$RG_PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["checks"][0]["attempts"])' "$output")
  echo "attempts: $attempts"
  [ "$attempts" -ge 2 ]
}

@test "images: compose anchors, aliases and merge keys are read as compose reads them" {
  pinned="$REGISTRY/app/db@sha256:$(printf '%064d' 0)"
  cat >"$BATS_TEST_TMPDIR/compose.yaml" <<EOF
x-app-image: &app-image $REGISTRY/app/web:latest
x-defaults: &defaults
  restart: unless-stopped
  logging:
    driver: journald
services:
  web:
    <<: *defaults
    image: *app-image
  worker:
    <<: *defaults
    image: *app-image
    command: ["worker"]
  db:
    image: $pinned
EOF
  config=$(write_config <<EOF
$(check_header)
pinned_refs = ["compose.yaml"]
EOF
)
  run -1 "$READYGATE" check --config "$config" --format json
  summary=$(json_summary)
  echo "$summary"
  # Once, where it is written (the line to change), naming where it is used.
  [[ "$summary" == "fail|$BATS_TEST_TMPDIR/compose.yaml:1: image \"$REGISTRY/app/web:latest\" (anchored here, used at line 9) is not pinned by digest (tag latest)"* ]]
  [ "$(grep -c '|' <<<"$summary")" = 2 ] # the status line and one finding

  # A service's own image wins over a merged one.
  sed -i "s|^    image: \*app-image$|    image: $pinned|" "$BATS_TEST_TMPDIR/compose.yaml"
  cat >>"$BATS_TEST_TMPDIR/compose.yaml" <<EOF
  cache:
    <<: [*defaults, {image: $REGISTRY/app/cache:7}]
    image: $pinned
EOF
  run -0 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"4 references in 1 files pinned by digest"* ]]
}

@test "images: compose variables: nested defaults expand; a required one names what is missing" {
  digest="sha256:$(printf '%064d' 7)"
  cat >"$BATS_TEST_TMPDIR/compose.yaml" <<'EOF'
services:
  web:
    image: ${WEB_IMAGE:-${APP_REGISTRY}/app/web@${WEB_DIGEST}}
  api:
    image: ${API_IMAGE:?set API_IMAGE in release.env}
EOF
  cat >"$BATS_TEST_TMPDIR/release.env" <<EOF
APP_REGISTRY=$REGISTRY
WEB_DIGEST=$digest
EOF
  config=$(write_config <<EOF
$(check_header)
pinned_refs = ["compose.yaml", "release.env"]
EOF
)
  # readygate's own environment is not the deploy's: only the listed files set variables.
  run -2 env API_IMAGE="$REGISTRY/app/api@$digest" "$READYGATE" check --config "$config" \
    --format json
  summary=$(json_summary)
  echo "$summary"
  [[ "$summary" == "error|$BATS_TEST_TMPDIR/compose.yaml:5: image \"\${API_IMAGE:?set API_IMAGE in release.env}\": \${API_IMAGE} is empty or not set by any file of pinned_refs: set API_IMAGE in release.env"* ]]
  [ "$(grep -c '|' <<<"$summary")" = 2 ] # web's nested default expanded to a pinned reference

  echo "API_IMAGE=$REGISTRY/app/api@$digest" >>"$BATS_TEST_TMPDIR/release.env"
  run -0 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"3 references in 2 files pinned by digest"* ]] # API_IMAGE= counts too
}

@test "images: Kubernetes image volumes are read; a Ceph RBD volume's image is not a container image" {
  pinned="$REGISTRY/app/web@sha256:$(printf '%064d' 1)"
  cat >"$BATS_TEST_TMPDIR/deployment.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: $pinned
      containers:
        - name: web
          image: $pinned
          volumeMounts:
            - {name: models, mountPath: /models}
      volumes:
        - name: models
          image:
            reference: $REGISTRY/app/models:v3
            pullPolicy: IfNotPresent
        - name: data
          rbd:
            monitors: ["10.16.154.78:6789"]
            pool: kube
            image: web-data
            fsType: ext4
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: archive
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  rbd:
    monitors: ["10.16.154.78:6789"]
    image: archive-data
EOF
  config=$(write_config <<EOF
$(check_header)
pinned_refs = ["deployment.yaml"]
EOF
)
  run -1 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"$BATS_TEST_TMPDIR/deployment.yaml:19: image \"$REGISTRY/app/models:v3\" is not pinned by digest (tag v3)"* ]]
  [[ "$output" != *"web-data"* ]]
  [[ "$output" != *"archive-data"* ]]

  sed -i "s|reference: $REGISTRY/app/models:v3|reference: $pinned|" "$BATS_TEST_TMPDIR/deployment.yaml"
  run -0 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"3 references in 1 files pinned by digest"* ]]
}

@test "images: an image: that is a mapping (Helm's repository/tag) is an error naming file:line" {
  cat >"$BATS_TEST_TMPDIR/values.yaml" <<EOF
replicaCount: 2
image:
  repository: $REGISTRY/app/web
  tag: "1.4"
  pullPolicy: IfNotPresent
sidecar:
  image: $REGISTRY/app/sidecar@sha256:$(printf '%064d' 2)
EOF
  config=$(write_config <<EOF
$(check_header)
pinned_refs = ["values.yaml"]
EOF
)
  run -2 "$READYGATE" check --config "$config"
  echo "$output"
  [[ "$output" == *"$BATS_TEST_TMPDIR/values.yaml:2: image: is a mapping (repository, tag, pullPolicy), not an image reference"* ]]
}
