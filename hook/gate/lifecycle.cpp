#include "lifecycle.hpp"

#include <hook/outcome.hpp>
#include <hook/report/formats.hpp>
#include <hook/util/duration.hpp>
#include <hook/util/text.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

namespace hook::gate {

namespace {

using std::chrono::milliseconds;
using util::Errc;
using util::make_error;

constexpr std::string_view k_continue = "CONTINUE";
constexpr std::string_view k_abandon = "ABANDON";

bool
valid_instance_id(std::string_view id)
{
  return id.size() >= 10 && id.size() <= 19 && id.starts_with("i-")
         && std::all_of(id.begin() + 2, id.end(), [](char c) {
              return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            });
}

bool
valid_region(std::string_view region)
{
  return !region.empty() && region.size() <= 32
         && std::all_of(region.begin(), region.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            });
}

bool
valid_domain(std::string_view domain)
{
  return !domain.empty() && domain.size() <= 64
         && std::all_of(domain.begin(), domain.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
            });
}

std::string
first_line(std::string_view text)
{
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  text = text.substr(first);
  text = text.substr(0, text.find_first_of("\r\n"));
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

// Read `item`, retrying what the metadata service may answer next time (no connection, a
// timeout, 5xx) k_imds_attempts times in all.
util::Result<std::optional<std::string>>
read_item(Imds& imds, std::string_view item, const CallLimits& limits, RetryContext& context)
{
  for (unsigned attempt = 1;; ++attempt) {
    auto value = imds.read(item, limits);
    if (value) {
      return value;
    }
    const auto code = value.error().code;
    const bool transient = code == Errc::network || code == Errc::timeout;
    if (!transient) {
      return value;
    }
    const auto delay = backoff_delay(attempt, context.random01(), k_imds_backoff);
    if (attempt >= k_imds_attempts
        || util::time_after(context.clock.now(), delay) >= limits.deadline) {
      auto error = std::move(value).error();
      error.message += fmt::format(" ({} attempt{})", attempt, attempt == 1 ? "" : "s");
      return error;
    }
    if (!context.clock.wait_until(util::time_after(context.clock.now(), delay), limits.stop)) {
      return make_error(Errc::cancelled, "instance metadata service: interrupted");
    }
  }
}

std::string
plural(std::size_t count, std::string_view word)
{
  return fmt::format("{} {}{}", count, word, count == 1 ? "" : "s");
}

// "3 checks: 2 pass, 1 fail" (the statuses that occurred).
std::string
checks_text(const RunSummary& summary)
{
  const auto counts = report::count_statuses(summary);
  std::vector<std::string> parts;
  for (const auto status : report::k_statuses) {
    if (counts.of(status) > 0) {
      parts.push_back(fmt::format("{} {}", counts.of(status), status_name(status)));
    }
  }
  return fmt::format("{}{}{}",
                     plural(summary.results.size(), "check"),
                     parts.empty() ? "" : ": ",
                     fmt::join(parts, ", "));
}

// The first check seen failing, else the first that did not pass: "app-version (fail): expected
// ..., found ...". A check seen failing decided the result whatever the verdict, so it is named
// first, "(error, seen failing)" when its last attempt could not look.
std::string
first_problem(const RunSummary& summary)
{
  const auto shown = [](const ReportedResult& result) {
    const auto status = result.result.status;
    return fmt::format("{} ({}{}): {}",
                       result.id,
                       status_name(status),
                       result.seen_failing && status != Status::fail ? ", seen failing" : "",
                       result.result.message);
  };
  for (const auto& result : summary.results) {
    if (result.seen_failing) {
      return shown(result);
    }
  }
  for (const auto& result : summary.results) {
    if (result.result.status == Status::fail || result.result.status == Status::error) {
      return shown(result);
    }
  }
  return {};
}

boost::json::value
text_or_null(const std::optional<std::string>& text)
{
  if (!text) {
    return nullptr;
  }
  return boost::json::string(util::valid_utf8(*text));
}

boost::json::string
json_text(std::string_view text)
{
  return boost::json::string(util::valid_utf8(text));
}

} // namespace

