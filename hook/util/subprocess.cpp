#include "subprocess.hpp"

#include "subprocess_boost_process.hpp"

// Compile Boost.Process v2 here, once (the library ships no binary).
// clang-format off
#include <boost/process/v2/src.hpp>
// clang-format on

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string_view>
#include <system_error>

extern char** environ; // NOLINT: POSIX declares it nowhere in a header

namespace util {

namespace {

namespace asio = boost::asio;
namespace bp2 = boost::process::v2;

using Executor = asio::io_context::executor_type;
using Process = bp2::basic_process<Executor>;

// How long a killed process group gets to close its pipes before we close them ourselves. Only a
// process that left the group (setsid) can hold them longer.
constexpr std::chrono::milliseconds k_kill_grace{200};
constexpr std::size_t k_read_chunk = std::size_t{16} * 1024;
constexpr std::string_view k_default_path = "/usr/local/bin:/usr/bin:/bin";

// Every spawn happens under this mutex. Boost 1.81's Process v2 fails to close inherited fds in
// the child (posix/detail/close_handles.ipp compares whitelist[idx] with itself; fixed upstream
// in boostorg/process PR #360), so a child forked by another thread while our pipe ends are open
// in this process would inherit them and hold our stdout open until it exits. Spawning one at a
// time means no other fork of ours sees a pipe end before it is marked close-on-exec or closed;
// ChildSetup below also closes stray fds in the child itself.
std::mutex g_spawn_mutex;

std::string
errno_text(int code)
{
  return std::generic_category().message(code);
}

Error
cannot_run(std::string_view argv0, std::string_view why)
{
  return make_error(Errc::process, fmt::format("cannot run {}: {}", argv0, why));
}

// Return the value of `key` in `overrides` (the last one if it is there twice), or nullptr.
const std::string*
find_override(const std::vector<std::pair<std::string, std::string>>& overrides,
              std::string_view key)
{
  const auto found = std::find_if(
    overrides.rbegin(), overrides.rend(), [key](const auto& entry) { return entry.first == key; });
  return found == overrides.rend() ? nullptr : &found->second;
}

// Return the path to execute for `name`: itself when it has a '/' (relative to
// `working_directory`, where the child runs it), else the first executable
// regular file called `name` in the directories of `path_variable` (empty entries, which mean the
// current directory, are skipped on purpose).
Result<std::string>
resolve_executable(const std::string& name,
                   std::string_view path_variable,
                   std::string_view working_directory)
{
  if (name.empty()) {
    return cannot_run("\"\"", "empty program name");
  }
  if (name.find('/') != std::string::npos) {
    // Checked here so that exec fails in the child only on a race.
    const auto path = name.front() == '/' || working_directory.empty()
                        ? name
                        : fmt::format("{}/{}", working_directory, name);
    struct stat info
    {
    };
    if (::stat(path.c_str(), &info) != 0) {
      return cannot_run(name, errno_text(errno));
    }
    if (!S_ISREG(info.st_mode) || ::access(path.c_str(), X_OK) != 0) {
      return cannot_run(name, errno_text(EACCES));
    }
    return name;
  }
  int error = ENOENT;
  std::size_t begin = 0;
  while (begin <= path_variable.size()) {
    auto end = path_variable.find(':', begin);
    if (end == std::string_view::npos) {
      end = path_variable.size();
    }
    const auto directory = path_variable.substr(begin, end - begin);
    begin = end + 1;
    if (directory.empty() || directory.front() != '/') {
      // An empty or relative entry would be looked up here but run from the working directory:
      // two different programs. Only absolute directories are searched.
      continue;
    }
    auto candidate = fmt::format("{}/{}", directory, name);
    struct stat info
    {
    };
    if (::stat(candidate.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
      continue;
    }
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    error = EACCES;
  }
  return cannot_run(name, errno_text(error));
}

// Our environment with `overrides` replacing or adding variables, as "KEY=value" strings.
std::vector<std::string>
merged_environment(const std::vector<std::pair<std::string, std::string>>& overrides)
{
  std::vector<std::string> merged;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto key = text.substr(0, text.find('='));
    if (find_override(overrides, key) == nullptr) {
      merged.emplace_back(text);
    }
  }
  for (const auto& [key, value] : overrides) {
    // The last override of a key wins, as find_override has it.
    if (find_override(overrides, key) == &value) {
      merged.push_back(fmt::format("{}={}", key, value));
    }
  }
  return merged;
}

// Launcher initializer: the environment (in the parent), and in the child after stdio is set up
// (it must come after process_stdio in the initializer list): its own process group, the working
// directory, default signal state, and no fd of ours but 0, 1, 2 and the launcher's error pipe.
// Between fork and exec only async-signal-safe calls are allowed.
struct ChildSetup
{
  const char* const* environment = nullptr; // nullptr keeps ours
  const char* working_directory = nullptr;  // nullptr keeps ours

