// readygate check: run the checks once, print a report, exit with the verdict.
#include <hook/commands.hpp>
#include <hook/outcome.hpp>
#include <hook/plan.hpp>

#include <unistd.h>

#include <iostream>

namespace hook {

int
run_check_command(const Invocation& invocation, std::stop_token stop)
{
  auto plan = load_plan(invocation, stop);
  if (!plan) {
    return report_config_error(plan.error());
  }
  if (auto selected = select_checks(invocation, *plan); !selected) {
    std::cerr << "readygate: " << selected.error().message << '\n';
    return k_exit_usage;
  }
  const auto options = run_options_for(*plan, invocation, stop);
  Engine engine(Probes(), options.concurrency);
  const auto summary = engine.run(plan->checks, options);
  int code = exit_code_for(summary.verdict);
  if (!write_report(std::cout,
                    invocation.value("--format").value_or("human"),
                    summary,
                    isatty(STDOUT_FILENO) == 1)) {
    // A report nobody can read (a full disk, a closed pipe) must not admit the host.
    std::cerr << "readygate: cannot write the report to standard output\n";
    code = k_exit_error;
  }
  if (engine.abandoned_attempts() > 0) {
    // A check is still stuck in a call that ignored its deadline. This command is done: do not
    // wait for it, nor run static destructors under it.
    std::cerr.flush();
    std::_Exit(code);
  }
  return code;
}

} // namespace hook
