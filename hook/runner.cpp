#include "runner.hpp"

#include <hook/util/duration.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace hook {

namespace {

using std::chrono::milliseconds;
using util::Clock;

// Where attempt threads hand their results to the runner. Shared, because an abandoned attempt
// may finish after run_checks has returned.
struct Mailbox
{
  struct Delivery
  {
    std::size_t index;
    unsigned attempt;
    CheckResult result;
    milliseconds duration;
  };

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Delivery> deliveries;
  bool closed = false; // the run is over: late deliveries are dropped
};

enum class Phase {
  waiting,  // not started yet (maybe waiting for dependencies)
  retrying, // an attempt ended badly; the next starts at `next_start`
  running,  // an attempt is under way
  done,     // final result recorded
};

struct Slot
{
  Phase phase = Phase::waiting;
  unsigned attempts = 0;
  Clock::time_point next_start{};
  Clock::time_point attempt_started{};
  Clock::time_point attempt_deadline{}; // the check's own deadline for this attempt
  bool attempt_capped_by_run = false;   // its deadline is the run's, not its timeout
  std::shared_ptr<std::stop_source> attempt_stop;
  std::thread thread; // joined when its attempt reports, detached when abandoned
  std::optional<ReportedResult> last;
};

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

class Run
{
public:
  Run(const std::vector<PlannedCheck>& checks, const Services& services, const RunOptions& options)
      : m_checks(checks),
        m_services(services),
        m_options(options),
        m_slots(checks.size()),
        m_mailbox(std::make_shared<Mailbox>())
  {}

  RunSummary
  execute()
  {
    RunSummary summary;
    summary.started = std::chrono::system_clock::now();
    m_started = Clock::now();
    m_run_deadline = util::time_after(m_started, m_options.deadline);

    const auto mailbox = m_mailbox;
    const std::stop_callback on_stop(m_options.stop, [mailbox] {
      const std::lock_guard lock(mailbox->mutex);
      mailbox->wake.notify_all();
    });

    for (std::size_t i = 0; i < m_checks.size(); ++i) {
      if (!m_checks[i].selected) {
        finish(i, CheckResult::skip("not selected by --only"), milliseconds(0));
      }
    }

    std::unique_lock lock(m_mailbox->mutex);
    while (!all_done()) {
      if (m_options.stop.stop_requested()) {
        summary.interrupted = true;
        cut_short(lock, "interrupted");
        break;
      }
      if (Clock::now() >= m_run_deadline) {
        summary.deadline_reached = true;
        cut_short(
          lock,
          fmt::format("the run deadline ({}) passed", util::format_duration(m_options.deadline)));
        break;
      }
      collect(lock);
      abandon_overdue(lock);
      start_ready(lock);
      if (!all_done() && m_mailbox->deliveries.empty()) {
        m_mailbox->wake.wait_until(lock, next_event());
      }
    }
    m_mailbox->closed = true;
    lock.unlock();
    for (auto& slot : m_slots) {
      if (slot.thread.joinable()) {
        slot.thread
          .detach(); // only reachable if a check ended without reporting: never block on it
      }
    }

    for (std::size_t i = 0; i < m_checks.size(); ++i) {
      summary.results.push_back(std::move(*m_slots[i].last));
    }
    summary.verdict = verdict_of(summary.results);
    summary.duration = elapsed_since(m_started);
    summary.attempts_abandoned = m_abandoned;
    return summary;
  }

private:
  bool
  all_done() const
  {
    return std::all_of(
      m_slots.begin(), m_slots.end(), [](const Slot& s) { return s.phase == Phase::done; });
  }

  std::size_t
  running_count() const
  {
    return static_cast<std::size_t>(std::count_if(
      m_slots.begin(), m_slots.end(), [](const Slot& s) { return s.phase == Phase::running; }));
  }

  bool
  at_concurrency_limit() const
  {
    return running_count() >= std::max(1U, m_options.concurrency);
  }

  Clock::time_point
  next_event() const
  {
    // A retry that is due but has no free slot waits for a delivery, not for its start time:
    // waking for a time already past would spin until a running attempt ends.
    const bool may_start = !at_concurrency_limit();
    auto next = m_run_deadline;
    for (const auto& slot : m_slots) {
      if (slot.phase == Phase::running) {
        next = std::min(next, util::time_after(slot.attempt_deadline, k_abandon_grace));
      } else if (slot.phase == Phase::retrying && may_start) {
        next = std::min(next, slot.next_start);
      }
    }
    return next;
  }

