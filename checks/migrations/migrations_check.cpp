#include "migrations_check.hpp"

#include <checks/common.hpp>
#include <config/fields.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace checks::migrations {

namespace {

using config::KeySpec;
using config::KeyType;

// clang-format off
constexpr std::array k_migrations_keys = {
  KeySpec{"driver",          KeyType::string,       true,  "",             false, "postgres, mysql, sqlite, or command (run the framework's status command)"},
  KeySpec{"tool",            KeyType::string,       true,  "",             false, "the migration tool whose history table is read"},
  KeySpec{"dsn_env",         KeyType::string,       false, "",             true,  "environment variable holding the DSN"},
  KeySpec{"dsn_file",        KeyType::path,         false, "",             true,  "file holding the DSN (not world-readable)"},
  KeySpec{"table",           KeyType::string,       false, "the tool's",   false, "the history table"},
  KeySpec{"schema",          KeyType::string,       false, "the connection's", false, "the history table's schema (database on MySQL)"},
  KeySpec{"migrations_dir",  KeyType::path,         false, "",             false, "the release's migration files, named the tool's way"},
  KeySpec{"expected",        KeyType::strings,      false, "",             false, "the migration ids the release expects, instead of migrations_dir ([] for none)"},
  KeySpec{"allow_ahead",     KeyType::boolean,      false, "false",        false, "pass with migrations applied that the release does not ship"},
  KeySpec{"check_lock",      KeyType::boolean,      false, "true",         false, "fail while the tool's migration lock is held"},
  KeySpec{"argv",            KeyType::string_array, false, "the tool's",   false, "driver = \"command\": the status command"},
  KeySpec{"exit_code",       KeyType::integers,     false, "0",            false, "driver = \"command\": expected exit code(s)"},
  KeySpec{"stdout_contains", KeyType::strings,      false, "",             false, "driver = \"command\": strings standard output must contain"},
  KeySpec{"stdout_matches",  KeyType::strings,      false, "",             false, "driver = \"command\": patterns standard output must match"},
  KeySpec{"stderr_contains", KeyType::strings,      false, "",             false, "driver = \"command\": strings standard error must contain"},
  KeySpec{"stderr_matches",  KeyType::strings,      false, "",             false, "driver = \"command\": patterns standard error must match"},
  KeySpec{"working_dir",     KeyType::path,         false, "the config's directory", false, "driver = \"command\": where the command runs"},
  KeySpec{"env",             KeyType::string_table, false, "",             false, "driver = \"command\": variables added to the environment"},
  KeySpec{"output_limit",    KeyType::integer,      false, "65536",        false, "driver = \"command\": bytes kept of stdout and of stderr each"},
  KeySpec{"dsn_variable",    KeyType::string,       false, "DATABASE_URL", false, "driver = \"command\": the variable the DSN is passed in"},
};
// clang-format on

constexpr std::array k_sql_only_keys = {
  "table", "schema", "migrations_dir", "expected", "allow_ahead", "check_lock"};
constexpr std::array k_command_only_keys = {"argv",
                                            "exit_code",
                                            "stdout_contains",
                                            "stdout_matches",
                                            "stderr_contains",
                                            "stderr_matches",
                                            "working_dir",
                                            "env",
                                            "output_limit",
                                            "dsn_variable"};

// Findings kept in a result; the rest are counted.
constexpr std::size_t k_max_findings = 100;
// Ids named in the one-line message per category.
constexpr std::size_t k_ids_in_message = 5;
// Between looks at a held lock.
constexpr auto k_lock_wait = std::chrono::milliseconds(500);

bool
is_identifier(std::string_view name)
{
  if (name.empty() || name.size() > 63 || std::isdigit(static_cast<unsigned char>(name[0])) != 0) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$';
  });
}

// Return `text` as an SQL string literal (quotes doubled; backslashes too, for MySQL).
std::string
sql_literal(std::string_view text)
{
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'') {
      quoted += "''";
    } else if (c == '\\') {
      quoted += "\\\\";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string
ids_text(const std::vector<std::string>& ids)
{
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < ids.size() && i < k_ids_in_message; ++i) {
    shown.push_back(util::printable(ids[i]));
  }
  auto text = fmt::format("{}", fmt::join(shown, ", "));
  if (ids.size() > k_ids_in_message) {
    text += fmt::format(" and {} more", ids.size() - k_ids_in_message);
  }
  return text;
}

