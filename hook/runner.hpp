// Run planned checks: bounded concurrency, a timeout per check, one deadline for the whole run,
// retries of failing `retry = true` checks until that deadline, results in config order. One
// verdict comes out of it; the exit code, serve's HTTP status and the lifecycle result all
// derive from that verdict (hook/outcome.hpp), and the lifecycle result also from whether a
// check was seen failing (an error verdict can hide a fail).
//
// An Engine outlives its runs (`serve` runs the checks every few seconds for weeks): attempts run
// on a bounded pool of worker threads that the engine keeps between runs. An attempt that ignores
// its deadline is abandoned by its run but keeps its worker until it returns, so a wedged check
// can never pile up threads; while every worker is held, further attempts wait, and a run whose
// deadline passes first reports them as `error`.
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
  bool selected = true; // false: reported as skip (--only, --tag); dependents do not wait for it
  std::string unselected_reason = "not selected"; // the skip message when !selected
};

struct ReportedResult
{
  std::string id;
  std::string kind;
  CheckResult result;
  std::chrono::milliseconds duration{0}; // of the last attempt
  unsigned attempts = 0;
  // The last attempt that observed the host found it wrong: true for a fail, and for an error
  // whose attempts that looked all failed (a retry cut short by the deadline or a signal, or
  // one that could not look on its last try). Its status stays error (error outranks fail).
  bool seen_failing = false;
};

struct RunSummary
{
  std::vector<ReportedResult> results; // in config order
  Status verdict = Status::error;
  // A check was seen failing (ReportedResult::seen_failing), whatever the verdict says: a
  // consumer that may admit an unverified host (lifecycle's on_error = "continue") must not
  // admit one that was seen to be wrong.
  bool seen_failing = false;
  std::chrono::milliseconds duration{0};
  std::chrono::system_clock::time_point started;
  bool deadline_reached = false;
  bool interrupted = false;
  // Attempts that outlived their timeout and still held a worker when the run returned.
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
  unsigned concurrency = 4; // attempts of this run at once; also capped by the engine's workers
  std::stop_token stop;     // SIGINT/SIGTERM: end promptly with what finished
  std::function<void(const Progress&)> on_progress; // called from the runner's thread
};

class Engine
{
public:
  // Run attempts on at most `workers` threads (at least 1), reaching the host through `probes`.
  Engine(Probes probes, unsigned workers);
  // Let idle workers end and wait for them; workers still held by abandoned attempts end on
  // their own when their attempt returns (they own everything they touch).
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Run `checks` once, as described above. Never throws for a check's sake: an exception
  // escaping a check, a check that outlives its timeout, and a check the deadline or a stop cut
  // short are all reported as Status::error. Returns by the run's deadline (or its stop) plus
  // k_abandon_grace, even if a check hangs. One run at a time.
  RunSummary run(const std::vector<PlannedCheck>& checks, const RunOptions& options);

  // Return how many workers are held by attempts whose run has given up on them.
  std::size_t abandoned_attempts() const;
  // Return how many worker threads exist now.
  std::size_t worker_threads() const;

  struct State;

private:
  std::shared_ptr<State> m_state;
};

// Run `checks` once on an engine of `options.concurrency` workers made for this run.
RunSummary run_checks(const std::vector<PlannedCheck>& checks,
                      const Probes& probes,
                      const RunOptions& options);

// Return the verdict over `results`: error outranks fail outranks pass; skips count as pass.
Status verdict_of(const std::vector<ReportedResult>& results);

} // namespace hook