  // Record the final result of check `index`.
  void
  finish(std::size_t index, CheckResult result, milliseconds duration)
  {
    auto& slot = m_slots[index];
    slot.phase = Phase::done;
    slot.last = ReportedResult{
      m_checks[index].id, m_checks[index].kind, std::move(result), duration, slot.attempts};
  }

  // Decide what follows an attempt of check `index` that ended with `result`.
  void
  attempt_ended(std::size_t index, CheckResult result, milliseconds duration)
  {
    auto& slot = m_slots[index];
    const auto& check = m_checks[index];
    slot.attempt_stop.reset();
    const bool bad = result.status == Status::fail || result.status == Status::error;
    const auto next_start = util::time_after(Clock::now(), m_options.retry_interval);
    const bool will_retry =
      bad && check.retry && next_start < m_run_deadline && !m_options.stop.stop_requested();
    if (m_options.on_progress) {
      m_options.on_progress(Progress{check, result, slot.attempts, will_retry});
    }
    if (will_retry) {
      slot.phase = Phase::retrying;
      slot.next_start = next_start;
      slot.last = ReportedResult{check.id, check.kind, std::move(result), duration, slot.attempts};
    } else {
      finish(index, std::move(result), duration);
    }
  }

  void
  collect(std::unique_lock<std::mutex>& lock)
  {
    while (!m_mailbox->deliveries.empty()) {
      auto delivery = std::move(m_mailbox->deliveries.front());
      m_mailbox->deliveries.pop_front();
      auto& slot = m_slots[delivery.index];
      if (slot.phase != Phase::running || slot.attempts != delivery.attempt) {
        continue; // a late answer from an attempt already given up on
      }
      lock.unlock();
      if (slot.thread.joinable()) {
        slot.thread.join(); // it has delivered: only its return is left
      }
      attempt_ended(delivery.index, std::move(delivery.result), delivery.duration);
      lock.lock();
    }
  }

  // Give up waiting for the attempt of `slot`: ask it to stop and let its thread end alone.
  void
  abandon(Slot& slot)
  {
    slot.attempt_stop->request_stop();
    if (slot.thread.joinable()) {
      slot.thread.detach();
      m_abandoned = true;
    }
  }

  // Ask every running attempt to stop and give them k_abandon_grace to end, so that a check can
  // kill its processes before readygate exits. What they deliver now is dropped: the run was cut
  // short while they were under way.
  void
  let_stopped_attempts_end(std::unique_lock<std::mutex>& lock)
  {
    const auto still_running = [this] {
      return std::any_of(m_slots.begin(), m_slots.end(), [](const Slot& s) {
        return s.phase == Phase::running && s.thread.joinable();
      });
    };
    for (auto& slot : m_slots) {
      if (slot.phase == Phase::running) {
        slot.attempt_stop->request_stop();
      }
    }
    const auto until = Clock::now() + k_abandon_grace;
    for (;;) {
      while (!m_mailbox->deliveries.empty()) {
        const auto delivery = std::move(m_mailbox->deliveries.front());
        m_mailbox->deliveries.pop_front();
        auto& slot = m_slots[delivery.index];
        if (slot.phase == Phase::running && slot.attempts == delivery.attempt
            && slot.thread.joinable()) {
          lock.unlock();
          slot.thread.join(); // it has delivered: only its return is left
          lock.lock();
        }
      }
      if (!still_running() || !m_mailbox->wake.wait_until(lock, until, [this] {
            return !m_mailbox->deliveries.empty();
          })) {
        return;
      }
    }
  }

  void
  abandon_overdue(std::unique_lock<std::mutex>& lock)
  {
    const auto now = Clock::now();
    for (std::size_t i = 0; i < m_slots.size(); ++i) {
      auto& slot = m_slots[i];
      if (slot.phase != Phase::running
          || now < util::time_after(slot.attempt_deadline, k_abandon_grace)) {
        continue;
      }
      abandon(slot);
      const auto message = slot.attempt_capped_by_run
                             ? fmt::format("did not finish before the run deadline ({})",
                                           util::format_duration(m_options.deadline))
                             : fmt::format("did not finish within its timeout ({})",
                                           util::format_duration(m_checks[i].timeout));
      lock.unlock();
      attempt_ended(i, CheckResult::error(message), elapsed_since(slot.attempt_started));
      lock.lock();
    }
  }