hook::CheckResult
run_status_command(const MigrationsSpec& spec, const hook::CheckContext& ctx)
{
  auto command = *spec.command;
  std::vector<util::Secret> secrets;
  if (spec.dsn) {
    auto secret = spec.dsn->read(ctx.deadline);
    if (!secret) {
      return hook::CheckResult::error(fmt::format("dsn: {}", secret.error().message));
    }
    command.env.emplace_back(spec.dsn_variable, secret->reveal());
    secrets = util::dsn_secrets(*secret);
  }
  const util::Redactor redactor(secrets);
  auto result = run_command(command, ctx, redactor);
  result.message = fmt::format("{} status command: {}", spec.tool->name, result.message);
  hook::redact(result, redactor);
  return result;
}

// Return how `spec` names its table in SQL, and how messages name it.
struct TableNames
{
  std::string sql;
  std::string shown;
};

TableNames
table_names(const MigrationsSpec& spec,
            const DatabaseNames& names,
            std::string_view table,
            util::SqlDriver driver)
{
  if (spec.schema) {
    const auto qualified = fmt::format("{}.{}", *spec.schema, table);
    return {qualified, qualified};
  }
  const auto& context = driver == util::SqlDriver::postgres ? names.schema : names.database;
  return {std::string(table),
          context.empty() ? std::string(table) : fmt::format("{}.{}", context, table)};
}

util::Result<bool>
table_exists(util::SqlConnection& connection,
             const MigrationsSpec& spec,
             std::string_view table,
             const TableNames& qualified,
             util::Clock::time_point deadline,
             const std::stop_token& stop)
{
  std::string sql;
  switch (connection.target().driver) {
  case util::SqlDriver::postgres:
    sql = fmt::format("SELECT to_regclass({}) IS NOT NULL", sql_literal(qualified.sql));
    break;
  case util::SqlDriver::mysql:
    sql = fmt::format("SELECT count(*) FROM information_schema.tables WHERE table_schema = {} AND "
                      "table_name = {}",
                      spec.schema ? sql_literal(*spec.schema) : std::string("DATABASE()"),
                      sql_literal(table));
    break;
  case util::SqlDriver::sqlite:
    sql = fmt::format("SELECT count(*) FROM {}.sqlite_master WHERE type IN ('table', 'view') AND "
                      "name = {} COLLATE NOCASE",
                      spec.schema.value_or("main"),
                      sql_literal(table));
    break;
  }
  RG_TRY_ASSIGN(const auto rows, connection.query(sql, deadline, stop));
  if (rows.rows.empty() || rows.rows.front().empty() || !rows.rows.front().front()) {
    return util::make_error(util::Errc::protocol, "the table lookup returned no row");
  }
  const auto& value = *rows.rows.front().front();
  return sql_true(value) || (value != "0" && value != "f" && value != "false");
}

util::Result<DatabaseNames>
database_names(util::SqlConnection& connection,
               const MigrationsSpec& spec,
               util::Clock::time_point deadline,
               const std::stop_token& stop)
{
  DatabaseNames names;
  names.table = spec.table.value_or(std::string(spec.tool->table));
  switch (connection.target().driver) {
  case util::SqlDriver::postgres: {
    RG_TRY_ASSIGN(const auto rows,
                  connection.query("SELECT current_database(), current_schema()", deadline, stop));
    if (!rows.rows.empty() && rows.rows.front().size() >= 2) {
      names.database = rows.rows.front()[0].value_or("");
      names.schema = rows.rows.front()[1].value_or("public");
    }
    // PostgreSQL folds unquoted names to lower case: so do the tools' keys and lookups.
    names.table = util::to_lower(names.table);
    break;
  }
  case util::SqlDriver::mysql: {
    RG_TRY_ASSIGN(const auto rows, connection.query("SELECT DATABASE()", deadline, stop));
    if (!rows.rows.empty() && !rows.rows.front().empty()) {
      names.database = rows.rows.front()[0].value_or("");
    }
    names.schema = names.database;
    break;
  }
  case util::SqlDriver::sqlite:
    names.database = "main";
    names.schema = "main";
    break;
  }
  if (spec.schema) {
    names.schema = *spec.schema;
    if (connection.target().driver == util::SqlDriver::mysql) {
      names.database = *spec.schema;
    }
  }
  return names;
}