// --- Time and retries ---

util::Clock::time_point
SteadyGateClock::now()
{
  return util::Clock::now();
}

bool
SteadyGateClock::wait_until(util::Clock::time_point until, std::stop_token stop)
{
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_lock lock(mutex);
  wake.wait_until(lock, stop, until, [] { return false; });
  return !stop.stop_requested();
}

milliseconds
backoff_delay(unsigned failures, double random01, const Backoff& backoff)
{
  auto ceiling = backoff.base;
  for (unsigned i = 1; i < failures && ceiling < backoff.cap; ++i) {
    ceiling *= 2;
  }
  ceiling = std::min(ceiling, backoff.cap);
  const double jitter = std::clamp(random01, 0.0, 1.0);
  const auto half = ceiling / 2;
  return half
         + milliseconds(
           static_cast<milliseconds::rep>(static_cast<double>((ceiling - half).count()) * jitter));
}

CallReport
call_with_retries(AutoScaling& api,
                  const QueryAction& action,
                  util::Clock::time_point deadline,
                  std::stop_token stop,
                  RetryContext& context,
                  std::stop_token cancel)
{
  CallReport report;
  if (!cancel.stop_possible()) {
    cancel = stop;
  }
  for (unsigned failures = 1;; ++failures) {
    if (stop.stop_requested()) {
      report.kind = AnswerKind::cancelled;
      return report;
    }
    auto answer = api.call(action, CallLimits{deadline, cancel});
    ++report.attempts;
    report.kind = classify(answer);
    report.detail = describe_answer(answer);
    if (report.kind != AnswerKind::ok && may_have_taken_effect(answer)
        && report.unanswered++ == 0) {
      report.first_unanswered = report.attempts;
      report.unanswered_detail = report.detail;
    }
    if (report.kind == AnswerKind::ok) {
      report.answer = std::move(*answer);
      return report;
    }
    if (report.kind != AnswerKind::retry) {
      return report;
    }
    if (stop.stop_requested()) {
      report.kind = AnswerKind::cancelled;
      return report;
    }
    const auto delay = backoff_delay(failures, context.random01(), context.backoff);
    const auto next = util::time_after(context.clock.now(), delay);
    if (next >= deadline) {
      return report; // out of time, the last answer still worth another try
    }
    if (context.log) {
      context.log(fmt::format(
        "{}: {}; retrying in {}", action.name, report.detail, util::format_duration(delay)));
    }
    if (!context.clock.wait_until(next, stop)) {
      report.kind = AnswerKind::cancelled;
      return report;
    }
  }
}

std::string_view
decide(const RunSummary& summary, bool interrupted, config::OnError on_error)
{
  if (summary.seen_failing) {
    return k_abandon; // a host seen to be wrong is never admitted, whatever else happened
  }
  const auto verdict = summary.verdict;
  if (verdict == Status::error && !interrupted && on_error == config::OnError::proceed) {
    return k_continue;
  }
  return lifecycle_result_for(verdict);
}

int
exit_code_of(const GateOutcome& outcome)
{
  if (outcome.result == k_continue && outcome.accepted) {
    return k_exit_pass;
  }
  if (outcome.summary.verdict == Status::fail) {
    return k_exit_fail;
  }
  return k_exit_error;
}

// --- The gate ---

LifecycleGate::LifecycleGate(LifecycleAction action,
                             std::shared_ptr<AutoScaling> api,
                             GateSettings settings,
                             RetryContext context)
    : m_action(std::move(action)),
      m_api(std::move(api)),
      m_settings(settings),
      m_context(std::move(context))
{}

