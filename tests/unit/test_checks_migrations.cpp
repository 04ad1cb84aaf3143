// The migrations kind: the tools' checksums and lock keys (the reference's vectors), their file
// naming, the judgement of every state (pure), parsing, and the run through a fake SQL probe.
#include "fakes/sql.hpp"
#include "testutil.hpp"

#include <checks/migrations/migrations_check.hpp>
#include <checks/migrations/tools.hpp>

#include <fmt/format.h>

#include <functional>
#include <map>

using namespace std::chrono_literals;
using hook::Status;
namespace mig = checks::migrations;

namespace {

util::Result<mig::MigrationsSpec>
parse(std::string_view keys, const std::filesystem::path& base = "/srv/app")
{
  return mig::parse_migrations(testutil::spec_from(
    fmt::format("[[check]]\nid = \"schema\"\nkind = \"migrations\"\n{}\n", keys), base));
}

mig::MigrationsSpec
parsed(std::string_view keys)
{
  auto spec = parse(keys);
  INFO(testutil::error_message(spec));
  REQUIRE(spec);
  return std::move(*spec);
}

mig::MigrationsSpec
spec_for(std::string_view tool, bool allow_ahead = false)
{
  return parsed(fmt::format(R"(driver = "postgres"
tool = "{}"
dsn_env = "DB"
migrations_dir = "db"
allow_ahead = {})",
                            tool,
                            allow_ahead));
}

mig::Shipped
shipped(std::string id, std::vector<std::string> checksums = {})
{
  return mig::Shipped{std::move(id), std::move(checksums), {}, {}, false};
}

mig::MigrationsObservation
observation(std::vector<mig::Shipped> files, std::vector<mig::Applied> applied)
{
  mig::MigrationsObservation observed;
  observed.table = "public.history";
  observed.shipped = std::move(files);
  observed.history.applied = std::move(applied);
  return observed;
}

std::vector<std::string>
subjects(const hook::CheckResult& result)
{
  std::vector<std::string> out;
  for (const auto& finding : result.findings) {
    out.push_back(finding.subject + ": " + finding.found);
  }
  return out;
}

using FakeConnection = fakes::SqlConnection;
using FakeConnector = fakes::SqlConnector;

util::SqlRows
rows(std::vector<std::vector<std::optional<std::string>>> values, std::size_t columns = 0)
{
  return fakes::sql_rows(std::move(values), columns);
}

} // namespace

TEST_CASE("migrations tools: checksums match the reference vectors", "[migrations]")
{
  const std::string lf = "CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n";
  const std::string crlf = "CREATE TABLE t (id INT);\r\nINSERT INTO t VALUES (1);\n";
  CHECK(mig::flyway_checksum(lf) == 194980085);
  CHECK(mig::flyway_checksum(crlf) == 194980085);
  CHECK(mig::flyway_checksum("\xEF\xBB\xBF" + lf) == 194980085);
  CHECK(mig::sha384_hex(lf).starts_with("965dce94838e4642715cdfb5bd5e0e2e"));
  CHECK(mig::sha384_hex(crlf).starts_with("79ab1cc5a581e8ef92d07f3211450b2f"));
  CHECK(mig::crc32("123456789") == 0xCBF43926U);
}

TEST_CASE("migrations tools: advisory lock keys match the reference (db app, schema public)",
          "[migrations]")
{
  CHECK(mig::flyway_lock_key("public", "flyway_schema_history") == 77433833903597);
  CHECK(mig::rails_lock_key("app") == 6939591962871035475);
  CHECK(mig::sqlx_lock_key("app") == 3469795979745788610);
  CHECK(mig::golang_migrate_lock_key("public", "schema_migrations", "app") == 1787120056);
  CHECK(mig::java_string_hash("hello") == 99162322);
}

