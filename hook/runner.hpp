// Run planned checks: bounded concurrency, a timeout per check, one deadline for the whole run,
// retries of failing `retry = true` checks until that deadline, results in config order. One
// verdict comes out of it; the exit code, serve's HTTP status and the lifecycle result all
// derive from that verdict.
#pragma once

#include <hook/check.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

namespace hook {

// --- Interface ---

struct PlannedCheck
{
  std::string id;
  std::string kind;
  std::chrono::milliseconds timeout{60'000};
  bool retry = false;
  std::vector<std::string> tags;
  std::vector<std::string> depends_on; // ids of checks that must pass before this one runs
  std::shared_ptr<const Check> check;  // shared: an abandoned attempt may outlive the run
  bool selected = true; // false: reported as skip (--only); dependents do not wait for it
};

struct ReportedResult
{
  std::string id;
  std::string kind;
  CheckResult result;
  std::chrono::milliseconds duration{0}; // of the last attempt
  unsigned attempts = 0;
};

struct RunSummary
{
  std::vector<ReportedResult> results; // in config order
  Status verdict = Status::error;
  std::chrono::milliseconds duration{0};
  std::chrono::system_clock::time_point started;
  bool deadline_reached = false;
  bool interrupted = false;
  // An attempt outlived its timeout and was left running on its own thread. The process must then
  // end with std::_Exit after flushing its output, not by returning from main.
  bool attempts_abandoned = false;
};

// Told each time an attempt ends: which check, its result, and whether it will be tried again.
struct Progress
{
  const PlannedCheck& check;
  const CheckResult& result;
  unsigned attempt;
  bool will_retry;
};

// How long the runner waits past an attempt's deadline for the check to give up by itself
// before it abandons the attempt and reports it as timed out.
inline constexpr std::chrono::milliseconds k_abandon_grace{250};

struct RunOptions
{
  std::chrono::milliseconds deadline{5 * 60'000};
  std::chrono::milliseconds retry_interval{5'000};
  unsigned concurrency = 4;
  std::stop_token stop; // SIGINT/SIGTERM: end promptly with what finished
  std::function<void(const Progress&)> on_progress; // called from the runner's thread
};

// Run `checks` with `services`. Never throws for a check's sake: an exception escaping a check,
// a check that outlives its timeout, and a check the deadline or a stop cut short are all
// reported as Status::error. The run returns by its deadline (or its stop) plus k_abandon_grace,
// even if a check hangs; checks under way at that point are given the grace to end.
RunSummary run_checks(const std::vector<PlannedCheck>& checks,
                      const Services& services,
                      const RunOptions& options);

// Return the verdict over `results`: error outranks fail outranks pass; skips count as pass.
Status verdict_of(const std::vector<ReportedResult>& results);

// Return the exit code for `verdict`: 0 pass, 1 fail, 2 error.
int exit_code_for(Status verdict);

} // namespace hook
