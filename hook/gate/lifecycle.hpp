// The AWS Auto Scaling launch gate behind `readygate lifecycle`. The instance waits in
// Pending:Wait (the group's launch lifecycle hook) and joins its target groups only when the hook
// is completed with CONTINUE:
//
//   1. discover: IMDSv2 gives the instance id, region, target lifecycle state, instance-profile
//      credentials and (from the instance tag, else DescribeAutoScalingInstances) the group;
//   2. run the checks (with their retries) until [gate] deadline, sending
//      RecordLifecycleActionHeartbeat at once and every heartbeat_interval meanwhile;
//   3. complete the action: CONTINUE only for verdict pass (or, with on_error = "continue", an
//      error verdict that no signal caused and in which no check was seen failing), ABANDON
//      otherwise.
//
// Throttling, 5xx and dropped connections are retried with jittered exponential backoff: a
// heartbeat until the next one is due, the completion for k_completion_budget after the checks.
// "No active Lifecycle Action found" is final: the hook timed out or someone completed it, and
// nothing readygate sends can change that. When an earlier attempt of the completion got no
// answer, that someone was most likely readygate itself (the attempt went through and its answer
// was lost): the outcome is then unknown, never "not accepted". A heartbeat cannot complete the
// action, so on a heartbeat the answer keeps its meaning whatever came before.
#pragma once

#include <config/lifecycle.hpp>
#include <hook/gate/aws.hpp>
#include <hook/runner.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

