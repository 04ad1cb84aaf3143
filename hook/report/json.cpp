// The JSON report: one compact document, schema "readygate.report/1", documented field by field
// in the README (Reports, json). Fields are only ever added within a schema version, never renamed.
#include "formats.hpp"

#include <hook/outcome.hpp>
#include <hook/util/text.hpp>

#include <boost/json.hpp>

#include <cstdint>

namespace hook::report {

namespace {

// Boost.JSON copies string bytes through as they are; ill-formed UTF-8 would make the document
// unparseable, so every string is made valid first.
boost::json::string
text(std::string_view value)
{
  return boost::json::string(util::valid_utf8(value));
}

std::int64_t
milliseconds(std::chrono::milliseconds duration)
{
  return static_cast<std::int64_t>(duration.count());
}

std::uint64_t
count(std::size_t n)
{
  return static_cast<std::uint64_t>(n);
}

} // namespace

void
write_json(std::ostream& out, const RunSummary& summary, const ReportOptions& options)
{
  boost::json::object report;
  report["schema"] = "readygate.report/1";
  report["verdict"] = status_name(summary.verdict);
  report["exit_code"] = exit_code_for(summary.verdict);
  report["started"] = rfc3339_utc(summary.started);
  report["duration_ms"] = milliseconds(summary.duration);
  report["deadline_reached"] = summary.deadline_reached;
  report["interrupted"] = summary.interrupted;
  report["seen_failing"] = summary.seen_failing;
  if (!options.hostname.empty()) {
    report["hostname"] = text(options.hostname);
  }

  const auto counts = count_statuses(summary);
  boost::json::object tally;
  for (const auto status : k_statuses) {
    tally[status_name(status)] = count(counts.of(status));
  }
  report["counts"] = std::move(tally);

  boost::json::array checks;
  for (const auto& reported : summary.results) {
    const auto& result = reported.result;
    boost::json::object check;
    check["id"] = text(reported.id);
    check["kind"] = text(reported.kind);
    check["status"] = status_name(result.status);
    check["message"] = text(result.message);
    check["duration_ms"] = milliseconds(reported.duration);
    check["attempts"] = reported.attempts;
    check["seen_failing"] = reported.seen_failing;
    boost::json::array findings;
    for (const auto& finding : result.findings) {
      findings.push_back(boost::json::object{
        {"subject", text(finding.subject)},
        {"expected", text(finding.expected)},
        {"found", text(finding.found)},
      });
    }
    check["findings"] = std::move(findings);
    check["findings_omitted"] = count(result.findings_omitted);
    checks.push_back(std::move(check));
  }
  report["checks"] = std::move(checks);

  out << boost::json::serialize(report) << '\n';
}

} // namespace hook::report
