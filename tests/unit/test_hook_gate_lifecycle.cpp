// The lifecycle gate's logic with a clock that jumps: heartbeat timing, backoff, the decision,
// on_error, "no active action", discovery from IMDS, and the result file.
#include "testutil.hpp"

#include <hook/gate/lifecycle.hpp>
#include <hook/outcome.hpp>

#include <boost/json.hpp>

#include <sys/stat.h>

#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

namespace {

using namespace std::chrono_literals;
using hook::Status;
using hook::gate::AnswerKind;
using hook::gate::ApiAnswer;
using hook::gate::CallLimits;

// Time that jumps to whatever is waited for, and remembers every wait.
class JumpingClock final : public hook::gate::GateClock
{
public:
  util::Clock::time_point
  now() override
  {
    const std::lock_guard lock(m_mutex);
    return m_now;
  }
  bool
  wait_until(util::Clock::time_point until, std::stop_token stop) override
  {
    if (stop.stop_requested()) {
      return false;
    }
    const std::lock_guard lock(m_mutex);
    if (until > m_now) {
      m_waits.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(until - m_now));
      m_now = until;
    }
    return !stop.stop_requested();
  }
  std::vector<std::chrono::milliseconds>
  waits() const
  {
    const std::lock_guard lock(m_mutex);
    return m_waits;
  }
  std::chrono::milliseconds
  since_start(util::Clock::time_point at) const
  {
    return std::chrono::duration_cast<std::chrono::milliseconds>(at - k_start);
  }

  static inline const util::Clock::time_point k_start = util::Clock::time_point(1000h);

private:
  mutable std::mutex m_mutex;
  util::Clock::time_point m_now = k_start;
  std::vector<std::chrono::milliseconds> m_waits;
};

ApiAnswer
ok_answer()
{
  return ApiAnswer{200, "", "", "r-1", ""};
}

util::Result<ApiAnswer>
aws_error(long status, std::string code, std::string message = "Injected")
{
  return ApiAnswer{status, std::move(code), std::move(message), "r-2", ""};
}

util::Result<ApiAnswer>
no_active_action()
{
  return aws_error(400,
                   "ValidationError",
                   "No active Lifecycle Action found with instance ID i-0123456789abcdef0");
}

struct Call
{
  std::string action;
  hook::gate::QueryParams params;
  std::chrono::milliseconds at; // on the jumping clock, since its start
};

// Answers from a script per action (then OK); records every call. After `hold_after`
// heartbeats, a heartbeat waits for its stop token (real time, bounded) and is cancelled, so a
// test decides how many heartbeats happen however fast the jumping clock runs.
class ScriptedApi final : public hook::gate::AutoScaling
{
public:
  explicit ScriptedApi(JumpingClock& clock)
      : m_clock(clock)
  {}

  std::map<std::string, std::deque<util::Result<ApiAnswer>>> script;
  std::function<void(const hook::gate::QueryAction&)> on_call; // before each call is answered
  unsigned hold_after = 1'000'000;
  std::chrono::milliseconds hold_for = 10s; // real time; then the held heartbeat is answered OK

  util::Result<ApiAnswer>
  call(const hook::gate::QueryAction& action, const CallLimits& limits) override
  {
    if (on_call) {
      on_call(action);
    }
    std::unique_lock lock(m_mutex);
    m_calls.push_back({action.name, action.params, m_clock.since_start(m_clock.now())});
    if (action.name == "RecordLifecycleActionHeartbeat" && ++m_heartbeats > hold_after) {
      m_changed.notify_all();
      m_changed.wait_for(lock, limits.stop, hold_for, [] { return false; });
      if (limits.stop.stop_requested()) {
        return util::make_error(util::Errc::cancelled, "cancelled");
      }
      m_calls.push_back({"(answered)", {}, m_clock.since_start(m_clock.now())});
      return ok_answer();
    }
    m_changed.notify_all();
    auto& answers = script[action.name];
    if (answers.empty()) {
      return ok_answer();
    }
    auto answer = std::move(answers.front());
    answers.pop_front();
    return answer;
  }

  std::vector<Call>
  calls() const
  {
    const std::lock_guard lock(m_mutex);
    return m_calls;
  }
  std::vector<Call>
  calls_of(std::string_view name) const
  {
    std::vector<Call> found;
    for (auto& call : calls()) {
      if (call.action == name) {
        found.push_back(call);
      }
    }
    return found;
  }
  // Wait (real time, at most 10 s) until `count` heartbeats have been asked for.
  bool
  wait_for_heartbeats(unsigned count)
  {
    std::unique_lock lock(m_mutex);
    return m_changed.wait_for(lock, 10s, [&] { return m_heartbeats >= count; });
  }

private:
  JumpingClock& m_clock;
  mutable std::mutex m_mutex;
  std::condition_variable_any m_changed;
  std::vector<Call> m_calls;
  unsigned m_heartbeats = 0;
};

hook::RunSummary
summary_of(Status verdict, std::vector<Status> statuses = {})
{
  hook::RunSummary summary;
  summary.verdict = verdict;
  if (statuses.empty()) {
    statuses = {verdict};
  }
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    hook::ReportedResult result;
    result.id = fmt::format("check-{}", i + 1);
    result.kind = "command";
    result.result.status = statuses[i];
    result.result.message = statuses[i] == Status::pass ? "ok" : "exit code 1, expected 0";
    result.attempts = 1;
    result.seen_failing = statuses[i] == Status::fail; // as the runner sets it
    summary.seen_failing = summary.seen_failing || result.seen_failing;
    summary.results.push_back(result);
  }
  summary.duration = 2500ms;
  return summary;
}

const hook::gate::LifecycleAction k_action{"i-0123456789abcdef0", "rg-asg", "rg-launch-hook"};