TEST_CASE("migrations tools: Flyway versions and id order compare numerically", "[migrations]")
{
  CHECK(mig::flyway_version("1_10") == "1.10");
  CHECK(mig::flyway_version("1.010.0") == "1.10");
  CHECK(mig::flyway_version("002") == "2");
  CHECK(mig::id_less("1.9", "1.10"));
  CHECK(mig::id_less("V2", "V10"));
  CHECK_FALSE(mig::id_less("20240301", "20240301"));
  CHECK(mig::id_less("9", "20240301120000"));
}

TEST_CASE("migrations tools: each tool reads its own file naming from migrations_dir",
          "[migrations]")
{
  testutil::TempDir dir;
  const auto sql = std::string("CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n");
  const auto ids = [&](std::string_view tool) {
    const auto* descriptor = mig::find_tool(tool);
    REQUIRE(descriptor != nullptr);
    auto read = mig::read_shipped(*descriptor, dir.path() / tool, util::Clock::now() + 5s, {});
    INFO(testutil::error_message(read));
    REQUIRE(read);
    std::vector<std::string> out;
    for (const auto& migration : *read) {
      out.push_back(migration.id);
    }
    return out;
  };
  const auto write =
    [&](std::string_view tool, std::string_view name, std::string_view content = "") {
      testutil::write_file(dir.path() / tool / name, content);
    };
  write("flyway", "V1__init.sql", sql);
  write("flyway", "V1_10__more.sql", sql);
  write("flyway", "V1_9__less.sql", sql);
  write("flyway", "R__views.sql", sql);
  write("flyway", "U2__undo.sql", sql);
  write("flyway", "README.md");
  CHECK(ids("flyway") == std::vector<std::string>{"1", "1.9", "1.10", "R__views.sql"});

  write("golang-migrate", "000001_init.up.sql");
  write("golang-migrate", "000001_init.down.sql");
  write("golang-migrate", "20240301120000_add.up.sql");
  CHECK(ids("golang-migrate") == std::vector<std::string>{"1", "20240301120000"});

  write("rails", "20240101000000_create_users.rb");
  write("rails", "20240102000000_add_email.rb");
  write("rails", "schema.rb");
  CHECK(ids("rails") == std::vector<std::string>{"20240101000000", "20240102000000"});

  write("knex", "20240101_init.js");
  write("knex", "20240102_more.ts");
  write("knex", "types.d.ts");
  CHECK(ids("knex") == std::vector<std::string>{"20240101_init.js", "20240102_more.ts"});

  write("prisma", "20240101000000_init/migration.sql", sql);
  write("prisma", "migration_lock.toml");
  CHECK(ids("prisma") == std::vector<std::string>{"20240101000000_init"});

  write("sqlx", "20240101000000_init.sql", sql);
  write("sqlx", "20240102000000_more.up.sql", sql);
  write("sqlx", "20240102000000_more.down.sql", sql);
  CHECK(ids("sqlx") == std::vector<std::string>{"20240101000000", "20240102000000"});

  write("laravel", "2024_01_01_000000_create_users_table.php");
  CHECK(ids("laravel") == std::vector<std::string>{"2024_01_01_000000_create_users_table"});

  write("goose", "00001_init.sql");
  write("goose", "00002_more.go");
  write("goose", "00002_more_test.go");
  CHECK(ids("goose") == std::vector<std::string>{"1", "2"});

  write("dbmate", "20240101000000_init.sql");
  write("dbmate", "notes.txt");
  CHECK(ids("dbmate") == std::vector<std::string>{"20240101000000"});

  write("sql-migrate", "1_init.sql");
  write("sql-migrate", "2_more.sql");
  CHECK(ids("sql-migrate") == std::vector<std::string>{"1_init.sql", "2_more.sql"});

  write("laravel", "sub/ignored.php"); // one level only
  CHECK(ids("laravel") == std::vector<std::string>{"2024_01_01_000000_create_users_table"});

  write("alembic", "versions/ae10_init.py", "revision = 'ae10'\ndown_revision = None\n");
  write("alembic",
        "versions/bb20_more.py",
        "revision: str = \"bb20\"\ndown_revision: Union[str, None] = \"ae10\"\n");
  write("alembic", "versions/__init__.py");
  CHECK(ids("alembic") == std::vector<std::string>{"ae10", "bb20"});

  write("django", "polls/migrations/__init__.py");
  write("django", "polls/migrations/0001_initial.py");
  write("django",
        "polls/migrations/0002_squashed.py",
        "replaces = [('polls', '0001_initial'), (\"polls\", \"0001_b\")]\n");
  write("django", "manage.py");
  CHECK(ids("django") == std::vector<std::string>{"polls.0001_initial", "polls.0002_squashed"});

  write("liquibase",
        "changelog.sql",
        "--liquibase formatted sql\n--changeset alice:1\nCREATE TABLE a (id int);\n"
        "--changeset bob:2 runOnChange:true\nCREATE TABLE b (id int);\n");
  write("liquibase",
        "more.xml",
        "<databaseChangeLog><changeSet id=\"3\" author=\"carol\"></changeSet></databaseChangeLog>");
  write("liquibase",
        "more.yaml",
        "databaseChangeLog:\n  - changeSet:\n      id: 4\n      author: dave\n");
  CHECK(ids("liquibase") == std::vector<std::string>{"alice:1", "bob:2", "carol:3", "dave:4"});
}

