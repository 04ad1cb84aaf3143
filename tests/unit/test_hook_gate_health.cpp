// What serve answers, decided from a snapshot and a fake clock: routing, status codes, bodies,
// staleness, and that nothing but the snapshot is consulted.
#include "testutil.hpp"

#include <hook/gate/health.hpp>

#include <boost/json.hpp>

using namespace std::chrono_literals;
using hook::Status;
using hook::gate::Health;
using hook::gate::Request;
using hook::gate::respond;

namespace {

const auto k_t0 = util::Clock::time_point(std::chrono::hours(1000));

std::shared_ptr<const hook::gate::Snapshot>
snapshot_of(Status verdict, util::Clock::time_point finished = k_t0)
{
  hook::RunSummary summary;
  summary.results.push_back({"app-files", "files", hook::CheckResult::pass("42 entries"), 5ms, 1});
  if (verdict == Status::fail) {
    summary.results.push_back(
      {"app-port", "tcp", hook::CheckResult::fail("wrong \"port\""), 3ms, 1});
  } else if (verdict == Status::error) {
    summary.results.push_back({"app-port", "tcp", hook::CheckResult::error("refused"), 3ms, 1});
  }
  summary.verdict = verdict;
  summary.duration = 9ms;
  return hook::gate::make_snapshot(std::move(summary), "web-1", finished);
}

hook::gate::Response
get(std::string_view target,
    const hook::gate::Snapshot* snapshot,
    util::Clock::time_point now = k_t0 + 1s,
    std::string_view accept = "",
    std::string_view method = "GET")
{
  return respond(Request{method, target, accept}, snapshot, now, 60s, hook::gate::ServeStats{});
}

} // namespace

TEST_CASE("serve /healthz: 200 only for a pass younger than max_age", "[serve]")
{
  const auto pass = snapshot_of(Status::pass);
  CHECK(get("/healthz", pass.get()).status == 200);
  CHECK(get("/healthz", pass.get(), k_t0 + 60s).status == 200); // exactly max_age: still fresh
  CHECK(get("/healthz", pass.get(), k_t0 + 60s + 1ms).status == 503);
  CHECK(get("/healthz", snapshot_of(Status::fail).get()).status == 503);
  CHECK(get("/healthz", snapshot_of(Status::error).get()).status == 503);
  CHECK(get("/healthz", nullptr).status == 503);

  CHECK(hook::gate::health_of(nullptr, k_t0, 60s) == Health::initializing);
  CHECK(hook::gate::health_of(pass.get(), k_t0 + 1s, 60s) == Health::healthy);
  CHECK(hook::gate::health_of(pass.get(), k_t0 + 61s, 60s) == Health::stale);
  CHECK(hook::gate::health_of(snapshot_of(Status::fail).get(), k_t0, 60s) == Health::unhealthy);
}

TEST_CASE("serve /healthz: text by default, JSON by Accept or ?format=", "[serve]")
{
  const auto pass = snapshot_of(Status::pass);
  const auto text = get("/healthz", pass.get());
  CHECK(text.content_type == "text/plain; charset=utf-8");
  CHECK(text.body == "healthy: verdict pass (1 pass, 0 fail, 0 error, 0 skip), 1.000s old\n");

  const auto by_accept =
    get("/healthz", pass.get(), k_t0 + 2500ms, "text/html, Application/JSON;q=0.9");
  CHECK(by_accept.content_type == "application/json");
  const auto json = boost::json::parse(by_accept.body).as_object();
  CHECK(json.at("healthy").as_bool());
  CHECK(json.at("state").as_string() == "healthy");
  CHECK(json.at("verdict").as_string() == "pass");
  CHECK(json.at("age_ms").as_int64() == 2500);
  CHECK(json.at("max_age_ms").as_int64() == 60000);
  CHECK(json.at("counts").at("pass").to_number<int>() == 1);

  CHECK(get("/healthz?format=json", pass.get()).content_type == "application/json");
  CHECK(get("/healthz?format=text", pass.get(), k_t0 + 1s, "application/json").content_type
        == "text/plain; charset=utf-8");

  const auto failing = get("/healthz", snapshot_of(Status::fail).get());
  CHECK(failing.body == "unhealthy: verdict fail (1 pass, 1 fail, 0 error, 0 skip), 1.000s old\n");
  // The health body names no check and no finding: it may be reachable from outside.
  CHECK(failing.body.find("app-port") == std::string::npos);

  const auto stale = get("/healthz", pass.get(), k_t0 + 75s);
  CHECK(stale.body == "unhealthy: the verdict (pass) is 75.000s old, older than max_age 1m\n");
  const auto stale_json =
    boost::json::parse(get("/healthz?format=json", pass.get(), k_t0 + 75s).body);
  CHECK(stale_json.at("state").as_string() == "stale");
  CHECK_FALSE(stale_json.at("healthy").as_bool());

  CHECK(get("/healthz", nullptr).body == "unhealthy: no run has finished yet\n");
  const auto first = boost::json::parse(get("/healthz?format=json", nullptr).body);
  CHECK(first.at("state").as_string() == "initializing");
  CHECK(first.at("verdict").is_null());
}

TEST_CASE("serve /azure: rich health states, always 200", "[serve]")
{
  const auto state = [](const hook::gate::Response& response) {
    CHECK(response.status == 200);
    CHECK(response.content_type == "application/json");
    return std::string(boost::json::parse(response.body).at("ApplicationHealthState").as_string());
  };
  const auto pass = snapshot_of(Status::pass);
  CHECK(state(get("/azure", nullptr)) == "Initializing");
  CHECK(state(get("/azure", pass.get())) == "Healthy");
  CHECK(state(get("/azure", pass.get(), k_t0 + 61s)) == "Unhealthy");
  CHECK(state(get("/azure", snapshot_of(Status::fail).get())) == "Unhealthy");
  CHECK(state(get("/azure", snapshot_of(Status::error).get())) == "Unhealthy");
}

