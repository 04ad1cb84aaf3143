#include "host.hpp"

#include <hook/util/fd.hpp>
#include <hook/util/file.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <grp.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

namespace checks::webserver {

namespace {

// Run `work` on a helper thread and wait for it until `deadline` or `stop`: a stat or a directory
// read on a hung network mount never holds the check past its timeout (the thread is left to end
// on its own).
template <typename T>
util::Result<T>
with_deadline(std::function<util::Result<T>()> work,
              util::Clock::time_point deadline,
              std::stop_token stop,
              std::string_view what)
{
  struct Shared
  {
    std::mutex mutex;
    std::condition_variable_any changed;
    std::optional<util::Result<T>> outcome;
  };
  auto shared = std::make_shared<Shared>();
  try {
    std::thread([shared, work = std::move(work)] {
      auto outcome = work();
      const std::lock_guard lock(shared->mutex);
      shared->outcome = std::move(outcome);
      shared->changed.notify_all();
    }).detach();
  } catch (const std::system_error&) {
    return work();
  }
  std::unique_lock lock(shared->mutex);
  shared->changed.wait_until(lock, stop, deadline, [&] { return shared->outcome.has_value(); });
  if (shared->outcome) {
    return std::move(*shared->outcome);
  }
  if (stop.stop_requested()) {
    return util::make_error(util::Errc::cancelled, fmt::format("{}: cancelled", what));
  }
  return util::make_error(util::Errc::timeout,
                          fmt::format("{}: not done in time (a hung mount?)", what));
}

struct Worker
{
  std::string name;
  uid_t uid = 0;
  std::vector<gid_t> groups;
};

util::Result<Worker>
lookup_worker(const std::string& name)
{
  std::vector<char> buffer(16 * 1024);
  passwd entry{};
  passwd* found = nullptr;
  const int error = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (error != 0 || found == nullptr) {
    return util::make_error(util::Errc::config,
                            fmt::format("worker user \"{}\" does not exist on this host", name));
  }
  Worker worker{name, entry.pw_uid, {}};
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  while (getgrouplist(name.c_str(), entry.pw_gid, groups.data(), &count) < 0) {
    groups.resize(static_cast<std::size_t>(count) + 64);
    count = static_cast<int>(groups.size());
  }
  groups.resize(static_cast<std::size_t>(count));
  worker.groups = std::move(groups);
  return worker;
}

// Return true when `worker` may do `wanted` (bits: 4 read, 1 search) on a file with `info`.
bool
allowed(const Worker& worker, const struct stat& info, unsigned wanted)
{
  if (worker.uid == 0) {
    return true;
  }
  unsigned bits = 0;
  if (info.st_uid == worker.uid) {
    bits = (info.st_mode >> 6) & 7U;
  } else if (std::find(worker.groups.begin(), worker.groups.end(), info.st_gid)
             != worker.groups.end()) {
    bits = (info.st_mode >> 3) & 7U;
  } else {
    bits = info.st_mode & 7U;
  }
  return (bits & wanted) == wanted;
}

std::string
describe_mode(const struct stat& info)
{
  return fmt::format("mode {:04o}, owner {}:{}", info.st_mode & 07777U, info.st_uid, info.st_gid);
}

// Why `worker` may not read `canonical` (an absolute path without symlinks), or "".
std::string
worker_denied(const Worker& worker, const std::string& canonical, bool directory)
{
  std::filesystem::path walked("/");
  const std::filesystem::path path(canonical);
  std::vector<std::filesystem::path> parents{walked};
  for (const auto& part : path.relative_path()) {
    walked /= part;
    parents.push_back(walked);
  }
  for (std::size_t i = 0; i < parents.size(); ++i) {
    struct stat info
    {
    };
    if (::stat(parents[i].c_str(), &info) != 0) {
      return fmt::format("{}: {}", parents[i].string(), std::strerror(errno));
    }
    const bool last = i + 1 == parents.size();
    if (!last || directory) {
      const unsigned wanted = last ? 5U : 1U;
      if (!allowed(worker, info, wanted)) {
        return fmt::format("{} cannot {} {} ({})",
                           worker.name,
                           wanted == 5U ? "list" : "search",
                           parents[i].string(),
                           describe_mode(info));
      }
    } else if (!allowed(worker, info, 4U)) {
      return fmt::format(
        "{} cannot read {} ({})", worker.name, parents[i].string(), describe_mode(info));
    }
  }
  return {};
}

PathState
inspect_one(const std::string& path, const std::optional<Worker>& worker)
{
  PathState state;
  struct stat info
  {
  };
  if (::stat(path.c_str(), &info) != 0) {
    const int error = errno;
    state.kind =
      error == ENOENT || error == ENOTDIR ? PathState::Kind::missing : PathState::Kind::unreadable;
    state.detail = std::strerror(error);
    return state;
  }
  if (S_ISDIR(info.st_mode)) {
    state.kind = PathState::Kind::directory;
  } else if (S_ISREG(info.st_mode)) {
    state.kind = PathState::Kind::file;
  } else {
    state.kind = PathState::Kind::other;
    state.detail = S_ISSOCK(info.st_mode)   ? "a socket"
                   : S_ISFIFO(info.st_mode) ? "a fifo"
                   : S_ISCHR(info.st_mode)  ? "a character device"
                                            : "a block device";
    return state;
  }
  if (worker) {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) {
      state.kind = PathState::Kind::unreadable;
      state.detail = fmt::format("realpath: {}", std::strerror(errno));
      return state;
    }
    state.worker_denied =
      worker_denied(*worker, resolved, state.kind == PathState::Kind::directory);
  }
  return state;
}

class RealHost final : public WebserverHost
{
public:
  util::Result<std::vector<PathState>>
  inspect(const std::vector<std::string>& paths,
          const std::optional<std::string>& worker_name,
          util::Clock::time_point deadline,
          std::stop_token stop) override
  {
    return with_deadline<std::vector<PathState>>(
      [paths, worker_name]() -> util::Result<std::vector<PathState>> {
        std::optional<Worker> worker;
        if (worker_name) {
          RG_TRY_ASSIGN(worker, lookup_worker(*worker_name));
        }
        std::vector<PathState> states;
        for (const auto& path : paths) {
          states.push_back(inspect_one(path, worker));
        }
        return states;
      },
      deadline,
      std::move(stop),
      "served paths");
  }

