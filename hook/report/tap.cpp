// The TAP report (version 14): a plan, one test point per check in config order, a YAML
// diagnostic block under each failure and error, and the verdict as a trailing comment.
#include "formats.hpp"

#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

namespace hook::report {

namespace {

// Return `text` on one line with control characters shown as escapes, and '#' and '\' escaped
// when `in_description` (TAP 14 reads an unescaped '#' as the start of a directive).
std::string
one_line(std::string_view text, bool in_description)
{
  std::string out;
  while (!text.empty()) {
    const auto cp = util::decode_utf8(text);
    const auto original = text.substr(0, cp.length);
    text.remove_prefix(cp.length);
    if (in_description && (cp.value == '#' || cp.value == '\\')) {
      out += '\\';
      out += original;
    } else if (cp.value == '\n') {
      out += "\\n";
    } else if (cp.value == '\t') {
      out += "\\t";
    } else if (cp.value == '\r') {
      out += "\\r";
    } else if (util::is_control_or_invisible(cp.value)) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(cp.value));
    } else if (!cp.valid) {
      util::append_utf8(out, cp.value);
    } else {
      out += original;
    }
  }
  return out;
}

// Return `text` as a YAML double-quoted scalar: printable characters as they are, everything
// YAML would not print (controls, DEL, C1, line separators, BOM) as an escape.
std::string
yaml_quoted(std::string_view text)
{
  std::string out = "\"";
  while (!text.empty()) {
    const auto cp = util::decode_utf8(text);
    const auto original = text.substr(0, cp.length);
    text.remove_prefix(cp.length);
    switch (cp.value) {
    case '"':
      out += "\\\"";
      continue;
    case '\\':
      out += "\\\\";
      continue;
    case '\n':
      out += "\\n";
      continue;
    case '\t':
      out += "\\t";
      continue;
    case '\r':
      out += "\\r";
      continue;
    default:
      break;
    }
    const auto v = cp.value;
    if (util::is_control_or_invisible(v)) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(v));
    } else if (!cp.valid) {
      util::append_utf8(out, cp.value);
    } else {
      out += original;
    }
  }
  out += '"';
  return out;
}

void
write_diagnostics(std::ostream& out, const ReportedResult& reported)
{
  const auto& result = reported.result;
  out << "  ---\n";
  out << "  message: " << yaml_quoted(result.message) << '\n';
  out << "  severity: " << status_name(result.status) << '\n';
  out << "  kind: " << yaml_quoted(reported.kind) << '\n';
  out << "  duration_ms: " << reported.duration.count() << '\n';
  out << "  attempts: " << reported.attempts << '\n';
  if (result.findings.empty()) {
    out << "  findings: []\n";
  } else {
    out << "  findings:\n";
    for (const auto& finding : result.findings) {
      out << "    - subject: " << yaml_quoted(finding.subject) << '\n';
      out << "      expected: " << yaml_quoted(finding.expected) << '\n';
      out << "      found: " << yaml_quoted(finding.found) << '\n';
    }
  }
  out << "  findings_omitted: " << result.findings_omitted << '\n';
  out << "  ...\n";
}

} // namespace

void
write_tap(std::ostream& out, const RunSummary& summary, const ReportOptions& options)
{
  out << "TAP version 14\n";
  out << "1.." << summary.results.size() << '\n';
  std::size_t number = 0;
  for (const auto& reported : summary.results) {
    ++number;
    const auto& result = reported.result;
    const auto description =
      fmt::format("{} ({})", one_line(reported.id, true), one_line(reported.kind, true));
    switch (result.status) {
    case Status::pass:
      out << fmt::format("ok {} - {}\n", number, description);
      break;
    case Status::skip:
      out << fmt::format("ok {} - {} # SKIP", number, description);
      if (!result.message.empty()) {
        out << ' ' << one_line(result.message, false);
      }
      out << '\n';
      break;
    case Status::fail:
    case Status::error:
      out << fmt::format("not ok {} - {}\n", number, description);
      write_diagnostics(out, reported);
      break;
    }
  }

  const auto counts = count_statuses(summary);
  std::vector<std::string> tally;
  for (const auto status : k_statuses) {
    tally.push_back(fmt::format("{} {}", counts.of(status), status_name(status)));
  }
  std::string host;
  if (!options.hostname.empty()) {
    host = " on " + one_line(options.hostname, false);
  }
  out << fmt::format("# readygate: {}{}: {} ({}s)\n",
                     status_name(summary.verdict),
                     host,
                     fmt::join(tally, ", "),
                     format_seconds(summary.duration));
  if (summary.deadline_reached) {
    out << "# readygate: the deadline was reached before every check passed\n";
  }
  if (summary.interrupted) {
    out << "# readygate: interrupted before every check finished\n";
  }
}

} // namespace hook::report
