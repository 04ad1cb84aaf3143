#include "testutil.hpp"

#include <hook/util/subprocess.hpp>

#include <fmt/format.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

// Time bounds assert that a hung command is cut off: they sit far below the sleeps they guard
// against, with room for a loaded 2-core CI machine running two test processes at once.
namespace {

util::ProcessRequest
shell(std::string script, std::chrono::milliseconds timeout = 10s)
{
  util::ProcessRequest request;
  request.argv = {"sh", "-c", std::move(script)};
  request.timeout = timeout;
  return request;
}

std::chrono::milliseconds
elapsed_since(std::chrono::steady_clock::time_point start)
{
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now()
                                                               - start);
}

// True when `pid` no longer runs (gone, or a zombie waiting for init to reap it).
bool
process_gone(pid_t pid)
{
  if (::kill(pid, 0) != 0 && errno == ESRCH) {
    return true;
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close_paren = line.rfind(')');
  return close_paren == std::string::npos || line.substr(close_paren + 2, 1) == "Z";
}

// Wait up to a second for `pid` to go (the kernel delivers SIGKILL asynchronously).
bool
process_goes(pid_t pid)
{
  for (int i = 0; i < 100; ++i) {
    if (process_gone(pid)) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

pid_t
read_pid(const std::filesystem::path& file)
{
  // The shell writes it right after starting the background job; allow it a moment.
  for (int i = 0; i < 100; ++i) {
    std::ifstream in(file);
    long pid = 0;
    if (in >> pid && pid > 0) {
      return static_cast<pid_t>(pid);
    }
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

} // namespace

TEST_CASE("util::SystemProcessRunner::run: reports the exit code", "[subprocess]")
{
  util::SystemProcessRunner runner;
  auto ok = runner.run(shell("exit 0"));
  REQUIRE(ok);
  CHECK(ok->exit_code == 0);
  CHECK(ok->term_signal == 0);

  auto three = runner.run(shell("exit 3"));
  REQUIRE(three);
  CHECK(three->exit_code == 3);
  CHECK(three->term_signal == 0);
}

TEST_CASE("util::SystemProcessRunner::run: captures stdout and stderr apart", "[subprocess]")
{
  util::SystemProcessRunner runner;
  auto outcome = runner.run(shell("echo out; echo err >&2; printf 'more'"));
  REQUIRE(outcome);
  CHECK(outcome->stdout_text == "out\nmore");
  CHECK(outcome->stderr_text == "err\n");
  CHECK_FALSE(outcome->stdout_truncated);
  CHECK_FALSE(outcome->stderr_truncated);
  CHECK(outcome->duration < 5s);
}

TEST_CASE("util::SystemProcessRunner::run: reports the signal that ended the process",
          "[subprocess]")
{
  util::SystemProcessRunner runner;
  auto outcome = runner.run(shell("kill -TERM $$; sleep 5"));
  REQUIRE(outcome);
  CHECK(outcome->term_signal == SIGTERM);
}

TEST_CASE("util::SystemProcessRunner::run: gives the command /dev/null as stdin", "[subprocess]")
{
  util::SystemProcessRunner runner;
  util::ProcessRequest request;
  request.argv = {"cat"};
  request.timeout = 5s;
  const auto start = std::chrono::steady_clock::now();
  auto outcome = runner.run(request);
  REQUIRE(outcome);
  CHECK(outcome->exit_code == 0);
  CHECK(outcome->stdout_text.empty());
  CHECK(elapsed_since(start) < 2s);
}

TEST_CASE("util::SystemProcessRunner::run: keeps output_limit bytes and drains the rest",
          "[subprocess]")
{
  util::SystemProcessRunner runner;
  // 1 MB on each stream: far more than a pipe holds, so a reader that stopped at the cap would
  // leave the command blocked until the timeout.
  auto request =
    shell("head -c 1000000 /dev/zero; head -c 1000000 /dev/zero >&2; echo done >&2", 10s);
  request.output_limit = 1000;
  auto outcome = runner.run(request);
  REQUIRE(outcome);
  CHECK(outcome->exit_code == 0);
  CHECK(outcome->stdout_text == std::string(1000, '\0'));
  CHECK(outcome->stderr_text.size() == 1000);
  CHECK(outcome->stdout_truncated);
  CHECK(outcome->stderr_truncated);

  request.output_limit = 2'000'100;
  auto whole = runner.run(request);
  REQUIRE(whole);
  CHECK(whole->stdout_text.size() == 1'000'000);
  CHECK(whole->stderr_text.size() == 1'000'005);
  CHECK_FALSE(whole->stdout_truncated);
  CHECK_FALSE(whole->stderr_truncated);
}

TEST_CASE("util::SystemProcessRunner::run: a timeout kills the process group, grandchildren too",
          "[subprocess]")
{
  testutil::TempDir dir;
  const auto pid_file = dir.path() / "grandchild.pid";
  util::SystemProcessRunner runner;
  auto request = shell("sleep 30 & echo $! > '" + pid_file.string() + "'; sleep 30", 500ms);

  const auto start = std::chrono::steady_clock::now();
  auto outcome = runner.run(request);
  const auto took = elapsed_since(start);

  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == util::Errc::timeout);
  CHECK(outcome.error().message == "sh did not exit within 500 ms");
  CHECK(took >= 500ms);
  CHECK(took < 3s);
  const auto grandchild = read_pid(pid_file);
  REQUIRE(grandchild > 0);
  CHECK(process_goes(grandchild));
}

TEST_CASE("util::SystemProcessRunner::run: a background process holding the output is a timeout",
          "[subprocess]")
{
  testutil::TempDir dir;
  const auto pid_file = dir.path() / "daemon.pid";
  util::SystemProcessRunner runner;
  // The shell exits at once; the sleep keeps its stdout open.
  auto request = shell("sleep 30 & echo $! > '" + pid_file.string() + "'", 400ms);

  const auto start = std::chrono::steady_clock::now();
  auto outcome = runner.run(request);
  const auto took = elapsed_since(start);

  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == util::Errc::timeout);
  CHECK(outcome.error().message
        == "sh exited but its output was still open after 400 ms (a background process holds it)");
  CHECK(took < 3s);
  const auto background = read_pid(pid_file);
  REQUIRE(background > 0);
  CHECK(process_goes(background));
}

TEST_CASE("util::SystemProcessRunner::run: a process that leaves the group cannot hold the call",
          "[subprocess]")
{
  util::SystemProcessRunner runner;
  // setsid puts the sleep in another session, out of reach of kill(-pgid); the runner closes its
  // pipe ends after a grace period instead of waiting for it.
  auto request = shell("setsid sleep 3 & sleep 30", 300ms);
  const auto start = std::chrono::steady_clock::now();
  auto outcome = runner.run(request);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == util::Errc::timeout);
  CHECK(elapsed_since(start) < 2500ms);
}

TEST_CASE("util::SystemProcessRunner::run: a missing program is Errc::process", "[subprocess]")
{
  util::SystemProcessRunner runner;
  util::ProcessRequest request;
  request.argv = {"readygate-no-such-program"};
  auto outcome = runner.run(request);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == util::Errc::process);
  CHECK(outcome.error().message
        == "cannot run readygate-no-such-program: No such file or directory");

  request.argv = {"/nonexistent/readygate-tool", "--flag"};
  auto absolute = runner.run(request);
  REQUIRE_FALSE(absolute);
  CHECK(absolute.error().code == util::Errc::process);
  CHECK(absolute.error().message
        == "cannot run /nonexistent/readygate-tool: No such file or directory");

  request.argv = {};
  auto empty = runner.run(request);
  REQUIRE_FALSE(empty);
  CHECK(empty.error().code == util::Errc::process);
}

