// What each command of the CLI does. Each returns the process exit code.
#pragma once

#include <hook/cli.hpp>
#include <hook/outcome.hpp>

#include <stop_token>

namespace hook {

// --- Interface ---

// Run the checks once and print the report; `stop` ends the run early with what finished.
// Sets `abandoned` when a check thread was left running (the caller must then _Exit).
int run_check_command(const CliOptions& options, std::stop_token stop, bool& abandoned);

// Load the config and build every check without running any.
int run_config_validate_command(const CliOptions& options);

// Write the manifest of `options.root` to standard output.
int run_manifest_create_command(const CliOptions& options);

} // namespace hook
