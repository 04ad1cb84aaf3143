#include "testutil.hpp"

#include <hook/outcome.hpp>
#include <hook/runner.hpp>

#include <sys/resource.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <thread>

using namespace std::chrono_literals;
using hook::CheckResult;
using hook::Status;

namespace {

// A check whose behaviour is a function of its attempt number.
class ScriptedCheck final : public hook::Check
{
public:
  explicit ScriptedCheck(std::function<CheckResult(unsigned, const hook::CheckContext&)> script)
      : m_script(std::move(script))
  {}

  CheckResult
  run(const hook::CheckContext& ctx) const override
  {
    return m_script(++m_attempts, ctx);
  }

  unsigned
  attempts() const
  {
    return m_attempts;
  }

private:
  std::function<CheckResult(unsigned, const hook::CheckContext&)> m_script;
  mutable std::atomic<unsigned> m_attempts{0};
};

hook::PlannedCheck
planned(std::string id,
        std::shared_ptr<const hook::Check> check,
        std::chrono::milliseconds timeout = 5s)
{
  hook::PlannedCheck entry;
  entry.id = std::move(id);
  entry.kind = "scripted";
  entry.timeout = timeout;
  entry.check = std::move(check);
  return entry;
}

std::shared_ptr<ScriptedCheck>
returning(Status status, std::chrono::milliseconds delay = 0ms)
{
  return std::make_shared<ScriptedCheck>([status, delay](unsigned, const hook::CheckContext&) {
    std::this_thread::sleep_for(delay);
    return CheckResult{status, std::string(hook::status_name(status)), {}, 0};
  });
}

hook::RunOptions
options(std::chrono::milliseconds deadline = 10s, unsigned concurrency = 4)
{
  hook::RunOptions run;
  run.deadline = deadline;
  run.retry_interval = 50ms;
  run.concurrency = concurrency;
  return run;
}

} // namespace

TEST_CASE("hook::run_checks: results in config order, verdict and exit code", "[runner]")
{
  const std::vector checks = {planned("slow-pass", returning(Status::pass, 200ms)),
                              planned("fast-fail", returning(Status::fail)),
                              planned("pass", returning(Status::pass))};
  const auto summary = hook::run_checks(checks, {}, options());
  REQUIRE(summary.results.size() == 3);
  CHECK(summary.results[0].id == "slow-pass");
  CHECK(summary.results[0].result.status == Status::pass);
  CHECK(summary.results[0].duration >= 200ms);
  CHECK(summary.results[1].id == "fast-fail");
  CHECK(summary.results[1].result.status == Status::fail);
  CHECK(summary.results[2].attempts == 1);
  CHECK(summary.verdict == Status::fail);
  CHECK(hook::exit_code_for(summary.verdict) == 1);
  CHECK_FALSE(summary.deadline_reached);
}

TEST_CASE("hook::verdict_of: error outranks fail outranks pass, skip counts as pass", "[runner]")
{
  const auto with = [](std::vector<Status> statuses) {
    std::vector<hook::ReportedResult> results;
    for (const auto status : statuses) {
      results.push_back({"x", "k", CheckResult{status, "", {}, 0}, 0ms, 1});
    }
    return hook::verdict_of(results);
  };
  CHECK(with({Status::pass, Status::skip}) == Status::pass);
  CHECK(with({Status::skip}) == Status::pass);
  CHECK(with({Status::pass, Status::fail}) == Status::fail);
  CHECK(with({Status::error, Status::fail, Status::pass}) == Status::error);
  CHECK(with({Status::fail, Status::error}) == Status::error);
  CHECK(hook::exit_code_for(Status::pass) == 0);
  CHECK(hook::exit_code_for(Status::error) == 2);
}

TEST_CASE("hook::run_checks: an escaping exception becomes an error", "[runner]")
{
  const auto throwing = std::make_shared<ScriptedCheck>(
    [](unsigned, const hook::CheckContext&) -> CheckResult { throw std::runtime_error("boom"); });
  const auto summary = hook::run_checks({planned("t", throwing)}, {}, options());
  CHECK(summary.results[0].result.status == Status::error);
  CHECK(summary.results[0].result.message == "unexpected exception: boom");
  CHECK(summary.verdict == Status::error);
}

