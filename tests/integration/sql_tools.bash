# For the migrations and database suites: a fresh database per test on the file's shared
# PostgreSQL or MariaDB, the real migration tools that this machine can install (Alembic, Django,
# ActiveRecord, sql-migrate from Debian; Knex and dbmate from npm), a session holding a lock, and
# one assertion on the JSON report.
#
# Load after helpers and servers. npm packages go to $RG_NPM_DIR (default ~/.cache/readygate/
# npm-<versions>), installed once with `npm install --prefix` at the pinned versions below.

RG_NPM_PACKAGES=(knex@3.1.0 pg@8.13.1 dbmate@2.36.0)
RG_NPM_DIR=${RG_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/readygate/npm-knex3.1.0-pg8.13.1-dbmate2.36.0}

# Install the pinned npm packages once (in setup_file); the binaries land in $RG_NPM_DIR/node_modules/.bin.
npm_tools() {
  if [ -x "$RG_NPM_DIR/node_modules/.bin/dbmate" ] && [ -d "$RG_NPM_DIR/node_modules/knex" ] &&
    "$RG_NPM_DIR/node_modules/.bin/dbmate" --version >/dev/null 2>&1; then
    return 0
  fi
  command -v npm >/dev/null || { echo "npm is not installed" >&2; return 1; }
  mkdir -p "$RG_NPM_DIR"
  npm install --prefix "$RG_NPM_DIR" --no-audit --no-fund --no-save --loglevel=error \
    "${RG_NPM_PACKAGES[@]}" >"$RG_NPM_DIR/install.log" 2>&1 ||
    { cat "$RG_NPM_DIR/install.log" >&2; return 1; }
  # dbmate's npm package ships a prebuilt Linux binary (@dbmate/linux-x64): make sure it runs here.
  "$RG_NPM_DIR/node_modules/.bin/dbmate" --version >/dev/null
}

dbmate() { "$RG_NPM_DIR/node_modules/.bin/dbmate" --no-dump-schema "$@"; }

# A new database on the shared PostgreSQL, owned by `app`; sets DB_NAME and DSN (and DSN_PSQL).
new_pg_db() {
  DB_NAME="t${BATS_TEST_NUMBER}_$RANDOM"
  pg_admin -d postgres -c "CREATE DATABASE $DB_NAME OWNER $PG_USER" >/dev/null
  DSN="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
  export DB_NAME DSN
}

# psql into the test's database as `app`.
db_psql() { psql -X -q -v ON_ERROR_STOP=1 "$DSN" "$@"; }

# A new database on the shared MariaDB with all rights for `app`; sets DB_NAME and DSN.
new_mariadb_db() {
  DB_NAME="t${BATS_TEST_NUMBER}_$RANDOM"
  mariadb_admin -e "CREATE DATABASE $DB_NAME; GRANT ALL ON $DB_NAME.* TO '$MARIADB_USER'@'%';"
  DSN="mysql://$MARIADB_USER:$MARIADB_PASSWORD@127.0.0.1:$MARIADB_PORT/$DB_NAME"
  export DB_NAME DSN
}

db_mariadb() {
  mariadb --defaults-file="$MARIADB_CNF" -uroot "$DB_NAME" "$@"
}

# Hold a PostgreSQL advisory lock `key` (bigint) from a second session (to `dsn`, default the
# test's database) until the test ends, and wait until pg_locks shows it. The server ends the
# session when the test stops: a killed psql leaves its backend, and the lock, in pg_sleep.
hold_pg_advisory_lock() {
  local key=$1 dsn=${2:-$DSN}
  on_stop release_pg_sessions
  start_server env PGAPPNAME=rg-hold psql -X -q "$dsn" -c "SELECT pg_advisory_lock($key)" -c "SELECT pg_sleep(600)"
  for _ in $(seq 200); do
    [ "$(pg_admin -d "$DB_NAME" -Atc "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $key")" = 1 ] && return 0
    sleep 0.05
  done
  echo "the advisory lock $key was not taken" >&2
  return 1
}

# Hold a MariaDB named lock from a second session until the test ends (when the server ends the
# session: a killed client leaves its SLEEP, and the lock, running).
hold_mariadb_lock() {
  local name=$1
  on_stop release_mariadb_sessions
  start_server mariadb --defaults-file="$MARIADB_CNF" -uroot -e "SELECT GET_LOCK('$name', 5); SELECT SLEEP(600) AS rg_hold;"
  for _ in $(seq 200); do
    [ "$(mariadb_admin -N -e "SELECT IS_USED_LOCK('$name') IS NOT NULL")" = 1 ] && return 0
    sleep 0.05
  done
  echo "the named lock $name was not taken" >&2
  return 1
}

