// The TOML configuration, read into typed settings plus one spec per [[check]]. Reads the file and
// nothing else: kind-specific keys stay in CheckSpec::params for the kind's own parser.
#pragma once

#include <config/lifecycle.hpp>
#include <hook/util/duration.hpp>
#include <hook/util/result.hpp>
#include <hook/util/tcp.hpp>

#include <toml++/toml.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace config {

// --- Interface ---

inline constexpr std::string_view k_default_config_path = "/etc/readygate/readygate.toml";

struct GateSettings
{
  std::chrono::milliseconds deadline{5 * 60'000};    // the whole run, retries included
  std::chrono::milliseconds retry_interval{5'000};   // between attempts of a retrying check
  unsigned concurrency = 4;                          // checks running at once
  std::chrono::milliseconds default_timeout{60'000}; // a check's timeout when it sets none
};

// [serve]: the health endpoint of `readygate serve`. Ignored by every other command.
struct ServeSettings
{
  // Numeric addresses only (no name is resolved at start-up): "127.0.0.1:9901", "[::1]:9901".
  std::vector<util::HostPort> listen{util::HostPort{"127.0.0.1", 9901}};
  std::chrono::milliseconds interval{10'000};    // from the start of one run to the next
  std::chrono::milliseconds max_age{60'000};     // a verdict older than this is not healthy
  unsigned max_connections = 64;                 // open at once; more are closed when accepted
  std::size_t max_request_bytes = 8192;          // request line and headers together
  unsigned max_headers = 64;                     // header fields of one request
  std::chrono::milliseconds idle_timeout{5'000}; // to send a request, and to read a response
};

struct CheckSpec
{
  std::string id;
  std::string kind;
  std::optional<std::chrono::milliseconds> timeout;
  bool retry = false;
  std::vector<std::string> tags;
  std::vector<std::string> depends_on;
  toml::table params; // every key but the common ones, for the kind's parser
  // Where each of `params` stood in the file: copies of toml++ nodes do not keep their source.
  // The tables of an array of tables ([[check.probe]]) and their keys are here too, as
  // "probe[0]" and "probe[0].path" (0-based), so a kind can place errors in them.
  std::map<std::string, toml::source_region, std::less<>> param_sources;
  std::string where;                    // "file:line:col" of the [[check]] table
  std::filesystem::path origin;         // the config file, for positions of keys
  std::filesystem::path base_directory; // relative paths in the spec are taken from here
};

struct Config
{
  std::filesystem::path path; // as given; messages name it
  GateSettings gate;
  ServeSettings serve;
  std::vector<CheckSpec> checks;
  std::optional<LifecycleSettings> lifecycle; // [lifecycle], for `readygate lifecycle`
};

// Parse `text` read from `origin`. `base_directory` is what relative paths in check specs are
// resolved against (the config file's directory). Errors are Errc::config with "file:line:col".
util::Result<Config> parse_config(std::string_view text,
                                  const std::filesystem::path& origin,
                                  const std::filesystem::path& base_directory);

// The largest configuration read; a bigger file (or /dev/zero) is a config error, not a hang.
inline constexpr std::size_t k_config_size_limit = 16 * 1024 * 1024;

// Read and parse the file at `path` by `deadline` (`stop` ends the wait). A missing, unreadable,
// too large or non-regular file (a fifo, a device), or one not read in time (a hung mount), is an
// Errc::config error naming it.
util::Result<Config> load_config(
  const std::filesystem::path& path,
  util::Clock::time_point deadline = util::time_after(util::Clock::now(), std::chrono::seconds(30)),
  std::stop_token stop = {});

// Return "file:line:col" for `node` read from `origin` ("file" alone if it has no position).
std::string position_of(const toml::node& node, const std::filesystem::path& origin);

// Return what `node` is, for messages: "a string", "an integer", "an array", ...
std::string_view type_name_of(const toml::node& node);

// Return "file:line:col" for `source`.
std::string position_of(const toml::source_region& source, const std::filesystem::path& origin);

} // namespace config