TEST_CASE("util::SystemProcessRunner::run: a file that is not executable is Errc::process",
          "[subprocess]")
{
  testutil::TempDir dir;
  const auto script = dir.path() / "not-executable.sh";
  testutil::write_file(script, "#!/bin/sh\nexit 0\n");
  ::chmod(script.c_str(), 0644);
  util::SystemProcessRunner runner;
  util::ProcessRequest request;
  request.argv = {script.string()};
  auto outcome = runner.run(request);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == util::Errc::process);
  CHECK(outcome.error().message == "cannot run " + script.string() + ": Permission denied");

  // Found in PATH but not executable: the same answer.
  request.argv = {"not-executable.sh"};
  request.environment_overrides = {{"PATH", dir.path().string()}};
  auto in_path = runner.run(request);
  REQUIRE_FALSE(in_path);
  CHECK(in_path.error().message == "cannot run not-executable.sh: Permission denied");
}

TEST_CASE("util::SystemProcessRunner::run: a file exec refuses is Errc::process", "[subprocess]")
{
  // Passes every check before the fork; exec itself fails in the child, which must report it
  // and exit at once.
  testutil::TempDir dir;
  const auto binary = dir.path() / "garbage";
  testutil::write_file(binary,
                       std::string("\x7f"
                                   "ELF not really",
                                   15));
  ::chmod(binary.c_str(), 0755);
  util::SystemProcessRunner runner;
  util::ProcessRequest request;
  request.argv = {binary.string()};
  const auto start = std::chrono::steady_clock::now();
  auto outcome = runner.run(request);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == util::Errc::process);
  CHECK(outcome.error().message == "cannot run " + binary.string() + ": Exec format error");
  CHECK(elapsed_since(start) < 2s);
  // The failed child was reaped: no zombie of ours is left.
  CHECK(::waitpid(-1, nullptr, WNOHANG) <= 0);
}

