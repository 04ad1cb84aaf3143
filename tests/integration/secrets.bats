#!/usr/bin/env bats
# Secrets come from *_env and *_file keys and never appear in any report format or on stderr,
# even when a server echoes them back. Every kind that takes a secret adds its case here.

bats_require_minimum_version 1.5.0

load helpers
load servers

ENV_SECRET="s3cr3t-from-env-4f1c9a"
FILE_SECRET="s3cr3t-from-file-8b2d7e"

setup() {
  ROOT="$BATS_TEST_TMPDIR/root"
  mkdir -p "$ROOT"
  printf '%s\n' "$FILE_SECRET" >"$BATS_TEST_TMPDIR/token"
  chmod 600 "$BATS_TEST_TMPDIR/token"
  export RG_TEST_TOKEN="$ENV_SECRET"
}

teardown() { stop_servers; }

# Fail when `text` holds either secret.
refute_secret() {
  if [[ "$1" == *"$ENV_SECRET"* || "$1" == *"$FILE_SECRET"* ]]; then
    echo "a secret was printed:" >&2
    echo "$1" >&2
    return 1
  fi
}

@test "secrets: http headers from headers_env and headers_file are sent, and never printed" {
  start_http_server "$ROOT"
  # The server echoes the request's headers; the check then fails, on every attempt, so the
  # echoed secrets reach the findings, the retry lines and every report format.
  config=$(write_config <<EOF
[gate]
deadline = "1200ms"
retry_interval = "300ms"

[[check]]
id = "api"
kind = "http"
url = "http://127.0.0.1:$HTTP_PORT/headers"
headers_env = { Authorization = "RG_TEST_TOKEN" }
headers_file = { X-Api-Key = "$BATS_TEST_TMPDIR/token" }
body_contains = "a string that is not there"
retry = true
EOF
)
  for format in human json junit tap prometheus; do
    run --separate-stderr "$READYGATE" check --config "$config" --format "$format"
    echo "$format: $output"
    echo "stderr: $stderr"
    [ "$status" -eq 1 ]
    refute_secret "$output"
    refute_secret "$stderr"
    case $format in
      human | json | tap) [[ "$output" == *"<redacted>"* ]] ;;
      junit) [[ "$output" == *"&lt;redacted&gt;"* ]] ;;
    esac
  done
  # The values did reach the server.
  config=$(write_config <<EOF
[[check]]
id = "api"
kind = "http"
url = "http://127.0.0.1:$HTTP_PORT/headers"
headers_env = { Authorization = "RG_TEST_TOKEN" }
headers_file = { X-Api-Key = "$BATS_TEST_TMPDIR/token" }
body_matches = ['"Authorization": "s3cr3t-from-env-[0-9a-f]+"', '"X-Api-Key": "s3cr3t-from-file-[0-9a-f]+"']
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "secrets: an unset variable or a world-readable file is an error (exit 2) naming the source" {
  start_http_server "$ROOT"
  config=$(write_config <<EOF
[[check]]
id = "api"
kind = "http"
url = "http://127.0.0.1:$HTTP_PORT/headers"
headers_env = { Authorization = "RG_TEST_UNSET_TOKEN" }
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"environment variable RG_TEST_UNSET_TOKEN is not set"* ]]
  chmod 644 "$BATS_TEST_TMPDIR/token"
  config=$(write_config <<EOF
[[check]]
id = "api"
kind = "http"
url = "http://127.0.0.1:$HTTP_PORT/headers"
headers_file = { X-Api-Key = "$BATS_TEST_TMPDIR/token" }
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"readable by every user (mode 0644)"* ]]
  refute_secret "$output"
}

