// THE table of commands. Adding a command: its run function in hook/<name>_command.cpp, its row
// here (keep the table sorted), its section in the README; --help comes from the row.
#pragma once

#include <hook/cli.hpp>

#include <span>
#include <stop_token>

namespace hook {

// --- Interface ---

// Return the commands, sorted by name.
std::span<const CliCommand> cli_commands();

int run_check_command(const Invocation& invocation, std::stop_token stop);
int run_config_validate_command(const Invocation& invocation, std::stop_token stop);
int run_lifecycle_command(const Invocation& invocation, std::stop_token stop);
int run_manifest_create_command(const Invocation& invocation, std::stop_token stop);
int run_serve_command(const Invocation& invocation, std::stop_token stop);

} // namespace hook
