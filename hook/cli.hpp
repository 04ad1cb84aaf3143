// The command line: readygate <command> [options]. Commands are rows of one sorted table
// (hook/commands.cpp): name, summary, options, description, run. Parsing, usage errors and
// every help text come from that table, so a new command is one row and one file.
#pragma once

#include <config/keys.hpp>
#include <hook/util/result.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace hook {

// --- Interface ---

struct Invocation;

struct CliOption
{
  std::string_view name;  // "--config"
  std::string_view value; // what it takes, for help ("FILE"); "" for a flag
  std::string_view doc;
  bool repeatable = false; // each use adds to the list; otherwise the last one counts
  // Check a value at parse time; an error becomes a usage error (exit 64). May be null.
  util::Result<void> (*validate)(std::string_view value) = nullptr;
};

struct CliCommand
{
  std::string_view name;    // "check", "config validate", "manifest create"
  std::string_view summary; // one line, for readygate --help
  std::span<const CliOption> options;
  std::string_view description; // what `<command> --help` says after the usage line
  // Run the command; return the exit code. `stop` is requested on SIGINT/SIGTERM when the command
  // watches signals.
  int (*run)(const Invocation& invocation, std::stop_token stop);
  bool watches_signals = false; // SIGINT/SIGTERM stop it (a second one ends readygate at once)
  std::vector<std::string_view> (*required)() = nullptr; // options it cannot do without
  // With watches_signals: SIGHUP is handed to the command (hook/signals.hpp on_hangup) instead of
  // ending readygate.
  bool watches_hangup = false;
  // The config table the command reads ("[lifecycle]") and its keys, listed by --help.
  std::string_view config_table = {};
  config::KeyTable (*config_keys)() = nullptr;
};

struct Invocation
{
  enum class Builtin { none, help, version };

  const CliCommand* command = nullptr; // null for help and version
  Builtin builtin = Builtin::none;
  std::string help_topic; // "" for the overview; a command or a kind name
  std::map<std::string, std::vector<std::string>, std::less<>> values; // option -> its values

  bool has(std::string_view option) const;
  // The last value of `option`, or nullopt when it was not given.
  std::optional<std::string> value(std::string_view option) const;
  // Every value of a repeatable `option`, in order (empty when not given).
  std::vector<std::string> values_of(std::string_view option) const;
};

// Parse `args` (without the program name) against `commands`. A malformed command line is an
// Errc::usage error saying what was wrong.
util::Result<Invocation> parse_cli(std::span<const std::string_view> args,
                                   std::span<const CliCommand> commands);

// Return the help text for `topic`: "" for the overview, a command ("check", "config"), or a
// check kind ("http": its keys, one line each). An unknown topic is an Errc::usage error.
util::Result<std::string> help_text(std::string_view topic, std::span<const CliCommand> commands);

// Return the config path to use: --config, else $READYGATE_CONFIG, else the default.
std::filesystem::path config_path(const Invocation& invocation);

} // namespace hook
