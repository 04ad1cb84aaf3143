#include "health.hpp"

#include <hook/outcome.hpp>
#include <hook/report/formats.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace hook::gate {

namespace {

using std::chrono::milliseconds;

constexpr std::string_view k_text = "text/plain; charset=utf-8";
constexpr std::string_view k_json = "application/json";
constexpr std::string_view k_exposition = "text/plain; version=0.0.4; charset=utf-8";

enum class Endpoint { healthz, azure, metrics, report };

struct Route
{
  std::string_view path;
  Endpoint endpoint;
  bool takes_format; // ?format=text|json
};

constexpr Route k_routes[] = {
  {"/azure", Endpoint::azure, false},
  {"/healthz", Endpoint::healthz, true},
  {"/metrics", Endpoint::metrics, false},
  {"/report", Endpoint::report, false},
};

milliseconds
age_of(const Snapshot& snapshot, util::Clock::time_point now)
{
  return std::max(milliseconds(0),
                  std::chrono::duration_cast<milliseconds>(now - snapshot.finished));
}

bool
contains_ignoring_case(std::string_view text, std::string_view wanted)
{
  const auto found =
    std::search(text.begin(), text.end(), wanted.begin(), wanted.end(), [](char a, char b) {
      return std::tolower(static_cast<unsigned char>(a))
             == std::tolower(static_cast<unsigned char>(b));
    });
  return found != text.end();
}

std::string_view
health_name(Health health)
{
  switch (health) {
  case Health::initializing:
    return "initializing";
  case Health::healthy:
    return "healthy";
  case Health::unhealthy:
    return "unhealthy";
  case Health::stale:
    return "stale";
  }
  return "unhealthy";
}

Response
make(int status, std::string_view content_type, std::string body)
{
  Response response;
  response.status = status;
  response.content_type = std::string(content_type);
  response.body = std::move(body);
  return response;
}

Response
healthz(const Snapshot* snapshot, util::Clock::time_point now, milliseconds max_age, bool json)
{
  const auto health = health_of(snapshot, now, max_age);
  const int status = health == Health::healthy ? http_status_for(snapshot->summary.verdict)
                                               : http_status_for(Status::error);
  if (json) {
    boost::json::object body;
    body["healthy"] = status == 200;
    body["state"] = health_name(health);
    body["max_age_ms"] = max_age.count();
    if (snapshot != nullptr) {
      body["verdict"] = status_name(snapshot->summary.verdict);
      body["age_ms"] = age_of(*snapshot, now).count();
      const auto counts = report::count_statuses(snapshot->summary);
      boost::json::object tally;
      for (const auto each : report::k_statuses) {
        tally[status_name(each)] = counts.of(each);
      }
      body["counts"] = std::move(tally);
    } else {
      body["verdict"] = nullptr;
      body["age_ms"] = nullptr;
    }
    return make(status, k_json, boost::json::serialize(body) + "\n");
  }
  if (snapshot == nullptr) {
    return make(status, k_text, "unhealthy: no run has finished yet\n");
  }
  const auto age = report::format_seconds(age_of(*snapshot, now));
  if (health == Health::stale) {
    return make(status,
                k_text,
                fmt::format("unhealthy: the verdict ({}) is {}s old, older than max_age {}\n",
                            status_name(snapshot->summary.verdict),
                            age,
                            util::format_duration(max_age)));
  }
  const auto counts = report::count_statuses(snapshot->summary);
  return make(status,
              k_text,
              fmt::format("{}: verdict {} ({} pass, {} fail, {} error, {} skip), {}s old\n",
                          status == 200 ? "healthy" : "unhealthy",
                          status_name(snapshot->summary.verdict),
                          counts.pass,
                          counts.fail,
                          counts.error,
                          counts.skip,
                          age));
}

Response
azure(const Snapshot* snapshot, util::Clock::time_point now, milliseconds max_age)
{
  // The rich health body is read by the extension on a 2xx answer only; Initializing and
  // Unhealthy are states in the body, not HTTP errors.
  const auto health = health_of(snapshot, now, max_age);
  const std::string_view state = health == Health::initializing ? "Initializing"
                                 : health == Health::healthy    ? "Healthy"
                                                                : "Unhealthy";
  boost::json::object body;
  body["ApplicationHealthState"] = state;
  return make(200, k_json, boost::json::serialize(body) + "\n");
}

void
serve_family(std::string& out, std::string_view name, std::string_view type, std::string_view help)
{
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

Response
metrics(const Snapshot* snapshot,
        util::Clock::time_point now,
        milliseconds max_age,
        const ServeStats& stats)
{
  std::string body = snapshot != nullptr ? snapshot->metrics : std::string();
  const auto health = health_of(snapshot, now, max_age);
  serve_family(body, "readygate_serve_healthy", "gauge", "1 when /healthz answers 200, else 0");
  body += fmt::format("readygate_serve_healthy {}\n", health == Health::healthy ? 1 : 0);
  if (snapshot != nullptr) {
    serve_family(
      body, "readygate_serve_verdict_age_seconds", "gauge", "seconds since the last run ended");
    body += fmt::format("readygate_serve_verdict_age_seconds {}\n",
                        report::format_seconds(age_of(*snapshot, now)));
  }
  serve_family(
    body, "readygate_serve_max_age_seconds", "gauge", "a verdict older than this is stale");
  body += fmt::format("readygate_serve_max_age_seconds {}\n", report::format_seconds(max_age));
  serve_family(
    body, "readygate_serve_runs_total", "counter", "runs finished since readygate serve started");
  body += fmt::format("readygate_serve_runs_total {}\n", stats.runs);
  serve_family(body,
               "readygate_serve_reloads_total",
               "counter",
               "SIGHUP reloads of the configuration, by result");
  body += fmt::format("readygate_serve_reloads_total{{result=\"applied\"}} {}\n", stats.reloads);
  body +=
    fmt::format("readygate_serve_reloads_total{{result=\"refused\"}} {}\n", stats.reloads_refused);
  serve_family(body,
               "readygate_serve_connections_refused_total",
               "counter",
               "connections closed at once because max_connections were open");
  body += fmt::format("readygate_serve_connections_refused_total {}\n", stats.connections_refused);
  return make(200, k_exposition, std::move(body));
}

Response
report_of(const Snapshot* snapshot)
{
  if (snapshot == nullptr) {
    boost::json::object body;
    body["state"] = "initializing";
    return make(503, k_json, boost::json::serialize(body) + "\n");
  }
  return make(200, k_json, snapshot->report_json);
}

} // namespace

std::shared_ptr<const Snapshot>
make_snapshot(RunSummary summary, std::string_view hostname, util::Clock::time_point finished)
{
  auto snapshot = std::make_shared<Snapshot>();
  report::ReportOptions options;
  options.hostname = hostname;
  std::ostringstream json;
  report::write_json(json, summary, options);
  std::ostringstream prometheus;
  report::write_prometheus(prometheus, summary, options);
  snapshot->summary = std::move(summary);
  snapshot->report_json = std::move(json).str();
  snapshot->metrics = std::move(prometheus).str();
  snapshot->finished = finished;
  return snapshot;
}

void
SnapshotBoard::publish(std::shared_ptr<const Snapshot> snapshot)
{
  const std::lock_guard lock(m_mutex);
  m_latest.swap(snapshot);
  // The old snapshot (now in `snapshot`) is released here, after the lock.
}

std::shared_ptr<const Snapshot>
SnapshotBoard::latest() const
{
  const std::lock_guard lock(m_mutex);
  return m_latest;
}

Health
health_of(const Snapshot* snapshot, util::Clock::time_point now, milliseconds max_age)
{
  if (snapshot == nullptr) {
    return Health::initializing;
  }
  if (age_of(*snapshot, now) > max_age) {
    return Health::stale;
  }
  return http_status_for(snapshot->summary.verdict) == 200 ? Health::healthy : Health::unhealthy;
}

Response
error_response(int status, std::string_view why)
{
  return make(status, k_text, fmt::format("{}\n", why));
}

Response
respond(const Request& request,
        const Snapshot* snapshot,
        util::Clock::time_point now,
        milliseconds max_age,
        const ServeStats& stats)
{
  const auto target = request.target;
  if (!target.starts_with('/')) {
    return error_response(400, "bad request target");
  }
  const auto question = target.find('?');
  const auto path = target.substr(0, question);
  const auto query =
    question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  const auto* route = std::find_if(
    std::begin(k_routes), std::end(k_routes), [&](const Route& r) { return r.path == path; });
  if (route == std::end(k_routes)) {
    return error_response(404, "not found");
  }
  const bool head = request.method == "HEAD";
  if (request.method != "GET" && !head) {
    auto response = error_response(405, "method not allowed");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  bool json = contains_ignoring_case(request.accept, k_json);
  std::string_view rest = query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto parameter = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (parameter.empty()) {
      continue;
    }
    if (route->takes_format && parameter == "format=json") {
      json = true;
    } else if (route->takes_format && parameter == "format=text") {
      json = false;
    } else {
      return error_response(400, "unknown query parameter");
    }
  }
  Response response;
  switch (route->endpoint) {
  case Endpoint::healthz:
    response = healthz(snapshot, now, max_age, json);
    break;
  case Endpoint::azure:
    response = azure(snapshot, now, max_age);
    break;
  case Endpoint::metrics:
    response = metrics(snapshot, now, max_age, stats);
    break;
  case Endpoint::report:
    response = report_of(snapshot);
    break;
  }
  response.head = head;
  return response;
}

} // namespace hook::gate
