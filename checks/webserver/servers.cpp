#include "servers.hpp"

#include "haproxy.hpp"
#include "nginx.hpp"
#include "webserver_check.hpp"

#include <hook/util/table.hpp>
#include <hook/util/text.hpp>

#include <boost/regex.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <filesystem>

namespace checks::webserver {

namespace {

constexpr std::string_view k_default_haproxy_config = "/etc/haproxy/haproxy.cfg";

std::vector<std::string>
lines_of(std::string_view text)
{
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    auto line =
      text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    if (!line.empty()) {
      lines.emplace_back(line);
    }
  }
  return lines;
}

std::optional<Place>
place_in(const std::string& text, const boost::regex& pattern, int file_group, int line_group)
{
  boost::smatch match;
  if (!boost::regex_search(text, match, pattern)) {
    return std::nullopt;
  }
  try {
    return Place{match[file_group].str(), std::stoul(match[line_group].str())};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// --- nginx ---

void
prepare_nginx(const WebserverSpec& spec, const std::string& binary, util::ProcessRequest& request)
{
  // -T: the test, then every file read. -e stderr: the test's own messages go to us, not into
  // the error log the running server writes (nginx 1.19.5 and later).
  request.argv = {binary, "-T", "-e", "stderr"};
  if (spec.prefix) {
    request.argv.insert(request.argv.end(), {"-p", spec.prefix->string()});
  }
  if (spec.config) {
    request.argv.insert(request.argv.end(), {"-c", spec.config->string()});
  }
}

util::Result<ServerConfig>
read_nginx(const WebserverSpec& spec, const util::ProcessOutcome& outcome, const ConfigSource&)
{
  return read_nginx_config(outcome.stdout_text, spec.prefix ? spec.prefix->string() : "");
}

// --- Apache ---

bool
is_apache2ctl(const std::string& binary)
{
  return std::filesystem::path(binary).filename().string().starts_with("apache2ctl");
}

void
prepare_apache(const WebserverSpec& spec, const std::string& binary, util::ProcessRequest& request)
{
  request.argv = {binary,
                  "-t",
                  "-D",
                  "DUMP_INCLUDES",
                  "-D",
                  "DUMP_MODULES",
                  "-D",
                  "DUMP_VHOSTS",
                  "-D",
                  "DUMP_RUN_CFG"};
  if (spec.prefix) {
    if (is_apache2ctl(binary)) {
      // Debian's wrapper reads $APACHE_CONFDIR/envvars and passes -d $APACHE_CONFDIR itself.
      request.environment_overrides.emplace_back("APACHE_CONFDIR", spec.prefix->string());
    } else {
      request.argv.insert(request.argv.end(), {"-d", spec.prefix->string()});
    }
  }
  if (spec.config) {
    request.argv.insert(request.argv.end(), {"-f", spec.config->string()});
  }
}

util::Result<ServerConfig>
read_apache(const WebserverSpec&, const util::ProcessOutcome& outcome, const ConfigSource& source)
{
  RG_TRY_ASSIGN(const auto dump, parse_apache_dump(outcome.stdout_text));
  return read_apache_config(dump, source.read_file);
}

// --- HAProxy ---

void
prepare_haproxy(const WebserverSpec& spec, const std::string& binary, util::ProcessRequest& request)
{
  request.argv = {binary,
                  "-c",
                  "-f",
                  spec.config ? spec.config->string() : std::string(k_default_haproxy_config)};
}

util::Result<ServerConfig>
read_haproxy(const WebserverSpec& spec, const util::ProcessOutcome&, const ConfigSource& source)
{
  const auto config = spec.config ? spec.config->string() : std::string(k_default_haproxy_config);
  RG_TRY_ASSIGN(const auto state, source.state_of(config));
  std::vector<std::string> files{config};
  if (state.kind == PathState::Kind::directory) {
    // HAProxy reads the *.cfg files of a directory, in name order.
    RG_TRY_ASSIGN(files, source.list_configs(config));
  }
  return read_haproxy_config(files, source.read_file);
}

constexpr std::array<std::string_view, 2> k_nginx_binaries = {"nginx", "/usr/sbin/nginx"};
constexpr std::array<std::string_view, 5> k_apache_binaries = {
  "apache2ctl", "apachectl", "/usr/sbin/apache2ctl", "/usr/sbin/apachectl", "/usr/sbin/httpd"};
constexpr std::array<std::string_view, 2> k_haproxy_binaries = {"haproxy", "/usr/sbin/haproxy"};

// clang-format off
const std::array k_server_kinds = {
  ServerKind{"apache",  k_apache_binaries,  "apachectl -t",  &prepare_apache,  &apache_diagnostics,  &read_apache},
  ServerKind{"haproxy", k_haproxy_binaries, "haproxy -c",    &prepare_haproxy, &haproxy_diagnostics, &read_haproxy},
  ServerKind{"nginx",   k_nginx_binaries,   "nginx -t",      &prepare_nginx,   &nginx_diagnostics,   &read_nginx},
};
// clang-format on

} // namespace

std::vector<Diagnostic>
nginx_diagnostics(const util::ProcessOutcome& outcome)
{
  // "2024/05/01 12:00:00 [emerg] 123#123: unknown directive "x" in /etc/nginx/a.conf:3", or
  // "nginx: [emerg] ..." when the startup log is not stderr.
  static const boost::regex k_stamp(
    R"(^(?:nginx: )?(?:[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:]{8} )?\[([a-z]+)\] (?:[0-9]+#[0-9]+: )?(.*)$)");
  static const boost::regex k_place(R"( in (/.*):([0-9]+)$)");
  std::vector<Diagnostic> found;
  std::vector<Diagnostic> others;
  for (const auto& line : lines_of(outcome.stderr_text)) {
    boost::smatch match;
    if (boost::regex_match(line, match, k_stamp)) {
      const auto level = match[1].str();
      const auto text = fmt::format("[{}] {}", level, match[2].str());
      if (level == "emerg" || level == "alert" || level == "crit" || level == "error") {
        found.push_back(Diagnostic{text, place_in(text, k_place, 1, 2)});
      }
    } else if (!line.ends_with(" test failed") && !line.ends_with(" syntax is ok")) {
      others.push_back(Diagnostic{line, std::nullopt});
    }
  }
  return found.empty() ? others : found;
}

std::vector<Diagnostic>
apache_diagnostics(const util::ProcessOutcome& outcome)
{
  static const boost::regex k_syntax(R"(Syntax error on line ([0-9]+) of (.*):$)");
  static const boost::regex k_warning(R"(^AH00(558|112):)");
  std::vector<Diagnostic> found;
  const auto lines = lines_of(outcome.stderr_text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    if (boost::regex_search(line, k_warning)) {
      continue; // the server name guess and a missing DocumentRoot: warnings, judged separately
    }
    boost::smatch match;
    if (boost::regex_search(line, match, k_syntax)) {
      Diagnostic diagnostic{line, Place{match[2].str(), std::stoul(match[1].str())}};
      if (i + 1 < lines.size()) {
        diagnostic.text += " " + lines[++i];
      }
      found.push_back(std::move(diagnostic));
    } else {
      found.push_back(Diagnostic{line, std::nullopt});
    }
  }
  return found;
}

std::vector<Diagnostic>
haproxy_diagnostics(const util::ProcessOutcome& outcome)
{
  static const boost::regex k_alert(R"(^\[(ALERT|WARNING)\] +\([0-9]+\) : (.*)$)");
  static const boost::regex k_place(R"(\[([^\]]+):([0-9]+)\])");
  std::vector<Diagnostic> found;
  std::vector<Diagnostic> summaries;
  for (const auto& line : lines_of(outcome.stderr_text + "\n" + outcome.stdout_text)) {
    boost::smatch match;
    if (!boost::regex_match(line, match, k_alert) || match[1] != "ALERT") {
      continue;
    }
    const auto text = match[2].str();
    Diagnostic diagnostic{text, place_in(text, k_place, 1, 2)};
    if (text.find("Error(s) found in configuration file") != std::string::npos
        || text.find("Fatal errors found in configuration") != std::string::npos) {
      summaries.push_back(std::move(diagnostic));
    } else {
      found.push_back(std::move(diagnostic));
    }
  }
  return found.empty() ? summaries : found;
}

std::span<const ServerKind>
server_kinds()
{
  return k_server_kinds;
}

const ServerKind*
find_server_kind(std::string_view name)
{
  return util::find_by_name(server_kinds(), name);
}

} // namespace checks::webserver
