// THE table of report formats. Adding a format: its writer in hook/report/<name>.cpp, declared
// in formats.hpp, one line here (keep the table sorted), a golden file per scenario in
// tests/unit/golden and its section under "Reports" in the README.
#include "formats.hpp"

#include <hook/util/table.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <ctime>

namespace hook::report {

namespace {

// clang-format off
constexpr std::array k_report_formats = {
  ReportFormat{"human",      "for people at a terminal (colour unless NO_COLOR or not a tty)", &write_human},
  ReportFormat{"json",       "one JSON document, schema readygate.report/1",                    &write_json},
  ReportFormat{"junit",      "JUnit XML, one testcase per check, for CI",                       &write_junit},
  ReportFormat{"prometheus", "gauges for node_exporter's textfile collector",                   &write_prometheus},
  ReportFormat{"tap",        "TAP version 14, YAML diagnostics under failures",                 &write_tap},
};
// clang-format on

} // namespace

std::span<const ReportFormat>
report_formats()
{
  return k_report_formats;
}

const ReportFormat*
find_report_format(std::string_view name)
{
  return util::find_by_name(report_formats(), name);
}

std::size_t
StatusCounts::of(Status status) const
{
  switch (status) {
  case Status::pass:
    return pass;
  case Status::fail:
    return fail;
  case Status::error:
    return error;
  case Status::skip:
    return skip;
  }
  return 0;
}

StatusCounts
count_statuses(const RunSummary& summary)
{
  StatusCounts counts;
  for (const auto& reported : summary.results) {
    switch (reported.result.status) {
    case Status::pass:
      ++counts.pass;
      break;
    case Status::fail:
      ++counts.fail;
      break;
    case Status::error:
      ++counts.error;
      break;
    case Status::skip:
      ++counts.skip;
      break;
    }
  }
  return counts;
}

std::string
rfc3339_utc(std::chrono::system_clock::time_point time)
{
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(time.time_since_epoch()).count();
  // Floor division, so that times before 1970 still get a millisecond part in [0, 999].
  auto seconds = ms / 1000;
  auto millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                     tm.tm_year + 1900,
                     tm.tm_mon + 1,
                     tm.tm_mday,
                     tm.tm_hour,
                     tm.tm_min,
                     tm.tm_sec,
                     millis);
}

std::string
format_seconds(std::chrono::milliseconds duration)
{
  const auto ms = duration.count();
  const auto magnitude = ms < 0 ? -ms : ms;
  return fmt::format("{}{}.{:03}", ms < 0 ? "-" : "", magnitude / 1000, magnitude % 1000);
}

} // namespace hook::report
