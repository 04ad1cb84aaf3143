// readygate manifest create: write the release manifest of a tree to standard output.
#include <checks/files/manifest.hpp>
#include <hook/commands.hpp>
#include <hook/outcome.hpp>

#include <unistd.h>

#include <iostream>

namespace hook {

int
run_manifest_create_command(const Invocation& invocation, std::stop_token)
{
  // Straight to the descriptor: a regular file gets the entries as they come and the digest
  // patched into its header, so memory does not grow with the tree.
  std::cout.flush();
  auto written = checks::files::write_manifest(
    *invocation.value("--root"), invocation.values_of("--exclude"), STDOUT_FILENO);
  if (!written) {
    std::cerr << "readygate: manifest create: " << written.error().message << '\n';
    return written.error().code == util::Errc::usage ? k_exit_usage : k_exit_error;
  }
  return k_exit_pass;
}

} // namespace hook