  template <typename Launcher>
  boost::system::error_code
  on_setup(Launcher& launcher,
           const bp2::filesystem::path& /*executable*/,
           const char* const* /*argv*/)
  {
    if (environment != nullptr) {
      launcher.env = environment;
    }
    return {};
  }

  template <typename Launcher>
  boost::system::error_code
  on_exec_setup(Launcher& launcher,
                const bp2::filesystem::path& /*executable*/,
                const char* const* /*argv*/)
  {
    // Its own group, so a timeout can kill grandchildren too (kill(-pid)). The launcher returns
    // only after exec, so the group exists before the parent can signal it.
    if (::setpgid(0, 0) != 0) {
      return {errno, boost::system::system_category()};
    }
    if (working_directory != nullptr && ::chdir(working_directory) != 0) {
      return {errno, boost::system::system_category()};
    }
    // Blocked signals and ignored dispositions survive exec; the command should start clean.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction default_action
    {
    };
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    ::sigaction(SIGPIPE, &default_action, nullptr);
    close_inherited_fds(launcher.fd_whitelist);
    return {};
  }

  // Called in the child when setup or exec failed, after the errno went to the parent. End the
  // child with _exit: the launcher would call exit(), which runs atexit handlers and static
  // destructors in a forked copy of a multithreaded process (a mutex another thread held at the
  // fork is never released there), and the parent waits for this child. Variadic because
  // Boost 1.81 detects the hook with five arguments but calls it with four.
  template <typename... Arguments>
  [[noreturn]] void
  on_exec_error(Arguments&&... /*arguments*/)
  {
    ::_exit(127);
  }

  // Close every fd from 3 up except those in `keep` (the launcher's exec-error pipe), without
  // allocating.
  static void
  close_inherited_fds(const std::vector<int>& keep)
  {
    unsigned low = 3;
    while (true) {
      int next_kept = -1;
      for (const int fd : keep) {
        if (fd >= static_cast<int>(low) && (next_kept == -1 || fd < next_kept)) {
          next_kept = fd;
        }
      }
      if (next_kept == -1) {
        ::close_range(low, UINT_MAX, 0);
        return;
      }
      if (static_cast<unsigned>(next_kept) > low) {
        ::close_range(low, static_cast<unsigned>(next_kept) - 1, 0);
      }
      low = static_cast<unsigned>(next_kept) + 1;
    }
  }
};

// One of the child's output streams, read to its end; bytes past `limit` are read and dropped so
// the child never blocks on a full pipe.
struct Capture
{
  explicit Capture(asio::io_context& io)
      : pipe(io)
  {}

  asio::readable_pipe pipe;
  std::string text;
  bool truncated = false;
  bool done = false;
  std::array<char, k_read_chunk> chunk{};

  void
  keep(std::size_t count, std::size_t limit)
  {
    const auto room = limit > text.size() ? limit - text.size() : 0;
    text.append(chunk.data(), std::min(count, room));
    if (count > room) {
      truncated = true;
    }
  }
};

enum class Ending { none, timeout, stopped };

// The state of one run; everything bound to `io` is declared after it.
class Session
{
public:
  Session(const ProcessRequest& request, std::string executable)
      : m_request(request),
        m_executable(std::move(executable))
  {}

