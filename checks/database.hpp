// The `database` kind: can the app's database be reached within a latency budget, with
// connection headroom left? Connects once (timed), runs `SELECT 1` `samples` times (each round
// trip timed), with `min_free_connections` reads every limit on the connections the app can open
// and what is in use against each, and optionally runs one read-only `query` whose first value
// must be what the release expects.
//
// Free connections are the smallest headroom of the limits that apply to the connecting user and
// database, each its limit minus the connections counted against it (this check's own included):
//   PostgreSQL   max_connections - superuser_reserved_connections - reserved_connections - client
//                backends; the role's CONNECTION LIMIT (rolconnlimit) - its sessions; the
//                database's CONNECTION LIMIT (datconnlimit) - its sessions. -1 is no limit; a
//                superuser is bound by neither of the last two (as the server does). Sessions whose
//                type the role may not see (another role's, without pg_read_all_stats) count.
//   MySQL/MariaDB max_connections - Threads_connected; the account's MAX_USER_CONNECTIONS (SHOW
//                CREATE USER), or when it sets none (0) the global max_user_connections (0 is no
//                limit; on MariaDB not for an account with SUPER or CONNECTION ADMIN), minus the
//                connections of the account's user.
//
// Fail or error:
//   pass   connected; the 95th percentile of the round trips is within `max_latency`, the connect
//          within `max_connect_time`, at least `min_free_connections` are free, and the query
//          gave the expected value
//   fail   observed and wrong: too slow (p95 or connect time over budget), too few free
//          connections (naming the limit that binds), the query's value differs from `expect` /
//          `expect_matches`
//   error  could not observe: the DSN secret unreadable, the server down, a server that accepts
//          TCP and never answers (ends at the check's timeout), a wrong password (the message
//          names the user, never the password), the query refused (permission, syntax), a
//          connection limit that cannot be read (a catalog denied: never taken as no limit)
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

// One limit on the connections the app can open, and what is counted against it now.
struct ConnectionLimit
{
  enum class Kind : std::uint8_t {
    server,                  // max_connections
    role,                    // PostgreSQL: the role's CONNECTION LIMIT
    database,                // PostgreSQL: the database's CONNECTION LIMIT
    account,                 // MySQL/MariaDB: the account's MAX_USER_CONNECTIONS
    global_user_connections, // MySQL/MariaDB: the global max_user_connections, per account
  };
  Kind kind = Kind::server;
  std::string subject;       // the role, database or account it is of ("app", "app@%")
  std::int64_t limit = 0;    // the limit's value
  std::int64_t reserved = 0; // slots of it kept for superusers (PostgreSQL's server limit)
  std::int64_t used = 0;     // connections counted against it, this check's own included
};

// Return the connections `limit` leaves free.
std::int64_t free_connections(const ConnectionLimit& limit);

// Return how messages name `limit`: "max_connections 100", "role \"app\" CONNECTION LIMIT 2".
std::string describe(const ConnectionLimit& limit);

struct DatabaseObservation
{
  std::string target;         // "postgres app@127.0.0.1:5432/app"
  std::string server_version; // "15.18"
  std::chrono::microseconds connect_time{0};
  std::vector<std::chrono::microseconds> round_trips;
  // Every limit that applies to the connecting user and database, the server's first; empty
  // when not read (no min_free_connections).
  std::vector<ConnectionLimit> limits;
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

// Return the MAX_USER_CONNECTIONS a MySQL/MariaDB `create_user` statement (SHOW CREATE USER's
// row) sets, 0 when it sets none; an error that never quotes the statement (it holds the
// password's hash) when the value is not a number.
util::Result<std::int64_t> account_connection_limit(std::string_view create_user);

// Judge `observed` against `spec`, showing none of the secrets of `redactor` (the DSN's).
hook::CheckResult evaluate_database(const DatabaseSpec& spec,
                                    const DatabaseObservation& observed,
                                    const util::Redactor& redactor = util::Redactor());

} // namespace checks