TEST_CASE("migrations tools: Prisma accepts the file's LF and CRLF variants", "[migrations]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "20240101000000_init/migration.sql",
                       "CREATE TABLE t (id INT);\r\nINSERT INTO t VALUES (1);\n");
  auto read = mig::read_shipped(*mig::find_tool("prisma"), dir.path(), util::Clock::now() + 5s, {});
  REQUIRE(read);
  REQUIRE(read->size() == 1);
  const auto& sums = read->front().checksums;
  CHECK(std::find(sums.begin(),
                  sums.end(),
                  "658d79b02021172ce2614c9d26b098e064c690a7d219832fe29ffa7aef569005")
        != sums.end());
  CHECK(std::find(sums.begin(),
                  sums.end(),
                  "00caac7ab99579d58fd8c99f7dd4c695924e3da3167472064e610523a996b0d7")
        != sums.end());
}

TEST_CASE("migrations tools: two files with one id, or a missing dir, are errors", "[migrations]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "001_a.up.sql", "");
  testutil::write_file(dir.path() / "1_b.up.sql", "");
  const auto* tool = mig::find_tool("golang-migrate");
  auto twice = mig::read_shipped(*tool, dir.path(), util::Clock::now() + 5s, {});
  REQUIRE_FALSE(twice);
  CHECK_THAT(twice.error().message, Catch::Contains("two files give the migration id \"1\""));
  auto missing = mig::read_shipped(*tool, dir.path() / "nope", util::Clock::now() + 5s, {});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == util::Errc::io);
}

