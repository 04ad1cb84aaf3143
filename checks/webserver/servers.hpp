// The table of web servers the webserver kind knows: how each is tested, how its diagnostics
// read, and how its effective configuration is read. A new server is a row here and a reader.
#pragma once

#include <checks/webserver/apache.hpp>
#include <checks/webserver/host.hpp>
#include <checks/webserver/model.hpp>
#include <hook/util/result.hpp>
#include <hook/util/subprocess.hpp>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace checks {
struct WebserverSpec;
}

namespace checks::webserver {

// --- Interface ---

// One line of the server's test output worth showing, with the place it names.
struct Diagnostic
{
  std::string text;
  std::optional<Place> where;
};

// How a server's configuration is read after its test passed.
struct ConfigSource
{
  FileReader read_file; // a configuration file (Apache's includes, HAProxy's files)
  // The state of a path, and the *.cfg files of a directory (HAProxy's -f DIR).
  std::function<util::Result<PathState>(const std::string& path)> state_of;
  std::function<util::Result<std::vector<std::string>>(const std::string& directory)> list_configs;
};

struct ServerKind
{
  std::string_view name;                      // `server = "..."`
  std::span<const std::string_view> binaries; // tried in order when `binary` is not set
  std::string_view test;                      // how messages name the test: "nginx -t"
  // Add the test's arguments (after the binary) and environment for `spec` to `request`.
  void (*prepare)(const WebserverSpec& spec,
                  const std::string& binary,
                  util::ProcessRequest& request);
  // Return the lines of a failed test's output worth showing.
  std::vector<Diagnostic> (*diagnostics)(const util::ProcessOutcome& outcome);
  // Read the effective configuration from the test's output (and files, through `source`).
  util::Result<ServerConfig> (*read)(const WebserverSpec& spec,
                                     const util::ProcessOutcome& outcome,
                                     const ConfigSource& source);
};

// Return the server kinds, sorted by name.
std::span<const ServerKind> server_kinds();

// Return the kind called `name`, or nullptr.
const ServerKind* find_server_kind(std::string_view name);

// Return the diagnostics of nginx's, Apache's or HAProxy's test output (exposed for tests).
std::vector<Diagnostic> nginx_diagnostics(const util::ProcessOutcome& outcome);
std::vector<Diagnostic> apache_diagnostics(const util::ProcessOutcome& outcome);
std::vector<Diagnostic> haproxy_diagnostics(const util::ProcessOutcome& outcome);

} // namespace checks::webserver
