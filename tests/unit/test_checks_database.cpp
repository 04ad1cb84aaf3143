// The database kind: parsing, the percentile, the pure judgement of latency, headroom and the
// query's value, and the run through the fake SQL probe (the connection limits each server has).
#include "fakes/sql.hpp"
#include "testutil.hpp"

#include <checks/database.hpp>

#include <fmt/format.h>

using namespace std::chrono_literals;
using hook::Status;
using Kind = checks::ConnectionLimit::Kind;

namespace {

util::Result<checks::DatabaseSpec>
parse(std::string_view keys)
{
  return checks::parse_database(
    testutil::spec_from(fmt::format("[[check]]\nid = \"db\"\nkind = \"database\"\n{}\n", keys)));
}

checks::DatabaseSpec
parsed(std::string_view keys)
{
  auto spec = parse(keys);
  INFO(testutil::error_message(spec));
  REQUIRE(spec);
  return std::move(*spec);
}

checks::DatabaseObservation
observed(std::vector<std::chrono::microseconds> trips)
{
  checks::DatabaseObservation observation;
  observation.target = "postgres app@127.0.0.1:5432/app";
  observation.server_version = "15.18";
  observation.connect_time = 3ms;
  observation.round_trips = std::move(trips);
  return observation;
}

} // namespace

TEST_CASE("database: parse keys and their errors", "[database]")
{
  const auto spec = parsed(R"(driver = "mysql"
dsn_file = "/etc/app/dsn"
samples = 20
max_latency = "25ms"
min_free_connections = 10
query = "SELECT 2"
expect = "2")");
  CHECK(spec.driver == util::SqlDriver::mysql);
  CHECK(spec.samples == 20);
  CHECK(spec.max_latency == 25ms);
  CHECK(spec.min_free_connections == 10);
  CHECK(spec.expectations.size() == 1);
  const auto error = [](std::string_view keys) { return testutil::error_message(parse(keys)); };
  CHECK_THAT(error("driver = \"postgres\""),
             Catch::Contains("missing key \"dsn_env\" or \"dsn_file\""));
  CHECK_THAT(error("driver = \"postgres\"\ndsn_env = \"D\"\nsamples = 0"),
             Catch::Contains("key \"samples\""));
  CHECK_THAT(error("driver = \"sqlite\"\ndsn_env = \"D\"\nmin_free_connections = 1"),
             Catch::Contains("SQLite has no connection limit"));
  CHECK_THAT(error("driver = \"postgres\"\ndsn_env = \"D\"\nexpect = \"1\""),
             Catch::Contains("needs \"query\""));
  CHECK_THAT(error("driver = \"postgres\"\ndsn_env = \"D\"\nquery = \" ; \""),
             Catch::Contains("key \"query\""));
  CHECK_THAT(error("driver = \"postgres\"\ndsn_env = \"D\"\nmax_latency = \"5\""),
             Catch::Contains("key \"max_latency\""));
}

TEST_CASE("database: p95 is the nearest rank", "[database]")
{
  CHECK(checks::p95({}) == 0us);
  CHECK(checks::p95({7us}) == 7us);
  std::vector<std::chrono::microseconds> twenty;
  for (int i = 1; i <= 20; ++i) {
    twenty.emplace_back(i);
  }
  CHECK(checks::p95(twenty) == 19us);
  twenty.emplace_back(1000);
  CHECK(checks::p95(twenty) == 20us);
}

TEST_CASE("database: evaluate latency, connect time, headroom and the query's value", "[database]")
{
  auto spec = parsed(R"(driver = "postgres"
dsn_env = "D"
max_latency = "10ms"
max_connect_time = "1s"
min_free_connections = 5
query = "SELECT release FROM meta"
expect = "1.4.2")");
  auto good = observed({1ms, 2ms, 3ms});
  good.limits = {{Kind::server, "", 100, 3, 10}};
  good.query_value = "1.4.2";
  const auto pass = checks::evaluate_database(spec, good);
  CHECK(pass.status == Status::pass);
  CHECK_THAT(pass.message,
             Catch::Contains("p95 3.0 ms over 3 round trips")
               && Catch::Contains("87 of 97 connections free"));

  auto slow = good;
  slow.round_trips = {1ms, 50ms};
  const auto fail = checks::evaluate_database(spec, slow);
  CHECK(fail.status == Status::fail);
  CHECK_THAT(fail.message, Catch::Contains("SELECT 1 p95 50.0 ms (at most 10ms)"));

  auto full = good;
  full.limits = {{Kind::server, "", 100, 3, 95}};
  const auto crowded = checks::evaluate_database(spec, full);
  CHECK(crowded.status == Status::fail);
  REQUIRE_FALSE(crowded.findings.empty());
  CHECK(crowded.findings.front().found == "2 (95 in use of max_connections 100, 3 reserved)");

  auto wrong = good;
  wrong.query_value = "1.4.1";
  const auto differs = checks::evaluate_database(spec, wrong);
  CHECK(differs.status == Status::fail);
  CHECK(differs.findings.front().subject == "query");

  auto none = good;
  none.query_value.reset();
  CHECK(checks::evaluate_database(spec, none).status == Status::fail);

  auto slow_connect = good;
  slow_connect.connect_time = 2s;
  CHECK_THAT(checks::evaluate_database(spec, slow_connect).message,
             Catch::Contains("connect took"));
}

