#include "testutil.hpp"

#include <hook/report/formats.hpp>
#include <hook/report/reporter.hpp>

#include <algorithm>
#include <set>
#include <sstream>

using namespace std::chrono_literals;
using hook::Status;

TEST_CASE("hook::report::report_formats: sorted, unique, complete and each writes output",
          "[report]")
{
  const auto formats = hook::report::report_formats();
  REQUIRE(formats.size() == 5);
  CHECK(std::is_sorted(
    formats.begin(), formats.end(), [](const auto& a, const auto& b) { return a.name < b.name; }));
  std::set<std::string_view> names;
  for (const auto& format : formats) {
    INFO(format.name);
    CHECK(names.insert(format.name).second);
    CHECK(!format.summary.empty());
    REQUIRE(format.write != nullptr);
    hook::RunSummary summary;
    summary.verdict = Status::pass;
    summary.results.push_back({"one", "command", hook::CheckResult::pass("ok"), 5ms, 1});
    std::ostringstream out;
    format.write(out, summary, {});
    CHECK(out.str().find("one") != std::string::npos);
    CHECK(out.str().back() == '\n');
  }
  CHECK(names == std::set<std::string_view>{"human", "json", "junit", "prometheus", "tap"});
}

TEST_CASE("hook::report::find_report_format: finds each format by name and nothing else",
          "[report]")
{
  for (const auto& format : hook::report::report_formats()) {
    const auto* found = hook::report::find_report_format(format.name);
    REQUIRE(found != nullptr);
    CHECK(found->name == format.name);
  }
  CHECK(hook::report::find_report_format("") == nullptr);
  CHECK(hook::report::find_report_format("JSON") == nullptr);
  CHECK(hook::report::find_report_format("text") == nullptr);
  CHECK(hook::report::find_report_format("jsonx") == nullptr);
  CHECK(hook::report::find_report_format("zzz") == nullptr);
}

TEST_CASE("hook::report::count_statuses: counts each status", "[report]")
{
  hook::RunSummary summary;
  summary.results.push_back({"a", "tcp", hook::CheckResult::pass(""), 0ms, 1});
  summary.results.push_back({"b", "tcp", hook::CheckResult::fail(""), 0ms, 1});
  summary.results.push_back({"c", "tcp", hook::CheckResult::fail(""), 0ms, 1});
  summary.results.push_back({"d", "tcp", hook::CheckResult::skip(""), 0ms, 0});
  const auto counts = hook::report::count_statuses(summary);
  CHECK(counts.pass == 1);
  CHECK(counts.fail == 2);
  CHECK(counts.error == 0);
  CHECK(counts.skip == 1);
  CHECK(counts.of(Status::fail) == 2);
}

TEST_CASE("hook::report::rfc3339_utc: formats UTC with milliseconds", "[report]")
{
  using namespace std::chrono;
  const auto t = sys_days{2024y / May / 1} + 12h + 34min + 56s + 789ms;
  CHECK(hook::report::rfc3339_utc(t) == "2024-05-01T12:34:56.789Z");
  CHECK(hook::report::rfc3339_utc(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
  CHECK(hook::report::rfc3339_utc(system_clock::time_point{} - 1ms) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("hook::report::format_seconds: seconds with millisecond precision", "[report]")
{
  CHECK(hook::report::format_seconds(0ms) == "0.000");
  CHECK(hook::report::format_seconds(5ms) == "0.005");
  CHECK(hook::report::format_seconds(2345ms) == "2.345");
  CHECK(hook::report::format_seconds(600'000ms) == "600.000");
  CHECK(hook::report::format_seconds(-1500ms) == "-1.500");
}
