// The database kind: parsing, the percentile, the pure judgement of latency, headroom and the
// query's value.
#include "testutil.hpp"

#include <checks/database.hpp>

#include <fmt/format.h>

using namespace std::chrono_literals;
using hook::Status;

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
  good.headroom = checks::ConnectionHeadroom{10, 100, 3};
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
  full.headroom = checks::ConnectionHeadroom{95, 100, 3};
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