util::Result<std::vector<HeldLock>>
held_locks(util::SqlConnection& connection,
           const MigrationsSpec& spec,
           const DatabaseNames& names,
           util::Clock::time_point deadline,
           const std::stop_token& stop)
{
  std::vector<HeldLock> held;
  const auto driver = connection.target().driver;
  const auto probes = spec.tool->locks(driver, names);
  std::optional<util::SqlRows> advisory;
  for (const auto& probe : probes) {
    switch (probe.kind) {
    case LockProbe::Kind::pg_advisory: {
      if (!advisory) {
        // Read-only: pg_locks shows who holds which advisory key; taking one would hold it. An
        // advisory lock is its database's: the same key held in another one is another lock.
        RG_TRY_ASSIGN(
          advisory,
          connection.query("SELECT l.classid::text, l.objid::text, l.pid::text, "
                           "coalesce(a.application_name, ''), "
                           "coalesce(floor(extract(epoch FROM now() - a.backend_start))::text, '') "
                           "FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                           "WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted "
                           "AND l.pid <> pg_backend_pid() AND l.database = (SELECT oid FROM "
                           "pg_database WHERE datname = current_database())",
                           deadline,
                           stop));
      }
      for (const auto& row : advisory->rows) {
        if (row.size() < 5 || !row[0] || !row[1]) {
          continue;
        }
        const auto high = std::stoull(*row[0]);
        const auto low = std::stoull(*row[1]);
        const auto key = static_cast<std::int64_t>((high << 32U) | low);
        if (key == probe.key) {
          auto holder = fmt::format("pid {}", row[2].value_or("?"));
          if (row[3] && !row[3]->empty()) {
            holder += fmt::format(" ({})", util::printable(*row[3]));
          }
          if (row[4] && !row[4]->empty()) {
            holder += fmt::format(", connected {}s ago", *row[4]);
          }
          held.push_back({probe.label, std::move(holder)});
        }
      }
      break;
    }
    case LockProbe::Kind::mysql_named: {
      RG_TRY_ASSIGN(
        const auto rows,
        connection.query(
          fmt::format("SELECT IS_USED_LOCK({})", sql_literal(probe.name)), deadline, stop));
      if (!rows.rows.empty() && !rows.rows.front().empty() && rows.rows.front().front()) {
        held.push_back({probe.label, fmt::format("connection {}", *rows.rows.front().front())});
      }
      break;
    }
    case LockProbe::Kind::table: {
      const auto names_of = table_names(spec, names, probe.name, driver);
      RG_TRY_ASSIGN(const bool exists,
                    table_exists(connection, spec, probe.name, names_of, deadline, stop));
      if (!exists) {
        break;
      }
      RG_TRY_ASSIGN(
        const auto rows,
        connection.query(fmt::format(fmt::runtime(probe.sql), names_of.sql), deadline, stop));
      for (const auto& row : rows.rows) {
        if (row.empty() || !row[0] || !sql_true(*row[0])) {
          continue;
        }
        std::string holder = "locked";
        if (row.size() > 1 && row[1]) {
          holder += fmt::format(" by {}", util::printable(*row[1]));
        }
        if (row.size() > 2 && row[2]) {
          holder += fmt::format(" since {}", util::printable(*row[2]));
        }
        held.push_back({probe.label, std::move(holder)});
      }
      break;
    }
    }
  }
  return held;
}

struct Verdict
{
  std::vector<std::string> pending;
  std::vector<std::string> reapply; // Flyway repeatables changed since applied
  std::vector<std::string> unknown;
  std::vector<Failed> failed;
  std::vector<std::pair<std::string, std::string>> checksum; // id, "stored X, file Y"
  std::size_t applied = 0;
  std::string latest;
};

