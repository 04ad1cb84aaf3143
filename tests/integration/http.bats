#!/usr/bin/env bats
# The http kind through the real binary against the fixture HTTP server on loopback:
# an answer that differs is exit 1, no answer is exit 2.

bats_require_minimum_version 1.5.0

load helpers

setup() {
  ROOT="$BATS_TEST_TMPDIR/root"
  mkdir -p "$ROOT"
  printf 'release 1.2.3\n' >"$ROOT/VERSION"
}

teardown() { stop_servers; }

# Write a config with one http check whose keys are standard input; prints its path.
http_config() {
  { printf '[[check]]\nid = "api"\nkind = "http"\n'; cat; } | write_config
}

@test "http: the expected status and body pass (exit 0)" {
  start_http_server "$ROOT"
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/VERSION"
body_contains = "1.2.3"
body_matches = 'release \d+\.\d+\.\d+'
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"PASS"*"api"* ]]
}

@test "http: another status fails (exit 1) and says what was expected and found" {
  start_http_server "$ROOT"
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/status/503"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"status: expected 200, found 503"* ]]
}

@test "http: another 2xx than the expected status fails (exit 1)" {
  start_http_server "$ROOT"
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/status/204"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"status: expected 200, found 204"* ]]
}

@test "http: a status from the list passes" {
  start_http_server "$ROOT"
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/status/204"
status = [200, 204]
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "http: a body without the release's version fails (exit 1) showing the body" {
  start_http_server "$ROOT"
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/version"
body_contains = '"version": "1.2.3"'
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *'body does not contain "\"version\": \"1.2.3\""'* ]]
  [[ "$output" == *'1.0.0'* ]]
}

@test "http: a pattern is not judged on a body cut at body_limit (exit 2)" {
  start_http_server "$ROOT"
  # 100 "x" kept as 10: '^x{10}$' would match at the cut, though the body is longer.
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/big/100"
body_matches = '^x{10}$'
body_limit = 10
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"body is longer than body_limit (10 bytes)"* ]]
}

@test "http: a header that differs fails (exit 1)" {
  start_http_server "$ROOT"
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/version"
expect_headers = { Content-Type = "text/html" }
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"header content-type: expected text/html, found application/json"* ]]
}

@test "http: --format json carries the finding" {
  start_http_server "$ROOT"
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/status/503"
EOF
)
  run "$READYGATE" check --config "$config" --format json
  echo "$output"
  [ "$status" -eq 1 ]
  assert_json_finding fail 'status' '200' '503'
}

@test "http: a server that is down is an error (exit 2)" {
  port=$(free_port)
  config=$(http_config <<EOF
url = "http://127.0.0.1:$port/health"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"http://127.0.0.1:$port/health: "*"(connection refused)"* ]]
}

@test "http: an answer slower than the check's timeout is an error (exit 2), on time" {
  start_http_server "$ROOT"
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/slow/10000"
timeout = "500ms"
EOF
)
  started=$(date +%s%N)
  run "$READYGATE" check --config "$config"
  elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
  echo "$output"
  echo "took ${elapsed_ms} ms"
  [ "$status" -eq 2 ]
  [ "$elapsed_ms" -lt 3000 ]
}

