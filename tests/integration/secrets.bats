#!/usr/bin/env bats
# Secrets come from *_env and *_file keys and never appear in any report format or on stderr,
# even when a server echoes them back. Every kind that takes a secret adds its case here.

bats_require_minimum_version 1.5.0

load helpers
load servers

# The planted secrets: between a marker prefix and a suffix refute_secret looks for, what escaping
# and encoding change (a quote, a backslash, a tab, a space, '&', '<', '+', '%', '/', ';'). The
# database's carry no tab: PostgreSQL turns one in application_name into '?'.
ENV_SECRET=$'s3cr3t-env "q" \\ \t&<+%/;-4f1c9a'
FILE_SECRET=$'s3cr3t-file "q" \\ \t&<+%/;-8b2d7e'
DB_ENV_SECRET='s3cr3t-dbenv "q" \ &<+%/;-4f1c9a'
DB_FILE_SECRET='s3cr3t-dbfile "q" \ &<+%/;-8b2d7e'
REGISTRY_USER_NAME=reader

setup() {
  ROOT="$BATS_TEST_TMPDIR/root"
  mkdir -p "$ROOT"
  printf '%s\n' "$FILE_SECRET" >"$BATS_TEST_TMPDIR/token"
  chmod 600 "$BATS_TEST_TMPDIR/token"
  export RG_TEST_TOKEN="$ENV_SECRET"
  # Forms of the secrets refute_secret also looks for: the base64 Basic authentication sends.
  SECRET_FORMS=()
  for secret in "$ENV_SECRET" "$FILE_SECRET"; do
    SECRET_FORMS+=("$(printf '%s:%s' "$REGISTRY_USER_NAME" "$secret" | base64 -w0)")
  done
}

teardown() { stop_servers; }

# Fail when `text` shows a secret, whole, in part (the markers at either end) or in a known form;
# `where` names the output.
refute_secret() {
  local where=$1 text=$2 form
  for form in s3cr3t 4f1c9a 8b2d7e "${SECRET_FORMS[@]}"; do
    if [[ "$text" == *"$form"* ]]; then
      echo "$where shows a secret ($form):" >&2
      echo "$text" >&2
      return 1
    fi
  done
}

# Print `text` percent-encoded (every byte but unreserved ones), as a URL's userinfo holds it.
urlencode() {
  "$RG_PYTHON" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}

# Print "kind key type" for every key whose kind's key table marks it secret, as
# `readygate help KIND` shows them ("names a secret"): the list the tests below go through, so a
# secret key added to a table is tested here or fails the first test.
secret_keys() {
  local kind
  for kind in $("$READYGATE" help | sed -n '/^check kinds/,/^$/p' | awk 'NR > 1 && NF { print $1 }'); do
    "$READYGATE" help "$kind" |
      awk '/^keys of every check/ { exit } /names a secret/ { print }' |
      sed -E "s/^  ([a-z_]+) +([a-z ]+) \(.*/$kind \1 \2/"
  done
}

# --- One scenario per secret key: `scenario_<kind>_<key>` writes $SCENARIO, a config whose checks
# --- get the secret back from a real server or command (as sent, percent-encoded, JSON- and
# --- XML-escaped, across the 200-byte excerpt limit) and fail; sets SCENARIO_STATUS (the exit).

# The fixture HTTP server's /reflect echoes the secret header in each form, in the body and raw in
# a response header (the header check retries, so the echo reaches stderr's retry lines too).
http_scenario() {
  local source=$1 header=$2 form pad
  [ -n "${HTTP_PORT:-}" ] || start_http_server "$ROOT"
  local base="http://127.0.0.1:$HTTP_PORT/reflect?header=$header"
  {
    printf '[gate]\ndeadline = "1500ms"\nretry_interval = "300ms"\n'
    for form in raw json percent percent-lower form xml; do
      pad=0
      [ "$form" = raw ] && pad=190 # the secret starts 10 bytes before the excerpt's limit
      printf '\n[[check]]\nid = "echo-%s"\nkind = "http"\nurl = "%s&as=%s&pad=%s"\n%s\nbody_contains = "absent"\n' \
        "$form" "$base" "$form" "$pad" "$source"
    done
    printf '\n[[check]]\nid = "echo-header"\nkind = "http"\nurl = "%s"\n%s\nexpect_headers = { x-reflect = "absent" }\nretry = true\n' \
      "$base" "$source"
  } >"$SCENARIO"
  SCENARIO_STATUS=1
}
scenario_http_headers_env() { http_scenario 'headers_env = { Authorization = "RG_TEST_TOKEN" }' Authorization; }
scenario_http_headers_file() {
  http_scenario "headers_file = { X-Api-Key = \"$BATS_TEST_TMPDIR/token\" }" X-Api-Key
}

