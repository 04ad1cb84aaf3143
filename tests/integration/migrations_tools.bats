#!/usr/bin/env bats
# The migrations kind against history tables written by the real tools on PostgreSQL 15:
# Alembic (python3-alembic), Django (python3-django), Rails' ActiveRecord (ruby-activerecord),
# sql-migrate (Debian), Knex and dbmate (npm, pinned in sql_tools.bash). Also driver = "command"
# with the frameworks' own status commands.

bats_require_minimum_version 1.5.0

load helpers
load servers
load sql_tools

setup_file() {
  start_shared start_postgres
  npm_tools
}
teardown_file() { stop_servers; }
setup() {
  require_shared
  new_pg_db
  REL="$BATS_TEST_TMPDIR/release"
  mkdir -p "$REL"
  export PYTHONDONTWRITEBYTECODE=1
}
teardown() { stop_servers; }

# --- Alembic ---------------------------------------------------------------------------------

alembic() { (cd "$REL" && /usr/bin/python3 -m alembic "$@" >/dev/null); }

alembic_setup() { # revisions aaa1 -> bbb2
  alembic init -t generic mig
  sed -i "s|^sqlalchemy.url = .*|sqlalchemy.url = ${DSN/postgresql:/postgresql+psycopg2:}|" "$REL/alembic.ini"
  alembic revision -m first --rev-id aaa1
  alembic revision -m second --rev-id bbb2
}

@test "alembic: the database at the scripts' head passes" {
  alembic_setup
  alembic upgrade head
  assert_check "$(migrations_config postgres alembic "$REL/mig")" 0 pass "(latest bbb2)"
}

@test "alembic: a database behind the head has the later revisions pending" {
  alembic_setup
  alembic upgrade aaa1
  assert_check "$(migrations_config postgres alembic "$REL/mig")" 1 fail "1 pending (bbb2)"
}

@test "alembic: a head the scripts do not know (code older than the database) fails" {
  alembic_setup
  alembic revision -m third --rev-id ccc3
  alembic upgrade head
  rm "$REL"/mig/versions/ccc3_*.py
  assert_check "$(migrations_config postgres alembic "$REL/mig")" 1 fail "not shipped with the release (ccc3)"
  assert_check "$(migrations_config postgres alembic "$REL/mig" 'allow_ahead = true')" 0 pass
}

@test "alembic: no alembic_version table fails saying so" {
  alembic_setup
  assert_check "$(migrations_config postgres alembic "$REL/mig")" 1 fail \
    "history table public.alembic_version does not exist" "2 pending (aaa1, bbb2)"
}

# --- Django ----------------------------------------------------------------------------------

django_setup() {
  mkdir -p "$REL/polls/migrations"
  cat >"$REL/settings.py" <<'EOF'
import os, urllib.parse
u = urllib.parse.urlparse(os.environ["DATABASE_URL"])
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": u.path[1:],
  "USER": u.username, "PASSWORD": u.password, "HOST": u.hostname, "PORT": u.port}}
INSTALLED_APPS = ["polls"]
SECRET_KEY = "test"
USE_TZ = True
EOF
  cat >"$REL/manage.py" <<'EOF'
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
EOF
  touch "$REL/polls/__init__.py" "$REL/polls/migrations/__init__.py"
  django_migration 0001_initial "" "CREATE TABLE poll (id int)"
  django_migration 0002_choice "('polls', '0001_initial')" "CREATE TABLE choice (id int)"
}

django_migration() { # name dependency sql
  cat >"$REL/polls/migrations/$1.py" <<EOF
from django.db import migrations
class Migration(migrations.Migration):
    dependencies = [$2]
    operations = [migrations.RunSQL("$3")]
EOF
}

django() { (cd "$REL" && DATABASE_URL="$DSN" /usr/bin/python3 manage.py "$@" >/dev/null); }

@test "django: every migration of the release's apps applied passes" {
  django_setup
  django migrate
  assert_check "$(migrations_config postgres django "$REL")" 0 pass "2 migrations applied"
}

@test "django: a migration not applied is pending" {
  django_setup
  django migrate polls 0001
  assert_check "$(migrations_config postgres django "$REL")" 1 fail "1 pending (polls.0002_choice)"
}

@test "django: a migration applied but not shipped fails" {
  django_setup
  django_migration 0003_vote "('polls', '0002_choice')" "CREATE TABLE vote (id int)"
  django migrate
  rm "$REL/polls/migrations/0003_vote.py"
  assert_check "$(migrations_config postgres django "$REL")" 1 fail "not shipped with the release (polls.0003_vote)"
}