struct Harness
{
  JumpingClock clock;
  std::shared_ptr<ScriptedApi> api = std::make_shared<ScriptedApi>(clock);
  std::vector<std::string> logged;
  std::mutex log_mutex;
  double random = 0.5;

  hook::gate::RetryContext
  context()
  {
    return hook::gate::RetryContext{clock,
                                    [this] { return random; },
                                    hook::gate::Backoff{},
                                    [this](const std::string& line) {
                                      const std::lock_guard lock(log_mutex);
                                      logged.push_back(line);
                                    }};
  }

  // Run the gate over checks that end with `summary` once the heartbeat thread has made
  // `heartbeat_calls` calls (retries included) and started one more.
  hook::gate::GateOutcome
  run(hook::RunSummary summary,
      unsigned heartbeat_calls,
      config::OnError on_error = config::OnError::abandon)
  {
    api->hold_after = heartbeat_calls;
    hook::gate::LifecycleGate gate(k_action, api, {30s, on_error, 30s, 0ms}, context());
    return gate.run(
      [&](std::stop_token) {
        api->wait_for_heartbeats(heartbeat_calls + 1);
        return summary;
      },
      {});
  }

  CallLimits
  limits(std::chrono::milliseconds budget)
  {
    return CallLimits{util::time_after(clock.now(), budget), {}};
  }
};

} // namespace

TEST_CASE("gate::backoff_delay: equal jitter, doubling from base, capped", "[lifecycle]")
{
  const hook::gate::Backoff backoff{500ms, 20s};
  CHECK(hook::gate::backoff_delay(1, 0.0, backoff) == 250ms);
  CHECK(hook::gate::backoff_delay(1, 0.999, backoff) == 499ms);
  CHECK(hook::gate::backoff_delay(2, 0.0, backoff) == 500ms);
  CHECK(hook::gate::backoff_delay(3, 0.5, backoff) == 1500ms);
  CHECK(hook::gate::backoff_delay(7, 0.0, backoff) == 10s);
  CHECK(hook::gate::backoff_delay(40, 1.0, backoff) == 20s);
  CHECK(hook::gate::backoff_delay(1000, 2.0, backoff) == 20s); // clamped randomness
}

TEST_CASE("gate::decide: CONTINUE only for pass, or an unverified run with on_error = continue",
          "[lifecycle]")
{
  using config::OnError;
  const auto decide = [](Status verdict, bool interrupted, OnError on_error) {
    return hook::gate::decide(summary_of(verdict), interrupted, on_error);
  };
  CHECK(decide(Status::pass, false, OnError::abandon) == "CONTINUE");
  CHECK(decide(Status::pass, true, OnError::abandon) == "CONTINUE");
  CHECK(decide(Status::fail, false, OnError::abandon) == "ABANDON");
  CHECK(decide(Status::fail, false, OnError::proceed) == "ABANDON");
  CHECK(decide(Status::error, false, OnError::abandon) == "ABANDON");
  CHECK(decide(Status::error, false, OnError::proceed) == "CONTINUE");
  CHECK(decide(Status::error, true, OnError::proceed) == "ABANDON");
  CHECK(decide(Status::skip, false, OnError::proceed) == "ABANDON");
}

TEST_CASE("gate::decide: a check seen failing abandons whatever the verdict, on_error = continue "
          "included",
          "[lifecycle]")
{
  using config::OnError;
  // One check failed, another could not be verified: the verdict is error (error outranks fail).
  auto failed_and_unverified = summary_of(Status::error, {Status::fail, Status::error});
  REQUIRE(failed_and_unverified.seen_failing);
  CHECK(hook::gate::decide(failed_and_unverified, false, OnError::proceed) == "ABANDON");
  CHECK(hook::gate::decide(failed_and_unverified, false, OnError::abandon) == "ABANDON");

  // A retrying check that failed every attempt it completed, its last one cut by the deadline:
  // reported error, but seen failing.
  auto cut_retry = summary_of(Status::error, {Status::pass, Status::error});
  REQUIRE_FALSE(cut_retry.seen_failing);
  CHECK(hook::gate::decide(cut_retry, false, OnError::proceed) == "CONTINUE");
  cut_retry.results[1].seen_failing = true;
  cut_retry.seen_failing = true;
  CHECK(hook::gate::decide(cut_retry, false, OnError::proceed) == "ABANDON");
}

TEST_CASE("gate::exit_code_of: 0 only for an accepted CONTINUE", "[lifecycle]")
{
  hook::gate::GateOutcome outcome;
  outcome.summary = summary_of(Status::pass);
  outcome.result = "CONTINUE";
  outcome.accepted = true;
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_pass);
  outcome.accepted = false;
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_error);
  outcome.summary = summary_of(Status::fail);
  outcome.result = "ABANDON";
  outcome.accepted = true;
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_fail);
  outcome.accepted = false;
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_fail);
  outcome.summary = summary_of(Status::error);
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_error);
  outcome.result = "CONTINUE"; // on_error = "continue"
  outcome.accepted = true;
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_pass);
  outcome.result.clear(); // nothing sent
  outcome.accepted = false;
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_error);
}

