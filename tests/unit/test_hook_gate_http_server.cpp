// The health endpoint's transport against real sockets on loopback: limits answered with 4xx and
// a closed connection, the server serving on afterwards, idle connections closed, HEAD, keep-alive.
#include "testutil.hpp"

#include <hook/gate/http_server.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <thread>

using namespace std::chrono_literals;
using hook::gate::HttpServer;

namespace {

// A blocking client socket with a receive timeout.
class Client
{
public:
  explicit Client(std::uint16_t port)
  {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(m_fd >= 0);
    timeval timeout{3, 0};
    ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~Client() { ::close(m_fd); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void
  send(std::string_view data)
  {
    while (!data.empty()) {
      const auto sent = ::send(m_fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent <= 0) {
        return; // the server may close early; what it answered is still read
      }
      data.remove_prefix(static_cast<std::size_t>(sent));
    }
  }

  // Read until the peer closes (or the timeout); `closed` says which.
  std::string
  read_all(bool* closed = nullptr)
  {
    std::string out;
    char buffer[4096];
    for (;;) {
      const auto got = ::recv(m_fd, buffer, sizeof buffer, 0);
      if (got <= 0) {
        if (closed != nullptr) {
          *closed = got == 0 || errno == ECONNRESET;
        }
        return out;
      }
      out.append(buffer, static_cast<std::size_t>(got));
    }
  }

  // Read one response whose body is `body_length` bytes (keep-alive).
  std::string
  read_response()
  {
    std::string out;
    char buffer[4096];
    while (true) {
      const auto end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        const auto length_at = out.find("Content-Length: ");
        REQUIRE(length_at != std::string::npos);
        const auto length = std::stoul(out.substr(length_at + 16));
        if (out.size() >= end + 4 + length) {
          return out;
        }
      }
      const auto got = ::recv(m_fd, buffer, sizeof buffer, 0);
      if (got <= 0) {
        return out;
      }
      out.append(buffer, static_cast<std::size_t>(got));
    }
  }

private:
  int m_fd = -1;
};

struct Fixture
{
  explicit Fixture(hook::gate::ServerLimits limits = {})
  {
    auto started = HttpServer::start(
      {util::HostPort{"127.0.0.1", 0}},
      limits,
      [this](const hook::gate::Request& request) {
        ++requests;
        hook::gate::Response response;
        response.body = std::string(request.method) + " " + std::string(request.target) + "\n";
        response.head = request.method == "HEAD";
        return response;
      },
      [this] { ++refused; });
    REQUIRE(started);
    server = std::move(*started);
    const auto& address = server->addresses().at(0);
    port = static_cast<std::uint16_t>(std::stoul(address.substr(address.rfind(':') + 1)));
  }

