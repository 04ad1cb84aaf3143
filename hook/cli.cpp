#include "cli.hpp"

#include <checks/check_kind.hpp>
#include <config/config.hpp>
#include <hook/report/reporter.hpp>
#include <hook/util/duration.hpp>

#include <fmt/format.h>

#include <cstdlib>

namespace hook {

namespace {

using util::Errc;

util::Error
usage(std::string message)
{
  return util::make_error(Errc::usage, std::move(message));
}

// Reads "--name value" and "--name=value" from a list of arguments.
class ArgumentCursor
{
public:
  explicit ArgumentCursor(std::span<const std::string_view> args)
      : m_args(args)
  {}

  bool
  done() const
  {
    return m_next >= m_args.size();
  }
  std::string_view
  peek() const
  {
    return m_args[m_next];
  }
  std::string_view
  take()
  {
    return m_args[m_next++];
  }

  // If the next argument is option `name`, consume it and its value into `value`.
  util::Result<bool>
  take_option(std::string_view name, std::string& value)
  {
    const auto arg = peek();
    if (arg == name) {
      ++m_next;
      if (done()) {
        return usage(fmt::format("option {} needs a value", name));
      }
      value = std::string(take());
      return true;
    }
    if (arg.size() > name.size() && arg.substr(0, name.size()) == name && arg[name.size()] == '=') {
      ++m_next;
      value = std::string(arg.substr(name.size() + 1));
      return true;
    }
    return false;
  }

private:
  std::span<const std::string_view> m_args;
  std::size_t m_next = 0;
};

std::vector<std::string>
split_list(std::string_view text)
{
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto item =
      text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (!item.empty()) {
      items.emplace_back(item);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  return items;
}

// Parse the options after `command`; `allowed` lists the options it takes.
util::Result<void>
parse_options(ArgumentCursor& cursor,
              CliOptions& options,
              std::string_view command,
              std::vector<std::string_view> allowed)
{
  const auto takes = [&](std::string_view name) {
    return std::find(allowed.begin(), allowed.end(), name) != allowed.end();
  };
  while (!cursor.done()) {
    const auto arg = cursor.peek();
    if (arg == "--help" || arg == "-h") {
      options.command = Command::help;
      options.help_topic = std::string(command);
      return {};
    }
    std::string value;
    bool matched = false;
    for (const auto name : allowed) {
      RG_TRY_ASSIGN(const bool found, cursor.take_option(name, value));
      if (!found) {
        continue;
      }
      matched = true;
      if (name == "--config") {
        options.config = value;
      } else if (name == "--format") {
        if (report::find_report_format(value) == nullptr) {
          std::vector<std::string_view> names;
          for (const auto& format : report::report_formats()) {
            names.push_back(format.name);
          }
          return usage(fmt::format(
            "unknown report format \"{}\" (expected one of: {})", value, fmt::join(names, ", ")));
        }
        options.format = value;
      } else if (name == "--only") {
        // Repeated --only options add up: a later one must not silently unselect (and so skip)
        // the checks an earlier one named.
        const auto ids = split_list(value);
        if (ids.empty()) {
          return usage("--only needs at least one check id");
        }
        options.only.insert(options.only.end(), ids.begin(), ids.end());
      } else if (name == "--deadline") {
        auto deadline = util::parse_duration(value);
        if (!deadline || deadline->count() == 0) {
          return usage(fmt::format("--deadline: {}",
                                   deadline ? "must be longer than 0s" : deadline.error().message));
        }
        options.deadline = *deadline;
      } else if (name == "--root") {
        options.root = value;
      } else if (name == "--exclude") {
        if (value.empty()) {
          return usage("--exclude needs a glob");
        }
        options.excludes.push_back(value);
      }
      break;
    }
    if (!matched) {
      return usage(
        arg.starts_with("-") && !takes(arg)
          ? fmt::format("{}: unknown option {} (see readygate {} --help)", command, arg, command)
          : fmt::format(
            "{}: unexpected argument \"{}\" (see readygate {} --help)", command, arg, command));
    }
  }
  return {};
}

constexpr std::string_view k_overview =
  R"(readygate: keep a server out of traffic until it proves it is the release

usage:
  readygate check    [--config FILE] [--format FORMAT] [--only ID,...] [--deadline DURATION]
  readygate config   validate [--config FILE]
  readygate manifest create --root DIR [--exclude GLOB]... > FILE
  readygate --version | --help | <command> --help

The config is --config, else $READYGATE_CONFIG, else /etc/readygate/readygate.toml.

exit codes:
  0   every check passed: admit the host
  1   a check failed: the host is not the release
  2   a check could not be verified (timeout, unreachable, permission denied)
  64  bad usage
  78  bad configuration
)";

constexpr std::string_view k_check_help =
  R"(usage: readygate check [--config FILE] [--format FORMAT] [--only ID,...] [--deadline DURATION]

Run every check once (retrying those with retry = true until the deadline), print a report on
standard output and exit with the verdict: 0 pass, 1 fail, 2 error (could not verify).

options:
  --config FILE        the configuration (default: $READYGATE_CONFIG, else /etc/readygate/readygate.toml)
  --format FORMAT      report format: {}
  --only ID,...        run only these checks; the others are reported as skipped
  --deadline DURATION  the whole run's deadline, overriding [gate] deadline (e.g. "90s", "5m")

check kinds:
{})";

constexpr std::string_view k_config_help = R"(usage: readygate config validate [--config FILE]

Read the configuration and build every check without touching the host. Exit 0 when it is valid,
78 with file:line:col and what was expected when it is not.
)";

