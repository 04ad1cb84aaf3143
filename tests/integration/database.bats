#!/usr/bin/env bats
# The database kind against real PostgreSQL 15 and MariaDB 10.11 (one of each for the file) and
# SQLite files: latency, connection headroom (the server's, the role's, the database's and the
# account's limits, with sessions held open from other connections), the query's value, read-only,
# and the errors.

bats_require_minimum_version 1.5.0

load helpers
load servers
load sql_tools

setup_file() {
  start_shared start_postgres
  # MariaDB refuses SET GLOBAL max_user_connections when it started with 0: start it with a
  # value, then make it 0 (no limit) until a test sets one.
  start_shared start_mariadb 'max_user_connections = 100000'
  [ -n "${RG_SHARED_MISSING:-}" ] || mariadb_admin -e 'SET GLOBAL max_user_connections = 0'
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

# --- limits on the role, the database and the account ----------------------------------------

@test "database: postgres role CONNECTION LIMIT bounds the free connections, named in the message" {
  DSN=$PG_DSN
  on_stop pg_admin -c "ALTER ROLE $PG_USER CONNECTION LIMIT -1"
  pg_admin -c "ALTER ROLE $PG_USER CONNECTION LIMIT 3"
  hold_pg_sessions "$PG_DSN" 1
  # 3 - the held session - the check's own = 1.
  assert_check "$(database_config postgres 'min_free_connections = 1')" 0 pass \
    "1 of 3 connections free (role \"app\" CONNECTION LIMIT 3)"
  assert_check "$(database_config postgres 'min_free_connections = 2')" 1 fail \
    "1 connections free (at least 2): role \"app\" CONNECTION LIMIT 3, 2 in use"
  pg_admin -c "ALTER ROLE $PG_USER CONNECTION LIMIT 2"
  assert_check "$(database_config postgres 'min_free_connections = 1')" 1 fail \
    "0 connections free (at least 1): role \"app\" CONNECTION LIMIT 2, 2 in use"
  "$RG_PYTHON" - "$output" <<'PY'
import json, sys
findings = json.loads(sys.argv[1])["checks"][0]["findings"]
assert findings == [{"subject": "free connections", "expected": "at least 1",
                     "found": '0 (2 in use of role "app" CONNECTION LIMIT 2)'}], findings
PY
}

@test "database: postgres database CONNECTION LIMIT bounds them, counting other roles' sessions" {
  DSN=$PG_DSN
  on_stop pg_admin -c "ALTER DATABASE $PG_DATABASE CONNECTION LIMIT -1"
  pg_admin -c "ALTER DATABASE $PG_DATABASE CONNECTION LIMIT 4"
  # Two superuser sessions in the database: app may not see what they are, they still count.
  hold_pg_sessions "postgresql:///$PG_DATABASE?host=$PG_SOCKET_DIR&port=$PG_PORT&user=postgres" 2
  assert_check "$(database_config postgres 'min_free_connections = 1')" 0 pass \
    "of 4 connections free (database \"app\" CONNECTION LIMIT 4)"
  assert_check "$(database_config postgres 'min_free_connections = 2')" 1 fail \
    "connections free (at least 2): database \"app\" CONNECTION LIMIT 4, "
}

@test "database: postgres sessions of other roles count against max_connections, unseen or not" {
  DSN=$PG_DSN
  max=$(pg_admin -Atc 'SHOW max_connections')
  reserved=$(pg_admin -Atc "SELECT current_setting('superuser_reserved_connections')::int + coalesce(current_setting('reserved_connections', true), '0')::int")
  hold_pg_sessions "postgresql:///postgres?host=$PG_SOCKET_DIR&port=$PG_PORT&user=postgres" 3
  # At most max - reserved - 3 held - the check's own are free: one more is too many.
  want=$((max - reserved - 3))
  assert_check "$(database_config postgres "min_free_connections = $want")" 1 fail \
    "connections free (at least $want): max_connections $max"
}

@test "database: postgres limits that cannot be read are an error, never no limit" {
  DSN=$PG_DSN
  on_stop pg_admin -c "GRANT SELECT ON pg_catalog.pg_roles TO PUBLIC"
  pg_admin -c "REVOKE SELECT ON pg_catalog.pg_roles FROM PUBLIC"
  assert_check "$(database_config postgres 'min_free_connections = 1')" 2 error \
    "connection limits: " "permission denied for view pg_roles"
}

@test "database: mariadb account MAX_USER_CONNECTIONS bounds the free connections, named" {
  DSN=$MARIADB_DSN
  on_stop mariadb_admin -e "GRANT USAGE ON *.* TO '$MARIADB_USER'@'%' WITH MAX_USER_CONNECTIONS 0"
  mariadb_admin -e "GRANT USAGE ON *.* TO '$MARIADB_USER'@'%' WITH MAX_USER_CONNECTIONS 3"
  hold_mariadb_sessions "$MARIADB_USER" "$MARIADB_PASSWORD" 1
  assert_check "$(database_config mysql 'min_free_connections = 1')" 0 pass \
    "1 of 3 connections free (account app@% MAX_USER_CONNECTIONS 3)"
  assert_check "$(database_config mysql 'min_free_connections = 2')" 1 fail \
    "1 connections free (at least 2): account app@% MAX_USER_CONNECTIONS 3, 2 in use"
  # The account's own limit replaces the global one, even a smaller global one.
  on_stop mariadb_admin -e "SET GLOBAL max_user_connections = 0"
  mariadb_admin -e "SET GLOBAL max_user_connections = 2"
  assert_check "$(database_config mysql 'min_free_connections = 1')" 0 pass \
    "(account app@% MAX_USER_CONNECTIONS 3)"
}

@test "database: mariadb global max_user_connections bounds an account without its own" {
  DSN=$MARIADB_DSN
  on_stop mariadb_admin -e "SET GLOBAL max_user_connections = 0"
  mariadb_admin -e "SET GLOBAL max_user_connections = 3"
  hold_mariadb_sessions "$MARIADB_USER" "$MARIADB_PASSWORD" 1
  assert_check "$(database_config mysql 'min_free_connections = 2')" 1 fail \
    "1 connections free (at least 2): global max_user_connections 3 (account app@%), 2 in use"
  # An account with CONNECTION ADMIN is let past the global value by MariaDB.
  on_stop mariadb_admin -e "DROP USER IF EXISTS 'rg_ops'@'%'"
  mariadb_admin -e "CREATE USER 'rg_ops'@'%' IDENTIFIED BY 'ops-pw'; GRANT CONNECTION ADMIN ON *.* TO 'rg_ops'@'%'"
  hold_mariadb_sessions rg_ops ops-pw 3
  DSN="mysql://rg_ops:ops-pw@127.0.0.1:$MARIADB_PORT/"
  assert_check "$(database_config mysql 'min_free_connections = 2')" 0 pass "(max_connections "
}