  std::string
  get(std::string_view target)
  {
    Client client(port);
    client.send(fmt::format("GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target));
    return client.read_all();
  }

  std::atomic<int> requests{0};
  std::atomic<int> refused{0};
  std::unique_ptr<HttpServer> server;
  std::uint16_t port = 0;
};

} // namespace

TEST_CASE("serve http: answers a request and closes on Connection: close", "[serve]")
{
  Fixture fixture;
  const auto response = fixture.get("/healthz");
  CHECK_THAT(response, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
  CHECK_THAT(response, Catch::Contains("Cache-Control: no-store\r\n"));
  CHECK_THAT(response, Catch::EndsWith("\r\n\r\nGET /healthz\n"));
  CHECK(fixture.requests == 1);
}

TEST_CASE("serve http: keep-alive serves several requests on one connection", "[serve]")
{
  Fixture fixture;
  Client client(fixture.port);
  for (int i = 0; i < 3; ++i) {
    client.send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_THAT(client.read_response(), Catch::EndsWith("GET /metrics\n"));
  }
  // Pipelined: both answered, in order.
  client.send(
    "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const auto both = client.read_all();
  CHECK(both.find("GET /a\n") < both.find("GET /b\n"));
  CHECK(fixture.requests == 5);
}

TEST_CASE("serve http: HEAD sends the length but no body", "[serve]")
{
  Fixture fixture;
  Client client(fixture.port);
  client.send("HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const auto response = client.read_all();
  CHECK_THAT(response, Catch::Contains("Content-Length: 14\r\n"));
  CHECK_THAT(response, Catch::EndsWith("\r\n\r\n"));
}

TEST_CASE("serve http: requests breaking a limit are refused and the server serves on", "[serve]")
{
  hook::gate::ServerLimits limits;
  limits.max_request_bytes = 1024;
  limits.max_headers = 8;
  Fixture fixture(limits);
  struct Case
  {
    std::string request;
    std::string status_line;
  };
  std::string many_headers = "GET /healthz HTTP/1.1\r\n";
  for (int i = 0; i < 9; ++i) {
    many_headers += fmt::format("X-{}: y\r\n", i);
  }
  many_headers += "\r\n";
  const Case cases[] = {
    {"GET /healthz HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n", "HTTP/1.1 431 "},
    {"GET /" + std::string(5000, 'a') + " HTTP/1.1\r\n\r\n", "HTTP/1.1 431 "},
    {many_headers, "HTTP/1.1 431 "},
    {"POST /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 413 "},
    {"POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
     "HTTP/1.1 413 "},
    {"this is not http\r\n\r\n", "HTTP/1.1 400 "},
    {"GET /healthz HTTP/2.0\r\n\r\n", "HTTP/1.1 400 "},
    {"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n", "HTTP/1.1 400 "},
    {std::string("GET /\x01 HTTP/1.1\r\n\r\n"), "HTTP/1.1 400 "},
  };
  for (const auto& c : cases) {
    INFO(c.request.substr(0, 60));
    Client client(fixture.port);
    client.send(c.request);
    bool closed = false;
    const auto response = client.read_all(&closed);
    CHECK_THAT(response, Catch::StartsWith(c.status_line));
    CHECK_THAT(response, Catch::Contains("Connection: close\r\n"));
    CHECK(closed);
  }
  CHECK(fixture.requests == 0);
  CHECK_THAT(fixture.get("/healthz"), Catch::StartsWith("HTTP/1.1 200 OK"));
}

TEST_CASE("serve http: connections above max_connections are closed at once", "[serve]")
{
  hook::gate::ServerLimits limits;
  limits.max_connections = 2;
  Fixture fixture(limits);
  Client first(fixture.port);
  Client second(fixture.port);
  first.send("GET /one HTTP/1.1\r\n\r\n");
  CHECK_THAT(first.read_response(), Catch::EndsWith("GET /one\n")); // both are open and served
  second.send("GET /two HTTP/1.1\r\n\r\n");
  CHECK_THAT(second.read_response(), Catch::EndsWith("GET /two\n"));
  {
    Client third(fixture.port);
    bool closed = false;
    CHECK(third.read_all(&closed).empty());
    CHECK(closed);
  }
  CHECK(fixture.refused == 1);
}

TEST_CASE("serve http: a connection that sends nothing is closed after idle_timeout", "[serve]")
{
  hook::gate::ServerLimits limits;
  limits.idle_timeout = 200ms;
  Fixture fixture(limits);
  Client slow(fixture.port);
  slow.send("GET /healthz HTTP/1.1\r\n"); // never finishes its headers
  const auto started = std::chrono::steady_clock::now();
  bool closed = false;
  CHECK(slow.read_all(&closed).empty());
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  CHECK(fixture.requests == 0);
}

TEST_CASE("serve http: an address that cannot be bound is an error naming it", "[serve]")
{
  Fixture fixture;
  auto second =
    HttpServer::start({util::HostPort{"127.0.0.1", fixture.port}},
                      {},
                      [](const hook::gate::Request&) { return hook::gate::Response{}; });
  REQUIRE_FALSE(second);
  CHECK_THAT(second.error().message,
             Catch::StartsWith(fmt::format("cannot listen on 127.0.0.1:{}: ", fixture.port)));
}

TEST_CASE("serve http: shutdown closes idle keep-alive connections", "[serve]")
{
  Fixture fixture;
  Client client(fixture.port);
  client.send("GET /a HTTP/1.1\r\n\r\n");
  CHECK_THAT(client.read_response(), Catch::EndsWith("GET /a\n"));
  fixture.server->shutdown(2s);
  bool closed = false;
  client.read_all(&closed);
  CHECK(closed);
}
