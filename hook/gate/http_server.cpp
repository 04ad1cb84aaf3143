#include "http_server.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include <atomic>
#include <iterator>
#include <optional>
#include <set>
#include <thread>

namespace hook::gate {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using asio::ip::tcp;

namespace {

class Session;

} // namespace

struct HttpServer::Impl
{
  asio::io_context io{1};
  std::vector<tcp::acceptor> acceptors;
  std::vector<std::string> addresses;
  ServerLimits limits;
  Handler handler;
  std::function<void()> on_refused;
  std::set<std::shared_ptr<Session>> sessions; // touched on the I/O thread only
  bool stopping = false;                       // I/O thread only
  std::optional<asio::steady_timer> grace_timer;
  std::thread thread;
  bool joined = false;

  void accept(tcp::acceptor& acceptor);
};

namespace {

// Map a read error to the answer the client gets before its connection is closed; nullopt when
// there is nobody to answer (the peer left, the idle time ran out, the server is stopping).
std::optional<Response>
answer_for(const beast::error_code& error)
{
  if (error == http::error::header_limit || error == http::error::buffer_overflow) {
    return error_response(431, "request header fields too large");
  }
  if (error == http::error::unexpected_body || error == http::error::body_limit) {
    return error_response(413, "a request to this endpoint has no body");
  }
  if (error.category() == http::make_error_code(http::error::end_of_stream).category()
      && error != http::error::end_of_stream && error != http::error::partial_message) {
    return error_response(400, "malformed request");
  }
  return std::nullopt;
}

class Session : public std::enable_shared_from_this<Session>
{
public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : m_stream(std::move(socket)),
        m_server(server),
        m_buffer(2 * server.limits.max_request_bytes)
  {}

  void
  start()
  {
    read();
  }

  // Called on shutdown: an idle connection closes now; one writing a response closes after it.
  void
  stop()
  {
    m_close_after_write = true;
    if (!m_writing) {
      close();
    }
  }

private:
  void
  read()
  {
    m_parser.emplace();
    m_parser->header_limit(static_cast<std::uint32_t>(m_server.limits.max_request_bytes));
    m_parser->body_limit(0);
    m_stream.expires_after(m_server.limits.idle_timeout);
    http::async_read(
      m_stream,
      m_buffer,
      *m_parser,
      [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_read(error); });
  }

  void
  on_read(beast::error_code error)
  {
    if (m_closed) {
      return;
    }
    if (error) {
      if (auto answer = answer_for(error)) {
        write(std::move(*answer), false);
      } else {
        close();
      }
      return;
    }
    const auto& request = m_parser->get();
    if (static_cast<std::size_t>(std::distance(request.begin(), request.end()))
        > m_server.limits.max_headers) {
      write(error_response(431, "too many header fields"), false);
      return;
    }
    if (request.version() != 10 && request.version() != 11) {
      write(error_response(400, "unsupported HTTP version"), false);
      return;
    }
    const auto accept = request[http::field::accept];
    const auto method = request.method_string();
    const auto target = request.target();
    Response response = m_server.handler(Request{std::string_view(method.data(), method.size()),
                                                 std::string_view(target.data(), target.size()),
                                                 std::string_view(accept.data(), accept.size())});
    write(std::move(response), request.keep_alive() && !m_server.stopping);
  }

  void
  write(Response response, bool keep_alive)
  {
    auto message = std::make_shared<http::response<http::string_body>>();
    message->version(11);
    message->result(static_cast<unsigned>(response.status));
    message->set(http::field::content_type, response.content_type);
    message->set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : response.headers) {
      message->set(name, value);
    }
    message->keep_alive(keep_alive);
    if (response.head) {
      message->content_length(response.body.size());
    } else {
      message->body() = std::move(response.body);
      message->prepare_payload();
    }
    m_keep_alive = keep_alive;
    m_writing = true;
    m_stream.expires_after(m_server.limits.idle_timeout);
    http::async_write(m_stream,
                      *message,
                      [self = shared_from_this(), message](beast::error_code error, std::size_t) {
                        self->on_write(error);
                      });
  }

  void
  on_write(beast::error_code error)
  {
    m_writing = false;
    if (error || !m_keep_alive || m_close_after_write) {
      close();
      return;
    }
    read();
  }

