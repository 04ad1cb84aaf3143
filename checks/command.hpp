// The `command` kind, the escape hatch: run a command and compare its exit code and output with
// what the release expects.
//
// Fail or error:
//   pass   the command ran to its end, its exit code is one of `exit_code` and every stdout_* and
//          stderr_* expectation holds
//   fail   the command ran and is wrong: another exit code, an expected string missing from its
//          output, a pattern that does not match; also a command killed by a signal it did not
//          get from readygate (it ran, and crashed or was killed: the host is wrong), reported
//          as the exit code finding "killed by SIGSEGV"
//   error  the command could not be judged: it could not be started (missing program, not
//          executable, missing working_dir), it did not exit (and close its output) within the
//          check's timeout, the run was stopped (SIGINT/SIGTERM, the gate's deadline); also an
//          output longer than `output_limit` whose kept part lacks an expected string, or that
//          a pattern is to be matched against (a pattern is judged only on a whole output)
//   A definite mismatch (fail) is reported as fail even when another expectation could not be
//   judged; the undetermined one is listed among the findings.
//
// Example:
//   [[check]]
//   id = "migrations-applied"
//   kind = "command"
//   argv = ["/usr/bin/myapp", "migrate", "--status"]   # run directly, no shell
//   exit_code = 0                         # an integer or an array of them; default 0
//   stdout_contains = "up to date"        # a string or an array; all must hold
//   stdout_matches = ['schema version 4[0-9]\b']  # Perl syntax (Boost.Regex); ^ $: whole output
//   stderr_matches = '^$'                 # stderr must be empty
//   working_dir = "/srv/app"              # default: the config file's directory
//   env = { RAILS_ENV = "production" }    # added to readygate's environment
//   timeout = "30s"                       # the process is killed, with its process group
//
//   [[check]]
//   id = "queue-empty"
//   kind = "command"
//   shell = true
//   command = "redis-cli llen jobs | grep -qx 0"   # run as /bin/sh -c "..."
//
// Other keys: stderr_contains, output_limit (bytes kept of stdout and of stderr each, default
// 65536). Exactly one of `argv` and `command` (which needs shell = true).
#pragma once

#include <config/config.hpp>
#include <config/keys.hpp>
#include <hook/check.hpp>
#include <hook/expect.hpp>
#include <hook/util/pattern.hpp>
#include <hook/util/result.hpp>
#include <hook/util/secret.hpp>
#include <hook/util/subprocess.hpp>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace checks {

// --- Interface ---

struct CommandSpec
{
  std::vector<std::string> argv;  // with shell = true: {"/bin/sh", "-c", command}
  std::string display;            // the command as the config wrote it, for findings
  std::vector<int> exit_codes{0}; // any of them passes
  std::vector<hook::Expectation> stdout_expectations; // stdout_contains, then stdout_matches
  std::vector<hook::Expectation> stderr_expectations; // stderr_contains, then stderr_matches
  std::optional<std::filesystem::path> working_dir;   // unset: readygate's own
  std::vector<std::pair<std::string, std::string>> env;
  std::size_t output_limit = 64 * 1024;
};

// Validate the keys of `spec` and build a command check.
util::Result<std::unique_ptr<hook::Check>> create_command_check(const config::CheckSpec& spec);

// Return the keys of the command kind.
config::KeyTable command_keys();

// Read and validate the command keys of `spec`; every config error names its key.
util::Result<CommandSpec> parse_command(const config::CheckSpec& spec);

// Return the process request for `spec`, with `ctx`'s time left as the timeout and its stop token.
util::ProcessRequest command_request_for(const CommandSpec& spec, const hook::CheckContext& ctx);

// Run `spec` through the process probe of `ctx` and judge it.
hook::CheckResult run_command(const CommandSpec& spec, const hook::CheckContext& ctx);
// The same for a command that was handed secrets (a DSN in its environment): its output shows
// none of those of `redactor`, in any form it may echo them in.
hook::CheckResult
run_command(const CommandSpec& spec, const hook::CheckContext& ctx, const util::Redactor& redactor);

// Judge `outcome`, a command of `spec` that ran to its end, showing none of the secrets of
// `redactor` in its findings.
hook::CheckResult evaluate_command(const CommandSpec& spec,
                                   const util::ProcessOutcome& outcome,
                                   const util::Redactor& redactor = util::Redactor());

} // namespace checks
