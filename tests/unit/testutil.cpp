#include "testutil.hpp"

#include <fmt/format.h>

#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

namespace testutil {

hook::CheckContext
context(std::chrono::milliseconds left)
{
  hook::CheckContext ctx;
  ctx.deadline = util::Clock::now() + left;
  return ctx;
}

std::vector<std::string>
described(const std::vector<hook::Expectation>& expectations)
{
  std::vector<std::string> texts;
  for (const auto& expectation : expectations) {
    texts.push_back(expectation.describe());
  }
  return texts;
}

TempDir::TempDir()
{
  std::random_device random;
  m_path = std::filesystem::temp_directory_path()
           / ("readygate-test-" + std::to_string(random()) + std::to_string(random()));
  std::filesystem::create_directories(m_path);
}

TempDir::~TempDir()
{
  std::error_code ignored;
  std::filesystem::remove_all(m_path, ignored);
}

void
write_file(const std::filesystem::path& path, std::string_view content)
{
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  REQUIRE(out.good());
}

std::string
run_unprivileged(const std::function<std::string()>& body)
{
  constexpr uid_t k_nobody = 65534;
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipe_fds[0]);
    std::string out;
    int code = 0;
    if (::geteuid() == 0
        && (::setgroups(0, nullptr) != 0 || ::setresgid(k_nobody, k_nobody, k_nobody) != 0
            || ::setresuid(k_nobody, k_nobody, k_nobody) != 0)) {
      out = fmt::format("cannot become uid {}: {}", k_nobody, std::strerror(errno));
      code = 1;
    } else if (::geteuid() == 0 || ::getuid() == 0) {
      out = "still root after dropping privileges";
      code = 1;
    } else {
      try {
        out = body();
      } catch (const std::exception& e) {
        out = fmt::format("unexpected exception: {}", e.what());
        code = 1;
      }
    }
    for (std::size_t written = 0; written < out.size();) {
      const auto n = ::write(pipe_fds[1], out.data() + written, out.size() - written);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        ::_exit(2);
      }
      written += static_cast<std::size_t>(n);
    }
    // _exit: the child must not run the parent's atexit handlers (Catch's reporters among them).
    ::_exit(code);
  }
  ::close(pipe_fds[1]);
  std::string out;
  char buffer[4096];
  for (;;) {
    const auto n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    REQUIRE(errno == EINTR);
  }
  INFO("the unprivileged child said: " << out);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return out;
}

config::CheckSpec
spec_from(std::string_view toml, const std::filesystem::path& base_directory)
{
  auto parsed = config::parse_config(toml, "test.toml", base_directory);
  INFO(error_message(parsed));
  REQUIRE(parsed);
  REQUIRE(parsed->checks.size() == 1);
  return parsed->checks.front();
}

} // namespace testutil