  void
  close()
  {
    if (m_closed) {
      return;
    }
    m_closed = true;
    beast::error_code ignored;
    m_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    m_stream.close();
    m_server.sessions.erase(shared_from_this());
    if (m_server.stopping && m_server.sessions.empty() && m_server.grace_timer) {
      m_server.grace_timer->cancel(); // the last response is out: no need to wait any longer
    }
  }

  beast::tcp_stream m_stream;
  HttpServer::Impl& m_server;
  beast::flat_buffer m_buffer;
  std::optional<http::request_parser<http::empty_body>> m_parser;
  bool m_writing = false;
  bool m_keep_alive = false;
  bool m_close_after_write = false;
  bool m_closed = false;
};

std::string
shown(const tcp::endpoint& endpoint)
{
  const auto address = endpoint.address();
  return address.is_v6() ? fmt::format("[{}]:{}", address.to_string(), endpoint.port())
                         : fmt::format("{}:{}", address.to_string(), endpoint.port());
}

} // namespace

void
HttpServer::Impl::accept(tcp::acceptor& acceptor)
{
  acceptor.async_accept([this, &acceptor](beast::error_code error, tcp::socket socket) {
    if (stopping || !acceptor.is_open()) {
      return;
    }
    if (!error) {
      if (sessions.size() >= limits.max_connections) {
        if (on_refused) {
          on_refused(); // counted before the client can see its connection closed
        }
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        auto session = std::make_shared<Session>(std::move(socket), *this);
        sessions.insert(session);
        session->start();
      }
    }
    // An accept error (EMFILE, ECONNABORTED) affects that one connection: keep accepting.
    accept(acceptor);
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl)
    : m_impl(std::move(impl))
{}

util::Result<std::unique_ptr<HttpServer>>
HttpServer::start(const std::vector<util::HostPort>& listen,
                  const ServerLimits& limits,
                  Handler handler,
                  std::function<void()> on_refused)
{
  auto impl = std::make_unique<Impl>();
  impl->limits = limits;
  impl->handler = std::move(handler);
  impl->on_refused = std::move(on_refused);
  for (const auto& address : listen) {
    const auto wanted = util::format_host_port(address);
    beast::error_code error;
    const auto ip = asio::ip::make_address(address.host, error);
    if (error) {
      return util::make_error(util::Errc::network,
                              fmt::format("{}: not a numeric address", wanted));
    }
    const tcp::endpoint endpoint(ip, address.port);
    tcp::acceptor acceptor(impl->io);
    acceptor.open(endpoint.protocol(), error);
    if (!error) {
      acceptor.set_option(asio::socket_base::reuse_address(true), error);
    }
    if (!error && ip.is_v6()) {
      // "[::]" and "0.0.0.0" can then both be listed.
      acceptor.set_option(asio::ip::v6_only(true), error);
    }
    if (!error) {
      acceptor.bind(endpoint, error);
    }
    if (!error) {
      acceptor.listen(asio::socket_base::max_listen_connections, error);
    }
    if (error) {
      return util::make_error(util::Errc::network,
                              fmt::format("cannot listen on {}: {}", wanted, error.message()));
    }
    impl->addresses.push_back(shown(acceptor.local_endpoint()));
    impl->acceptors.push_back(std::move(acceptor));
  }
  for (auto& acceptor : impl->acceptors) {
    impl->accept(acceptor);
  }
  impl->thread = std::thread([raw = impl.get()] { raw->io.run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void
HttpServer::shutdown(std::chrono::milliseconds grace)
{
  if (m_impl->joined) {
    return;
  }
  auto* impl = m_impl.get();
  asio::post(impl->io, [impl, grace] {
    impl->stopping = true;
    for (auto& acceptor : impl->acceptors) {
      beast::error_code ignored;
      acceptor.close(ignored);
    }
    const auto sessions = impl->sessions; // stop() may erase from the set
    for (const auto& session : sessions) {
      session->stop();
    }
    if (!impl->sessions.empty()) {
      impl->grace_timer.emplace(impl->io, grace);
      impl->grace_timer->async_wait([impl](beast::error_code) { impl->io.stop(); });
    }
  });
  impl->thread.join();
  impl->joined = true;
  impl->sessions.clear();
}

const std::vector<std::string>&
HttpServer::addresses() const
{
  return m_impl->addresses;
}

HttpServer::~HttpServer()
{
  shutdown(std::chrono::milliseconds(0));
}

} // namespace hook::gate