# PostgreSQL echoes the password: app's password is the planted secret, the DSN sets it as
# application_name too, and the queries read it back as is, padded across the excerpt's limit,
# in JSON and in XML.
database_scenario() {
  local source=$1 secret=$2
  [ -n "${PG_PORT:-}" ] || start_postgres
  pg_admin -v pw="$secret" <<<"ALTER ROLE app PASSWORD :'pw';"
  local encoded
  encoded=$(urlencode "$secret")
  DSN="postgresql://app:$encoded@127.0.0.1:$PG_PORT/app?application_name=$encoded"
  local name query expect
  {
    for name in equals cut json xml; do
      case $name in
        equals) query="SELECT current_setting('application_name')" expect='expect = "absent"' ;;
        cut) query="SELECT repeat('x', 190) || current_setting('application_name')" expect="expect_matches = '^absent\$'" ;;
        json) query="SELECT json_build_object('name', current_setting('application_name'))::text" expect='expect = "absent"' ;;
        xml) query="SELECT xmlelement(name a, current_setting('application_name'))::text" expect='expect = "absent"' ;;
      esac
      printf '\n[[check]]\nid = "db-%s"\nkind = "database"\ndriver = "postgres"\n%s\nquery = "%s"\n%s\n' \
        "$name" "$source" "$query" "$expect"
    done
  } >"$SCENARIO"
  SCENARIO_STATUS=1
}
scenario_database_dsn_env() {
  database_scenario 'dsn_env = "RG_TEST_DSN"' "$DB_ENV_SECRET"
  export RG_TEST_DSN=$DSN
}
scenario_database_dsn_file() {
  database_scenario "dsn_file = \"$BATS_TEST_TMPDIR/dsn\"" "$DB_FILE_SECRET"
  printf '%s\n' "$DSN" >"$BATS_TEST_TMPDIR/dsn"
  chmod 600 "$BATS_TEST_TMPDIR/dsn"
}

# A migrations status command (driver = "command") gets the DSN in DATABASE_URL and prints it, or
# its password, in each form.
migrations_scenario() {
  local source=$1 secret=$2
  DSN="postgresql://app:$(urlencode "$secret")@db.invalid:5432/app"
  cat >"$BATS_TEST_TMPDIR/echo_dsn.py" <<'PY'
import html, json, os, sys, urllib.parse
dsn = os.environ["DATABASE_URL"]
password = urllib.parse.unquote(urllib.parse.urlsplit(dsn).password)
form = sys.argv[1]
text = {
    "dsn-cut": dsn,
    "password": password,
    "password-json": json.dumps(password),
    "dsn-percent": urllib.parse.quote(dsn, safe=""),
    "password-xml": html.escape(password),
}[form]
# dsn-cut: the excerpt's 200-byte limit falls 10 bytes into the password.
pad = 200 - 10 - dsn.index("s3cr3t") if form == "dsn-cut" else 0
print("x" * pad + text)
PY
  local form
  for form in dsn-cut password password-json dsn-percent password-xml; do
    printf '\n[[check]]\nid = "status-%s"\nkind = "migrations"\ndriver = "command"\ntool = "django"\nargv = ["%s", "%s", "%s"]\n%s\nstdout_contains = "absent"\n' \
      "$form" "$RG_PYTHON" "$BATS_TEST_TMPDIR/echo_dsn.py" "$form" "$source"
  done >"$SCENARIO"
  SCENARIO_STATUS=1
}
scenario_migrations_dsn_env() {
  migrations_scenario 'dsn_env = "RG_TEST_DSN"' "$ENV_SECRET"
  export RG_TEST_DSN=$DSN
}
scenario_migrations_dsn_file() {
  migrations_scenario "dsn_file = \"$BATS_TEST_TMPDIR/dsn\"" "$FILE_SECRET"
  printf '%s\n' "$DSN" >"$BATS_TEST_TMPDIR/dsn"
  chmod 600 "$BATS_TEST_TMPDIR/dsn"
}

