#include "runner.hpp"

#include <hook/util/duration.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <queue>
#include <system_error>
#include <thread>
#include <unordered_map>

namespace hook {

namespace {

using std::chrono::milliseconds;
using util::Clock;

milliseconds
elapsed_since(Clock::time_point start)
{
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

CheckResult
run_guarded(const Check& check, const CheckContext& ctx)
{
  try {
    auto result = check.run(ctx);
    if (result.status == Status::skip) {
      // Only the runner skips (filters, dependencies): a check that did not look has not passed.
      return CheckResult::error(fmt::format(
        "the check skipped itself ({}), which does not verify the host", result.message));
    }
    return result;
  } catch (const std::exception& e) {
    return CheckResult::error(fmt::format("unexpected exception: {}", e.what()));
  } catch (...) {
    return CheckResult::error("unexpected exception of unknown type");
  }
}

// What the runner and the worker running one attempt share. Guarded by Engine::State::mutex.
struct Ticket
{
  std::stop_source stop;
  bool returned = false;  // the attempt's check has returned
  bool abandoned = false; // its run gave up waiting for it
};

} // namespace

struct Engine::State
{
  struct Delivery
  {
    std::uint64_t run;
    std::size_t index;
    unsigned attempt;
    CheckResult result;
    milliseconds duration;
  };

  std::mutex mutex;
  std::condition_variable wake; // the runner: see `events`
  std::condition_variable work; // workers: a task came, or the engine closes
  std::deque<std::function<void()>> tasks;
  unsigned max_workers = 1;
  unsigned threads = 0; // worker threads alive
  unsigned idle = 0;    // of them, not running a task (some may have one queued for them)
  bool closing = false;
  std::size_t abandoned = 0; // workers held by abandoned attempts
  std::uint64_t events = 0;  // bumped on every delivery, freed worker and stop request
  std::uint64_t current_run = 0;
  std::deque<Delivery> deliveries;
  Probes probes;
};

namespace {

using State = Engine::State;

void
worker_loop(const std::shared_ptr<State>& state)
{
  std::unique_lock lock(state->mutex);
  for (;;) {
    state->work.wait(lock, [&] { return state->closing || !state->tasks.empty(); });
    if (state->tasks.empty()) {
      --state->threads;
      --state->idle;
      ++state->events;
      state->wake.notify_all();
      return;
    }
    auto task = std::move(state->tasks.front());
    state->tasks.pop_front();
    --state->idle;
    lock.unlock();
    task();         // never throws: the attempt runs under run_guarded
    task = nullptr; // what it captured is released outside the lock
    lock.lock();
    ++state->idle;
    ++state->events;
    state->wake.notify_all();
  }
}

enum class Submitted { yes, busy, failed };

// Hand `task` to an idle worker, or to a new one while there are fewer than max_workers.
// Called with `state->mutex` held. A thread that cannot be started (pids.max, TasksMax) lowers
// the pool to the workers that exist; `failed` only when there is none at all.
Submitted
submit(const std::shared_ptr<State>& state, std::function<void()>& task, std::string& why)
{
  if (state->idle > state->tasks.size()) {
    state->tasks.push_back(std::move(task));
    state->work.notify_one();
    return Submitted::yes;
  }
  if (state->threads >= state->max_workers) {
    return Submitted::busy;
  }
  try {
    std::thread([state] { worker_loop(state); }).detach();
  } catch (const std::system_error& e) {
    why = e.what();
    state->max_workers = state->threads;
    return state->threads == 0 ? Submitted::failed : Submitted::busy;
  }
  ++state->threads;
  ++state->idle;
  state->tasks.push_back(std::move(task));
  state->work.notify_one();
  return Submitted::yes;
}

enum class Phase {
  waiting,  // not started yet (maybe waiting for dependencies)
  ready,    // may start as soon as a worker is free
  retrying, // an attempt ended badly; the next starts at `next_start`
  running,  // an attempt is under way
  done,     // final result recorded
};

struct Slot
{
  Phase phase = Phase::waiting;
  unsigned attempts = 0;
  std::size_t dependencies_left = 0;
  Clock::time_point attempt_started{};
  Clock::time_point attempt_deadline{}; // the check's own deadline for this attempt
  bool attempt_capped_by_run = false;   // its deadline is the run's, not its timeout
  bool seen_failing = false;            // the last attempt that observed the host failed
  std::shared_ptr<Ticket> ticket;
  std::optional<ReportedResult> last;
};

// A time the runner must wake at, for check `index` (`attempt` to tell stale entries apart).
struct Timer
{
  Clock::time_point at;
  std::size_t index;
  unsigned attempt;
  bool
  operator>(const Timer& other) const
  {
    return at > other.at;
  }
};
using TimerQueue = std::priority_queue<Timer, std::vector<Timer>, std::greater<>>;

// One run of the checks. Every step costs O(log n) per check that changes state, so 50,000
// checks chained by depends_on are scheduled in milliseconds, and a stop request is seen
// between any two events.
class Run
{
public:
  Run(std::shared_ptr<State> state,
      const std::vector<PlannedCheck>& checks,
      const RunOptions& options)
      : m_state(std::move(state)),
        m_checks(checks),
        m_options(options),
        m_slots(checks.size()),
        m_dependents(checks.size()),
        m_unfinished(checks.size())
  {}

