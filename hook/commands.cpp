#include "commands.hpp"

#include <checks/check_kind.hpp>
#include <checks/files/manifest.hpp>
#include <config/config.hpp>
#include <hook/report/reporter.hpp>
#include <hook/runner.hpp>
#include <hook/util/http.hpp>
#include <hook/util/subprocess.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>

namespace hook {

namespace {

struct LoadedPlan
{
  config::Config config;
  std::vector<PlannedCheck> checks;
};

util::Result<LoadedPlan>
load_plan(const CliOptions& options)
{
  RG_TRY_ASSIGN(auto config, config::load_config(config_path(options)));
  RG_TRY_ASSIGN(auto planned, checks::instantiate(config));
  return LoadedPlan{std::move(config), std::move(planned)};
}

int
report_config_error(const util::Error& error)
{
  std::cerr << "readygate: " << error.message << '\n';
  return k_exit_config;
}

std::string
host_name()
{
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) {
    return {};
  }
  return buffer;
}

report::Colour
colour_for(std::string_view format)
{
  const char* no_colour = std::getenv("NO_COLOR");
  const bool wanted =
    format == "human" && isatty(STDOUT_FILENO) == 1 && (no_colour == nullptr || *no_colour == '\0');
  return wanted ? report::Colour::yes : report::Colour::no;
}

} // namespace

int
run_check_command(const CliOptions& options, std::stop_token stop, bool& abandoned)
{
  auto plan = load_plan(options);
  if (!plan) {
    return report_config_error(plan.error());
  }
  if (!options.only.empty()) {
    std::set<std::string, std::less<>> wanted(options.only.begin(), options.only.end());
    for (auto& check : plan->checks) {
      check.selected = wanted.erase(check.id) > 0;
    }
    if (!wanted.empty()) {
      std::cerr << fmt::format("readygate: --only: no check with id \"{}\" in {}\n",
                               *wanted.begin(),
                               plan->config.path.string());
      return k_exit_usage;
    }
  }

  // Process lifetime: an abandoned check attempt may still call them after the run returns.
  static util::SystemProcessRunner processes;
  static util::CurlHttpClient http;
  Services services;
  services.processes = &processes;
  services.http = &http;

  RunOptions run_options;
  run_options.deadline = options.deadline.value_or(plan->config.gate.deadline);
  run_options.retry_interval = plan->config.gate.retry_interval;
  run_options.concurrency = plan->config.gate.concurrency;
  run_options.stop = stop;
  // Retries are logged on standard error (the journal, under systemd), so an operator can see
  // why a boot is still waiting; the report itself comes once, at the end, on standard output.
  run_options.on_progress = [interval = run_options.retry_interval](const Progress& progress) {
    if (progress.will_retry) {
      std::cerr << fmt::format("readygate: {} ({}): attempt {}: {}: {}; retrying in {}\n",
                               progress.check.id,
                               progress.check.kind,
                               progress.attempt,
                               status_name(progress.result.status),
                               progress.result.message,
                               util::format_duration(interval));
    }
  };

  const auto summary = run_checks(plan->checks, services, run_options);
  abandoned = summary.attempts_abandoned;

  const auto* format = report::find_report_format(options.format);
  const auto hostname = host_name();
  report::ReportOptions report_options;
  report_options.colour = colour_for(options.format);
  report_options.hostname = hostname;
  format->write(std::cout, summary, report_options);
  std::cout.flush();
  return exit_code_for(summary.verdict);
}

int
run_config_validate_command(const CliOptions& options)
{
  auto plan = load_plan(options);
  if (!plan) {
    return report_config_error(plan.error());
  }
  std::cout << fmt::format("{}: valid: {} check{}, deadline {}\n",
                           plan->config.path.string(),
                           plan->checks.size(),
                           plan->checks.size() == 1 ? "" : "s",
                           util::format_duration(plan->config.gate.deadline));
  return 0;
}

int
run_manifest_create_command(const CliOptions& options)
{
  // Straight to the descriptor: a regular file gets the entries as they come and the digest
  // patched into its header, so memory does not grow with the tree.
  std::cout.flush();
  auto written = checks::files::write_manifest(*options.root, options.excludes, STDOUT_FILENO);
  if (!written) {
    std::cerr << "readygate: manifest create: " << written.error().message << '\n';
    return written.error().code == util::Errc::usage ? k_exit_usage : 2;
  }
  return 0;
}

} // namespace hook
