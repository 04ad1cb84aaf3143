#!/usr/bin/env bats
# The migrations kind on MariaDB 10.11 and SQLite, and its errors: a wrong password, a server
# that is down or never answers, an unknown tool, a DSN written in the config.

bats_require_minimum_version 1.5.0

load helpers
load servers
load sql_tools

setup_file() {
  start_shared start_mariadb
  npm_tools
}
teardown_file() { stop_servers; }
setup() {
  require_shared
  REL="$BATS_TEST_TMPDIR/release"
  mkdir -p "$REL"
  export PYTHONDONTWRITEBYTECODE=1
}
teardown() { stop_servers; }

dbmate_file() { printf -- '-- migrate:up\n%s\n-- migrate:down\nSELECT 1;\n' "$2" >"$REL/$1.sql"; }

# --- MariaDB ---------------------------------------------------------------------------------

@test "mariadb: dbmate's history, written by dbmate: up to date, then pending, then not shipped" {
  new_mariadb_db
  dbmate_file 20240101000000_init "CREATE TABLE a (id int);"
  dbmate_file 20240102000000_more "CREATE TABLE b (id int);"
  DATABASE_URL="$DSN" dbmate --migrations-dir "$REL" migrate >/dev/null
  assert_check "$(migrations_config mysql dbmate "$REL")" 0 pass "$DB_NAME.schema_migrations: 2 migrations applied"
  dbmate_file 20240103000000_later "CREATE TABLE c (id int);"
  assert_check "$(migrations_config mysql dbmate "$REL")" 1 fail "1 pending (20240103000000)"
  rm "$REL/20240103000000_later.sql" "$REL/20240102000000_more.sql"
  assert_check "$(migrations_config mysql dbmate "$REL")" 1 fail "not shipped with the release (20240102000000)"
}

@test "mariadb: a Flyway row with success = 0 stays after a failed migration (no transactional DDL)" {
  new_mariadb_db
  printf 'CREATE TABLE t (id INT);\n' >"$REL/V1__init.sql"
  printf 'CREATE TABLE u (id INT);\n' >"$REL/V2__more.sql"
  db_mariadb -e "CREATE TABLE flyway_schema_history (installed_rank INT PRIMARY KEY, version VARCHAR(50),
      description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL,
      checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(),
      execution_time INT NOT NULL, success BOOL NOT NULL);
    INSERT INTO flyway_schema_history VALUES (1, '1', 'init', 'SQL', 'V1__init.sql', NULL, 'app', now(), 3, 1),
      (2, '2', 'more', 'SQL', 'V2__more.sql', NULL, 'app', now(), 3, 0);"
  assert_check "$(migrations_config mysql flyway "$REL")" 1 fail "1 failed or half-applied (2)"
}

@test "mariadb: Flyway's named lock held by another connection fails (IS_USED_LOCK, never GET_LOCK)" {
  new_mariadb_db
  printf 'CREATE TABLE t (id INT);\n' >"$REL/V1__init.sql"
  db_mariadb -e "CREATE TABLE flyway_schema_history (installed_rank INT PRIMARY KEY, version VARCHAR(50),
      description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL,
      checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(),
      execution_time INT NOT NULL, success BOOL NOT NULL);
    INSERT INTO flyway_schema_history VALUES (1, '1', 'init', 'SQL', 'V1__init.sql', NULL, 'app', now(), 3, 1);"
  name=$("$RG_PYTHON" -c '
import sys
h = 0
for c in "`%s`.`flyway_schema_history`" % sys.argv[1]:
    h = (31 * h + ord(c)) & 0xffffffff
print("Flyway-%d" % (h - (1 << 32) if h >= 1 << 31 else h))' "$DB_NAME")
  hold_mariadb_lock "$name"
  assert_check "$(migrations_config mysql flyway "$REL" 'timeout = "1500ms"')" 1 fail "flyway lock $name held (connection"
}

@test "mariadb: a wrong password is an error (exit 2) naming the user, never the password" {
  new_mariadb_db
  DSN="mysql://$MARIADB_USER:not-the-password-71@127.0.0.1:$MARIADB_PORT/$DB_NAME"
  dbmate_file 20240101000000_init "CREATE TABLE a (id int);"
  assert_check "$(migrations_config mysql dbmate "$REL")" 2 error "Access denied for user 'app'"
  [[ "$output" != *not-the-password-71* ]]
}

# --- SQLite ----------------------------------------------------------------------------------