TEST_CASE("gate::call_with_retries: throttling and 5xx are retried with backoff until answered",
          "[lifecycle]")
{
  Harness harness;
  harness.api->script["CompleteLifecycleAction"] = {
    aws_error(400, "Throttling", "Rate exceeded"),
    aws_error(400, "Throttling", "Rate exceeded"),
    aws_error(503, "ServiceUnavailable"),
    util::make_error(util::Errc::network, "connection reset")};
  auto context = harness.context();
  const auto report =
    hook::gate::call_with_retries(*harness.api,
                                  hook::gate::complete_action(k_action, "CONTINUE"),
                                  util::time_after(harness.clock.now(), 30s),
                                  {},
                                  context);
  CHECK(report.kind == AnswerKind::ok);
  CHECK(report.attempts == 5);
  // random 0.5: 375ms, 750ms, 1.5s, 3s.
  CHECK(harness.clock.waits() == std::vector<std::chrono::milliseconds>{375ms, 750ms, 1500ms, 3s});
  REQUIRE(harness.logged.size() == 4);
  CHECK(harness.logged[0]
        == "CompleteLifecycleAction: Throttling: Rate exceeded (HTTP 400, request r-2); retrying "
           "in 375ms");
}

TEST_CASE("gate::call_with_retries: final answers are not retried, time runs out, stop ends it",
          "[lifecycle]")
{
  Harness harness;
  auto context = harness.context();
  const auto action = hook::gate::complete_action(k_action, "ABANDON");
  const auto deadline = [&](auto budget) { return util::time_after(harness.clock.now(), budget); };

  harness.api->script["CompleteLifecycleAction"] = {no_active_action()};
  auto report = hook::gate::call_with_retries(*harness.api, action, deadline(30s), {}, context);
  CHECK(report.kind == AnswerKind::no_active_action);
  CHECK(report.attempts == 1);
  CHECK_THAT(report.detail, Catch::StartsWith("ValidationError: No active Lifecycle Action found"));

  harness.api->script["CompleteLifecycleAction"] = {aws_error(403, "AccessDenied")};
  report = hook::gate::call_with_retries(*harness.api, action, deadline(30s), {}, context);
  CHECK(report.kind == AnswerKind::final_error);
  CHECK(report.attempts == 1);

  // Always throttled: the waits add up to no more than the budget.
  harness.api->script["CompleteLifecycleAction"] =
    std::deque<util::Result<ApiAnswer>>(50, aws_error(400, "Throttling"));
  const auto started = harness.clock.now();
  report = hook::gate::call_with_retries(*harness.api, action, deadline(10s), {}, context);
  CHECK(report.kind == AnswerKind::retry);
  CHECK(report.attempts == 5); // waits 375ms, 750ms, 1.5s, 3s; the next (6s) would pass 10s
  CHECK(harness.clock.now() - started <= 10s);

  std::stop_source stop;
  stop.request_stop();
  harness.api->script["CompleteLifecycleAction"] = {aws_error(400, "Throttling")};
  report =
    hook::gate::call_with_retries(*harness.api, action, deadline(30s), stop.get_token(), context);
  CHECK(report.kind == AnswerKind::cancelled);
}

TEST_CASE("gate::LifecycleGate: a pass sends heartbeats at once and every interval, then CONTINUE",
          "[lifecycle]")
{
  Harness harness;
  const auto outcome = harness.run(summary_of(Status::pass), 3);
  CHECK(outcome.result == "CONTINUE");
  CHECK(outcome.accepted);
  CHECK(outcome.heartbeats_recorded == 3);
  CHECK(outcome.heartbeats_failed == 0);
  CHECK(outcome.completion_attempts == 1);
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_pass);

  const auto heartbeats = harness.api->calls_of("RecordLifecycleActionHeartbeat");
  REQUIRE(heartbeats.size() == 4); // the fourth was under way when the checks ended
  CHECK(heartbeats[0].at == 0ms);
  CHECK(heartbeats[1].at == 30s);
  CHECK(heartbeats[2].at == 60s);
  CHECK(heartbeats[0].params
        == hook::gate::QueryParams{{"LifecycleHookName", "rg-launch-hook"},
                                   {"AutoScalingGroupName", "rg-asg"},
                                   {"InstanceId", "i-0123456789abcdef0"}});
  const auto calls = harness.api->calls();
  REQUIRE(calls.back().action == "CompleteLifecycleAction");
  CHECK(calls.back().params[2]
        == std::pair<std::string, std::string>{"LifecycleActionResult", "CONTINUE"});
  CHECK(harness.api->calls_of("CompleteLifecycleAction").size() == 1);
}

TEST_CASE("gate::LifecycleGate: a heartbeat under way when the checks end finishes before the "
          "result is sent",
          "[lifecycle]")
{
  Harness harness;
  harness.api->hold_after = 1;
  harness.api->hold_for = 200ms; // the second heartbeat takes 200 ms to be answered
  hook::gate::LifecycleGate gate(
    k_action, harness.api, {30s, config::OnError::abandon, 30s, 5s}, harness.context());
  const auto outcome = gate.run(
    [&](std::stop_token) {
      harness.api->wait_for_heartbeats(2);
      return summary_of(Status::pass);
    },
    {});
  CHECK(outcome.accepted);
  CHECK(outcome.heartbeats_recorded == 2);
  std::vector<std::string> order;
  for (const auto& call : harness.api->calls()) {
    order.push_back(call.action);
  }
  CHECK(order
        == std::vector<std::string>{"RecordLifecycleActionHeartbeat",
                                    "RecordLifecycleActionHeartbeat",
                                    "(answered)",
                                    "CompleteLifecycleAction"});
}

TEST_CASE("gate::LifecycleGate: fail abandons, error abandons unless on_error = continue",
          "[lifecycle]")
{
  {
    Harness harness;
    const auto outcome = harness.run(
      summary_of(Status::fail, {Status::pass, Status::fail}), 1, config::OnError::proceed);
    CHECK(outcome.result == "ABANDON");
    CHECK(outcome.accepted);
    CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_fail);
    const auto line = hook::gate::outcome_line(k_action, outcome);
    CHECK(line
          == "ABANDON accepted for i-0123456789abcdef0 (group rg-asg, hook rg-launch-hook): fail, "
             "2 checks: 1 pass, 1 fail; check-2 (fail): exit code 1, expected 0 (2.500s, 1 "
             "heartbeat)");
  }
  {
    Harness harness;
    const auto outcome = harness.run(summary_of(Status::error), 1);
    CHECK(outcome.result == "ABANDON");
    CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_error);
  }
  {
    Harness harness;
    const auto outcome = harness.run(summary_of(Status::error), 1, config::OnError::proceed);
    CHECK(outcome.result == "CONTINUE");
    CHECK(outcome.accepted);
    CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_pass);
  }
}

