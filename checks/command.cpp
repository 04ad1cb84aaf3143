#include "command.hpp"

#include <checks/common.hpp>
#include <config/fields.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring> // sigabbrev_np (glibc)
#include <exception>
#include <string_view>

namespace checks {

namespace {

using config::KeySpec;
using config::KeyType;

// clang-format off
constexpr std::array k_command_keys = {
  KeySpec{"argv",            KeyType::string_array, false, "",       false, "the program and its arguments, run without a shell"},
  KeySpec{"command",         KeyType::string,       false, "",       false, "a shell command line, with shell = true"},
  KeySpec{"shell",           KeyType::boolean,      false, "false",  false, "run `command` with /bin/sh -c"},
  KeySpec{"exit_code",       KeyType::integers,     false, "0",      false, "expected exit code, or a list of them"},
  KeySpec{"stdout_contains", KeyType::strings,      false, "",       false, "strings standard output must contain"},
  KeySpec{"stdout_matches",  KeyType::strings,      false, "",       false, "patterns the whole standard output must match"},
  KeySpec{"stderr_contains", KeyType::strings,      false, "",       false, "strings standard error must contain"},
  KeySpec{"stderr_matches",  KeyType::strings,      false, "",       false, "patterns the whole standard error must match"},
  KeySpec{"working_dir",     KeyType::path,         false, "the config's directory", false, "directory the command runs in"},
  KeySpec{"env",             KeyType::string_table, false, "",       false, "variables added to readygate's environment"},
  KeySpec{"output_limit",    KeyType::integer,      false, "65536",  false, "bytes kept of standard output and of standard error each"},
};
// clang-format on

constexpr std::int64_t k_max_output_limit = std::int64_t{64} * 1024 * 1024;
// An argument or variable is a C string for exec: a NUL would cut it and run another command.
constexpr std::string_view k_nul_byte = "has a NUL byte (a C string would end there)";

// Return `argv` as one would type it, quoting what needs it.
std::string
display_argv(const std::vector<std::string>& argv)
{
  std::string shown;
  for (const auto& arg : argv) {
    if (!shown.empty()) {
      shown += ' ';
    }
    const bool plain =
      !arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?[]{}()<>|&;#~") == std::string::npos;
    shown += plain ? arg : fmt::format("'{}'", arg);
  }
  return shown;
}

std::string
signal_text(int signal)
{
  const char* name = ::sigabbrev_np(signal);
  return name != nullptr ? fmt::format("killed by SIG{}", name)
                         : fmt::format("killed by signal {}", signal);
}

std::string
expected_exit_codes(const std::vector<int>& codes)
{
  return fmt::format("{}", fmt::join(codes, " or "));
}

} // namespace

config::KeyTable
command_keys()
{
  return k_command_keys;
}

util::Result<CommandSpec>
parse_command(const config::CheckSpec& spec)
{
  config::FieldReader fields(spec, k_command_keys);
  RG_TRY(fields.check_keys());
  CommandSpec command;

  const bool has_argv = fields.has("argv");
  const bool has_command = fields.has("command");
  RG_TRY_ASSIGN(const auto shell, fields.optional_bool("shell"));
  const bool use_shell = shell.value_or(false);
  if (has_argv && has_command) {
    return fields.error(R"(set either "argv" or "command", not both)");
  }
  if (use_shell) {
    if (has_argv) {
      return fields.error_at("argv", "with shell = true, give the command as command = \"...\"");
    }
    if (!has_command) {
      return fields.error("missing key \"command\" (shell = true runs it as /bin/sh -c)");
    }
    RG_TRY_ASSIGN(auto text, fields.required_string("command"));
    if (text.empty()) {
      return fields.error_at("command", "expected a command, found an empty string");
    }
    if (text.find('\0') != std::string::npos) {
      return fields.error_at("command", k_nul_byte);
    }
    command.display = text;
    command.argv = {"/bin/sh", "-c", std::move(text)};
  } else {
    if (has_command) {
      return fields.error_at("command",
                             "needs shell = true (or give argv = [...] to run without a shell)");
    }
    if (!has_argv) {
      return fields.error(
        R"(missing key "argv" (an array of strings), or "command" with shell = true)");
    }
    RG_TRY_ASSIGN(command.argv, fields.string_array("argv"));
    if (command.argv.empty()) {
      return fields.error_at("argv", "expected at least the program to run, found an empty array");
    }
    if (command.argv.front().empty()) {
      return fields.error_at("argv", "the program (the first element) is an empty string");
    }
    for (std::size_t i = 0; i < command.argv.size(); ++i) {
      if (command.argv[i].find('\0') != std::string::npos) {
        return fields.error_at("argv", fmt::format("element {}: {}", i + 1, k_nul_byte));
      }
    }
    command.display = display_argv(command.argv);
  }

  RG_TRY_ASSIGN(const auto exit_codes, fields.integer_or_array("exit_code", 0, 255));
  if (fields.has("exit_code") && exit_codes.empty()) {
    return fields.error_at(
      "exit_code", "expected an integer from 0 to 255 or an array of them, found an empty array");
  }
  if (!exit_codes.empty()) {
    command.exit_codes.clear();
    for (const auto code : exit_codes) {
      command.exit_codes.push_back(static_cast<int>(code));
    }
  }

  RG_TRY_ASSIGN(command.stdout_expectations,
                read_expectations(fields, "stdout_contains", "stdout_matches"));
  RG_TRY_ASSIGN(command.stderr_expectations,
                read_expectations(fields, "stderr_contains", "stderr_matches"));

  RG_TRY_ASSIGN(auto working_dir, fields.optional_path("working_dir"));
  if (working_dir) {
    command.working_dir = std::move(working_dir);
  } else if (!spec.base_directory.empty()) {
    command.working_dir = spec.base_directory;
  }

  RG_TRY_ASSIGN(command.env, fields.string_table("env"));
  for (const auto& [name, value] : command.env) {
    if (name.empty() || name.find('=') != std::string::npos
        || name.find('\0') != std::string::npos) {
      return fields.error_at("env", fmt::format("\"{}\" is not a variable name", name));
    }
    if (value.find('\0') != std::string::npos) {
      return fields.error_at("env", fmt::format("the value of \"{}\": {}", name, k_nul_byte));
    }
  }

  RG_TRY_ASSIGN(const auto output_limit,
                fields.optional_integer("output_limit", 1, k_max_output_limit));
  if (output_limit) {
    command.output_limit = static_cast<std::size_t>(*output_limit);
  }

  return command;
}

util::Result<std::unique_ptr<hook::Check>>
create_command_check(const config::CheckSpec& spec)
{
  return create_check<CommandSpec, parse_command, run_command>(spec);
}

util::ProcessRequest
command_request_for(const CommandSpec& spec, const hook::CheckContext& ctx)
{
  util::ProcessRequest request;
  request.argv = spec.argv;
  request.timeout = ctx.time_left();
  request.output_limit = spec.output_limit;
  request.working_directory = spec.working_dir;
  request.environment_overrides = spec.env;
  request.stop = ctx.stop;
  return request;
}

hook::CheckResult
run_command(const CommandSpec& spec, const hook::CheckContext& ctx)
{
  return run_command(spec, ctx, util::Redactor());
}

hook::CheckResult
run_command(const CommandSpec& spec, const hook::CheckContext& ctx, const util::Redactor& redactor)
{
  auto outcome = ctx.probes.get<util::ProcessRunner>()->run(command_request_for(spec, ctx));
  if (!outcome) {
    return hook::CheckResult::error(outcome.error().message,
                                    {hook::Finding{"command", "", spec.display}});
  }
  return evaluate_command(spec, *outcome, redactor);
}

hook::CheckResult
evaluate_command(const CommandSpec& spec,
                 const util::ProcessOutcome& outcome,
                 const util::Redactor& redactor)
{
  hook::Judgement judgement;
  const auto expected = expected_exit_codes(spec.exit_codes);
  if (outcome.term_signal != 0) {
    judgement.add_unmet({"exit code", expected, signal_text(outcome.term_signal)},
                        signal_text(outcome.term_signal));
  } else if (std::find(spec.exit_codes.begin(), spec.exit_codes.end(), outcome.exit_code)
             == spec.exit_codes.end()) {
    judgement.add_unmet({"exit code", expected, std::to_string(outcome.exit_code)},
                        fmt::format("exit code {} (expected {})", outcome.exit_code, expected));
  }
  hook::judge(spec.stdout_expectations,
              {"stdout",
               outcome.stdout_text,
               outcome.stdout_truncated,
               "output_limit",
               spec.output_limit,
               &redactor},
              judgement);
  hook::judge(spec.stderr_expectations,
              {"stderr",
               outcome.stderr_text,
               outcome.stderr_truncated,
               "output_limit",
               spec.output_limit,
               &redactor},
              judgement);
  return hook::result_of(
    "", std::move(judgement), fmt::format("exit code {}, output as expected", outcome.exit_code));
}

} // namespace checks