TEST_CASE("hook::run_checks: concurrency is bounded and used", "[runner]")
{
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  const auto counting = std::make_shared<ScriptedCheck>([&](unsigned, const hook::CheckContext&) {
    const int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(100ms);
    --running;
    return CheckResult::pass("ok");
  });
  std::vector<hook::PlannedCheck> checks;
  for (int i = 0; i < 6; ++i) {
    checks.push_back(planned("c" + std::to_string(i), counting));
  }
  const auto started = util::Clock::now();
  const auto summary = hook::run_checks(checks, {}, options(10s, 2));
  const auto took = util::Clock::now() - started;
  CHECK(summary.verdict == Status::pass);
  CHECK(peak.load() == 2);
  CHECK(took >= 300ms); // 6 checks of 100 ms, 2 at a time
  CHECK(took < 2s);
}

TEST_CASE("hook::run_checks: a check that outlives its timeout is an error and the run goes on",
          "[runner]")
{
  const auto hanging = std::make_shared<ScriptedCheck>([](unsigned, const hook::CheckContext&) {
    std::this_thread::sleep_for(3s); // ignores its deadline on purpose
    return CheckResult::pass("too late");
  });
  const auto started = util::Clock::now();
  const auto summary = hook::run_checks(
    {planned("hang", hanging, 200ms), planned("ok", returning(Status::pass))}, {}, options(10s, 2));
  const auto took = util::Clock::now() - started;
  CHECK(took < 1500ms);
  CHECK(summary.results[0].result.status == Status::error);
  CHECK(summary.results[0].result.message == "did not finish within its timeout (200ms)");
  CHECK(summary.results[1].result.status == Status::pass);
  CHECK(summary.attempts_abandoned);
  CHECK(summary.verdict == Status::error);
}

TEST_CASE("hook::run_checks: a check that honours its deadline reports its own message", "[runner]")
{
  const auto patient = std::make_shared<ScriptedCheck>([](unsigned, const hook::CheckContext& ctx) {
    while (!ctx.should_stop()) {
      std::this_thread::sleep_for(5ms);
    }
    return CheckResult::error("gave up at the deadline");
  });
  const auto summary = hook::run_checks({planned("p", patient, 100ms)}, {}, options());
  CHECK(summary.results[0].result.message == "gave up at the deadline");
  CHECK_FALSE(summary.attempts_abandoned);
}

TEST_CASE("hook::run_checks: retry until pass within the deadline", "[runner]")
{
  const auto flaky =
    std::make_shared<ScriptedCheck>([](unsigned attempt, const hook::CheckContext&) {
      return attempt < 3 ? CheckResult::fail("not yet") : CheckResult::pass("ready");
    });
  auto entry = planned("flaky", flaky);
  entry.retry = true;
  std::vector<unsigned> progress_attempts;
  auto run = options();
  run.on_progress = [&](const hook::Progress& progress) {
    progress_attempts.push_back(progress.attempt);
  };
  const auto summary = hook::run_checks({entry}, {}, run);
  CHECK(summary.results[0].result.status == Status::pass);
  CHECK(summary.results[0].attempts == 3);
  CHECK(progress_attempts == std::vector<unsigned>{1, 2, 3});
}

TEST_CASE("hook::run_checks: a check without retry is not re-run", "[runner]")
{
  const auto failing = returning(Status::fail);
  const auto summary = hook::run_checks({planned("f", failing)}, {}, options());
  CHECK(failing->attempts() == 1);
  CHECK(summary.results[0].attempts == 1);
}

TEST_CASE("hook::run_checks: retries stop at the run deadline with the last result", "[runner]")
{
  const auto never = returning(Status::fail);
  auto entry = planned("never", never);
  entry.retry = true;
  const auto started = util::Clock::now();
  const auto summary = hook::run_checks({entry}, {}, options(400ms));
  const auto took = util::Clock::now() - started;
  CHECK(took < 1s);
  CHECK(summary.results[0].result.status == Status::fail);
  CHECK(summary.results[0].attempts >= 3);
  CHECK(summary.verdict == Status::fail);
}