  RunSummary
  execute()
  {
    RunSummary summary;
    summary.started = std::chrono::system_clock::now();
    m_started = Clock::now();
    m_run_deadline = util::time_after(m_started, m_options.deadline);
    {
      const std::lock_guard lock(m_state->mutex);
      m_run_id = ++m_state->current_run;
      m_state->deliveries.clear();
    }
    const auto state = m_state;
    const std::stop_callback on_stop(m_options.stop, [state] {
      const std::lock_guard lock(state->mutex);
      ++state->events;
      state->wake.notify_all();
    });

    plan_dependencies();
    for (;;) {
      handle_deliveries();
      if (m_unfinished == 0) {
        break;
      }
      if (m_options.stop.stop_requested()) {
        summary.interrupted = true;
        cut_short("interrupted");
        break;
      }
      if (Clock::now() >= m_run_deadline) {
        summary.deadline_reached = true;
        cut_short(
          fmt::format("the run deadline ({}) passed", util::format_duration(m_options.deadline)));
        break;
      }
      abandon_overdue();
      promote_due_retries();
      start_ready();
      if (m_unfinished > 0) {
        wait_for_event();
      }
    }

    {
      const std::lock_guard lock(m_state->mutex);
      m_state->deliveries.clear();
      ++m_state->current_run; // later deliveries of this run are dropped
      summary.attempts_abandoned = std::any_of(m_slots.begin(), m_slots.end(), [](const Slot& s) {
        return s.ticket && s.ticket->abandoned && !s.ticket->returned;
      });
    }
    for (auto& slot : m_slots) {
      summary.results.push_back(std::move(*slot.last));
    }
    summary.verdict = verdict_of(summary.results);
    summary.seen_failing = std::any_of(summary.results.begin(),
                                       summary.results.end(),
                                       [](const ReportedResult& r) { return r.seen_failing; });
    summary.duration = elapsed_since(m_started);
    return summary;
  }

private:
  void
  plan_dependencies()
  {
    std::unordered_map<std::string_view, std::size_t> index_of;
    for (std::size_t i = 0; i < m_checks.size(); ++i) {
      index_of.emplace(m_checks[i].id, i);
    }
    for (std::size_t i = 0; i < m_checks.size(); ++i) {
      if (!m_checks[i].selected) {
        continue;
      }
      for (const auto& dependency : m_checks[i].depends_on) {
        const auto found = index_of.find(dependency);
        // An unselected dependency neither blocks nor skips its dependents.
        if (found != index_of.end() && found->second != i && m_checks[found->second].selected) {
          m_dependents[found->second].push_back(i);
          ++m_slots[i].dependencies_left;
        }
      }
    }
    for (std::size_t i = 0; i < m_checks.size(); ++i) {
      if (!m_checks[i].selected) {
        finish(i, CheckResult::skip(m_checks[i].unselected_reason), milliseconds(0));
      } else if (m_slots[i].dependencies_left == 0 && m_slots[i].phase == Phase::waiting) {
        make_ready(i);
      }
    }
  }