void
judge_single_version(const MigrationsObservation& observed, Verdict& verdict)
{
  std::optional<std::string> version;
  if (!observed.history.applied.empty()) {
    version = observed.history.applied.front().id;
  } else if (!observed.history.failed.empty()) {
    version = observed.history.failed.front().id;
  }
  std::set<std::string> shipped;
  for (const auto& migration : observed.shipped) {
    shipped.insert(migration.id);
    if (!version || id_less(*version, migration.id)) {
      verdict.pending.push_back(migration.id);
    }
  }
  if (version) {
    verdict.latest = *version;
    if (observed.from_files && shipped.count(*version) == 0) {
      verdict.unknown.push_back(*version);
    } else if (!observed.from_files
               && (observed.shipped.empty() || id_less(observed.shipped.back().id, *version))) {
      verdict.unknown.push_back(*version); // beyond the newest expected, or none is expected
    }
    if (!observed.from_files && !observed.shipped.empty()) {
      // `expected` names the version the release needs: only the newest counts.
      verdict.pending.clear();
      if (id_less(*version, observed.shipped.back().id)) {
        verdict.pending.push_back(observed.shipped.back().id);
      }
    }
    verdict.applied = observed.history.applied.empty() ? 0 : 1;
  } else if (!observed.from_files && !observed.shipped.empty()) {
    verdict.pending = {observed.shipped.back().id};
  }
}

void
judge_heads(const MigrationsObservation& observed, Verdict& verdict)
{
  std::set<std::string> heads;
  for (const auto& row : observed.history.applied) {
    heads.insert(row.id);
  }
  std::map<std::string, const Shipped*> revisions;
  for (const auto& migration : observed.shipped) {
    revisions[migration.id] = &migration;
  }
  std::set<std::string> applied;
  if (observed.from_files) {
    // Applied: every head and all it descends from.
    std::vector<std::string> stack(heads.begin(), heads.end());
    while (!stack.empty()) {
      const auto id = stack.back();
      stack.pop_back();
      if (!applied.insert(id).second) {
        continue;
      }
      if (const auto it = revisions.find(id); it != revisions.end()) {
        for (const auto& parent : it->second->parents) {
          stack.push_back(parent);
        }
      }
    }
  } else {
    applied = heads;
  }
  for (const auto& head : heads) {
    if (revisions.count(head) == 0) {
      verdict.unknown.push_back(head);
    }
  }
  // A head the scripts do not know descends from revisions nobody can see from here: the
  // database is ahead, and which shipped revisions it holds cannot be told.
  if (verdict.unknown.empty() || !observed.from_files) {
    for (const auto& migration : observed.shipped) {
      if (applied.count(migration.id) == 0) {
        verdict.pending.push_back(migration.id);
      }
    }
  }
  verdict.applied = applied.size();
  if (!heads.empty()) {
    verdict.latest = fmt::format("{}", fmt::join(heads, ", "));
  }
}

