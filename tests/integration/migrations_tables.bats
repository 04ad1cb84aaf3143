#!/usr/bin/env bats
# The migrations kind on PostgreSQL 15 for the tools this machine cannot install (Flyway,
# Liquibase, golang-migrate, goose, Prisma, sqlx, Laravel): each history table is built exactly as
# the reference describes (migrations-images-webservers.md A.1), with checksums computed here by
# Python (zlib, hashlib), independently of readygate, and locks held from a second session.

bats_require_minimum_version 1.5.0

load helpers
load servers
load sql_tools

setup_file() { start_shared start_postgres; }
teardown_file() { stop_servers; }
setup() {
  require_shared
  new_pg_db
  REL="$BATS_TEST_TMPDIR/release"
  mkdir -p "$REL"
}
teardown() { stop_servers; }

# Flyway's checksum: CRC32 over each line without its terminator, a leading BOM dropped, signed.
flyway_crc() {
  "$RG_PYTHON" - "$1" <<'PY'
import re, sys, zlib
data = open(sys.argv[1], "rb").read()
if data.startswith(b"\xef\xbb\xbf"):
    data = data[3:]
crc = 0
for line in re.split(rb"\r\n|\r|\n", data):
    crc = zlib.crc32(line, crc)
print(crc - (1 << 32) if crc >= 1 << 31 else crc)
PY
}

# --- Flyway ---------------------------------------------------------------------------------

flyway_setup() { # files V1, V2 and R__views; table with rows for `applied` (versions)
  printf 'CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n' >"$REL/V1__init.sql"
  printf 'ALTER TABLE t ADD COLUMN name TEXT;\r\n' >"$REL/V2__name.sql"
  db_psql -c "CREATE TABLE flyway_schema_history (installed_rank INT PRIMARY KEY,
    version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL,
    script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT now(), execution_time INT NOT NULL,
    success BOOLEAN NOT NULL)"
  FLYWAY_RANK=0
}

flyway_row() { # version script checksum success
  FLYWAY_RANK=$((FLYWAY_RANK + 1))
  db_psql -c "INSERT INTO flyway_schema_history VALUES ($FLYWAY_RANK, '$1', 'x', 'SQL', '$2', $3, 'app', now(), 5, $4)"
}

flyway_applied() { # the release's files applied as shipped
  flyway_row 1 V1__init.sql "$(flyway_crc "$REL/V1__init.sql")" true
  flyway_row 2 V2__name.sql "$(flyway_crc "$REL/V2__name.sql")" true
}

@test "flyway: every shipped migration applied with its checksum passes" {
  flyway_setup
  flyway_applied
  [ "$(flyway_crc "$REL/V1__init.sql")" = 194980085 ] # the reference's vector
  assert_check "$(migrations_config postgres flyway "$REL")" 0 pass \
    "public.flyway_schema_history: 2 migrations applied" "(latest 2)"
}

@test "flyway: a shipped migration not applied is pending (exit 1)" {
  flyway_setup
  flyway_row 1 V1__init.sql "$(flyway_crc "$REL/V1__init.sql")" true
  assert_check "$(migrations_config postgres flyway "$REL")" 1 fail "1 pending (2)"
}

@test "flyway: a migration applied but not shipped fails, unless allow_ahead" {
  flyway_setup
  flyway_applied
  flyway_row 3 V3__later.sql 77 true
  assert_check "$(migrations_config postgres flyway "$REL")" 1 fail \
    "1 applied but not shipped with the release (3)"
  assert_check "$(migrations_config postgres flyway "$REL" 'allow_ahead = true')" 0 pass \
    "applied ahead of the release, allowed by allow_ahead (3)"
}

@test "flyway: a row with success = false is a failed migration" {
  flyway_setup
  flyway_row 1 V1__init.sql "$(flyway_crc "$REL/V1__init.sql")" true
  flyway_row 2 V2__name.sql "$(flyway_crc "$REL/V2__name.sql")" false
  assert_check "$(migrations_config postgres flyway "$REL")" 1 fail "1 failed or half-applied (2)"
}

