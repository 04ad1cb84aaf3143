// The Prometheus report: the text exposition format (0.0.4) as node_exporter's textfile
// collector reads it, so `readygate check --format prometheus > dir/readygate.prom.$$ && mv ...`
// publishes the last run. Everything is a gauge: each file describes one run, it does not
// accumulate. No sample carries a timestamp (the collector rejects them); the run's start time
// is a metric of its own. Enumerations are one-hot (a sample per possible value, 1 for the
// current one), so a status change never makes a series vanish and alerts can match `== 1`.
#include "formats.hpp"

#include <hook/outcome.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <string>

namespace hook::report {

namespace {

// Return `value` escaped for a label value: backslash, double quote and newline, as the
// exposition format requires; ill-formed UTF-8 becomes U+FFFD, since label values are UTF-8.
std::string
label_value(std::string_view value)
{
  std::string out;
  for (const char c : util::valid_utf8(value)) {
    switch (c) {
    case '\\':
      out += "\\\\";
      break;
    case '"':
      out += "\\\"";
      break;
    case '\n':
      out += "\\n";
      break;
    default:
      out += c;
    }
  }
  return out;
}

void
family(std::ostream& out, std::string_view name, std::string_view help)
{
  out << "# HELP " << name << ' ' << help << '\n';
  out << "# TYPE " << name << " gauge\n";
}

std::string
check_labels(const ReportedResult& reported)
{
  return fmt::format(R"(id="{}",kind="{}")", label_value(reported.id), label_value(reported.kind));
}

std::string_view
flag(bool value)
{
  return value ? "1" : "0";
}

} // namespace

void
write_prometheus(std::ostream& out, const RunSummary& summary, const ReportOptions&)
{
  family(out,
         "readygate_check_status",
         "Status of each check in the last run (1 for the current status, 0 for the others).");
  for (const auto& reported : summary.results) {
    for (const auto status : k_statuses) {
      out << fmt::format("readygate_check_status{{{},status=\"{}\"}} {}\n",
                         check_labels(reported),
                         status_name(status),
                         flag(reported.result.status == status));
    }
  }

  family(out, "readygate_check_duration_seconds", "Duration of the last attempt of each check.");
  for (const auto& reported : summary.results) {
    out << fmt::format("readygate_check_duration_seconds{{{}}} {}\n",
                       check_labels(reported),
                       format_seconds(reported.duration));
  }

  family(out, "readygate_check_attempts", "Attempts made at each check in the last run.");
  for (const auto& reported : summary.results) {
    out << fmt::format(
      "readygate_check_attempts{{{}}} {}\n", check_labels(reported), reported.attempts);
  }

  family(out, "readygate_checks", "Number of checks with each status in the last run.");
  const auto counts = count_statuses(summary);
  for (const auto status : k_statuses) {
    out << fmt::format(
      "readygate_checks{{status=\"{}\"}} {}\n", status_name(status), counts.of(status));
  }

  family(out,
         "readygate_verdict",
         "Verdict of the last run (1 for the current verdict, 0 for the others).");
  // Compared through the exit code so that a verdict of skip (all skipped) reads as pass, as the
  // gate treats it.
  for (const auto verdict : {Status::pass, Status::fail, Status::error}) {
    out << fmt::format("readygate_verdict{{verdict=\"{}\"}} {}\n",
                       status_name(verdict),
                       flag(exit_code_for(summary.verdict) == exit_code_for(verdict)));
  }

  family(
    out, "readygate_run_success", "1 if the last run admitted the host (exit code 0), else 0.");
  out << "readygate_run_success " << flag(exit_code_for(summary.verdict) == 0) << '\n';

  family(out, "readygate_run_duration_seconds", "Duration of the last run.");
  out << "readygate_run_duration_seconds " << format_seconds(summary.duration) << '\n';

  family(out,
         "readygate_run_timestamp_seconds",
         "Start of the last run, in seconds since the Unix epoch.");
  out << "readygate_run_timestamp_seconds "
      << format_seconds(std::chrono::duration_cast<std::chrono::milliseconds>(
           summary.started.time_since_epoch()))
      << '\n';

  family(out, "readygate_run_deadline_reached", "1 if the last run reached its deadline, else 0.");
  out << "readygate_run_deadline_reached " << flag(summary.deadline_reached) << '\n';

  family(
    out, "readygate_run_interrupted", "1 if the last run was interrupted by a signal, else 0.");
  out << "readygate_run_interrupted " << flag(summary.interrupted) << '\n';
}

} // namespace hook::report
