// The command kind: parsing its keys, judging outcomes (pure), the probe through a fake runner,
// and one run of the real runner.
#include "testutil.hpp"

#include <checks/command.hpp>

#include <fmt/format.h>

#include <csignal>
#include <optional>

using namespace std::chrono_literals;
using hook::Status;

namespace {

const testutil::KindHarness<checks::CommandSpec> k_command{
  "command", "cmd", &checks::parse_command};

std::string
config_with(std::string_view keys)
{
  return k_command.config(keys);
}

util::Result<checks::CommandSpec>
parse(std::string_view keys)
{
  return k_command.parse(keys);
}

checks::CommandSpec
parsed(std::string_view keys)
{
  return k_command.parsed(keys);
}

// Require `keys` to be a config error whose message contains `detail` (and its position).
void
require_config_error(std::string_view keys, std::string_view detail)
{
  const auto spec = parse(keys);
  REQUIRE_FALSE(spec);
  CHECK(spec.error().code == util::Errc::config);
  CHECK_THAT(spec.error().message,
             Catch::StartsWith("test.toml:") && Catch::Contains(std::string(detail)));
}

util::ProcessOutcome
exited(int code, std::string out = "", std::string err = "")
{
  util::ProcessOutcome outcome;
  outcome.exit_code = code;
  outcome.stdout_text = std::move(out);
  outcome.stderr_text = std::move(err);
  return outcome;
}

class FakeRunner final : public util::ProcessRunner
{
public:
  explicit FakeRunner(util::Result<util::ProcessOutcome> answer)
      : m_answer(std::move(answer))
  {}

  util::Result<util::ProcessOutcome>
  run(const util::ProcessRequest& request) override
  {
    seen = request;
    return m_answer;
  }

  std::optional<util::ProcessRequest> seen;

private:
  util::Result<util::ProcessOutcome> m_answer;
};

hook::CheckContext
context_with(util::ProcessRunner* runner, std::chrono::milliseconds left = 10s)
{
  auto ctx = testutil::context(left);
  testutil::install_fake(ctx, runner);
  return ctx;
}

} // namespace

// --- parse_command ---

TEST_CASE("checks::parse_command: argv runs directly, with defaults", "[command]")
{
  const auto spec = parsed(R"(argv = ["/usr/bin/myapp", "migrate", "--status"])");
  CHECK(spec.argv == std::vector<std::string>{"/usr/bin/myapp", "migrate", "--status"});
  CHECK(spec.display == "/usr/bin/myapp migrate --status");
  CHECK(spec.exit_codes == std::vector<int>{0});
  CHECK(spec.stdout_expectations.empty());
  CHECK(spec.stderr_expectations.empty());
  CHECK(spec.output_limit == 65536);
  REQUIRE(spec.working_dir);
  CHECK(*spec.working_dir == "/etc/readygate"); // the config's directory
  CHECK(spec.env.empty());
}

TEST_CASE("checks::parse_command: shell = true runs command with /bin/sh -c", "[command]")
{
  const auto spec = parsed("shell = true\ncommand = \"redis-cli llen jobs | grep -qx 0\"");
  CHECK(spec.argv == std::vector<std::string>{"/bin/sh", "-c", "redis-cli llen jobs | grep -qx 0"});
  CHECK(spec.display == "redis-cli llen jobs | grep -qx 0");
}

TEST_CASE("checks::parse_command: exactly one of argv and command, command only with shell",
          "[command]")
{
  require_config_error("argv = [\"true\"]\ncommand = \"true\"\nshell = true",
                       R"(check "cmd" (command): set either "argv" or "command", not both)");
  require_config_error("command = \"true\"", "key \"command\": needs shell = true");
  require_config_error("command = \"true\"\nshell = false", "key \"command\": needs shell = true");
  require_config_error("shell = true\nargv = [\"true\"]", "key \"argv\": with shell = true");
  require_config_error("shell = true", "missing key \"command\"");
  require_config_error("exit_code = 0", "missing key \"argv\"");
  require_config_error("argv = []", "key \"argv\": expected at least the program");
  require_config_error(R"(argv = ["", "x"])",
                       "key \"argv\": the program (the first element) is an empty string");
  require_config_error("argv = \"true\"",
                       "key \"argv\": expected an array of strings, found a string");
  require_config_error("shell = true\ncommand = \"\"", "key \"command\": expected a command");
  require_config_error("shell = \"yes\"\ncommand = \"true\"",
                       "key \"shell\": expected true or false");
}