TEST_CASE("migrations: parse rejects an unknown tool, a literal DSN, both sources", "[migrations]")
{
  const auto error = [](std::string_view keys) { return testutil::error_message(parse(keys)); };
  CHECK_THAT(error("driver = \"postgres\"\ntool = \"flywya\"\ndsn_env = \"D\"\nexpected = [\"1\"]"),
             Catch::Contains("key \"tool\"") && Catch::Contains("unknown tool \"flywya\"")
               && Catch::Contains("alembic, dbmate"));
  CHECK_THAT(error("driver = \"oracle\"\ntool = \"flyway\"\ndsn_env = \"D\"\nexpected = [\"1\"]"),
             Catch::Contains("key \"driver\""));
  CHECK_THAT(
    error("driver = \"postgres\"\ntool = \"flyway\"\ndsn = \"postgresql://x\"\nexpected = [\"1\"]"),
    Catch::Contains("unknown key \"dsn\""));
  CHECK_THAT(error("driver = \"postgres\"\ntool = \"flyway\"\nexpected = [\"1\"]"),
             Catch::Contains("missing key \"dsn_env\" or \"dsn_file\""));
  CHECK_THAT(error("driver = \"postgres\"\ntool = \"flyway\"\ndsn_env = \"D\""),
             Catch::Contains("missing key \"migrations_dir\""));
  CHECK_THAT(error("driver = \"postgres\"\ntool = \"flyway\"\ndsn_env = \"D\"\nexpected = "
                   "[\"1\"]\nmigrations_dir = \"db\""),
             Catch::Contains("not both"));
  CHECK_THAT(error("driver = \"postgres\"\ntool = \"flyway\"\ndsn_env = \"D\"\nexpected = "
                   "[\"1\"]\ntable = \"x; DROP\""),
             Catch::Contains("key \"table\""));
  CHECK_THAT(error("driver = \"postgres\"\ntool = \"flyway\"\ndsn_env = \"D\"\nexpected = "
                   "[\"1\"]\nargv = [\"x\"]"),
             Catch::Contains("only with driver = \\\"command\\\"")
               || Catch::Contains("only with driver = \"command\""));
  CHECK_THAT(error("driver = \"command\"\ntool = \"flyway\""),
             Catch::Contains("missing key \"argv\""));
  CHECK_THAT(error("driver = \"command\"\ntool = \"rails\"\nmigrations_dir = \"db\""),
             Catch::Contains("only with a SQL driver"));
  const auto command = parsed("driver = \"command\"\ntool = \"django\"");
  REQUIRE(command.command);
  CHECK(command.command->argv
        == std::vector<std::string>{"python3", "manage.py", "migrate", "--check"});
  CHECK(command.command->working_dir == std::filesystem::path("/srv/app"));
}

TEST_CASE("migrations: evaluate, a set of rows: up to date, pending, unknown, allow_ahead",
          "[migrations]")
{
  const auto spec = spec_for("rails");
  auto up = observation({shipped("1"), shipped("2")}, {{"1", {}}, {"2", {}}});
  const auto pass = mig::evaluate_migrations(spec, up);
  CHECK(pass.status == Status::pass);
  CHECK_THAT(pass.message, Catch::Contains("2 migrations applied") && Catch::Contains("latest 2"));

  auto pending = observation({shipped("1"), shipped("2"), shipped("3")}, {{"1", {}}});
  const auto fail = mig::evaluate_migrations(spec, pending);
  CHECK(fail.status == Status::fail);
  CHECK_THAT(fail.message, Catch::Contains("2 pending (2, 3)"));
  CHECK(subjects(fail) == std::vector<std::string>{"2: pending", "3: pending"});

  auto ahead = observation({shipped("1")}, {{"1", {}}, {"7", {}}});
  const auto unknown = mig::evaluate_migrations(spec, ahead);
  CHECK(unknown.status == Status::fail);
  CHECK_THAT(unknown.message, Catch::Contains("1 applied but not shipped with the release (7)"));
  const auto allowed = mig::evaluate_migrations(spec_for("rails", true), ahead);
  CHECK(allowed.status == Status::pass);
  CHECK_THAT(allowed.message, Catch::Contains("allowed by allow_ahead (7)"));
}