@test "sqlite: Alembic's history, written by Alembic: up to date, then pending" {
  DSN="$BATS_TEST_TMPDIR/app.db"
  (cd "$REL" && /usr/bin/python3 -m alembic init -t generic mig >/dev/null &&
    sed -i "s|^sqlalchemy.url = .*|sqlalchemy.url = sqlite:///$DSN|" alembic.ini &&
    /usr/bin/python3 -m alembic revision -m first --rev-id aaa1 >/dev/null &&
    /usr/bin/python3 -m alembic upgrade head >/dev/null 2>&1)
  assert_check "$(migrations_config sqlite alembic "$REL/mig")" 0 pass "main.alembic_version: 1 migration applied"
  (cd "$REL" && /usr/bin/python3 -m alembic revision -m second --rev-id bbb2 >/dev/null)
  assert_check "$(migrations_config sqlite alembic "$REL/mig")" 1 fail "1 pending (bbb2)"
  # The check opened the file read-only: nothing was written.
  sum=$(sha256sum "$DSN")
  assert_check "$(migrations_config sqlite alembic "$REL/mig")" 1 fail
  [ "$(sha256sum "$DSN")" = "$sum" ]
}

@test "sqlite: dbmate's history, written by dbmate; a missing database file is an error" {
  DSN="$BATS_TEST_TMPDIR/app.sqlite3"
  dbmate_file 20240101000000_init "CREATE TABLE a (id int);"
  DATABASE_URL="sqlite:$DSN" dbmate --migrations-dir "$REL" migrate >/dev/null
  assert_check "$(migrations_config sqlite dbmate "$REL")" 0 pass "1 migration applied"
  DSN="$BATS_TEST_TMPDIR/nope.sqlite3"
  assert_check "$(migrations_config sqlite dbmate "$REL")" 2 error "sqlite $DSN: No such file or directory"
  [ ! -e "$DSN" ]
}

# --- Errors ----------------------------------------------------------------------------------

@test "errors: a server that is down is an error (exit 2) naming host, port, user and database" {
  port=$(free_port)
  DSN="postgresql://app:pw-down-3f@127.0.0.1:$port/app"
  printf 'SELECT 1;\n' >"$REL/V1__init.sql"
  assert_check "$(migrations_config postgres flyway "$REL")" 2 error "postgres app@127.0.0.1:$port/app" "refused"
}

@test "errors: a server that accepts TCP and never answers ends at the check's timeout (exit 2)" {
  port=$(free_port)
  start_server "$RG_PYTHON" -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $port)); s.listen(8)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
"
  wait_for_port "$port"
  printf 'SELECT 1;\n' >"$REL/V1__init.sql"
  for driver in postgres mysql; do
    scheme=$([ $driver = postgres ] && echo postgresql || echo mysql)
    DSN="$scheme://app:pw-hung-9c@127.0.0.1:$port/app"
    started=$(date +%s%N)
    assert_check "$(migrations_config $driver flyway "$REL" 'timeout = "1s"')" 2 error "app@127.0.0.1:$port/app" "no answer while connecting"
    took=$((($(date +%s%N) - started) / 1000000))
    echo "took ${took} ms"
    [ "$took" -lt 4000 ]
  done
}

@test "errors: an unknown tool and a DSN literal in the config are configuration errors (exit 78)" {
  config=$(write_config <<EOF
[[check]]
id = "schema"
kind = "migrations"
driver = "postgres"
tool = "flywya"
dsn_env = "RG_DSN"
migrations_dir = "$REL"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 78 ]
  [[ "$output" == *'readygate.toml:5:8: check "schema" (migrations): key "tool": unknown tool "flywya" (expected one of: alembic, dbmate, django, flyway,'* ]]
  config=$(write_config <<EOF
[[check]]
id = "schema"
kind = "migrations"
driver = "postgres"
tool = "flyway"
dsn = "postgresql://app:literal-pw@db/app"
migrations_dir = "$REL"
EOF
)
  run "$READYGATE" check --config "$config"
  echo "$output"
  [ "$status" -eq 78 ]
  [[ "$output" == *'unknown key "dsn"'* ]]
}

@test "errors: an unset DSN variable and an unreadable migrations_dir are errors (exit 2)" {
  DSN=""
  run env -u RG_DSN "$READYGATE" check --config "$(migrations_config postgres flyway "$REL")"
  echo "$output"
  [ "$status" -eq 2 ]
  [[ "$output" == *"dsn: the secret's environment variable RG_DSN is not set"* ]]
  DSN="postgresql://app:pw@127.0.0.1:1/app"
  assert_check "$(migrations_config postgres flyway "$REL/nope")" 2 error "migrations_dir: $REL/nope"
}