void
LifecycleGate::heartbeat_loop(std::stop_token stop,
                              std::stop_token cancel,
                              std::stop_source& checks,
                              GateOutcome& outcome)
{
  const auto action = heartbeat_action(m_action);
  auto next = m_context.clock.now();
  while (!stop.stop_requested()) {
    next = util::time_after(next, m_settings.heartbeat_interval);
    const auto report = call_with_retries(*m_api, action, next, stop, m_context, cancel);
    switch (report.kind) {
    case AnswerKind::ok:
      ++outcome.heartbeats_recorded;
      break;
    case AnswerKind::no_active_action:
      outcome.no_active_action = true;
      outcome.detail = report.detail;
      if (m_context.log) {
        m_context.log(fmt::format("heartbeat: {}: the hook timed out or someone completed it; "
                                  "stopping the checks",
                                  report.detail));
      }
      checks.request_stop();
      return;
    case AnswerKind::cancelled:
      return;
    case AnswerKind::retry:
    case AnswerKind::final_error:
      ++outcome.heartbeats_failed;
      if (m_context.log) {
        m_context.log(
          fmt::format("heartbeat not recorded ({}): {}; the next one is due in {}",
                      plural(report.attempts, "attempt"),
                      report.detail,
                      util::format_duration(std::max(
                        milliseconds(0),
                        std::chrono::duration_cast<milliseconds>(next - m_context.clock.now())))));
      }
      break;
    }
    if (!m_context.clock.wait_until(next, stop)) {
      return;
    }
  }
}

GateOutcome
LifecycleGate::run(const std::function<RunSummary(std::stop_token)>& run_checks,
                   std::stop_token interrupt)
{
  GateOutcome outcome;
  std::stop_source checks;
  const std::stop_callback on_interrupt(interrupt, [&checks] { checks.request_stop(); });
  {
    std::stop_source cancel;
    std::promise<void> ended;
    auto heartbeats_ended = ended.get_future();
    std::jthread heartbeats([this, &checks, &outcome, &cancel, &ended](std::stop_token stop) {
      heartbeat_loop(stop, cancel.get_token(), checks, outcome);
      ended.set_value();
    });
    outcome.summary = run_checks(checks.get_token());
    heartbeats.request_stop();
    if (heartbeats_ended.wait_for(m_settings.heartbeat_grace) != std::future_status::ready) {
      cancel.request_stop();
    }
  } // joined: what the heartbeat thread wrote is ours to read
  outcome.interrupted = interrupt.stop_requested();
  if (outcome.no_active_action) {
    outcome.detail =
      fmt::format("{}: the hook timed out (its HeartbeatTimeout passed) or someone completed it",
                  outcome.detail);
    return outcome;
  }

  outcome.result = std::string(decide(outcome.summary, outcome.interrupted, m_settings.on_error));
  const auto report =
    call_with_retries(*m_api,
                      complete_action(m_action, outcome.result),
                      util::time_after(m_context.clock.now(), m_settings.completion_budget),
                      {}, // a signal has stopped the checks; the result must still go out
                      m_context);
  outcome.signal_while_completing = !outcome.interrupted && interrupt.stop_requested();
  outcome.completion_attempts = report.attempts;
  // An attempt that got no answer may have completed the action: then what the last answer
  // says (no active action, refused, no answer at all) does not tell whether the result went in.
  outcome.acceptance_unknown = report.kind != AnswerKind::ok && report.unanswered > 0;
  const auto unanswered = fmt::format(
    "attempt {} got no definite answer ({})", report.first_unanswered, report.unanswered_detail);
  switch (report.kind) {
  case AnswerKind::ok:
    outcome.accepted = true;
    break;
  case AnswerKind::no_active_action:
    outcome.no_active_action = true;
    if (outcome.acceptance_unknown) {
      outcome.detail = fmt::format(
        "{}, then attempt {} was answered {}: attempt {} most likely completed the action and its "
        "answer was lost, but the hook may also have timed out or been completed by someone "
        "else; Auto Scaling does not say which (the instance's lifecycle state does)",
        unanswered,
        report.attempts,
        report.detail,
        report.first_unanswered);
    } else {
      outcome.detail =
        fmt::format("{}: the hook timed out (its HeartbeatTimeout passed) or someone completed it",
                    report.detail);
    }
    break;
  case AnswerKind::final_error:
  case AnswerKind::cancelled:
    outcome.detail = fmt::format("refused: {}", report.detail);
    break;
  case AnswerKind::retry:
    outcome.detail = fmt::format("no answer accepted within {} ({}): {}",
                                 util::format_duration(m_settings.completion_budget),
                                 plural(report.attempts, "attempt"),
                                 report.detail);
    break;
  }
  if (outcome.acceptance_unknown && report.kind != AnswerKind::no_active_action) {
    outcome.detail += fmt::format(
      "; {}, so it may have completed the action before its answer was lost", unanswered);
  }
  return outcome;
}

