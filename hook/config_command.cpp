// readygate config validate: read the config and build every check, touching nothing.
#include <hook/commands.hpp>
#include <hook/outcome.hpp>
#include <hook/plan.hpp>
#include <hook/util/duration.hpp>

#include <fmt/format.h>

#include <iostream>

namespace hook {

int
run_config_validate_command(const Invocation& invocation, std::stop_token stop)
{
  auto plan = load_plan(invocation, std::move(stop));
  if (!plan) {
    return report_config_error(plan.error());
  }
  std::cout << fmt::format("{}: valid: {} check{}, deadline {}\n",
                           plan->config.path.string(),
                           plan->checks.size(),
                           plan->checks.size() == 1 ? "" : "s",
                           util::format_duration(plan->config.gate.deadline));
  return k_exit_pass;
}

} // namespace hook
