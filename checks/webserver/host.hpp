// The webserver kind's probe of the host's filesystem, users and addresses: whether a path the
// server serves from exists and its worker user can read it, the configuration files HAProxy and
// Apache name, this host's addresses, and connects to unix sockets. Unit tests install a fake.
#pragma once

#include <hook/util/duration.hpp>
#include <hook/util/result.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

namespace checks::webserver {

// --- Interface ---

struct PathState
{
  enum class Kind {
    directory,
    file,       // a regular file
    other,      // there, but neither (a socket, a device, a fifo)
    missing,    // it (or a directory on the way) does not exist
    unreadable, // readygate could not look (permission denied, I/O error)
  };
  Kind kind = Kind::unreadable;
  std::string
    detail; // for missing and unreadable: why ("No such file or directory"); for other: what it is
  // When a worker user was given: why it may not read the path ("www-data cannot search /srv
  // (mode 0700, owner 0:0)"); "" when it may.
  std::string worker_denied;
};

class WebserverHost
{
public:
  virtual ~WebserverHost() = default;
  static std::shared_ptr<WebserverHost> make_real();

  // Look at each of `paths` (symlinks followed). With `worker` (a user name), also judge by mode
  // bits whether that user may search every directory on the way and read the path (directories
  // need read and search). An unknown worker user is an Errc::config error; not done by `deadline`
  // (a hung mount) is Errc::timeout.
  virtual util::Result<std::vector<PathState>> inspect(const std::vector<std::string>& paths,
                                                       const std::optional<std::string>& worker,
                                                       util::Clock::time_point deadline,
                                                       std::stop_token stop) = 0;

  // Read a configuration file (util::read_small_file).
  virtual util::Result<std::string> read_file(const std::string& path,
                                              std::size_t limit,
                                              util::Clock::time_point deadline,
                                              std::stop_token stop) = 0;

  // Return the regular files in directory `path` whose names end in `suffix` ("" for all),
  // sorted by name; dot files are left out.
  virtual util::Result<std::vector<std::string>> list_directory(const std::string& path,
                                                                const std::string& suffix,
                                                                util::Clock::time_point deadline,
                                                                std::stop_token stop) = 0;

  // Return this host's interface addresses as inet_ntop writes them.
  virtual std::vector<std::string> local_addresses() = 0;

  // Connect to the unix socket at `path` within `timeout`, then close. Nothing listening there
  // (ECONNREFUSED, no such file, not a socket) is Errc::network; permission denied is
  // Errc::permission; no answer in time is Errc::timeout.
  virtual util::Result<std::chrono::milliseconds> connect_unix(const std::string& path,
                                                               std::chrono::milliseconds timeout,
                                                               std::stop_token stop) = 0;

  // Return true when readygate runs as root (the server's own test then sees what it sees at
  // start-up).
  virtual bool running_as_root() = 0;
};

} // namespace checks::webserver
