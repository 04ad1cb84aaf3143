#include "cli.hpp"

#include <checks/check_kind.hpp>
#include <config/config.hpp>
#include <config/keys.hpp>
#include <hook/outcome.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

namespace hook {

namespace {

using util::Errc;

util::Error
usage(std::string message)
{
  return util::make_error(Errc::usage, std::move(message));
}

std::string_view
first_word(std::string_view name)
{
  return name.substr(0, name.find(' '));
}

// Return the commands whose name starts with the word `word`.
std::vector<const CliCommand*>
commands_named(std::string_view word, std::span<const CliCommand> commands)
{
  std::vector<const CliCommand*> found;
  for (const auto& command : commands) {
    if (first_word(command.name) == word) {
      found.push_back(&command);
    }
  }
  return found;
}

std::vector<std::string_view>
required_options(const CliCommand& command)
{
  return command.required != nullptr ? command.required() : std::vector<std::string_view>{};
}

// Return the usage line of `command`: "readygate check [--config FILE] [--only ID,...]".
std::string
synopsis(const CliCommand& command)
{
  std::string line = fmt::format("readygate {}", command.name);
  const auto required = required_options(command);
  for (const auto& option : command.options) {
    const bool needed = std::find(required.begin(), required.end(), option.name) != required.end();
    auto text = option.value.empty() ? std::string(option.name)
                                     : fmt::format("{} {}", option.name, option.value);
    if (!needed) {
      text = fmt::format("[{}]", text);
    }
    if (option.repeatable) {
      text += "...";
    }
    line += " " + text;
  }
  return line;
}

std::string
command_help(const CliCommand& command)
{
  std::string text = fmt::format("usage: {}\n\n{}", synopsis(command), command.description);
  if (!command.options.empty()) {
    std::size_t width = 0;
    for (const auto& option : command.options) {
      width = std::max(width, option.name.size() + 1 + option.value.size());
    }
    text += "\noptions:\n";
    for (const auto& option : command.options) {
      const auto name = option.value.empty() ? std::string(option.name)
                                             : fmt::format("{} {}", option.name, option.value);
      text += fmt::format(
        "  {:<{}}  {}{}\n", name, width, option.doc, option.repeatable ? " (may be repeated)" : "");
    }
  }
  if (command.config_keys != nullptr) {
    text += fmt::format(
      "\n{} keys:\n{}", command.config_table, config::describe_keys(command.config_keys()));
  }
  return text;
}

std::string
kinds_list()
{
  std::string text;
  for (const auto& kind : checks::builtin_check_kinds()) {
    text += fmt::format("  {:<10} {}\n", kind.name, kind.summary);
  }
  return text;
}

std::string
overview(std::span<const CliCommand> commands)
{
  std::string text =
    "readygate: keep a server out of traffic until it proves it is the release\n\nusage:\n";
  for (const auto& command : commands) {
    text += fmt::format("  {}\n", synopsis(command));
  }
  text += "  readygate help [COMMAND | KIND]\n";
  text += "  readygate --version | --help | <command> --help\n\ncommands:\n";
  for (const auto& command : commands) {
    text += fmt::format("  {:<16} {}\n", command.name, command.summary);
  }
  text += "\ncheck kinds (readygate help KIND lists its keys):\n" + kinds_list();
  text +=
    fmt::format("\nThe config is --config, else $READYGATE_CONFIG, else {}.\n\n"
                "exit codes:\n"
                "  {:<3} every check passed: admit the host\n"
                "  {:<3} a check failed: the host is not the release\n"
                "  {:<3} a check could not be verified (timeout, unreachable, permission denied)\n"
                "  {:<3} bad usage\n"
                "  {:<3} bad configuration\n",
                config::k_default_config_path,
                k_exit_pass,
                k_exit_fail,
                k_exit_error,
                k_exit_usage,
                k_exit_config);
  return text;
}

std::string
kind_help(const checks::CheckKind& kind)
{
  return fmt::format("kind = \"{}\": {}\n\nkeys:\n{}\nkeys of every check:\n{}",
                     kind.name,
                     kind.summary,
                     config::describe_keys(kind.keys()),
                     config::describe_keys(config::common_check_keys()));
}

// Parse the options after the command's name into `invocation`.
util::Result<void>
parse_options(std::span<const std::string_view> args, std::size_t next, Invocation& invocation)
{
  const auto& command = *invocation.command;
  const auto word = first_word(command.name);
  while (next < args.size()) {
    const auto arg = args[next++];
    if (arg == "--help" || arg == "-h") {
      invocation.builtin = Invocation::Builtin::help;
      invocation.help_topic = std::string(word);
      return {};
    }
    const auto equals = arg.find('=');
    const auto name = arg.substr(0, equals);
    const auto option = std::find_if(command.options.begin(),
                                     command.options.end(),
                                     [&](const CliOption& known) { return known.name == name; });
    if (option == command.options.end()) {
      return usage(
        arg.starts_with("-")
          ? fmt::format("{}: unknown option {} (see readygate {} --help)", word, name, word)
          : fmt::format(
            "{}: unexpected argument \"{}\" (see readygate {} --help)", word, arg, word));
    }
    std::string value;
    if (option->value.empty()) {
      if (equals != std::string_view::npos) {
        return usage(fmt::format("option {} takes no value", name));
      }
    } else if (equals != std::string_view::npos) {
      value = std::string(arg.substr(equals + 1));
    } else if (next < args.size()) {
      value = std::string(args[next++]);
    } else {
      return usage(fmt::format("option {} needs a value", name));
    }
    if (option->validate != nullptr) {
      auto valid = option->validate(value);
      if (!valid) {
        return usage(std::move(valid.error().message));
      }
    }
    auto& values = invocation.values[std::string(name)];
    if (!option->repeatable) {
      values.clear();
    }
    values.push_back(std::move(value));
  }
  for (const auto required : required_options(command)) {
    if (!invocation.has(required)) {
      const auto option =
        std::find_if(command.options.begin(), command.options.end(), [&](const CliOption& known) {
          return known.name == required;
        });
      return usage(fmt::format("{}: missing {} {}", command.name, required, option->value));
    }
  }
  return {};
}

} // namespace

bool
Invocation::has(std::string_view option) const
{
  return values.find(option) != values.end();
}

std::optional<std::string>
Invocation::value(std::string_view option) const
{
  const auto found = values.find(option);
  if (found == values.end() || found->second.empty()) {
    return std::nullopt;
  }
  return found->second.back();
}

std::vector<std::string>
Invocation::values_of(std::string_view option) const
{
  const auto found = values.find(option);
  return found == values.end() ? std::vector<std::string>{} : found->second;
}

util::Result<Invocation>
parse_cli(std::span<const std::string_view> args, std::span<const CliCommand> commands)
{
  Invocation invocation;
  if (args.empty()) {
    return usage("no command given (see readygate --help)");
  }
  const auto first = args[0];
  if (first == "--help" || first == "-h" || first == "help") {
    invocation.builtin = Invocation::Builtin::help;
    if (first == "help" && args.size() > 1) {
      invocation.help_topic = std::string(args[1]);
      if (args.size() > 2) {
        return usage(fmt::format("help: unexpected argument \"{}\"", args[2]));
      }
    }
    return invocation;
  }
  if (first == "--version" || first == "-V") {
    invocation.builtin = Invocation::Builtin::version;
    return invocation;
  }
  const auto named = commands_named(first, commands);
  if (named.empty()) {
    std::vector<std::string_view> words;
    for (const auto& command : commands) {
      if (std::find(words.begin(), words.end(), first_word(command.name)) == words.end()) {
        words.push_back(first_word(command.name));
      }
    }
    return usage(
      fmt::format("unknown command \"{}\" (expected {} or --help)", first, fmt::join(words, ", ")));
  }
  std::size_t next = 1;
  if (named.front()->name.find(' ') == std::string_view::npos) {
    invocation.command = named.front();
  } else {
    // A command with subcommands: "config validate", "manifest create".
    std::vector<std::string_view> subs;
    for (const auto* command : named) {
      subs.push_back(command->name.substr(command->name.find(' ') + 1));
    }
    if (args.size() < 2) {
      return usage(
        fmt::format("{}: missing subcommand (expected \"{}\")", first, fmt::join(subs, "\", \"")));
    }
    const auto given = args[1];
    if (given == "--help" || given == "-h") {
      invocation.builtin = Invocation::Builtin::help;
      invocation.help_topic = std::string(first);
      return invocation;
    }
    for (std::size_t i = 0; i < named.size(); ++i) {
      if (subs[i] == given) {
        invocation.command = named[i];
      }
    }
    if (invocation.command == nullptr) {
      return usage(fmt::format("{}: unknown subcommand \"{}\" (expected \"{}\")",
                               first,
                               given,
                               fmt::join(subs, "\", \"")));
    }
    next = 2;
  }
  RG_TRY(parse_options(args, next, invocation));
  return invocation;
}

util::Result<std::string>
help_text(std::string_view topic, std::span<const CliCommand> commands)
{
  if (topic.empty()) {
    return overview(commands);
  }
  const auto named = commands_named(topic, commands);
  if (!named.empty()) {
    std::string text;
    for (const auto* command : named) {
      text += (text.empty() ? "" : "\n") + command_help(*command);
    }
    if (topic == "check") {
      text += "\ncheck kinds (readygate help KIND lists its keys):\n" + kinds_list();
    }
    return text;
  }
  if (const auto* kind = checks::find_check_kind(topic)) {
    return kind_help(*kind);
  }
  return usage(fmt::format("help: no command or check kind called \"{}\"", topic));
}

std::filesystem::path
config_path(const Invocation& invocation)
{
  if (auto given = invocation.value("--config")) {
    return *given;
  }
  if (const char* from_env = std::getenv("READYGATE_CONFIG");
      from_env != nullptr && *from_env != '\0') {
    return from_env;
  }
  return std::filesystem::path(config::k_default_config_path);
}

} // namespace hook
