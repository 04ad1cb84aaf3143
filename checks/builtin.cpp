// THE table of check kinds. Adding a kind: its files in checks/, one line here (keep the table
// sorted), one line in checks/CMakeLists.txt, tests/unit/test_checks_<kind>.cpp,
// tests/integration/<kind>.bats and its section in the README.
#include "check_kind.hpp"

#include <checks/command.hpp>
#include <checks/database.hpp>
#include <checks/files/files_check.hpp>
#include <checks/http.hpp>
#include <checks/images/images_check.hpp>
#include <checks/migrations/migrations_check.hpp>
#include <checks/tcp.hpp>
#include <checks/webserver/webserver_check.hpp>
#include <hook/util/table.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace checks {

namespace {

// clang-format off
constexpr std::array k_builtin_check_kinds = {
  CheckKind{"command", "run a command; expect its exit code and output",        &command_keys,        &create_command_check},
  CheckKind{"database", "connect to a database; expect latency and connection headroom", &database_keys, &create_database_check},
  CheckKind{"files",   "compare the application tree with the release manifest", &files::files_keys,   &create_files_check},
  CheckKind{"http",    "request a URL; expect its status, headers and body",     &http_keys,           &create_http_check},
  CheckKind{"images",  "containers run their pinned digests; references pinned; registry consistent", &images_keys, &create_images_check},
  CheckKind{"migrations", "compare the schema migration history with the release", &migrations::migrations_keys, &migrations::create_migrations_check},
  CheckKind{"tcp",     "connect to host:port within the timeout",                &tcp_keys,            &create_tcp_check},
  CheckKind{"webserver", "test nginx/apache/haproxy's config; check what it serves", &webserver_keys,    &create_webserver_check},
};
// clang-format on

} // namespace

std::span<const CheckKind>
builtin_check_kinds()
{
  return k_builtin_check_kinds;
}

const CheckKind*
find_check_kind(std::string_view name)
{
  return util::find_by_name(builtin_check_kinds(), name);
}

util::Result<std::vector<hook::PlannedCheck>>
instantiate(const config::Config& config)
{
  std::vector<hook::PlannedCheck> planned;
  std::vector<std::string> problems;
  planned.reserve(config.checks.size());
  for (const auto& spec : config.checks) {
    const auto* kind = find_check_kind(spec.kind);
    if (kind == nullptr) {
      std::vector<std::string_view> names;
      for (const auto& known : k_builtin_check_kinds) {
        names.push_back(known.name);
      }
      problems.push_back(fmt::format("{}: check \"{}\": unknown kind \"{}\" (expected one of: {})",
                                     spec.where,
                                     spec.id,
                                     spec.kind,
                                     fmt::join(names, ", ")));
      continue;
    }
    auto check = kind->create(spec);
    if (!check) {
      problems.push_back(std::move(check.error().message));
      continue;
    }
    hook::PlannedCheck entry;
    entry.id = spec.id;
    entry.kind = spec.kind;
    entry.timeout = spec.timeout.value_or(config.gate.default_timeout);
    entry.retry = spec.retry;
    entry.tags = spec.tags;
    entry.depends_on = spec.depends_on;
    entry.check = std::shared_ptr<const hook::Check>(std::move(*check));
    planned.push_back(std::move(entry));
  }
  if (!problems.empty()) {
    return util::make_error(util::Errc::config, fmt::format("{}", fmt::join(problems, "\n")));
  }
  return planned;
}

} // namespace checks