TEST_CASE("gate::LifecycleGate: a check seen failing beside one that could not be verified "
          "abandons with on_error = continue, and the line names the failing check",
          "[lifecycle]")
{
  {
    Harness harness;
    // The unverifiable check comes first in config order; the failing one decides.
    const auto outcome = harness.run(
      summary_of(Status::error, {Status::error, Status::fail}), 1, config::OnError::proceed);
    CHECK(outcome.result == "ABANDON");
    CHECK(outcome.accepted);
    CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_error); // error outranks fail
    CHECK(hook::gate::outcome_line(k_action, outcome)
          == "ABANDON accepted for i-0123456789abcdef0 (group rg-asg, hook rg-launch-hook): "
             "error, 2 checks: 1 fail, 1 error; check-2 (fail): exit code 1, expected 0 (2.500s, "
             "1 heartbeat)");
  }
  {
    Harness harness;
    auto summary = summary_of(Status::error);
    summary.results[0].result.message =
      "the run deadline (3s) passed during attempt 3; attempt 2: fail: exit code 1, expected 0";
    summary.results[0].attempts = 3;
    summary.results[0].seen_failing = true;
    summary.seen_failing = true;
    summary.deadline_reached = true;
    const auto outcome = harness.run(summary, 1, config::OnError::proceed);
    CHECK(outcome.result == "ABANDON");
    CHECK(harness.api->calls_of("CompleteLifecycleAction").size() == 1);
    CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_error);
    CHECK_THAT(hook::gate::outcome_line(k_action, outcome),
               Catch::Contains("error, 1 check: 1 error; check-1 (error, seen failing): the run "
                               "deadline (3s) passed during attempt 3; attempt 2: fail: "));
  }
}

TEST_CASE("gate::LifecycleGate: SIGTERM stops the checks and still sends ABANDON", "[lifecycle]")
{
  Harness harness;
  std::stop_source interrupt;
  harness.api->hold_after = 1;
  hook::gate::LifecycleGate gate(
    k_action, harness.api, {30s, config::OnError::proceed, 30s, 0ms}, harness.context());
  bool stopped = false;
  const auto outcome = gate.run(
    [&](std::stop_token checks) {
      harness.api->wait_for_heartbeats(1);
      interrupt.request_stop();
      stopped = checks.stop_requested();
      auto summary = summary_of(Status::error);
      summary.interrupted = true;
      return summary;
    },
    interrupt.get_token());
  CHECK(stopped);
  CHECK(outcome.interrupted);
  CHECK(outcome.result == "ABANDON"); // on_error = "continue" does not admit an interrupted run
  CHECK(outcome.accepted);
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_error);
}

TEST_CASE("gate::LifecycleGate: no active action on a heartbeat stops the checks, nothing is sent",
          "[lifecycle]")
{
  Harness harness;
  harness.api->script["RecordLifecycleActionHeartbeat"] = {ok_answer(), no_active_action()};
  hook::gate::LifecycleGate gate(
    k_action, harness.api, {30s, config::OnError::abandon, 30s, 0ms}, harness.context());
  std::mutex mutex;
  std::condition_variable_any stopped;
  const auto outcome = gate.run(
    [&](std::stop_token checks) {
      std::unique_lock lock(mutex);
      // A run of the checks that ends only when asked to (or after 10 s of real time).
      const bool asked = !stopped.wait_for(lock, checks, 10s, [] { return false; });
      auto summary = summary_of(Status::error);
      summary.interrupted = asked;
      return summary;
    },
    {});
  CHECK(outcome.summary.interrupted);
  CHECK(outcome.no_active_action);
  CHECK(outcome.result.empty());
  CHECK_FALSE(outcome.accepted);
  CHECK(outcome.heartbeats_recorded == 1);
  CHECK(harness.api->calls_of("CompleteLifecycleAction").empty());
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_error);
  CHECK_THAT(outcome.detail,
             Catch::Contains("No active Lifecycle Action found")
               && Catch::Contains("the hook timed out"));
  CHECK_THAT(
    hook::gate::outcome_line(k_action, outcome),
    Catch::StartsWith("no result sent for i-0123456789abcdef0 (group rg-asg, hook "
                      "rg-launch-hook): ValidationError: No active Lifecycle Action found"));
}

