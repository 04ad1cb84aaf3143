#include "tools.hpp"

#include <hook/util/file.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <map>
#include <regex>
#include <set>

namespace checks::migrations {

namespace {

namespace fs = std::filesystem;

// The largest migration file read (its checksum, its revision); a bigger one is an error.
constexpr std::size_t k_migration_file_limit = 16 * 1024 * 1024;
// The most directory entries looked at under migrations_dir.
constexpr std::size_t k_max_entries = 100'000;

std::string_view
basename_of(std::string_view name)
{
  const auto slash = name.rfind('/');
  return slash == std::string_view::npos ? name : name.substr(slash + 1);
}

std::string
text_of(const std::optional<std::string>& value)
{
  return value.value_or("");
}

// Return `digits` without leading zeros ("0042" -> "42", "0" -> "0"), for tools whose version
// is a number.
std::string
as_number(std::string_view digits)
{
  const auto first = digits.find_first_not_of('0');
  return first == std::string_view::npos ? "0" : std::string(digits.substr(first));
}

bool
all_digits(std::string_view text)
{
  return !text.empty()
         && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

util::Result<void>
need_columns(const util::SqlRows& rows, std::size_t count)
{
  if (rows.columns.size() < count) {
    return util::make_error(util::Errc::protocol,
                            fmt::format("the history query returned {} columns, expected {}",
                                        rows.columns.size(),
                                        count));
  }
  return {};
}

std::string
lowercase_hex(std::span<const unsigned char> bytes)
{
  static constexpr std::string_view k_digits = "0123456789abcdef";
  std::string hex;
  for (const auto byte : bytes) {
    hex += k_digits[byte >> 4U];
    hex += k_digits[byte & 15U];
  }
  return hex;
}

// A binary checksum as a driver returns it: PostgreSQL's bytea text "\x0a1b...", or raw bytes.
std::string
normalise_binary(std::string_view value)
{
  if (value.starts_with("\\x")) {
    return util::to_lower(value.substr(2));
  }
  const auto* data = reinterpret_cast<const unsigned char*>(value.data());
  return lowercase_hex({data, value.size()});
}

// --- Flyway ---

std::string
flyway_sql(std::string_view table)
{
  return fmt::format(
    "SELECT version, type, script, checksum, success FROM {} ORDER BY installed_rank", table);
}

util::Result<History>
flyway_read(const util::SqlRows& rows)
{
  RG_TRY(need_columns(rows, 5));
  History history;
  const auto forget = [&](const std::string& id) {
    std::erase_if(history.applied, [&](const Applied& a) { return a.id == id; });
  };
  for (const auto& row : rows.rows) {
    const auto type = util::to_lower(text_of(row[1]));
    const bool versioned = row[0].has_value() && !row[0]->empty();
    const std::string id =
      versioned ? flyway_version(*row[0]) : std::string(basename_of(text_of(row[2])));
    if (type == "schema") {
      continue;
    }
    if (type == "baseline") {
      history.baseline = id;
      continue;
    }
    if (type == "delete" || type.starts_with("undo")) {
      forget(id);
      continue;
    }
    if (!sql_true(text_of(row[4]))) {
      history.failed.push_back({id, "success = false"});
      continue;
    }
    forget(id); // a repeatable migration's newest row counts
    history.applied.push_back({id, row[3]});
  }
  return history;
}

std::optional<Shipped>
flyway_file(std::string_view name, std::string_view content)
{
  const auto base = basename_of(name);
  if (!base.ends_with(".sql")) {
    return std::nullopt;
  }
  const auto separator = base.find("__");
  if (separator == std::string_view::npos) {
    return std::nullopt;
  }
  Shipped shipped;
  if (base.starts_with("R__")) {
    shipped.id = std::string(base);
    shipped.repeatable = true;
  } else if (base.starts_with('V') && separator > 1) {
    shipped.id = flyway_version(base.substr(1, separator - 1));
  } else {
    return std::nullopt; // U (undo) and anything else
  }
  shipped.checksums.push_back(std::to_string(flyway_checksum(content)));
  return shipped;
}

std::vector<LockProbe>
flyway_locks(util::SqlDriver driver, const DatabaseNames& names)
{
  if (driver == util::SqlDriver::postgres) {
    const auto key = flyway_lock_key(names.schema, names.table);
    return {{LockProbe::Kind::pg_advisory, key, "", fmt::format("flyway advisory lock {}", key)}};
  }
  if (driver == util::SqlDriver::mysql) {
    const auto name = fmt::format(
      "Flyway-{}", java_string_hash(fmt::format("`{}`.`{}`", names.database, names.table)));
    return {{LockProbe::Kind::mysql_named, 0, name, fmt::format("flyway lock {}", name)}};
  }
  return {};
}

// --- Liquibase ---

std::string
liquibase_sql(std::string_view table)
{
  return fmt::format("SELECT id, author, filename, exectype, md5sum FROM {} ORDER BY orderexecuted",
                     table);
}

util::Result<History>
liquibase_read(const util::SqlRows& rows)
{
  RG_TRY(need_columns(rows, 5));
  History history;
  for (const auto& row : rows.rows) {
    const auto id = fmt::format("{}:{}", text_of(row[1]), text_of(row[0]));
    if (util::to_lower(text_of(row[3])) == "failed") {
      history.failed.push_back({id, "exectype = FAILED"});
    } else {
      history.applied.push_back({id, std::nullopt});
    }
  }
  return history;
}

// Changesets of a changelog: formatted SQL ("--changeset author:id"), XML (<changeSet id author>)
// and YAML (changeSet: id:, author:). All of a file's changesets go in one Shipped each.
std::vector<std::string>
liquibase_changesets(std::string_view name, std::string_view content)
{
  std::vector<std::string> ids;
  const std::string text(content);
  if (name.ends_with(".sql")) {
    static const std::regex k_changeset(R"(^--\s*changeset\s+([^:\s]+):(\S+))",
                                        std::regex::multiline | std::regex::icase);
    for (std::sregex_iterator it(text.begin(), text.end(), k_changeset), end; it != end; ++it) {
      ids.push_back(fmt::format("{}:{}", (*it)[1].str(), (*it)[2].str()));
    }
  } else if (name.ends_with(".xml")) {
    static const std::regex k_tag(R"(<changeSet\b([^>]*)>)");
    static const std::regex k_id(R"(\bid\s*=\s*["']([^"']*)["'])");
    static const std::regex k_author(R"(\bauthor\s*=\s*["']([^"']*)["'])");
    for (std::sregex_iterator it(text.begin(), text.end(), k_tag), end; it != end; ++it) {
      const std::string attributes = (*it)[1].str();
      std::smatch id;
      std::smatch author;
      if (std::regex_search(attributes, id, k_id)
          && std::regex_search(attributes, author, k_author)) {
        ids.push_back(fmt::format("{}:{}", author[1].str(), id[1].str()));
      }
    }
  } else if (name.ends_with(".yaml") || name.ends_with(".yml")) {
    static const std::regex k_line(
      R"(^[ \t]*(?:-[ \t]*)?(changeSet|id|author)[ \t]*:[ \t]*["']?([^"'\s#]*))",
      std::regex::multiline);
    std::string id;
    std::string author;
    bool open = false;
    const auto flush = [&] {
      if (open && !id.empty() && !author.empty()) {
        ids.push_back(fmt::format("{}:{}", author, id));
      }
      id.clear();
      author.clear();
    };
    for (std::sregex_iterator it(text.begin(), text.end(), k_line), end; it != end; ++it) {
      const auto key = (*it)[1].str();
      if (key == "changeSet") {
        flush();
        open = true;
      } else if (key == "id" && id.empty()) {
        id = (*it)[2].str();
      } else if (key == "author" && author.empty()) {
        author = (*it)[2].str();
      }
    }
    flush();
  }
  return ids;
}

std::vector<LockProbe>
liquibase_locks(util::SqlDriver, const DatabaseNames& names)
{
  // DATABASECHANGELOGLOCK beside DATABASECHANGELOG, in the same case (PostgreSQL folds to lower).
  const bool lower = std::none_of(
    names.table.begin(), names.table.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  const auto table = fmt::format("{}{}", names.table, lower ? "lock" : "LOCK");
  return {{LockProbe::Kind::table,
           0,
           table,
           fmt::format("liquibase lock table {}", table),
           "SELECT locked, lockedby, lockgranted FROM {} WHERE id = 1"}};
}

// --- Alembic ---

std::string
alembic_sql(std::string_view table)
{
  return fmt::format("SELECT version_num FROM {}", table);
}

util::Result<History>
single_column_read(const util::SqlRows& rows)
{
  RG_TRY(need_columns(rows, 1));
  History history;
  for (const auto& row : rows.rows) {
    if (row[0]) {
      history.applied.push_back({*row[0], std::nullopt});
    }
  }
  return history;
}

std::optional<Shipped>
alembic_file(std::string_view name, std::string_view content)
{
  if (!name.ends_with(".py") || basename_of(name).starts_with("__")) {
    return std::nullopt;
  }
  const std::string text(content);
  static const std::regex k_revision(R"(^revision\s*(?::[^=\n]*)?=\s*["']([^"']+)["'])",
                                     std::regex::multiline);
  static const std::regex k_down(R"(^down_revision\s*(?::[^=\n]*)?=\s*([^\n]*))",
                                 std::regex::multiline);
  static const std::regex k_quoted(R"(["']([^"']+)["'])");
  std::smatch revision;
  if (!std::regex_search(text, revision, k_revision)) {
    return std::nullopt;
  }
  Shipped shipped;
  shipped.id = revision[1].str();
  std::smatch down;
  if (std::regex_search(text, down, k_down)) {
    const std::string value = down[1].str();
    for (std::sregex_iterator it(value.begin(), value.end(), k_quoted), end; it != end; ++it) {
      shipped.parents.push_back((*it)[1].str());
    }
  }
  return shipped;
}

