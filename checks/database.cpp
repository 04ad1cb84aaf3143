#include "database.hpp"

#include <checks/common.hpp>
#include <config/fields.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

namespace checks {

namespace {

using config::KeySpec;
using config::KeyType;

// clang-format off
constexpr std::array k_database_keys = {
  KeySpec{"driver",               KeyType::string,   true,  "",     false, "postgres, mysql or sqlite"},
  KeySpec{"dsn_env",              KeyType::string,   false, "",     true,  "environment variable holding the DSN"},
  KeySpec{"dsn_file",             KeyType::path,     false, "",     true,  "file holding the DSN (not world-readable)"},
  KeySpec{"samples",              KeyType::integer,  false, "5",    false, "SELECT 1 round trips timed (1 to 1000)"},
  KeySpec{"max_latency",          KeyType::duration, false, "",     false, "the most the 95th percentile of the round trips may take"},
  KeySpec{"max_connect_time",     KeyType::duration, false, "",     false, "the most the connect (with authentication) may take"},
  KeySpec{"min_free_connections", KeyType::integer,  false, "",     false, "connections that must be left free for this host (postgres, mysql)"},
  KeySpec{"query",                KeyType::string,   false, "",     false, "one read-only statement; its first value is judged"},
  KeySpec{"expect",               KeyType::string,   false, "",     false, "the query's first value must equal this"},
  KeySpec{"expect_matches",       KeyType::strings,  false, "",     false, "patterns the query's first value must match"},
};
// clang-format on

std::string
millis(std::chrono::microseconds value)
{
  return fmt::format("{:.1f} ms", static_cast<double>(value.count()) / 1000.0);
}

util::Result<std::int64_t>
integer_of(const std::optional<std::string>& text, std::string_view what)
{
  std::int64_t value = 0;
  if (text) {
    const auto* end = text->data() + text->size();
    const auto [stop, error] = std::from_chars(text->data(), end, value);
    if (error == std::errc() && stop == end) {
      return value;
    }
  }
  return util::make_error(util::Errc::protocol,
                          fmt::format("{}: expected an integer, found {}",
                                      what,
                                      text ? util::printable_excerpt(*text, false) : "NULL"));
}

util::Result<ConnectionHeadroom>
read_headroom(util::SqlConnection& connection,
              util::Clock::time_point deadline,
              const std::stop_token& stop)
{
  ConnectionHeadroom headroom;
  if (connection.target().driver == util::SqlDriver::postgres) {
    RG_TRY_ASSIGN(
      const auto rows,
      connection.query("SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                       "'client backend')::text, current_setting('max_connections'), "
                       "current_setting('superuser_reserved_connections'), "
                       "coalesce(current_setting('reserved_connections', true), '0')",
                       deadline,
                       stop));
    if (rows.rows.empty() || rows.rows.front().size() < 4) {
      return util::make_error(util::Errc::protocol, "the connection counts returned no row");
    }
    const auto& row = rows.rows.front();
    RG_TRY_ASSIGN(headroom.used, integer_of(row[0], "client backends"));
    RG_TRY_ASSIGN(headroom.limit, integer_of(row[1], "max_connections"));
    RG_TRY_ASSIGN(const auto superuser, integer_of(row[2], "superuser_reserved_connections"));
    RG_TRY_ASSIGN(const auto reserved, integer_of(row[3], "reserved_connections"));
    headroom.reserved = superuser + reserved;
    return headroom;
  }
  RG_TRY_ASSIGN(const auto limit, connection.query("SELECT @@max_connections", deadline, stop));
  RG_TRY_ASSIGN(const auto status,
                connection.query("SHOW GLOBAL STATUS LIKE 'Threads_connected'", deadline, stop));
  if (limit.rows.empty() || limit.rows.front().empty() || status.rows.empty()
      || status.rows.front().size() < 2) {
    return util::make_error(util::Errc::protocol, "the connection counts returned no row");
  }
  RG_TRY_ASSIGN(headroom.limit, integer_of(limit.rows.front()[0], "max_connections"));
  RG_TRY_ASSIGN(headroom.used, integer_of(status.rows.front()[1], "Threads_connected"));
  return headroom;
}

} // namespace