  Result<ProcessOutcome>
  run()
  {
    const auto& argv0 = m_request.argv.front();
    std::vector<const char*> argv;
    argv.reserve(m_request.argv.size() + 1);
    for (const auto& arg : m_request.argv) {
      argv.push_back(arg.c_str());
    }
    argv.push_back(nullptr);

    std::vector<std::string> environment_strings;
    std::vector<const char*> environment;
    ChildSetup setup;
    if (!m_request.environment_overrides.empty()) {
      environment_strings = merged_environment(m_request.environment_overrides);
      for (const auto& entry : environment_strings) {
        environment.push_back(entry.c_str());
      }
      environment.push_back(nullptr);
      setup.environment = environment.data();
    }
    std::string working_directory;
    if (m_request.working_directory) {
      working_directory = m_request.working_directory->string();
      setup.working_directory = working_directory.c_str();
    }

    const auto started = std::chrono::steady_clock::now();
    {
      const std::lock_guard lock(g_spawn_mutex);
      boost::system::error_code ec;
      bp2::posix::default_launcher launcher;
      // The stdio initializer owns the child's ends of the pipes; it closes them as the
      // statement ends, still under the lock.
      auto spawned = launcher(m_io.get_executor(),
                              ec,
                              bp2::filesystem::path(m_executable),
                              argv.data(),
                              bp2::process_stdio{nullptr, m_out.pipe, m_err.pipe},
                              setup);
      if (ec) {
        // The launcher forgets a child whose exec failed; reap it rather than leave a zombie.
        if (launcher.pid > 0) {
          ::waitpid(launcher.pid, nullptr, 0);
        }
        return cannot_run(argv0, ec.message());
      }
      m_process.emplace(std::move(spawned));
    }
    m_pid = m_process->id();

    m_process->async_wait([this](boost::system::error_code ec, int /*exit_code*/) {
      m_exited = true;
      m_wait_error = ec;
      m_status = m_process->native_exit_code();
      finish_if_done();
    });
    read(m_out);
    read(m_err);
    m_deadline.expires_after(m_request.timeout);
    m_deadline.async_wait([this](boost::system::error_code ec) {
      if (!ec) {
        end(Ending::timeout);
      }
    });
    // Runs on the thread that requests the stop: hand it to the io_context's thread.
    const std::stop_callback on_stop(
      m_request.stop, [this] { asio::post(m_io, [this] { end(Ending::stopped); }); });

    m_io.run();
    const auto duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
    if (m_exited) {
      // Reaped: forget the pid so no destructor signals a process that may now reuse it.
      m_process->detach();
    }

    if (m_ending == Ending::timeout) {
      if (m_exited_before_end) {
        return make_error(Errc::timeout,
                          fmt::format("{} exited but its output was still open after {} ms "
                                      "(a background process holds it)",
                                      argv0,
                                      m_request.timeout.count()));
      }
      return make_error(
        Errc::timeout,
        fmt::format("{} did not exit within {} ms", argv0, m_request.timeout.count()));
    }
    if (m_ending == Ending::stopped) {
      return make_error(Errc::cancelled, fmt::format("{} was stopped before it exited", argv0));
    }
    if (!m_exited || m_wait_error) {
      return make_error(Errc::process,
                        fmt::format("cannot wait for {}: {}",
                                    argv0,
                                    m_wait_error ? m_wait_error.message() : "no exit status"));
    }

    ProcessOutcome outcome;
    if (WIFSIGNALED(m_status)) {
      outcome.term_signal = WTERMSIG(m_status);
    } else {
      outcome.exit_code = WEXITSTATUS(m_status);
    }
    outcome.stdout_text = std::move(m_out.text);
    outcome.stderr_text = std::move(m_err.text);
    outcome.stdout_truncated = m_out.truncated;
    outcome.stderr_truncated = m_err.truncated;
    outcome.duration = duration;
    return outcome;
  }

private:
  void
  read(Capture& capture)
  {
    capture.pipe.async_read_some(asio::buffer(capture.chunk),
                                 [this, &capture](boost::system::error_code ec, std::size_t count) {
                                   capture.keep(count, m_request.output_limit);
                                   if (ec) {
                                     capture.done = true;
                                     finish_if_done();
                                     return;
                                   }
                                   read(capture);
                                 });
  }

