#include "testutil.hpp"

#include <checks/check_kind.hpp>
#include <hook/report/reporter.hpp>
#include <hook/util/table.hpp>

#include <fmt/format.h>

#include <array>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

TEST_CASE("checks::builtin_check_kinds: sorted, unique, findable", "[checks]")
{
  const auto kinds = checks::builtin_check_kinds();
  REQUIRE(!kinds.empty());
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (i > 0) {
      CHECK(kinds[i - 1].name < kinds[i].name);
    }
    CHECK(names.insert(kinds[i].name).second);
    CHECK(checks::find_check_kind(kinds[i].name) == &kinds[i]);
    CHECK_FALSE(kinds[i].summary.empty());
  }
  CHECK(checks::find_check_kind("nope") == nullptr);
}

namespace {

// The smallest valid spec of each kind. A new kind must add its own here.
// clang-format off
const std::map<std::string_view, std::string_view> k_minimal_specs = {
  {"command", "argv = [\"true\"]"},
  {"database", "driver = \"postgres\"\ndsn_env = \"DATABASE_URL\""},
  {"files",   "root = \"/srv/app\"\nmanifest = \"/srv/app.manifest\""},
  {"http",    "url = \"http://127.0.0.1:8080/health\""},
  {"images",  "pinned_refs = \"/srv/app/compose.yaml\""},
  {"migrations", "driver = \"postgres\"\ntool = \"flyway\"\ndsn_env = \"DATABASE_URL\"\nexpected = [\"1\"]"},
  {"tcp",     "address = \"127.0.0.1:8080\""},
  {"webserver", "server = \"nginx\""},
};
// clang-format on

} // namespace

TEST_CASE(
  "checks::builtin_check_kinds: every kind builds from a minimal spec and rejects an unknown key",
  "[checks]")
{
  for (const auto& kind : checks::builtin_check_kinds()) {
    INFO(kind.name);
    const auto minimal = k_minimal_specs.find(kind.name);
    REQUIRE(minimal != k_minimal_specs.end());
    const auto header =
      fmt::format("[[check]]\nid = \"k\"\nkind = \"{}\"\n{}\n", kind.name, minimal->second);
    const auto valid = kind.create(testutil::spec_from(header));
    INFO(testutil::error_message(valid));
    CHECK(valid);
    const auto created = kind.create(testutil::spec_from(header + "surely_not_a_key = 1\n"));
    REQUIRE_FALSE(created);
    CHECK(created.error().code == util::Errc::config);
    CHECK_THAT(created.error().message,
               Catch::StartsWith("test.toml:")
                 && Catch::Contains("unknown key \"surely_not_a_key\""));
  }
}

TEST_CASE("checks::builtin_check_kinds: every key a kind marks secret refuses the secret itself "
          "written in its place, without showing it",
          "[checks][secret]")
{
  std::size_t tried = 0;
  for (const auto& kind : checks::builtin_check_kinds()) {
    for (const auto& key : kind.keys()) {
      if (!key.secret) {
        continue;
      }
      // The kind's minimal spec without its own secret source, which would clash.
      std::string minimal;
      std::istringstream lines{std::string(k_minimal_specs.at(kind.name))};
      for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("dsn_")) {
          minimal += line + "\n";
        }
      }
      if (key.name.starts_with("password_")) {
        minimal += "username = \"u\"\n";
      }
      for (const std::string_view value :
           {"postgresql://app:hunter2@db.internal/app", "host=db user=app password=hunter2"}) {
        const auto line = key.type == config::KeyType::string_table
                            ? fmt::format("{} = {{ Authorization = \"{}\" }}", key.name, value)
                            : fmt::format("{} = \"{}\"", key.name, value);
        INFO(kind.name << ": " << line);
        const auto created = kind.create(testutil::spec_from(
          fmt::format("[[check]]\nid = \"k\"\nkind = \"{}\"\n{}\n{}", kind.name, line, minimal)));
        REQUIRE_FALSE(created);
        CHECK(created.error().code == util::Errc::config);
        CHECK_THAT(created.error().message,
                   Catch::StartsWith("test.toml:4:")
                     && Catch::Contains(fmt::format("key \"{}\": ", key.name))
                     && Catch::Contains("not shown") && !Catch::Contains("hunter2"));
        ++tried;
      }
    }
  }
  // dsn_env/dsn_file of database and migrations, headers_env/headers_file of http,
  // password_env/password_file/docker_config of images.
  CHECK(tried >= 2 * 9);
}

TEST_CASE("checks::instantiate: unknown kind is a config error listing the kinds", "[checks]")
{
  const auto parsed =
    config::parse_config("[[check]]\nid = \"x\"\nkind = \"filez\"\n", "r.toml", "/");
  REQUIRE(parsed);
  const auto planned = checks::instantiate(*parsed);
  REQUIRE_FALSE(planned);
  CHECK(planned.error().code == util::Errc::config);
  CHECK_THAT(planned.error().message,
             Catch::StartsWith("r.toml:1:1: check \"x\": unknown kind \"filez\" (expected one of: "
                               "command, database, files"));
}

namespace {

// Return the keys the README's section of `kind` lists: the first column of the first table
// after the heading "### `kind`", each written as `key` (several in one cell are allowed).
std::set<std::string>
readme_keys(std::string_view kind)
{
  std::ifstream in(RG_README_PATH);
  REQUIRE(in);
  const auto heading = fmt::format("### `{}`", kind);
  std::set<std::string> keys;
  std::string line;
  bool in_section = false;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.starts_with("#")) {
      if (in_section && line.starts_with("#")) {
        break;
      }
      in_section = line.starts_with(heading);
      continue;
    }
    if (!in_section) {
      continue;
    }
    if (line.starts_with("| `")) {
      // The first column may name several keys: "| `stdout_matches`, `stderr_matches` |".
      in_table = true;
      const auto column = line.substr(2, line.find(" |", 2) - 2);
      for (auto open = column.find('`'); open != std::string::npos;
           open = column.find('`', column.find('`', open + 1) + 1)) {
        const auto close = column.find('`', open + 1);
        keys.emplace(column.substr(open + 1, close - open - 1));
      }
    } else if (in_table) {
      break; // the first table only
    }
  }
  return keys;
}

} // namespace

TEST_CASE("README: each kind's section lists exactly the keys of its key table", "[checks]")
{
  for (const auto& kind : checks::builtin_check_kinds()) {
    INFO("kind " << kind.name);
    std::set<std::string> declared;
    for (const auto& key : kind.keys()) {
      declared.emplace(key.name);
    }
    CHECK(readme_keys(kind.name) == declared);
  }
}

TEST_CASE("util::find_by_name: the one sorted-table lookup, over every table", "[checks]")
{
  CHECK(util::sorted_by_name(checks::builtin_check_kinds()));
  CHECK(util::sorted_by_name(hook::report::report_formats()));
  CHECK(util::find_by_name(checks::builtin_check_kinds(), "http")->name == "http");
  CHECK(util::find_by_name(checks::builtin_check_kinds(), "httpx") == nullptr);
  CHECK(util::find_by_name(hook::report::report_formats(), "tap")->name == "tap");
  struct Row
  {
    std::string_view name;
  };
  const std::array unsorted = {Row{"b"}, Row{"a"}};
  const std::array duplicated = {Row{"a"}, Row{"a"}};
  CHECK_FALSE(util::sorted_by_name(std::span<const Row>(unsorted)));
  CHECK_FALSE(util::sorted_by_name(std::span<const Row>(duplicated)));
}