void
judge_set(const MigrationsObservation& observed, bool by_app, Verdict& verdict)
{
  std::map<std::string, const Applied*> applied;
  for (const auto& row : observed.history.applied) {
    applied[row.id] = &row;
  }
  std::set<std::string> shipped;
  std::set<std::string> replaced;
  std::set<std::string> apps; // Django: only the apps the release ships are compared
  for (const auto& migration : observed.shipped) {
    shipped.insert(migration.id);
    for (const auto& old : migration.replaces) {
      replaced.insert(old);
    }
    if (const auto dot = migration.id.find('.'); dot != std::string::npos) {
      apps.insert(migration.id.substr(0, dot));
    }
  }
  for (const auto& migration : observed.shipped) {
    const auto it = applied.find(migration.id);
    if (it == applied.end()) {
      const bool squashed_applied =
        !migration.replaces.empty()
        && std::all_of(migration.replaces.begin(),
                       migration.replaces.end(),
                       [&](const std::string& old) { return applied.count(old) != 0; });
      const bool before_baseline = observed.history.baseline && !migration.repeatable
                                   && !id_less(*observed.history.baseline, migration.id);
      if (!squashed_applied && !before_baseline) {
        verdict.pending.push_back(migration.id);
      }
      continue;
    }
    ++verdict.applied;
    if (!migration.checksums.empty() && it->second->checksum) {
      const auto stored = util::to_lower(*it->second->checksum);
      if (std::find(migration.checksums.begin(), migration.checksums.end(), stored)
          == migration.checksums.end()) {
        if (migration.repeatable) {
          verdict.reapply.push_back(migration.id);
        } else {
          verdict.checksum.emplace_back(migration.id,
                                        fmt::format("stored {}, file {}",
                                                    util::printable(stored),
                                                    migration.checksums.front()));
        }
      }
    }
  }
  for (const auto& row : observed.history.applied) {
    if (shipped.count(row.id) != 0 || replaced.count(row.id) != 0) {
      continue;
    }
    if (const auto dot = row.id.find('.');
        by_app && dot != std::string::npos && apps.count(row.id.substr(0, dot)) == 0) {
      continue; // Django: an app the release does not ship migrations for (contrib, packages)
    }
    verdict.unknown.push_back(row.id);
  }
  if (!observed.history.applied.empty()) {
    auto latest = observed.history.applied.front().id;
    for (const auto& row : observed.history.applied) {
      if (id_less(latest, row.id)) {
        latest = row.id;
      }
    }
    verdict.latest = latest;
  }
}

} // namespace

config::KeyTable
migrations_keys()
{
  return k_migrations_keys;
}