config::KeyTable
database_keys()
{
  return k_database_keys;
}

util::Result<DatabaseSpec>
parse_database(const config::CheckSpec& check_spec)
{
  config::FieldReader reader(check_spec, k_database_keys);
  RG_TRY(reader.check_keys());
  DatabaseSpec spec;
  RG_TRY_ASSIGN(const auto driver,
                reader.optional_choice("driver", {"postgres", "mysql", "sqlite"}));
  if (!driver) {
    return reader.error("missing key \"driver\"");
  }
  spec.driver = *util::sql_driver_from_name(*driver);
  RG_TRY_ASSIGN(const auto dsn, reader.optional_secret("dsn"));
  if (!dsn) {
    return reader.error("missing key \"dsn_env\" or \"dsn_file\" (the DSN is a secret, never "
                        "written in the config)");
  }
  spec.dsn = *dsn;
  RG_TRY_ASSIGN(const auto samples, reader.optional_integer("samples", 1, 1000));
  spec.samples = static_cast<unsigned>(samples.value_or(5));
  RG_TRY_ASSIGN(spec.max_latency, reader.optional_duration("max_latency"));
  RG_TRY_ASSIGN(spec.max_connect_time, reader.optional_duration("max_connect_time"));
  RG_TRY_ASSIGN(spec.min_free_connections,
                reader.optional_integer("min_free_connections", 0, 1'000'000));
  if (spec.min_free_connections && spec.driver == util::SqlDriver::sqlite) {
    return reader.error_at("min_free_connections", "SQLite has no connection limit");
  }
  RG_TRY_ASSIGN(spec.query, reader.optional_string("query"));
  if (spec.query
      && (spec.query->find_first_not_of(" \t\r\n;") == std::string::npos
          || spec.query->find('\0') != std::string::npos)) {
    return reader.error_at("query", "expected one SQL statement");
  }
  RG_TRY_ASSIGN(const auto expect, reader.optional_string("expect"));
  if (expect) {
    spec.expectations.push_back(hook::Expectation::equals(*expect));
  }
  RG_TRY_ASSIGN(auto patterns, reader.string_or_array("expect_matches"));
  for (auto& text : patterns) {
    auto pattern = util::compile_pattern(std::move(text));
    if (!pattern) {
      return reader.error_at("expect_matches", pattern.error().message);
    }
    spec.expectations.push_back(hook::Expectation::matches(std::move(*pattern)));
  }
  if (!spec.expectations.empty() && !spec.query) {
    return reader.error_at(expect ? "expect" : "expect_matches", "needs \"query\"");
  }
  return spec;
}

util::Result<std::unique_ptr<hook::Check>>
create_database_check(const config::CheckSpec& spec)
{
  return create_check<DatabaseSpec, parse_database, run_database>(spec);
}