TEST_CASE("util::SystemProcessRunner::run: runs in the working directory", "[subprocess]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "tool.sh", "#!/bin/sh\necho tool ran\n");
  ::chmod((dir.path() / "tool.sh").c_str(), 0755);
  util::SystemProcessRunner runner;

  auto request = shell("pwd -P");
  request.working_directory = dir.path();
  auto outcome = runner.run(request);
  REQUIRE(outcome);
  CHECK(outcome->stdout_text == std::filesystem::canonical(dir.path()).string() + "\n");

  // A relative program path is taken from the working directory, as a shell would.
  util::ProcessRequest relative;
  relative.argv = {"./tool.sh"};
  relative.working_directory = dir.path();
  auto tool = runner.run(relative);
  REQUIRE(tool);
  CHECK(tool->stdout_text == "tool ran\n");

  request.working_directory = dir.path() / "missing";
  auto missing = runner.run(request);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == util::Errc::process);
  CHECK(missing.error().message
        == "cannot run sh: working directory " + (dir.path() / "missing").string()
             + ": No such file or directory");

  request.working_directory = dir.path() / "tool.sh";
  auto file = runner.run(request);
  REQUIRE_FALSE(file);
  CHECK(file.error().message
        == "cannot run sh: working directory " + (dir.path() / "tool.sh").string()
             + ": Not a directory");
}

TEST_CASE("util::SystemProcessRunner::run: relative PATH entries are never searched",
          "[subprocess]")
{
  // "rg-relative-bin-<pid>" in PATH would be looked up from readygate's directory but run from
  // the working directory: two different programs. Neither is run.
  const auto entry = fmt::format("rg-relative-bin-{}", ::getpid());
  testutil::TempDir there;
  const auto here = std::filesystem::current_path() / entry;
  struct RemoveHere
  {
    std::filesystem::path path;
    ~RemoveHere()
    {
      std::error_code ignored;
      std::filesystem::remove(path / "rg-tool", ignored);
      std::filesystem::remove(path, ignored);
    }
  } remove_here{here};
  for (const auto& [dir, says] :
       {std::pair{here, "here"}, std::pair{there.path() / entry, "there"}}) {
    std::filesystem::create_directories(dir);
    testutil::write_file(dir / "rg-tool", fmt::format("#!/bin/sh\necho {}\n", says));
    ::chmod((dir / "rg-tool").c_str(), 0755);
  }
  util::SystemProcessRunner runner;
  util::ProcessRequest request;
  request.argv = {"rg-tool"};
  request.working_directory = there.path();
  request.environment_overrides = {{"PATH", entry + "::."}};
  const auto outcome = runner.run(request);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == util::Errc::process);
  CHECK_THAT(outcome.error().message, Catch::StartsWith("cannot run rg-tool"));
}