TEST_CASE("gate::LifecycleGate: heartbeat trouble is logged and does not stop the checks, "
          "completion is final on no active action",
          "[lifecycle]")
{
  Harness harness;
  // The first heartbeat is throttled until its interval is over; the second works.
  harness.api->script["RecordLifecycleActionHeartbeat"] =
    std::deque<util::Result<ApiAnswer>>(7, aws_error(400, "Throttling", "Rate exceeded"));
  // A throttled request was not carried out: the "no active action" that follows is final.
  harness.api->script["CompleteLifecycleAction"] = {aws_error(400, "Throttling", "Rate exceeded"),
                                                    no_active_action()};
  const auto outcome = harness.run(summary_of(Status::pass), 8);
  CHECK(outcome.heartbeats_failed == 1);
  CHECK(outcome.heartbeats_recorded == 1);
  CHECK(outcome.result == "CONTINUE");
  CHECK_FALSE(outcome.accepted);
  CHECK_FALSE(outcome.acceptance_unknown);
  CHECK(outcome.no_active_action);
  CHECK(outcome.completion_attempts == 2);
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_error);
  const auto heartbeats = harness.api->calls_of("RecordLifecycleActionHeartbeat");
  // The retries of the first (0, 375ms, 1.125s, ... 23.625s) stay within its interval; the next
  // heartbeat comes on time.
  REQUIRE(heartbeats.size() == 9);
  CHECK(heartbeats[6].at == 23625ms);
  CHECK(heartbeats[7].at == 30s);
  CHECK(heartbeats[8].at == 60s);
  const auto logged = fmt::format("{}", fmt::join(harness.logged, "\n"));
  CHECK_THAT(logged, Catch::Contains("heartbeat not recorded (") && Catch::Contains("Throttling"));
  CHECK_THAT(hook::gate::outcome_line(k_action, outcome),
             Catch::StartsWith("CONTINUE not accepted for i-0123456789abcdef0 (group rg-asg, hook "
                               "rg-launch-hook): ValidationError: No active Lifecycle Action"));
}

TEST_CASE("gate::LifecycleGate: a completion attempt without an answer, then \"no active "
          "action\": the outcome is unknown, not refused",
          "[lifecycle]")
{
  const auto record_of = [](const hook::gate::GateOutcome& outcome) {
    hook::gate::LifecycleRecord record;
    record.hook_name = "rg-launch-hook";
    record.outcome = &outcome;
    record.line = hook::gate::outcome_line(k_action, outcome);
    record.exit_code = hook::gate::exit_code_of(outcome);
    return boost::json::parse(hook::gate::lifecycle_result_json(record)).as_object();
  };
  {
    // The CONTINUE went through and its answer was lost; the retry finds the action completed.
    Harness harness;
    harness.api->script["CompleteLifecycleAction"] = {
      util::make_error(util::Errc::timeout, "operation timed out after 10000 milliseconds"),
      no_active_action()};
    const auto outcome = harness.run(summary_of(Status::pass), 1);
    CHECK(outcome.result == "CONTINUE");
    CHECK_FALSE(outcome.accepted);
    CHECK(outcome.acceptance_unknown);
    CHECK(outcome.no_active_action);
    CHECK(outcome.completion_attempts == 2);
    CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_error); // 0 only once accepted
    const auto line = hook::gate::outcome_line(k_action, outcome);
    CHECK_THAT(
      line,
      Catch::StartsWith(
        "CONTINUE sent, outcome unknown, for i-0123456789abcdef0 (group rg-asg, hook "
        "rg-launch-hook): attempt 1 got no definite answer (operation timed out after 10000 "
        "milliseconds), then attempt 2 was answered ValidationError: No active "
        "Lifecycle Action found"));
    CHECK_THAT(line, Catch::Contains("attempt 1 most likely completed the action"));
    CHECK_THAT(line, !Catch::Contains("not accepted"));
    const auto document = record_of(outcome);
    CHECK(document.at("result") == "CONTINUE");
    CHECK(document.at("accepted").is_null());
    CHECK(document.at("no_active_action") == true);
    CHECK(document.at("exit_code") == 2);
  }
  {
    // The same for ABANDON, after a dropped connection and a 500: a failed check still exits 1.
    Harness harness;
    harness.api->script["CompleteLifecycleAction"] = {
      util::make_error(util::Errc::network, "connection reset by peer"),
      aws_error(500, "InternalFailure", "An internal error occurred."),
      no_active_action()};
    const auto outcome = harness.run(summary_of(Status::fail), 1);
    CHECK(outcome.result == "ABANDON");
    CHECK(outcome.acceptance_unknown);
    CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_fail);
    CHECK_THAT(
      hook::gate::outcome_line(k_action, outcome),
      Catch::StartsWith("ABANDON sent, outcome unknown, for ")
        && Catch::Contains("attempt 1 got no definite answer (connection reset by peer), then "
                           "attempt 3 was answered"));
    CHECK(record_of(outcome).at("accepted").is_null());
  }
  {
    // A 5xx is no sure refusal either: the service may have acted before it failed.
    Harness harness;
    harness.api->script["CompleteLifecycleAction"] = {aws_error(500, "InternalFailure"),
                                                      no_active_action()};
    const auto outcome = harness.run(summary_of(Status::pass), 1);
    CHECK(outcome.acceptance_unknown);
    CHECK_THAT(outcome.detail,
               Catch::StartsWith("attempt 1 got no definite answer (InternalFailure: "));
  }
  {
    // Throttled and refused answers were not carried out: "no active action" keeps its meaning.
    Harness harness;
    harness.api->script["CompleteLifecycleAction"] = {
      aws_error(400, "Throttling", "Rate exceeded"),
      aws_error(500, "ResourceContention", "You already have a pending update"),
      no_active_action()};
    const auto outcome = harness.run(summary_of(Status::pass), 1);
    CHECK_FALSE(outcome.acceptance_unknown);
    CHECK(outcome.no_active_action);
    CHECK_THAT(outcome.detail, Catch::Contains("the hook timed out (its HeartbeatTimeout passed)"));
    CHECK(record_of(outcome).at("accepted") == false);
  }
  {
    // No answer to any attempt within the budget: each may have gone through.
    Harness harness;
    harness.api->script["CompleteLifecycleAction"] =
      std::deque<util::Result<ApiAnswer>>(100, util::make_error(util::Errc::network, "reset"));
    const auto outcome = harness.run(summary_of(Status::pass), 1);
    CHECK(outcome.acceptance_unknown);
    CHECK_THAT(
      outcome.detail,
      Catch::StartsWith("no answer accepted within 30s (")
        && Catch::EndsWith("; attempt 1 got no definite answer (reset), so it may have completed "
                           "the action before its answer was lost"));
    CHECK(record_of(outcome).at("accepted").is_null());
  }
}

