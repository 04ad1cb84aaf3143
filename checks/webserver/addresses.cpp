#include "addresses.hpp"

#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace checks::webserver {

namespace {

std::optional<std::uint16_t>
port_of(std::string_view text)
{
  if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
      })) {
    return std::nullopt;
  }
  const auto value = std::stoul(std::string(text));
  if (value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

bool
is_digits(std::string_view text)
{
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

// Return the address `text` in inet_ntop's spelling, or "" when it is not a numeric address.
std::string
canonical_address(std::string_view text)
{
  const std::string copy(text);
  unsigned char bytes[16] = {};
  char out[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET, copy.c_str(), bytes) == 1) {
    return inet_ntop(AF_INET, bytes, out, sizeof out) != nullptr ? std::string(out) : "";
  }
  if (inet_pton(AF_INET6, copy.c_str(), bytes) == 1) {
    return inet_ntop(AF_INET6, bytes, out, sizeof out) != nullptr ? std::string(out) : "";
  }
  return {};
}

} // namespace

std::optional<HostAndPort>
parse_host_and_port(std::string_view text, std::uint16_t default_port)
{
  if (text.empty()) {
    return std::nullopt;
  }
  if (text.starts_with("[")) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    HostAndPort parsed{std::string(text.substr(1, close - 1)), default_port};
    const auto rest = text.substr(close + 1);
    if (rest.empty()) {
      return parsed;
    }
    if (!rest.starts_with(":")) {
      return std::nullopt;
    }
    const auto port = port_of(rest.substr(1));
    if (!port) {
      return std::nullopt;
    }
    parsed.port = *port;
    return parsed;
  }
  if (is_digits(text)) {
    const auto port = port_of(text);
    if (!port) {
      return std::nullopt;
    }
    return HostAndPort{"", *port};
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return HostAndPort{std::string(text), default_port};
  }
  if (text.find(':') != colon) {
    // More than one ':' without brackets: a bare IPv6 address, no port.
    return HostAndPort{std::string(text), default_port};
  }
  const auto port = port_of(text.substr(colon + 1));
  if (!port) {
    return std::nullopt;
  }
  return HostAndPort{std::string(text.substr(0, colon)), *port};
}

ListenAddress
parse_listen_address(std::string_view text, std::uint16_t default_port)
{
  const auto parsed = parse_host_and_port(text, default_port);
  if (!parsed) {
    return {};
  }
  ListenAddress address;
  address.port = parsed->port;
  const auto& host = parsed->host;
  if (host.empty() || host == "*" || host == "0.0.0.0") {
    return address;
  }
  if (canonical_address(host) == "::") {
    address.ipv6_any = true;
    return address;
  }
  address.host = host;
  return address;
}

std::string
format_target(std::string_view host, std::uint16_t port)
{
  return host.find(':') != std::string_view::npos ? fmt::format("[{}]:{}", host, port)
                                                  : fmt::format("{}:{}", host, port);
}

bool
is_on_this_host(std::string_view host, std::span<const std::string> local_addresses)
{
  if (util::to_lower(host) == "localhost") {
    return true;
  }
  const auto address = canonical_address(host);
  if (address.empty()) {
    return false;
  }
  if (address == "::1" || address == "::" || address == "0.0.0.0" || address.starts_with("127.")
      || address.starts_with("::ffff:127.")) {
    return true;
  }
  return std::any_of(local_addresses.begin(), local_addresses.end(), [&](const std::string& local) {
    return canonical_address(local) == address;
  });
}

} // namespace checks::webserver