// --- Discovery ---

util::Result<Discovery>
discover_instance(Imds& imds,
                  const config::LifecycleSettings& settings,
                  const CallLimits& limits,
                  RetryContext& context)
{
  Discovery discovery;
  const auto read = [&](std::string_view item) -> util::Result<std::optional<std::string>> {
    auto value = read_item(imds, item, limits, context);
    if (!value) {
      auto error = std::move(value).error();
      if (error.code == Errc::network || error.code == Errc::timeout) {
        error.message = fmt::format("{} at {}: {}: not an EC2 instance, or its metadata service "
                                    "is disabled (HttpEndpoint) or out of reach",
                                    item,
                                    settings.imds_endpoint,
                                    error.message);
      }
      return error;
    }
    if (*value) {
      **value = first_line(**value);
    }
    return value;
  };

  RG_TRY_ASSIGN(const auto instance_id, read("meta-data/instance-id"));
  if (!instance_id || !valid_instance_id(*instance_id)) {
    return make_error(Errc::protocol,
                      fmt::format("instance metadata service: instance-id \"{}\" is not an "
                                  "instance id",
                                  util::printable(instance_id.value_or("(missing)"))));
  }
  discovery.instance_id = *instance_id;

  if (settings.region) {
    discovery.region = *settings.region;
    discovery.region_source = "config";
  } else {
    RG_TRY_ASSIGN(const auto region, read("meta-data/placement/region"));
    if (!region || !valid_region(*region)) {
      return make_error(Errc::protocol,
                        "instance metadata service: no usable placement/region; set region in "
                        "[lifecycle]");
    }
    discovery.region = *region;
    discovery.region_source = "IMDS meta-data/placement/region";
  }

  if (settings.autoscaling_endpoint) {
    discovery.endpoint = *settings.autoscaling_endpoint;
    discovery.endpoint_source = "config";
  } else {
    RG_TRY_ASSIGN(const auto domain, read("meta-data/services/domain"));
    discovery.domain = domain && valid_domain(*domain) ? *domain : "amazonaws.com";
    discovery.endpoint =
      fmt::format("https://autoscaling.{}.{}", discovery.region, discovery.domain);
    discovery.endpoint_source = "the region's endpoint";
  }

  RG_TRY_ASSIGN(discovery.target_state, read("meta-data/autoscaling/target-lifecycle-state"));
  if (discovery.target_state) {
    discovery.target_state = util::printable(*discovery.target_state);
  }

  if (settings.group_name) {
    discovery.group_name = *settings.group_name;
    discovery.group_source = "config";
  } else {
    RG_TRY_ASSIGN(const auto tag, read("meta-data/tags/instance/aws:autoscaling:groupName"));
    if (tag && !tag->empty()) {
      discovery.group_name = *tag;
      discovery.group_source = "instance tag aws:autoscaling:groupName";
    }
  }
  return discovery;
}