TEST_CASE("gate::LifecycleGate: a heartbeat without an answer cannot complete the action: the "
          "\"no active action\" after it still means the hook timed out or was completed",
          "[lifecycle]")
{
  Harness harness;
  harness.api->script["RecordLifecycleActionHeartbeat"] = {
    util::make_error(util::Errc::network, "connection reset by peer"), no_active_action()};
  hook::gate::LifecycleGate gate(
    k_action, harness.api, {30s, config::OnError::abandon, 30s, 0ms}, harness.context());
  std::mutex mutex;
  std::condition_variable_any stopped;
  const auto outcome = gate.run(
    [&](std::stop_token checks) {
      std::unique_lock lock(mutex);
      const bool asked = !stopped.wait_for(lock, checks, 10s, [] { return false; });
      auto summary = summary_of(Status::error);
      summary.interrupted = asked;
      return summary;
    },
    {});
  CHECK(outcome.no_active_action);
  CHECK_FALSE(outcome.acceptance_unknown);
  CHECK(outcome.result.empty());
  CHECK(harness.api->calls_of("CompleteLifecycleAction").empty());
  CHECK_THAT(outcome.detail, Catch::Contains("the hook timed out"));
}

TEST_CASE("gate::LifecycleGate: a signal after every check passed: CONTINUE goes out, and the line "
          "says a signal came",
          "[lifecycle]")
{
  {
    // While the CONTINUE is being sent (its first attempt is throttled, then it is accepted).
    Harness harness;
    std::stop_source interrupt;
    harness.api->script["CompleteLifecycleAction"] = {aws_error(400, "Throttling")};
    harness.api->on_call = [&](const hook::gate::QueryAction& action) {
      if (action.name == "CompleteLifecycleAction") {
        interrupt.request_stop();
      }
    };
    harness.api->hold_after = 1;
    hook::gate::LifecycleGate gate(
      k_action, harness.api, {30s, config::OnError::abandon, 30s, 0ms}, harness.context());
    const auto outcome = gate.run(
      [&](std::stop_token) {
        harness.api->wait_for_heartbeats(1);
        return summary_of(Status::pass);
      },
      interrupt.get_token());
    CHECK(outcome.result == "CONTINUE");
    CHECK(outcome.accepted);
    CHECK(outcome.completion_attempts == 2); // the signal did not stop the retry
    CHECK_FALSE(outcome.interrupted);
    CHECK(outcome.signal_while_completing);
    CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_pass);
    CHECK(hook::gate::outcome_line(k_action, outcome)
          == "CONTINUE accepted for i-0123456789abcdef0 (group rg-asg, hook rg-launch-hook): "
             "pass, 1 check: 1 pass; a signal came while CONTINUE was being sent, and it went "
             "out regardless (2.500s, 1 heartbeat)");
    hook::gate::LifecycleRecord record;
    record.outcome = &outcome;
    const auto document = boost::json::parse(hook::gate::lifecycle_result_json(record)).as_object();
    CHECK(document.at("signal_while_completing") == true);
    CHECK(document.at("interrupted") == false);
  }
  {
    // After the checks ended, before the result was decided: every check passed, so CONTINUE.
    Harness harness;
    std::stop_source interrupt;
    harness.api->hold_after = 1;
    hook::gate::LifecycleGate gate(
      k_action, harness.api, {30s, config::OnError::abandon, 30s, 0ms}, harness.context());
    const auto outcome = gate.run(
      [&](std::stop_token) {
        harness.api->wait_for_heartbeats(1);
        interrupt.request_stop();
        return summary_of(Status::pass);
      },
      interrupt.get_token());
    CHECK(outcome.result == "CONTINUE");
    CHECK(outcome.interrupted);
    CHECK_FALSE(outcome.signal_while_completing);
    CHECK_THAT(hook::gate::outcome_line(k_action, outcome),
               Catch::StartsWith("CONTINUE accepted for ")
                 && Catch::Contains("pass, 1 check: 1 pass; a signal came after the checks "
                                    "ended, before the result was sent ("));
  }
}

TEST_CASE("gate::LifecycleGate: completion gives up after its budget", "[lifecycle]")
{
  Harness harness;
  harness.api->script["CompleteLifecycleAction"] =
    std::deque<util::Result<ApiAnswer>>(100, util::make_error(util::Errc::network, "refused"));
  const auto before = harness.clock.now();
  const auto outcome = harness.run(summary_of(Status::pass), 1);
  CHECK(outcome.result == "CONTINUE");
  CHECK_FALSE(outcome.accepted);
  CHECK_FALSE(outcome.no_active_action);
  CHECK_THAT(outcome.detail, Catch::StartsWith("no answer accepted within 30s ("));
  CHECK(hook::gate::exit_code_of(outcome) == hook::k_exit_error);
  const auto completions = harness.api->calls_of("CompleteLifecycleAction");
  REQUIRE(completions.size() > 2);
  CHECK(completions.back().at - completions.front().at < 30s);
  CHECK(harness.clock.now() - before < 30s + 30s + 1s);
}

namespace {

class MapImds final : public hook::gate::Imds
{
public:
  std::map<std::string, std::string, std::less<>> items;
  std::deque<util::Error> failures;
  std::vector<std::string> read_items;