# A registry that echoes the credentials it gets: the Authorization header (base64 of
# user:password), then the password, across the 120 bytes its message is shown in. No engine
# runs either: the check is an error.
images_scenario() {
  local credentials=$1
  if [ -z "${ECHO_REGISTRY:-}" ]; then
    local port
    port=$(free_port)
    start_server "$RG_PYTHON" "$FIXTURES/http_server.py" --port "$port" --root "$ROOT" --registry-echo
    wait_for_port "$port"
    ECHO_REGISTRY="127.0.0.1:$port"
  fi
  cat >"$SCENARIO" <<EOF
[[check]]
id = "containers"
kind = "images"
socket = "$BATS_TEST_TMPDIR/no-engine.sock"
insecure_registries = ["$ECHO_REGISTRY"]
probes = 1
$credentials
[[check.expect]]
container = "web"
image = "$ECHO_REGISTRY/app/web:v1@sha256:$(printf '%064d' 0)"
EOF
  SCENARIO_STATUS=2
}
scenario_images_password_env() {
  images_scenario "username = \"$REGISTRY_USER_NAME\"
password_env = \"RG_TEST_TOKEN\""
}
scenario_images_password_file() {
  images_scenario "username = \"$REGISTRY_USER_NAME\"
password_file = \"$BATS_TEST_TMPDIR/token\""
}
scenario_images_docker_config() {
  images_scenario "docker_config = \"$BATS_TEST_TMPDIR/config.json\""
  local auth
  auth=$(printf '%s:%s' "$REGISTRY_USER_NAME" "$FILE_SECRET" | base64 -w0)
  printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$ECHO_REGISTRY" "$auth" >"$BATS_TEST_TMPDIR/config.json"
  chmod 600 "$BATS_TEST_TMPDIR/config.json"
}

# Run $SCENARIO through every output: each report format of `check` and its stderr, `serve`'s
# /report (and its other endpoints and log), `lifecycle`'s stdout, stderr and result_file (which
# must be 0600). Each must show "<redacted>" where an echo was, and no secret.
assert_no_output_shows_a_secret() {
  local label=$1 format
  for format in human json junit tap prometheus; do
    run --separate-stderr "$READYGATE" check --config "$SCENARIO" --format "$format"
    echo "$label, $format: $output"
    echo "stderr: $stderr"
    [ "$status" -eq "$SCENARIO_STATUS" ]
    refute_secret "$label: check --format $format" "$output"
    refute_secret "$label: check --format $format, stderr" "$stderr"
    case $format in
      human | json | tap) [[ "$output" == *"<redacted>"* ]] ;;
      junit) [[ "$output" == *"&lt;redacted&gt;"* ]] ;;
    esac
  done

  local port url body i
  port=$(free_port)
  url="http://127.0.0.1:$port"
  start_server "$READYGATE" serve --config "$SCENARIO" --listen "127.0.0.1:$port"
  local serve_pid=$RG_SERVER_PID serve_log=$RG_SERVER_LOG
  wait_for_port "$port"
  for ((i = 0; i < 200; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "$url/report")" = 200 ] && break
    sleep 0.1
  done
  body=$(curl -s --noproxy '*' "$url/report")
  echo "$label, /report: $body"
  refute_secret "$label: serve /report" "$body"
  [[ "$body" == *"<redacted>"* ]]
  for endpoint in "/healthz?format=json" /healthz /azure /metrics; do
    refute_secret "$label: serve $endpoint" "$(curl -s --noproxy '*' "$url$endpoint")"
  done
  kill -TERM "$serve_pid"
  refute_secret "$label: serve's log" "$(cat "$serve_log")"

  start_aws_fake # a new one: each completes its one lifecycle action once
  local result="$BATS_TEST_TMPDIR/run/lifecycle.json"
  rm -f "$result"
  cp "$SCENARIO" "$SCENARIO.lifecycle"
  cat >>"$SCENARIO.lifecycle" <<EOF

[lifecycle]
hook_name = "rg-launch-hook"
imds_endpoint = "$AWS_IMDS_URL"
autoscaling_endpoint = "$AWS_API_URL"
result_file = "$result"
EOF
  run --separate-stderr "$READYGATE" lifecycle --config "$SCENARIO.lifecycle"
  echo "$label, lifecycle: $output"
  echo "stderr: $stderr"
  [ "$status" -eq "$SCENARIO_STATUS" ]
  refute_secret "$label: lifecycle" "$output"
  refute_secret "$label: lifecycle, stderr" "$stderr"
  refute_secret "$label: result_file" "$(cat "$result")"
  [[ "$(cat "$result")" == *"<redacted>"* ]]
  [ "$(stat -c %a "$result")" = 600 ]
}