TEST_CASE("migrations: evaluate failed rows, checksums, locks and a missing table", "[migrations]")
{
  const auto flyway = spec_for("flyway");
  auto failed = observation({shipped("1"), shipped("2")}, {{"1", {}}});
  failed.history.failed.push_back({"2", "success = false"});
  const auto result = mig::evaluate_migrations(flyway, failed);
  CHECK(result.status == Status::fail);
  CHECK_THAT(result.message, Catch::Contains("1 failed or half-applied (2)"));
  CHECK(subjects(result).front() == "2: failed (success = false)");

  auto sums = observation({shipped("1", {"194980085"}), shipped("2", {"5"})},
                          {{"1", "194980085"}, {"2", "-7"}});
  const auto mismatch = mig::evaluate_migrations(flyway, sums);
  CHECK(mismatch.status == Status::fail);
  CHECK_THAT(mismatch.message, Catch::Contains("1 checksum mismatch (2)"));
  CHECK(mismatch.findings.front().found == "checksum mismatch: stored -7, file 5");

  auto repeatable = observation({shipped("1")}, {{"1", {}}, {"R__v.sql", "3"}});
  repeatable.shipped.push_back(mig::Shipped{"R__v.sql", {"4"}, {}, {}, true});
  const auto reapply = mig::evaluate_migrations(flyway, repeatable);
  CHECK(reapply.status == Status::fail);
  CHECK_THAT(reapply.message, Catch::Contains("1 pending (R__v.sql)"));

  auto baseline = observation({shipped("1"), shipped("2"), shipped("3")}, {{"3", {}}});
  baseline.history.baseline = "2";
  CHECK(mig::evaluate_migrations(flyway, baseline).status == Status::pass);

  auto locked = observation({shipped("1")}, {{"1", {}}});
  locked.locks.push_back({"flyway advisory lock 77433833903597", "pid 42 (flyway)"});
  const auto held = mig::evaluate_migrations(flyway, locked);
  CHECK(held.status == Status::fail);
  CHECK_THAT(held.message,
             Catch::Contains("flyway advisory lock 77433833903597 held (pid 42 (flyway))"));

  auto missing = observation({shipped("1"), shipped("2")}, {});
  missing.table_missing = true;
  const auto none = mig::evaluate_migrations(flyway, missing);
  CHECK(none.status == Status::fail);
  CHECK_THAT(none.message,
             Catch::StartsWith("history table public.history does not exist")
               && Catch::Contains("2 pending (1, 2)"));
}

TEST_CASE("migrations: evaluate golang-migrate's single version and dirty flag", "[migrations]")
{
  const auto spec = spec_for("golang-migrate");
  auto current = observation({shipped("1"), shipped("2")}, {{"2", {}}});
  CHECK(mig::evaluate_migrations(spec, current).status == Status::pass);
  auto behind = observation({shipped("1"), shipped("2"), shipped("3")}, {{"1", {}}});
  CHECK_THAT(mig::evaluate_migrations(spec, behind).message, Catch::Contains("2 pending (2, 3)"));
  auto ahead = observation({shipped("1")}, {{"5", {}}});
  CHECK_THAT(mig::evaluate_migrations(spec, ahead).message,
             Catch::Contains("not shipped with the release (5)"));
  auto dirty = observation({shipped("1"), shipped("2")}, {});
  dirty.history.failed.push_back({"2", "dirty = true"});
  const auto result = mig::evaluate_migrations(spec, dirty);
  CHECK(result.status == Status::fail);
  CHECK_THAT(result.message, Catch::Contains("1 failed or half-applied (2)"));
  auto empty = observation({shipped("1")}, {});
  empty.history.empty_single_version = true;
  CHECK_THAT(mig::evaluate_migrations(spec, empty).message, Catch::Contains("1 pending (1)"));
}

TEST_CASE("migrations: evaluate Alembic heads against the revision graph", "[migrations]")
{
  const auto spec = spec_for("alembic");
  auto a = mig::Shipped{"a", {}, {}, {}, false};
  auto b = mig::Shipped{"b", {}, {"a"}, {}, false};
  auto c = mig::Shipped{"c", {}, {"b"}, {}, false};
  CHECK(mig::evaluate_migrations(spec, observation({a, b, c}, {{"c", {}}})).status == Status::pass);
  const auto behind = mig::evaluate_migrations(spec, observation({a, b, c}, {{"a", {}}}));
  CHECK_THAT(behind.message, Catch::Contains("2 pending (b, c)"));
  const auto unknown = mig::evaluate_migrations(spec, observation({a, b}, {{"zz", {}}}));
  CHECK_THAT(unknown.message, Catch::Contains("not shipped with the release (zz)"));
}