util::Result<MigrationsSpec>
parse_migrations(const config::CheckSpec& check_spec)
{
  config::FieldReader reader(check_spec, k_migrations_keys);
  RG_TRY(reader.check_keys());
  MigrationsSpec spec;

  RG_TRY_ASSIGN(const auto tool_name, reader.required_string("tool"));
  spec.tool = find_tool(tool_name);
  if (spec.tool == nullptr) {
    std::vector<std::string_view> names;
    for (const auto& tool : tool_descriptors()) {
      names.push_back(tool.name);
    }
    return reader.error_at("tool",
                           fmt::format("unknown tool \"{}\" (expected one of: {})",
                                       util::printable(tool_name),
                                       fmt::join(names, ", ")));
  }
  RG_TRY_ASSIGN(const auto driver,
                reader.optional_choice("driver", {"postgres", "mysql", "sqlite", "command"}));
  if (!driver) {
    return reader.error("missing key \"driver\"");
  }
  RG_TRY_ASSIGN(spec.dsn, reader.optional_secret("dsn"));

  if (*driver == "command") {
    for (const auto* key : k_sql_only_keys) {
      if (reader.has(key)) {
        return reader.error_at(key, "only with a SQL driver (postgres, mysql, sqlite)");
      }
    }
    CommandSpec command;
    if (reader.has("argv")) {
      RG_TRY_ASSIGN(command.argv, reader.string_array("argv"));
      if (command.argv.empty() || command.argv.front().empty()) {
        return reader.error_at("argv", "expected at least the program to run");
      }
    } else if (!spec.tool->status_command.empty()) {
      for (const auto arg : spec.tool->status_command) {
        command.argv.emplace_back(arg);
      }
    } else {
      return reader.error(fmt::format(
        "missing key \"argv\": {} has no status command readygate knows; give its command",
        spec.tool->name));
    }
    for (const auto& arg : command.argv) {
      if (arg.find('\0') != std::string::npos) {
        return reader.error_at("argv", "an argument has a NUL byte");
      }
    }
    command.display = fmt::format("{}", fmt::join(command.argv, " "));
    RG_TRY_ASSIGN(const auto codes, reader.integer_or_array("exit_code", 0, 255));
    if (!codes.empty()) {
      command.exit_codes.clear();
      for (const auto code : codes) {
        command.exit_codes.push_back(static_cast<int>(code));
      }
    }
    RG_TRY_ASSIGN(command.stdout_expectations,
                  read_expectations(reader, "stdout_contains", "stdout_matches"));
    RG_TRY_ASSIGN(command.stderr_expectations,
                  read_expectations(reader, "stderr_contains", "stderr_matches"));
    RG_TRY_ASSIGN(auto working_dir, reader.optional_path("working_dir"));
    if (working_dir) {
      command.working_dir = std::move(working_dir);
    } else if (!check_spec.base_directory.empty()) {
      command.working_dir = check_spec.base_directory;
    }
    RG_TRY_ASSIGN(command.env, reader.string_table("env"));
    for (const auto& [name, value] : command.env) {
      if (name.empty() || name.find_first_of(std::string_view("=\0", 2)) != std::string::npos
          || value.find('\0') != std::string::npos) {
        return reader.error_at("env", fmt::format("\"{}\" is not a variable name and value", name));
      }
    }
    RG_TRY_ASSIGN(const auto limit,
                  reader.optional_integer("output_limit", 1, std::int64_t{64} * 1024 * 1024));
    if (limit) {
      command.output_limit = static_cast<std::size_t>(*limit);
    }
    RG_TRY_ASSIGN(const auto variable, reader.optional_string("dsn_variable"));
    if (variable) {
      if (variable->empty()
          || variable->find_first_of(std::string_view("=\0", 2)) != std::string::npos) {
        return reader.error_at("dsn_variable", "expected the name of an environment variable");
      }
      spec.dsn_variable = *variable;
    }
    spec.command = std::move(command);
    return spec;
  }

  for (const auto* key : k_command_only_keys) {
    if (reader.has(key)) {
      return reader.error_at(key, "only with driver = \"command\"");
    }
  }
  spec.driver = util::sql_driver_from_name(*driver);
  if (!spec.dsn) {
    return reader.error("missing key \"dsn_env\" or \"dsn_file\" (the DSN is a secret, never "
                        "written in the config)");
  }
  RG_TRY_ASSIGN(spec.table, reader.optional_string("table"));
  if (spec.table && !is_identifier(*spec.table)) {
    return reader.error_at("table", "expected a table name (letters, digits, _ and $)");
  }
  RG_TRY_ASSIGN(spec.schema, reader.optional_string("schema"));
  if (spec.schema && !is_identifier(*spec.schema)) {
    return reader.error_at("schema", "expected a schema name (letters, digits, _ and $)");
  }
  RG_TRY_ASSIGN(spec.migrations_dir, reader.optional_path("migrations_dir"));
  RG_TRY_ASSIGN(spec.expected, reader.string_or_array("expected"));
  if (spec.migrations_dir && reader.has("expected")) {
    return reader.error_at("expected", "set either \"migrations_dir\" or \"expected\", not both");
  }
  if (!spec.migrations_dir && !reader.has("expected")) {
    return reader.error("missing key \"migrations_dir\" (the release's migration files) or "
                        "\"expected\" (the ids it expects)");
  }
  for (const auto& id : spec.expected) {
    if (id.empty() || id.find('\0') != std::string::npos) {
      return reader.error_at("expected", "an id is empty or has a NUL byte");
    }
  }
  RG_TRY_ASSIGN(const auto allow_ahead, reader.optional_bool("allow_ahead"));
  spec.allow_ahead = allow_ahead.value_or(false);
  RG_TRY_ASSIGN(const auto check_lock, reader.optional_bool("check_lock"));
  spec.check_lock = check_lock.value_or(true);
  return spec;
}

util::Result<std::unique_ptr<hook::Check>>
create_migrations_check(const config::CheckSpec& spec)
{
  return create_check<MigrationsSpec, parse_migrations, run_migrations>(spec);
}

util::Result<MigrationsObservation>
observe_migrations(const MigrationsSpec& spec,
                   util::SqlConnection& connection,
                   std::vector<Shipped> shipped,
                   util::Clock::time_point deadline,
                   std::stop_token stop)
{
  MigrationsObservation observed;
  observed.shipped = std::move(shipped);
  observed.from_files = spec.migrations_dir.has_value();
  RG_TRY_ASSIGN(const auto names, database_names(connection, spec, deadline, stop));
  const auto driver = connection.target().driver;
  const auto table = table_names(spec, names, names.table, driver);
  observed.table = table.shown;
  if (spec.check_lock) {
    RG_TRY_ASSIGN(observed.locks, held_locks(connection, spec, names, deadline, stop));
  }
  RG_TRY_ASSIGN(const bool exists,
                table_exists(connection, spec, names.table, table, deadline, stop));
  if (!exists) {
    observed.table_missing = true;
    return observed;
  }
  RG_TRY_ASSIGN(const auto rows,
                connection.query(spec.tool->history_sql(table.sql), deadline, stop));
  auto history = spec.tool->read_history(rows);
  if (!history) {
    return util::with_context(std::move(history).error(), table.shown);
  }
  observed.history = std::move(*history);
  return observed;
}