@test "http: redirects are followed only with follow_redirects" {
  start_http_server "$ROOT"
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/redirect"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"found 302"* ]]
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/redirect"
follow_redirects = true
body_contains = "1.0.0"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "http: talks to a server on a unix socket" {
  require_program python3
  socket="$BATS_TEST_TMPDIR/api.sock"
  start_server python3 "$FIXTURES/http_server.py" --unix-socket "$socket" --root "$ROOT" \
    --version-string 2.0.0 --ready-file "$BATS_TEST_TMPDIR/ready"
  for _ in $(seq 200); do [ -e "$BATS_TEST_TMPDIR/ready" ] && break; sleep 0.05; done
  [ -e "$BATS_TEST_TMPDIR/ready" ]
  config=$(http_config <<EOF
url = "http://localhost/version"
unix_socket = "$socket"
body_contains = "2.0.0"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "http: file:// passes on an existing file's content, fails on a missing file" {
  config=$(http_config <<EOF
url = "file://$ROOT/VERSION"
body_contains = "1.2.3"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
  config=$(http_config <<EOF
url = "file://$ROOT/MISSING"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"$ROOT/MISSING: expected exists, found missing"* ]]
}

@test "http: file:// naming a fifo fails at once (exit 1) instead of blocking past the timeout" {
  mkfifo "$ROOT/VERSION.fifo"
  config=$(http_config <<EOF
url = "file://$ROOT/VERSION.fifo"
body_contains = "1.2.3"
timeout = "3s"
EOF
)
  SECONDS=0
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"$ROOT/VERSION.fifo: expected a file, found a fifo"* ]]
  [ "$SECONDS" -lt 2 ]
}

@test "http: a certificate that does not verify fails (exit 1); tls_verify = false or ca_file accept it" {
  require_program openssl
  require_program python3
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$BATS_TEST_TMPDIR/key.pem" -out "$BATS_TEST_TMPDIR/cert.pem" 2>/dev/null
  port=$(free_port)
  start_server python3 "$FIXTURES/http_server.py" --port "$port" --root "$ROOT" \
    --tls-cert "$BATS_TEST_TMPDIR/cert.pem" --tls-key "$BATS_TEST_TMPDIR/key.pem"
  wait_for_port "$port"
  config=$(http_config <<EOF
url = "https://127.0.0.1:$port/version"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"tls verification failed"* ]]
  config=$(http_config <<EOF
url = "https://127.0.0.1:$port/version"
tls_verify = false
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
  config=$(http_config <<EOF
url = "https://127.0.0.1:$port/version"
ca_file = "$BATS_TEST_TMPDIR/cert.pem"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "http: a bad key is a configuration error (exit 78) naming it" {
  config=$(http_config <<'EOF'
url = "http://127.0.0.1:1/"
body_matches = "v(1"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 78 ]
  [[ "$output" == *'key "body_matches": invalid regular expression "v(1"'* ]]
  config=$(http_config <<'EOF'
url = "http://deploy:s3cret@127.0.0.1:1/"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 78 ]
  [[ "$output" != *"s3cret"* ]]
}

@test "http: proxy variables in the environment are never used; only an explicit proxy is" {
  # A site-wide proxy that answers every request itself, with what the check wants to see.
  proxy_port=$(free_port)
  start_server python3 "$FIXTURES/http_server.py" --port "$proxy_port" \
    --answer-everything '{"version": "1.2.3"}'
  wait_for_port "$proxy_port"
  dead_port=$(free_port) # the application is down
  config=$(http_config <<EOF
url = "http://127.0.0.1:$dead_port/version"
body_contains = "1.2.3"
EOF
)
  for variable in http_proxy HTTP_PROXY https_proxy ALL_PROXY all_proxy; do
    run env "$variable=http://127.0.0.1:$proxy_port" no_proxy= NO_PROXY= \
      "$READYGATE" check --config "$config"
    echo "$variable: $output"
    [ "$status" -eq 2 ]
    [[ "$output" == *"127.0.0.1:$dead_port"* ]]
  done
  # The same proxy named by the check itself is used.
  config=$(http_config <<EOF
url = "http://127.0.0.1:$dead_port/version"
body_contains = "1.2.3"
proxy = "http://127.0.0.1:$proxy_port"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
}

# Make a CA and, for each name, a certificate it signs: $BATS_TEST_TMPDIR/<name>.{pem,key}.
make_certificates() {
  local dir=$BATS_TEST_TMPDIR name san
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=readygate-test-ca \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  for name in "$@"; do
    case $name in
      127.0.0.1) san=IP:127.0.0.1 ;;
      *) san=DNS:$name ;;
    esac
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$dir/$name.key" \
      -out "$dir/$name.csr" 2>/dev/null
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 2 -extfile <(printf 'subjectAltName=%s\n' "$san") \
      -out "$dir/$name.pem" 2>/dev/null
  done
}

@test "http: a Host header on https names the virtual host in SNI and in the certificate check" {
  require_program openssl
  make_certificates 127.0.0.1 www.example.com other.example.com
  dir=$BATS_TEST_TMPDIR
  # Right: www.example.com gets its own certificate.
  good=$(free_port)
  start_server python3 "$FIXTURES/http_server.py" --port "$good" --root "$ROOT" \
    --tls-cert "$dir/127.0.0.1.pem" --tls-key "$dir/127.0.0.1.key" \
    --sni "www.example.com=$dir/www.example.com.pem:$dir/www.example.com.key"
  # Wrong: the virtual host's certificate was never deployed; the address's certificate is valid.
  bad=$(free_port)
  start_server python3 "$FIXTURES/http_server.py" --port "$bad" --root "$ROOT" \
    --tls-cert "$dir/127.0.0.1.pem" --tls-key "$dir/127.0.0.1.key" \
    --sni "other.example.com=$dir/other.example.com.pem:$dir/other.example.com.key"
  wait_for_port "$good"
  wait_for_port "$bad"
  for port in "$good" "$bad"; do
    config=$(http_config <<EOF
url = "https://127.0.0.1:$port/version"
headers = { Host = "www.example.com" }
ca_file = "$dir/ca.pem"
EOF
)
    run "$READYGATE" check --config "$config"
    echo "$output"
    if [ "$port" = "$good" ]; then
      [ "$status" -eq 0 ]
    else
      [ "$status" -eq 1 ]
      [[ "$output" == *"tls verification failed"* ]]
    fi
  done
}

@test "http: response trailers are not headers of the response" {
  start_http_server "$ROOT"
  config=$(http_config <<EOF
url = "http://127.0.0.1:$HTTP_PORT/trailer"
expect_headers = { X-Release = "9.9.9" }
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 1 ]
  [[ "$output" == *"header x-release: expected 9.9.9, found (missing)"* ]]
}

@test "http: a redirect to another origin carries none of the configured headers" {
  start_http_server "$ROOT"
  first=$HTTP_PORT
  start_http_server "$ROOT"
  other=$HTTP_PORT
  # Same origin: the headers go along. Another origin (another port): none of them does.
  config=$(http_config <<EOF
url = "http://127.0.0.1:$first/redirect-to?/headers"
headers = { X-Api-Key = "k-123", Authorization = "Bearer t-456" }
follow_redirects = true
body_contains = ["k-123", "t-456"]
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
  config=$(http_config <<EOF
url = "http://127.0.0.1:$first/redirect-to?http://127.0.0.1:$other/headers"
headers = { X-Api-Key = "k-123", Authorization = "Bearer t-456" }
follow_redirects = true
body_matches = '^(?!.*(k-123|t-456))'
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "http: server bytes reach the terminal and the journal escaped, in reports and retry lines" {
  start_http_server "$ROOT"
  config=$(write_config <<EOF
[gate]
deadline = "1500ms"
retry_interval = "300ms"

[[check]]
id = "api"
kind = "http"
url = "http://127.0.0.1:$HTTP_PORT/evil-header"
expect_headers = { X-Evil = "nothing evil" }
retry = true
EOF
)
  run --separate-stderr "$READYGATE" check --config "$config"
  echo "stdout: $output"
  echo "stderr: $stderr"
  [ "$status" -eq 1 ]
  [[ "$stderr" == *"retrying"* ]]
  [[ "$stderr" == *'x\x1b[2K\r\x1b[32mPASS\x1b[0m \u202egnp'* ]]
  [[ "$output" == *'x\x1b[2K\r\x1b[32mPASS\x1b[0m \u202egnp'* ]]
  ! grep -q $'\x1b' <<<"$output$stderr"
  ! grep -q $'\r' <<<"$output$stderr"
  ! grep -q $'\u202e' <<<"$output$stderr"
}