@test "django: driver = command runs manage.py migrate --check with the DSN" {
  django_setup
  django migrate polls 0001
  config=$(write_config <<EOF
[[check]]
id = "schema"
kind = "migrations"
driver = "command"
tool = "django"
argv = ["/usr/bin/python3", "manage.py", "migrate", "--check"]
working_dir = "$REL"
dsn_env = "RG_DSN"
timeout = "60s"
EOF
)
  assert_check "$config" 1 fail "django status command: exit code 1 (expected 0)"
  django migrate
  assert_check "$config" 0 pass "django status command: exit code 0"
}

# --- Rails (ActiveRecord) --------------------------------------------------------------------

rails_setup() {
  mkdir -p "$REL/db/migrate"
  rails_migration 20240101000000 create_users "create_table :users"
  rails_migration 20240102000000 add_email "add_column :users, :email, :string"
  cat >"$BATS_TEST_TMPDIR/migrate.rb" <<'EOF'
require "active_record"
ActiveRecord::Base.establish_connection(ENV.fetch("DATABASE_URL"))
ActiveRecord::Migration.verbose = false
ActiveRecord::MigrationContext.new(ARGV[0], ActiveRecord::SchemaMigration).up(ARGV[1] && ARGV[1].to_i)
EOF
}

rails_migration() { # version name statement
  local class
  class=$(echo "$2" | sed -E 's/(^|_)([a-z])/\U\2/g')
  cat >"$REL/db/migrate/$1_$2.rb" <<EOF
class $class < ActiveRecord::Migration[6.1]
  def change
    $3
  end
end
EOF
}

rails_migrate() { DATABASE_URL="$DSN" ruby "$BATS_TEST_TMPDIR/migrate.rb" "$REL/db/migrate" "$@"; }

@test "rails: every migration applied passes" {
  rails_setup
  rails_migrate
  assert_check "$(migrations_config postgres rails "$REL/db/migrate")" 0 pass "(latest 20240102000000)"
}

@test "rails: a migration not applied is pending" {
  rails_setup
  rails_migrate 20240101000000
  assert_check "$(migrations_config postgres rails "$REL/db/migrate")" 1 fail "1 pending (20240102000000)"
}

@test "rails: a version applied with no file fails (NO FILE)" {
  rails_setup
  rails_migration 20240103000000 add_age "add_column :users, :age, :integer"
  rails_migrate
  rm "$REL/db/migrate/20240103000000_add_age.rb"
  assert_check "$(migrations_config postgres rails "$REL/db/migrate")" 1 fail "not shipped with the release (20240103000000)"
}

@test "rails: its advisory lock (2053462845 * crc32 of the database) held fails" {
  rails_setup
  rails_migrate
  key=$("$RG_PYTHON" -c "import zlib,sys; print(2053462845 * zlib.crc32(sys.argv[1].encode()))" "$DB_NAME")
  hold_pg_advisory_lock "$key"
  assert_check "$(migrations_config postgres rails "$REL/db/migrate" 'timeout = "1500ms"')" 1 fail "rails advisory lock $key held"
}

# --- sql-migrate -----------------------------------------------------------------------------

sql_migrate_setup() {
  mkdir -p "$REL/migrations"
  sql_migrate_file 1_init "CREATE TABLE a (id int);"
  sql_migrate_file 2_more "CREATE TABLE b (id int);"
  cat >"$REL/dbconfig.yml" <<EOF
production:
  dialect: postgres
  datasource: $DSN?sslmode=disable
  dir: $REL/migrations
EOF
}

sql_migrate_file() { printf -- '-- +migrate Up\n%s\n-- +migrate Down\nSELECT 1;\n' "$2" >"$REL/migrations/$1.sql"; }

sql_migrate_up() { sql-migrate up -config="$REL/dbconfig.yml" -env=production "$@" >/dev/null; }

@test "sql-migrate: every migration applied passes" {
  sql_migrate_setup
  sql_migrate_up
  assert_check "$(migrations_config postgres sql-migrate "$REL/migrations")" 0 pass "2 migrations applied"
}

@test "sql-migrate: a migration not applied is pending" {
  sql_migrate_setup
  sql_migrate_up -limit=1
  assert_check "$(migrations_config postgres sql-migrate "$REL/migrations")" 1 fail "1 pending (2_more.sql)"
}

@test "sql-migrate: a migration applied but not shipped fails" {
  sql_migrate_setup
  sql_migrate_file 3_later "CREATE TABLE c (id int);"
  sql_migrate_up
  rm "$REL/migrations/3_later.sql"
  assert_check "$(migrations_config postgres sql-migrate "$REL/migrations")" 1 fail "not shipped with the release (3_later.sql)"
}