TEST_CASE("database: free connections are the tightest limit's, and the message names it",
          "[database]")
{
  auto spec = parsed("driver = \"postgres\"\ndsn_env = \"D\"\nmin_free_connections = 2");
  auto roomy = observed({1ms});
  roomy.limits = {{Kind::server, "", 100, 3, 10},
                  {Kind::role, "app", 20, 0, 4},
                  {Kind::database, "app", 50, 0, 6}};
  const auto pass = checks::evaluate_database(spec, roomy);
  CHECK(pass.status == Status::pass);
  CHECK_THAT(pass.message,
             Catch::Contains("16 of 20 connections free (role \"app\" CONNECTION LIMIT 20)"));

  // The role leaves 1, the database 0: the database binds, both are findings, binding first.
  auto tight = roomy;
  tight.limits[1] = {Kind::role, "app", 5, 0, 4};
  tight.limits[2] = {Kind::database, "app", 6, 0, 6};
  const auto fail = checks::evaluate_database(spec, tight);
  CHECK(fail.status == Status::fail);
  CHECK_THAT(fail.message,
             Catch::Contains(
               "0 connections free (at least 2): database \"app\" CONNECTION LIMIT 6, 6 in use")
               && Catch::Contains("(and 1 more)"));
  REQUIRE(fail.findings.size() == 2);
  CHECK(fail.findings[0].subject == "free connections");
  CHECK(fail.findings[0].expected == "at least 2");
  CHECK(fail.findings[0].found == "0 (6 in use of database \"app\" CONNECTION LIMIT 6)");
  CHECK(fail.findings[1].found == "1 (4 in use of role \"app\" CONNECTION LIMIT 5)");

  // MySQL/MariaDB: the account's own limit, and the global one.
  auto account = roomy;
  account.limits = {{Kind::server, "", 151, 0, 3}, {Kind::account, "app@%", 2, 0, 2}};
  CHECK_THAT(checks::evaluate_database(spec, account).findings.front().found,
             Catch::Equals("0 (2 in use of account app@% MAX_USER_CONNECTIONS 2)"));
  account.limits[1] = {Kind::global_user_connections, "app@%", 3, 0, 2};
  CHECK_THAT(checks::evaluate_database(spec, account).message,
             Catch::Contains("1 connections free (at least 2): global max_user_connections 3 "
                             "(account app@%), 2 in use"));

  // A tie names the server's limit; the reserved slots are the server's.
  auto tie = roomy;
  tie.limits = {{Kind::server, "", 10, 3, 5}, {Kind::role, "app", 4, 0, 2}};
  CHECK_THAT(checks::evaluate_database(spec, tie).message,
             Catch::Contains("2 of 7 connections free (max_connections 10)"));
}

TEST_CASE("database: MAX_USER_CONNECTIONS is read from SHOW CREATE USER outside quotes",
          "[database]")
{
  const auto limit = [](std::string_view statement) {
    auto value = checks::account_connection_limit(statement);
    INFO(testutil::error_message(value));
    REQUIRE(value);
    return *value;
  };
  CHECK(limit("CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '*D821809F681A40A6'") == 0);
  CHECK(limit("CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '*D8' WITH MAX_USER_CONNECTIONS 3")
        == 3);
  CHECK(limit("CREATE USER 'app'@'%' WITH MAX_QUERIES_PER_HOUR 9 max_user_connections 12 "
              "MAX_CONNECTIONS_PER_HOUR 4")
        == 12);
  // A name or a hash that reads like the clause is not the clause.
  CHECK(limit("CREATE USER `MAX_USER_CONNECTIONS`@`%` IDENTIFIED WITH 'x' AS "
              "'MAX_USER_CONNECTIONS 7 \\' MAX_USER_CONNECTIONS 8' REQUIRE NONE")
        == 0);
  CHECK(limit("CREATE USER `a``b`@`%` IDENTIFIED BY PASSWORD 'it''s MAX_USER_CONNECTIONS 5' WITH "
              "MAX_USER_CONNECTIONS 6")
        == 6);
  CHECK(limit("CREATE USER `app`@`%` WITH MAX_USER_CONNECTIONS -1") == -1);
  const auto bad = checks::account_connection_limit(
    "CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '*SECRETHASH' WITH MAX_USER_CONNECTIONS x");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == util::Errc::protocol);
  CHECK_THAT(bad.error().message, !Catch::Contains("SECRETHASH"));
  CHECK_FALSE(checks::account_connection_limit("CREATE USER x WITH MAX_USER_CONNECTIONS"));
}

