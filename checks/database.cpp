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
  KeySpec{"min_free_connections", KeyType::integer,  false, "",     false, "connections the DSN's user can still open, under every limit on it (postgres, mysql)"},
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

// One statement, one snapshot: the server's limit and client backends, and the connecting
// role's and database's limits with the sessions counted against each as the server counts them
// (CountUserBackends: not background workers; CountDBConnections: autovacuum workers too). A row
// whose backend_type the role may not see (another role's session) counts: it may be a client.
constexpr std::string_view k_postgres_limits =
  "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datid IS NOT NULL AND "
  "coalesce(backend_type, 'client backend') = 'client backend')::text, "
  "current_setting('max_connections'), current_setting('superuser_reserved_connections'), "
  "coalesce(current_setting('reserved_connections', true), '0'), "
  "r.rolname::text, r.rolsuper::text, r.rolconnlimit::text, "
  "(SELECT count(*) FROM pg_stat_activity a WHERE a.usesysid = r.oid AND "
  "coalesce(a.backend_type, 'client backend') IN ('client backend', 'walsender'))::text, "
  "d.datname::text, d.datconnlimit::text, "
  "(SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid AND "
  "coalesce(a.backend_type, 'client backend') IN ('client backend', 'autovacuum worker', "
  "'walsender'))::text "
  "FROM pg_roles r, pg_database d WHERE r.rolname = session_user AND d.datname = "
  "current_database()";

// The account (CURRENT_USER(), "user@host"), the connections of its user the session can see (all
// with PROCESS; without it the user's own, which are the ones counted), and whether the account
// may ignore the global max_user_connections (MariaDB: SUPER or CONNECTION ADMIN).
constexpr std::string_view k_mysql_limits =
  "SELECT @@max_connections, @@global.max_user_connections, CURRENT_USER(), "
  "(SELECT count(*) FROM information_schema.PROCESSLIST WHERE USER = LEFT(CURRENT_USER(), "
  "CHAR_LENGTH(CURRENT_USER()) - CHAR_LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1)), "
  "(SELECT count(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN ('SUPER', "
  "'CONNECTION ADMIN') AND GRANTEE = CONCAT('''', LEFT(CURRENT_USER(), "
  "CHAR_LENGTH(CURRENT_USER()) - CHAR_LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1), "
  "'''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), ''''))";

util::Result<std::vector<ConnectionLimit>>
postgres_limits(util::SqlConnection& connection,
                util::Clock::time_point deadline,
                const std::stop_token& stop)
{
  RG_TRY_ASSIGN(const auto rows, connection.query(k_postgres_limits, deadline, stop));
  if (rows.rows.empty() || rows.rows.front().size() < 11) {
    return util::make_error(util::Errc::protocol, "no row for the session's role and database");
  }
  const auto& row = rows.rows.front();
  ConnectionLimit server;
  RG_TRY_ASSIGN(server.used, integer_of(row[0], "client backends"));
  RG_TRY_ASSIGN(server.limit, integer_of(row[1], "max_connections"));
  RG_TRY_ASSIGN(const auto superuser, integer_of(row[2], "superuser_reserved_connections"));
  RG_TRY_ASSIGN(const auto reserved, integer_of(row[3], "reserved_connections"));
  server.reserved = superuser + reserved;
  std::vector<ConnectionLimit> limits{server};
  // The server lets a superuser past both limits below (InitializeSessionUserId, CheckMyDatabase).
  if (row[5].value_or("") == "true") {
    return limits;
  }
  ConnectionLimit role{ConnectionLimit::Kind::role, row[4].value_or(""), 0, 0, 0};
  RG_TRY_ASSIGN(role.limit, integer_of(row[6], "rolconnlimit"));
  RG_TRY_ASSIGN(role.used, integer_of(row[7], "the role's sessions"));
  if (role.limit >= 0) { // -1: no limit
    limits.push_back(std::move(role));
  }
  ConnectionLimit database{ConnectionLimit::Kind::database, row[8].value_or(""), 0, 0, 0};
  RG_TRY_ASSIGN(database.limit, integer_of(row[9], "datconnlimit"));
  RG_TRY_ASSIGN(database.used, integer_of(row[10], "the database's sessions"));
  if (database.limit >= 0) { // -1: no limit
    limits.push_back(std::move(database));
  }
  return limits;
}

util::Result<std::vector<ConnectionLimit>>
mysql_limits(util::SqlConnection& connection,
             util::Clock::time_point deadline,
             const std::stop_token& stop)
{
  RG_TRY_ASSIGN(const auto rows, connection.query(k_mysql_limits, deadline, stop));
  RG_TRY_ASSIGN(const auto status,
                connection.query("SHOW GLOBAL STATUS LIKE 'Threads_connected'", deadline, stop));
  if (rows.rows.empty() || rows.rows.front().size() < 5 || status.rows.empty()
      || status.rows.front().size() < 2) {
    return util::make_error(util::Errc::protocol, "the connection counts returned no row");
  }
  const auto& row = rows.rows.front();
  ConnectionLimit server;
  RG_TRY_ASSIGN(server.limit, integer_of(row[0], "max_connections"));
  RG_TRY_ASSIGN(server.used, integer_of(status.rows.front()[1], "Threads_connected"));
  std::vector<ConnectionLimit> limits{server};

  RG_TRY_ASSIGN(const auto global, integer_of(row[1], "max_user_connections"));
  const auto account = row[2].value_or("");
  RG_TRY_ASSIGN(const auto used, integer_of(row[3], "the account's connections"));
  RG_TRY_ASSIGN(const auto exempt, integer_of(row[4], "the account's SUPER privileges"));
  // The account's own limit. SHOW CREATE USER of one's own account needs no privilege; denied,
  // it is an error, never taken as no limit.
  auto created = connection.query("SHOW CREATE USER CURRENT_USER()", deadline, stop);
  if (!created) {
    return util::with_context(std::move(created).error(), "SHOW CREATE USER");
  }
  if (created->rows.empty() || created->rows.front().empty() || !created->rows.front().front()) {
    return util::make_error(util::Errc::protocol, "SHOW CREATE USER returned no statement");
  }
  RG_TRY_ASSIGN(const auto own, account_connection_limit(*created->rows.front().front()));
  if (own != 0) {
    // The server holds every connection of the account to it, and to no global value then.
    limits.push_back({ConnectionLimit::Kind::account, account, own, 0, used});
    return limits;
  }
  // 0 is no limit. MariaDB lets SUPER and CONNECTION ADMIN past the global value, and its -1
  // admits only those: a session connected under -1 is not bound by it.
  const bool mariadb = connection.server_version().find("MariaDB") != std::string::npos;
  if (global > 0 && !(mariadb && exempt > 0)) {
    limits.push_back({ConnectionLimit::Kind::global_user_connections, account, global, 0, used});
  }
  return limits;
}

