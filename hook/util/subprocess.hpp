// Run external commands with a deadline; a timed-out command is killed with its whole process
// group, so a grandchild cannot keep a pipe (and the boot) open.
#pragma once

#include <hook/util/result.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

namespace util {

// --- Interface ---

struct ProcessRequest
{
  // argv[0] is looked up in PATH (its absolute entries only) if it has no '/'
  std::vector<std::string> argv;
  std::chrono::milliseconds timeout{30'000}; // from start to exit, output drained
  std::size_t output_limit = 64 * 1024;      // bytes kept of stdout and of stderr each
  std::optional<std::filesystem::path> working_directory;
  std::vector<std::pair<std::string, std::string>> environment_overrides; // added to ours
  std::stop_token stop; // kill the process group when requested
};

struct ProcessOutcome
{
  int exit_code = -1;  // valid when term_signal == 0
  int term_signal = 0; // the signal that ended the process, 0 if it exited
  std::string stdout_text;
  std::string stderr_text;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::chrono::milliseconds duration{0};
};

// Runs commands. Checks use it through CheckContext so unit tests can substitute a fake.
class ProcessRunner
{
public:
  virtual ~ProcessRunner() = default;

  // Return the real runner (SystemProcessRunner), for hook::Probes.
  static std::shared_ptr<ProcessRunner> make_real();

  // Run `request`. A non-zero exit is not an error (the caller judges it); a command that cannot
  // be started is Errc::process, one that outlives its timeout is Errc::timeout (after its
  // process group was killed), one stopped through `request.stop` is Errc::cancelled.
  virtual Result<ProcessOutcome> run(const ProcessRequest& request) = 0;
};

// The real runner (Boost.Process v2), safe to call from several threads at once.
class SystemProcessRunner final : public ProcessRunner
{
public:
  Result<ProcessOutcome> run(const ProcessRequest& request) override;
};

} // namespace util
