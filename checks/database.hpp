// The `database` kind: can the app's database be reached within a latency budget, with
// connection headroom left? Connects once (timed), runs `SELECT 1` `samples` times (each round
// trip timed), reads how many connections are in use against the server's limit, and optionally
// runs one read-only `query` whose first value must be what the release expects.
//
// Fail or error:
//   pass   connected; the 95th percentile of the round trips is within `max_latency`, the connect
//          within `max_connect_time`, at least `min_free_connections` are free, and the query
//          gave the expected value
//   fail   observed and wrong: too slow (p95 or connect time over budget), too few free
//          connections (PostgreSQL: max_connections - superuser_reserved_connections -
//          reserved_connections - client backends; MySQL/MariaDB: max_connections -
//          Threads_connected), the query's value differs from `expect` / `expect_matches`
//   error  could not observe: the DSN secret unreadable, the server down, a server that accepts
//          TCP and never answers (ends at the check's timeout), a wrong password (the message
//          names the user, never the password), the query refused (permission, syntax)
//
// Example:
//   [[check]]
//   id = "db"
//   kind = "database"
//   driver = "postgres"              # postgres, mysql or sqlite
//   dsn_file = "/etc/app/database.dsn"
//   samples = 5
//   max_latency = "50ms"             # p95 of SELECT 1 round trips
//   min_free_connections = 20
//   query = "SELECT value FROM settings WHERE key = 'schema_release'"
//   expect = "2024.06"
//   timeout = "10s"
#pragma once

#include <config/config.hpp>
#include <config/keys.hpp>
#include <hook/check.hpp>
#include <hook/expect.hpp>
#include <hook/util/result.hpp>
#include <hook/util/secret.hpp>
#include <hook/util/sql.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace checks {

// --- Interface ---

struct DatabaseSpec
{
  util::SqlDriver driver = util::SqlDriver::postgres;
  util::SecretSource dsn;
  unsigned samples = 5;
  std::optional<std::chrono::milliseconds> max_latency;
  std::optional<std::chrono::milliseconds> max_connect_time;
  std::optional<std::int64_t> min_free_connections;
  std::optional<std::string> query;
  std::vector<hook::Expectation> expectations; // on the query's first value
};

struct ConnectionHeadroom
{
  std::int64_t used = 0;     // connections in use
  std::int64_t limit = 0;    // max_connections
  std::int64_t reserved = 0; // kept for superusers (PostgreSQL)
};

struct DatabaseObservation
{
  std::string target;         // "postgres app@127.0.0.1:5432/app"
  std::string server_version; // "15.18"
  std::chrono::microseconds connect_time{0};
  std::vector<std::chrono::microseconds> round_trips;
  std::optional<ConnectionHeadroom> headroom;
  // The query's first column of its first row: nullopt for "no row"; "NULL" for SQL NULL.
  std::optional<std::string> query_value;
};

// Return the keys of the database kind.
config::KeyTable database_keys();

// Validate the keys of `spec` and build a database check.
util::Result<std::unique_ptr<hook::Check>> create_database_check(const config::CheckSpec& spec);

// Read and validate the database keys of `spec`; every config error names its key.
util::Result<DatabaseSpec> parse_database(const config::CheckSpec& spec);

// Connect through the SQL probe of `ctx`, measure and judge.
hook::CheckResult run_database(const DatabaseSpec& spec, const hook::CheckContext& ctx);

// Return the 95th percentile (nearest rank) of `samples`; 0 when there are none.
std::chrono::microseconds p95(std::vector<std::chrono::microseconds> samples);

// Judge `observed` against `spec`, showing none of the secrets of `redactor` (the DSN's).
hook::CheckResult evaluate_database(const DatabaseSpec& spec,
                                    const DatabaseObservation& observed,
                                    const util::Redactor& redactor = util::Redactor());

} // namespace checks