TEST_CASE("checks::parse_command: exit_code is an integer or an array of them", "[command]")
{
  CHECK(parsed("argv = [\"x\"]\nexit_code = 3").exit_codes == std::vector<int>{3});
  CHECK(parsed("argv = [\"x\"]\nexit_code = [0, 1, 255]").exit_codes
        == std::vector<int>{0, 1, 255});
  require_config_error("argv = [\"x\"]\nexit_code = 256",
                       "key \"exit_code\": expected an integer from 0 to 255");
  require_config_error("argv = [\"x\"]\nexit_code = \"0\"", "key \"exit_code\"");
  require_config_error("argv = [\"x\"]\nexit_code = []", "key \"exit_code\"");
}

TEST_CASE("checks::parse_command: output expectations take a string or an array", "[command]")
{
  const auto spec = parsed(R"(argv = ["x"]
stdout_contains = "ready"
stdout_matches = ['v[0-9]+\.[0-9]+', '^ok']
stderr_contains = ["a", "b"]
stderr_matches = '^$')");
  CHECK(testutil::described(spec.stdout_expectations)
        == std::vector<std::string>{
          "contains \"ready\"", "matches /v[0-9]+\\.[0-9]+/", "matches /^ok/"});
  CHECK(testutil::described(spec.stderr_expectations)
        == std::vector<std::string>{"contains \"a\"", "contains \"b\"", "matches /^$/"});
}

