#!/usr/bin/env bats
# The servers of servers.bash start, answer, and stop: one real request each, so a suite that
# uses them fails here first when a package or a host quirk breaks one. The time each start
# takes is printed (bats --tap shows it as a `#` line).

load helpers
load servers

# PostgreSQL and MariaDB are shared by the tests of this file (their tests call require_shared),
# as later suites will do.
setup_file() {
  timed "postgres: initdb + start + role and database" start_shared start_postgres
  timed "mariadb: install-db + start + user and database" start_shared start_mariadb
}

teardown_file() { stop_servers; }

teardown() { stop_servers; }

# Run `command...` and print how long it took, labelled `what`, to the TAP stream.
timed() {
  local what=$1 started
  shift
  started=$(date +%s%N)
  "$@"
  echo "# $what: $(( ($(date +%s%N) - started) / 1000000 )) ms" >&3
}

@test "servers: nginx serves a file from its root, workers as www-data" {
  timed "nginx start" start_nginx
  printf 'release 1.2.3\n' >"$NGINX_ROOT/VERSION"
  run curl -sf "http://127.0.0.1:$NGINX_PORT/VERSION"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "release 1.2.3" ]
  run nginx -t -p "$NGINX_PREFIX" -c "$NGINX_CONF" -e "$NGINX_ERROR_LOG"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"test is successful"* ]]
  [ "$(ps -o user= --ppid "$(cat "$NGINX_PREFIX/logs/nginx.pid")")" = www-data ]
}

@test "servers: nginx runs a site a test wrote (TLS with a self-signed certificate)" {
  nginx_prepare
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=app.test -addext subjectAltName=DNS:app.test \
    -keyout "$NGINX_PREFIX/conf/app.key" -out "$NGINX_PREFIX/conf/app.crt" 2>/dev/null
  cat >"$NGINX_SITE" <<EOF
server {
  listen 127.0.0.1:$NGINX_PORT ssl;
  server_name app.test;
  ssl_certificate $NGINX_PREFIX/conf/app.crt;
  ssl_certificate_key $NGINX_PREFIX/conf/app.key;
  location = /health { return 200 "app ok\n"; }
}
EOF
  timed "nginx start (TLS site)" start_nginx
  run curl -sf --cacert "$NGINX_PREFIX/conf/app.crt" --resolve "app.test:$NGINX_PORT:127.0.0.1" \
    "https://app.test:$NGINX_PORT/health"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "app ok" ]
}

@test "servers: apache2 serves a file with no /etc/apache2, and apache2ctl -S reads its config" {
  timed "apache2 start" start_apache
  printf 'release 1.2.3\n' >"$APACHE_ROOT/VERSION"
  run curl -sf "http://127.0.0.1:$APACHE_PORT/VERSION"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "release 1.2.3" ]
  # APACHE_CONFDIR is exported: Debian's apache2ctl sources $APACHE_DIR/envvars, adds -d.
  run apache2ctl -S
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"127.0.0.1:$APACHE_PORT"*"localhost ($APACHE_SITE:2)"* ]]
  [[ "$output" == *"ServerRoot: \"$APACHE_DIR\""* ]]
  run apache2 -d "$APACHE_DIR" -t -D DUMP_INCLUDES
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"$APACHE_SITE"* ]]
}

@test "servers: haproxy proxies to the fixture HTTP server and answers its own health path" {
  ROOT="$BATS_TEST_TMPDIR/root"
  mkdir -p "$ROOT"
  printf 'release 1.2.3\n' >"$ROOT/VERSION"
  start_http_server "$ROOT"
  timed "haproxy start" start_haproxy "127.0.0.1:$HTTP_PORT"
  run curl -sf "http://127.0.0.1:$HAPROXY_PORT/VERSION"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "release 1.2.3" ]
  [ "$(curl -sf "http://127.0.0.1:$HAPROXY_PORT/haproxy-health")" = "haproxy ok" ]
  run haproxy -c -f "$HAPROXY_CONF"
  [ "$status" -eq 0 ]
}

@test "servers: postgres (shared by the file) answers SELECT 1 to the DSN's user and password" {
  require_shared
  run psql -X -tA "$PG_DSN" -c 'SELECT 1, current_user, current_database()'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "1|app|app" ]
  run psql -X -tA "postgresql://$PG_USER:wrong@127.0.0.1:$PG_PORT/$PG_DATABASE" -c 'SELECT 1'
  echo "$output"
  [ "$status" -ne 0 ]
  [[ "$output" == *'password authentication failed for user "app"'* ]]
}

@test "servers: postgres with md5 passwords, started by the test" {
  timed "postgres start (md5)" start_postgres md5
  [ "$(pg_admin -tA -c "SELECT substr(rolpassword, 1, 3) FROM pg_authid WHERE rolname = 'app'")" = md5 ]
  run psql -X -tA "$PG_DSN" -c 'SELECT 1'
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = 1 ]
}