@test "flyway: a shipped file edited since it was applied is a checksum mismatch" {
  flyway_setup
  flyway_applied
  printf 'ALTER TABLE t ADD COLUMN name VARCHAR(10);\n' >"$REL/V2__name.sql"
  assert_check "$(migrations_config postgres flyway "$REL")" 1 fail "1 checksum mismatch (2)"
}

@test "flyway: its advisory lock held by another session fails after waiting (read-only)" {
  flyway_setup
  flyway_applied
  hold_pg_advisory_lock 77433833903597
  config=$(migrations_config postgres flyway "$REL" 'timeout = "2s"')
  assert_check "$config" 1 fail "flyway advisory lock 77433833903597 held (pid"
  # readygate never took the lock: the holder still has it and nobody else asked for it.
  [ "$(pg_admin -d "$DB_NAME" -Atc "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" = 1 ]
}

@test "flyway: no history table fails saying so, with every shipped migration pending" {
  printf 'SELECT 1;\n' >"$REL/V1__init.sql"
  assert_check "$(migrations_config postgres flyway "$REL")" 1 fail \
    "history table public.flyway_schema_history does not exist" "1 pending (1)"
}

# --- Liquibase -------------------------------------------------------------------------------

liquibase_setup() {
  printf -- '--liquibase formatted sql\n--changeset alice:1\nCREATE TABLE a (id int);\n--changeset bob:2\nCREATE TABLE b (id int);\n' >"$REL/changelog.sql"
  db_psql -c "CREATE TABLE DATABASECHANGELOG (ID VARCHAR(255) NOT NULL, AUTHOR VARCHAR(255) NOT NULL,
      FILENAME VARCHAR(255) NOT NULL, DATEEXECUTED TIMESTAMP NOT NULL, ORDEREXECUTED INT NOT NULL,
      EXECTYPE VARCHAR(10) NOT NULL, MD5SUM VARCHAR(35), DESCRIPTION VARCHAR(255), COMMENTS VARCHAR(255),
      TAG VARCHAR(255), LIQUIBASE VARCHAR(20), CONTEXTS VARCHAR(255), LABELS VARCHAR(255),
      DEPLOYMENT_ID VARCHAR(10))" \
    -c "CREATE TABLE DATABASECHANGELOGLOCK (ID INT PRIMARY KEY, LOCKED BOOLEAN NOT NULL,
      LOCKGRANTED TIMESTAMP, LOCKEDBY VARCHAR(255))" \
    -c "INSERT INTO DATABASECHANGELOGLOCK VALUES (1, false, NULL, NULL)"
  LIQUIBASE_ORDER=0
}

liquibase_row() { # id author exectype
  LIQUIBASE_ORDER=$((LIQUIBASE_ORDER + 1))
  db_psql -c "INSERT INTO DATABASECHANGELOG (ID, AUTHOR, FILENAME, DATEEXECUTED, ORDEREXECUTED, EXECTYPE, MD5SUM)
    VALUES ('$1', '$2', 'changelog.sql', now(), $LIQUIBASE_ORDER, '$3', '9:0f')"
}

@test "liquibase: every changeset executed passes" {
  liquibase_setup
  liquibase_row 1 alice EXECUTED
  liquibase_row 2 bob EXECUTED
  assert_check "$(migrations_config postgres liquibase "$REL")" 0 pass "2 migrations applied"
}

@test "liquibase: a changeset not executed is pending" {
  liquibase_setup
  liquibase_row 1 alice EXECUTED
  assert_check "$(migrations_config postgres liquibase "$REL")" 1 fail "1 pending (bob:2)"
}

