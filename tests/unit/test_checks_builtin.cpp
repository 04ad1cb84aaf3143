#include "testutil.hpp"

#include <checks/check_kind.hpp>

#include <fmt/format.h>

#include <map>
#include <set>

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
  {"files",   "root = \"/srv/app\"\nmanifest = \"/srv/app.manifest\""},
  {"http",    "url = \"http://127.0.0.1:8080/health\""},
  {"tcp",     "address = \"127.0.0.1:8080\""},
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

TEST_CASE("checks::instantiate: unknown kind is a config error listing the kinds", "[checks]")
{
  const auto parsed =
    config::parse_config("[[check]]\nid = \"x\"\nkind = \"filez\"\n", "r.toml", "/");
  REQUIRE(parsed);
  const auto planned = checks::instantiate(*parsed);
  REQUIRE_FALSE(planned);
  CHECK(planned.error().code == util::Errc::config);
  CHECK_THAT(planned.error().message,
             Catch::StartsWith(
               "r.toml:1:1: check \"x\": unknown kind \"filez\" (expected one of: command, files"));
}