@test "servers: mariadb (shared by the file) answers SELECT 1 to the DSN's user and password" {
  require_shared
  run mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -u "$MARIADB_USER" \
    -p"$MARIADB_PASSWORD" -N -B -e 'SELECT 1, current_user(), database()' "$MARIADB_DATABASE"
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf '1\tapp@%%\tapp')" ]
  run mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" -u "$MARIADB_USER" -pwrong -e 'SELECT 1'
  echo "$output"
  [ "$status" -ne 0 ]
  [[ "$output" == *"Access denied for user 'app'@'127.0.0.1'"* ]]
}

@test "servers: registry: a pushed image's tag resolves to the pushed digest; move_tag repoints it" {
  timed "registry start" start_registry
  digest=$(timed "push_image (first, builds the base layout)" push_image app/web v1)
  [[ "$digest" == sha256:* ]]
  [ "$(manifest_digest app/web v1)" = "$digest" ]
  run curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "$REGISTRY_URL/v2/app/web/manifests/v1"
  echo "$output"
  [[ "$output" == *"Docker-Content-Digest: $digest"* ]]
  digest2=$(timed "push_image" push_image app/web v2 "release 2")
  [ "$digest2" != "$digest" ]
  [ "$(move_tag app/web v1 v2)" = "$digest2" ]
  [ "$(manifest_digest app/web v1)" = "$digest2" ]
  docker_digest=$(push_image app/web v1-docker "" v2s2)
  [ "$(curl -s -o /dev/null -w '%{content_type}' -H "Accept: $REGISTRY_ACCEPT" \
    "$REGISTRY_URL/v2/app/web/manifests/$docker_digest")" = application/vnd.docker.distribution.manifest.v2+json ]
}

@test "servers: registry with htpasswd (bcrypt): 401 Basic without credentials, the digest with them" {
  timed "registry start (htpasswd)" start_registry htpasswd
  digest=$(push_image app/web v1)
  run curl -sI "$REGISTRY_URL/v2/app/web/manifests/v1"
  echo "$output"
  [[ "$output" == "HTTP/1.1 401"* ]]
  [[ "$output" == *'Www-Authenticate: Basic realm="readygate-test"'* ]]
  [ "$(manifest_digest app/web v1)" = "$digest" ]
}

@test "servers: registry with token auth: Bearer challenge, token from the fixture, the digest" {
  timed "registry start (token + token server)" start_registry token
  digest=$(push_image app/web v1)
  run curl -sI -H "Accept: $REGISTRY_ACCEPT" "$REGISTRY_URL/v2/app/web/manifests/v1"
  echo "$output"
  [[ "$output" == "HTTP/1.1 401"* ]]
  [[ "$output" == *"Www-Authenticate: Bearer realm=\"$TOKEN_REALM\",service=\"$REGISTRY_SERVICE\",scope=\"repository:app/web:pull\""* ]]
  token=$(registry_token repository:app/web:pull)
  run curl -sI -H "Authorization: Bearer $token" -H "Accept: $REGISTRY_ACCEPT" \
    "$REGISTRY_URL/v2/app/web/manifests/v1"
  echo "$output"
  [[ "$output" == "HTTP/1.1 200"* ]]
  [[ "$output" == *"Docker-Content-Digest: $digest"* ]]
  # A token for another repository is refused with insufficient_scope.
  other=$(registry_token repository:app/other:pull)
  run curl -sI -H "Authorization: Bearer $other" -H "Accept: $REGISTRY_ACCEPT" \
    "$REGISTRY_URL/v2/app/web/manifests/v1"
  [[ "$output" == *'error="insufficient_scope"'* ]]
  grep -q '^token /token?' "$TOKEN_LOG"
}

@test "servers: registry with token-login: the token server wants the user's password" {
  start_registry token-login
  digest=$(push_image app/web v1)
  [ "$(manifest_digest app/web v1)" = "$digest" ]
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$TOKEN_REALM?service=$REGISTRY_SERVICE")" = 401 ]
}

@test "servers: podman's Docker API lists running containers with the image's config digest" {
  start_registry
  digest=$(push_image app/web v1)
  config_digest=$(manifest_config_digest app/web "$digest")
  timed "podman service start" start_podman
  id=$(timed "podman_run (pull from the registry + run)" podman_run web "$REGISTRY/app/web:v1")
  [ "sha256:$(timed "podman_load (from the OCI layout)" podman_load app/web v1)" = "$config_digest" ]
  id2=$(podman_run web2 localhost/app/web:v1)
  run curl -sf --unix-socket "$PODMAN_SOCK" http://d/v1.41/containers/json
  echo "$output"
  [ "$status" -eq 0 ]
  "$RG_PYTHON" - "$output" "$config_digest" "$id" "$REGISTRY/app/web:v1" "$id2" localhost/app/web:v1 <<'PY'
import json, sys
containers, image_id, args = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3:]
for cid, image in zip(args[::2], args[1::2]):
    [c] = [c for c in containers if c["Id"] == cid]
    assert c["State"] == "running", c
    assert c["Image"] == image, c
    assert c["ImageID"] == image_id, c
PY
  # The container really runs: its process reads the image's file.
  [ "$(podman exec web /bin/busybox cat /etc/content.txt)" = "app/web:v1" ]
}