@test "liquibase: a changeset executed but not in the changelog fails, unless allow_ahead" {
  liquibase_setup
  liquibase_row 1 alice EXECUTED
  liquibase_row 2 bob EXECUTED
  liquibase_row 3 carol EXECUTED
  assert_check "$(migrations_config postgres liquibase "$REL")" 1 fail "not shipped with the release (carol:3)"
  assert_check "$(migrations_config postgres liquibase "$REL" 'allow_ahead = true')" 0 pass
}

@test "liquibase: EXECTYPE FAILED is a failed changeset" {
  liquibase_setup
  liquibase_row 1 alice EXECUTED
  liquibase_row 2 bob FAILED
  assert_check "$(migrations_config postgres liquibase "$REL")" 1 fail "1 failed or half-applied (bob:2)"
}

@test "liquibase: DATABASECHANGELOGLOCK locked = true is a held lock, with who and since when" {
  liquibase_setup
  liquibase_row 1 alice EXECUTED
  liquibase_row 2 bob EXECUTED
  db_psql -c "UPDATE DATABASECHANGELOGLOCK SET LOCKED = true, LOCKGRANTED = now() - interval '2 hours', LOCKEDBY = 'web-7 (10.0.0.7)'"
  config=$(migrations_config postgres liquibase "$REL" 'timeout = "1500ms"')
  assert_check "$config" 1 fail "liquibase lock table databasechangeloglock held (locked by web-7 (10.0.0.7) since"
}

# --- golang-migrate --------------------------------------------------------------------------

golang_setup() { # version dirty
  touch "$REL/20240101000000_init.up.sql" "$REL/20240101000000_init.down.sql" \
    "$REL/20240301120000_add_total.up.sql" "$REL/20240301120000_add_total.down.sql"
  db_psql -c "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
  [ -z "${1:-}" ] || db_psql -c "INSERT INTO schema_migrations VALUES ($1, $2)"
}

@test "golang-migrate: the newest shipped version, clean, passes" {
  golang_setup 20240301120000 false
  assert_check "$(migrations_config postgres golang-migrate "$REL")" 0 pass "(latest 20240301120000)"
}

@test "golang-migrate: an older version is pending the newer ones" {
  golang_setup 20240101000000 false
  assert_check "$(migrations_config postgres golang-migrate "$REL")" 1 fail "1 pending (20240301120000)"
}

@test "golang-migrate: a version the release does not ship fails, unless allow_ahead" {
  golang_setup 20250101000000 false
  assert_check "$(migrations_config postgres golang-migrate "$REL")" 1 fail "not shipped with the release (20250101000000)"
  assert_check "$(migrations_config postgres golang-migrate "$REL" 'allow_ahead = true')" 0 pass
}

@test "golang-migrate: dirty = true is a half-applied migration" {
  golang_setup 20240301120000 true
  assert_check "$(migrations_config postgres golang-migrate "$REL")" 1 fail "1 failed or half-applied (20240301120000)"
}

@test "golang-migrate: its advisory lock (crc32 of schema, table, database) held fails" {
  golang_setup 20240301120000 false
  key=$("$RG_PYTHON" -c "import zlib,sys; print((zlib.crc32(b'public\x00schema_migrations\x00' + sys.argv[1].encode()) * 1486364155) & 0xffffffff)" "$DB_NAME")
  hold_pg_advisory_lock "$key"
  assert_check "$(migrations_config postgres golang-migrate "$REL" 'timeout = "1500ms"')" 1 fail \
    "golang-migrate advisory lock $key held"
}

@test "golang-migrate: an explicit expected version instead of migrations_dir" {
  golang_setup 20240101000000 false
  config=$(write_config <<EOF
[[check]]
id = "schema"
kind = "migrations"
driver = "postgres"
tool = "golang-migrate"
dsn_env = "RG_DSN"
expected = "20240301120000"
EOF
)
  assert_check "$config" 1 fail "1 pending (20240301120000)"
}