constexpr std::string_view k_manifest_help =
  R"(usage: readygate manifest create --root DIR [--exclude GLOB]... > FILE

Write the manifest of the tree at DIR to standard output: one line per path with its type, mode,
owner, size, SHA-256 and symlink target, sorted, under a header carrying the digest of the whole
manifest. Run it at release time over the built application tree; the files check compares a
host's tree with it.

options:
  --root DIR       the tree to record (a symlink to it is followed; symlinks inside it are not)
  --exclude GLOB   leave out paths matching GLOB (runtime paths such as "var/log/**", "*.pid");
                   the check ignores them too. May be repeated.
)";

} // namespace

util::Result<CliOptions>
parse_cli(std::span<const std::string_view> args)
{
  CliOptions options;
  if (args.empty()) {
    return usage("no command given (see readygate --help)");
  }
  ArgumentCursor cursor(args);
  const auto command = cursor.take();
  if (command == "--help" || command == "-h" || command == "help") {
    options.command = Command::help;
    if (command == "help" && !cursor.done()) {
      options.help_topic = std::string(cursor.take());
    }
    return options;
  }
  if (command == "--version" || command == "-V") {
    options.command = Command::version;
    return options;
  }
  if (command == "check") {
    options.command = Command::check;
    RG_TRY(
      parse_options(cursor, options, "check", {"--config", "--format", "--only", "--deadline"}));
    return options;
  }
  if (command == "config" || command == "manifest") {
    const std::string_view sub = command == "config" ? "validate" : "create";
    if (cursor.done()) {
      return usage(fmt::format("{}: missing subcommand (expected \"{}\")", command, sub));
    }
    const auto given = cursor.take();
    if (given == "--help" || given == "-h") {
      options.command = Command::help;
      options.help_topic = std::string(command);
      return options;
    }
    if (given != sub) {
      return usage(
        fmt::format("{}: unknown subcommand \"{}\" (expected \"{}\")", command, given, sub));
    }
    if (command == "config") {
      options.command = Command::config_validate;
      RG_TRY(parse_options(cursor, options, "config", {"--config"}));
      return options;
    }
    options.command = Command::manifest_create;
    RG_TRY(parse_options(cursor, options, "manifest", {"--root", "--exclude"}));
    if (options.command == Command::manifest_create && !options.root) {
      return usage("manifest create: missing --root DIR");
    }
    return options;
  }
  return usage(
    fmt::format("unknown command \"{}\" (expected check, config, manifest or --help)", command));
}

std::string
help_text(std::string_view topic)
{
  if (topic == "check") {
    std::vector<std::string_view> formats;
    for (const auto& format : report::report_formats()) {
      formats.push_back(format.name);
    }
    std::string kinds;
    for (const auto& kind : checks::builtin_check_kinds()) {
      kinds += fmt::format("  {:<10} {}\n", kind.name, kind.summary);
    }
    return fmt::format(k_check_help, fmt::join(formats, ", "), kinds);
  }
  if (topic == "config") {
    return std::string(k_config_help);
  }
  if (topic == "manifest") {
    return std::string(k_manifest_help);
  }
  return std::string(k_overview);
}

std::filesystem::path
config_path(const CliOptions& options)
{
  if (options.config) {
    return *options.config;
  }
  if (const char* from_env = std::getenv("READYGATE_CONFIG");
      from_env != nullptr && *from_env != '\0') {
    return from_env;
  }
  return std::filesystem::path(config::k_default_config_path);
}

} // namespace hook
