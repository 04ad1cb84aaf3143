#include "tcp.hpp"

#include "fd.hpp"
#include "handle.hpp"

#include <hook/util/duration.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

namespace util {

namespace {

// How long one poll() waits before the loop looks at the stop token again.
constexpr int k_poll_slice_ms = 50;

using AddrinfoList = util::Handle<addrinfo, freeaddrinfo>;

// Shared by the caller and a resolver thread that may outlive it (getaddrinfo has no timeout).
struct Resolution
{
  std::mutex mutex;
  std::condition_variable_any done_changed;
  bool done = false;
  int status = 0;
  AddrinfoList addresses;
};

std::string
lowercase_first(std::string text)
{
  if (text.size() >= 2 && std::isupper(static_cast<unsigned char>(text[0])) != 0
      && std::isupper(static_cast<unsigned char>(text[1])) == 0) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

Result<AddrinfoList>
resolve(const std::string& host,
        std::uint16_t port,
        const std::string& shown,
        Clock::time_point deadline,
        const std::stop_token& stop)
{
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  const auto service = std::to_string(port);
  addrinfo* found = nullptr;
  // A numeric address never blocks: no thread needed.
  const int numeric = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (numeric == 0) {
    return AddrinfoList(found);
  }
  if (numeric != EAI_NONAME) {
    return make_error(Errc::network,
                      fmt::format("{}: {}", shown, lowercase_first(gai_strerror(numeric))));
  }

  auto resolution = std::make_shared<Resolution>();
  hints.ai_flags = AI_NUMERICSERV;
  std::thread([resolution, host, service, hints] {
    addrinfo* list = nullptr;
    const int status = getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
    const std::lock_guard lock(resolution->mutex);
    resolution->status = status;
    resolution->addresses.reset(list);
    resolution->done = true;
    resolution->done_changed.notify_all();
  }).detach();

  std::unique_lock lock(resolution->mutex);
  resolution->done_changed.wait_until(lock, stop, deadline, [&] { return resolution->done; });
  if (!resolution->done) {
    if (stop.stop_requested()) {
      return make_error(Errc::cancelled, fmt::format("{}: cancelled", shown));
    }
    return make_error(Errc::timeout, fmt::format("{}: cannot resolve \"{}\" in time", shown, host));
  }
  if (resolution->status != 0) {
    return make_error(Errc::network,
                      fmt::format("{}: cannot resolve \"{}\": {}",
                                  shown,
                                  host,
                                  lowercase_first(gai_strerror(resolution->status))));
  }
  return std::move(resolution->addresses);
}

enum class Attempt { connected, failed, timed_out, cancelled };

// Return true when the connected socket `fd` is connected to itself. Connecting to a loopback
// port in the ephemeral range that nobody listens on can pick that same port as the source, and
// TCP's simultaneous open then "connects" the socket to itself: no server is there.
bool
connected_to_itself(int fd)
{
  sockaddr_storage local{};
  sockaddr_storage peer{};
  socklen_t local_length = sizeof local;
  socklen_t peer_length = sizeof peer;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0
      || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0
      || local.ss_family != peer.ss_family) {
    return false;
  }
  if (local.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(local);
    const auto& b = reinterpret_cast<const sockaddr_in&>(peer);
    return a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr;
  }
  if (local.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(local);
    const auto& b = reinterpret_cast<const sockaddr_in6&>(peer);
    return a.sin6_port == b.sin6_port
           && std::memcmp(&a.sin6_addr, &b.sin6_addr, sizeof a.sin6_addr) == 0;
  }
  return false;
}

// Return `connected`, or `failed` with ECONNREFUSED when the socket `fd` connected to itself.
Attempt
unless_self(int fd, int& error_number)
{
  if (connected_to_itself(fd)) {
    error_number = ECONNREFUSED;
    return Attempt::failed;
  }
  return Attempt::connected;
}

// Connect to one address; on failure put the errno into `error_number`.
Attempt
connect_one(const addrinfo& address,
            Clock::time_point deadline,
            const std::stop_token& stop,
            int& error_number)
{
  const UniqueFd socket(::socket(
    address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, address.ai_protocol));
  if (socket.get() < 0) {
    error_number = errno;
    return Attempt::failed;
  }
  if (::connect(socket.get(), address.ai_addr, address.ai_addrlen) == 0) {
    return unless_self(socket.get(), error_number);
  }
  if (errno != EINPROGRESS) {
    error_number = errno;
    return Attempt::failed;
  }
  for (;;) {
    if (stop.stop_requested()) {
      return Attempt::cancelled;
    }
    const auto left = time_left(deadline);
    if (left.count() <= 0) {
      return Attempt::timed_out;
    }
    pollfd watched{socket.get(), POLLOUT, 0};
    const int slice =
      static_cast<int>(std::min<std::chrono::milliseconds::rep>(left.count(), k_poll_slice_ms));
    const int ready = ::poll(&watched, 1, slice);
    if (ready < 0 && errno != EINTR) {
      error_number = errno;
      return Attempt::failed;
    }
    if (ready > 0) {
      int socket_error = 0;
      socklen_t length = sizeof socket_error;
      if (::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &socket_error, &length) != 0) {
        error_number = errno;
        return Attempt::failed;
      }
      if (socket_error == 0) {
        return unless_self(socket.get(), error_number);
      }
      error_number = socket_error;
      return Attempt::failed;
    }
  }
}

} // namespace