# Write a migrations check for `tool` on `driver` reading DSN from $RG_DSN and the release's
# files from `dir`, with the lines `extra` added. Prints the config path.
migrations_config() {
  local driver=$1 tool=$2 dir=$3 extra=${4:-}
  [[ "$extra" == *"timeout ="* ]] || extra+=$'\ntimeout = "20s"'
  write_config <<EOF
[[check]]
id = "schema"
kind = "migrations"
driver = "$driver"
tool = "$tool"
dsn_env = "RG_DSN"
migrations_dir = "$dir"
$extra
EOF
}

# Run readygate on `config` with RG_DSN=$DSN and assert the exit code `code`, the first check's
# `status`, and that its message contains every `needle`; the JSON report is parsed with
# Python's json. The report and stderr must never hold the DSN's password.
assert_check() {
  local config=$1 code=$2 want=$3 password
  shift 3
  run --separate-stderr env RG_DSN="$DSN" "$READYGATE" check --config "$config" --format json
  echo "exit $status: $output"
  echo "stderr: $stderr"
  [ "$status" -eq "$code" ]
  password=$("$RG_PYTHON" -c 'import sys, urllib.parse; print(urllib.parse.urlparse(sys.argv[1]).password or "")' "$DSN" 2>/dev/null || true)
  if [ -n "$password" ]; then
    [[ "$output" != *"$password"* ]]
    [[ "$stderr" != *"$password"* ]]
  fi
  "$RG_PYTHON" - "$output" "$want" "$@" <<'PY'
import json, sys
check = json.loads(sys.argv[1])["checks"][0]
assert check["status"] == sys.argv[2], check
for needle in sys.argv[3:]:
    assert needle in check["message"], (needle, check["message"])
PY
}

# Hold `count` sessions open to PostgreSQL at `dsn` (application_name rg-hold) until the test
# ends, and wait until pg_stat_activity shows them. The server ends them when the test stops.
hold_pg_sessions() {
  local dsn=$1 count=${2:-1} before i
  before=$(pg_admin -Atc "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rg-hold'")
  on_stop release_pg_sessions
  for ((i = 0; i < count; i++)); do
    start_server env PGAPPNAME=rg-hold psql -X -q "$dsn" -c "SELECT pg_sleep(600)"
  done
  for _ in $(seq 200); do
    [ "$(pg_admin -Atc "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rg-hold'")" = $((before + count)) ] && return 0
    sleep 0.05
  done
  echo "the $count sessions to hold did not connect" >&2
  return 1
}

# End the sessions hold_pg_sessions opened, waiting until each is gone (the limits count them).
release_pg_sessions() {
  pg_admin -o /dev/null -Atc "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = 'rg-hold'"
}

# Hold `count` connections open to the shared MariaDB as `user` with `password` until the test
# ends, and wait until the processlist shows them. The server ends them when the test stops.
hold_mariadb_sessions() {
  local user=$1 password=$2 count=${3:-1} i
  on_stop release_mariadb_sessions
  for ((i = 0; i < count; i++)); do
    start_server env MYSQL_PWD="$password" mariadb --no-defaults -h 127.0.0.1 -P "$MARIADB_PORT" \
      -u "$user" -e "SELECT SLEEP(600) AS rg_hold"
  done
  for _ in $(seq 200); do
    [ "$(mariadb_admin -N -e "SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%AS rg_hold' AND USER = '$user'")" = "$count" ] && return 0
    sleep 0.05
  done
  echo "the $count connections to hold did not connect" >&2
  return 1
}

# End the connections hold_mariadb_sessions opened (a killed client leaves its SLEEP running),
# waiting until they are gone.
release_mariadb_sessions() {
  local id
  for id in $(mariadb_admin -N -e "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%AS rg_hold' AND ID <> CONNECTION_ID()"); do
    mariadb_admin -e "KILL $id" 2>/dev/null || true
  done
  for _ in $(seq 100); do
    [ "$(mariadb_admin -N -e "SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%AS rg_hold' AND ID <> CONNECTION_ID()")" = 0 ] && return 0
    sleep 0.05
  done
}