// --- Rails ---

std::string
rails_sql(std::string_view table)
{
  return fmt::format("SELECT version FROM {}", table);
}

std::optional<Shipped>
rails_file(std::string_view name, std::string_view)
{
  static const std::regex k_name(R"(^([0-9]+)_([_a-z0-9]*)\.?([_a-z0-9]*)?\.rb$)");
  const std::string base(basename_of(name));
  std::smatch match;
  if (!std::regex_match(base, match, k_name)) {
    return std::nullopt;
  }
  return Shipped{match[1].str(), {}, {}, {}, false};
}

std::vector<LockProbe>
rails_locks(util::SqlDriver driver, const DatabaseNames& names)
{
  const auto key = rails_lock_key(names.database);
  if (driver == util::SqlDriver::postgres) {
    return {{LockProbe::Kind::pg_advisory, key, "", fmt::format("rails advisory lock {}", key)}};
  }
  if (driver == util::SqlDriver::mysql) {
    return {
      {LockProbe::Kind::mysql_named, 0, std::to_string(key), fmt::format("rails lock {}", key)}};
  }
  return {};
}

// --- Django ---

std::string
django_sql(std::string_view table)
{
  return fmt::format("SELECT app, name FROM {} ORDER BY id", table);
}

util::Result<History>
django_read(const util::SqlRows& rows)
{
  RG_TRY(need_columns(rows, 2));
  History history;
  for (const auto& row : rows.rows) {
    history.applied.push_back(
      {fmt::format("{}.{}", text_of(row[0]), text_of(row[1])), std::nullopt});
  }
  return history;
}

