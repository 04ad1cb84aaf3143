#include "lifecycle.hpp"

#include <config/config.hpp>
#include <hook/util/duration.hpp>
#include <hook/util/http.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <vector>

namespace config {

namespace {

using util::Errc;

// clang-format off
constexpr std::array k_lifecycle_keys = {
  KeySpec{"hook_name",            KeyType::string,   true,  "",  false, "the Auto Scaling group's launch lifecycle hook (letters, digits, '-', '_', '/'; up to 255)"},
  KeySpec{"group_name",           KeyType::string,   false, "the instance tag aws:autoscaling:groupName, else DescribeAutoScalingInstances", false, "the Auto Scaling group"},
  KeySpec{"region",               KeyType::string,   false, "IMDS placement/region", false, "the region of the group, e.g. \"eu-west-1\""},
  KeySpec{"imds_endpoint",        KeyType::string,   false, "\"http://169.254.169.254\"", false, "the instance metadata service (IMDSv2); \"http://[fd00:ec2::254]\" for IPv6"},
  KeySpec{"autoscaling_endpoint", KeyType::string,   false, "\"https://autoscaling.<region>.<domain>\"", false, "the Auto Scaling API, e.g. a VPC endpoint; https (http only on loopback)"},
  KeySpec{"heartbeat_interval",   KeyType::duration, false, "\"30s\"", false, "how often RecordLifecycleActionHeartbeat is sent while the checks run (1s to 1h; at most half the hook's HeartbeatTimeout)"},
  KeySpec{"on_error",             KeyType::string,   false, "\"abandon\"", false, "the result when a check could not be verified or the deadline passed: \"abandon\" or \"continue\" (a check seen failing always abandons, even beside one that could not be verified)"},
  KeySpec{"result_file",          KeyType::path,     false, "\"/run/readygate/lifecycle.json\"", false, "where the decision and the check report are written (JSON)"},
};
// clang-format on

constexpr std::string_view k_where = "[lifecycle]: ";

util::Error
error_at(const toml::node& node, const std::filesystem::path& origin, std::string_view message)
{
  return util::make_error(Errc::config,
                          fmt::format("{}: {}{}", position_of(node, origin), k_where, message));
}

bool
valid_hook_name(std::string_view name)
{
  return !name.empty() && name.size() <= 255 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_' || c == '/';
  });
}

bool
valid_group_name(std::string_view name)
{
  return !name.empty() && name.size() <= 255 && std::none_of(name.begin(), name.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

bool
valid_region(std::string_view region)
{
  return !region.empty() && region.size() <= 32 && region.front() != '-' && region.back() != '-'
         && std::all_of(region.begin(), region.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            });
}

bool
loopback_host(std::string_view host)
{
  return host == "localhost" || host == "[::1]" || host.starts_with("127.");
}

// Check an endpoint URL: `schemes` allowed, no user, no query or fragment, path "/" only (the
// shapes libcurl 7.88 signs correctly). https is required for a host that is not loopback when
// `https_off_loopback` is set.
util::Result<std::string>
read_endpoint(const toml::node& node,
              const std::filesystem::path& origin,
              std::string_view key,
              bool https_off_loopback)
{
  const auto* text = node.as_string();
  if (text == nullptr) {
    return error_at(
      node, origin, fmt::format("key \"{}\": expected a URL, found {}", key, type_name_of(node)));
  }
  const std::string url = text->get();
  const auto parts = util::parse_url(url);
  if (!parts || parts->host.empty()) {
    return error_at(node,
                    origin,
                    fmt::format("key \"{}\": expected a URL such as {}",
                                key,
                                https_off_loopback
                                  ? "\"https://autoscaling.us-east-1.amazonaws.com\""
                                  : "\"http://169.254.169.254\""));
  }
  const bool https_ok = https_off_loopback;
  if (parts->scheme != "http" && !(https_ok && parts->scheme == "https")) {
    return error_at(node,
                    origin,
                    fmt::format("key \"{}\": expected an {} URL, found scheme \"{}\"",
                                key,
                                https_ok ? "https" : "http",
                                parts->scheme));
  }
  if (https_off_loopback && parts->scheme == "http" && !loopback_host(parts->host)) {
    return error_at(node,
                    origin,
                    fmt::format("key \"{}\": plain http is accepted only on loopback; the "
                                "session token travels in a header: use https",
                                key));
  }
  if (parts->has_userinfo || url.find_first_of("?#") != std::string::npos || parts->path != "/") {
    return error_at(
      node,
      origin,
      fmt::format("key \"{}\": expected scheme, host and port only (no user, path or query)", key));
  }
  auto normalised = url;
  while (normalised.ends_with('/')) {
    normalised.pop_back();
  }
  return normalised;
}

util::Result<std::string>
read_string(const toml::node& node, const std::filesystem::path& origin, std::string_view key)
{
  const auto* text = node.as_string();
  if (text == nullptr) {
    return error_at(
      node,
      origin,
      fmt::format("key \"{}\": expected a string, found {}", key, type_name_of(node)));
  }
  return text->get();
}

// Report every unknown key (in file order, with a suggestion when one is close), then every
// missing required key, as one error.
util::Result<void>
check_keys(const toml::table& table, const std::filesystem::path& origin, std::string_view where)
{
  struct Line
  {
    toml::source_position at;
    std::string text;
  };
  std::vector<Line> lines;
  for (const auto& [key, node] : table) {
    const auto name = key.str();
    const bool known = std::any_of(k_lifecycle_keys.begin(),
                                   k_lifecycle_keys.end(),
                                   [&](const KeySpec& spec) { return spec.name == name; });
    if (known) {
      continue;
    }
    const auto close = closest_key(name, k_lifecycle_keys);
    lines.push_back(
      {node.source().begin,
       fmt::format("{}: {}unknown key \"{}\"{}",
                   position_of(node, origin),
                   k_where,
                   name,
                   close ? fmt::format(" (did you mean \"{}\"?)", *close) : std::string())});
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return a.at.line != b.at.line ? a.at.line < b.at.line : a.at.column < b.at.column;
  });
  std::vector<std::string> texts;
  for (auto& line : lines) {
    texts.push_back(std::move(line.text));
  }
  for (const auto& spec : k_lifecycle_keys) {
    if (spec.required && !table.contains(spec.name)) {
      texts.push_back(fmt::format("{}: {}missing key \"{}\" (expected a {})",
                                  where,
                                  k_where,
                                  spec.name,
                                  key_type_name(spec.type)));
    }
  }
  if (texts.empty()) {
    return {};
  }
  return util::make_error(Errc::config, fmt::format("{}", fmt::join(texts, "\n")));
}

} // namespace

