// readygate serve: a health endpoint for load balancers, answered from checks run in the
// background. One loop thread owns one Engine for the process lifetime and runs the checks every
// [serve] interval; each finished run is published as an immutable snapshot that requests read
// (hook/gate/health.hpp), so a request never starts a run, never waits for one, and many requests
// never pile up behind one. SIGHUP reloads the configuration between runs (a bad one is refused
// and the old one keeps serving); SIGTERM lets responses being written end, then exits 0.
#include <hook/commands.hpp>
#include <hook/gate/health.hpp>
#include <hook/gate/http_server.hpp>
#include <hook/outcome.hpp>
#include <hook/plan.hpp>
#include <hook/report/formats.hpp>
#include <hook/signals.hpp>
#include <hook/util/duration.hpp>
#include <hook/util/tcp.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

namespace hook {

namespace {

using std::chrono::milliseconds;

// How long responses being written may take to end after SIGTERM.
constexpr milliseconds k_shutdown_grace{2'000};

std::string
host_name()
{
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) {
    return {};
  }
  return buffer;
}

// What the loop, the request handler and the SIGHUP callback share.
struct ServeState
{
  gate::SnapshotBoard board;
  std::atomic<long long> max_age_ms{60'000};
  std::atomic<std::uint64_t> runs{0};
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> reloads_refused{0};
  std::atomic<std::uint64_t> connections_refused{0};

  std::mutex mutex;
  std::condition_variable_any wake; // a reload was asked for
  bool reload_requested = false;
};

// Log each line of `error` as a refused reload.
void
log_refused_reload(const util::Error& error)
{
  std::string_view rest = error.message;
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    std::cerr << "readygate: reload refused, the previous configuration keeps serving: "
              << rest.substr(0, end) << '\n';
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
}

// A run is one attempt per check: the next run is the retry.
void
prepare_for_serve(LoadedPlan& plan)
{
  for (auto& check : plan.checks) {
    check.retry = false;
  }
}

// Log what of `next` cannot change without a restart.
void
note_restart_only(const config::ServeSettings& now, const config::ServeSettings& next)
{
  const auto listed = [](const config::ServeSettings& serve) {
    std::vector<std::string> addresses;
    for (const auto& address : serve.listen) {
      addresses.push_back(util::format_host_port(address));
    }
    return addresses;
  };
  if (listed(now) != listed(next) || now.max_connections != next.max_connections
      || now.max_request_bytes != next.max_request_bytes || now.max_headers != next.max_headers
      || now.idle_timeout != next.idle_timeout) {
    std::cerr << "readygate: serve: listen and the connection limits change on restart only; "
                 "the reload applied the checks, [gate], interval and max_age\n";
  }
}

class ServeLoop
{
public:
  ServeLoop(const Invocation& invocation,
            LoadedPlan plan,
            std::shared_ptr<ServeState> state,
            std::stop_token stop)
      : m_invocation(invocation),
        m_plan(std::move(plan)),
        m_state(std::move(state)),
        m_stop(std::move(stop)),
        m_engine(Probes(), m_plan.config.gate.concurrency),
        m_hostname(host_name())
  {}

  void
  run()
  {
    std::optional<Status> last_verdict;
    while (!m_stop.stop_requested()) {
      const auto started = util::Clock::now();
      auto options = run_options_for(m_plan, m_invocation, m_stop);
      options.on_progress = nullptr;
      options.deadline = std::min(m_plan.config.gate.deadline, m_plan.config.serve.max_age);
      auto summary = m_engine.run(m_plan.checks, options);
      if (m_stop.stop_requested()) {
        break; // an interrupted run says nothing about the host
      }
      const auto verdict = summary.verdict;
      if (verdict != last_verdict) {
        // Only a change is logged: the journal is not flooded by a verdict that holds.
        const auto counts = report::count_statuses(summary);
        std::cerr << fmt::format(
          "readygate: serve: verdict {} ({} pass, {} fail, {} error, {} skip; {} ms){}\n",
          status_name(verdict),
          counts.pass,
          counts.fail,
          counts.error,
          counts.skip,
          summary.duration.count(),
          first_failure(summary));
        last_verdict = verdict;
      }
      m_state->board.publish(
        gate::make_snapshot(std::move(summary), m_hostname, util::Clock::now()));
      m_state->runs.fetch_add(1, std::memory_order_relaxed);

      const auto next = util::time_after(started, m_plan.config.serve.interval);
      std::unique_lock lock(m_state->mutex);
      m_state->wake.wait_until(lock, m_stop, next, [&] { return m_state->reload_requested; });
      if (m_stop.stop_requested()) {
        break;
      }
      if (m_state->reload_requested) {
        m_state->reload_requested = false;
        lock.unlock();
        reload();
      }
    }
  }