  void
  finish_if_done()
  {
    if (m_exited && m_out.done && m_err.done) {
      m_finished = true;
      m_deadline.cancel();
      m_grace.cancel();
    }
  }

  // Give up on the process: kill its group, and close our pipe ends if something outside the
  // group still holds them after a grace period.
  void
  end(Ending why)
  {
    if (m_finished || m_ending != Ending::none) {
      return;
    }
    m_ending = why;
    m_exited_before_end = m_exited;
    m_deadline.cancel();
    if (m_pid > 0) {
      ::kill(-m_pid, SIGKILL);
    }
    m_grace.expires_after(k_kill_grace);
    m_grace.async_wait([this](boost::system::error_code ec) {
      if (ec) {
        return;
      }
      boost::system::error_code ignored;
      m_out.pipe.close(ignored);
      m_err.pipe.close(ignored);
    });
  }

  const ProcessRequest& m_request;
  std::string m_executable;

  asio::io_context m_io;
  Capture m_out{m_io};
  Capture m_err{m_io};
  asio::steady_timer m_deadline{m_io};
  asio::steady_timer m_grace{m_io};
  std::optional<Process> m_process;

  int m_pid = -1;
  bool m_exited = false;
  bool m_exited_before_end = false; // only its output was still open when the run ended
  int m_status = 0;
  boost::system::error_code m_wait_error;
  bool m_finished = false;
  Ending m_ending = Ending::none;
};

Result<ProcessOutcome>
run_process(const ProcessRequest& request)
{
  if (request.argv.empty()) {
    return make_error(Errc::process, "cannot run an empty command");
  }
  const auto& argv0 = request.argv.front();

  std::string path_variable(k_default_path);
  if (const auto* path = find_override(request.environment_overrides, "PATH")) {
    path_variable = *path;
  } else if (const char* inherited = std::getenv("PATH")) { // NOLINT(concurrency-mt-unsafe)
    path_variable = inherited;
  }
  std::string working_directory;
  if (request.working_directory) {
    working_directory = request.working_directory->string();
    struct stat info
    {
    };
    const int error = ::stat(working_directory.c_str(), &info) != 0 ? errno
                      : S_ISDIR(info.st_mode)                       ? 0
                                                                    : ENOTDIR;
    if (error != 0) {
      return cannot_run(
        argv0, fmt::format("working directory {}: {}", working_directory, errno_text(error)));
    }
  }
  RG_TRY_ASSIGN(auto executable, resolve_executable(argv0, path_variable, working_directory));

  if (request.stop.stop_requested()) {
    return make_error(Errc::cancelled, fmt::format("{} was stopped before it started", argv0));
  }
  if (request.timeout <= std::chrono::milliseconds::zero()) {
    return make_error(Errc::timeout,
                      fmt::format("{} did not exit within {} ms", argv0, request.timeout.count()));
  }

  Session session(request, std::move(executable));
  return session.run();
}

} // namespace

std::shared_ptr<ProcessRunner>
ProcessRunner::make_real()
{
  return std::make_shared<SystemProcessRunner>();
}

Result<ProcessOutcome>
SystemProcessRunner::run(const ProcessRequest& request)
{
  // Boost and the standard library throw (bad_alloc, filesystem, system_error); a run's outcome
  // is a value, so they end here.
  try {
    return run_process(request);
  } catch (const std::exception& error) {
    const auto argv0 = request.argv.empty() ? std::string("command") : request.argv.front();
    return cannot_run(argv0, error.what());
  }
}

} // namespace util
