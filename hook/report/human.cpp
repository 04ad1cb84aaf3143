// The report for people at a terminal. Stable line layout (golden files depend on it):
//
//   PASS   app-files  files      120ms  tree matches the release
//   FAIL   nginx      webserver   2.1s  nginx -t rejected the config (3 attempts)
//          /etc/nginx/nginx.conf: expected valid, found "unknown directive"
//          ... and 2 more
//
//   readygate: FAIL — 2 checks: 1 pass, 1 fail (2.3s)
#include "formats.hpp"

#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

namespace hook::report {

namespace {

constexpr std::string_view k_reset = "\x1b[0m";
constexpr std::string_view k_indent = "       "; // under the id column: marker width 5 + 2

std::string_view
marker(Status status)
{
  switch (status) {
  case Status::pass:
    return "PASS";
  case Status::fail:
    return "FAIL";
  case Status::error:
    return "ERROR";
  case Status::skip:
    return "SKIP";
  }
  return "ERROR";
}

std::string_view
colour_of(Status status)
{
  switch (status) {
  case Status::pass:
    return "\x1b[32m"; // green
  case Status::fail:
    return "\x1b[31m"; // red
  case Status::error:
    return "\x1b[33m"; // yellow
  case Status::skip:
    return "\x1b[90m"; // grey
  }
  return "";
}

// Return `word` in the colour of `status` when colour is on.
std::string
paint(std::string_view word, Status status, const ReportOptions& options)
{
  if (options.colour == Colour::yes) {
    return fmt::format("{}{}{}", colour_of(status), word, k_reset);
  }
  return std::string(word);
}

std::string
printable(std::string_view text)
{
  return util::printable(text);
}

// Return the number of code points in valid UTF-8 `text`: the column width for alignment
// (wide East Asian characters are counted as one column).
std::size_t
width(std::string_view text)
{
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string
pad(std::string_view text, std::size_t columns)
{
  std::string out(text);
  const auto w = width(text);
  if (w < columns) {
    out.append(columns - w, ' ');
  }
  return out;
}

// Return `duration` the way a person reads it: "120ms", "2.3s", "4m05s", "1h02m00s".
std::string
human_duration(std::chrono::milliseconds duration)
{
  const auto ms = std::max<std::chrono::milliseconds::rep>(duration.count(), 0);
  if (ms < 1'000) {
    return fmt::format("{}ms", ms);
  }
  if (ms < 59'950) {
    const auto tenths = (ms + 50) / 100;
    return fmt::format("{}.{}s", tenths / 10, tenths % 10);
  }
  const auto seconds = (ms + 500) / 1'000;
  if (seconds < 3'600) {
    return fmt::format("{}m{:02}s", seconds / 60, seconds % 60);
  }
  return fmt::format("{}h{:02}m{:02}s", seconds / 3'600, seconds % 3'600 / 60, seconds % 60);
}

// Return `finding` as "subject: expected X, found Y", leaving out the empty parts.
std::string
describe(const Finding& finding)
{
  std::vector<std::string> parts;
  if (!finding.expected.empty()) {
    parts.push_back("expected " + printable(finding.expected));
  }
  if (!finding.found.empty()) {
    parts.push_back("found " + printable(finding.found));
  }
  const auto comparison = fmt::format("{}", fmt::join(parts, ", "));
  if (finding.subject.empty()) {
    return comparison;
  }
  if (comparison.empty()) {
    return printable(finding.subject);
  }
  return fmt::format("{}: {}", printable(finding.subject), comparison);
}

struct Row
{
  std::string id;
  std::string kind;
  std::string duration;
};

} // namespace

void
write_human(std::ostream& out, const RunSummary& summary, const ReportOptions& options)
{
  std::vector<Row> rows;
  std::size_t id_width = 0;
  std::size_t kind_width = 0;
  std::size_t duration_width = 0;
  for (const auto& reported : summary.results) {
    Row row{printable(reported.id), printable(reported.kind), human_duration(reported.duration)};
    id_width = std::max(id_width, width(row.id));
    kind_width = std::max(kind_width, width(row.kind));
    duration_width = std::max(duration_width, width(row.duration));
    rows.push_back(std::move(row));
  }

  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& reported = summary.results[i];
    const auto& result = reported.result;
    const auto& row = rows[i];
    std::string line = paint(marker(result.status), result.status, options);
    line.append(k_indent.size() - marker(result.status).size(), ' ');
    line += pad(row.id, id_width) + "  " + pad(row.kind, kind_width) + "  ";
    line.append(duration_width - width(row.duration), ' ');
    line += row.duration;
    if (!result.message.empty()) {
      line += "  " + printable(result.message);
    }
    if (reported.attempts > 1) {
      line += fmt::format(" ({} attempts)", reported.attempts);
    }
    out << line << '\n';

    if (result.status == Status::fail || result.status == Status::error) {
      for (const auto& finding : result.findings) {
        out << k_indent << describe(finding) << '\n';
      }
      if (result.findings_omitted > 0) {
        out << k_indent << fmt::format("... and {} more", result.findings_omitted) << '\n';
      }
    }
  }

  const auto counts = count_statuses(summary);
  std::vector<std::string> tally;
  for (const auto status : k_statuses) {
    if (counts.of(status) > 0) {
      tally.push_back(fmt::format("{} {}", counts.of(status), status_name(status)));
    }
  }
  const auto total = summary.results.size();
  std::string checks = fmt::format("{} check{}", total, total == 1 ? "" : "s");
  if (!tally.empty()) {
    checks += fmt::format(": {}", fmt::join(tally, ", "));
  }
  std::string verdict = paint(marker(summary.verdict), summary.verdict, options);
  if (!options.hostname.empty()) {
    verdict += " on " + printable(options.hostname);
  }
  if (!rows.empty()) {
    out << '\n';
  }
  out << fmt::format(
    "readygate: {} — {} ({})\n", verdict, checks, human_duration(summary.duration));
  if (summary.deadline_reached) {
    out << "readygate: the deadline was reached before every check passed\n";
  }
  if (summary.interrupted) {
    out << "readygate: interrupted before every check finished\n";
  }
}

} // namespace hook::report