# Run the scenario of every secret key of `kind` through every output.
assert_kind_never_shows_its_secrets() {
  local kind=$1 key count=0
  SCENARIO="$BATS_TEST_TMPDIR/scenario.toml"
  while read -r key; do
    "scenario_${kind}_${key}"
    assert_no_output_shows_a_secret "$kind.$key"
    count=$((count + 1))
  done < <(secret_keys | awk -v kind="$kind" '$1 == kind { print $2 }')
  [ "$count" -gt 0 ]
}

# The kinds the tests below cover, each with a test of its own.
TESTED_KINDS="database http images migrations"

@test "secrets: every key a key table marks secret has a scenario here, and its kind a test" {
  run secret_keys
  echo "$output"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -ge 9 ]
  local kind key type
  while read -r kind key type; do
    declare -F "scenario_${kind}_${key}" >/dev/null || {
      echo "no scenario_${kind}_${key} in secrets.bats for the secret key $kind.$key" >&2
      return 1
    }
    [[ " $TESTED_KINDS " == *" $kind "* ]] || {
      echo "no test runs the secret keys of $kind: add it to TESTED_KINDS, with a test" >&2
      return 1
    }
  done <<<"$output"
}

@test "secrets: http's secret headers, echoed in any form, are in no output (reports, stderr, /report, result_file)" {
  assert_kind_never_shows_its_secrets http
}

@test "secrets: database DSNs, their password echoed by PostgreSQL in any form, are in no output" {
  assert_kind_never_shows_its_secrets database
}

@test "secrets: migrations DSNs, echoed by a status command in any form, are in no output" {
  assert_kind_never_shows_its_secrets migrations
}

@test "secrets: images registry credentials, echoed by a registry (the password, Basic's base64), are in no output" {
  assert_kind_never_shows_its_secrets images
}

# Print a config line setting `key` (of `type`, as help writes it) to `value`.
secret_key_line() {
  local key=$1 type=$2 value=$3
  case $type in
    "table of strings") printf '%s = { Authorization = "%s" }\n' "$key" "$value" ;;
    *) printf '%s = "%s"\n' "$key" "$value" ;;
  esac
}

@test "secrets: a secret written where a variable's name or a file's path belongs is a config error (78) that does not show it" {
  local kind key type value minimal count=0
  while read -r kind key type; do
    case $kind in
      database) minimal='driver = "postgres"' ;;
      migrations) minimal=$'driver = "postgres"\ntool = "flyway"\nexpected = ["1"]' ;;
      http) minimal='url = "http://127.0.0.1:9/"' ;;
      images) minimal=$'pinned_refs = "/nonexistent/compose.yaml"\nusername = "u"' ;;
      *)
        echo "no minimal config for the kind $kind here" >&2
        return 1
        ;;
    esac
    [ "$key" = docker_config ] && minimal='pinned_refs = "/nonexistent/compose.yaml"'
    local values=("postgresql://app:s3cr3t-dsn-4f1c9a@db.internal:5432/app"
      "host=db.internal user=app password=s3cr3t-kv-4f1c9a")
    case $key in
      *_env) values+=("xoxb-s3cr3t-token-4f1c9a" "Bearer s3cr3t.jwt-4f1c9a") ;;
      *) values+=("Bearer s3cr3t-token-4f1c9a") ;;
    esac
    for value in "${values[@]}"; do
      # The key on line 4, for the position the error must name.
      config=$(write_config <<EOF
[[check]]
id = "k"
kind = "$kind"
$(secret_key_line "$key" "$type" "$value")
$minimal
EOF
)
      for command in "check" "config validate"; do
        run --separate-stderr "$READYGATE" $command --config "$config"
        echo "$kind.$key = $value, $command: $status: $output / $stderr"
        [ "$status" -eq 78 ]
        refute_secret "$kind.$key, $command" "$output$stderr"
        [[ "$stderr" == *"readygate.toml:4:"*"key \"$key\": "*"not shown"* ]]
      done
      count=$((count + 1))
    done
  done < <(secret_keys)
  [ "$count" -ge 27 ]
}

