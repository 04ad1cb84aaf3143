// The migration tools the `migrations` kind reads: one descriptor per tool (its history table,
// how its files are named, how its rows say applied / failed, its checksum and its lock), and the
// common model every tool's state is judged in (reference: migrations-images-webservers.md, A).
#pragma once

#include <hook/util/duration.hpp>
#include <hook/util/result.hpp>
#include <hook/util/sql.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace checks::migrations {

// --- Interface ---

// One migration the release ships (from its file) or expects (from `expected`).
struct Shipped
{
  std::string id;                     // as the tool's table records it
  std::vector<std::string> checksums; // what the tool may store for it; empty = not compared
  std::vector<std::string> parents;   // Alembic: its down_revision(s)
  std::vector<std::string> replaces;  // Django: the migrations a squashed one replaces
  bool repeatable = false;            // Flyway R__: re-applied when it changes
};

// One row of the history that says a migration is applied.
struct Applied
{
  std::string id;
  std::optional<std::string> checksum; // as stored, normalised (hex lowercase, or the integer)
};

// A row that marks a migration failed, dirty or half-applied.
struct Failed
{
  std::string id;
  std::string marker; // "success = false", "dirty = true", "finished_at is null"
};

// What the tool's history table says.
struct History
{
  std::vector<Applied> applied; // in table order; Alembic: the heads
  std::vector<Failed> failed;
  std::optional<std::string> baseline; // Flyway: versions up to this one count as applied
  bool empty_single_version = false;   // golang-migrate: the table has no row (no version)
};

// How a tool's state is modelled.
enum class Model : std::uint8_t {
  set,            // one row per applied migration (most tools)
  heads,          // Alembic: one row per current head of a revision graph
  single_version, // golang-migrate: one row, the current version
};

enum class Checksum : std::uint8_t { none, flyway_crc32, prisma_sha256, sqlx_sha384 };

// What a lock probe looks for.
struct LockProbe
{
  enum class Kind : std::uint8_t { pg_advisory, mysql_named, table };
  Kind kind = Kind::pg_advisory;
  std::int64_t key = 0; // pg_advisory: the bigint key
  std::string name;     // mysql_named: the lock's name; table: the lock table
  std::string label;    // for messages: "prisma advisory lock 72707369"
  // table: a format with {} for the (qualified) lock table, selecting rows whose first column
  // is true while the lock is held and whose other columns describe the holder.
  std::string sql = {};
};

// Names the tool's SQL and keys need, read from the server.
struct DatabaseNames
{
  std::string database; // current_database() / DATABASE() / "main"
  std::string schema;   // the history table's schema (PostgreSQL current_schema() unless set)
  std::string table;    // the history table
};

struct ToolDescriptor
{
  std::string_view name;
  std::string_view table; // the default history table
  Model model;
  Checksum checksum;
  std::string_view files; // how the release names its migration files, for help and errors
  // SQL selecting the history from `table` (schema-qualified where needed).
  std::string (*history_sql)(std::string_view table);
  // Read the rows of history_sql into the common model.
  util::Result<History> (*read_history)(const util::SqlRows& rows);
  // Return the shipped migration named `name` (a path relative to migrations_dir) or nullopt
  // when the file is not one; `content` is the file's bytes when `needs_content`.
  bool needs_content;
  std::optional<Shipped> (*shipped_from_file)(std::string_view name, std::string_view content);
  // Walk how deep below migrations_dir (1: its files only).
  int depth;
  // The locks the tool takes on `driver`.
  std::vector<LockProbe> (*locks)(util::SqlDriver driver, const DatabaseNames& names);
  // The framework's own status command, for driver = "command" without argv; empty = none.
  std::span<const std::string_view> status_command;
};

// Return the descriptors, sorted by name.
std::span<const ToolDescriptor> tool_descriptors();

// Return the tool called `name`, or nullptr.
const ToolDescriptor* find_tool(std::string_view name);

// Read the release's migrations for `tool` from `dir` (files its naming recognises; content only
// when the tool needs it), by `deadline`. Errors name the path.
util::Result<std::vector<Shipped>> read_shipped(const ToolDescriptor& tool,
                                                const std::filesystem::path& dir,
                                                util::Clock::time_point deadline,
                                                std::stop_token stop);

// Return the shipped migrations `ids` (from `expected`) for `tool`: Alembic's are heads.
std::vector<Shipped> shipped_from_ids(const ToolDescriptor& tool,
                                      const std::vector<std::string>& ids);

// Compare migration ids: runs of digits numerically, the rest bytewise (V2 < V10).
bool id_less(std::string_view a, std::string_view b);

// Checksums, as the tools compute them.
std::uint32_t crc32(std::string_view data, std::uint32_t crc = 0);
// Flyway: CRC32 over each line without its terminator (a leading BOM dropped), as a signed int.
std::int32_t flyway_checksum(std::string_view content);
// Java's String.hashCode of an ASCII/UTF-16 string (Flyway's lock key).
std::int32_t java_string_hash(std::string_view text);
// Return SHA-384 of `content` as lowercase hex (sqlx).
std::string sha384_hex(std::string_view content);

// Advisory lock keys (PostgreSQL), as each tool computes them.
std::int64_t flyway_lock_key(std::string_view schema, std::string_view table);
std::int64_t rails_lock_key(std::string_view database);
std::int64_t
golang_migrate_lock_key(std::string_view schema, std::string_view table, std::string_view database);
std::int64_t sqlx_lock_key(std::string_view database);

// Normalise a Flyway version ("1_10" or "1.010.0" -> "1.10"): parts compared as numbers.
std::string flyway_version(std::string_view text);

// Return true for "t", "true", "1", "y", "yes", "on" (a boolean as any driver sends it).
bool sql_true(std::string_view text);

} // namespace checks::migrations
