// The writers behind THE table in report_formats.cpp, and the few facts they all derive the same
// way (counts per status, time stamps, seconds), so that the formats never disagree.
#pragma once

#include <hook/report/reporter.hpp>

#include <chrono>
#include <cstddef>
#include <ostream>
#include <string>

namespace hook::report {

// --- Interface ---

// Print `summary` for people at a terminal: one line per check, findings under failures.
void write_human(std::ostream& out, const RunSummary& summary, const ReportOptions& options);

// Print `summary` as one compact JSON document (schema "readygate.report/1") and a newline.
void write_json(std::ostream& out, const RunSummary& summary, const ReportOptions& options);

// Print `summary` as a JUnit XML document with one <testsuite>.
void write_junit(std::ostream& out, const RunSummary& summary, const ReportOptions& options);

// Print `summary` as TAP version 14, with YAML diagnostics under failures and errors.
void write_tap(std::ostream& out, const RunSummary& summary, const ReportOptions& options);

// Print `summary` in the Prometheus text exposition format, for node_exporter's textfile
// collector.
void write_prometheus(std::ostream& out, const RunSummary& summary, const ReportOptions& options);

struct StatusCounts
{
  std::size_t pass = 0;
  std::size_t fail = 0;
  std::size_t error = 0;
  std::size_t skip = 0;

  // Return the count for `status`.
  std::size_t of(Status status) const;
};

// Return how many results of `summary` have each status.
StatusCounts count_statuses(const RunSummary& summary);

// Return `time` as RFC 3339 in UTC with milliseconds: "2024-05-01T12:34:56.789Z".
std::string rfc3339_utc(std::chrono::system_clock::time_point time);

// Return `duration` in seconds with millisecond precision: "2.345".
std::string format_seconds(std::chrono::milliseconds duration);

// The four statuses in the order reports list them.
inline constexpr Status k_statuses[] = {Status::pass, Status::fail, Status::error, Status::skip};

} // namespace hook::report
