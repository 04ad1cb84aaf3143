// util::tcp_connect against real sockets on loopback (and nothing else: no traffic leaves the
// host).
#include "testutil.hpp"

#include <hook/util/tcp.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

class Fd
{
public:
  explicit Fd(int fd)
      : m_fd(fd)
  {}
  ~Fd()
  {
    if (m_fd >= 0) {
      close(m_fd);
    }
  }
  Fd(Fd&& other) noexcept
      : m_fd(std::exchange(other.m_fd, -1))
  {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd& operator=(Fd&&) = delete;
  int
  get() const
  {
    return m_fd;
  }

private:
  int m_fd;
};

// A socket listening on 127.0.0.1 (or ::1) with `backlog`, on `wanted_port` (0: any free one);
// never accepts. Returns {fd, port}, or {Fd(-1), 0} when the port is taken.
std::pair<Fd, std::uint16_t>
listen_on_loopback(int backlog = 16, bool ipv6 = false, std::uint16_t wanted_port = 0)
{
  Fd fd(socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.get() >= 0);
  sockaddr_storage storage{};
  socklen_t length = 0;
  if (ipv6) {
    auto* address = reinterpret_cast<sockaddr_in6*>(&storage);
    address->sin6_family = AF_INET6;
    address->sin6_addr = in6addr_loopback;
    length = sizeof *address;
  } else {
    auto* address = reinterpret_cast<sockaddr_in*>(&storage);
    address->sin_family = AF_INET;
    address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address->sin_port = htons(wanted_port);
    length = sizeof *address;
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    return {Fd(-1), 0};
  }
  REQUIRE(listen(fd.get(), backlog) == 0);
  REQUIRE(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&storage), &length) == 0);
  const auto port = ipv6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                         : reinterpret_cast<sockaddr_in*>(&storage)->sin_port;
  return {std::move(fd), ntohs(port)};
}

std::uint16_t
closed_port()
{
  auto [fd, port] = listen_on_loopback();
  return port; // the listener closes here: nothing listens on the port any more
}

// Fill the accept queue of a listener on `port` (backlog 0, never accepting) until a connect
// hangs, which is when the kernel starts dropping SYNs. Return the sockets holding it full, or
// an empty list when the queue never filled.
std::vector<Fd>
fill_accept_queue(std::uint16_t port)
{
  std::vector<Fd> held;
  for (int i = 0; i < 16; ++i) {
    Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    pollfd watched{fd.get(), POLLOUT, 0};
    const bool hung = poll(&watched, 1, 200) == 0;
    held.push_back(std::move(fd));
    if (hung) {
      return held;
    }
  }
  return {};
}

} // namespace

TEST_CASE("util::parse_host_port: names, IPv4 and bracketed IPv6, rejects the rest", "[tcp]")
{
  const auto name = util::parse_host_port("db.internal:5432");
  REQUIRE(name);
  CHECK(name->host == "db.internal");
  CHECK(name->port == 5432);
  const auto v6 = util::parse_host_port("[::1]:80");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 80);
  CHECK(util::format_host_port(*v6) == "[::1]:80");
  CHECK(util::format_host_port(*name) == "db.internal:5432");
  CHECK(util::parse_host_port("127.0.0.1:65535"));

  for (const auto* bad : {"127.0.0.1",
                          "127.0.0.1:0",
                          "127.0.0.1:65536",
                          ":80",
                          "host:",
                          "host:8o",
                          "::1:80",
                          "[::1]80",
                          "[::1",
                          "[]:80",
                          "host:-1"}) {
    INFO(bad);
    const auto parsed = util::parse_host_port(bad);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == util::Errc::config);
    CHECK_THAT(parsed.error().message, Catch::StartsWith(std::string("\"") + bad + "\": "));
  }
  CHECK_THAT(util::parse_host_port("::1:80").error().message, Catch::Contains("[::1]:80"));
}

TEST_CASE("util::tcp_connect: connects to a listening socket", "[tcp]")
{
  const auto [listener, port] = listen_on_loopback();
  const auto connected = util::tcp_connect("127.0.0.1", port, 2s);
  INFO(testutil::error_message(connected));
  REQUIRE(connected);
  CHECK(*connected < 1000ms);
}