util::Result<std::vector<ConnectionLimit>>
read_limits(util::SqlConnection& connection,
            util::Clock::time_point deadline,
            const std::stop_token& stop)
{
  auto limits = connection.target().driver == util::SqlDriver::postgres
                  ? postgres_limits(connection, deadline, stop)
                  : mysql_limits(connection, deadline, stop);
  if (!limits) {
    return util::with_context(std::move(limits).error(), "connection limits");
  }
  return limits;
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
    // Only where headroom is asked for: a catalog the role may not read is then an error.
    if (spec.min_free_connections) {
      RG_TRY_ASSIGN(observed.limits, read_limits(*connection, ctx.deadline, ctx.stop));
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

std::int64_t
free_connections(const ConnectionLimit& headroom)
{
  return headroom.limit - headroom.reserved - headroom.used;
}

std::string
describe(const ConnectionLimit& limit)
{
  const auto subject = util::printable(limit.subject);
  switch (limit.kind) {
  case ConnectionLimit::Kind::server:
    return fmt::format("max_connections {}", limit.limit);
  case ConnectionLimit::Kind::role:
    return fmt::format("role \"{}\" CONNECTION LIMIT {}", subject, limit.limit);
  case ConnectionLimit::Kind::database:
    return fmt::format("database \"{}\" CONNECTION LIMIT {}", subject, limit.limit);
  case ConnectionLimit::Kind::account:
    return fmt::format("account {} MAX_USER_CONNECTIONS {}", subject, limit.limit);
  case ConnectionLimit::Kind::global_user_connections:
    return fmt::format("global max_user_connections {} (account {})", limit.limit, subject);
  }
  return "?";
}

util::Result<std::int64_t>
account_connection_limit(std::string_view create_user)
{
  // The words outside quotes: names are `quoted`, the password's hash 'quoted'.
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while (at < create_user.size()) {
    const char c = create_user[at];
    if (c == '\'' || c == '"' || c == '`') {
      for (++at; at < create_user.size(); ++at) {
        if (create_user[at] == '\\' && c != '`') {
          ++at; // an escaped character
        } else if (create_user[at] == c) {
          if (at + 1 >= create_user.size() || create_user[at + 1] != c) {
            break;
          }
          ++at; // a doubled quote
        }
      }
      ++at;
      words.emplace_back("'");
      continue;
    }
    const auto end = std::min(create_user.find_first_of(" \t\r\n'\"`", at), create_user.size());
    if (end > at) {
      words.push_back(create_user.substr(at, end - at));
    }
    at = std::max(end, at + 1);
  }
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (util::to_lower(words[i]) != "max_user_connections") {
      continue;
    }
    std::int64_t value = 0;
    const auto word = i + 1 < words.size() ? words[i + 1] : std::string_view();
    const auto [stop, error] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (word.empty() || error != std::errc() || stop != word.data() + word.size()) {
      return util::make_error(util::Errc::protocol,
                              "SHOW CREATE USER: MAX_USER_CONNECTIONS is not followed by a number");
    }
    return value;
  }
  return 0;
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
  if (!observed.limits.empty()) {
    // Free is what the tightest limit leaves; on a tie the first (the server's) is named.
    const auto binding = std::min_element(observed.limits.begin(),
                                          observed.limits.end(),
                                          [](const ConnectionLimit& a, const ConnectionLimit& b) {
                                            return free_connections(a) < free_connections(b);
                                          });
    const auto free = free_connections(*binding);
    headroom_text = fmt::format(", {} of {} connections free ({})",
                                free,
                                binding->limit - binding->reserved,
                                describe(*binding));
    if (spec.min_free_connections && free < *spec.min_free_connections) {
      // The binding limit first, then every other limit that leaves too few.
      std::vector<const ConnectionLimit*> short_of{&*binding};
      for (const auto& limit : observed.limits) {
        if (&limit != &*binding && free_connections(limit) < *spec.min_free_connections) {
          short_of.push_back(&limit);
        }
      }
      for (const auto* limit : short_of) {
        judgement.add_unmet(
          {"free connections",
           fmt::format("at least {}", *spec.min_free_connections),
           fmt::format("{} ({} in use of {}{})",
                       free_connections(*limit),
                       limit->used,
                       describe(*limit),
                       limit->reserved != 0 ? fmt::format(", {} reserved", limit->reserved) : "")},
          fmt::format("{} connections free (at least {}): {}, {} in use",
                      free_connections(*limit),
                      *spec.min_free_connections,
                      describe(*limit),
                      limit->used));
      }
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