TEST_CASE("hook::run_checks: the run deadline cuts off running and unstarted checks", "[runner]")
{
  const auto long_check = returning(Status::pass, 2s);
  const auto started = util::Clock::now();
  const auto summary =
    hook::run_checks({planned("long", long_check), planned("queued", returning(Status::pass))},
                     {},
                     options(300ms, 1));
  CHECK(util::Clock::now() - started < 1s);
  CHECK(summary.deadline_reached);
  CHECK(summary.results[0].result.status == Status::error);
  CHECK_THAT(summary.results[0].result.message, Catch::Contains("run deadline (300ms)"));
  CHECK(summary.results[1].result.status == Status::error);
  CHECK_THAT(summary.results[1].result.message, Catch::StartsWith("not started"));
}

TEST_CASE("hook::run_checks: a stop request ends the run promptly with what finished", "[runner]")
{
  std::stop_source stop;
  auto run = options(30s);
  run.stop = stop.get_token();
  std::thread stopper([&] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  const auto started = util::Clock::now();
  const auto summary = hook::run_checks(
    {planned("quick", returning(Status::pass)), planned("slow", returning(Status::pass, 5s))},
    {},
    run);
  stopper.join();
  CHECK(util::Clock::now() - started < 1500ms);
  CHECK(summary.interrupted);
  CHECK(summary.results[0].result.status == Status::pass);
  CHECK(summary.results[1].result.status == Status::error);
  CHECK_THAT(summary.results[1].result.message, Catch::Contains("interrupted"));
  CHECK(summary.verdict == Status::error);
}

TEST_CASE("hook::run_checks: dependencies wait, and skip when they do not pass", "[runner]")
{
  std::atomic<bool> base_done{false};
  const auto base = std::make_shared<ScriptedCheck>([&](unsigned, const hook::CheckContext&) {
    std::this_thread::sleep_for(100ms);
    base_done = true;
    return CheckResult::pass("up");
  });
  const auto after = std::make_shared<ScriptedCheck>([&](unsigned, const hook::CheckContext&) {
    return base_done ? CheckResult::pass("ran after base") : CheckResult::fail("ran too early");
  });
  auto dependent = planned("after", after);
  dependent.depends_on = {"base"};
  auto blocked = planned("blocked", returning(Status::pass));
  blocked.depends_on = {"broken"};
  const auto summary = hook::run_checks(
    {planned("base", base), dependent, planned("broken", returning(Status::fail)), blocked},
    {},
    options());
  CHECK(summary.results[1].result.status == Status::pass);
  CHECK(summary.results[3].result.status == Status::skip);
  CHECK(summary.results[3].result.message == "dependency \"broken\" did not pass (fail)");
  CHECK(summary.verdict == Status::fail);
}

TEST_CASE(
  "hook::run_checks: a dependency that errored, or was skipped itself, holds back dependents",
  "[runner]")
{
  // The database could not be verified: the schema check on it must not run, nor what needs the
  // schema (skipped in turn, which is not a pass).
  const auto schema = returning(Status::pass);
  const auto api = returning(Status::pass);
  auto on_db = planned("schema", schema);
  on_db.depends_on = {"db"};
  auto on_schema = planned("api", api);
  on_schema.depends_on = {"schema"};
  const auto summary =
    hook::run_checks({planned("db", returning(Status::error)), on_db, on_schema}, {}, options());
  REQUIRE(summary.results.size() == 3);
  CHECK(summary.results[1].result.status == Status::skip);
  CHECK(summary.results[1].result.message == "dependency \"db\" did not pass (error)");
  CHECK(summary.results[2].result.status == Status::skip);
  CHECK(summary.results[2].result.message == "dependency \"schema\" did not pass (skip)");
  CHECK(schema->attempts() == 0);
  CHECK(api->attempts() == 0);
  CHECK(summary.verdict == Status::error);
}

TEST_CASE("hook::run_checks: unselected checks are skipped and do not block dependents", "[runner]")
{
  auto unselected = planned("off", returning(Status::fail));
  unselected.selected = false;
  auto dependent = planned("on", returning(Status::pass));
  dependent.depends_on = {"off"};
  const auto summary = hook::run_checks({unselected, dependent}, {}, options());
  CHECK(summary.results[0].result.status == Status::skip);
  CHECK(summary.results[0].attempts == 0);
  CHECK(summary.results[1].result.status == Status::pass);
  CHECK(summary.verdict == Status::pass);
}

TEST_CASE("hook::run_checks: each attempt gets its own deadline, capped by the run's", "[runner]")
{
  std::atomic<long long> seen_left_ms{0};
  const auto probe = std::make_shared<ScriptedCheck>([&](unsigned, const hook::CheckContext& ctx) {
    seen_left_ms = ctx.time_left().count();
    return CheckResult::pass("ok");
  });
  hook::run_checks({planned("p", probe, 1h)}, {}, options(2s));
  CHECK(seen_left_ms.load() > 1500);
  CHECK(seen_left_ms.load() <= 2000);
  hook::run_checks({planned("p", probe, 700ms)}, {}, options(1h));
  CHECK(seen_left_ms.load() > 400);
  CHECK(seen_left_ms.load() <= 700);
}

TEST_CASE("hook::run_checks: durations too long for the clock do not overflow it", "[runner]")
{
  constexpr auto forever = std::chrono::milliseconds::max();
  auto run = options(forever);
  run.retry_interval = forever;
  const auto summary = hook::run_checks({planned("p", returning(Status::pass), forever)}, {}, run);
  CHECK(summary.results[0].result.status == Status::pass);
  CHECK(summary.verdict == Status::pass);
  CHECK_FALSE(summary.deadline_reached);

  // The next attempt could only start after the deadline: it is not made at once instead.
  const auto failing = returning(Status::fail);
  auto entry = planned("f", failing);
  entry.retry = true;
  run.deadline = 300ms;
  const auto retried = hook::run_checks({entry}, {}, run);
  CHECK(failing->attempts() == 1);
  CHECK(retried.results[0].result.status == Status::fail);
}

namespace {

std::chrono::microseconds
thread_cpu_time()
{
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return std::chrono::seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
         + std::chrono::microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

} // namespace

TEST_CASE("hook::run_checks: a due retry waiting for a free slot does not spin", "[runner]")
{
  const auto flaky =
    std::make_shared<ScriptedCheck>([](unsigned attempt, const hook::CheckContext&) {
      return attempt < 2 ? CheckResult::fail("not yet") : CheckResult::pass("ready");
    });
  auto entry = planned("flaky", flaky);
  entry.retry = true;
  auto run = options(10s, 1);
  run.retry_interval = 20ms;
  const auto cpu_before = thread_cpu_time(); // the runner's loop runs on this thread
  const auto summary =
    hook::run_checks({entry, planned("slow", returning(Status::pass, 600ms))}, {}, run);
  const auto cpu = thread_cpu_time() - cpu_before;
  CHECK(summary.verdict == Status::pass);
  CHECK(summary.results[0].attempts == 2);
  CHECK(cpu < 150ms);
}

TEST_CASE("hook::run_checks: a cut-short attempt is given the grace to end before the run returns",
          "[runner]")
{
  std::atomic<bool> cleaned_up{false};
  const auto stoppable =
    std::make_shared<ScriptedCheck>([&](unsigned, const hook::CheckContext& ctx) {
      while (!ctx.should_stop()) {
        std::this_thread::sleep_for(5ms);
      }
      std::this_thread::sleep_for(50ms); // e.g. killing a process group and reaping it
      cleaned_up = true;
      return CheckResult::error("stopped");
    });
  std::stop_source stop;
  auto run = options(30s);
  run.stop = stop.get_token();
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    stop.request_stop();
  });
  const auto summary = hook::run_checks({planned("s", stoppable)}, {}, run);
  stopper.join();
  CHECK(cleaned_up.load());
  CHECK_FALSE(summary.attempts_abandoned);
  CHECK(summary.interrupted);
  CHECK(summary.results[0].result.status == Status::error);
  CHECK(summary.results[0].result.message == "did not finish: interrupted");

  cleaned_up = false;
  const auto timed = hook::run_checks({planned("s", stoppable)}, {}, options(200ms));
  CHECK(cleaned_up.load());
  CHECK_FALSE(timed.attempts_abandoned);
  CHECK(timed.deadline_reached);
  CHECK(timed.results[0].result.status == Status::error);
}