  void
  make_ready(std::size_t index)
  {
    m_slots[index].phase = Phase::ready;
    m_ready.push(index);
  }

  // Record the final result of check `index`, and let its dependents go on or skip.
  void
  finish(std::size_t index, CheckResult result, milliseconds duration)
  {
    std::vector<std::pair<std::size_t, CheckResult>> pending;
    pending.emplace_back(index, std::move(result));
    while (!pending.empty()) {
      auto [i, outcome] = std::move(pending.back());
      pending.pop_back();
      auto& slot = m_slots[i];
      if (slot.phase == Phase::done) {
        continue;
      }
      slot.phase = Phase::done;
      --m_unfinished;
      const auto status = outcome.status;
      slot.last = ReportedResult{m_checks[i].id,
                                 m_checks[i].kind,
                                 std::move(outcome),
                                 i == index ? duration : milliseconds(0),
                                 slot.attempts,
                                 slot.seen_failing || status == Status::fail};
      if (!m_checks[i].selected) {
        continue; // its dependents do not wait for it
      }
      for (const auto dependent : m_dependents[i]) {
        if (m_slots[dependent].phase != Phase::waiting) {
          continue;
        }
        if (status != Status::pass) {
          pending.emplace_back(dependent,
                               CheckResult::skip(fmt::format("dependency \"{}\" did not pass ({})",
                                                             m_checks[i].id,
                                                             status_name(status))));
        } else if (--m_slots[dependent].dependencies_left == 0) {
          make_ready(dependent);
        }
      }
    }
  }

  // Decide what follows an attempt of check `index` that ended with `result`.
  void
  attempt_ended(std::size_t index, CheckResult result, milliseconds duration)
  {
    auto& slot = m_slots[index];
    const auto& check = m_checks[index];
    --m_running;
    if (result.status != Status::error) {
      // An attempt that could not look says nothing about the host: the last one that did
      // still stands, so a fail followed by a timeout is still a host seen to be wrong.
      slot.seen_failing = result.status == Status::fail;
    }
    const bool bad = result.status == Status::fail || result.status == Status::error;
    const auto next_start = util::time_after(Clock::now(), m_options.retry_interval);
    const bool will_retry =
      bad && check.retry && next_start < m_run_deadline && !m_options.stop.stop_requested();
    if (m_options.on_progress) {
      m_options.on_progress(Progress{check, result, slot.attempts, will_retry});
    }
    if (will_retry) {
      slot.phase = Phase::retrying;
      slot.last = ReportedResult{check.id, check.kind, std::move(result), duration, slot.attempts};
      m_retries.push({next_start, index, slot.attempts});
    } else {
      finish(index, std::move(result), duration);
    }
  }

  void
  handle_deliveries()
  {
    std::deque<State::Delivery> taken;
    {
      const std::lock_guard lock(m_state->mutex);
      taken.swap(m_state->deliveries);
      m_seen_events = m_state->events;
    }
    for (auto& delivery : taken) {
      if (delivery.run != m_run_id) {
        continue;
      }
      auto& slot = m_slots[delivery.index];
      if (slot.phase != Phase::running || slot.attempts != delivery.attempt) {
        continue; // a late answer from an attempt already given up on
      }
      attempt_ended(delivery.index, std::move(delivery.result), delivery.duration);
    }
  }

  void
  abandon_overdue()
  {
    const auto now = Clock::now();
    while (!m_watch.empty() && m_watch.top().at <= now) {
      const auto timer = m_watch.top();
      m_watch.pop();
      auto& slot = m_slots[timer.index];
      if (slot.phase != Phase::running || slot.attempts != timer.attempt) {
        continue;
      }
      {
        const std::lock_guard lock(m_state->mutex);
        if (slot.ticket->returned) {
          continue; // it has delivered: the next handle_deliveries takes its result
        }
        slot.ticket->abandoned = true;
        ++m_state->abandoned;
      }
      slot.ticket->stop.request_stop();
      const auto message = slot.attempt_capped_by_run
                             ? fmt::format("did not finish before the run deadline ({})",
                                           util::format_duration(m_options.deadline))
                             : fmt::format("did not finish within its timeout ({})",
                                           util::format_duration(m_checks[timer.index].timeout));
      attempt_ended(timer.index, CheckResult::error(message), elapsed_since(slot.attempt_started));
    }
  }