std::optional<Shipped>
django_file(std::string_view name, std::string_view content)
{
  // <...>/<app>/migrations/<module>.py
  if (!name.ends_with(".py")) {
    return std::nullopt;
  }
  const auto base = basename_of(name);
  if (base.starts_with('_') || base.starts_with('~')) {
    return std::nullopt;
  }
  auto dir = name.substr(0, name.size() - base.size());
  if (!dir.ends_with("migrations/")) {
    return std::nullopt;
  }
  dir.remove_suffix(std::string_view("migrations/").size());
  if (dir.ends_with('/')) {
    dir.remove_suffix(1);
  }
  const auto app = basename_of(dir);
  if (app.empty()) {
    return std::nullopt;
  }
  Shipped shipped;
  shipped.id = fmt::format("{}.{}", app, base.substr(0, base.size() - 3));
  const std::string text(content);
  static const std::regex k_replaces(R"(\breplaces\s*=\s*\[([^\]]*)\])");
  static const std::regex k_pair(R"(\(\s*["'](\w+)["']\s*,\s*["'](\w+)["']\s*\))");
  std::smatch replaces;
  if (std::regex_search(text, replaces, k_replaces)) {
    const std::string list = replaces[1].str();
    for (std::sregex_iterator it(list.begin(), list.end(), k_pair), end; it != end; ++it) {
      shipped.replaces.push_back(fmt::format("{}.{}", (*it)[1].str(), (*it)[2].str()));
    }
  }
  return shipped;
}

// --- golang-migrate ---

std::string
golang_migrate_sql(std::string_view table)
{
  return fmt::format("SELECT version, dirty FROM {}", table);
}

util::Result<History>
golang_migrate_read(const util::SqlRows& rows)
{
  RG_TRY(need_columns(rows, 2));
  History history;
  if (rows.rows.empty()) {
    history.empty_single_version = true;
    return history;
  }
  if (rows.rows.size() > 1) {
    return util::make_error(
      util::Errc::protocol,
      fmt::format("the golang-migrate table has {} rows, expected one", rows.rows.size()));
  }
  const auto& row = rows.rows.front();
  const auto version = text_of(row[0]);
  if (!all_digits(version) && !(version.starts_with('-') && all_digits(version.substr(1)))) {
    return util::make_error(
      util::Errc::protocol,
      fmt::format("the golang-migrate version \"{}\" is not a number", util::printable(version)));
  }
  if (version == "-1") {
    history.empty_single_version = true; // NilVersion
    return history;
  }
  if (sql_true(text_of(row[1]))) {
    history.failed.push_back({as_number(version), "dirty = true"});
  } else {
    history.applied.push_back({as_number(version), std::nullopt});
  }
  return history;
}

std::optional<Shipped>
golang_migrate_file(std::string_view name, std::string_view)
{
  static const std::regex k_name(R"(^([0-9]+)_(.*)\.up\.(.*)$)");
  const std::string base(basename_of(name));
  std::smatch match;
  if (!std::regex_match(base, match, k_name)) {
    return std::nullopt;
  }
  return Shipped{as_number(match[1].str()), {}, {}, {}, false};
}

std::vector<LockProbe>
golang_migrate_locks(util::SqlDriver driver, const DatabaseNames& names)
{
  if (driver == util::SqlDriver::postgres) {
    const auto key = golang_migrate_lock_key(names.schema, names.table, names.database);
    return {
      {LockProbe::Kind::pg_advisory, key, "", fmt::format("golang-migrate advisory lock {}", key)}};
  }
  if (driver == util::SqlDriver::mysql) {
    const auto name = std::to_string(static_cast<std::uint32_t>(
      crc32(fmt::format("{}:{}", names.database, names.table)) * 1486364155U));
    return {{LockProbe::Kind::mysql_named, 0, name, fmt::format("golang-migrate lock {}", name)}};
  }
  return {};
}

// --- sql-migrate ---

std::string
sql_migrate_sql(std::string_view table)
{
  return fmt::format("SELECT id FROM {}", table);
}

std::optional<Shipped>
sql_migrate_file(std::string_view name, std::string_view)
{
  const auto base = basename_of(name);
  if (!base.ends_with(".sql")) {
    return std::nullopt;
  }
  return Shipped{std::string(base), {}, {}, {}, false};
}

// --- Knex ---

std::string
knex_sql(std::string_view table)
{
  return fmt::format("SELECT name FROM {} ORDER BY id", table);
}

std::optional<Shipped>
knex_file(std::string_view name, std::string_view)
{
  const auto base = basename_of(name);
  if (base.ends_with(".d.ts")) {
    return std::nullopt;
  }
  for (const auto* extension : {".js", ".cjs", ".mjs", ".ts", ".cts", ".mts"}) {
    if (base.ends_with(extension)) {
      return Shipped{std::string(base), {}, {}, {}, false};
    }
  }
  return std::nullopt;
}

std::vector<LockProbe>
knex_locks(util::SqlDriver, const DatabaseNames& names)
{
  const auto table = fmt::format("{}_lock", names.table);
  return {{LockProbe::Kind::table,
           0,
           table,
           fmt::format("knex lock table {}", table),
           "SELECT is_locked FROM {}"}};
}

// --- Prisma ---

std::string
prisma_sql(std::string_view table)
{
  return fmt::format(
    "SELECT migration_name, checksum, finished_at, rolled_back_at FROM {} ORDER BY started_at",
    table);
}

util::Result<History>
prisma_read(const util::SqlRows& rows)
{
  RG_TRY(need_columns(rows, 4));
  History history;
  for (const auto& row : rows.rows) {
    const auto id = text_of(row[0]);
    if (row[3].has_value()) {
      continue; // rolled back: ignored
    }
    if (!row[2].has_value()) {
      history.failed.push_back({id, "finished_at and rolled_back_at are null"});
      continue;
    }
    std::optional<std::string> checksum;
    if (row[1]) {
      checksum = util::to_lower(*row[1]);
    }
    history.applied.push_back({id, checksum});
  }
  return history;
}

std::string
sha256_hex(std::string_view content)
{
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned length = 0;
  EVP_Digest(content.data(), content.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return lowercase_hex({digest.data(), length});
}

std::optional<Shipped>
prisma_file(std::string_view name, std::string_view content)
{
  // <YYYYMMDDHHMMSS>_<name>/migration.sql
  if (basename_of(name) != "migration.sql" || name.size() <= 14) {
    return std::nullopt;
  }
  const auto dir = name.substr(0, name.size() - 14);
  if (dir.find('/') != std::string_view::npos) {
    return std::nullopt;
  }
  Shipped shipped;
  shipped.id = std::string(dir);
  // Prisma accepts the file as written, with LF line endings, and with CRLF line endings.
  std::string lf;
  std::string crlf;
  for (std::size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '\r' && i + 1 < content.size() && content[i + 1] == '\n') {
      continue;
    }
    lf += content[i];
  }
  for (const char c : lf) {
    if (c == '\n') {
      crlf += '\r';
    }
    crlf += c;
  }
  for (const auto& variant : {std::string(content), lf, crlf}) {
    auto hex = sha256_hex(variant);
    if (std::find(shipped.checksums.begin(), shipped.checksums.end(), hex)
        == shipped.checksums.end()) {
      shipped.checksums.push_back(std::move(hex));
    }
  }
  return shipped;
}

std::vector<LockProbe>
prisma_locks(util::SqlDriver driver, const DatabaseNames&)
{
  if (driver == util::SqlDriver::postgres) {
    return {{LockProbe::Kind::pg_advisory, 72707369, "", "prisma advisory lock 72707369"}};
  }
  if (driver == util::SqlDriver::mysql) {
    return {{LockProbe::Kind::mysql_named, 0, "prisma_migrate", "prisma lock prisma_migrate"}};
  }
  return {};
}

// --- sqlx ---

std::string
sqlx_sql(std::string_view table)
{
  return fmt::format("SELECT version, success, checksum FROM {} ORDER BY version", table);
}

util::Result<History>
sqlx_read(const util::SqlRows& rows)
{
  RG_TRY(need_columns(rows, 3));
  History history;
  for (const auto& row : rows.rows) {
    const auto id = as_number(text_of(row[0]));
    if (!sql_true(text_of(row[1]))) {
      history.failed.push_back({id, "success = false"});
      continue;
    }
    std::optional<std::string> checksum;
    if (row[2]) {
      checksum = normalise_binary(*row[2]);
    }
    history.applied.push_back({id, checksum});
  }
  return history;
}

std::optional<Shipped>
sqlx_file(std::string_view name, std::string_view content)
{
  static const std::regex k_name(R"(^([0-9]+)_(.+?)(\.up)?\.sql$)");
  const std::string base(basename_of(name));
  std::smatch match;
  if (base.ends_with(".down.sql") || !std::regex_match(base, match, k_name)) {
    return std::nullopt;
  }
  return Shipped{as_number(match[1].str()), {sha384_hex(content)}, {}, {}, false};
}

std::vector<LockProbe>
sqlx_locks(util::SqlDriver driver, const DatabaseNames& names)
{
  if (driver == util::SqlDriver::postgres) {
    const auto key = sqlx_lock_key(names.database);
    return {{LockProbe::Kind::pg_advisory, key, "", fmt::format("sqlx advisory lock {}", key)}};
  }
  return {};
}

// --- Laravel ---

std::string
laravel_sql(std::string_view table)
{
  return fmt::format("SELECT migration FROM {} ORDER BY id", table);
}

std::optional<Shipped>
laravel_file(std::string_view name, std::string_view)
{
  const auto base = basename_of(name);
  if (!base.ends_with(".php")) {
    return std::nullopt;
  }
  return Shipped{std::string(base.substr(0, base.size() - 4)), {}, {}, {}, false};
}

// --- goose ---

std::string
goose_sql(std::string_view table)
{
  return fmt::format("SELECT version_id, is_applied FROM {} ORDER BY id", table);
}

util::Result<History>
goose_read(const util::SqlRows& rows)
{
  RG_TRY(need_columns(rows, 2));
  // An event log: the newest row of each version decides.
  std::map<std::string, bool> newest;
  std::vector<std::string> order;
  for (const auto& row : rows.rows) {
    const auto version = as_number(text_of(row[0]));
    if (version == "0") {
      continue;
    }
    if (newest.find(version) == newest.end()) {
      order.push_back(version);
    }
    newest[version] = sql_true(text_of(row[1]));
  }
  History history;
  for (const auto& version : order) {
    if (newest[version]) {
      history.applied.push_back({version, std::nullopt});
    }
  }
  return history;
}

std::optional<Shipped>
goose_file(std::string_view name, std::string_view)
{
  static const std::regex k_name(R"(^([0-9]+)_.*\.(sql|go)$)");
  const std::string base(basename_of(name));
  std::smatch match;
  if (base.ends_with("_test.go") || !std::regex_match(base, match, k_name)) {
    return std::nullopt;
  }
  auto version = as_number(match[1].str());
  if (version == "0") {
    return std::nullopt;
  }
  return Shipped{std::move(version), {}, {}, {}, false};
}

std::vector<LockProbe>
goose_locks(util::SqlDriver driver, const DatabaseNames&)
{
  if (driver == util::SqlDriver::postgres) {
    return {{LockProbe::Kind::pg_advisory, 4097083626, "", "goose advisory lock 4097083626"},
            {LockProbe::Kind::pg_advisory,
             5887940537704921958,
             "",
             "goose advisory lock 5887940537704921958 (before 2025-09)"}};
  }
  return {};
}

// --- dbmate ---

std::optional<Shipped>
dbmate_file(std::string_view name, std::string_view)
{
  static const std::regex k_name(R"(^([0-9]+).*\.sql$)");
  const std::string base(basename_of(name));
  std::smatch match;
  if (!std::regex_match(base, match, k_name)) {
    return std::nullopt;
  }
  return Shipped{match[1].str(), {}, {}, {}, false};
}

std::vector<LockProbe>
no_locks(util::SqlDriver, const DatabaseNames&)
{
  return {};
}

// --- The table ---

constexpr std::array<std::string_view, 2> k_rails_status{"bin/rails",
                                                         "db:abort_if_pending_migrations"};
constexpr std::array<std::string_view, 4> k_django_status{
  "python3", "manage.py", "migrate", "--check"};
constexpr std::array<std::string_view, 3> k_dbmate_status{"dbmate", "status", "--exit-code"};

// clang-format off
const std::array k_tools = {
  ToolDescriptor{"alembic",        "alembic_version",       Model::heads,          Checksum::none,          "versions/*.py with revision = \"...\" and down_revision",  &alembic_sql,        &single_column_read,  true,  &alembic_file,        1, &no_locks,             {}},
  ToolDescriptor{"dbmate",         "schema_migrations",     Model::set,            Checksum::none,          "<digits>_<name>.sql",                                     &rails_sql,          &single_column_read,  false, &dbmate_file,         1, &no_locks,             k_dbmate_status},
  ToolDescriptor{"django",         "django_migrations",     Model::set,            Checksum::none,          "<app>/migrations/<name>.py below the project",             &django_sql,         &django_read,         true,  &django_file,         5, &no_locks,             k_django_status},
  ToolDescriptor{"flyway",         "flyway_schema_history", Model::set,            Checksum::flyway_crc32,  "V<version>__<description>.sql and R__<description>.sql",  &flyway_sql,         &flyway_read,         true,  &flyway_file,         8, &flyway_locks,         {}},
  ToolDescriptor{"golang-migrate", "schema_migrations",     Model::single_version, Checksum::none,          "<version>_<title>.up.<extension>",                        &golang_migrate_sql, &golang_migrate_read, false, &golang_migrate_file, 1, &golang_migrate_locks, {}},
  ToolDescriptor{"goose",          "goose_db_version",      Model::set,            Checksum::none,          "<version>_<name>.sql or .go",                             &goose_sql,          &goose_read,          false, &goose_file,          1, &goose_locks,          {}},
  ToolDescriptor{"knex",           "knex_migrations",       Model::set,            Checksum::none,          "<name>.js/.cjs/.mjs/.ts (the name with its extension)",   &knex_sql,           &single_column_read,  false, &knex_file,           1, &knex_locks,           {}},
  ToolDescriptor{"laravel",        "migrations",            Model::set,            Checksum::none,          "<YYYY_MM_DD_HHMMSS>_<name>.php",                          &laravel_sql,        &single_column_read,  false, &laravel_file,        1, &no_locks,             {}},
  ToolDescriptor{"liquibase",      "DATABASECHANGELOG",     Model::set,            Checksum::none,          "changelogs (.sql --changeset author:id, .xml, .yaml)",    &liquibase_sql,      &liquibase_read,      true,  nullptr,              8, &liquibase_locks,      {}},
  ToolDescriptor{"prisma",         "_prisma_migrations",    Model::set,            Checksum::prisma_sha256, "<timestamp>_<name>/migration.sql",                        &prisma_sql,         &prisma_read,         true,  &prisma_file,         2, &prisma_locks,         {}},
  ToolDescriptor{"rails",          "schema_migrations",     Model::set,            Checksum::none,          "<version>_<name>.rb",                                     &rails_sql,          &single_column_read,  false, &rails_file,          1, &rails_locks,          k_rails_status},
  ToolDescriptor{"sql-migrate",    "gorp_migrations",       Model::set,            Checksum::none,          "<name>.sql (the file name is the id)",                    &sql_migrate_sql,    &single_column_read,  false, &sql_migrate_file,    1, &no_locks,             {}},
  ToolDescriptor{"sqlx",           "_sqlx_migrations",      Model::set,            Checksum::sqlx_sha384,   "<version>_<description>.sql or .up.sql",                  &sqlx_sql,           &sqlx_read,           true,  &sqlx_file,           1, &sqlx_locks,           {}},
};
// clang-format on

} // namespace