hook::CheckResult
run_migrations(const MigrationsSpec& spec, const hook::CheckContext& ctx)
{
  if (!spec.driver) {
    return run_status_command(spec, ctx);
  }
  auto secret = spec.dsn->read(ctx.deadline);
  if (!secret) {
    return hook::CheckResult::error(fmt::format("dsn: {}", secret.error().message));
  }
  // A SQLite DSN is the database file's path: it names where, and carries no password.
  std::vector<util::Secret> secrets;
  if (*spec.driver != util::SqlDriver::sqlite) {
    secrets = util::dsn_secrets(*secret);
  }
  std::vector<Shipped> shipped;
  if (spec.migrations_dir) {
    auto read = read_shipped(*spec.tool, *spec.migrations_dir, ctx.deadline, ctx.stop);
    if (!read) {
      return hook::CheckResult::from_error(
        util::with_context(std::move(read).error(), "migrations_dir"));
    }
    shipped = std::move(*read);
    // A directory without one migration file of the tool is a release packaged without them
    // (or the wrong directory), not a release that ships none: that one says expected = [].
    if (shipped.empty()) {
      return hook::CheckResult::error(fmt::format(
        "migrations_dir: {}: no {} migration found (expected {}{}); if the release ships none, "
        "say so with expected = []",
        util::printable(spec.migrations_dir->string()),
        spec.tool->name,
        spec.tool->files,
        spec.tool->depth > 1 ? fmt::format(", up to {} levels deep", spec.tool->depth) : ""));
    }
  } else {
    shipped = shipped_from_ids(*spec.tool, spec.expected);
  }
  auto connector = ctx.probes.get<util::SqlConnector>();
  while (true) {
    auto connection = connector->connect(*spec.driver, *secret, ctx.deadline, ctx.stop);
    hook::CheckResult result;
    if (!connection) {
      result = hook::CheckResult::from_error(connection.error());
    } else {
      auto observed = observe_migrations(spec, **connection, shipped, ctx.deadline, ctx.stop);
      if (!observed) {
        result = hook::CheckResult::from_error(observed.error());
      } else {
        result = evaluate_migrations(spec, *observed);
        // A migration running now may finish before the deadline: look again until then.
        if (!observed->locks.empty() && ctx.time_left() > k_lock_wait * 2) {
          std::mutex mutex;
          std::condition_variable_any wake;
          std::unique_lock lock(mutex);
          wake.wait_for(lock, ctx.stop, k_lock_wait, [] { return false; });
          if (!ctx.should_stop()) {
            continue;
          }
        }
      }
    }
    hook::redact(result, secrets);
    return result;
  }
}