hook::CheckResult
run_database(const DatabaseSpec& spec, const hook::CheckContext& ctx)
{
  auto secret = spec.dsn.read(ctx.deadline);
  if (!secret) {
    return hook::CheckResult::error(fmt::format("dsn: {}", secret.error().message));
  }
  // A SQLite DSN is the database file's path: it names where, and carries no password.
  util::Redactor redactor;
  if (spec.driver != util::SqlDriver::sqlite) {
    redactor = util::Redactor(util::dsn_secrets(*secret));
  }
  const auto observe = [&]() -> util::Result<DatabaseObservation> {
    DatabaseObservation observed;
    const auto started = util::Clock::now();
    RG_TRY_ASSIGN(
      auto connection,
      ctx.probes.get<util::SqlConnector>()->connect(spec.driver, *secret, ctx.deadline, ctx.stop));
    observed.connect_time =
      std::chrono::duration_cast<std::chrono::microseconds>(util::Clock::now() - started);
    observed.target = connection->target().describe();
    observed.server_version = connection->server_version();
    for (unsigned i = 0; i < spec.samples; ++i) {
      const auto sent = util::Clock::now();
      RG_TRY(connection->query("SELECT 1", ctx.deadline, ctx.stop));
      observed.round_trips.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(util::Clock::now() - sent));
    }
    if (spec.driver != util::SqlDriver::sqlite) {
      RG_TRY_ASSIGN(observed.headroom, read_headroom(*connection, ctx.deadline, ctx.stop));
    }
    if (spec.query) {
      RG_TRY_ASSIGN(const auto rows, connection->query(*spec.query, ctx.deadline, ctx.stop));
      if (!rows.rows.empty() && !rows.rows.front().empty()) {
        observed.query_value = rows.rows.front().front().value_or("NULL");
      }
    }
    return observed;
  };
  auto observed = observe();
  auto result = observed ? evaluate_database(spec, *observed, redactor)
                         : hook::CheckResult::from_error(observed.error());
  hook::redact(result, redactor);
  return result;
}

std::chrono::microseconds
p95(std::vector<std::chrono::microseconds> samples)
{
  if (samples.empty()) {
    return std::chrono::microseconds(0);
  }
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(samples.size())));
  return samples[std::max<std::size_t>(rank, 1) - 1];
}

hook::CheckResult
evaluate_database(const DatabaseSpec& spec,
                  const DatabaseObservation& observed,
                  const util::Redactor& redactor)
{
  hook::Judgement judgement;
  const auto latency = p95(observed.round_trips);
  if (spec.max_latency && latency > *spec.max_latency) {
    judgement.add_unmet(
      {"latency p95",
       fmt::format("at most {}", util::format_duration(*spec.max_latency)),
       fmt::format("{} over {} round trips", millis(latency), observed.round_trips.size())},
      fmt::format(
        "SELECT 1 p95 {} (at most {})", millis(latency), util::format_duration(*spec.max_latency)));
  }
  if (spec.max_connect_time && observed.connect_time > *spec.max_connect_time) {
    judgement.add_unmet({"connect time",
                         fmt::format("at most {}", util::format_duration(*spec.max_connect_time)),
                         millis(observed.connect_time)},
                        fmt::format("connect took {} (at most {})",
                                    millis(observed.connect_time),
                                    util::format_duration(*spec.max_connect_time)));
  }
  std::string headroom_text;
  if (observed.headroom) {
    const auto& headroom = *observed.headroom;
    const auto free = headroom.limit - headroom.reserved - headroom.used;
    headroom_text =
      fmt::format(", {} of {} connections free", free, headroom.limit - headroom.reserved);
    if (spec.min_free_connections && free < *spec.min_free_connections) {
      judgement.add_unmet(
        {"free connections",
         fmt::format("at least {}", *spec.min_free_connections),
         fmt::format("{} ({} in use of max_connections {}{})",
                     free,
                     headroom.used,
                     headroom.limit,
                     headroom.reserved != 0 ? fmt::format(", {} reserved", headroom.reserved)
                                            : "")},
        fmt::format("{} connections free (at least {})", free, *spec.min_free_connections));
    }
  }
  if (spec.query) {
    if (!observed.query_value) {
      if (!spec.expectations.empty()) {
        judgement.add_unmet({"query", spec.expectations.front().describe(), "no row"},
                            "the query returned no row");
      }
    } else {
      hook::judge(
        spec.expectations, {"query", *observed.query_value, false, "", 0, &redactor}, judgement);
    }
  }
  return hook::result_of(
    observed.target,
    std::move(judgement),
    fmt::format("{} (server {}): connected in {}, SELECT 1 p95 {} over {} round trips{}{}",
                observed.target,
                util::printable(observed.server_version),
                millis(observed.connect_time),
                millis(latency),
                observed.round_trips.size(),
                headroom_text,
                spec.query ? ", query as expected" : ""));
}

} // namespace checks