  util::Result<std::optional<std::string>>
  read(std::string_view item, const CallLimits&) override
  {
    read_items.emplace_back(item);
    if (!failures.empty()) {
      auto error = failures.front();
      failures.pop_front();
      return error;
    }
    const auto found = items.find(item);
    if (found == items.end()) {
      return std::optional<std::string>();
    }
    return std::optional<std::string>(found->second);
  }
};

std::map<std::string, std::string, std::less<>>
ec2_items()
{
  return {{"meta-data/instance-id", "i-0123456789abcdef0"},
          {"meta-data/placement/region", "eu-west-1"},
          {"meta-data/services/domain", "amazonaws.com"},
          {"meta-data/autoscaling/target-lifecycle-state", "InService"},
          {"meta-data/tags/instance/aws:autoscaling:groupName", "web-asg\n"}};
}

config::LifecycleSettings
settings_with(std::string_view extra = "")
{
  const auto parsed = config::parse_config(
    fmt::format("[lifecycle]\nhook_name = \"rg-launch-hook\"\n{}\n[[check]]\nid = \"a\"\nkind = "
                "\"tcp\"\naddress = \"127.0.0.1:1\"\n",
                extra),
    "t.toml",
    "/");
  INFO(testutil::error_message(parsed));
  REQUIRE(parsed);
  return *parsed->lifecycle;
}

} // namespace

TEST_CASE("gate::discover_instance: identity, region, endpoint, target state and group from IMDS",
          "[lifecycle]")
{
  Harness harness;
  auto context = harness.context();
  MapImds imds;
  imds.items = ec2_items();
  const auto limits = harness.limits(10s);

  const auto found = hook::gate::discover_instance(imds, settings_with(), limits, context);
  REQUIRE(found);
  CHECK(found->instance_id == "i-0123456789abcdef0");
  CHECK(found->region == "eu-west-1");
  CHECK(found->region_source == "IMDS meta-data/placement/region");
  CHECK(found->endpoint == "https://autoscaling.eu-west-1.amazonaws.com");
  CHECK(found->target_state == "InService");
  CHECK(found->group_name == "web-asg");
  CHECK(found->group_source == "instance tag aws:autoscaling:groupName");

  // The config wins; China's partition has its own domain.
  imds.items["meta-data/services/domain"] = "amazonaws.com.cn";
  const auto configured = hook::gate::discover_instance(
    imds, settings_with("group_name = \"other\"\nregion = \"cn-north-1\""), limits, context);
  REQUIRE(configured);
  CHECK(configured->group_name == "other");
  CHECK(configured->group_source == "config");
  CHECK(configured->endpoint == "https://autoscaling.cn-north-1.amazonaws.com.cn");

  // No tag (InstanceMetadataTags disabled), no target state (404).
  imds.items.erase("meta-data/tags/instance/aws:autoscaling:groupName");
  imds.items.erase("meta-data/autoscaling/target-lifecycle-state");
  const auto untagged = hook::gate::discover_instance(imds, settings_with(), limits, context);
  REQUIRE(untagged);
  CHECK(untagged->group_name.empty());
  CHECK_FALSE(untagged->target_state);

  imds.items["meta-data/instance-id"] = "i-xyz; rm -rf /";
  const auto odd = hook::gate::discover_instance(imds, settings_with(), limits, context);
  REQUIRE_FALSE(odd);
  CHECK_THAT(odd.error().message, Catch::Contains("is not an instance id"));
}

TEST_CASE("gate::discover_instance: IMDS out of reach is retried a few times, then said plainly",
          "[lifecycle]")
{
  Harness harness;
  auto context = harness.context();
  MapImds imds;
  imds.items = ec2_items();
  const auto limits = harness.limits(60s);

  // Two 500s, then answers.
  imds.failures = {util::make_error(util::Errc::network, "answered 500"),
                   util::make_error(util::Errc::network, "answered 500")};
  CHECK(hook::gate::discover_instance(imds, settings_with(), limits, context));

  imds.failures = std::deque<util::Error>(
    10, util::make_error(util::Errc::network, "instance metadata service: connection refused"));
  const auto waits_before = harness.clock.waits().size();
  const auto down = hook::gate::discover_instance(imds, settings_with(), limits, context);
  REQUIRE_FALSE(down);
  CHECK(down.error().code == util::Errc::network);
  CHECK(down.error().message
        == "meta-data/instance-id at http://169.254.169.254: instance metadata service: connection "
           "refused (4 attempts): not an EC2 instance, or its metadata service is disabled "
           "(HttpEndpoint) or out of reach");
  CHECK(harness.clock.waits().size() - waits_before == 3);

  // What another try cannot fix is not retried.
  imds.failures = {util::make_error(util::Errc::permission, "403")};
  const auto reads = imds.read_items.size();
  CHECK_FALSE(hook::gate::discover_instance(imds, settings_with(), limits, context));
  CHECK(imds.read_items.size() == reads + 1);
}

TEST_CASE("gate::discover_group: DescribeAutoScalingInstances names the group, or none",
          "[lifecycle]")
{
  Harness harness;
  auto context = harness.context();
  const auto limits = harness.limits(60s);
  hook::gate::Discovery discovery;
  discovery.instance_id = "i-0123456789abcdef0";
  auto answer = ok_answer();
  answer.body =
    "<DescribeAutoScalingInstancesResponse><DescribeAutoScalingInstancesResult>"
    "<AutoScalingInstances><member><AutoScalingGroupName>described</AutoScalingGroupName>"
    "<LifecycleState>Pending:Wait</LifecycleState></member></AutoScalingInstances>"
    "</DescribeAutoScalingInstancesResult></DescribeAutoScalingInstancesResponse>";
  harness.api->script["DescribeAutoScalingInstances"] = {aws_error(400, "Throttling"), answer};
  REQUIRE(hook::gate::discover_group(discovery, *harness.api, limits, context));
  CHECK(discovery.group_name == "described");
  CHECK(discovery.group_source == "DescribeAutoScalingInstances");
  CHECK(discovery.current_state == "Pending:Wait");
  CHECK(harness.api->calls_of("DescribeAutoScalingInstances")[0].params
        == hook::gate::QueryParams{{"InstanceIds.member.1", "i-0123456789abcdef0"}});

  answer.body = "<DescribeAutoScalingInstancesResponse/>";
  harness.api->script["DescribeAutoScalingInstances"] = {answer};
  const auto none = hook::gate::discover_group(discovery, *harness.api, limits, context);
  REQUIRE_FALSE(none);
  CHECK_THAT(none.error().message, Catch::Contains("is in no Auto Scaling group"));

  harness.api->script["DescribeAutoScalingInstances"] = {
    aws_error(403, "AccessDenied", "not authorized")};
  const auto denied = hook::gate::discover_group(discovery, *harness.api, limits, context);
  REQUIRE_FALSE(denied);
  CHECK_THAT(denied.error().message,
             Catch::Contains("AccessDenied: not authorized") && Catch::Contains("set group_name"));
}

