// parse CLI -> load config -> plan checks -> run -> report -> exit
#include <hook/cli.hpp>
#include <hook/commands.hpp>
#include <hook/outcome.hpp>
#include <hook/signals.hpp>
#include <hook/util/http.hpp>
#include <hook/util/result.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stop_token>
#include <string_view>
#include <thread>
#include <vector>

namespace {

// Open /dev/null on whichever of fds 0-2 is closed, so that nothing readygate opens later (the
// signal pipe, a manifest, a socket) becomes its standard output and receives the report.
void
fill_standard_fds()
{
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      const int opened = open("/dev/null", O_RDWR);
      if (opened != fd) {
        std::_Exit(hook::k_exit_software); // cannot happen: the lowest free fd is `fd`
      }
    }
  }
}

int
run(int argc, char** argv)
{
  std::vector<std::string_view> args(argv + 1, argv + argc);
  const auto commands = hook::cli_commands();
  auto invocation = hook::parse_cli(args, commands);
  if (!invocation) {
    std::cerr << "readygate: " << invocation.error().message << '\n';
    return hook::k_exit_usage;
  }
  switch (invocation->builtin) {
  case hook::Invocation::Builtin::help: {
    auto text = hook::help_text(invocation->help_topic, commands);
    if (!text) {
      std::cerr << "readygate: " << text.error().message << '\n';
      return hook::k_exit_usage;
    }
    std::cout << *text;
    return hook::k_exit_pass;
  }
  case hook::Invocation::Builtin::version:
    std::cout << "readygate " << RG_VERSION << '\n';
    return hook::k_exit_pass;
  case hook::Invocation::Builtin::none:
    break;
  }
  std::stop_source stop;
  if (invocation->command->watches_signals) {
    hook::watch_signals(stop, invocation->command->watches_hangup);
  }
  return invocation->command->run(*invocation, stop.get_token());
}

} // namespace

int
main(int argc, char** argv)
{
  fill_standard_fds();
  util::CurlHttpClient::global_init();
  try {
    return run(argc, argv);
  } catch (const util::Fatal& fatal) {
    std::cerr << "readygate: fatal: " << fatal.what() << '\n';
  } catch (const std::exception& e) {
    std::cerr << "readygate: fatal: " << e.what() << '\n';
  }
  return hook::k_exit_software; // a bug, never an admitted host
}