TEST_CASE("checks::parse_command: an invalid regular expression is a config error naming its key",
          "[command]")
{
  require_config_error(
    "argv = [\"x\"]\nstdout_matches = \"(unclosed\"",
    R"--(key "stdout_matches": invalid regular expression "(unclosed": unmatched parenthesis)--");
  require_config_error("argv = [\"x\"]\nstderr_matches = [\"ok\", \"[z-a]\"]",
                       R"(key "stderr_matches": invalid regular expression "[z-a]")");
  require_config_error("argv = [\"x\"]\nstdout_matches = \"*x\"",
                       "key \"stdout_matches\": invalid regular expression");
  // At create time too: the check is never built.
  const auto created = checks::create_command_check(
    testutil::spec_from(config_with("argv = [\"x\"]\nstdout_matches = \"(\"")));
  REQUIRE_FALSE(created);
  CHECK_THAT(created.error().message, Catch::Contains("stdout_matches"));
}

TEST_CASE("checks::parse_command: working_dir, env and output_limit", "[command]")
{
  const auto spec = parsed(R"(argv = ["x"]
working_dir = "app/current"
env = { RAILS_ENV = "production", EMPTY = "" }
output_limit = 1024)");
  REQUIRE(spec.working_dir);
  CHECK(*spec.working_dir == "/etc/readygate/app/current");
  CHECK(spec.env.size() == 2);
  CHECK(std::find(spec.env.begin(),
                  spec.env.end(),
                  std::pair<std::string, std::string>{"RAILS_ENV", "production"})
        != spec.env.end());
  CHECK(spec.output_limit == 1024);

  CHECK(*parsed("argv = [\"x\"]\nworking_dir = \"/srv/app\"").working_dir == "/srv/app");
  require_config_error("argv = [\"x\"]\nenv = { A = 1 }",
                       "key \"env\": expected a table of strings");
  require_config_error("argv = [\"x\"]\nenv = { \"A=B\" = \"1\" }",
                       R"(key "env": "A=B" is not a variable name)");
  // exec takes C strings: a NUL would cut the argument and run another command.
  require_config_error("argv = [\"/bin/echo\", \"ok\\u0000 not ok\"]",
                       "key \"argv\": element 2: has a NUL byte");
  require_config_error("shell = true\ncommand = \"true\\u0000; false\"",
                       "key \"command\": has a NUL byte");
  require_config_error("argv = [\"x\"]\nenv = { A = \"1\\u00002\" }",
                       "key \"env\": the value of \"A\": has a NUL byte");
  require_config_error("argv = [\"x\"]\noutput_limit = 0", "key \"output_limit\"");
  require_config_error("argv = [\"x\"]\nworking_dir = 3", "key \"working_dir\"");
}

TEST_CASE("checks::parse_command: an unknown key is rejected with its position", "[command]")
{
  const auto spec = parse("argv = [\"x\"]\nstdout_contain = \"ready\"");
  REQUIRE_FALSE(spec);
  CHECK(spec.error().code == util::Errc::config);
  // The key's own position when the config keeps it, else its [[check]] table's.
  CHECK_THAT(
    spec.error().message,
    Catch::Matches(
      "test\\.toml:[0-9]+:[0-9]+: check \"cmd\" \\(command\\): unknown key \"stdout_contain\".*"));
  CHECK_THAT(spec.error().message, Catch::Contains("stdout_contains"));
}

// --- evaluate_command ---

TEST_CASE("checks::evaluate_command: pass when the exit code and output are as expected",
          "[command]")
{
  const auto spec = parsed(R"(argv = ["x"]
exit_code = [0, 3]
stdout_contains = ["ready", "v1"]
stdout_matches = 'version: v1\.[0-9]+'
stderr_matches = '^$')");
  const auto result = checks::evaluate_command(spec, exited(3, "ready\nversion: v1.42\n"));
  CHECK(result.status == Status::pass);
  CHECK(result.findings.empty());
  CHECK(result.message == "exit code 3, output as expected");
}

TEST_CASE("checks::evaluate_command: another exit code fails with expected and found", "[command]")
{
  const auto one = checks::evaluate_command(parsed("argv = [\"x\"]"), exited(3));
  CHECK(one.status == Status::fail);
  CHECK(one.message == "exit code 3 (expected 0)");
  REQUIRE(one.findings.size() == 1);
  CHECK(one.findings[0].subject == "exit code");
  CHECK(one.findings[0].expected == "0");
  CHECK(one.findings[0].found == "3");

  const auto several =
    checks::evaluate_command(parsed("argv = [\"x\"]\nexit_code = [0, 2]"), exited(1));
  CHECK(several.status == Status::fail);
  REQUIRE(several.findings.size() == 1);
  CHECK(several.findings[0].expected == "0 or 2");

  // 0 is not special: a check that expects a non-zero code ("grep finds no error") fails on 0.
  const auto zero = checks::evaluate_command(parsed("argv = [\"x\"]\nexit_code = 1"), exited(0));
  CHECK(zero.status == Status::fail);
  CHECK(zero.message == "exit code 0 (expected 1)");
}

TEST_CASE("checks::evaluate_command: death by a signal fails, naming the signal", "[command]")
{
  util::ProcessOutcome outcome;
  outcome.term_signal = SIGSEGV;
  const auto result = checks::evaluate_command(parsed("argv = [\"x\"]"), outcome);
  CHECK(result.status == Status::fail);
  CHECK(result.message == "killed by SIGSEGV");
  REQUIRE(result.findings.size() == 1);
  CHECK(result.findings[0].subject == "exit code");
  CHECK(result.findings[0].expected == "0");
  CHECK(result.findings[0].found == "killed by SIGSEGV");
}

TEST_CASE("checks::evaluate_command: output without an expected string or pattern fails",
          "[command]")
{
  const auto spec = parsed(R"(argv = ["x"]
stdout_contains = ["ready", "v1"]
stdout_matches = '^status: (up|ok)$'
stderr_contains = "warming done")");
  const auto result = checks::evaluate_command(spec, exited(0, "v1\nstatus: down\n", "warming\n"));
  CHECK(result.status == Status::fail);
  CHECK(result.message == "stdout does not contain \"ready\" (and 2 more)");
  REQUIRE(result.findings.size() == 3);
  CHECK(result.findings[0].subject == "stdout");
  CHECK(result.findings[0].expected == "contains \"ready\"");
  CHECK(result.findings[0].found == "v1\\nstatus: down\\n");
  CHECK(result.findings[1].subject == "stdout");
  CHECK(result.findings[1].expected == "matches /^status: (up|ok)$/");
  CHECK(result.findings[2].subject == "stderr");
  CHECK(result.findings[2].expected == "contains \"warming done\"");
  CHECK(result.findings[2].found == "warming\\n");

  const auto empty =
    checks::evaluate_command(parsed("argv = [\"x\"]\nstdout_contains = \"ready\""), exited(0));
  CHECK(empty.status == Status::fail);
  REQUIRE(empty.findings.size() == 1);
  CHECK(empty.findings[0].found == "(empty)");

  // A command that printed nothing is judged too: a pattern it should have matched fails.
  const auto silent =
    checks::evaluate_command(parsed("argv = [\"x\"]\nstdout_matches = 'ready'"), exited(0));
  CHECK(silent.status == Status::fail);
  REQUIRE(silent.findings.size() == 1);
  CHECK(silent.findings[0].expected == "matches /ready/");
  CHECK(silent.findings[0].found == "(empty)");
}

TEST_CASE("checks::evaluate_command: '^' and '$' anchor the whole output, not each line",
          "[command]")
{
  // The documented "stderr must be empty": any text, even one line ending in a newline, fails.
  const auto empty = parsed("argv = [\"x\"]\nstderr_matches = '^$'");
  CHECK(checks::evaluate_command(empty, exited(0)).status == Status::pass);
  CHECK(checks::evaluate_command(empty, exited(0, "", "oops\n")).status == Status::fail);
  CHECK(checks::evaluate_command(empty, exited(0, "", "FATAL\n\nmore")).status == Status::fail);
  CHECK(checks::evaluate_command(empty, exited(0, "", "\n")).status == Status::fail);

  const auto exact = parsed("argv = [\"x\"]\nstdout_matches = '^ready\\n$'");
  CHECK(checks::evaluate_command(exact, exited(0, "ready\n")).status == Status::pass);
  CHECK(checks::evaluate_command(exact, exited(0, "ready\nbut broken\n")).status == Status::fail);
  CHECK(checks::evaluate_command(exact, exited(0, "starting\nready\n")).status == Status::fail);
}

TEST_CASE("checks::evaluate_command: exit code and output findings come together", "[command]")
{
  const auto spec = parsed("argv = [\"x\"]\nstdout_contains = \"ready\"");
  const auto result = checks::evaluate_command(spec, exited(1, "starting\n"));
  CHECK(result.status == Status::fail);
  CHECK(result.message == "exit code 1 (expected 0) (and 1 more)");
  REQUIRE(result.findings.size() == 2);
  CHECK(result.findings[0].subject == "exit code");
  CHECK(result.findings[1].subject == "stdout");
}

TEST_CASE("checks::evaluate_command: a truncated output is judged only where that is sound",
          "[command]")
{
  auto outcome = exited(0, "ready and then much more");
  outcome.stdout_truncated = true;

  // A string found in the kept part is in the whole output.
  CHECK(
    checks::evaluate_command(parsed("argv = [\"x\"]\nstdout_contains = \"ready\""), outcome).status
    == Status::pass);

  // One not found may be in the part that was dropped.
  const auto missing = checks::evaluate_command(
    parsed("argv = [\"x\"]\nstdout_contains = \"done\"\noutput_limit = 24"), outcome);
  CHECK(missing.status == Status::error);
  CHECK(missing.message
        == "stdout is longer than output_limit (24 bytes); raise it to judge contains \"done\"");
  REQUIRE(missing.findings.size() == 1);
  CHECK(missing.findings[0].found == "more than output_limit (24 bytes); not judged");

  // A pattern is never judged on part of an output ('$' would match at the cut).
  const auto pattern =
    checks::evaluate_command(parsed("argv = [\"x\"]\nstdout_matches = 'more$'"), outcome);
  CHECK(pattern.status == Status::error);

  // A definite mismatch elsewhere still makes it a fail, listing the undetermined one too.
  auto wrong = outcome;
  wrong.exit_code = 2;
  const auto both =
    checks::evaluate_command(parsed("argv = [\"x\"]\nstdout_contains = \"done\""), wrong);
  CHECK(both.status == Status::fail);
  REQUIRE(both.findings.size() == 2);
  CHECK(both.findings[0].subject == "exit code");
  CHECK(both.findings[1].subject == "stdout");
}

TEST_CASE("checks::evaluate_command: a pattern too costly for the output is an error, not a crash",
          "[command]")
{
  // libstdc++'s std::regex overflows the stack (SIGSEGV) on this; Boost.Regex gives up.
  const auto spec = parsed("argv = [\"x\"]\nstdout_matches = '(a|b)*c'");
  const auto result = checks::evaluate_command(spec, exited(0, std::string(65536, 'a')));
  CHECK(result.status == Status::error);
  CHECK(result.message == "stdout: the pattern /(a|b)*c/ is too costly to match against it");
  REQUIRE(result.findings.size() == 1);
  CHECK(result.findings[0].found == "too costly to match; not judged");
}

// --- run_command (the probe, through a fake runner) ---

TEST_CASE("checks::run_command: passes the spec, the time left and the stop token to the runner",
          "[command]")
{
  const auto spec = parsed(R"(argv = ["/usr/bin/myapp", "check"]
working_dir = "/srv/app"
env = { MODE = "verify" }
output_limit = 4096)");
  FakeRunner runner(exited(0));
  auto ctx = context_with(&runner, 7s);
  std::stop_source source;
  ctx.stop = source.get_token();

  const auto result = checks::run_command(spec, ctx);
  CHECK(result.status == Status::pass);
  REQUIRE(runner.seen);
  CHECK(runner.seen->argv == spec.argv);
  CHECK(runner.seen->timeout <= 7s);
  CHECK(runner.seen->timeout > 6s);
  CHECK(runner.seen->output_limit == 4096);
  REQUIRE(runner.seen->working_directory);
  CHECK(*runner.seen->working_directory == "/srv/app");
  CHECK(runner.seen->environment_overrides
        == std::vector<std::pair<std::string, std::string>>{{"MODE", "verify"}});
  source.request_stop();
  CHECK(runner.seen->stop.stop_requested());
}

TEST_CASE("checks::run_command: a command that could not run or finish is an error", "[command]")
{
  const auto spec = parsed("shell = true\ncommand = \"sleep 300\"");
  for (const auto code : {util::Errc::timeout, util::Errc::process, util::Errc::cancelled}) {
    FakeRunner runner(util::make_error(code, "/bin/sh did not exit within 1000 ms"));
    const auto result = checks::run_command(spec, context_with(&runner));
    CHECK(result.status == Status::error);
    CHECK(result.message == "/bin/sh did not exit within 1000 ms");
    REQUIRE(result.findings.size() == 1);
    CHECK(result.findings[0].subject == "command");
    CHECK(result.findings[0].found == "sleep 300");
  }

  const auto without_runner = checks::run_command(spec, context_with(nullptr));
  CHECK(without_runner.status == Status::error);
}

// --- the check, end to end with the real runner ---

TEST_CASE("checks::create_command_check: runs the command with the real runner", "[command]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "marker.txt", "present\n");
  util::SystemProcessRunner runner;

  const auto pass = checks::create_command_check(testutil::spec_from(
    config_with("shell = true\ncommand = 'cat marker.txt; echo \"$RG_MODE\" >&2'\n"
                "stdout_contains = \"present\"\nstderr_matches = '^verify\\n$'\nenv = { RG_MODE = "
                "\"verify\" }"),
    dir.path()));
  INFO(testutil::error_message(pass));
  REQUIRE(pass);
  const auto passed = (*pass)->run(context_with(&runner));
  INFO(passed.message);
  CHECK(passed.status == Status::pass);

  const auto fail = checks::create_command_check(testutil::spec_from(
    config_with(R"(argv = ["sh", "-c", "echo starting; exit 4"])"), dir.path()));
  REQUIRE(fail);
  const auto failed = (*fail)->run(context_with(&runner));
  CHECK(failed.status == Status::fail);
  CHECK(failed.message == "exit code 4 (expected 0)");

  const auto slow = checks::create_command_check(
    testutil::spec_from(config_with(R"(argv = ["sleep", "30"])"), dir.path()));
  REQUIRE(slow);
  const auto start = std::chrono::steady_clock::now();
  const auto timed_out = (*slow)->run(context_with(&runner, 300ms));
  CHECK(timed_out.status == Status::error);
  CHECK_THAT(timed_out.message, Catch::StartsWith("sleep did not exit within"));
  CHECK(std::chrono::steady_clock::now() - start < 3s);

  const auto missing = checks::create_command_check(
    testutil::spec_from(config_with("argv = [\"readygate-no-such-tool\"]"), dir.path()));
  REQUIRE(missing);
  const auto not_run = (*missing)->run(context_with(&runner));
  CHECK(not_run.status == Status::error);
  CHECK(not_run.message == "cannot run readygate-no-such-tool: No such file or directory");
}