TEST_CASE("util::SystemProcessRunner::run: adds environment overrides to ours", "[subprocess]")
{
  ::setenv("RG_TEST_INHERITED", "from-parent", 1);
  ::setenv("RG_TEST_REPLACED", "old", 1);
  util::SystemProcessRunner runner;
  auto request = shell("echo \"$RG_TEST_ADDED|$RG_TEST_REPLACED|$RG_TEST_INHERITED\"; env | grep "
                       "-c '^RG_TEST_REPLACED='");
  request.environment_overrides = {{"RG_TEST_ADDED", "a b"}, {"RG_TEST_REPLACED", "new"}};
  auto outcome = runner.run(request);
  REQUIRE(outcome);
  CHECK(outcome->stdout_text == "a b|new|from-parent\n1\n");
  ::unsetenv("RG_TEST_INHERITED");
  ::unsetenv("RG_TEST_REPLACED");
}

TEST_CASE("util::SystemProcessRunner::run: a stop request kills the command", "[subprocess]")
{
  util::SystemProcessRunner runner;
  std::stop_source source;
  auto request = shell("sleep 30", 20s);
  request.stop = source.get_token();
  // Timed from before the stopper starts its 200 ms, or the bound below races with it.
  const auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    source.request_stop();
  });
  auto outcome = runner.run(request);
  const auto took = elapsed_since(start);
  stopper.join();
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error().code == util::Errc::cancelled);
  CHECK(outcome.error().message == "sh was stopped before it exited");
  CHECK(took >= 200ms);
  CHECK(took < 3s);

  // Already stopped: nothing is started.
  testutil::TempDir dir;
  auto never = shell("touch '" + (dir.path() / "ran").string() + "'");
  never.stop = source.get_token();
  auto skipped = runner.run(never);
  REQUIRE_FALSE(skipped);
  CHECK(skipped.error().code == util::Errc::cancelled);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "ran"));
}

TEST_CASE("util::SystemProcessRunner::run: concurrent runs do not hold each other's pipes",
          "[subprocess]")
{
  // Slow commands start while other threads keep starting short ones. A slow child that
  // inherited a short run's pipe (Boost 1.81's Process v2 leaks fds into children, PR #360)
  // would hold that run open for as long as it sleeps.
  util::SystemProcessRunner runner;
  std::atomic<bool> slow_done{false};
  std::atomic<int> slow_good{0};
  std::thread slow([&] {
    for (int i = 0; i < 2; ++i) {
      auto outcome = runner.run(shell("sleep 2", 10s));
      if (outcome && outcome->exit_code == 0) {
        ++slow_good;
      }
    }
    slow_done = true;
  });

  constexpr std::size_t k_threads = 4;
  std::vector<std::thread> quick;
  std::vector<std::chrono::milliseconds> longest(k_threads, 0ms);
  std::vector<int> runs(k_threads, 0);
  std::vector<int> good(k_threads, 0);
  for (std::size_t t = 0; t < k_threads; ++t) {
    quick.emplace_back([&, t] {
      while (!slow_done) {
        const auto start = std::chrono::steady_clock::now();
        auto outcome = runner.run(shell("echo $$", 10s));
        longest[t] = std::max(longest[t], elapsed_since(start));
        ++runs[t];
        if (outcome && outcome->exit_code == 0 && outcome->stdout_text.size() > 1
            && outcome->stdout_text.back() == '\n') {
          ++good[t];
        }
      }
    });
  }
  for (auto& thread : quick) {
    thread.join();
  }
  slow.join();
  CHECK(slow_good == 2);
  for (std::size_t t = 0; t < k_threads; ++t) {
    INFO("thread " << t << ": " << runs[t] << " runs, longest " << longest[t].count() << " ms");
    CHECK(runs[t] > 10);
    CHECK(good[t] == runs[t]);
    // A leaked pipe shows as a run about as long as the sleep (2 s); spawning alone, even under
    // load or a sanitizer, stays far below.
    CHECK(longest[t] < 1000ms);
  }
}