@test "secrets: database DSNs from dsn_env and dsn_file (a wrong password) are never printed" {
  start_postgres
  export RG_TEST_DSN="postgresql://app:$ENV_SECRET@127.0.0.1:$PG_PORT/app"
  printf 'postgresql://app:%s@127.0.0.1:%s/app\n' "$FILE_SECRET" "$PG_PORT" >"$BATS_TEST_TMPDIR/dsn"
  chmod 600 "$BATS_TEST_TMPDIR/dsn"
  config=$(write_config <<EOF
[[check]]
id = "db"
kind = "database"
driver = "postgres"
dsn_env = "RG_TEST_DSN"

[[check]]
id = "schema"
kind = "migrations"
driver = "postgres"
tool = "flyway"
dsn_file = "$BATS_TEST_TMPDIR/dsn"
expected = ["1"]
EOF
)
  for format in human json junit tap prometheus; do
    run --separate-stderr "$READYGATE" check --config "$config" --format "$format"
    echo "$format: $output"
    echo "stderr: $stderr"
    [ "$status" -eq 2 ]
    refute_secret "$output"
    refute_secret "$stderr"
    case $format in
      human | tap) [[ "$output" == *'password authentication failed for user'* ]] ;;
    esac
  done
  # The same DSNs with the right password pass: the secrets did reach the server.
  export RG_TEST_DSN=$PG_DSN
  pg_admin -c "CREATE TABLE flyway_schema_history (installed_rank INT PRIMARY KEY, version VARCHAR(50),
    description VARCHAR(200), type VARCHAR(20), script VARCHAR(1000), checksum INT, success BOOLEAN)" \
    -c "INSERT INTO flyway_schema_history VALUES (1, '1', 'init', 'SQL', 'V1__init.sql', 1, true)" \
    -c "ALTER TABLE flyway_schema_history OWNER TO app"
  printf '%s\n' "$PG_DSN" >"$BATS_TEST_TMPDIR/dsn"
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "secrets: lifecycle never prints the instance profile's credentials, nor writes them" {
  start_aws_fake '{"failures": {"RecordLifecycleActionHeartbeat": ["SignatureDoesNotMatch", "AccessDenied"]}}'
  result="$BATS_TEST_TMPDIR/run/lifecycle.json"
  config=$(write_config <<EOF
[gate]
deadline = "3s"

[lifecycle]
hook_name = "rg-launch-hook"
imds_endpoint = "$AWS_IMDS_URL"
autoscaling_endpoint = "$AWS_API_URL"
heartbeat_interval = "1s"
result_file = "$result"

[[check]]
id = "app"
kind = "command"
argv = ["sh", "-c", "sleep 2; env"]
stdout_contains = "a string that is not there"
EOF
)
  run --separate-stderr "$READYGATE" lifecycle --config "$config"
  echo "stderr: $stderr"
  [ "$status" -eq 1 ]
  outputs=("$output" "$stderr" "$(cat "$result")")
  run --separate-stderr "$READYGATE" lifecycle --config "$config" --dry-run
  [ "$status" -eq 0 ]
  outputs+=("$output" "$stderr")
  # The credentials the fake's IMDS handed out (one set: they last an hour).
  credentials=$("$SYSTEM_PYTHON" - "$AWS_IMDS_URL" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
token = opener.open(urllib.request.Request(
    base + "/latest/api/token", method="PUT",
    headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})).read().decode()
def get(path):
    request = urllib.request.Request(base + "/latest/meta-data/" + path,
                                     headers={"X-aws-ec2-metadata-token": token})
    return opener.open(request).read().decode()
role = get("iam/security-credentials/").strip()
c = json.loads(get("iam/security-credentials/" + role))
print(c["SecretAccessKey"], c["Token"], c["AccessKeyId"], sep="\n")
PY
)
  [ "$(wc -l <<<"$credentials")" -eq 3 ]
  for text in "${outputs[@]}"; do
    while read -r secret; do
      if [[ "$text" == *"$secret"* ]]; then
        echo "a credential was printed: $text" >&2
        return 1
      fi
    done <<<"$credentials"
  done
  # ... and they were the ones that signed every call.
  grep -q "\"access_key\": \"$(tail -1 <<<"$credentials")\"" "$AWS_FAKE_LOG"
  run aws_fake_summary
  echo "$output"
  [ "${lines[0]}" = "RecordLifecycleActionHeartbeat 403 SignatureDoesNotMatch sig=ok" ]
  [[ "$output" == *"RecordLifecycleActionHeartbeat 200 OK sig=ok"* ]]
  [ "${lines[-1]}" = "CompleteLifecycleAction=ABANDON 200 OK sig=ok" ]
}

# An images check on the registry of start_registry with `credentials` (TOML lines), no engine.
images_secret_config() {
  write_config <<EOF
[[check]]
id = "containers"
kind = "images"
socket = "$BATS_TEST_TMPDIR/no-engine.sock"
insecure_registries = ["$REGISTRY"]
probe_interval = "10ms"
$1
[[check.expect]]
container = "web"
image = "$REGISTRY/app/web:v1@$2"
EOF
}

@test "secrets: images registry passwords (password_env, password_file, docker_config) are sent, and never printed" {
  start_registry htpasswd
  pin=$(push_image app/web v1)
  moved=$(push_image app/web v1 "moved after the release")
  # The planted secrets are wrong passwords: the registry refuses them, so its refusal reaches
  # every report format (the engine socket is missing: the check errors on that too).
  auth=$(printf '%s:%s' "$REGISTRY_USER" "$FILE_SECRET" | base64 -w0)
  printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$REGISTRY" "$auth" >"$BATS_TEST_TMPDIR/config.json"
  chmod 600 "$BATS_TEST_TMPDIR/config.json"
  for credentials in "username = \"$REGISTRY_USER\"
password_env = \"RG_TEST_TOKEN\"" "username = \"$REGISTRY_USER\"
password_file = \"$BATS_TEST_TMPDIR/token\"" "docker_config = \"$BATS_TEST_TMPDIR/config.json\""; do
    config=$(images_secret_config "$credentials" "$pin")
    for format in human json junit tap prometheus; do
      run --separate-stderr "$READYGATE" check --config "$config" --format "$format"
      echo "$format: $output"
      echo "stderr: $stderr"
      [ "$status" -eq 2 ]
      refute_secret "$output"
      refute_secret "$stderr"
      case $format in
        human | json | tap) [[ "$output" == *"access denied with the credentials given"* ]] ;;
      esac
    done
  done
  # The right password: the registry answers (the tag moved since the pin: a fail), and that
  # password is not printed either.
  export RG_TEST_REGISTRY_PASSWORD=$REGISTRY_PASSWORD
  config=$(images_secret_config "username = \"$REGISTRY_USER\"
password_env = \"RG_TEST_REGISTRY_PASSWORD\"" "$pin")
  for format in human json junit tap prometheus; do
    run --separate-stderr "$READYGATE" check --config "$config" --format "$format"
    echo "$format: $output"
    [ "$status" -eq 1 ] # a definite fail outranks the missing engine within the check
    [[ "$output" != *"$REGISTRY_PASSWORD"* && "$stderr" != *"$REGISTRY_PASSWORD"* ]]
  done
  run "$READYGATE" check --config "$config"
  [[ "$output" == *"is now $moved"* ]]
}
