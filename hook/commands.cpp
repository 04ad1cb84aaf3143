#include "commands.hpp"

#include <config/lifecycle.hpp>
#include <hook/report/reporter.hpp>
#include <hook/util/duration.hpp>
#include <hook/util/tcp.hpp>

#include <fmt/format.h>

#include <array>
#include <string>
#include <vector>

namespace hook {

namespace {

util::Result<void>
known_format(std::string_view value)
{
  if (report::find_report_format(value) != nullptr) {
    return {};
  }
  std::vector<std::string_view> names;
  for (const auto& format : report::report_formats()) {
    names.push_back(format.name);
  }
  return util::make_error(util::Errc::usage,
                          fmt::format("unknown report format \"{}\" (expected one of: {})",
                                      value,
                                      fmt::join(names, ", ")));
}

util::Result<void>
positive_duration(std::string_view value)
{
  auto parsed = util::parse_duration(value);
  if (!parsed) {
    return util::make_error(util::Errc::usage,
                            fmt::format("--deadline: {}", parsed.error().message));
  }
  if (parsed->count() == 0) {
    return util::make_error(util::Errc::usage, "--deadline: must be longer than 0s");
  }
  return {};
}

util::Result<void>
not_empty(std::string_view value)
{
  if (value.empty() || value.find_first_not_of(',') == std::string_view::npos) {
    return util::make_error(util::Errc::usage, "the option needs a value that is not empty");
  }
  return {};
}

util::Result<void>
listen_address(std::string_view value)
{
  auto parsed = util::parse_listen_address(value);
  if (!parsed) {
    return util::make_error(util::Errc::usage, fmt::format("--listen: {}", parsed.error().message));
  }
  return {};
}

constexpr CliOption k_config{
  "--config",
  "FILE",
  "the configuration (default: $READYGATE_CONFIG, else /etc/readygate/readygate.toml)"};

// clang-format off
constexpr std::array k_check_options = {
  k_config,
  CliOption{"--format",   "FORMAT",   "report format: human, json, junit, tap, prometheus", false, &known_format},
  CliOption{"--only",     "ID,...",   "run only these checks; the others are reported as skipped", true, &not_empty},
  CliOption{"--tag",      "TAG",      "run only the checks with this tag", true, &not_empty},
  CliOption{"--skip-tag", "TAG",      "leave out the checks with this tag", true, &not_empty},
  CliOption{"--deadline", "DURATION", "the whole run's deadline, overriding [gate] deadline (e.g. \"90s\", \"5m\")", false, &positive_duration},
};
constexpr std::array k_config_options = {k_config};
constexpr std::array k_lifecycle_options = {
  k_config,
  CliOption{"--dry-run", "", "read IMDS (and DescribeAutoScalingInstances when the group is not tagged), print what was found and the calls that would be made; send nothing, run no check"},
};
constexpr std::array k_manifest_options = {
  CliOption{"--root",    "DIR",  "the tree to record (a symlink to it is followed; symlinks inside it are not)", false, &not_empty},
  CliOption{"--exclude", "GLOB", "leave out paths matching GLOB (runtime paths such as \"var/log/**\", \"*.pid\"); the check ignores them too", true, &not_empty},
};
constexpr std::array k_serve_options = {
  k_config,
  CliOption{"--listen", "ADDR:PORT", "listen here instead of [serve] listen (\"127.0.0.1:9901\", \"[::1]:9901\")", true, &listen_address},
};
// clang-format on

std::vector<std::string_view>
manifest_required()
{
  return {"--root"};
}

constexpr std::string_view k_check_description =
  R"(Run every selected check once (retrying those with retry = true until the deadline), print a
report on standard output and exit with the verdict: 0 pass, 1 fail, 2 error (could not verify).
Checks left out by --only, --tag or --skip-tag are reported as skipped and do not hold back the
checks that depend on them; a filter that matches no check is a usage error (64).
)";

constexpr std::string_view k_config_description =
  R"(Read the configuration and build every check without touching the host. Exit 0 when it is
valid, 78 with file:line:col and what was expected for every problem found when it is not.
)";

constexpr std::string_view k_lifecycle_description =
  R"(Run the checks while an AWS Auto Scaling launch lifecycle hook holds this instance in
Pending:Wait, with RecordLifecycleActionHeartbeat at once and every heartbeat_interval, then
complete the hook: CONTINUE when every check passed (the instance joins its target groups),
ABANDON otherwise (it is terminated and replaced). The instance, region, group and credentials
come from IMDSv2 and the instance profile; [gate] deadline bounds the checks, and completing the
action may take 30s more. The decision and the check report go to result_file, one line to
standard error. SIGTERM stops the checks and sends ABANDON, unless every check had already
passed: then CONTINUE goes out, and the journal line says a signal came. Give the hook
DefaultResult=ABANDON: whatever readygate cannot complete, the hook's timeout abandons.

exit codes:
  0   CONTINUE was accepted (every check passed, or on_error = "continue" and one could not
      be verified while none was seen failing)
  1   a check failed (ABANDON was sent)
  2   anything else: a check could not be verified, the deadline passed or a signal came
      (ABANDON was sent); or no result could be delivered: no metadata service (not on EC2),
      no instance profile, no group, the hook had no active action (it timed out or was
      completed elsewhere), Auto Scaling refused or did not answer within 30s, or an attempt
      got no definite answer and may have been accepted (the outcome is unknown)
  64  bad usage
  78  bad configuration (no [lifecycle] table, an unknown key, a bad value)
)";

constexpr std::string_view k_manifest_description =
  R"(Write the manifest of the tree at DIR to standard output: one line per path with its type,
mode, owner, size, SHA-256 and symlink target, sorted, under a header carrying the digest of the
whole manifest. Run it at release time over the built application tree; the files check compares
a host's tree with it.
)";

constexpr std::string_view k_serve_description =
  R"(Run the checks in the background every [serve] interval and answer health checks from the
last verdict, without ever waiting for a run: GET /healthz (200 while the verdict is pass and not
older than max_age, else 503), /azure (Azure Application Health, rich), /metrics (Prometheus),
/report (the last JSON report). SIGHUP reloads the configuration (a bad one is refused and the
old one keeps serving); SIGTERM ends it with exit 0.
)";

// clang-format off
constexpr std::array k_commands = {
  CliCommand{"check",           "run the checks once, print a report, exit with the verdict", k_check_options,    k_check_description,    &run_check_command,           true,  nullptr},
  CliCommand{"config validate", "check the configuration without touching the host",         k_config_options,   k_config_description,   &run_config_validate_command, false, nullptr},
  CliCommand{"lifecycle",       "verify, then complete the AWS Auto Scaling launch lifecycle hook", k_lifecycle_options, k_lifecycle_description, &run_lifecycle_command, true, nullptr, false, "[lifecycle]", &config::lifecycle_keys},
  CliCommand{"manifest create", "write the release manifest of an application tree",          k_manifest_options, k_manifest_description, &run_manifest_create_command, false, &manifest_required},
  CliCommand{"serve",           "answer load-balancer health checks from checks run in the background", k_serve_options, k_serve_description, &run_serve_command, true, nullptr, true},
};
// clang-format on

} // namespace

std::span<const CliCommand>
cli_commands()
{
  return k_commands;
}

} // namespace hook