# --- Knex ------------------------------------------------------------------------------------

knex_setup() {
  mkdir -p "$REL/migrations"
  knex_file 20240101000000_init
  knex_file 20240102000000_more
  cat >"$BATS_TEST_TMPDIR/knex.js" <<'EOF'
const path = require("path");
const knex = require("knex")({ client: "pg", connection: process.env.DATABASE_URL,
  migrations: { directory: path.resolve(process.argv[2]) } });
(async () => {
  if (process.argv[3] === "up") await knex.migrate.up(); else await knex.migrate.latest();
  await knex.destroy();
})().catch((e) => { console.error(e.message); process.exit(1); });
EOF
}

knex_file() {
  printf 'exports.up = (knex) => knex.schema.createTable("t_%s", (t) => { t.increments(); });\nexports.down = (knex) => knex.schema.dropTable("t_%s");\n' "$1" "$1" >"$REL/migrations/$1.js"
}

knex() { DATABASE_URL="$DSN" NODE_PATH="$RG_NPM_DIR/node_modules" node "$BATS_TEST_TMPDIR/knex.js" "$REL/migrations" "$@"; }

@test "knex: every migration applied passes" {
  knex_setup
  knex latest
  assert_check "$(migrations_config postgres knex "$REL/migrations")" 0 pass "2 migrations applied"
}

@test "knex: a migration not applied is pending" {
  knex_setup
  knex up
  assert_check "$(migrations_config postgres knex "$REL/migrations")" 1 fail "1 pending (20240102000000_more.js)"
}

@test "knex: a migration applied but not shipped fails (the directory is corrupt)" {
  knex_setup
  knex_file 20240103000000_later
  knex latest
  rm "$REL/migrations/20240103000000_later.js"
  assert_check "$(migrations_config postgres knex "$REL/migrations")" 1 fail "not shipped with the release (20240103000000_later.js)"
}

@test "knex: knex_migrations_lock.is_locked = 1 is a held lock" {
  knex_setup
  knex latest
  [ "$(db_psql -Atc 'SELECT is_locked FROM knex_migrations_lock')" = 0 ]
  db_psql -c 'UPDATE knex_migrations_lock SET is_locked = 1'
  assert_check "$(migrations_config postgres knex "$REL/migrations" 'timeout = "1500ms"')" 1 fail "knex lock table knex_migrations_lock held"
}

# --- dbmate ----------------------------------------------------------------------------------

dbmate_setup() {
  mkdir -p "$REL/db/migrations"
  dbmate_file 20240101000000_init "CREATE TABLE a (id int);"
  dbmate_file 20240102000000_more "CREATE TABLE b (id int);"
}

dbmate_file() { printf -- '-- migrate:up\n%s\n-- migrate:down\nSELECT 1;\n' "$2" >"$REL/db/migrations/$1.sql"; }

dbmate_pg() { DATABASE_URL="$DSN?sslmode=disable" dbmate --migrations-dir "$REL/db/migrations" "$@" >/dev/null; }

@test "dbmate: every migration applied passes" {
  dbmate_setup
  dbmate_pg migrate
  assert_check "$(migrations_config postgres dbmate "$REL/db/migrations")" 0 pass "2 migrations applied"
}

@test "dbmate: a migration not applied is pending" {
  dbmate_setup
  dbmate_pg migrate
  dbmate_file 20240103000000_later "CREATE TABLE c (id int);"
  assert_check "$(migrations_config postgres dbmate "$REL/db/migrations")" 1 fail "1 pending (20240103000000)"
}

@test "dbmate: a migration applied but not shipped fails" {
  dbmate_setup
  dbmate_pg migrate
  rm "$REL/db/migrations/20240102000000_more.sql"
  assert_check "$(migrations_config postgres dbmate "$REL/db/migrations")" 1 fail "not shipped with the release (20240102000000)"
}

@test "dbmate: driver = command runs dbmate status --exit-code with the DSN in DATABASE_URL" {
  dbmate_setup
  DSN="$DSN?sslmode=disable"
  config=$(write_config <<EOF
[[check]]
id = "schema"
kind = "migrations"
driver = "command"
tool = "dbmate"
argv = ["$RG_NPM_DIR/node_modules/.bin/dbmate", "--migrations-dir", "$REL/db/migrations", "status", "--exit-code"]
dsn_env = "RG_DSN"
stdout_contains = "Pending: 0"
EOF
)
  assert_check "$config" 1 fail "dbmate status command: exit code 1 (expected 0)"
  DATABASE_URL="$DSN" dbmate --migrations-dir "$REL/db/migrations" migrate >/dev/null
  assert_check "$config" 0 pass "dbmate status command: exit code 0"
}
