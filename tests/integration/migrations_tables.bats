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
  assert_check "$(migrations_config postgres flyway "$REL")" 1 fail \
    "history table public.flyway_schema_history does not exist"
  printf 'SELECT 1;\n' >"$REL/V1__init.sql"
  assert_check "$(migrations_config postgres flyway "$REL")" 1 fail "1 pending (1)"
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

# --- goose -----------------------------------------------------------------------------------

goose_setup() {
  touch "$REL/00001_init.sql" "$REL/00002_more.go"
  db_psql -c "CREATE TABLE goose_db_version (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
      version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now())" \
    -c "INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true)"
}

goose_row() { db_psql -c "INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, $2)"; }

@test "goose: every version applied passes" {
  goose_setup
  goose_row 1 true
  goose_row 2 true
  assert_check "$(migrations_config postgres goose "$REL")" 0 pass "2 migrations applied"
}

@test "goose: a version whose newest row is is_applied = false is pending" {
  goose_setup
  goose_row 1 true
  goose_row 2 true
  goose_row 2 false
  assert_check "$(migrations_config postgres goose "$REL")" 1 fail "1 pending (2)"
}

@test "goose: a version applied but not shipped fails" {
  goose_setup
  goose_row 1 true
  goose_row 2 true
  goose_row 3 true
  assert_check "$(migrations_config postgres goose "$REL")" 1 fail "not shipped with the release (3)"
}

@test "goose: its session advisory lock held fails" {
  goose_setup
  goose_row 1 true
  goose_row 2 true
  hold_pg_advisory_lock 4097083626
  assert_check "$(migrations_config postgres goose "$REL" 'timeout = "1500ms"')" 1 fail "goose advisory lock 4097083626 held"
}

# --- Prisma ----------------------------------------------------------------------------------

prisma_setup() {
  mkdir -p "$REL/20240101000000_init" "$REL/20240102000000_more"
  printf 'CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n' >"$REL/20240101000000_init/migration.sql"
  printf 'ALTER TABLE t ADD COLUMN n INT;\n' >"$REL/20240102000000_more/migration.sql"
  printf 'provider = "postgresql"\n' >"$REL/migration_lock.toml"
  db_psql -c 'CREATE TABLE _prisma_migrations (id VARCHAR(36) PRIMARY KEY, checksum VARCHAR(64) NOT NULL,
      finished_at TIMESTAMPTZ, migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ,
      started_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_steps_count INT NOT NULL DEFAULT 0)'
}

prisma_row() { # name finished(true/false) rolled_back(true/false) [checksum]
  local sum=${4:-$(sha256sum "$REL/$1/migration.sql" | cut -d' ' -f1)}
  db_psql -c "INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, rolled_back_at, started_at)
    VALUES (md5(random()::text), '$sum', CASE WHEN $2 THEN now() END, '$1', CASE WHEN $3 THEN now() END, clock_timestamp())"
}

@test "prisma: every migration finished with its checksum passes (a rolled-back row is ignored)" {
  prisma_setup
  prisma_row 20240101000000_init true false
  prisma_row 20240102000000_more false true
  prisma_row 20240102000000_more true false
  [ "$(sha256sum "$REL/20240101000000_init/migration.sql" | cut -d' ' -f1)" = 658d79b02021172ce2614c9d26b098e064c690a7d219832fe29ffa7aef569005 ]
  assert_check "$(migrations_config postgres prisma "$REL")" 0 pass "2 migrations applied"
}

@test "prisma: a migration directory not applied is pending" {
  prisma_setup
  prisma_row 20240101000000_init true false
  assert_check "$(migrations_config postgres prisma "$REL")" 1 fail "1 pending (20240102000000_more)"
}

@test "prisma: a row neither finished nor rolled back is a failed migration" {
  prisma_setup
  prisma_row 20240101000000_init true false
  prisma_row 20240102000000_more false false
  assert_check "$(migrations_config postgres prisma "$REL")" 1 fail "1 failed or half-applied (20240102000000_more)"
}

@test "prisma: an edited migration.sql is a checksum mismatch; CRLF line endings are not" {
  prisma_setup
  prisma_row 20240101000000_init true false
  prisma_row 20240102000000_more true false
  printf 'CREATE TABLE t (id INT);\r\nINSERT INTO t VALUES (1);\r\n' >"$REL/20240101000000_init/migration.sql"
  assert_check "$(migrations_config postgres prisma "$REL")" 0 pass
  printf 'ALTER TABLE t ADD COLUMN n BIGINT;\n' >"$REL/20240102000000_more/migration.sql"
  assert_check "$(migrations_config postgres prisma "$REL")" 1 fail "1 checksum mismatch (20240102000000_more)"
}

@test "prisma: a migration applied but not shipped fails" {
  prisma_setup
  prisma_row 20240101000000_init true false
  prisma_row 20240102000000_more true false
  prisma_row 20240103000000_later true false 00
  assert_check "$(migrations_config postgres prisma "$REL")" 1 fail "not shipped with the release (20240103000000_later)"
}

@test "prisma: its advisory lock 72707369 held fails" {
  prisma_setup
  prisma_row 20240101000000_init true false
  prisma_row 20240102000000_more true false
  hold_pg_advisory_lock 72707369
  assert_check "$(migrations_config postgres prisma "$REL" 'timeout = "1500ms"')" 1 fail "prisma advisory lock 72707369 held"
}

# --- sqlx ------------------------------------------------------------------------------------