TEST_CASE("migrations: evaluate Django ignores apps the release ships no migrations for",
          "[migrations]")
{
  const auto spec = spec_for("django");
  auto squash =
    mig::Shipped{"polls.0001_squashed", {}, {}, {"polls.0001_a", "polls.0002_b"}, false};
  auto observed =
    observation({squash}, {{"polls.0001_a", {}}, {"polls.0002_b", {}}, {"auth.0001_initial", {}}});
  CHECK(mig::evaluate_migrations(spec, observed).status == Status::pass);
  auto extra = observation({shipped("polls.0001_a")}, {{"polls.0001_a", {}}, {"polls.0009_x", {}}});
  CHECK_THAT(mig::evaluate_migrations(spec, extra).message, Catch::Contains("(polls.0009_x)"));
}

TEST_CASE("migrations: tool history rows become the common model", "[migrations]")
{
  const auto read = [](std::string_view tool, const util::SqlRows& in) {
    auto history = mig::find_tool(tool)->read_history(in);
    INFO(testutil::error_message(history));
    REQUIRE(history);
    return *history;
  };
  const auto flyway = read("flyway",
                           rows({{"1", "SQL", "V1__a.sql", "5", "t"},
                                 {"2", "SQL", "V2__b.sql", "6", "f"},
                                 {std::nullopt, "SQL", "R__v.sql", "7", "1"},
                                 {std::nullopt, "SQL", "R__v.sql", "8", "1"},
                                 {"3", "DELETE", "V3__c.sql", "", "t"}}));
  REQUIRE(flyway.applied.size() == 2);
  CHECK(flyway.applied[1].id == "R__v.sql");
  CHECK(flyway.applied[1].checksum == "8");
  REQUIRE(flyway.failed.size() == 1);
  CHECK(flyway.failed[0].id == "2");

  const auto prisma = read("prisma",
                           rows({{"a", "AA", "2024", std::nullopt},
                                 {"b", "bb", std::nullopt, "2024"},
                                 {"c", "cc", std::nullopt, std::nullopt}}));
  REQUIRE(prisma.applied.size() == 1);
  CHECK(prisma.applied[0].checksum == "aa");
  REQUIRE(prisma.failed.size() == 1);
  CHECK(prisma.failed[0].id == "c");

  const auto sqlx = read("sqlx", rows({{"0001", "t", "\\xABCD"}, {"2", "f", std::nullopt}}));
  CHECK(sqlx.applied[0].id == "1");
  CHECK(sqlx.applied[0].checksum == "abcd");
  CHECK(sqlx.failed[0].id == "2");

  const auto goose =
    read("goose", rows({{"0", "t"}, {"1", "t"}, {"2", "t"}, {"2", "f"}, {"3", "t"}}));
  REQUIRE(goose.applied.size() == 2);
  CHECK(goose.applied[0].id == "1");
  CHECK(goose.applied[1].id == "3");

  const auto dirty = read("golang-migrate", rows({{"20240301120000", "t"}}));
  CHECK(dirty.failed[0].marker == "dirty = true");
  CHECK(read("golang-migrate", rows({}, 2)).empty_single_version);
  CHECK_FALSE(mig::find_tool("golang-migrate")->read_history(rows({{"1", "f"}, {"2", "f"}})));

  const auto liquibase = read(
    "liquibase",
    rows({{"1", "alice", "c.sql", "EXECUTED", "9:x"}, {"2", "bob", "c.sql", "FAILED", "9:y"}}));
  CHECK(liquibase.applied[0].id == "alice:1");
  CHECK(liquibase.failed[0].id == "bob:2");
}