  util::Result<std::string>
  read_file(const std::string& path,
            std::size_t limit,
            util::Clock::time_point deadline,
            std::stop_token stop) override
  {
    return util::read_small_file(path, limit, deadline, std::move(stop));
  }

  util::Result<std::vector<std::string>>
  list_directory(const std::string& path,
                 const std::string& suffix,
                 util::Clock::time_point deadline,
                 std::stop_token stop) override
  {
    return with_deadline<std::vector<std::string>>(
      [path, suffix]() -> util::Result<std::vector<std::string>> {
        std::error_code error;
        std::vector<std::string> names;
        std::filesystem::directory_iterator it(path, error);
        for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
          const auto name = it->path().filename().string();
          if (name.starts_with(".") || !name.ends_with(suffix) || !it->is_regular_file(error)) {
            continue;
          }
          names.push_back(it->path().string());
        }
        if (error) {
          return util::make_error(error == std::errc::permission_denied ? util::Errc::permission
                                                                        : util::Errc::io,
                                  fmt::format("{}: {}", path, error.message()));
        }
        std::sort(names.begin(), names.end());
        return names;
      },
      deadline,
      std::move(stop),
      path);
  }

  std::vector<std::string>
  local_addresses() override
  {
    std::vector<std::string> addresses;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) {
      return addresses;
    }
    for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
      if (entry->ifa_addr == nullptr) {
        continue;
      }
      char text[INET6_ADDRSTRLEN] = {};
      if (entry->ifa_addr->sa_family == AF_INET) {
        const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
        if (inet_ntop(AF_INET, &address->sin_addr, text, sizeof text) != nullptr) {
          addresses.emplace_back(text);
        }
      } else if (entry->ifa_addr->sa_family == AF_INET6) {
        const auto* address = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
        if (inet_ntop(AF_INET6, &address->sin6_addr, text, sizeof text) != nullptr) {
          addresses.emplace_back(text);
        }
      }
    }
    ::freeifaddrs(list);
    return addresses;
  }

  util::Result<std::chrono::milliseconds>
  connect_unix(const std::string& path,
               std::chrono::milliseconds timeout,
               std::stop_token stop) override
  {
    const auto shown = fmt::format("unix:{}", path);
    sockaddr_un address{};
    if (path.size() >= sizeof address.sun_path) {
      return util::make_error(util::Errc::io,
                              fmt::format("{}: the path is too long for a socket", shown));
    }
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const util::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
      return util::make_error(util::Errc::io,
                              fmt::format("{}: socket: {}", shown, std::strerror(errno)));
    }
    const auto started = util::Clock::now();
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(util::Clock::now() - started);
    }
    int error = errno;
    if (error == EAGAIN || error == EINPROGRESS) {
      // The listener's backlog is full: wait for room, in slices so a stop is seen.
      const auto deadline = util::time_after(started, timeout);
      for (;;) {
        if (stop.stop_requested()) {
          return util::make_error(util::Errc::cancelled, fmt::format("{}: cancelled", shown));
        }
        const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - util::Clock::now());
        if (left.count() <= 0) {
          return util::make_error(
            util::Errc::timeout, fmt::format("{}: no answer within {} ms", shown, timeout.count()));
        }
        pollfd poll_fd{fd.get(), POLLOUT, 0};
        if (::poll(&poll_fd, 1, static_cast<int>(std::min<long long>(left.count(), 100))) > 0) {
          socklen_t length = sizeof error;
          ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
          if (error == 0) {
            return std::chrono::duration_cast<std::chrono::milliseconds>(util::Clock::now()
                                                                         - started);
          }
          break;
        }
      }
    }
    if (error == ECONNREFUSED || error == ENOENT || error == ENOTSOCK) {
      return util::make_error(util::Errc::network,
                              fmt::format("{}: {}",
                                          shown,
                                          error == ECONNREFUSED ? "connection refused"
                                          : error == ENOENT     ? "no such socket"
                                                                : "not a socket"));
    }
    return util::make_error(error == EACCES || error == EPERM ? util::Errc::permission
                                                              : util::Errc::io,
                            fmt::format("{}: {}", shown, std::strerror(error)));
  }

  bool
  running_as_root() override
  {
    return ::geteuid() == 0;
  }
};

} // namespace

std::shared_ptr<WebserverHost>
WebserverHost::make_real()
{
  return std::make_shared<RealHost>();
}

} // namespace checks::webserver
