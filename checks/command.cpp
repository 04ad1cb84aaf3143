#include "command.hpp"

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

class CommandCheck final : public hook::Check
{
public:
  explicit CommandCheck(CommandSpec spec)
      : m_spec(std::move(spec))
  {}

  [[nodiscard]] hook::CheckResult
  run(const hook::CheckContext& ctx) const override
  {
    return run_command(m_spec, ctx);
  }

private:
  CommandSpec m_spec;
};

util::Result<std::vector<util::Pattern>>
read_patterns(config::FieldReader& fields, std::string_view key)
{
  RG_TRY_ASSIGN(auto texts, fields.string_or_array(key));
  std::vector<util::Pattern> patterns;
  for (auto& text : texts) {
    auto pattern = util::compile_pattern(std::move(text));
    if (!pattern) {
      return fields.error_at(key, pattern.error().message);
    }
    patterns.push_back(std::move(*pattern));
  }
  return patterns;
}

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

// One stream's expectations checked against its output.
struct StreamJudgement
{
  std::vector<hook::Finding> mismatches;   // definitely wrong
  std::vector<hook::Finding> undetermined; // could not be judged on a truncated output
};

void
judge_stream(std::string_view name,
             const std::string& text,
             bool truncated,
             std::size_t output_limit,
             const std::vector<std::string>& contains,
             const std::vector<util::Pattern>& matches,
             StreamJudgement& judgement)
{
  const auto found = [&] { return util::printable_excerpt(text, truncated); };
  const auto cut = [&](std::string expected) {
    return hook::Finding{
      std::string(name),
      std::move(expected),
      fmt::format("more than output_limit ({} bytes) of output; not judged", output_limit)};
  };
  for (const auto& needle : contains) {
    const auto expected = fmt::format("contains \"{}\"", needle);
    if (text.find(needle) != std::string::npos) {
      continue;
    }
    if (truncated) {
      judgement.undetermined.push_back(cut(expected));
    } else {
      judgement.mismatches.push_back(hook::Finding{std::string(name), expected, found()});
    }
  }
  for (const auto& pattern : matches) {
    const auto expected = fmt::format("matches \"{}\"", pattern.text);
    if (truncated) {
      // `$`, lookaheads and \b would be judged at the cut, not at the real end.
      judgement.undetermined.push_back(cut(expected));
      continue;
    }
    const auto matched = util::search_pattern(pattern, text);
    if (!matched) {
      judgement.undetermined.push_back(hook::Finding{
        std::string(name), expected, "too costly to match against this output; not judged"});
      continue;
    }
    if (!*matched) {
      judgement.mismatches.push_back(hook::Finding{std::string(name), expected, found()});
    }
  }
}

// Return the one-line summary of `finding`.
std::string
summarise(const hook::Finding& finding)
{
  if (finding.subject == "exit code") {
    return finding.found.starts_with("killed")
             ? finding.found
             : fmt::format("exit code {} (expected {})", finding.found, finding.expected);
  }
  if (finding.expected.starts_with("contains")) {
    return fmt::format("{} does not contain {}", finding.subject, finding.expected.substr(9));
  }
  return fmt::format("{} does not match {}", finding.subject, finding.expected.substr(8));
}

std::string
summarise_all(const std::vector<hook::Finding>& findings)
{
  auto message = summarise(findings.front());
  if (findings.size() > 1) {
    message += fmt::format(" (and {} more)", findings.size() - 1);
  }
  return message;
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

  RG_TRY_ASSIGN(command.stdout_contains, fields.string_or_array("stdout_contains"));
  RG_TRY_ASSIGN(command.stdout_matches, read_patterns(fields, "stdout_matches"));
  RG_TRY_ASSIGN(command.stderr_contains, fields.string_or_array("stderr_contains"));
  RG_TRY_ASSIGN(command.stderr_matches, read_patterns(fields, "stderr_matches"));

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
  RG_TRY_ASSIGN(auto command, parse_command(spec));
  return std::unique_ptr<hook::Check>(std::make_unique<CommandCheck>(std::move(command)));
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
  auto outcome = ctx.probes.get<util::ProcessRunner>()->run(command_request_for(spec, ctx));
  if (!outcome) {
    return hook::CheckResult::error(outcome.error().message,
                                    {hook::Finding{"command", "", spec.display}});
  }
  return evaluate_command(spec, *outcome);
}

hook::CheckResult
evaluate_command(const CommandSpec& spec, const util::ProcessOutcome& outcome)
{
  std::vector<hook::Finding> mismatches;
  if (outcome.term_signal != 0) {
    mismatches.push_back(hook::Finding{
      "exit code", expected_exit_codes(spec.exit_codes), signal_text(outcome.term_signal)});
  } else if (std::find(spec.exit_codes.begin(), spec.exit_codes.end(), outcome.exit_code)
             == spec.exit_codes.end()) {
    mismatches.push_back(hook::Finding{
      "exit code", expected_exit_codes(spec.exit_codes), std::to_string(outcome.exit_code)});
  }

  StreamJudgement judgement;
  judge_stream("stdout",
               outcome.stdout_text,
               outcome.stdout_truncated,
               spec.output_limit,
               spec.stdout_contains,
               spec.stdout_matches,
               judgement);
  judge_stream("stderr",
               outcome.stderr_text,
               outcome.stderr_truncated,
               spec.output_limit,
               spec.stderr_contains,
               spec.stderr_matches,
               judgement);
  mismatches.insert(mismatches.end(), judgement.mismatches.begin(), judgement.mismatches.end());

  if (!mismatches.empty()) {
    auto message = summarise_all(mismatches);
    mismatches.insert(
      mismatches.end(), judgement.undetermined.begin(), judgement.undetermined.end());
    return hook::CheckResult::fail(std::move(message), std::move(mismatches));
  }
  if (!judgement.undetermined.empty()) {
    const auto& first = judgement.undetermined.front();
    auto message =
      first.found.starts_with("more than output_limit")
        ? fmt::format("{} is longer than output_limit ({} bytes); raise it to judge \"{}\"",
                      first.subject,
                      spec.output_limit,
                      first.expected)
        : fmt::format("{}: pattern {} is too costly to match against it",
                      first.subject,
                      first.expected.substr(8));
    return hook::CheckResult::error(std::move(message), judgement.undetermined);
  }
  return hook::CheckResult::pass(
    fmt::format("exit code {}, output as expected", outcome.exit_code));
}

} // namespace checks