  std::size_t
  abandoned_attempts() const
  {
    return m_engine.abandoned_attempts();
  }

private:
  static std::string
  first_failure(const RunSummary& summary)
  {
    for (const auto& reported : summary.results) {
      if (reported.result.status == Status::fail || reported.result.status == Status::error) {
        return fmt::format("; {} ({}): {}: {}",
                           util::printable(reported.id),
                           reported.kind,
                           status_name(reported.result.status),
                           util::printable(reported.result.message));
      }
    }
    return {};
  }

  void
  reload()
  {
    auto plan = load_plan(m_invocation, m_stop);
    if (!plan) {
      log_refused_reload(plan.error());
      m_state->reloads_refused.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    prepare_for_serve(*plan);
    note_restart_only(m_plan.config.serve, plan->config.serve);
    if (plan->config.gate.concurrency > m_plan.config.gate.concurrency) {
      std::cerr << fmt::format(
        "readygate: serve: [gate] concurrency {} applies on restart; running {} at once\n",
        plan->config.gate.concurrency,
        m_plan.config.gate.concurrency);
      plan->config.gate.concurrency = m_plan.config.gate.concurrency;
    }
    plan->config.serve.listen = m_plan.config.serve.listen;
    m_plan = std::move(*plan);
    m_state->max_age_ms.store(m_plan.config.serve.max_age.count());
    m_state->reloads.fetch_add(1, std::memory_order_relaxed);
    std::cerr << fmt::format("readygate: serve: reloaded {} ({} checks)\n",
                             m_plan.config.path.string(),
                             m_plan.checks.size());
  }

  const Invocation& m_invocation;
  LoadedPlan m_plan;
  std::shared_ptr<ServeState> m_state;
  std::stop_token m_stop;
  Engine m_engine;
  std::string m_hostname;
};

} // namespace

int
run_serve_command(const Invocation& invocation, std::stop_token stop)
{
  auto state = std::make_shared<ServeState>();
  // Subscribe before the config is read: a SIGHUP during start-up then asks for a reload of a
  // file that was just read, instead of being lost.
  const auto subscription = on_hangup([state] {
    std::cerr << "readygate: serve: SIGHUP: reloading the configuration after the current run\n";
    const std::lock_guard lock(state->mutex);
    state->reload_requested = true;
    state->wake.notify_all();
  });

  auto plan = load_plan(invocation, stop);
  if (!plan) {
    return report_config_error(plan.error());
  }
  prepare_for_serve(*plan);
  auto& serve = plan->config.serve;
  if (invocation.has("--listen")) {
    serve.listen.clear();
    for (const auto& text : invocation.values_of("--listen")) {
      serve.listen.push_back(*util::parse_listen_address(text)); // validated by the CLI
    }
  }
  state->max_age_ms.store(serve.max_age.count());

  gate::ServerLimits limits;
  limits.max_connections = serve.max_connections;
  limits.max_request_bytes = serve.max_request_bytes;
  limits.max_headers = serve.max_headers;
  limits.idle_timeout = serve.idle_timeout;
  auto server = gate::HttpServer::start(
    serve.listen,
    limits,
    [state](const gate::Request& request) {
      const auto snapshot = state->board.latest();
      gate::ServeStats stats;
      stats.runs = state->runs.load(std::memory_order_relaxed);
      stats.reloads = state->reloads.load(std::memory_order_relaxed);
      stats.reloads_refused = state->reloads_refused.load(std::memory_order_relaxed);
      stats.connections_refused = state->connections_refused.load(std::memory_order_relaxed);
      return gate::respond(request,
                           snapshot.get(),
                           util::Clock::now(),
                           milliseconds(state->max_age_ms.load(std::memory_order_relaxed)),
                           stats);
    },
    [state] { state->connections_refused.fetch_add(1, std::memory_order_relaxed); });
  if (!server) {
    std::cerr << "readygate: serve: " << server.error().message << '\n';
    return k_exit_error;
  }
  std::cerr << fmt::format("readygate: serve: listening on {} ({} checks every {}, max_age {})\n",
                           fmt::join((*server)->addresses(), ", "),
                           plan->checks.size(),
                           util::format_duration(serve.interval),
                           util::format_duration(serve.max_age));

  ServeLoop loop(invocation, std::move(*plan), state, stop);
  std::thread runner([&loop] { loop.run(); });

  {
    std::mutex mutex;
    std::condition_variable_any stopped;
    std::unique_lock lock(mutex);
    stopped.wait(lock, stop, [] { return false; });
  }
  (*server)->shutdown(k_shutdown_grace);
  runner.join();
  std::cerr << "readygate: serve: stopped\n";
  if (loop.abandoned_attempts() > 0) {
    // A check is still stuck in a call that ignored its deadline: do not wait for it, nor run
    // static destructors under it.
    std::cerr.flush();
    std::_Exit(k_exit_pass);
  }
  return k_exit_pass;
}

} // namespace hook
