// The health endpoint's HTTP/1.1 transport (Boost.Beast on one I/O thread). It reads bounded
// requests and hands each to a handler that answers from memory at once; it never blocks on
// anything else. Limits: request line and headers together (max_request_bytes), header fields
// (max_headers), open connections (max_connections: more are closed as soon as they are
// accepted), and idle_timeout to send a whole request or take a response. A request that breaks
// a limit, or that is not HTTP/1.x, gets 400, 413 or 431 and its connection is closed.
#pragma once

#include <hook/gate/health.hpp>
#include <hook/util/result.hpp>
#include <hook/util/tcp.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hook::gate {

// --- Interface ---

struct ServerLimits
{
  unsigned max_connections = 64;
  std::size_t max_request_bytes = 8192;
  unsigned max_headers = 64;
  std::chrono::milliseconds idle_timeout{5'000};
};

class HttpServer
{
public:
  // Answer a request; called on the server's I/O thread, must not block.
  using Handler = std::function<Response(const Request&)>;

  // Listen on every address of `listen` (port 0: any free port) and start answering with
  // `handler`. `on_refused` is called (on the I/O thread) for each connection closed because
  // max_connections were open. An address that cannot be bound is an Errc::network error naming
  // it, and nothing listens then.
  static util::Result<std::unique_ptr<HttpServer>> start(const std::vector<util::HostPort>& listen,
                                                         const ServerLimits& limits,
                                                         Handler handler,
                                                         std::function<void()> on_refused = {});

  // Stop accepting, close idle connections, let responses being written end (at most `grace`),
  // then close everything and join the I/O thread.
  void shutdown(std::chrono::milliseconds grace);

  // Return the addresses listened on, with the real ports ("127.0.0.1:9901", "[::1]:9901").
  const std::vector<std::string>& addresses() const;

  ~HttpServer(); // shutdown(0) unless already shut down
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  struct Impl;

private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

} // namespace hook::gate