Result<HostPort>
parse_host_port(std::string_view text)
{
  HostPort address;
  std::string_view port_text;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error(Errc::config, fmt::format("\"{}\": expected \"[address]:port\"", text));
    }
    address.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return make_error(Errc::config, fmt::format("\"{}\": expected \"host:port\"", text));
    }
    address.host = std::string(text.substr(0, colon));
    if (address.host.find(':') != std::string::npos) {
      return make_error(
        Errc::config,
        fmt::format("\"{}\": write an IPv6 address in brackets, as \"[::1]:80\"", text));
    }
    port_text = text.substr(colon + 1);
  }
  if (address.host.empty()) {
    return make_error(Errc::config, fmt::format("\"{}\": the host is empty", text));
  }
  unsigned value = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [stopped_at, status] = std::from_chars(port_text.data(), end, value);
  if (port_text.empty() || status != std::errc() || stopped_at != end || value < 1
      || value > 65535) {
    return make_error(Errc::config, fmt::format("\"{}\": expected a port from 1 to 65535", text));
  }
  address.port = static_cast<std::uint16_t>(value);
  return address;
}

Result<HostPort>
parse_listen_address(std::string_view text)
{
  RG_TRY_ASSIGN(auto address, parse_host_port(text));
  in6_addr buffer{};
  const bool bracketed = text.starts_with('[');
  const int family = bracketed ? AF_INET6 : AF_INET;
  if (inet_pton(family, address.host.c_str(), &buffer) != 1) {
    return make_error(Errc::config,
                      fmt::format("\"{}\": expected a numeric {} address, not a name",
                                  text,
                                  bracketed ? "IPv6" : "IPv4"));
  }
  return address;
}

std::string
format_host_port(const HostPort& address)
{
  return address.host.find(':') != std::string::npos
           ? fmt::format("[{}]:{}", address.host, address.port)
           : fmt::format("{}:{}", address.host, address.port);
}

Result<std::chrono::milliseconds>
tcp_connect(const std::string& host,
            std::uint16_t port,
            std::chrono::milliseconds timeout,
            std::stop_token stop)
{
  const auto started = Clock::now();
  const auto deadline = started + timeout;
  const auto shown = format_host_port(HostPort{host, port});
  if (stop.stop_requested()) {
    return make_error(Errc::cancelled, fmt::format("{}: cancelled", shown));
  }
  RG_TRY_ASSIGN(const auto addresses, resolve(host, port, shown, deadline, stop));

  int last_error = 0;
  for (const addrinfo* address = addresses.get(); address != nullptr; address = address->ai_next) {
    switch (connect_one(*address, deadline, stop, last_error)) {
    case Attempt::connected:
      return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    case Attempt::cancelled:
      return make_error(Errc::cancelled, fmt::format("{}: cancelled", shown));
    case Attempt::timed_out:
      return make_error(
        Errc::timeout, fmt::format("{}: no connection within {}", shown, format_duration(timeout)));
    case Attempt::failed:
      break;
    }
  }
  if (last_error == 0) {
    return make_error(Errc::network, fmt::format("{}: \"{}\" has no address", shown, host));
  }
  if (last_error == ECONNREFUSED) {
    return make_error(Errc::network, fmt::format("{}: connection refused", shown));
  }
  return make_error(Errc::network,
                    fmt::format("{}: {}", shown, lowercase_first(std::strerror(last_error))));
}

namespace {

class SystemTcpConnector final : public TcpConnector
{
public:
  Result<std::chrono::milliseconds>
  connect(const std::string& host,
          std::uint16_t port,
          std::chrono::milliseconds timeout,
          std::stop_token stop) override
  {
    return tcp_connect(host, port, timeout, std::move(stop));
  }
};

} // namespace

std::shared_ptr<TcpConnector>
TcpConnector::make_real()
{
  return std::make_shared<SystemTcpConnector>();
}

} // namespace util
