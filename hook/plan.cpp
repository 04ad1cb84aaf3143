#include "plan.hpp"

#include <checks/check_kind.hpp>
#include <hook/outcome.hpp>
#include <hook/report/reporter.hpp>
#include <hook/util/duration.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>

namespace hook {

namespace {

std::string
host_name()
{
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) {
    return {};
  }
  return buffer;
}

bool
has_any_tag(const PlannedCheck& check, const std::vector<std::string>& tags)
{
  return std::any_of(check.tags.begin(), check.tags.end(), [&](const std::string& tag) {
    return std::find(tags.begin(), tags.end(), tag) != tags.end();
  });
}

} // namespace

util::Result<LoadedPlan>
load_plan(const Invocation& invocation, std::stop_token stop)
{
  auto read_for = std::chrono::duration_cast<std::chrono::milliseconds>(k_config_read_timeout);
  if (const auto deadline = invocation.value("--deadline")) {
    if (const auto parsed = util::parse_duration(*deadline)) {
      read_for = *parsed;
    }
  }
  RG_TRY_ASSIGN(auto config,
                config::load_config(config_path(invocation),
                                    util::time_after(util::Clock::now(), read_for),
                                    std::move(stop)));
  RG_TRY_ASSIGN(auto planned, checks::instantiate(config));
  return LoadedPlan{std::move(config), std::move(planned)};
}

int
report_config_error(const util::Error& error)
{
  std::string_view rest = error.message;
  while (!rest.empty()) {
    const auto end = rest.find('\n');
    std::cerr << "readygate: " << rest.substr(0, end) << '\n';
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  return k_exit_config;
}

util::Result<void>
select_checks(const Invocation& invocation, LoadedPlan& plan)
{
  const auto shown = plan.config.path.string();
  std::vector<std::string> only;
  for (const auto& list : invocation.values_of("--only")) {
    std::size_t start = 0;
    while (start <= list.size()) {
      const auto comma = list.find(',', start);
      const auto id =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!id.empty()) {
        only.push_back(id);
      }
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
  }
  const auto tags = invocation.values_of("--tag");
  const auto skip_tags = invocation.values_of("--skip-tag");

  std::set<std::string, std::less<>> unmatched(only.begin(), only.end());
  std::set<std::string, std::less<>> unused_tags(tags.begin(), tags.end());
  for (auto& check : plan.checks) {
    if (!only.empty() && std::find(only.begin(), only.end(), check.id) == only.end()) {
      check.selected = false;
      check.unselected_reason = "not selected by --only";
    } else if (!tags.empty() && !has_any_tag(check, tags)) {
      check.selected = false;
      check.unselected_reason = "not selected by --tag";
    } else if (has_any_tag(check, skip_tags)) {
      check.selected = false;
      check.unselected_reason = "left out by --skip-tag";
    }
    unmatched.erase(check.id);
    for (const auto& tag : check.tags) {
      unused_tags.erase(tag);
    }
  }
  if (!unmatched.empty()) {
    return util::make_error(
      util::Errc::usage,
      fmt::format("--only: no check with id \"{}\" in {}", *unmatched.begin(), shown));
  }
  if (!unused_tags.empty()) {
    return util::make_error(
      util::Errc::usage,
      fmt::format("--tag: no check has the tag \"{}\" in {}", *unused_tags.begin(), shown));
  }
  return {};
}

RunOptions
run_options_for(const LoadedPlan& plan, const Invocation& invocation, std::stop_token stop)
{
  RunOptions options;
  options.deadline = plan.config.gate.deadline;
  if (const auto deadline = invocation.value("--deadline")) {
    if (const auto parsed = util::parse_duration(*deadline)) {
      options.deadline = *parsed;
    }
  }
  options.retry_interval = plan.config.gate.retry_interval;
  options.concurrency = plan.config.gate.concurrency;
  options.stop = std::move(stop);
  // Retries are logged on standard error (the journal, under systemd), so an operator can see why
  // a boot is still waiting; the report itself comes once, at the end, on standard output.
  options.on_progress = [interval = options.retry_interval](const Progress& progress) {
    if (progress.will_retry) {
      std::cerr << fmt::format("readygate: {} ({}): attempt {}: {}: {}; retrying in {}\n",
                               util::printable(progress.check.id),
                               progress.check.kind,
                               progress.attempt,
                               status_name(progress.result.status),
                               util::printable(progress.result.message),
                               util::format_duration(interval));
    }
  };
  return options;
}

bool
write_report(std::ostream& out,
             std::string_view format_name,
             const RunSummary& summary,
             bool terminal)
{
  const auto* format = report::find_report_format(format_name);
  if (format == nullptr) {
    format = report::find_report_format("human");
  }
  const char* no_colour = std::getenv("NO_COLOR");
  const bool colour =
    format_name == "human" && terminal && (no_colour == nullptr || *no_colour == '\0');
  const auto hostname = host_name();
  report::ReportOptions options;
  options.colour = colour ? report::Colour::yes : report::Colour::no;
  options.hostname = hostname;
  format->write(out, summary, options);
  out.flush();
  return static_cast<bool>(out);
}

} // namespace hook