TEST_CASE("hook::run_checks: a check that skips itself is an error, never a pass", "[runner]")
{
  const auto skipping = returning(Status::skip);
  const auto summary = hook::run_checks({planned("lazy", skipping)}, {}, options());
  CHECK(summary.results[0].result.status == Status::error);
  CHECK(summary.results[0].result.message
        == "the check skipped itself (skip), which does not verify the host");
  CHECK(summary.verdict == Status::error);
}

TEST_CASE("hook::run_checks: an abandoned attempt still holds its worker, so a wedged check cannot "
          "pile up threads",
          "[runner]")
{
  // One worker, held by a check that ignores its deadline for longer than the run may last: the
  // next check never gets a worker and is an error at the run deadline, not a thread of its own.
  std::atomic<int> started{0};
  const auto wedged = std::make_shared<ScriptedCheck>([&](unsigned, const hook::CheckContext&) {
    ++started;
    std::this_thread::sleep_for(1500ms);
    return CheckResult::pass("too late");
  });
  auto first = planned("wedged", wedged, 100ms);
  first.retry = true;
  hook::Engine engine({}, 1);
  const auto run_started = util::Clock::now();
  const auto summary =
    engine.run({first, planned("next", returning(Status::pass))}, options(700ms, 1));
  CHECK(util::Clock::now() - run_started < 1200ms);
  CHECK(started.load() == 1); // the retry did not get a second thread either
  CHECK(engine.worker_threads() == 1);
  CHECK(summary.results[0].result.status == Status::error);
  CHECK(summary.results[1].result.status == Status::error);
  CHECK_THAT(summary.results[1].result.message, Catch::StartsWith("not started"));
  CHECK(summary.attempts_abandoned);
  CHECK(engine.abandoned_attempts() == 1);
}

