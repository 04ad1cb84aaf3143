// TCP: "host:port" addresses and a connect with a deadline (for probes, not for talking).
#pragma once

#include <hook/util/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

namespace util {

// --- Interface ---

struct HostPort
{
  std::string host;       // a name or an address; IPv6 without brackets
  std::uint16_t port = 0; // 1-65535
};

// Parse `text` as "host:port", IPv6 as "[::1]:80". A missing host, a port outside 1-65535 or
// an unbracketed IPv6 address is an Errc::config error.
Result<HostPort> parse_host_port(std::string_view text);

// Parse `text` as an address to listen on: parse_host_port, and the host must be a numeric IPv4
// or IPv6 address ("0.0.0.0:9901", "[::]:9901"), so starting to listen never waits on a resolver
// nor depends on what a name resolves to. Errors are Errc::config.
Result<HostPort> parse_listen_address(std::string_view text);

// Format `address` the way parse_host_port reads it ("[::1]:80" for IPv6).
std::string format_host_port(const HostPort& address);

// Connect to `host`:`port` (each resolved address in turn) within `timeout`, then close the
// connection; return how long the connect took. Refused or unreachable is Errc::network, no
// answer in time is Errc::timeout, a stop through `stop` is Errc::cancelled, an unknown name is
// Errc::network. Name resolution (other than numeric addresses) runs on a helper thread so the
// deadline holds even when the resolver hangs; a late answer is dropped.
Result<std::chrono::milliseconds> tcp_connect(const std::string& host,
                                              std::uint16_t port,
                                              std::chrono::milliseconds timeout,
                                              std::stop_token stop = {});

// Connects, for checks (hook::Probes): the real one calls tcp_connect; tests install fakes.
class TcpConnector
{
public:
  virtual ~TcpConnector() = default;
  static std::shared_ptr<TcpConnector> make_real();
  // As tcp_connect.
  virtual Result<std::chrono::milliseconds> connect(const std::string& host,
                                                    std::uint16_t port,
                                                    std::chrono::milliseconds timeout,
                                                    std::stop_token stop) = 0;
};

} // namespace util
