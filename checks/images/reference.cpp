#include "reference.hpp"

#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace checks::images {

namespace {

constexpr std::string_view k_docker_hub = "docker.io";
constexpr std::size_t k_max_name_length = 255;

bool
is_lower_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool
is_hex(char c)
{
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool
is_word(char c)
{
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_';
}

// A path component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
bool
is_path_component(std::string_view text)
{
  std::size_t i = 0;
  const auto run = [&] {
    const auto start = i;
    while (i < text.size() && is_lower_alnum(text[i])) {
      ++i;
    }
    return i > start;
  };
  if (!run()) {
    return false;
  }
  while (i < text.size()) {
    if (text[i] == '.') {
      ++i;
    } else if (text[i] == '_') {
      ++i;
      if (i < text.size() && text[i] == '_') {
        ++i;
      }
    } else if (text[i] == '-') {
      while (i < text.size() && text[i] == '-') {
        ++i;
      }
    } else {
      return false;
    }
    if (!run()) {
      return false;
    }
  }
  return true;
}

// A tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
bool
is_tag(std::string_view text)
{
  if (text.empty() || text.size() > 128 || !is_word(text.front())) {
    return false;
  }
  return std::all_of(
    text.begin(), text.end(), [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

// A domain: a host name or IPv4 address, or an IPv6 address in brackets, with an optional port.
bool
is_domain(std::string_view text)
{
  std::string_view host = text;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close == 1) {
      return false;
    }
    const auto inside = text.substr(1, close - 1);
    if (!std::all_of(inside.begin(), inside.end(), [](char c) {
          return is_hex(c) || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
        })) {
      return false;
    }
    const auto rest = text.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) {
      return false;
    }
    port = rest.empty() ? rest : rest.substr(1);
    if (!rest.empty() && port.empty()) {
      return false;
    }
  } else {
    const auto colon = text.find(':');
    if (colon != std::string_view::npos) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (port.empty()) {
        return false;
      }
    }
    if (host.empty() || host.front() == '-' || host.front() == '.' || host.back() == '-'
        || host.back() == '.') {
      return false;
    }
    if (!std::all_of(host.begin(), host.end(), [](char c) {
          return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-';
        })) {
      return false;
    }
  }
  return port.size() <= 5
         && std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

util::Error
bad_reference(std::string_view text, std::string_view why)
{
  return util::make_error(util::Errc::config,
                          fmt::format("\"{}\" is not an image reference: {}",
                                      util::printable(text, util::Quotes::escape),
                                      why));
}

} // namespace

bool
is_digest(std::string_view text)
{
  constexpr std::string_view k_prefix = "sha256:";
  if (!text.starts_with(k_prefix) || text.size() != k_prefix.size() + 64) {
    return false;
  }
  const auto hex = text.substr(k_prefix.size());
  return std::all_of(hex.begin(), hex.end(), is_hex);
}

std::string
ImageReference::registry_host() const
{
  return domain == k_docker_hub ? std::string("registry-1.docker.io") : domain;
}

std::string
ImageReference::name() const
{
  return fmt::format("{}/{}", domain, repository);
}

util::Result<ImageReference>
parse_reference(std::string_view text)
{
  if (text.empty()) {
    return bad_reference(text, "it is empty");
  }
  if (std::any_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f;
      })) {
    return bad_reference(text, "it has a blank, a control or a non-ASCII character");
  }
  ImageReference reference;
  reference.original = std::string(text);
  std::string_view name = text;
  if (const auto at = text.find('@'); at != std::string_view::npos) {
    name = text.substr(0, at);
    const auto digest = text.substr(at + 1);
    if (is_digest(digest)) {
      reference.digest = std::string(digest);
    } else {
      reference.digest_malformed = true;
    }
  }
  const auto last_slash = name.rfind('/');
  const auto colon = name.find(':', last_slash == std::string_view::npos ? 0 : last_slash + 1);
  if (colon != std::string_view::npos) {
    const auto tag = name.substr(colon + 1);
    if (!is_tag(tag)) {
      return bad_reference(text, fmt::format("\"{}\" is not a tag", tag));
    }
    reference.tag = std::string(tag);
    name = name.substr(0, colon);
  }
  if (name.empty()) {
    return bad_reference(text, "it has no repository name");
  }
  if (name.size() > k_max_name_length) {
    return bad_reference(text, "the name is longer than 255 characters");
  }
  std::string_view path = name;
  const auto slash = name.find('/');
  if (slash != std::string_view::npos) {
    const auto first = name.substr(0, slash);
    const bool is_domain_part =
      first.find_first_of(".:[") != std::string_view::npos || first == "localhost"
      || std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (is_domain_part) {
      if (!is_domain(first)) {
        return bad_reference(text, fmt::format("\"{}\" is not a registry host", first));
      }
      reference.domain = std::string(first);
      path = name.substr(slash + 1);
    }
  }
  if (reference.domain.empty() || reference.domain == "index.docker.io") {
    reference.domain = std::string(k_docker_hub);
  }
  std::size_t start = 0;
  for (;;) {
    const auto end = path.find('/', start);
    const auto component = path.substr(start, end - start);
    if (!is_path_component(component)) {
      return bad_reference(
        text,
        fmt::format("\"{}\" is not a repository name component (lowercase letters, digits, "
                    "and . _ __ - between them)",
                    component));
    }
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  reference.repository = std::string(path);
  if (reference.domain == k_docker_hub && path.find('/') == std::string_view::npos) {
    reference.repository = fmt::format("library/{}", path);
  }
  return reference;
}

} // namespace checks::images