std::span<const ToolDescriptor>
tool_descriptors()
{
  return k_tools;
}

const ToolDescriptor*
find_tool(std::string_view name)
{
  for (const auto& tool : k_tools) {
    if (tool.name == name) {
      return &tool;
    }
  }
  return nullptr;
}

util::Result<std::vector<Shipped>>
read_shipped(const ToolDescriptor& tool,
             const fs::path& dir,
             util::Clock::time_point deadline,
             std::stop_token stop)
{
  std::error_code error;
  auto root = dir;
  // Alembic: the script directory or its versions/ folder.
  if (tool.name == "alembic" && fs::is_directory(root / "versions", error)) {
    root /= "versions";
  }
  if (!fs::is_directory(root, error)) {
    return util::make_error(
      error == std::errc::permission_denied ? util::Errc::permission : util::Errc::io,
      fmt::format(
        "{}: {}", util::printable(root.string()), error ? error.message() : "not a directory"));
  }
  std::vector<Shipped> shipped;
  std::set<std::string> ids;
  std::size_t entries = 0;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (++entries > k_max_entries) {
      return util::make_error(
        util::Errc::io,
        fmt::format("{}: more than {} entries", util::printable(root.string()), k_max_entries));
    }
    if (stop.stop_requested()) {
      return util::make_error(util::Errc::cancelled, "stopped while reading migrations_dir");
    }
    if (util::Clock::now() >= deadline) {
      return util::make_error(
        util::Errc::timeout,
        fmt::format("{}: not read before the deadline", util::printable(root.string())));
    }
    const auto name = it->path().filename().string();
    if (it->is_directory(error)) {
      if (it.depth() + 1 >= tool.depth || name.starts_with('.') || name == "__pycache__"
          || name == "node_modules" || name == "site-packages") {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (!it->is_regular_file(error)) {
      continue;
    }
    const auto relative = it->path().lexically_relative(root).generic_string();
    std::string content;
    if (tool.needs_content) {
      RG_TRY_ASSIGN(content,
                    util::read_small_file(it->path(), k_migration_file_limit, deadline, stop));
    }
    std::vector<Shipped> found;
    if (tool.shipped_from_file == nullptr) { // Liquibase: changelogs
      for (auto& id : liquibase_changesets(relative, content)) {
        found.push_back(Shipped{std::move(id), {}, {}, {}, false});
      }
    } else if (auto one = tool.shipped_from_file(relative, content)) {
      found.push_back(std::move(*one));
    }
    for (auto& migration : found) {
      if (!ids.insert(migration.id).second) {
        return util::make_error(util::Errc::io,
                                fmt::format("{}: two files give the migration id \"{}\"",
                                            util::printable(root.string()),
                                            util::printable(migration.id)));
      }
      shipped.push_back(std::move(migration));
    }
  }
  if (error) {
    return util::make_error(error == std::errc::permission_denied ? util::Errc::permission
                                                                  : util::Errc::io,
                            fmt::format("{}: {}", util::printable(root.string()), error.message()));
  }
  std::sort(shipped.begin(), shipped.end(), [](const Shipped& a, const Shipped& b) {
    return id_less(a.id, b.id);
  });
  return shipped;
}

std::vector<Shipped>
shipped_from_ids(const ToolDescriptor& tool, const std::vector<std::string>& ids)
{
  std::vector<Shipped> shipped;
  for (const auto& id : ids) {
    std::string normal = id;
    if (tool.name == "flyway" && !id.starts_with("R__")) {
      normal = flyway_version(id);
    } else if ((tool.name == "golang-migrate" || tool.name == "goose" || tool.name == "sqlx")
               && all_digits(id)) {
      normal = as_number(id);
    }
    shipped.push_back(Shipped{std::move(normal), {}, {}, {}, false});
  }
  return shipped;
}

bool
id_less(std::string_view a, std::string_view b)
{
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    const bool digit_a = std::isdigit(static_cast<unsigned char>(a[i])) != 0;
    const bool digit_b = std::isdigit(static_cast<unsigned char>(b[j])) != 0;
    if (digit_a && digit_b) {
      auto end_a = i;
      auto end_b = j;
      while (end_a < a.size() && std::isdigit(static_cast<unsigned char>(a[end_a])) != 0) {
        ++end_a;
      }
      while (end_b < b.size() && std::isdigit(static_cast<unsigned char>(b[end_b])) != 0) {
        ++end_b;
      }
      const auto run_a = as_number(a.substr(i, end_a - i));
      const auto run_b = as_number(b.substr(j, end_b - j));
      if (run_a.size() != run_b.size()) {
        return run_a.size() < run_b.size();
      }
      if (run_a != run_b) {
        return run_a < run_b;
      }
      i = end_a;
      j = end_b;
      continue;
    }
    if (a[i] != b[j]) {
      return a[i] < b[j];
    }
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j || (a.size() - i == b.size() - j && a < b);
}

std::uint32_t
crc32(std::string_view data, std::uint32_t crc)
{
  static const auto k_table = [] {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) {
        c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1U) : c >> 1U;
      }
      table[n] = c;
    }
    return table;
  }();
  crc = ~crc;
  for (const char ch : data) {
    crc = k_table[(crc ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (crc >> 8U);
  }
  return ~crc;
}

std::int32_t
flyway_checksum(std::string_view content)
{
  if (content.starts_with("\xEF\xBB\xBF")) {
    content.remove_prefix(3);
  }
  std::uint32_t crc = 0;
  std::size_t start = 0;
  while (start < content.size()) {
    auto end = content.find_first_of("\r\n", start);
    if (end == std::string_view::npos) {
      end = content.size();
    }
    crc = crc32(content.substr(start, end - start), crc);
    start = end;
    if (start < content.size() && content[start] == '\r') {
      ++start;
    }
    if (start < content.size() && content[start] == '\n') {
      ++start;
    }
  }
  return static_cast<std::int32_t>(crc);
}

std::int32_t
java_string_hash(std::string_view text)
{
  std::uint32_t hash = 0;
  // Java hashes UTF-16 code units; decode UTF-8 and split what lies beyond the BMP.
  while (!text.empty()) {
    const auto point = util::decode_utf8(text);
    text.remove_prefix(point.length);
    const auto value = static_cast<std::uint32_t>(point.value);
    if (value >= 0x10000U) {
      const auto v = value - 0x10000U;
      hash = 31U * hash + (0xD800U + (v >> 10U));
      hash = 31U * hash + (0xDC00U + (v & 0x3FFU));
    } else {
      hash = 31U * hash + value;
    }
  }
  return static_cast<std::int32_t>(hash);
}

std::string
sha384_hex(std::string_view content)
{
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned length = 0;
  EVP_Digest(content.data(), content.size(), digest.data(), &length, EVP_sha384(), nullptr);
  return lowercase_hex({digest.data(), length});
}

std::int64_t
flyway_lock_key(std::string_view schema, std::string_view table)
{
  return 0x466C79776179LL + java_string_hash(fmt::format("\"{}\".\"{}\"", schema, table));
}

std::int64_t
rails_lock_key(std::string_view database)
{
  return static_cast<std::int64_t>(2053462845ULL * crc32(database));
}

std::int64_t
golang_migrate_lock_key(std::string_view schema, std::string_view table, std::string_view database)
{
  const auto joined = fmt::format("{}{}{}{}{}", schema, '\0', table, '\0', database);
  return static_cast<std::int64_t>(static_cast<std::uint32_t>(crc32(joined) * 1486364155U));
}

std::int64_t
sqlx_lock_key(std::string_view database)
{
  return static_cast<std::int64_t>(0x3d32ad9eULL * crc32(database));
}

std::string
flyway_version(std::string_view text)
{
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find_first_of("._", start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    const auto part = text.substr(start, end - start);
    parts.push_back(all_digits(part) ? as_number(part) : std::string(part));
    start = end + 1;
  }
  while (parts.size() > 1 && parts.back() == "0") {
    parts.pop_back();
  }
  return fmt::format("{}", fmt::join(parts, "."));
}

bool
sql_true(std::string_view text)
{
  const auto lower = util::to_lower(text);
  return lower == "t" || lower == "true" || lower == "1" || lower == "y" || lower == "yes"
         || lower == "on";
}

} // namespace checks::migrations