  // Return the reason check `index` must be skipped, or "" when its dependencies allow it to run,
  // or nullopt when they are not finished yet.
  std::optional<std::string>
  dependency_verdict(std::size_t index) const
  {
    for (const auto& dependency : m_checks[index].depends_on) {
      for (std::size_t j = 0; j < m_checks.size(); ++j) {
        if (m_checks[j].id != dependency || !m_checks[j].selected) {
          continue;
        }
        if (m_slots[j].phase != Phase::done) {
          return std::nullopt;
        }
        const auto status = m_slots[j].last->result.status;
        if (status != Status::pass) {
          return fmt::format(
            "dependency \"{}\" did not pass ({})", dependency, status_name(status));
        }
      }
    }
    return std::string();
  }

  void
  start_ready(std::unique_lock<std::mutex>& lock)
  {
    const auto now = Clock::now();
    for (std::size_t i = 0; i < m_slots.size(); ++i) {
      auto& slot = m_slots[i];
      if (at_concurrency_limit()) {
        return;
      }
      if (slot.phase == Phase::retrying && now >= slot.next_start) {
        start_attempt(i);
      } else if (slot.phase == Phase::waiting) {
        const auto verdict = dependency_verdict(i);
        if (!verdict) {
          continue;
        }
        if (!verdict->empty()) {
          lock.unlock();
          finish(i, CheckResult::skip(*verdict), milliseconds(0));
          lock.lock();
          continue;
        }
        start_attempt(i);
      }
    }
  }

  void
  start_attempt(std::size_t index)
  {
    auto& slot = m_slots[index];
    const auto& check = m_checks[index];
    slot.phase = Phase::running;
    ++slot.attempts;
    slot.attempt_started = Clock::now();
    const auto own_deadline = util::time_after(slot.attempt_started, check.timeout);
    slot.attempt_capped_by_run = m_run_deadline < own_deadline;
    slot.attempt_deadline = std::min(own_deadline, m_run_deadline);
    slot.attempt_stop = std::make_shared<std::stop_source>();

    CheckContext ctx;
    ctx.deadline = slot.attempt_deadline;
    ctx.stop = slot.attempt_stop->get_token();
    ctx.services = m_services;

    try {
      slot.thread = std::thread([mailbox = m_mailbox,
                                 runnable = check.check,
                                 stop = slot.attempt_stop,
                                 ctx,
                                 index,
                                 attempt = slot.attempts,
                                 started = slot.attempt_started] {
        auto result = run_guarded(*runnable, ctx);
        const std::lock_guard guard(mailbox->mutex);
        if (!mailbox->closed) {
          mailbox->deliveries.push_back(
            {index, attempt, std::move(result), elapsed_since(started)});
          mailbox->wake.notify_all();
        }
      });
    } catch (const std::system_error& e) {
      m_mailbox->deliveries.push_back(
        {index,
         slot.attempts,
         CheckResult::error(fmt::format("cannot start a thread: {}", e.what())),
         milliseconds(0)});
    }
  }

  // End the run now: running attempts are stopped (and abandoned when they do not end within
  // k_abandon_grace) and are errors, checks never started are errors, checks waiting to retry
  // keep their last result.
  void
  cut_short(std::unique_lock<std::mutex>& lock, const std::string& why)
  {
    collect(lock);
    let_stopped_attempts_end(lock);
    for (std::size_t i = 0; i < m_slots.size(); ++i) {
      auto& slot = m_slots[i];
      switch (slot.phase) {
      case Phase::done:
        break;
      case Phase::running:
        abandon(slot);
        if (slot.last) {
          auto previous = std::move(slot.last->result);
          previous.message += fmt::format(" ({} during attempt {})", why, slot.attempts);
          finish(i, std::move(previous), slot.last->duration);
        } else {
          finish(i,
                 CheckResult::error(fmt::format("did not finish: {}", why)),
                 elapsed_since(slot.attempt_started));
        }
        break;
      case Phase::retrying:
        finish(i, std::move(slot.last->result), slot.last->duration);
        break;
      case Phase::waiting:
        finish(i, CheckResult::error(fmt::format("not started: {}", why)), milliseconds(0));
        break;
      }
    }
  }

  const std::vector<PlannedCheck>& m_checks;
  const Services& m_services;
  const RunOptions& m_options;
  std::vector<Slot> m_slots;
  std::shared_ptr<Mailbox> m_mailbox;
  Clock::time_point m_started{};
  Clock::time_point m_run_deadline{};
  bool m_abandoned = false;
};

} // namespace

RunSummary
run_checks(const std::vector<PlannedCheck>& checks,
           const Services& services,
           const RunOptions& options)
{
  return Run(checks, services, options).execute();
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

int
exit_code_for(Status verdict)
{
  switch (verdict) {
  case Status::pass:
  case Status::skip:
    return 0;
  case Status::fail:
    return 1;
  case Status::error:
    return 2;
  }
  return 2;
}

} // namespace hook
