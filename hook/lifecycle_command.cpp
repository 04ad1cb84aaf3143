// readygate lifecycle: run the checks while an AWS Auto Scaling launch lifecycle hook holds this
// instance, then complete the hook (hook/gate/lifecycle.hpp).
#include <hook/commands.hpp>
#include <hook/gate/lifecycle.hpp>
#include <hook/outcome.hpp>
#include <hook/plan.hpp>
#include <hook/util/duration.hpp>
#include <hook/util/text.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <unistd.h>

#include <iostream>
#include <mutex>
#include <random>

namespace hook {

namespace {

using gate::Discovery;
using gate::TargetKind;

std::string
host_name()
{
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) {
    return {};
  }
  return buffer;
}

// One line on standard error, written at once so the heartbeat thread's lines never split it.
void
log_line(std::string_view line)
{
  std::cerr << fmt::format("readygate lifecycle: {}\n", util::printable(line)) << std::flush;
}

// Uniform in [0, 1), for the jitter of retries; shared by the heartbeat and main threads.
std::function<double()>
make_random()
{
  struct Source
  {
    std::mutex mutex;
    std::mt19937_64 engine{std::random_device{}()};
  };
  auto source = std::make_shared<Source>();
  return [source] {
    const std::lock_guard lock(source->mutex);
    return std::uniform_real_distribution<double>(0.0, 1.0)(source->engine);
  };
}

std::string
subject_of(const Discovery& discovery, const config::LifecycleSettings& settings)
{
  return fmt::format("{} (group {}, hook {})",
                     discovery.instance_id,
                     discovery.group_name.empty() ? "unknown" : discovery.group_name,
                     settings.hook_name);
}

// Say what the target lifecycle state means before the checks run.
void
explain_target(const Discovery& discovery)
{
  switch (gate::target_kind(discovery.target_state)) {
  case TargetKind::in_service:
  case TargetKind::not_launching:
    break;
  case TargetKind::warmed:
    if (*discovery.target_state != "Warmed:Stopped") {
      log_line(fmt::format("target lifecycle state {}: the instance enters a warm pool and will "
                           "pause again at Pending:Wait when it leaves it, without booting; "
                           "readygate-lifecycle.service does not run then (use a Stopped pool)",
                           *discovery.target_state));
    }
    break;
  case TargetKind::unknown:
    log_line(discovery.target_state
               ? fmt::format("target lifecycle state {} is not one readygate knows; verifying as "
                             "for InService",
                             *discovery.target_state)
               : std::string("the metadata service has no target lifecycle state (404); "
                             "verifying as for InService"));
    break;
  }
}

void
print_dry_run(std::ostream& out,
              const Discovery& discovery,
              const config::LifecycleSettings& settings,
              const LoadedPlan& plan,
              const std::string& credentials_text)
{
  const gate::LifecycleAction action{
    discovery.instance_id, discovery.group_name, settings.hook_name};
  out << "readygate lifecycle --dry-run: nothing is sent to Auto Scaling, no check runs, no "
         "result file is written\n\ndiscovered:\n";
  const auto row = [&](std::string_view name, std::string_view value, std::string_view source) {
    out << fmt::format("  {:<14} {}  ({})\n", name, util::printable(value), source);
  };
  row("instance", discovery.instance_id, "IMDS meta-data/instance-id");
  row("region", discovery.region, discovery.region_source);
  row("group", discovery.group_name, discovery.group_source);
  row("hook", settings.hook_name, "config");
  row("target state",
      discovery.target_state.value_or("(none)"),
      "IMDS meta-data/autoscaling/target-lifecycle-state");
  if (discovery.current_state) {
    row("current state", *discovery.current_state, "DescribeAutoScalingInstances");
  }
  row("credentials", credentials_text, "IMDS instance profile; never printed");
  row("api", discovery.endpoint, discovery.endpoint_source);

  std::vector<std::string_view> ids;
  for (const auto& check : plan.checks) {
    ids.push_back(check.id);
  }
  out << fmt::format("\nwould run {} check{} until the deadline ({}): {}\n",
                     plan.checks.size(),
                     plan.checks.size() == 1 ? "" : "s",
                     util::format_duration(plan.config.gate.deadline),
                     fmt::join(ids, ", "));
  if (gate::target_kind(discovery.target_state) == TargetKind::not_launching) {
    out << fmt::format("would call nothing: the target lifecycle state {} has no launch "
                       "lifecycle action to complete\n",
                       *discovery.target_state);
    return;
  }
  const bool proceed = settings.on_error == config::OnError::proceed;
  out << fmt::format("would call, each POST {}/ signed with SigV4 (aws:amz:{}:autoscaling):\n",
                     discovery.endpoint,
                     discovery.region);
  out << fmt::format("  RecordLifecycleActionHeartbeat  at once, then every {} while the checks "
                     "run\n    {}\n",
                     util::format_duration(settings.heartbeat_interval),
                     gate::form_body(gate::heartbeat_action(action)));
  out << fmt::format("  CompleteLifecycleAction         when every check passes{}\n    {}\n",
                     proceed ? ", or one cannot be verified and none was seen failing "
                               "(on_error = \"continue\")"
                             : "",
                     gate::form_body(gate::complete_action(action, "CONTINUE")));
  out << fmt::format("  CompleteLifecycleAction         when a check fails{}\n    {}\n",
                     proceed ? ", or a signal stops the run"
                             : ", cannot be verified, the deadline passes or a signal stops the "
                               "run (on_error = \"abandon\")",
                     gate::form_body(gate::complete_action(action, "ABANDON")));
}

} // namespace