hook::CheckResult
evaluate_migrations(const MigrationsSpec& spec, const MigrationsObservation& observed)
{
  const auto& tool = *spec.tool;
  std::vector<hook::Finding> findings;
  std::vector<std::string> problems;
  for (const auto& lock : observed.locks) {
    findings.push_back({"lock", "not held", fmt::format("{} held: {}", lock.label, lock.holder)});
    problems.push_back(fmt::format("{} held ({})", lock.label, lock.holder));
  }
  if (observed.table_missing && observed.shipped.empty() && !observed.from_files
      && findings.empty()) {
    // expected = []: the release expects no migration, and none of this tool has run here.
    return hook::CheckResult::pass(
      fmt::format("history table {} does not exist: no {} migration has run, and the release "
                  "expects none (expected = [])",
                  util::printable(observed.table),
                  tool.name));
  }
  if (observed.table_missing) {
    findings.push_back({observed.table, "present", "missing"});
    problems.insert(problems.begin(),
                    fmt::format("history table {} does not exist: no {} migration has run on this "
                                "database (or table/schema name another)",
                                util::printable(observed.table),
                                tool.name));
    std::vector<std::string> pending;
    for (const auto& migration : observed.shipped) {
      pending.push_back(migration.id);
      if (findings.size() < k_max_findings) {
        findings.push_back({migration.id, "applied", "pending"});
      }
    }
    if (!pending.empty()) {
      problems.push_back(fmt::format("{} pending ({})", pending.size(), ids_text(pending)));
    }
    auto result =
      hook::CheckResult::fail(fmt::format("{}", fmt::join(problems, "; ")), std::move(findings));
    return result;
  }

  Verdict verdict;
  switch (tool.model) {
  case Model::set:
    judge_set(observed, tool.name == "django" && observed.from_files, verdict);
    break;
  case Model::heads:
    judge_heads(observed, verdict);
    break;
  case Model::single_version:
    judge_single_version(observed, verdict);
    break;
  }
  std::set<std::string> applied_ids;
  for (const auto& row : observed.history.applied) {
    applied_ids.insert(row.id);
  }
  for (const auto& failed : observed.history.failed) {
    if (tool.model != Model::single_version && applied_ids.count(failed.id) != 0) {
      continue; // failed once, applied later (a repaired Flyway row, a re-run)
    }
    verdict.failed.push_back(failed);
  }

  std::size_t omitted = 0;
  const auto add = [&](hook::Finding finding) {
    if (findings.size() < k_max_findings) {
      findings.push_back(std::move(finding));
    } else {
      ++omitted;
    }
  };
  std::vector<std::string> failed_ids;
  for (const auto& failed : verdict.failed) {
    failed_ids.push_back(failed.id);
    add({failed.id, "applied", fmt::format("failed ({})", failed.marker)});
  }
  if (!failed_ids.empty()) {
    problems.push_back(
      fmt::format("{} failed or half-applied ({})", failed_ids.size(), ids_text(failed_ids)));
  }
  std::vector<std::string> mismatched;
  for (const auto& [id, detail] : verdict.checksum) {
    mismatched.push_back(id);
    add({id, "checksum of the shipped file", fmt::format("checksum mismatch: {}", detail)});
  }
  if (!mismatched.empty()) {
    problems.push_back(
      fmt::format("{} checksum mismatch ({})", mismatched.size(), ids_text(mismatched)));
  }
  auto pending = verdict.pending;
  pending.insert(pending.end(), verdict.reapply.begin(), verdict.reapply.end());
  for (const auto& id : verdict.pending) {
    add({id, "applied", "pending"});
  }
  for (const auto& id : verdict.reapply) {
    add({id,
         "applied as shipped",
         "changed since applied (repeatable: re-applied by the next migrate)"});
  }
  if (!pending.empty()) {
    problems.push_back(fmt::format("{} pending ({})", pending.size(), ids_text(pending)));
  }
  std::sort(verdict.unknown.begin(), verdict.unknown.end(), [](const auto& a, const auto& b) {
    return id_less(a, b);
  });
  if (!verdict.unknown.empty() && !spec.allow_ahead) {
    for (const auto& id : verdict.unknown) {
      add({id, "shipped with the release", "applied, not shipped"});
    }
    problems.push_back(fmt::format("{} applied but not shipped with the release ({})",
                                   verdict.unknown.size(),
                                   ids_text(verdict.unknown)));
  }
  if (!problems.empty()) {
    auto result =
      hook::CheckResult::fail(fmt::format("{}", fmt::join(problems, "; ")), std::move(findings));
    result.findings_omitted = omitted;
    return result;
  }
  auto message = fmt::format("{}: {} migration{} applied as the release expects",
                             util::printable(observed.table),
                             verdict.applied,
                             verdict.applied == 1 ? "" : "s");
  if (!verdict.latest.empty()) {
    message += fmt::format(" (latest {})", util::printable(verdict.latest));
  }
  if (!verdict.unknown.empty()) {
    message += fmt::format("; {} applied ahead of the release, allowed by allow_ahead ({})",
                           verdict.unknown.size(),
                           ids_text(verdict.unknown));
  }
  return hook::CheckResult::pass(std::move(message));
}

} // namespace checks::migrations