  void
  promote_due_retries()
  {
    const auto now = Clock::now();
    while (!m_retries.empty() && m_retries.top().at <= now) {
      const auto timer = m_retries.top();
      m_retries.pop();
      auto& slot = m_slots[timer.index];
      if (slot.phase == Phase::retrying && slot.attempts == timer.attempt) {
        make_ready(timer.index);
      }
    }
  }

  unsigned
  concurrency() const
  {
    return std::max(1U, m_options.concurrency);
  }

  void
  start_ready()
  {
    m_pool_full = false;
    while (!m_ready.empty() && m_running < concurrency()) {
      const auto index = m_ready.top();
      if (!start_attempt(index)) {
        m_pool_full = true;
        return;
      }
      m_ready.pop();
    }
  }

  // Start an attempt of check `index`; false when no worker is free.
  bool
  start_attempt(std::size_t index)
  {
    auto& slot = m_slots[index];
    const auto& check = m_checks[index];
    const auto now = Clock::now();
    const auto own_deadline = util::time_after(now, check.timeout);
    auto ticket = std::make_shared<Ticket>();

    CheckContext ctx;
    ctx.deadline = std::min(own_deadline, m_run_deadline);
    ctx.stop = ticket->stop.get_token();
    const unsigned attempt = slot.attempts + 1;

    std::function<void()> task = [state = m_state,
                                  runnable = check.check,
                                  ticket,
                                  ctx,
                                  index,
                                  attempt,
                                  run = m_run_id,
                                  started = now]() mutable {
      auto result = run_guarded(*runnable, ctx);
      const std::lock_guard lock(state->mutex);
      ticket->returned = true;
      if (ticket->abandoned) {
        --state->abandoned;
      } else if (state->current_run == run) {
        state->deliveries.push_back(
          {run, index, attempt, std::move(result), elapsed_since(started)});
      }
      ++state->events;
      state->wake.notify_all();
    };

    std::string why;
    Submitted submitted = Submitted::busy;
    {
      const std::lock_guard lock(m_state->mutex);
      ctx.probes = m_state->probes;
      submitted = submit(m_state, task, why);
    }
    if (submitted == Submitted::busy) {
      return false;
    }
    slot.phase = Phase::running;
    slot.attempts = attempt;
    slot.attempt_started = now;
    slot.attempt_capped_by_run = m_run_deadline < own_deadline;
    slot.attempt_deadline = ctx.deadline;
    slot.ticket = std::move(ticket);
    ++m_running;
    if (submitted == Submitted::failed) {
      attempt_ended(index,
                    CheckResult::error(fmt::format("cannot start a thread for the check: {}", why)),
                    milliseconds(0));
      return true;
    }
    m_watch.push({util::time_after(slot.attempt_deadline, k_abandon_grace), index, attempt});
    return true;
  }

  Clock::time_point
  next_event()
  {
    auto next = m_run_deadline;
    while (!m_watch.empty()) {
      const auto& top = m_watch.top();
      const auto& slot = m_slots[top.index];
      if (slot.phase == Phase::running && slot.attempts == top.attempt) {
        next = std::min(next, top.at);
        break;
      }
      m_watch.pop(); // stale: that attempt has ended
    }
    // A retry that is due while no slot or worker is free waits for a delivery or a freed worker
    // (both are events), not for its start time: waking for a time already past would spin.
    if (!m_retries.empty() && m_running < concurrency() && !m_pool_full) {
      next = std::min(next, m_retries.top().at);
    }
    return next;
  }

  void
  wait_for_event()
  {
    const auto until = next_event();
    std::unique_lock lock(m_state->mutex);
    m_state->wake.wait_until(lock, until, [this] {
      return m_state->events != m_seen_events || m_options.stop.stop_requested();
    });
  }

