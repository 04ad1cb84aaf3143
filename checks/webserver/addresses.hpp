// Addresses as web server configurations write them ("127.0.0.1:8080", "[::1]:443", "*:80",
// "8080", "localhost"), and what "on this host" means for an upstream.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace checks::webserver {

// --- Interface ---

struct HostAndPort
{
  std::string host; // as written, IPv6 without brackets; "" for a bare port ("8080")
  std::uint16_t port = 0;
};

// Parse "host:port", "[v6]:port", "host", "[v6]" or a bare port; a missing port is
// `default_port`. nullopt when the port is not a number from 1 to 65535 or the text is empty.
std::optional<HostAndPort> parse_host_and_port(std::string_view text, std::uint16_t default_port);

struct ListenAddress
{
  std::string host;      // "" for every address
  bool ipv6_any = false; // the wildcard was "::"
  std::uint16_t port = 0;
};

// Parse a listen address: as parse_host_and_port, with "*", "0.0.0.0", "::" and a bare port
// meaning every address. An unparseable one gives host "" and port 0.
ListenAddress parse_listen_address(std::string_view text, std::uint16_t default_port);

// Return "host:port", "[v6]:port" for an IPv6 address.
std::string format_target(std::string_view host, std::uint16_t port);

// Return true when `host` is on this host: "localhost", a loopback address (127.0.0.0/8, ::1),
// the unspecified address (0.0.0.0, ::, which connect to this host), or one of
// `local_addresses` (this host's interface addresses, as inet_ntop writes them). Any other name
// is not resolved: it is taken to be another host.
bool is_on_this_host(std::string_view host, std::span<const std::string> local_addresses);

} // namespace checks::webserver
