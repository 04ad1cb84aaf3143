// The command line: readygate <command> [options]. Parsing only; commands.hpp does the work.
#pragma once

#include <hook/util/result.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hook {

// --- Interface ---

enum class Command {
  check,           // run the checks once, print a report
  config_validate, // load the config and build every check, touching nothing
  manifest_create, // write a release manifest of a tree
  help,            // print help for `help_topic` ("" for the overview)
  version,         // print the version
};

struct CliOptions
{
  Command command = Command::help;
  std::string help_topic;
  std::optional<std::filesystem::path> config;       // --config
  std::string format = "human";                      // --format
  std::vector<std::string> only;                     // --only ID,... (repeated ones add up)
  std::optional<std::chrono::milliseconds> deadline; // --deadline
  std::optional<std::filesystem::path> root;         // manifest create --root
  std::vector<std::string> excludes;                 // manifest create --exclude
};

// Parse `args` (without the program name). A malformed command line is an Errc::usage error.
util::Result<CliOptions> parse_cli(std::span<const std::string_view> args);

// Return the help text for `topic` ("" for the overview, or a command name such as "check").
std::string help_text(std::string_view topic);

// Return the config path to use: --config, else $READYGATE_CONFIG, else the default.
std::filesystem::path config_path(const CliOptions& options);

} // namespace hook