int
run_lifecycle_command(const Invocation& invocation, std::stop_token stop)
{
  const auto started_wall = std::chrono::system_clock::now();
  const auto started = util::Clock::now();
  auto plan = load_plan(invocation, stop);
  if (!plan) {
    return report_config_error(plan.error());
  }
  if (!plan->config.lifecycle) {
    return report_config_error(util::make_error(
      util::Errc::config,
      fmt::format("{}: no [lifecycle] table: readygate lifecycle needs one with at least "
                  "hook_name (see readygate lifecycle --help)",
                  plan->config.path.string())));
  }
  const auto& settings = *plan->config.lifecycle;
  const bool dry_run = invocation.has("--dry-run");
  const auto deadline = util::time_after(started, plan->config.gate.deadline);
  const gate::CallLimits limits{deadline, stop};

  gate::SteadyGateClock clock;
  gate::RetryContext context{
    clock, make_random(), gate::Backoff{}, [](const std::string& line) { log_line(line); }};
  auto http = util::HttpClient::make_real();
  auto imds = std::make_shared<gate::ImdsClient>(http, settings.imds_endpoint);

  gate::LifecycleRecord record;
  record.hook_name = settings.hook_name;
  record.started = started_wall;
  record.hostname = host_name();
  // End the command: the result file (not for a dry run), then the one line on stderr.
  const auto finish = [&](int code, const std::string& line) {
    record.exit_code = code;
    record.line = line;
    record.duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(util::Clock::now() - started);
    if (!dry_run) {
      if (auto written =
            gate::write_result_file(settings.result_file, gate::lifecycle_result_json(record));
          !written) {
        log_line(fmt::format("cannot write the result file: {}", written.error().message));
      }
    }
    log_line(line);
    return code;
  };
  const auto no_result = [&](const std::string& subject, const std::string& why) {
    return finish(k_exit_error,
                  fmt::format("no result sent{}: {}; on_error = \"{}\" cannot be carried out, so "
                              "the hook's DefaultResult decides when its HeartbeatTimeout passes",
                              subject.empty() ? "" : " for " + subject,
                              why,
                              config::on_error_name(settings.on_error)));
  };

  auto discovered = gate::discover_instance(*imds, settings, limits, context);
  if (!discovered) {
    return no_result("", discovered.error().message);
  }
  auto& discovery = *discovered;
  record.discovery = &discovery;
  auto credentials = std::make_shared<gate::InstanceProfileCredentials>(imds);
  // Fetched now, so a missing instance profile is reported before any check runs.
  auto current = credentials->current(limits);
  if (!current) {
    return no_result(subject_of(discovery, settings), current.error().message);
  }
  discovery.role_name = current->role_name;
  const auto credentials_text =
    fmt::format("role {}, expiring {:%Y-%m-%dT%H:%M:%SZ}",
                current->role_name,
                std::chrono::floor<std::chrono::seconds>(current->expiration));
  auto api = std::make_shared<gate::AutoScalingClient>(
    http, credentials, discovery.endpoint, discovery.region);
  if (discovery.group_name.empty()) {
    if (auto found = gate::discover_group(discovery, *api, limits, context); !found) {
      return no_result(subject_of(discovery, settings), found.error().message);
    }
  }

  if (dry_run) {
    print_dry_run(std::cout, discovery, settings, *plan, credentials_text);
    std::cout.flush();
    return std::cout ? k_exit_pass : k_exit_error;
  }
  const auto subject = subject_of(discovery, settings);
  if (gate::target_kind(discovery.target_state) == TargetKind::not_launching) {
    return no_result(subject,
                     fmt::format("the target lifecycle state is {}: there is no launch "
                                 "lifecycle action to complete",
                                 *discovery.target_state));
  }
  explain_target(discovery);
  log_line(fmt::format("{}, target state {}: {} check{} until {} left, heartbeat every {}",
                       subject,
                       discovery.target_state.value_or("unknown"),
                       plan->checks.size(),
                       plan->checks.size() == 1 ? "" : "s",
                       util::format_duration(std::chrono::duration_cast<std::chrono::seconds>(
                         util::time_left(deadline))),
                       util::format_duration(settings.heartbeat_interval)));

  const gate::LifecycleAction action{
    discovery.instance_id, discovery.group_name, settings.hook_name};
  Engine engine(Probes(), plan->config.gate.concurrency);
  gate::LifecycleGate lifecycle(
    action, api, gate::GateSettings{settings.heartbeat_interval, settings.on_error}, context);
  const auto outcome = lifecycle.run(
    [&](std::stop_token checks_stop) {
      auto options = run_options_for(*plan, invocation, std::move(checks_stop));
      options.deadline = std::max(util::time_left(deadline), std::chrono::milliseconds(1));
      return engine.run(plan->checks, options);
    },
    stop);
  record.outcome = &outcome;
  const int code = finish(gate::exit_code_of(outcome), gate::outcome_line(action, outcome));
  if (engine.abandoned_attempts() > 0) {
    // A check is still stuck in a call that ignored its deadline; the result is out: do not wait.
    std::cerr.flush();
    std::_Exit(code);
  }
  return code;
}

} // namespace hook