namespace {

std::size_t
threads_of_this_process()
{
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++count;
  }
  return count;
}

} // namespace

TEST_CASE("hook::Engine: a run after one that abandoned a wedged attempt runs on time and leaves "
          "no thread behind",
          "[runner]")
{
  const auto threads_before = threads_of_this_process();
  {
    hook::Engine engine({}, 2);
    const auto wedged = std::make_shared<ScriptedCheck>([](unsigned, const hook::CheckContext&) {
      std::this_thread::sleep_for(800ms); // ignores its deadline
      return CheckResult::pass("too late");
    });
    const auto first = engine.run({planned("wedged", wedged, 100ms)}, options(10s, 2));
    CHECK(first.results[0].result.status == Status::error);
    CHECK(first.attempts_abandoned);

    // The second run has one free worker and gets on with it.
    const auto started = util::Clock::now();
    const auto second = engine.run(
      {planned("a", returning(Status::pass, 50ms)), planned("b", returning(Status::pass, 50ms))},
      options(10s, 2));
    CHECK(util::Clock::now() - started < 400ms);
    CHECK(second.verdict == Status::pass);
    CHECK_FALSE(second.attempts_abandoned);
    CHECK(engine.worker_threads() <= 2);

    // Once the wedged attempt returns, its worker is free again, and its late answer is dropped.
    std::this_thread::sleep_for(900ms);
    CHECK(engine.abandoned_attempts() == 0);
    const auto third =
      engine.run({planned("c", returning(Status::pass)), planned("d", returning(Status::pass))},
                 options(10s, 2));
    CHECK(third.verdict == Status::pass);
    CHECK(engine.worker_threads() <= 2);
  }
  // The engine's workers end with it (threads an earlier test abandoned may have ended too).
  for (int i = 0; i < 100 && threads_of_this_process() > threads_before; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(threads_of_this_process() <= threads_before);
}

TEST_CASE("hook::run_checks: 50,000 checks chained by depends_on are scheduled in linear time, "
          "and the deadline holds",
          "[runner]")
{
  std::vector<hook::PlannedCheck> checks;
  const auto passing = returning(Status::pass);
  for (int i = 0; i < 50'000; ++i) {
    auto entry = planned("c" + std::to_string(i), passing);
    if (i > 0) {
      entry.depends_on = {"c" + std::to_string(i - 1)};
    }
    checks.push_back(std::move(entry));
  }
  const auto started = util::Clock::now();
  const auto summary = hook::run_checks(checks, {}, options(1s, 4));
  const auto took = util::Clock::now() - started;
  CHECK(took < 1s + hook::k_abandon_grace + 500ms);
  // Either all of them ran in time, or the deadline cut the chain: never a pass by default.
  if (summary.deadline_reached) {
    CHECK(summary.verdict == Status::error);
  } else {
    CHECK(summary.verdict == Status::pass);
  }

  // A stop request is seen between any two events, not once per pass over the checks.
  std::stop_source stop;
  auto run = options(60s, 4);
  run.stop = stop.get_token();
  std::thread stopper([&] {
    std::this_thread::sleep_for(100ms);
    stop.request_stop();
  });
  const auto stop_started = util::Clock::now();
  const auto stopped = hook::run_checks(checks, {}, run);
  stopper.join();
  CHECK(util::Clock::now() - stop_started < 100ms + hook::k_abandon_grace + 500ms);
  CHECK(stopped.interrupted);
  CHECK(stopped.verdict == Status::error);
}

TEST_CASE("hook::run_checks: a run cut short while a check waits to retry makes it an error, "
          "whatever its last attempt said",
          "[runner]")
{
  const auto failing = returning(Status::fail);
  auto entry = planned("failing", failing);
  entry.retry = true;

  std::stop_source stop;
  auto run = options(30s);
  run.retry_interval = 10s;
  run.stop = stop.get_token();
  std::thread stopper([&] {
    std::this_thread::sleep_for(150ms);
    stop.request_stop();
  });
  const auto summary = hook::run_checks({entry}, {}, run);
  stopper.join();
  CHECK(summary.interrupted);
  CHECK(summary.results[0].result.status == Status::error);
  CHECK(summary.results[0].result.message == "interrupted before attempt 2; attempt 1: fail: fail");
  CHECK(summary.verdict == Status::error);
  CHECK(hook::exit_code_for(summary.verdict) == 2);

  // The same when the deadline cuts a retrying check short while it is running again.
  const auto slow_second =
    std::make_shared<ScriptedCheck>([](unsigned attempt, const hook::CheckContext&) {
      if (attempt == 1) {
        return CheckResult::fail("not yet");
      }
      std::this_thread::sleep_for(2s);
      return CheckResult::pass("too late");
    });
  auto slow = planned("slow", slow_second);
  slow.retry = true;
  const auto timed = hook::run_checks({slow}, {}, options(400ms));
  CHECK(timed.deadline_reached);
  CHECK(timed.results[0].result.status == Status::error);
  CHECK_THAT(
    timed.results[0].result.message,
    Catch::StartsWith("the run deadline (400ms) passed during attempt 2; attempt 1: fail"));
}

TEST_CASE("hook::run_checks: a check is seen failing when the last attempt that looked failed, "
          "also when a later one could not look",
          "[runner]")
{
  // No retry: a fail is seen failing, an error is not; neither is a dependent skipped for it.
  auto dependent = planned("dependent", returning(Status::pass));
  dependent.depends_on = {"failing"};
  const auto plain = hook::run_checks({planned("failing", returning(Status::fail)),
                                       planned("erroring", returning(Status::error)),
                                       dependent},
                                      {},
                                      options());
  CHECK(plain.results[0].seen_failing);
  CHECK_FALSE(plain.results[1].seen_failing);
  CHECK(plain.results[2].result.status == Status::skip);
  CHECK_FALSE(plain.results[2].seen_failing);
  CHECK(plain.verdict == Status::error); // error outranks fail...
  CHECK(plain.seen_failing);             // ...but the fail is not lost

  // A retry that passed in the end was not seen failing.
  const auto flaky =
    std::make_shared<ScriptedCheck>([](unsigned attempt, const hook::CheckContext&) {
      return attempt < 2 ? CheckResult::fail("not yet") : CheckResult::pass("ready");
    });
  auto recovered = planned("flaky", flaky);
  recovered.retry = true;
  const auto passed = hook::run_checks({recovered}, {}, options());
  CHECK(passed.results[0].result.status == Status::pass);
  CHECK_FALSE(passed.results[0].seen_failing);
  CHECK_FALSE(passed.seen_failing);

  // Failed, then could not look until the deadline: an error, seen failing.
  const auto then_blind =
    std::make_shared<ScriptedCheck>([](unsigned attempt, const hook::CheckContext&) {
      return attempt == 1 ? CheckResult::fail("wrong version")
                          : CheckResult::error("connection refused");
    });
  auto blind = planned("blind", then_blind);
  blind.retry = true;
  const auto errored = hook::run_checks({blind}, {}, options(300ms));
  CHECK(errored.results[0].result.status == Status::error);
  CHECK(errored.results[0].attempts >= 2);
  CHECK(errored.results[0].seen_failing);
  CHECK(errored.seen_failing);
}

TEST_CASE("hook::run_checks: a retry that failed every attempt it completed, its last one cut by "
          "the deadline, is an error seen failing",
          "[runner]")
{
  const auto slow_third =
    std::make_shared<ScriptedCheck>([](unsigned attempt, const hook::CheckContext& ctx) {
      if (attempt < 3) {
        return CheckResult::fail("exit code 1 (expected 0)");
      }
      while (!ctx.should_stop()) {
        std::this_thread::sleep_for(5ms);
      }
      return CheckResult::error("killed at the deadline");
    });
  auto entry = planned("app", slow_third);
  entry.retry = true;
  const auto summary = hook::run_checks({entry}, {}, options(500ms));
  CHECK(summary.deadline_reached);
  REQUIRE(summary.results[0].attempts == 3);
  CHECK(summary.results[0].result.status == Status::error);
  CHECK(summary.results[0].seen_failing);
  CHECK(summary.seen_failing);
  CHECK(summary.verdict == Status::error);
  CHECK(hook::exit_code_for(summary.verdict) == hook::k_exit_error); // error outranks fail

  // The same when a signal cuts it short while it waits for its next attempt.
  auto waiting = planned("waiting", returning(Status::fail));
  waiting.retry = true;
  std::stop_source stop;
  auto run = options(30s);
  run.retry_interval = 10s;
  run.stop = stop.get_token();
  std::thread stopper([&] {
    std::this_thread::sleep_for(150ms);
    stop.request_stop();
  });
  const auto interrupted = hook::run_checks({waiting}, {}, run);
  stopper.join();
  CHECK(interrupted.results[0].result.status == Status::error);
  CHECK(interrupted.results[0].seen_failing);
  CHECK(interrupted.seen_failing);
}

TEST_CASE("hook::outcome: one verdict, the same answer by every route", "[runner]")
{
  CHECK(hook::exit_code_for(Status::pass) == 0);
  CHECK(hook::exit_code_for(Status::fail) == 1);
  CHECK(hook::exit_code_for(Status::error) == 2);
  CHECK(hook::exit_code_for(Status::skip) == 2);
  CHECK(hook::http_status_for(Status::pass) == 200);
  CHECK(hook::http_status_for(Status::fail) == 503);
  CHECK(hook::http_status_for(Status::error) == 503);
  CHECK(hook::http_status_for(Status::skip) == 503);
  CHECK(hook::lifecycle_result_for(Status::pass) == "CONTINUE");
  CHECK(hook::lifecycle_result_for(Status::fail) == "ABANDON");
  CHECK(hook::lifecycle_result_for(Status::error) == "ABANDON");
  CHECK(hook::lifecycle_result_for(Status::skip) == "ABANDON");
}
