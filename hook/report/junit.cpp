// The JUnit XML report: one <testsuite name="readygate">, one <testcase> per check in config
// order. Every string goes through xml_escape, the one escaping function.
#include "formats.hpp"
#include "xml_escape.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace hook::report {

namespace {

std::string
attr(std::string_view value)
{
  return xml_escape(value, XmlPosition::attribute);
}

// Return `finding` as "subject: expected X, found Y", leaving out the empty parts.
std::string
describe(const Finding& finding)
{
  std::vector<std::string> parts;
  if (!finding.expected.empty()) {
    parts.push_back("expected " + finding.expected);
  }
  if (!finding.found.empty()) {
    parts.push_back("found " + finding.found);
  }
  const auto comparison = fmt::format("{}", fmt::join(parts, ", "));
  if (finding.subject.empty() || comparison.empty()) {
    return finding.subject + comparison;
  }
  return fmt::format("{}: {}", finding.subject, comparison);
}

// Return the text CI shows for a check: its message, findings and attempts, one per line.
std::string
details(const ReportedResult& reported, bool with_findings)
{
  std::vector<std::string> lines;
  if (!reported.result.message.empty()) {
    lines.push_back(reported.result.message);
  }
  if (with_findings) {
    for (const auto& finding : reported.result.findings) {
      lines.push_back(describe(finding));
    }
    if (reported.result.findings_omitted > 0) {
      lines.push_back(fmt::format("... and {} more", reported.result.findings_omitted));
    }
  }
  if (reported.attempts > 1) {
    lines.push_back(fmt::format("attempts: {}", reported.attempts));
  }
  return fmt::format("{}", fmt::join(lines, "\n"));
}

} // namespace

void
write_junit(std::ostream& out, const RunSummary& summary, const ReportOptions& options)
{
  const auto counts = count_statuses(summary);
  // The JUnit schema's timestamp has no zone; readygate's is always UTC.
  const auto timestamp = rfc3339_utc(summary.started).substr(0, 19);

  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << fmt::format(
    R"(<testsuite name="readygate" tests="{}" failures="{}" errors="{}" skipped="{}" time="{}" timestamp="{}")",
    summary.results.size(),
    counts.fail,
    counts.error,
    counts.skip,
    format_seconds(summary.duration),
    timestamp);
  if (!options.hostname.empty()) {
    out << fmt::format(R"( hostname="{}")", attr(options.hostname));
  }
  out << ">\n";

  out << "  <properties>\n";
  const auto property = [&](std::string_view name, std::string_view value) {
    out << fmt::format(R"(    <property name="{}" value="{}"/>)", name, attr(value)) << '\n';
  };
  property("verdict", status_name(summary.verdict));
  property("deadline_reached", summary.deadline_reached ? "true" : "false");
  property("interrupted", summary.interrupted ? "true" : "false");
  out << "  </properties>\n";

  for (const auto& reported : summary.results) {
    const auto& result = reported.result;
    out << fmt::format(R"(  <testcase classname="readygate.{}" name="{}" time="{}")",
                       attr(reported.kind),
                       attr(reported.id),
                       format_seconds(reported.duration));
    switch (result.status) {
    case Status::pass: {
      const auto text = details(reported, false);
      if (text.empty()) {
        out << "/>\n";
      } else {
        out << ">\n    <system-out>" << xml_escape(text) << "</system-out>\n  </testcase>\n";
      }
      break;
    }
    case Status::fail:
    case Status::error: {
      const std::string_view element = result.status == Status::fail ? "failure" : "error";
      out << fmt::format(">\n    <{} message=\"{}\" type=\"{}\">{}</{}>\n  </testcase>\n",
                         element,
                         attr(result.message),
                         status_name(result.status),
                         xml_escape(details(reported, true)),
                         element);
      break;
    }
    case Status::skip:
      out << fmt::format(">\n    <skipped message=\"{}\"/>\n  </testcase>\n", attr(result.message));
      break;
    }
  }
  out << "</testsuite>\n";
}

} // namespace hook::report