namespace hook::gate {

// --- Interface ---

// How long completing the lifecycle action may take after the checks end, retries included.
inline constexpr std::chrono::milliseconds k_completion_budget{30'000};

// The time heartbeats and backoff are measured in; unit tests substitute one that jumps.
class GateClock
{
public:
  virtual ~GateClock() = default;
  virtual util::Clock::time_point now() = 0;
  // Wait until `until`; false when `stop` was requested first.
  virtual bool wait_until(util::Clock::time_point until, std::stop_token stop) = 0;
};

// util::Clock, waiting on a condition variable that `stop` wakes.
class SteadyGateClock final : public GateClock
{
public:
  util::Clock::time_point now() override;
  bool wait_until(util::Clock::time_point until, std::stop_token stop) override;
};

struct Backoff
{
  std::chrono::milliseconds base{500};
  std::chrono::milliseconds cap{20'000};
};

// Return how long to wait after `failures` (1 or more) failed attempts in a row: "equal jitter",
// half of min(cap, base * 2^(failures-1)) plus `random01` (in [0, 1)) times the other half, so
// instances launched together spread out but never retry at once.
std::chrono::milliseconds
backoff_delay(unsigned failures, double random01, const Backoff& backoff = {});

// What retried calls share: the clock, the randomness of the jitter, the policy, and where
// retries are logged.
struct RetryContext
{
  GateClock& clock;
  std::function<double()> random01;
  Backoff backoff;
  std::function<void(const std::string&)> log;
};

struct CallReport
{
  // ok, no_active_action, final_error, cancelled; retry means the time ran out while the
  // answers were still worth another try.
  AnswerKind kind = AnswerKind::retry;
  unsigned attempts = 0;
  std::string detail; // describe_answer() of the last answer
  ApiAnswer answer;   // the answer, when `kind` is ok
  // Attempts that may have been carried out although no answer said so (may_have_taken_effect):
  // how many, the number of the first, and describe_answer() of it.
  unsigned unanswered = 0;
  unsigned first_unanswered = 0;
  std::string unanswered_detail;
};

// Call `action` until an answer is final, retrying with backoff while the next attempt can start
// before `deadline`. `stop` ends the waits and keeps another attempt from starting; `cancel`
// aborts a call under way (`stop` too when `cancel` is not given).
CallReport call_with_retries(AutoScaling& api,
                             const QueryAction& action,
                             util::Clock::time_point deadline,
                             std::stop_token stop,
                             RetryContext& context,
                             std::stop_token cancel = {});

// Return the lifecycle action result for the run of the checks `summary`: "ABANDON" whenever a
// check was seen failing (summary.seen_failing, also under an error verdict); "CONTINUE" for
// verdict pass; for verdict error, "CONTINUE" only when `on_error` is proceed and no signal
// `interrupted` the run; "ABANDON" otherwise.
std::string_view decide(const RunSummary& summary, bool interrupted, config::OnError on_error);

// How long a heartbeat under way when the checks end may take to finish before it is cancelled:
// the result goes out after it, never racing it.
inline constexpr std::chrono::milliseconds k_heartbeat_grace{1'000};

struct GateSettings
{
  std::chrono::milliseconds heartbeat_interval = config::k_default_heartbeat_interval;
  config::OnError on_error = config::OnError::abandon;
  std::chrono::milliseconds completion_budget = k_completion_budget;
  std::chrono::milliseconds heartbeat_grace = k_heartbeat_grace; // real time
};

struct GateOutcome
{
  RunSummary summary;            // of the checks
  std::string result;            // "CONTINUE" or "ABANDON" as sent; "" when none was sent
  bool accepted = false;         // Auto Scaling said it accepted `result`
  bool no_active_action = false; // the hook had no action waiting (timed out or completed)
  // Not said, but an attempt that got no answer may have carried `result` out: the outcome is
  // unknown (`accepted` is false then, and the result file says null).
  bool acceptance_unknown = false;
  // SIGINT/SIGTERM came before the result was decided: during the checks, or after they ended.
  bool interrupted = false;
  // SIGINT/SIGTERM came while `result` was being sent (it went out regardless).
  bool signal_while_completing = false;
  std::string detail; // why the result was not accepted (or none sent), for humans
  unsigned heartbeats_recorded = 0;
  unsigned heartbeats_failed = 0;
  unsigned completion_attempts = 0;
};

// Return the exit code for `outcome`: 0 only when CONTINUE was accepted (not when its outcome is
// unknown); 1 when the verdict is fail (whatever became of the ABANDON); 2 otherwise (error
// outranks fail, as for readygate check).
int exit_code_of(const GateOutcome& outcome);

class LifecycleGate
{
public:
  // Complete `action` through `api`, timing heartbeats and backoff with `context.clock`.
  LifecycleGate(LifecycleAction action,
                std::shared_ptr<AutoScaling> api,
                GateSettings settings,
                RetryContext context);

  // Run `run_checks` (on this thread; it must end promptly once its stop token is requested)
  // while a heartbeat thread keeps the action alive, then complete the action. `interrupt`
  // (SIGINT/SIGTERM) stops the checks; the result is still sent. A heartbeat answered "No active
  // Lifecycle Action found" stops the checks too, and nothing is sent.
  GateOutcome run(const std::function<RunSummary(std::stop_token)>& run_checks,
                  std::stop_token interrupt);

private:
  // Send heartbeats until `stop`; `cancel` aborts one under way.
  void heartbeat_loop(std::stop_token stop,
                      std::stop_token cancel,
                      std::stop_source& checks,
                      GateOutcome& outcome);

  LifecycleAction m_action;
  std::shared_ptr<AutoScaling> m_api;
  GateSettings m_settings;
  RetryContext m_context;
};

// --- Discovery ---

// How an IMDS read is retried when the service could not be reached or answered 5xx: this many
// attempts in all, with backoff from k_imds_backoff (about 2 s of waiting), so a host that is
// not on EC2 is told so in seconds.
inline constexpr unsigned k_imds_attempts = 4;
inline constexpr Backoff k_imds_backoff{std::chrono::milliseconds(250), std::chrono::seconds(2)};

struct Discovery
{
  std::string instance_id;
  std::string region;
  std::string region_source; // "config" or "IMDS"
  std::string domain;        // "amazonaws.com", "amazonaws.com.cn"
  std::string endpoint;      // the Auto Scaling API
  std::string endpoint_source;
  std::string group_name;
  std::string group_source; // "config", "instance tag", "DescribeAutoScalingInstances"
  std::optional<std::string> current_state; // when DescribeAutoScalingInstances was asked
  std::optional<std::string> target_state;  // IMDS autoscaling/target-lifecycle-state; none: 404
  std::string role_name;                    // of the instance profile, once credentials came
};

// Read the instance id, region, domain, target lifecycle state and (when neither the config nor
// `settings` names it) the group tag from IMDS, retrying reads the service may answer next time.
// The group stays "" when the tag is not there (InstanceMetadataTags disabled).
util::Result<Discovery> discover_instance(Imds& imds,
                                          const config::LifecycleSettings& settings,
                                          const CallLimits& limits,
                                          RetryContext& context);

// Fill in `discovery.group_name` from DescribeAutoScalingInstances (retried like a heartbeat
// until `limits.deadline`); an instance in no group is an Errc::config error.
util::Result<void> discover_group(Discovery& discovery,
                                  AutoScaling& api,
                                  const CallLimits& limits,
                                  RetryContext& context);

// What the target lifecycle state means for the gate.
enum class TargetKind {
  in_service,    // InService: verify, then CONTINUE or ABANDON
  warmed,        // Warmed:*: entering a warm pool; verified the same way
  unknown,       // not in IMDS (404) or a state readygate does not know: verified; AWS decides
  not_launching, // Terminated, Detached, Standby, Warmed:Terminated: no launch action to complete
};

TargetKind target_kind(const std::optional<std::string>& target_state);

// --- Reporting ---

// Everything the result file and the journal line say about one run.
struct LifecycleRecord
{
  std::string hook_name;
  const Discovery* discovery = nullptr; // null when discovery failed
  const GateOutcome* outcome = nullptr; // null when the gate did not run
  std::string line;                     // the one journal line
  int exit_code = 2;
  std::chrono::system_clock::time_point started;
  std::chrono::milliseconds duration{0};
  std::string hostname;
};

// Return the journal line for `outcome` (escaped; one line).
std::string outcome_line(const LifecycleAction& action, const GateOutcome& outcome);

// Return the result file's JSON document (schema "readygate.lifecycle/1"), the check report
// (schema "readygate.report/1") embedded when the checks ran, and a newline.
std::string lifecycle_result_json(const LifecycleRecord& record);

// Write `content` to `path` atomically (a temporary file beside it, then rename), creating its
// directory (mode 0755) when missing; never through a symlink at `path`.
util::Result<void> write_result_file(const std::filesystem::path& path, std::string_view content);

} // namespace hook::gate