util::Result<void>
discover_group(Discovery& discovery,
               AutoScaling& api,
               const CallLimits& limits,
               RetryContext& context)
{
  const auto report = call_with_retries(
    api, describe_instance_action(discovery.instance_id), limits.deadline, limits.stop, context);
  if (report.kind == AnswerKind::cancelled) {
    return make_error(Errc::cancelled, "DescribeAutoScalingInstances: interrupted");
  }
  if (report.kind != AnswerKind::ok) {
    return make_error(
      report.kind == AnswerKind::final_error ? Errc::permission : Errc::network,
      fmt::format("DescribeAutoScalingInstances ({}): {}; set group_name in [lifecycle], or "
                  "enable instance metadata tags",
                  plural(report.attempts, "attempt"),
                  report.detail));
  }
  RG_TRY_ASSIGN(const auto instance, parse_described_instance(report.answer.body));
  if (!instance) {
    return make_error(
      Errc::config,
      fmt::format("instance {} is in no Auto Scaling group (DescribeAutoScalingInstances lists "
                  "none): there is no lifecycle action to complete",
                  discovery.instance_id));
  }
  discovery.group_name = instance->group_name;
  discovery.group_source = "DescribeAutoScalingInstances";
  discovery.current_state = instance->lifecycle_state;
  return {};
}

TargetKind
target_kind(const std::optional<std::string>& target_state)
{
  if (!target_state) {
    return TargetKind::unknown;
  }
  const auto& state = *target_state;
  if (state == "InService") {
    return TargetKind::in_service;
  }
  if (state == "Warmed:Terminated") {
    return TargetKind::not_launching;
  }
  if (state.starts_with("Warmed:")) {
    return TargetKind::warmed;
  }
  if (state == "Terminated" || state == "Detached" || state == "Standby") {
    return TargetKind::not_launching;
  }
  return TargetKind::unknown;
}

// --- Reporting ---

std::string
outcome_line(const LifecycleAction& action, const GateOutcome& outcome)
{
  const auto subject =
    fmt::format("{} (group {}, hook {})", action.instance_id, action.group_name, action.hook_name);
  const auto& summary = outcome.summary;
  auto checks = fmt::format("{}, {}", status_name(summary.verdict), checks_text(summary));
  if (const auto problem = first_problem(summary); !problem.empty()) {
    checks += fmt::format("; {}", problem);
  }
  if (outcome.interrupted) {
    checks += summary.interrupted ? "; interrupted by a signal"
                                  : "; a signal came after the checks ended, before the result "
                                    "was sent";
  } else if (summary.deadline_reached) {
    checks += "; the deadline was reached";
  }
  if (outcome.signal_while_completing) {
    checks += fmt::format("; a signal came while {} was being sent, and it went out regardless",
                          outcome.result);
  }
  const auto tail = fmt::format("({}s, {})",
                                report::format_seconds(summary.duration),
                                plural(outcome.heartbeats_recorded, "heartbeat"));
  std::string line;
  if (outcome.result.empty()) {
    line = fmt::format("no result sent for {}: {}; {} {}", subject, outcome.detail, checks, tail);
  } else if (outcome.accepted) {
    line = fmt::format("{} accepted for {}: {} {}", outcome.result, subject, checks, tail);
  } else if (outcome.acceptance_unknown) {
    line = fmt::format("{} sent, outcome unknown, for {}: {}; {} {}",
                       outcome.result,
                       subject,
                       outcome.detail,
                       checks,
                       tail);
  } else {
    line = fmt::format(
      "{} not accepted for {}: {}; {} {}", outcome.result, subject, outcome.detail, checks, tail);
  }
  return util::printable(line);
}

