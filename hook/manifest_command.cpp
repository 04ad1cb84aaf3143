// readygate manifest create: write the release manifest of a tree to standard output.
#include <checks/files/manifest.hpp>
#include <hook/commands.hpp>
#include <hook/outcome.hpp>

#include <iostream>

namespace hook {

int
run_manifest_create_command(const Invocation& invocation, std::stop_token)
{
  auto written = checks::files::write_manifest(
    *invocation.value("--root"), invocation.values_of("--exclude"), std::cout);
  std::cout.flush();
  if (!written) {
    std::cerr << "readygate: manifest create: " << written.error().message << '\n';
    return written.error().code == util::Errc::usage ? k_exit_usage : k_exit_error;
  }
  if (!std::cout) {
    std::cerr << "readygate: manifest create: cannot write to standard output\n";
    return k_exit_error;
  }
  return k_exit_pass;
}

} // namespace hook