@test "secrets: lifecycle's result_file is made 0600 whatever the umask, replacing a wider file or a symlink, never through it" {
  start_aws_fake
  result="$BATS_TEST_TMPDIR/run/lifecycle.json"
  mkdir -p "$BATS_TEST_TMPDIR/run"
  config=$(write_config <<EOF
[lifecycle]
hook_name = "rg-launch-hook"
imds_endpoint = "$AWS_IMDS_URL"
autoscaling_endpoint = "$AWS_API_URL"
result_file = "$result"

[[check]]
id = "app"
kind = "command"
argv = ["true"]
EOF
)
  # A file there already, readable by everyone.
  echo old >"$result"
  chmod 644 "$result"
  run bash -c 'umask 000 && exec "$0" lifecycle --config "$1"' "$READYGATE" "$config"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(stat -c %a "$result")" = 600 ]
  grep -q '"result":"CONTINUE"' "$result"
  # A symlink there: replaced by the new file, its target untouched.
  start_aws_fake
  config=$(write_config <<EOF
[lifecycle]
hook_name = "rg-launch-hook"
imds_endpoint = "$AWS_IMDS_URL"
autoscaling_endpoint = "$AWS_API_URL"
result_file = "$result"

[[check]]
id = "app"
kind = "command"
argv = ["true"]
EOF
)
  echo kept >"$BATS_TEST_TMPDIR/elsewhere"
  chmod 644 "$BATS_TEST_TMPDIR/elsewhere"
  rm "$result"
  ln -s "$BATS_TEST_TMPDIR/elsewhere" "$result"
  run "$READYGATE" lifecycle --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
  [ ! -L "$result" ]
  [ "$(stat -c %a "$result")" = 600 ]
  grep -q '"result":"CONTINUE"' "$result"
  [ "$(cat "$BATS_TEST_TMPDIR/elsewhere")" = kept ]
  [ "$(stat -c %a "$BATS_TEST_TMPDIR/elsewhere")" = 644 ]
}

@test "secrets: http secret headers from headers_env and headers_file reach the server" {
  start_http_server "$ROOT"
  config=$(write_config <<EOF
[[check]]
id = "api"
kind = "http"
url = "http://127.0.0.1:$HTTP_PORT/headers"
headers_env = { Authorization = "RG_TEST_TOKEN" }
headers_file = { X-Api-Key = "$BATS_TEST_TMPDIR/token" }
body_matches = ['"Authorization": "s3cr3t-env \\\\"q\\\\" \\\\\\\\ \\\\t&<\\+%/;-4f1c9a"', '"X-Api-Key": "s3cr3t-file \\\\"q\\\\" \\\\\\\\ \\\\t&<\\+%/;-8b2d7e"']
EOF
)
  # The server's JSON has them escaped: s3cr3t-env \"q\" \\ \t&<+%/;-4f1c9a
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
  refute_secret "check" "$output"
}

@test "secrets: database DSNs from dsn_env and dsn_file (a wrong password) are never printed" {
  start_postgres
  export RG_TEST_DSN="postgresql://app:$(urlencode "$ENV_SECRET")@127.0.0.1:$PG_PORT/app"
  printf 'postgresql://app:%s@127.0.0.1:%s/app\n' "$(urlencode "$FILE_SECRET")" "$PG_PORT" \
    >"$BATS_TEST_TMPDIR/dsn"
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
    refute_secret "$format" "$output"
    refute_secret "$format, stderr" "$stderr"
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
      refute_secret "$format" "$output"
      refute_secret "$format, stderr" "$stderr"
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