TEST_CASE("serve /metrics: the run's exposition plus the endpoint's own", "[serve]")
{
  hook::gate::ServeStats stats;
  stats.runs = 7;
  stats.reloads_refused = 2;
  stats.connections_refused = 3;
  const auto pass = snapshot_of(Status::pass);
  const auto response =
    respond(Request{"GET", "/metrics", ""}, pass.get(), k_t0 + 1500ms, 60s, stats);
  CHECK(response.status == 200);
  CHECK(response.content_type == "text/plain; version=0.0.4; charset=utf-8");
  const auto& body = response.body;
  CHECK_THAT(
    body,
    Catch::Contains(R"(readygate_check_status{id="app-files",kind="files",status="pass"} 1)"));
  CHECK_THAT(
    body,
    Catch::Contains(R"(readygate_check_duration_seconds{id="app-files",kind="files"} 0.005)"));
  CHECK_THAT(body, Catch::Contains(R"(readygate_verdict{verdict="pass"} 1)"));
  CHECK_THAT(body, Catch::Contains("readygate_serve_healthy 1\n"));
  CHECK_THAT(body, Catch::Contains("readygate_serve_verdict_age_seconds 1.500\n"));
  CHECK_THAT(
    body,
    Catch::Contains("# TYPE readygate_serve_runs_total counter\nreadygate_serve_runs_total 7\n"));
  CHECK_THAT(body, Catch::Contains("readygate_serve_reloads_total{result=\"refused\"} 2\n"));
  CHECK_THAT(body, Catch::Contains("readygate_serve_connections_refused_total 3\n"));

  const auto stale = respond(Request{"GET", "/metrics", ""}, pass.get(), k_t0 + 2min, 60s, stats);
  CHECK_THAT(stale.body, Catch::Contains("readygate_serve_healthy 0\n"));

  const auto first = respond(Request{"GET", "/metrics", ""}, nullptr, k_t0, 60s, stats);
  CHECK(first.status == 200);
  CHECK_THAT(first.body, Catch::StartsWith("# HELP readygate_serve_healthy"));
  CHECK(first.body.find("readygate_check_status") == std::string::npos);
  CHECK(first.body.find("verdict_age") == std::string::npos);
}

TEST_CASE("serve /report: the last JSON report, 503 before the first run", "[serve]")
{
  const auto failing = snapshot_of(Status::fail);
  const auto response = get("/report", failing.get());
  CHECK(response.status == 200);
  CHECK(response.content_type == "application/json");
  CHECK(response.body == failing->report_json);
  const auto report = boost::json::parse(response.body);
  CHECK(report.at("verdict").as_string() == "fail");
  CHECK(report.at("hostname").as_string() == "web-1");
  CHECK(report.at("checks").as_array().at(1).at("message").as_string() == "wrong \"port\"");
  CHECK(get("/report", nullptr).status == 503);
}

TEST_CASE("serve routing: 404, 405, 400 and HEAD", "[serve]")
{
  const auto pass = snapshot_of(Status::pass);
  struct Case
  {
    std::string_view method;
    std::string_view target;
    int status;
  };
  const Case cases[] = {
    {"GET", "/", 404},
    {"GET", "/healthz/", 404},
    {"GET", "/HEALTHZ", 404},
    {"GET", "/etc/passwd", 404},
    {"GET", "/../healthz", 404},
    {"GET", "/healthz%00", 404},
    {"POST", "/healthz", 405},
    {"PUT", "/report", 405},
    {"DELETE", "/metrics", 405},
    {"OPTIONS", "/azure", 405},
    {"GET", "*", 400},
    {"GET", "http://example.com/healthz", 400},
    {"GET", "/healthz?format=xml", 400},
    {"GET", "/healthz?config=/etc/shadow", 400},
    {"GET", "/healthz?run=1", 400},
    {"GET", "/report?format=json", 400},
    {"GET", "/healthz?", 200},
    {"GET", "/healthz?format=json&", 200},
    {"HEAD", "/healthz", 200},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.target);
    CHECK(get(c.target, pass.get(), k_t0 + 1s, "", c.method).status == c.status);
  }
  const auto not_allowed = get("/healthz", pass.get(), k_t0 + 1s, "", "POST");
  REQUIRE(not_allowed.headers.size() == 1);
  CHECK(not_allowed.headers[0] == std::pair<std::string, std::string>("Allow", "GET, HEAD"));

  const auto head = get("/healthz", pass.get(), k_t0 + 1s, "", "HEAD");
  CHECK(head.head);
  CHECK_FALSE(head.body.empty()); // its length is the Content-Length; the transport drops it
  CHECK_FALSE(get("/healthz", pass.get()).head);
}

TEST_CASE("serve SnapshotBoard: readers keep the snapshot they took", "[serve]")
{
  hook::gate::SnapshotBoard board;
  CHECK(board.latest() == nullptr);
  board.publish(snapshot_of(Status::pass));
  const auto taken = board.latest();
  REQUIRE(taken != nullptr);
  board.publish(snapshot_of(Status::fail));
  CHECK(taken->summary.verdict == Status::pass);
  CHECK(board.latest()->summary.verdict == Status::fail);
}
