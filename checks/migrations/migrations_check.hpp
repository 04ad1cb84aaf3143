// The `migrations` kind: is the database schema exactly what this release's migration files
// expect? Reads the migration tool's own history table (read-only, in a read-only transaction),
// derives the expected set from the files the release ships (`migrations_dir`, named the tool's
// way) or from an explicit `expected` list, and compares.
//
// Fail or error:
//   pass   every shipped migration is applied, none applied that the release does not ship
//          (unless allow_ahead), none failed/dirty, stored checksums match the files, no lock held
//   fail   observed and wrong, with the ids involved: pending (shipped, not applied); applied but
//          not shipped (unless allow_ahead = true, for expand/contract deploys); failed, dirty or
//          half-applied rows; a checksum that differs from the shipped file (Flyway CRC32, Prisma
//          SHA-256, sqlx SHA-384); a migration lock held by another session (looked up read-only,
//          never taken; the check waits and looks again until its deadline); a missing history
//          table (no migration of this tool ever ran there)
//   error  could not observe: the DSN secret unreadable, the server down or not answering in
//          time, a wrong password (the message names the user, never the password), permission
//          denied on the table, migrations_dir unreadable, an unparseable history
//   With driver = "command" the framework's own status command runs instead (rails
//   db:abort_if_pending_migrations, manage.py migrate --check, dbmate status --exit-code) and is
//   judged like the `command` kind (exit_code, stdout_*, stderr_*).
//
// Example:
//   [[check]]
//   id = "schema"
//   kind = "migrations"
//   driver = "postgres"                  # postgres, mysql, sqlite or command
//   tool = "flyway"                      # one of the tools in the README's table
//   dsn_env = "DATABASE_URL"             # or dsn_file = "/etc/app/dsn" (never a literal)
//   migrations_dir = "/srv/app/db/migration"   # or expected = ["1", "2", "3"]
//   allow_ahead = false
//   timeout = "20s"
#pragma once

#include <checks/command.hpp>
#include <checks/migrations/tools.hpp>
#include <config/config.hpp>
#include <config/keys.hpp>
#include <hook/check.hpp>
#include <hook/util/result.hpp>
#include <hook/util/secret.hpp>
#include <hook/util/sql.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace checks::migrations {

// --- Interface ---

struct MigrationsSpec
{
  const ToolDescriptor* tool = nullptr;
  std::optional<util::SqlDriver> driver; // unset: driver = "command"
  std::optional<util::SecretSource> dsn;
  std::optional<std::string> table;  // unset: the tool's default
  std::optional<std::string> schema; // unset: the connection's default
  std::optional<std::filesystem::path> migrations_dir;
  std::vector<std::string> expected; // when there is no migrations_dir
  bool allow_ahead = false;
  bool check_lock = true;
  // driver = "command"
  std::optional<CommandSpec> command;
  std::string dsn_variable = "DATABASE_URL";
};

// A lock another session holds.
struct HeldLock
{
  std::string label;  // "prisma advisory lock 72707369"
  std::string holder; // "pid 4242 (psql)", "connection 17", "lockedby web-1 since ..."
};

// What was observed of the database and the release.
struct MigrationsObservation
{
  std::string table; // the history table as named in messages ("public.flyway_schema_history")
  bool table_missing = false;
  History history;
  std::vector<Shipped> shipped;
  bool from_files = true; // shipped comes from migrations_dir (else from `expected`)
  std::vector<HeldLock> locks;
};

// Return the keys of the migrations kind.
config::KeyTable migrations_keys();

// Validate the keys of `spec` and build a migrations check.
util::Result<std::unique_ptr<hook::Check>> create_migrations_check(const config::CheckSpec& spec);

// Read and validate the migrations keys of `spec`; every config error names its key.
util::Result<MigrationsSpec> parse_migrations(const config::CheckSpec& spec);

// Observe through the SQL (or process) probe of `ctx` and judge.
hook::CheckResult run_migrations(const MigrationsSpec& spec, const hook::CheckContext& ctx);

// Read the history, the tables and the locks of `spec` over `connection` (`shipped` is what the
// release ships), by `deadline`.
util::Result<MigrationsObservation> observe_migrations(const MigrationsSpec& spec,
                                                       util::SqlConnection& connection,
                                                       std::vector<Shipped> shipped,
                                                       util::Clock::time_point deadline,
                                                       std::stop_token stop);

// Judge `observed` against `spec`.
hook::CheckResult evaluate_migrations(const MigrationsSpec& spec,
                                      const MigrationsObservation& observed);

} // namespace checks::migrations