TEST_CASE("util::tcp_connect: resolves localhost (on a thread) and tries each address", "[tcp]")
{
  // localhost may resolve to ::1 first, which refuses: the IPv4 address must still be tried.
  const auto [listener, port] = listen_on_loopback();
  const auto connected = util::tcp_connect("localhost", port, 2s);
  INFO(testutil::error_message(connected));
  CHECK(connected);
}

TEST_CASE("util::tcp_connect: connects over IPv6 loopback", "[tcp]")
{
  const auto [listener, port] = listen_on_loopback(16, true);
  if (listener.get() < 0) {
    WARN("no IPv6 loopback on this host; not tested");
    return;
  }
  const auto connected = util::tcp_connect("::1", port, 2s);
  INFO(testutil::error_message(connected));
  CHECK(connected);
}

TEST_CASE("util::tcp_connect: a closed port is Errc::network, connection refused", "[tcp]")
{
  const auto port = closed_port();
  const auto connected = util::tcp_connect("127.0.0.1", port, 2s);
  REQUIRE_FALSE(connected);
  CHECK(connected.error().code == util::Errc::network);
  CHECK(connected.error().message == "127.0.0.1:" + std::to_string(port) + ": connection refused");
}

TEST_CASE("util::tcp_connect: no answer within the timeout is Errc::timeout, on time", "[tcp]")
{
  const auto [listener, port] = listen_on_loopback(0);
  const auto held = fill_accept_queue(port);
  // A test that cannot set up its case fails: it must never pass without having looked.
  REQUIRE_FALSE(held.empty()); // the kernel drops SYNs for a full accept queue
  const auto started = std::chrono::steady_clock::now();
  const auto connected = util::tcp_connect("127.0.0.1", port, 300ms);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(connected);
  CHECK(connected.error().code == util::Errc::timeout);
  CHECK_THAT(connected.error().message, Catch::Contains("no connection within 300ms"));
  CHECK(took >= 290ms);
  CHECK(took < 2500ms);
}

TEST_CASE("util::tcp_connect: a stop request cancels a hanging connect", "[tcp]")
{
  const auto [listener, port] = listen_on_loopback(0);
  const auto held = fill_accept_queue(port);
  REQUIRE_FALSE(held.empty()); // the kernel drops SYNs for a full accept queue
  std::stop_source stop;
  std::jthread stopper([&stop] {
    std::this_thread::sleep_for(150ms);
    stop.request_stop();
  });
  const auto started = std::chrono::steady_clock::now();
  const auto connected = util::tcp_connect("127.0.0.1", port, 10s, stop.get_token());
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(connected);
  CHECK(connected.error().code == util::Errc::cancelled);
  CHECK(took < 3s);

  const auto already = util::tcp_connect("127.0.0.1", port, 10s, stop.get_token());
  REQUIRE_FALSE(already);
  CHECK(already.error().code == util::Errc::cancelled);
}

TEST_CASE("util::tcp_connect: a socket connected to itself is not a listening server", "[tcp]")
{
  // A closed port in the ephemeral range: sooner or later the kernel picks it as the source port
  // too, and TCP's simultaneous open "connects" the socket to itself. Nothing listens there.
  // Linux gives bind(0) odd ports and connect() even ones first: take an even one.
  std::uint16_t port = 0;
  for (int tries = 0; tries < 100 && port == 0; ++tries) {
    const auto [listener, odd] = listen_on_loopback();
    const auto [neighbour, even] =
      listen_on_loopback(16, false, static_cast<std::uint16_t>(odd & ~1U));
    if (neighbour.get() >= 0) {
      port = even; // both listeners close here: nothing listens on it any more
    }
  }
  REQUIRE(port != 0);
  int connected = 0;
  for (int attempt = 0; attempt < 40'000 && connected == 0; ++attempt) {
    if (util::tcp_connect("127.0.0.1", port, 2s)) {
      ++connected;
    }
  }
  CHECK(connected == 0);
}