TEST_CASE("migrations: run reads the history, the locks, and redacts the DSN", "[migrations]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "db/1_init.up.sql", "");
  testutil::write_file(dir.path() / "db/2_more.up.sql", "");
  ::setenv("RG_UNIT_MIGRATIONS_DSN", "postgresql://app:hunter2@db/app", 1);
  auto spec = mig::parse_migrations(testutil::spec_from(
    "[[check]]\nid = \"s\"\nkind = \"migrations\"\ndriver = \"postgres\"\ntool = "
    "\"golang-migrate\"\ndsn_env = \"RG_UNIT_MIGRATIONS_DSN\"\nmigrations_dir = \"db\"\n",
    dir.path()));
  REQUIRE(spec);
  auto connector = std::make_shared<FakeConnector>();
  std::vector<std::string> log;
  int lock_looks = 0;
  const std::int64_t key = mig::golang_migrate_lock_key("public", "schema_migrations", "app");
  connector->make = [&]() -> util::Result<std::unique_ptr<util::SqlConnection>> {
    FakeConnection::Answers answers{
      {"SELECT current_database(), current_schema()",
       [] {
         return util::Result<util::SqlRows>(rows({{"app", "public"}}));
       }},
      {"pg_locks",
       [&]() -> util::Result<util::SqlRows> {
         // Held on the first look, released on the second.
         if (lock_looks++ <= 0) {
           return rows({{std::to_string(static_cast<std::uint64_t>(key) >> 32U),
                         std::to_string(static_cast<std::uint64_t>(key) & 0xFFFFFFFFU),
                         "42",
                         "migrate",
                         "3"}});
         }
         return rows({}, 5);
       }},
      {"to_regclass", [] { return util::Result<util::SqlRows>(rows({{"t"}})); }},
      {"SELECT version, dirty",
       [] {
         return util::Result<util::SqlRows>(rows({{"2", "f"}}));
       }},
    };
    return std::unique_ptr<util::SqlConnection>(
      std::make_unique<FakeConnection>(util::SqlDriver::postgres, answers, &log));
  };
  hook::CheckContext ctx;
  ctx.deadline = util::Clock::now() + 10s;
  ctx.probes.install<util::SqlConnector>(connector);
  const auto result = mig::run_migrations(*spec, ctx);
  INFO(result.message);
  CHECK(result.status == Status::pass);
  CHECK(lock_looks == 2);
  CHECK(connector->connects == 2);
  CHECK_THAT(result.message, Catch::Contains("public.schema_migrations: 1 migration applied"));
  for (const auto& sql : log) {
    CHECK_THAT(sql, !Catch::Contains("pg_try_advisory") && !Catch::Contains("pg_advisory_lock"));
    if (sql.find("pg_locks") != std::string::npos) {
      // An advisory lock is its database's: another database's lock on the key is not this one.
      CHECK_THAT(sql, Catch::Contains("l.database = "));
    }
  }

  // A lock held until the deadline fails, naming it.
  lock_looks = -1000;
  ctx.deadline = util::Clock::now() + 1500ms;
  const auto held = mig::run_migrations(*spec, ctx);
  CHECK(held.status == Status::fail);
  CHECK_THAT(held.message,
             Catch::Contains("golang-migrate advisory lock 1787120056 held (pid 42 (migrate)"));

  // A server error that echoes the DSN is redacted.
  connector->make = []() -> util::Result<std::unique_ptr<util::SqlConnection>> {
    return util::make_error(util::Errc::permission,
                            "postgres app@db/app: rejected postgresql://app:hunter2@db/app");
  };
  const auto denied = mig::run_migrations(*spec, ctx);
  CHECK(denied.status == Status::error);
  CHECK_THAT(denied.message, !Catch::Contains("hunter2") && Catch::Contains("<redacted>"));
  ::unsetenv("RG_UNIT_MIGRATIONS_DSN");
}