KeyTable
lifecycle_keys()
{
  return k_lifecycle_keys;
}

std::string_view
on_error_name(OnError on_error)
{
  return on_error == OnError::proceed ? "continue" : "abandon";
}

util::Result<LifecycleSettings>
parse_lifecycle(const toml::table& table,
                const std::filesystem::path& origin,
                const std::filesystem::path& base_directory)
{
  LifecycleSettings settings;
  settings.where = position_of(table.source(), origin);
  RG_TRY(check_keys(table, origin, settings.where));

  for (const auto& [key, node] : table) {
    const std::string_view name = key.str();
    if (name == "hook_name") {
      RG_TRY_ASSIGN(settings.hook_name, read_string(node, origin, name));
      if (!valid_hook_name(settings.hook_name)) {
        return error_at(node,
                        origin,
                        "key \"hook_name\": expected 1 to 255 letters, digits, '-', '_' or '/' "
                        "(the name of the lifecycle hook)");
      }
    } else if (name == "group_name") {
      RG_TRY_ASSIGN(settings.group_name, read_string(node, origin, name));
      if (!valid_group_name(*settings.group_name)) {
        return error_at(node,
                        origin,
                        "key \"group_name\": expected the name of an Auto Scaling group (1 to "
                        "255 characters, no control characters)");
      }
    } else if (name == "region") {
      RG_TRY_ASSIGN(settings.region, read_string(node, origin, name));
      if (!valid_region(*settings.region)) {
        return error_at(
          node, origin, "key \"region\": expected a region name such as \"us-east-1\"");
      }
    } else if (name == "imds_endpoint") {
      RG_TRY_ASSIGN(settings.imds_endpoint, read_endpoint(node, origin, name, false));
    } else if (name == "autoscaling_endpoint") {
      RG_TRY_ASSIGN(settings.autoscaling_endpoint, read_endpoint(node, origin, name, true));
    } else if (name == "heartbeat_interval") {
      RG_TRY_ASSIGN(const auto text, read_string(node, origin, name));
      const auto parsed = util::parse_duration(text);
      if (!parsed) {
        return error_at(
          node, origin, fmt::format("key \"heartbeat_interval\": {}", parsed.error().message));
      }
      if (*parsed < k_min_heartbeat_interval || *parsed > k_max_heartbeat_interval) {
        return error_at(node,
                        origin,
                        "key \"heartbeat_interval\": expected 1s to 1h (a lifecycle hook's "
                        "HeartbeatTimeout is 30s to 2h; stay at or under half of it)");
      }
      settings.heartbeat_interval = *parsed;
    } else if (name == "on_error") {
      RG_TRY_ASSIGN(const auto text, read_string(node, origin, name));
      if (text == "abandon") {
        settings.on_error = OnError::abandon;
      } else if (text == "continue") {
        settings.on_error = OnError::proceed;
      } else {
        return error_at(
          node,
          origin,
          fmt::format("key \"on_error\": expected \"abandon\" or \"continue\", found \"{}\"",
                      text));
      }
    } else if (name == "result_file") {
      RG_TRY_ASSIGN(const auto text, read_string(node, origin, name));
      if (text.empty() || text.find('\0') != std::string::npos || text.ends_with('/')) {
        return error_at(node, origin, "key \"result_file\": expected the path of a file");
      }
      settings.result_file = (base_directory / text).lexically_normal();
    }
  }
  return settings;
}

} // namespace config