namespace {

using Answers = fakes::SqlConnection::Answers;

util::Result<util::SqlRows>
answer(std::vector<std::vector<std::optional<std::string>>> values)
{
  return fakes::sql_rows(std::move(values));
}

// Run a database check with min_free_connections = `min_free` on `driver` against a connection
// answering `answers` (SELECT 1 answered too) from a server of `version`.
hook::CheckResult
run_with(util::SqlDriver driver,
         Answers answers,
         std::string version,
         std::int64_t min_free,
         std::vector<std::string>* log = nullptr)
{
  ::setenv("RG_UNIT_DATABASE_DSN",
           driver == util::SqlDriver::postgres ? "postgresql://app:hunter2@db/app"
                                               : "mysql://app:hunter2@db/app",
           1);
  auto spec = parsed(fmt::format("driver = \"{}\"\ndsn_env = \"RG_UNIT_DATABASE_DSN\"\nsamples = "
                                 "2\nmin_free_connections = {}",
                                 util::sql_driver_name(driver),
                                 min_free));
  answers.emplace_back("SELECT 1", [] { return answer({{"1"}}); });
  auto connector = std::make_shared<fakes::SqlConnector>();
  connector->make = [&]() -> util::Result<std::unique_ptr<util::SqlConnection>> {
    return std::unique_ptr<util::SqlConnection>(
      std::make_unique<fakes::SqlConnection>(driver, answers, log, version));
  };
  hook::CheckContext ctx;
  ctx.deadline = util::Clock::now() + 10s;
  ctx.probes.install<util::SqlConnector>(connector);
  auto result = checks::run_database(spec, ctx);
  ::unsetenv("RG_UNIT_DATABASE_DSN");
  CHECK(connector->connects == 1);
  CHECK_THAT(result.message, !Catch::Contains("hunter2"));
  return result;
}

// pg: client backends, max_connections, superuser_reserved, reserved, role, rolsuper,
// rolconnlimit, the role's sessions, database, datconnlimit, the database's sessions.
Answers
postgres_answers(std::vector<std::optional<std::string>> row)
{
  return {{"pg_stat_activity", [row] { return answer({row}); }}};
}

} // namespace

TEST_CASE("database: run on PostgreSQL reads the role's and the database's limits", "[database]")
{
  std::vector<std::string> log;
  const auto role_bound =
    run_with(util::SqlDriver::postgres,
             postgres_answers({"12", "100", "3", "0", "app", "false", "2", "2", "app", "-1", "7"}),
             "15.18",
             1,
             &log);
  CHECK(role_bound.status == Status::fail);
  CHECK_THAT(role_bound.message,
             Catch::Contains("0 connections free (at least 1): role \"app\" CONNECTION LIMIT 2"));
  // One statement: the counts and the limits of one snapshot, from the session's own role and
  // database.
  const auto limits_sql = std::find_if(
    log.begin(), log.end(), [](const auto& sql) { return sql.find("pg_roles") != sql.npos; });
  REQUIRE(limits_sql != log.end());
  CHECK_THAT(*limits_sql,
             Catch::Contains("rolname = session_user")
               && Catch::Contains("datname = current_database()") && Catch::Contains("rolconnlimit")
               && Catch::Contains("datconnlimit"));

  const auto database_bound =
    run_with(util::SqlDriver::postgres,
             postgres_answers({"12", "100", "3", "0", "app", "false", "-1", "2", "app", "8", "7"}),
             "15.18",
             2);
  CHECK(database_bound.status == Status::fail);
  CHECK_THAT(database_bound.message,
             Catch::Contains("database \"app\" CONNECTION LIMIT 8, 7 in use"));

  // -1 is no limit; a superuser is held to neither (the server lets it past both).
  const auto unlimited =
    run_with(util::SqlDriver::postgres,
             postgres_answers({"12", "100", "3", "0", "app", "false", "-1", "2", "app", "-1", "7"}),
             "15.18",
             2);
  CHECK(unlimited.status == Status::pass);
  CHECK_THAT(unlimited.message, Catch::Contains("85 of 97 connections free (max_connections 100)"));
  const auto superuser = run_with(
    util::SqlDriver::postgres,
    postgres_answers({"12", "100", "3", "0", "postgres", "true", "1", "2", "app", "1", "7"}),
    "15.18",
    2);
  CHECK(superuser.status == Status::pass);

  // A catalog the role may not read is an error, never "no limit".
  const auto denied = run_with(
    util::SqlDriver::postgres,
    {{"pg_stat_activity",
      [] {
        return util::Result<util::SqlRows>(util::make_error(
          util::Errc::permission, "postgres app@db/app: permission denied for view pg_roles"));
      }}},
    "15.18",
    1);
  CHECK(denied.status == Status::error);
  CHECK_THAT(denied.message,
             Catch::StartsWith("connection limits: ")
               && Catch::Contains("permission denied for view pg_roles"));
  const auto unparseable = run_with(
    util::SqlDriver::postgres,
    postgres_answers({"12", "100", "3", "0", "app", "false", std::nullopt, "2", "app", "-1", "7"}),
    "15.18",
    1);
  CHECK(unparseable.status == Status::error);
  CHECK_THAT(unparseable.message, Catch::Contains("rolconnlimit: expected an integer, found NULL"));
}

