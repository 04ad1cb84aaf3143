#!/usr/bin/env bats
# The database kind against real PostgreSQL 15 and MariaDB 10.11 (one of each for the file) and
# SQLite files: latency, connection headroom, the query's value, read-only, and the errors.

bats_require_minimum_version 1.5.0

load helpers
load servers
load sql_tools

setup_file() {
  start_shared start_postgres
  start_shared start_mariadb
}
teardown_file() { stop_servers; }
setup() { require_shared; }
teardown() { stop_servers; }

database_config() { # driver extra-lines
  write_config <<EOF
[[check]]
id = "db"
kind = "database"
driver = "$1"
dsn_env = "RG_DSN"
timeout = "10s"
$2
EOF
}

@test "database: postgres within budget with headroom passes, reporting both" {
  DSN=$PG_DSN
  assert_check "$(database_config postgres 'max_latency = "2s"
samples = 10
min_free_connections = 5')" 0 pass "postgres app@127.0.0.1:$PG_PORT/app (server 15." \
    "over 10 round trips" "connections free"
}

@test "database: postgres with fewer free connections than min_free_connections fails" {
  DSN=$PG_DSN
  max=$(pg_admin -Atc 'SHOW max_connections')
  assert_check "$(database_config postgres "min_free_connections = $max")" 1 fail "connections free (at least $max)"
  "$RG_PYTHON" - "$output" <<'PY'
import json, sys
finding = json.loads(sys.argv[1])["checks"][0]["findings"][0]
assert finding["subject"] == "free connections", finding
assert "reserved" in finding["found"] and "in use of max_connections" in finding["found"], finding
PY
}

@test "database: a p95 over max_latency fails" {
  DSN=$PG_DSN
  assert_check "$(database_config postgres 'max_latency = "0ms"
samples = 3')" 1 fail "SELECT 1 p95" "(at most 0s)"
}

@test "database: the query's value is judged; a write is refused (read-only transaction)" {
  DSN=$PG_DSN
  pg_admin -c "CREATE TABLE IF NOT EXISTS meta (k text, v text); DELETE FROM meta; INSERT INTO meta VALUES ('release', '1.4.2'); GRANT SELECT ON meta TO app"
  assert_check "$(database_config postgres "query = \"SELECT v FROM meta WHERE k = 'release'\"
expect = \"1.4.2\"")" 0 pass "query as expected"
  assert_check "$(database_config postgres "query = \"SELECT v FROM meta WHERE k = 'release'\"
expect_matches = '^2\\\\.'")" 1 fail "query does not match"
  assert_check "$(database_config postgres "query = \"SELECT v FROM meta WHERE k = 'none'\"
expect = \"1\"")" 1 fail "the query returned no row"
  assert_check "$(database_config postgres "query = \"CREATE TABLE mine (id int)\"")" 2 error "read-only transaction"
  [ "$(pg_admin -Atc "SELECT count(*) FROM pg_tables WHERE tablename = 'mine'")" = 0 ]
  assert_check "$(database_config postgres "query = \"SELECT 1; DROP TABLE meta\"")" 2 error "cannot insert multiple commands"
}

@test "database: mariadb headroom from Threads_connected and max_connections" {
  DSN=$MARIADB_DSN
  assert_check "$(database_config mysql 'min_free_connections = 1
query = "SELECT 6 * 7"
expect = "42"')" 0 pass "mysql app@127.0.0.1:$MARIADB_PORT/app (server 10.11" "connections free"
  max=$(mariadb_admin -N -e 'SELECT @@max_connections')
  assert_check "$(database_config mysql "min_free_connections = $max")" 1 fail "connections free (at least $max)"
  assert_check "$(database_config mysql 'query = "CREATE TABLE mine (id int)"')" 2 error "READ ONLY"
}

@test "database: sqlite file answers a query; no headroom there" {
  DSN="$BATS_TEST_TMPDIR/app.db"
  sqlite3 "$DSN" "CREATE TABLE meta (v text); INSERT INTO meta VALUES ('ok');"
  assert_check "$(database_config sqlite 'query = "SELECT v FROM meta"
expect = "ok"')" 0 pass "sqlite $DSN"
}

@test "database: a wrong password is an error (exit 2) naming the user, never the password" {
  DSN="postgresql://app:wrong-pw-5e1@127.0.0.1:$PG_PORT/app"
  assert_check "$(database_config postgres '')" 2 error 'password authentication failed for user "app"'
  [[ "$output$stderr" != *wrong-pw-5e1* ]]
  DSN="mysql://app:wrong-pw-5e1@127.0.0.1:$MARIADB_PORT/app"
  assert_check "$(database_config mysql '')" 2 error "Access denied for user 'app'"
  [[ "$output$stderr" != *wrong-pw-5e1* ]]
}

@test "database: a down server is an error (exit 2); a hung one ends at the timeout" {
  port=$(free_port)
  DSN="postgresql://app:pw@127.0.0.1:$port/app"
  assert_check "$(database_config postgres '')" 2 error "postgres app@127.0.0.1:$port/app"
  start_server "$RG_PYTHON" -c "
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(8)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
"
  wait_for_port "$port"
  config=$(write_config <<EOF
[[check]]
id = "db"
kind = "database"
driver = "postgres"
dsn_env = "RG_DSN"
timeout = "1s"
EOF
)
  started=$(date +%s%N)
  assert_check "$config" 2 error "no answer while connecting"
  took=$((($(date +%s%N) - started) / 1000000))
  [ "$took" -lt 4000 ]
}