sqlx_setup() {
  printf 'CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n' >"$REL/20240101000000_init.sql"
  printf 'ALTER TABLE t ADD COLUMN n INT;\n' >"$REL/20240102000000_more.up.sql"
  printf 'ALTER TABLE t DROP COLUMN n;\n' >"$REL/20240102000000_more.down.sql"
  db_psql -c 'CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
      installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, checksum BYTEA NOT NULL,
      execution_time BIGINT NOT NULL)'
}

sqlx_row() { # version file success
  local sum
  sum=$(sha384sum "$REL/$2" | cut -d' ' -f1)
  db_psql -c "INSERT INTO _sqlx_migrations VALUES ($1, 'x', now(), $3, decode('$sum', 'hex'), 1)"
}

@test "sqlx: every version applied with its SHA-384 passes" {
  sqlx_setup
  sqlx_row 20240101000000 20240101000000_init.sql true
  sqlx_row 20240102000000 20240102000000_more.up.sql true
  [[ "$(sha384sum "$REL/20240101000000_init.sql")" == 965dce94838e4642715cdfb5bd5e0e2e* ]]
  assert_check "$(migrations_config postgres sqlx "$REL")" 0 pass "2 migrations applied"
}

@test "sqlx: a version not applied is pending" {
  sqlx_setup
  sqlx_row 20240101000000 20240101000000_init.sql true
  assert_check "$(migrations_config postgres sqlx "$REL")" 1 fail "1 pending (20240102000000)"
}

@test "sqlx: success = false is a partially applied migration" {
  sqlx_setup
  sqlx_row 20240101000000 20240101000000_init.sql true
  sqlx_row 20240102000000 20240102000000_more.up.sql false
  assert_check "$(migrations_config postgres sqlx "$REL")" 1 fail "1 failed or half-applied (20240102000000)"
}

@test "sqlx: a file whose line endings changed is a checksum mismatch (sqlx is not tolerant)" {
  sqlx_setup
  sqlx_row 20240101000000 20240101000000_init.sql true
  sqlx_row 20240102000000 20240102000000_more.up.sql true
  printf 'CREATE TABLE t (id INT);\r\nINSERT INTO t VALUES (1);\n' >"$REL/20240101000000_init.sql"
  assert_check "$(migrations_config postgres sqlx "$REL")" 1 fail "1 checksum mismatch (20240101000000)"
}

@test "sqlx: its advisory lock (0x3d32ad9e * crc32 of the database) held fails" {
  sqlx_setup
  sqlx_row 20240101000000 20240101000000_init.sql true
  sqlx_row 20240102000000 20240102000000_more.up.sql true
  key=$("$RG_PYTHON" -c "import zlib,sys; print(0x3d32ad9e * zlib.crc32(sys.argv[1].encode()))" "$DB_NAME")
  hold_pg_advisory_lock "$key"
  assert_check "$(migrations_config postgres sqlx "$REL" 'timeout = "1500ms"')" 1 fail "sqlx advisory lock $key held"
}

# --- Laravel ---------------------------------------------------------------------------------

laravel_setup() {
  touch "$REL/2024_01_01_000000_create_users_table.php" "$REL/2024_01_02_000000_add_votes.php"
  db_psql -c "CREATE TABLE migrations (id serial PRIMARY KEY, migration varchar(255) NOT NULL, batch int NOT NULL)"
}

laravel_row() { db_psql -c "INSERT INTO migrations (migration, batch) VALUES ('$1', 1)"; }

@test "laravel: every migration ran passes" {
  laravel_setup
  laravel_row 2024_01_01_000000_create_users_table
  laravel_row 2024_01_02_000000_add_votes
  assert_check "$(migrations_config postgres laravel "$REL")" 0 pass "2 migrations applied"
}

@test "laravel: a migration not run is pending" {
  laravel_setup
  laravel_row 2024_01_01_000000_create_users_table
  assert_check "$(migrations_config postgres laravel "$REL")" 1 fail "1 pending (2024_01_02_000000_add_votes)"
}

@test "laravel: a migration ran but not shipped fails, unless allow_ahead" {
  laravel_setup
  laravel_row 2024_01_01_000000_create_users_table
  laravel_row 2024_01_02_000000_add_votes
  laravel_row 2024_02_01_000000_drop_legacy
  assert_check "$(migrations_config postgres laravel "$REL")" 1 fail "not shipped with the release (2024_02_01_000000_drop_legacy)"
  assert_check "$(migrations_config postgres laravel "$REL" 'allow_ahead = true')" 0 pass
}

@test "sqlx: a version applied but not shipped fails" {
  sqlx_setup
  sqlx_row 20240101000000 20240101000000_init.sql true
  sqlx_row 20240102000000 20240102000000_more.up.sql true
  db_psql -c "INSERT INTO _sqlx_migrations VALUES (20240103000000, 'later', now(), true, '\\x00', 1)"
  assert_check "$(migrations_config postgres sqlx "$REL")" 1 fail "not shipped with the release (20240103000000)"
}

@test "every tool: no history table fails (exit 1) naming the table it looked for" {
  touch "$REL/00001_x.sql"
  for tool in alembic dbmate django flyway golang-migrate goose knex laravel liquibase prisma rails sql-migrate sqlx; do
    case $tool in
      alembic) table=alembic_version ;; dbmate | golang-migrate | rails) table=schema_migrations ;;
      django) table=django_migrations ;; flyway) table=flyway_schema_history ;;
      goose) table=goose_db_version ;; knex) table=knex_migrations ;; laravel) table=migrations ;;
      liquibase) table=databasechangelog ;; prisma) table=_prisma_migrations ;;
      sql-migrate) table=gorp_migrations ;; sqlx) table=_sqlx_migrations ;;
    esac
    assert_check "$(migrations_config postgres "$tool" "$REL")" 1 fail "history table public.$table does not exist"
  done
}
