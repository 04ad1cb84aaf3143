// What `readygate serve` answers, decided from the last published verdict alone: no request runs a
// check, waits for one, picks a config or reads a file. The background loop publishes an immutable
// Snapshot after each run; a request reads the latest one and the time now (given, so tests use a
// fake clock) and gets a Response. The HTTP transport (hook/gate/http_server.hpp) only carries it.
//
//   GET /healthz   200 while the verdict is pass and younger than max_age; 503 otherwise, also
//                  before the first run. Body text or JSON (?format=text|json, else Accept).
//   GET /azure     Azure Application Health (rich): 200 with {"ApplicationHealthState": "Healthy"},
//                  "Unhealthy", or "Initializing" before the first verdict.
//   GET /metrics   Prometheus exposition of the last run (per-check status, duration, verdict)
//                  plus the endpoint's own gauges and counters.
//   GET /report    the last run's full JSON report (503 before the first run).
// HEAD is answered like GET without a body; another method on these paths is 405, another path
// 404, a malformed target or an unknown query parameter 400.
#pragma once

#include <hook/runner.hpp>
#include <hook/util/duration.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hook::gate {

// --- Interface ---

// One finished run, as every request sees it until the next one is published. Never changed
// after it is published.
struct Snapshot
{
  RunSummary summary;
  std::string report_json;          // the JSON report of `summary`
  std::string metrics;              // the Prometheus report of `summary`
  util::Clock::time_point finished; // when the run ended (steady clock: ages only)
};

// Render the reports of `summary` (JSON and Prometheus, with `hostname`) into a Snapshot.
std::shared_ptr<const Snapshot>
make_snapshot(RunSummary summary, std::string_view hostname, util::Clock::time_point finished);

// The latest snapshot, swapped whole under a mutex: a reader copies the pointer and never holds
// the lock while it renders.
class SnapshotBoard
{
public:
  void publish(std::shared_ptr<const Snapshot> snapshot);
  // Return the latest snapshot, or null before the first run has finished.
  std::shared_ptr<const Snapshot> latest() const;

private:
  mutable std::mutex m_mutex;
  std::shared_ptr<const Snapshot> m_latest;
};

enum class Health {
  initializing, // no run has finished yet
  healthy,      // the last verdict is pass and not older than max_age
  unhealthy,    // the last verdict is fail or error
  stale,        // the last verdict is older than max_age (the runs stopped keeping up)
};

// Return the health that `snapshot` (null before the first run) stands for at `now`.
Health
health_of(const Snapshot* snapshot, util::Clock::time_point now, std::chrono::milliseconds max_age);

// Counters of the endpoint itself, shown on /metrics.
struct ServeStats
{
  std::uint64_t runs = 0;                // runs finished since start
  std::uint64_t reloads = 0;             // configurations reloaded on SIGHUP
  std::uint64_t reloads_refused = 0;     // new configurations refused (the old one kept serving)
  std::uint64_t connections_refused = 0; // closed at once: max_connections were open
};

struct Request
{
  std::string_view method; // "GET"
  std::string_view target; // "/healthz?format=json"
  std::string_view accept; // the Accept header ("" when absent)
};

struct Response
{
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers; // more header fields (Allow)
  bool head = false; // send the headers (Content-Length of `body`) but not the body
};

// Answer `request` from `snapshot` (null before the first run) at `now`.
Response respond(const Request& request,
                 const Snapshot* snapshot,
                 util::Clock::time_point now,
                 std::chrono::milliseconds max_age,
                 const ServeStats& stats);

// Return the plain-text answer for an HTTP error `status` (400, 404, 405, 413, 431, 503).
Response error_response(int status, std::string_view why);

} // namespace hook::gate