namespace {

// mysql: max_connections, global max_user_connections, CURRENT_USER(), the user's connections,
// SUPER or CONNECTION ADMIN; Threads_connected; SHOW CREATE USER's statement.
Answers
mysql_answers(std::vector<std::optional<std::string>> row,
              std::string create_user,
              std::string threads = "5")
{
  return {{"SHOW CREATE USER", [create_user] { return answer({{create_user}}); }},
          {"Threads_connected",
           [threads] {
             return answer({{"Threads_connected", threads}});
           }},
          {"@@global.max_user_connections", [row] { return answer({row}); }}};
}

} // namespace

TEST_CASE("database: run on MySQL/MariaDB reads the account's and the global max_user_connections",
          "[database]")
{
  const std::string maria = "10.11.19-MariaDB-0+deb12u1";
  const std::string plain = "CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '*AB12'";
  const std::string own = plain + " WITH MAX_USER_CONNECTIONS 3";

  // The account's own limit binds, and the global one then does not count.
  const auto account = run_with(
    util::SqlDriver::mysql, mysql_answers({"151", "100", "app@%", "3", "0"}, own), maria, 1);
  CHECK(account.status == Status::fail);
  CHECK_THAT(account.message,
             Catch::Contains(
               "0 connections free (at least 1): account app@% MAX_USER_CONNECTIONS 3, 3 in use"));
  CHECK(account.findings.size() == 1);

  // None of its own (0): the global value, as the server applies it.
  const auto global = run_with(
    util::SqlDriver::mysql, mysql_answers({"151", "4", "app@%", "3", "0"}, plain), maria, 2);
  CHECK(global.status == Status::fail);
  CHECK_THAT(global.message,
             Catch::Contains("1 connections free (at least 2): global max_user_connections 4 "
                             "(account app@%), 3 in use"));
  // MariaDB lets SUPER or CONNECTION ADMIN past the global value; MySQL does not.
  CHECK(run_with(
          util::SqlDriver::mysql, mysql_answers({"151", "4", "app@%", "3", "1"}, plain), maria, 2)
          .status
        == Status::pass);
  CHECK(
    run_with(
      util::SqlDriver::mysql, mysql_answers({"151", "4", "app@%", "3", "1"}, plain), "8.0.36", 2)
      .status
    == Status::fail);
  // 0 is no limit, and so is MariaDB's -1 for a session it admitted.
  const auto none = run_with(
    util::SqlDriver::mysql, mysql_answers({"151", "0", "app@%", "3", "0"}, plain), maria, 2);
  CHECK(none.status == Status::pass);
  CHECK_THAT(none.message, Catch::Contains("146 of 151 connections free (max_connections 151)"));
  CHECK(run_with(
          util::SqlDriver::mysql, mysql_answers({"151", "-1", "app@%", "3", "1"}, plain), maria, 2)
          .status
        == Status::pass);

  // SHOW CREATE USER refused is an error, never "no limit".
  auto refused = mysql_answers({"151", "0", "app@%", "3", "0"}, plain);
  refused.front().second = [] {
    return util::Result<util::SqlRows>(util::make_error(
      util::Errc::permission,
      "mysql app@db/app: Access denied; you need the SELECT privilege (error 1227)"));
  };
  const auto denied = run_with(util::SqlDriver::mysql, refused, maria, 1);
  CHECK(denied.status == Status::error);
  CHECK_THAT(denied.message,
             Catch::StartsWith("connection limits: SHOW CREATE USER: ")
               && Catch::Contains("Access denied"));
}