  // End the run now. Running attempts are asked to stop and given k_abandon_grace to end (so a
  // check can kill its processes before readygate exits); what they deliver now is dropped, since
  // the run was cut short while they were under way. Every check without a final result is an
  // error: one that was waiting to retry keeps its last attempt's findings, but a check that did
  // not get to finish has not been verified, whatever its previous attempt said.
  void
  cut_short(const std::string& why)
  {
    for (auto& slot : m_slots) {
      if (slot.phase == Phase::running) {
        slot.ticket->stop.request_stop();
      }
    }
    {
      std::unique_lock lock(m_state->mutex);
      m_state->wake.wait_until(lock, util::time_after(Clock::now(), k_abandon_grace), [this] {
        return std::none_of(m_slots.begin(), m_slots.end(), [](const Slot& s) {
          return s.phase == Phase::running && !s.ticket->returned;
        });
      });
      m_state->deliveries.clear();
      for (auto& slot : m_slots) {
        if (slot.phase == Phase::running && !slot.ticket->returned) {
          slot.ticket->abandoned = true;
          ++m_state->abandoned;
        }
      }
    }
    for (std::size_t i = 0; i < m_slots.size(); ++i) {
      auto& slot = m_slots[i];
      switch (slot.phase) {
      case Phase::done:
        break;
      case Phase::running:
        --m_running;
        if (slot.last) {
          finish(
            i,
            previous_as_error(*slot.last, fmt::format("{} during attempt {}", why, slot.attempts)),
            slot.last->duration);
        } else {
          finish(i,
                 CheckResult::error(fmt::format("did not finish: {}", why)),
                 elapsed_since(slot.attempt_started));
        }
        break;
      case Phase::retrying:
        finish(i,
               previous_as_error(*slot.last,
                                 fmt::format("{} before attempt {}", why, slot.attempts + 1)),
               slot.last->duration);
        break;
      case Phase::waiting:
      case Phase::ready:
        finish(i, CheckResult::error(fmt::format("not started: {}", why)), milliseconds(0));
        break;
      }
    }
  }

  // Return `last` as an error: "<why>; attempt N: <status>: <message>", with its findings.
  static CheckResult
  previous_as_error(ReportedResult& last, const std::string& why)
  {
    auto result = std::move(last.result);
    result.message = fmt::format(
      "{}; attempt {}: {}: {}", why, last.attempts, status_name(result.status), result.message);
    result.status = Status::error;
    return result;
  }

  std::shared_ptr<State> m_state;
  const std::vector<PlannedCheck>& m_checks;
  const RunOptions& m_options;
  std::vector<Slot> m_slots;
  std::vector<std::vector<std::size_t>> m_dependents;
  std::size_t m_unfinished;
  std::size_t m_running = 0;
  bool m_pool_full = false;
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>>
    m_ready;            // config order
  TimerQueue m_retries; // next starts of checks waiting to retry
  TimerQueue m_watch;   // when running attempts are abandoned
  std::uint64_t m_run_id = 0;
  std::uint64_t m_seen_events = 0;
  Clock::time_point m_started{};
  Clock::time_point m_run_deadline{};
};

} // namespace

Engine::Engine(Probes probes, unsigned workers)
    : m_state(std::make_shared<State>())
{
  m_state->probes = std::move(probes);
  m_state->max_workers = std::max(1U, workers);
}

Engine::~Engine()
{
  std::unique_lock lock(m_state->mutex);
  m_state->closing = true;
  m_state->work.notify_all();
  // Idle workers end at once; a worker held by an abandoned attempt ends when it returns.
  m_state->wake.wait(lock, [this] { return m_state->idle == 0; });
}

RunSummary
Engine::run(const std::vector<PlannedCheck>& checks, const RunOptions& options)
{
  return Run(m_state, checks, options).execute();
}

std::size_t
Engine::abandoned_attempts() const
{
  const std::lock_guard lock(m_state->mutex);
  return m_state->abandoned;
}

std::size_t
Engine::worker_threads() const
{
  const std::lock_guard lock(m_state->mutex);
  return m_state->threads;
}

RunSummary
run_checks(const std::vector<PlannedCheck>& checks, const Probes& probes, const RunOptions& options)
{
  Engine engine(probes, options.concurrency);
  return engine.run(checks, options);
}

Status
verdict_of(const std::vector<ReportedResult>& results)
{
  auto verdict = Status::pass;
  for (const auto& result : results) {
    verdict = worse_status(verdict, result.result.status);
  }
  return verdict == Status::skip ? Status::pass : verdict;
}

} // namespace hook
