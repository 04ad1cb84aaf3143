// The [lifecycle] table: what `readygate lifecycle` needs to complete an AWS Auto Scaling launch
// lifecycle hook. Declared once in a key table that drives validation (unknown keys with
// suggestions and positions), `readygate lifecycle --help` and the README test.
//
//   [lifecycle]
//   hook_name = "readygate-launch"   # required: the group's launch hook
//   heartbeat_interval = "30s"       # at most half the hook's HeartbeatTimeout
//   on_error = "abandon"             # what an unverifiable host gets
#pragma once

#include <config/keys.hpp>
#include <hook/util/result.hpp>

#include <toml++/toml.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace config {

// --- Interface ---

inline constexpr std::string_view k_default_imds_endpoint = "http://169.254.169.254";
inline constexpr std::string_view k_default_result_file = "/run/readygate/lifecycle.json";
inline constexpr std::chrono::milliseconds k_default_heartbeat_interval{30'000};
// HeartbeatTimeout is at most 7200 s, and a heartbeat must come within half of it.
inline constexpr std::chrono::milliseconds k_max_heartbeat_interval{3'600'000};
inline constexpr std::chrono::milliseconds k_min_heartbeat_interval{1'000};

// What the lifecycle action is completed with when the verdict is error (a check could not be
// verified, or the run deadline passed). A check seen failing always abandons, also when the
// verdict is error (another check could not be verified, or its own last attempt was cut short).
enum class OnError { abandon, proceed };

struct LifecycleSettings
{
  std::string hook_name;
  std::optional<std::string> group_name; // else the instance tag, else DescribeAutoScalingInstances
  std::optional<std::string> region;     // else IMDS placement/region
  std::string imds_endpoint = std::string(k_default_imds_endpoint);
  std::optional<std::string> autoscaling_endpoint; // else https://autoscaling.<region>.<domain>
  std::chrono::milliseconds heartbeat_interval = k_default_heartbeat_interval;
  OnError on_error = OnError::abandon;
  std::filesystem::path result_file = std::string(k_default_result_file);
  std::string where; // "file:line:col" of the [lifecycle] table
};

// Return the keys of [lifecycle].
KeyTable lifecycle_keys();

// Parse the [lifecycle] `table` read from `origin`; relative paths are taken from
// `base_directory`. Every unknown key is reported (with a suggestion when one is close), then
// the first bad value; errors are Errc::config with "file:line:col".
util::Result<LifecycleSettings> parse_lifecycle(const toml::table& table,
                                                const std::filesystem::path& origin,
                                                const std::filesystem::path& base_directory);

// Return "continue" or "abandon".
std::string_view on_error_name(OnError on_error);

} // namespace config