TEST_CASE("migrations: a migrations_dir with no migration of the tool is an error naming it and "
          "the files expected, also with allow_ahead",
          "[migrations]")
{
  testutil::TempDir dir;
  // Everything but the migrations: what a release packaged without its files still holds.
  testutil::write_file(dir.path() / "db/README.md", "migrations go here\n");
  testutil::write_file(dir.path() / "db/schema.rb", "");
  std::filesystem::create_directories(dir.path() / "db/empty");
  ::setenv("RG_UNIT_MIGRATIONS_DSN", "postgresql://app:hunter2@db/app", 1);
  for (const auto& tool : mig::tool_descriptors()) {
    for (const auto* folder : {"db", "db/empty"}) {
      for (const bool allow_ahead : {false, true}) {
        auto spec = mig::parse_migrations(testutil::spec_from(
          fmt::format("[[check]]\nid = \"s\"\nkind = \"migrations\"\ndriver = \"postgres\"\ntool = "
                      "\"{}\"\ndsn_env = \"RG_UNIT_MIGRATIONS_DSN\"\nmigrations_dir = \"{}\"\n"
                      "allow_ahead = {}\n",
                      tool.name,
                      folder,
                      allow_ahead),
          dir.path()));
        REQUIRE(spec);
        auto connector = std::make_shared<FakeConnector>();
        connector->make = []() -> util::Result<std::unique_ptr<util::SqlConnection>> {
          // A database whose history holds rows: with allow_ahead they would pass.
          return std::unique_ptr<util::SqlConnection>(std::make_unique<FakeConnection>(
            util::SqlDriver::postgres,
            FakeConnection::Answers{{"", [] { return util::Result<util::SqlRows>(rows({})); }}},
            nullptr));
        };
        hook::CheckContext ctx;
        ctx.deadline = util::Clock::now() + 10s;
        ctx.probes.install<util::SqlConnector>(connector);
        const auto result = mig::run_migrations(*spec, ctx);
        INFO(tool.name << " " << folder << " allow_ahead " << allow_ahead << ": "
                       << result.message);
        CHECK(result.status == Status::error);
        CHECK_THAT(result.message,
                   Catch::StartsWith("migrations_dir: " + (dir.path() / folder).string() + ": no "
                                     + std::string(tool.name) + " migration found (expected "
                                     + std::string(tool.files))
                     && Catch::Contains("expected = []"));
        CHECK(connector->connects == 0);
      }
    }
  }
  ::unsetenv("RG_UNIT_MIGRATIONS_DSN");
}

TEST_CASE("migrations: an empty expected list says the release ships none, for every model",
          "[migrations]")
{
  for (const auto& tool : mig::tool_descriptors()) {
    INFO(tool.name);
    const auto keys = fmt::format(
      "driver = \"postgres\"\ntool = \"{}\"\ndsn_env = \"DB\"\nexpected = []", tool.name);
    const auto spec = parsed(keys);
    CHECK(spec.expected.empty());
    const auto ahead = parsed(keys + "\nallow_ahead = true");
    const auto none = mig::shipped_from_ids(tool, {});

    // Nothing applied: as expected.
    auto empty = observation(none, {});
    empty.from_files = false;
    empty.history.empty_single_version = tool.model == mig::Model::single_version;
    CHECK(mig::evaluate_migrations(spec, empty).status == Status::pass);

    // Something applied: ahead of the release, which allow_ahead admits.
    auto applied = observation(none, {{"20240101000000", {}}});
    applied.from_files = false;
    const auto fail = mig::evaluate_migrations(spec, applied);
    CHECK(fail.status == Status::fail);
    CHECK_THAT(fail.message,
               Catch::Contains("1 applied but not shipped with the release (20240101000000)"));
    CHECK(mig::evaluate_migrations(ahead, applied).status == Status::pass);

    // No history table: no migration of the tool has run, and none is expected.
    auto missing = observation(none, {});
    missing.from_files = false;
    missing.table_missing = true;
    const auto pass = mig::evaluate_migrations(spec, missing);
    CHECK(pass.status == Status::pass);
    CHECK_THAT(pass.message,
               Catch::Contains("does not exist")
                 && Catch::Contains("expects none (expected = [])"));
    missing.locks.push_back({"a lock", "pid 4"});
    CHECK(mig::evaluate_migrations(spec, missing).status == Status::fail);
  }
  // A missing table with files shipped is still every file pending.
  auto shipped_missing = observation({shipped("1")}, {});
  shipped_missing.table_missing = true;
  CHECK(mig::evaluate_migrations(spec_for("rails"), shipped_missing).status == Status::fail);
}