TEST_CASE("gate::target_kind: which states have a launch action to complete", "[lifecycle]")
{
  using hook::gate::TargetKind;
  CHECK(hook::gate::target_kind(std::string("InService")) == TargetKind::in_service);
  CHECK(hook::gate::target_kind(std::string("Warmed:Stopped")) == TargetKind::warmed);
  CHECK(hook::gate::target_kind(std::string("Warmed:Running")) == TargetKind::warmed);
  CHECK(hook::gate::target_kind(std::string("Warmed:Hibernated")) == TargetKind::warmed);
  CHECK(hook::gate::target_kind(std::string("Warmed:Terminated")) == TargetKind::not_launching);
  CHECK(hook::gate::target_kind(std::string("Terminated")) == TargetKind::not_launching);
  CHECK(hook::gate::target_kind(std::string("Detached")) == TargetKind::not_launching);
  CHECK(hook::gate::target_kind(std::string("Standby")) == TargetKind::not_launching);
  CHECK(hook::gate::target_kind(std::nullopt) == TargetKind::unknown);
  CHECK(hook::gate::target_kind(std::string("Quarantined")) == TargetKind::unknown);
}

TEST_CASE("gate::lifecycle_result_json: the decision, what was found, and the report",
          "[lifecycle]")
{
  Harness harness;
  const auto outcome = harness.run(summary_of(Status::pass), 2);
  hook::gate::Discovery discovery;
  discovery.instance_id = "i-0123456789abcdef0";
  discovery.group_name = "rg-asg";
  discovery.group_source = "config";
  discovery.region = "us-east-1";
  discovery.target_state = "InService";
  hook::gate::LifecycleRecord record;
  record.hook_name = "rg-launch-hook";
  record.discovery = &discovery;
  record.outcome = &outcome;
  record.line = hook::gate::outcome_line(k_action, outcome);
  record.exit_code = hook::gate::exit_code_of(outcome);
  record.started = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  const auto text = hook::gate::lifecycle_result_json(record);
  CHECK(text.ends_with("}\n"));
  const auto document = boost::json::parse(text).as_object();
  CHECK(document.at("schema") == "readygate.lifecycle/1");
  CHECK(document.at("result") == "CONTINUE");
  CHECK(document.at("accepted") == true);
  CHECK(document.at("exit_code") == 0);
  CHECK(document.at("instance_id") == "i-0123456789abcdef0");
  CHECK(document.at("target_lifecycle_state") == "InService");
  CHECK(document.at("lifecycle_state").is_null());
  CHECK(document.at("heartbeats").at("recorded") == 2);
  CHECK(document.at("started") == "2023-11-14T22:13:20.000Z");
  CHECK(document.at("report").at("schema") == "readygate.report/1");
  CHECK(document.at("report").at("checks").as_array().size() == 1);

  hook::gate::LifecycleRecord nothing;
  nothing.hook_name = "rg-launch-hook";
  nothing.line = "no result sent: instance metadata service down";
  const auto empty = boost::json::parse(hook::gate::lifecycle_result_json(nothing)).as_object();
  CHECK(empty.at("result").is_null());
  CHECK(empty.at("accepted") == false);
  CHECK(empty.at("exit_code") == 2);
  CHECK(empty.at("instance_id").is_null());
  CHECK(empty.at("report").is_null());
}

TEST_CASE("gate::write_result_file: atomic, 0600, creates its directory, replaces a symlink "
          "without following it",
          "[lifecycle]")
{
  testutil::TempDir dir;
  const auto path = dir.path() / "run" / "readygate" / "lifecycle.json";
  // The report holds what the checks saw: readable by its owner only, whatever the umask.
  const auto umask_before = ::umask(0);
  const auto written = hook::gate::write_result_file(path, "{\"a\":1}\n");
  ::umask(umask_before);
  REQUIRE(written);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == "{\"a\":1}\n");
  struct stat info
  {
  };
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0600);
  // A file there with a wider mode is replaced, not written through with its mode.
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  REQUIRE(hook::gate::write_result_file(path, "{}\n"));
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 07777) == 0600);

  const auto victim = dir.path() / "victim";
  testutil::write_file(victim, "keep me");
  std::filesystem::remove(path);
  std::filesystem::create_symlink(victim, path);
  REQUIRE(hook::gate::write_result_file(path, "{}\n"));
  CHECK_FALSE(std::filesystem::is_symlink(path));
  std::ifstream kept(victim);
  std::string victim_text((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>());
  CHECK(victim_text == "keep me");
  // Nothing left behind.
  CHECK(std::distance(std::filesystem::directory_iterator(path.parent_path()),
                      std::filesystem::directory_iterator())
        == 1);

  std::filesystem::create_directories(dir.path() / "is-a-dir");
  const auto refused = hook::gate::write_result_file(dir.path() / "is-a-dir", "{}");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == util::Errc::io);
}
