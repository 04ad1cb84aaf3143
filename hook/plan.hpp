// What the commands that run checks share: load the config and build its checks, select them
// (--only, --tag, --skip-tag), the run's options, and writing the report.
#pragma once

#include <config/config.hpp>
#include <hook/cli.hpp>
#include <hook/runner.hpp>
#include <hook/util/result.hpp>

#include <ostream>
#include <stop_token>
#include <string_view>
#include <vector>

namespace hook {

// --- Interface ---

struct LoadedPlan
{
  config::Config config;
  std::vector<PlannedCheck> checks;
};

// How long reading the configuration may take when no --deadline says otherwise.
inline constexpr std::chrono::seconds k_config_read_timeout{30};

// Load the config `invocation` names (read by --deadline, else k_config_read_timeout; `stop`
// ends the wait) and build every check. Errors are Errc::config, one line per problem.
util::Result<LoadedPlan> load_plan(const Invocation& invocation, std::stop_token stop = {});

// Print each line of `error` on standard error and return the exit code for a bad config (78).
int report_config_error(const util::Error& error);

// Mark the checks --only, --tag and --skip-tag leave out as not selected (they are reported as
// skipped, and do not hold back the checks that depend on them). A filter that matches no check
// is an Errc::usage error.
util::Result<void> select_checks(const Invocation& invocation, LoadedPlan& plan);

// Return the run options of `plan`: [gate] settings, --deadline, and retries logged on standard
// error (escaped: what servers send never reaches the journal raw).
RunOptions
run_options_for(const LoadedPlan& plan, const Invocation& invocation, std::stop_token stop);

// Write the report of `summary` in `format` (colour on a terminal unless NO_COLOR) to `out` and
// flush it; false when it could not be written (a full disk, a closed stdout).
bool
write_report(std::ostream& out, std::string_view format, const RunSummary& summary, bool terminal);

} // namespace hook