std::string
lifecycle_result_json(const LifecycleRecord& record)
{
  boost::json::object document;
  document["schema"] = "readygate.lifecycle/1";
  const auto* outcome = record.outcome;
  const auto* discovery = record.discovery;
  document["result"] = outcome != nullptr && !outcome->result.empty()
                         ? boost::json::value(json_text(outcome->result))
                         : boost::json::value(nullptr);
  // null: an attempt that got no answer may have been accepted; nothing says whether it was.
  document["accepted"] = outcome != nullptr && outcome->acceptance_unknown
                           ? boost::json::value(nullptr)
                           : boost::json::value(outcome != nullptr && outcome->accepted);
  document["exit_code"] = record.exit_code;
  document["message"] = json_text(record.line);
  document["started"] = report::rfc3339_utc(record.started);
  document["duration_ms"] = static_cast<std::int64_t>(record.duration.count());
  if (!record.hostname.empty()) {
    document["hostname"] = json_text(record.hostname);
  }
  document["hook_name"] = json_text(record.hook_name);
  const auto field = [&](auto member) -> boost::json::value {
    if (discovery == nullptr || (discovery->*member).empty()) {
      return nullptr;
    }
    return json_text(discovery->*member);
  };
  document["instance_id"] = field(&Discovery::instance_id);
  document["group_name"] = field(&Discovery::group_name);
  document["group_source"] = field(&Discovery::group_source);
  document["region"] = field(&Discovery::region);
  document["endpoint"] = field(&Discovery::endpoint);
  document["target_lifecycle_state"] =
    discovery != nullptr ? text_or_null(discovery->target_state) : boost::json::value(nullptr);
  document["lifecycle_state"] =
    discovery != nullptr ? text_or_null(discovery->current_state) : boost::json::value(nullptr);
  document["no_active_action"] = outcome != nullptr && outcome->no_active_action;
  document["interrupted"] = outcome != nullptr && outcome->interrupted;
  document["signal_while_completing"] = outcome != nullptr && outcome->signal_while_completing;
  boost::json::object heartbeats;
  heartbeats["recorded"] = outcome != nullptr ? outcome->heartbeats_recorded : 0U;
  heartbeats["failed"] = outcome != nullptr ? outcome->heartbeats_failed : 0U;
  document["heartbeats"] = std::move(heartbeats);
  document["completion_attempts"] = outcome != nullptr ? outcome->completion_attempts : 0U;
  if (outcome != nullptr && !outcome->summary.results.empty()) {
    std::ostringstream report;
    report::ReportOptions options;
    options.hostname = record.hostname;
    report::write_json(report, outcome->summary, options);
    boost::system::error_code ec;
    auto parsed = boost::json::parse(report.str(), ec);
    document["report"] = ec ? boost::json::value(nullptr) : std::move(parsed);
  } else {
    document["report"] = nullptr;
  }
  return boost::json::serialize(document) + "\n";
}

util::Result<void>
write_result_file(const std::filesystem::path& path, std::string_view content)
{
  const auto shown = path.string();
  auto directory = path.parent_path();
  if (directory.empty()) {
    directory = ".";
  }
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) {
    return make_error(
      Errc::io, fmt::format("{}: cannot create {}: {}", shown, directory.string(), ec.message()));
  }
  const auto temporary =
    directory / fmt::format(".{}.{}.tmp", path.filename().string(), ::getpid());
  // The report holds what the checks saw of the host: readable by its owner (root) only. A new
  // file, never one that was there: O_EXCL and O_NOFOLLOW, and fchmod, whatever the umask.
  const int fd =
    ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_error(
      Errc::io,
      fmt::format("{}: cannot create {}: {}", shown, temporary.string(), std::strerror(errno)));
  }
  if (::fchmod(fd, 0600) != 0) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    return make_error(Errc::io, fmt::format("{}: chmod: {}", shown, std::strerror(saved)));
  }
  std::size_t written = 0;
  while (written < content.size()) {
    const auto count = ::write(fd, content.data() + written, content.size() - written);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count <= 0) {
      const int saved = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      return make_error(Errc::io, fmt::format("{}: write: {}", shown, std::strerror(saved)));
    }
    written += static_cast<std::size_t>(count);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  const bool closed = ::close(fd) == 0;
  // rename() replaces whatever is at `path`, a symlink included, without following it.
  if (!synced || !closed || ::rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved = synced ? errno : sync_errno;
    ::unlink(temporary.c_str());
    return make_error(Errc::io, fmt::format("{}: {}", shown, std::strerror(saved)));
  }
  return {};
}

} // namespace hook::gate
