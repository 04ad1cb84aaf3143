#include "apache.hpp"

#include "addresses.hpp"

#include <hook/util/text.hpp>

#include <boost/regex.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

namespace checks::webserver {

namespace {

// The defines readygate itself passes to get the dump; the running server does not have them.
constexpr std::array<std::string_view, 4> k_dump_defines = {
  "DUMP_INCLUDES", "DUMP_MODULES", "DUMP_VHOSTS", "DUMP_RUN_CFG"};

// How deep includes and sections may nest before readygate gives up (Apache's own include limit
// is 128).
constexpr std::size_t k_max_depth = 128;
constexpr std::size_t k_max_files = 10'000;

util::Error
dump_error(std::string_view what)
{
  return util::make_error(util::Errc::protocol, fmt::format("apache dump: {}", what));
}

util::Error
file_error(const std::string& file, std::size_t line, std::string_view what)
{
  return util::make_error(util::Errc::protocol,
                          fmt::format("{}:{}: {}", util::printable(file), line, what));
}

// Return the host of a ServerName value: "https://www.example.com:443" -> "www.example.com".
std::string
host_of_server_name(std::string_view value)
{
  if (const auto scheme = value.find("://"); scheme != std::string_view::npos) {
    value.remove_prefix(scheme + 3);
  }
  const auto parsed = parse_host_and_port(value, 0);
  return parsed ? parsed->host : std::string(value);
}

std::string
unquote(std::string_view text)
{
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    return std::string(text.substr(1, text.size() - 2));
  }
  return std::string(text);
}

// One line of an Apache configuration file: a directive, a section opening or a section closing.
struct ApacheLine
{
  std::size_t line = 0;
  // The last physical line of a line continued with '\': Apache numbers a directive (in its
  // include list and virtual host list) by the line where it ended.
  std::size_t last_line = 0;
  enum class Kind { directive, open, close } kind = Kind::directive;
  std::string name; // lowercase; for a section, its name without '<' / '</'
  std::vector<std::string> args;
};

// Split `text` into words as Apache's ap_getword_conf does: "..." and '...' are one word (a
// backslash before the quote keeps it), anything else ends at white space.
std::vector<std::string>
words_of(std::string_view text)
{
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) {
      ++i;
    }
    if (i >= text.size()) {
      break;
    }
    std::string word;
    const char quote = text[i];
    if (quote == '"' || quote == '\'') {
      ++i;
      while (i < text.size() && text[i] != quote) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == quote) {
          ++i;
        }
        word.push_back(text[i++]);
      }
      ++i; // the closing quote
    } else {
      while (i < text.size() && text[i] != ' ' && text[i] != '\t') {
        word.push_back(text[i++]);
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

util::Result<std::vector<ApacheLine>>
lex_apache(std::string_view text, const std::string& file)
{
  std::vector<ApacheLine> lines;
  std::size_t number = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++number;
    const std::size_t first = number;
    std::string logical;
    // A line ending in a backslash goes on on the next one.
    for (;;) {
      const auto end = text.find('\n', pos);
      auto piece =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
      pos = end == std::string_view::npos ? text.size() : end + 1;
      if (piece.ends_with('\r')) {
        piece.remove_suffix(1);
      }
      if (piece.ends_with('\\') && pos < text.size()) {
        logical.append(piece.substr(0, piece.size() - 1));
        ++number;
        continue;
      }
      logical.append(piece);
      break;
    }
    std::string_view line(logical);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      line.remove_prefix(1);
    }
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (line.empty() || line.front() == '#') {
      continue;
    }
    ApacheLine parsed;
    parsed.line = first;
    parsed.last_line = number;
    if (line.starts_with("</")) {
      if (!line.ends_with(">")) {
        return file_error(file, first, "a section end without \">\"");
      }
      parsed.kind = ApacheLine::Kind::close;
      parsed.name = util::to_lower(line.substr(2, line.size() - 3));
    } else if (line.starts_with("<")) {
      if (!line.ends_with(">")) {
        return file_error(file, first, "a section without \">\"");
      }
      parsed.kind = ApacheLine::Kind::open;
      auto words = words_of(line.substr(1, line.size() - 2));
      if (words.empty()) {
        return file_error(file, first, "an empty section");
      }
      parsed.name = util::to_lower(words.front());
      parsed.args.assign(words.begin() + 1, words.end());
    } else {
      auto words = words_of(line);
      parsed.name = util::to_lower(words.front());
      parsed.args.assign(words.begin() + 1, words.end());
    }
    lines.push_back(std::move(parsed));
  }
  return lines;
}

// What one server (the main one or a virtual host) says about itself.
struct HostData
{
  std::optional<std::pair<std::string, Place>> document_root;
  std::optional<bool> ssl_engine;
  std::vector<std::pair<std::string, Place>> certificates;
  std::vector<std::pair<std::string, Place>> keys;
  std::optional<std::string> chain; // SSLCertificateChainFile
  std::optional<std::string> server_name;
  bool seen = false;
};

struct PlaceKey
{
  std::string file;
  std::size_t line;
  auto operator<=>(const PlaceKey&) const = default;
};

class ApacheReader
{
public:
  ApacheReader(const ApacheDump& dump, const FileReader& read_file)
      : m_dump(dump),
        m_read(read_file)
  {
    // Which include entries each file included, in order.
    m_children.resize(dump.includes.size());
    std::vector<std::size_t> parents;
    for (std::size_t i = 0; i < dump.includes.size(); ++i) {
      const auto depth = dump.includes[i].depth;
      parents.resize(std::min(parents.size(), depth));
      if (depth > 0 && parents.size() == depth) {
        m_children[parents.back()].push_back(i);
      }
      parents.push_back(i);
    }
    for (const auto& host : dump.virtual_hosts) {
      m_hosts.emplace(PlaceKey{host.where.file, host.where.line}, HostData{});
    }
  }

  util::Result<ServerConfig>
  read()
  {
    if (m_dump.includes.empty()) {
      return dump_error("no configuration file listed");
    }
    if (m_dump.includes.size() > k_max_files) {
      return dump_error(fmt::format("more than {} configuration files", k_max_files));
    }
    RG_TRY(walk(0, &m_main, false, 0));
    for (const auto& include : m_dump.includes) {
      m_config.files.push_back(include.path);
    }
    return build();
  }

private:
  std::string
  substitute(const std::string& text) const
  {
    std::string out;
    std::size_t pos = 0;
    while (pos < text.size()) {
      const auto open = text.find("${", pos);
      if (open == std::string::npos) {
        out.append(text, pos, std::string::npos);
        break;
      }
      const auto close = text.find('}', open + 2);
      if (close == std::string::npos) {
        out.append(text, pos, std::string::npos);
        break;
      }
      out.append(text, pos, open - pos);
      const auto name = std::string_view(text).substr(open + 2, close - open - 2);
      const auto found = m_dump.defines.find(name);
      if (found != m_dump.defines.end()) {
        out.append(found->second);
      } else {
        out.append(text, open, close - open + 1); // an environment variable: left as written
      }
      pos = close + 1;
    }
    return out;
  }

  bool
  condition_holds(const ApacheLine& line) const
  {
    if (line.args.empty()) {
      return true;
    }
    std::string_view wanted = line.args[0];
    const bool negated = wanted.starts_with("!");
    if (negated) {
      wanted.remove_prefix(1);
    }
    bool holds = true;
    if (line.name == "ifmodule") {
      std::string module(wanted);
      if (module.starts_with("mod_") && module.ends_with(".c")) {
        module = module.substr(4, module.size() - 6) + "_module";
      }
      holds = m_dump.modules.contains(module);
    } else if (line.name == "ifdefine") {
      holds = m_dump.defines.contains(wanted);
    } else {
      return true; // <IfVersion>, <IfFile>, <IfDirective>, <IfSection>: taken as true
    }
    return negated ? !holds : holds;
  }

  util::Result<void>
  walk(std::size_t index, HostData* host, bool in_location, std::size_t depth)
  {
    if (depth > k_max_depth) {
      return dump_error("includes nested too deep");
    }
    const auto& file = m_dump.includes[index].path;
    RG_TRY_ASSIGN(const auto text, m_read(file));
    RG_TRY_ASSIGN(const auto lines, lex_apache(text, file));
    struct Frame
    {
      std::string name;
      std::size_t line;
      HostData* host;
      bool in_location;
    };
    std::vector<Frame> stack;
    std::size_t skipping = 0;
    for (const auto& line : lines) {
      if (skipping > 0) {
        if (line.kind == ApacheLine::Kind::open) {
          ++skipping;
        } else if (line.kind == ApacheLine::Kind::close) {
          --skipping;
        }
        continue;
      }
      HostData* current = stack.empty() ? host : stack.back().host;
      const bool location = stack.empty() ? in_location : stack.back().in_location;
      if (line.kind == ApacheLine::Kind::open) {
        if (stack.size() >= k_max_depth) {
          return file_error(file, line.line, "sections nested too deep");
        }
        if (line.name == "virtualhost") {
          const auto found = m_hosts.find(PlaceKey{file, line.last_line});
          if (found == m_hosts.end()) {
            skipping = 1; // not among the dump's virtual hosts: not active
            continue;
          }
          found->second.seen = true;
          stack.push_back(Frame{line.name, line.line, &found->second, false});
        } else if (line.name.starts_with("if") && !condition_holds(line)) {
          skipping = 1;
        } else {
          const bool is_location = line.name == "location" || line.name == "locationmatch"
                                   || line.name == "proxy" || line.name == "proxymatch";
          stack.push_back(Frame{line.name, line.line, current, location || is_location});
        }
        continue;
      }
      if (line.kind == ApacheLine::Kind::close) {
        if (stack.empty()) {
          return file_error(
            file, line.line, fmt::format("</{}> without its opening", util::printable(line.name)));
        }
        if (stack.back().name != line.name) {
          return file_error(file,
                            line.line,
                            fmt::format("</{}> closes <{}> (line {})",
                                        util::printable(line.name),
                                        util::printable(stack.back().name),
                                        stack.back().line));
        }
        stack.pop_back();
        continue;
      }
      if (line.name == "include" || line.name == "includeoptional") {
        for (const auto child : m_children[index]) {
          if (m_dump.includes[child].line == line.last_line) {
            RG_TRY(walk(child, current, location, depth + 1));
          }
        }
        continue;
      }
      directive(line, file, *current, location);
    }
    if (!stack.empty()) {
      return file_error(
        file,
        stack.back().line,
        fmt::format("<{}> is not closed in this file", util::printable(stack.back().name)));
    }
    return {};
  }

  void
  skip(const ApacheLine& line, const std::string& file, std::string_view why)
  {
    std::string what = line.name;
    for (const auto& arg : line.args) {
      what += " " + arg;
    }
    m_config.skipped.push_back(Skipped{fmt::format("{}: {}", what, why), Place{file, line.line}});
  }

  // Add `raw` (after ${DEFINE} substitution) as a path of `directive`, unless it still holds a
  // variable or a regular expression's capture.
  std::optional<std::string>
  path_of(const ApacheLine& line, const std::string& file, const std::string& raw)
  {
    const auto text = substitute(raw);
    if (text.find("${") != std::string::npos) {
      skip(line, file, "an environment variable readygate does not know");
      return std::nullopt;
    }
    return absolute_path(text, m_dump.server_root);
  }

  void
  directive(const ApacheLine& line, const std::string& file, HostData& host, bool location)
  {
    const Place where{file, line.line};
    const auto& name = line.name;
    const auto& args = line.args;
    if (name == "documentroot" && !args.empty()) {
      const auto path = path_of(line, file, args[0]);
      if (path) {
        host.document_root = std::make_pair(*path, where);
        m_config.paths.push_back(ServedPath{*path, "DocumentRoot", false, where});
      }
    } else if (name == "alias" || name == "scriptalias" || name == "aliasmatch"
               || name == "scriptaliasmatch") {
      const std::string* target = args.size() >= 2               ? &args[1]
                                  : args.size() == 1 && location ? &args[0]
                                                                 : nullptr;
      if (target == nullptr) {
        return;
      }
      if (name.ends_with("match") && target->find('$') != std::string::npos) {
        skip(line, file, "a regular expression's capture");
        return;
      }
      const auto path = path_of(line, file, *target);
      if (path) {
        static const std::map<std::string_view, std::string_view> k_spelling = {
          {"alias", "Alias"},
          {"scriptalias", "ScriptAlias"},
          {"aliasmatch", "AliasMatch"},
          {"scriptaliasmatch", "ScriptAliasMatch"}};
        m_config.paths.push_back(ServedPath{*path, std::string(k_spelling.at(name)), true, where});
      }
    } else if (name == "sslengine" && !args.empty()) {
      host.ssl_engine = util::to_lower(args[0]) == "on";
    } else if ((name == "sslcertificatefile" || name == "sslcertificatekeyfile") && !args.empty()) {
      const auto path = path_of(line, file, args[0]);
      if (path) {
        (name == "sslcertificatefile" ? host.certificates : host.keys).emplace_back(*path, where);
      }
    } else if (name == "sslcertificatechainfile" && !args.empty()) {
      host.chain = path_of(line, file, args[0]);
    } else if (name == "servername" && !args.empty()) {
      host.server_name = args[0];
    } else if (name == "listen" && !args.empty() && &host == &m_main) {
      const auto address = parse_listen_address(args[0], 80);
      if (address.port != 0) {
        Listener listener;
        listener.host = address.host;
        listener.ipv6_any = address.ipv6_any;
        listener.port = address.port;
        listener.tls = args.size() >= 2 && util::to_lower(args[1]) == "https";
        listener.where = where;
        m_main_listeners.push_back(listener);
      }
    } else if (name == "proxypass" || name == "proxypassmatch" || name == "balancermember") {
      for (const auto& arg : args) {
        if (arg.find("://") != std::string::npos || arg.starts_with("unix:")) {
          if (arg.starts_with("balancer://")) {
            continue; // its members are targets of their own
          }
          if (arg.find('$') != std::string::npos) {
            skip(line, file, "a regular expression's capture");
            return;
          }
          add_target(line, file, substitute(arg));
          return;
        }
      }
    } else if ((name == "sethandler" || name == "addhandler") && !args.empty()
               && util::to_lower(args[0]).starts_with("proxy:")) {
      add_target(line, file, substitute(args[0].substr(6)));
    }
  }

  void
  add_target(const ApacheLine& line, const std::string& file, const std::string& url)
  {
    const Place where{file, line.line};
    if (url.starts_with("unix:")) {
      auto path = url.substr(5);
      if (const auto bar = path.find('|'); bar != std::string::npos) {
        path.erase(bar); // unix:/run/php/php-fpm.sock|fcgi://localhost
      }
      m_config.upstreams.push_back(UpstreamTarget{"", 0, path, "unix:" + path, where});
      return;
    }
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) {
      skip(line, file, "not a URL");
      return;
    }
    const auto scheme = util::to_lower(url.substr(0, scheme_end));
    static const std::map<std::string, std::uint16_t, std::less<>> k_default_ports = {
      {"http", 80},
      {"ws", 80},
      {"h2c", 80},
      {"https", 443},
      {"wss", 443},
      {"h2", 443},
      {"ajp", 8009}};
    auto authority = url.substr(scheme_end + 3);
    authority.erase(std::min(authority.find('/'), authority.size()));
    if (const auto at = authority.rfind('@'); at != std::string::npos) {
      authority.erase(0, at + 1);
    }
    const auto found = k_default_ports.find(scheme);
    const auto parsed =
      parse_host_and_port(authority, found != k_default_ports.end() ? found->second : 0);
    if (!parsed || parsed->host.empty() || parsed->port == 0) {
      skip(line, file, "no host and port");
      return;
    }
    m_config.upstreams.push_back(UpstreamTarget{
      parsed->host, parsed->port, "", format_target(parsed->host, parsed->port), where});
  }

  static std::string
  default_site_reason(const std::string& file, const std::string& document_root)
  {
    const auto name = std::filesystem::path(file).lexically_normal().string();
    if (name.ends_with("/sites-enabled/000-default.conf")
        || name.ends_with("/sites-enabled/default-ssl.conf")) {
      return fmt::format("the distribution's default site ({})", name);
    }
    if (std::filesystem::path(document_root).lexically_normal() == "/var/www/html") {
      return fmt::format("DocumentRoot {} is the distribution's placeholder page", document_root);
    }
    return {};
  }

  std::vector<CertificateUse>
  certificates_of(const HostData& host) const
  {
    const auto& source = host.certificates.empty() ? m_main : host;
    std::vector<CertificateUse> uses;
    for (std::size_t i = 0; i < source.certificates.size(); ++i) {
      CertificateUse use;
      use.certificate = source.certificates[i].first;
      use.where = source.certificates[i].second;
      if (i < source.keys.size()) {
        use.key = source.keys[i].first;
      }
      use.chain = host.chain.value_or(m_main.chain.value_or(""));
      uses.push_back(std::move(use));
    }
    return uses;
  }

  util::Result<ServerConfig>
  build()
  {
    std::map<PlaceKey, std::size_t> index_of;
    for (const auto& entry : m_dump.virtual_hosts) {
      const PlaceKey key{entry.where.file, entry.where.line};
      const auto& data = m_hosts.at(key);
      if (!data.seen) {
        return dump_error(fmt::format("the virtual host at {} is not in its file as read now",
                                      util::printable(entry.where.text())));
      }
      auto [found, added] = index_of.emplace(key, m_config.servers.size());
      if (added) {
        VirtualServer server;
        server.syntax = NameSyntax::apache;
        server.where = entry.where;
        const bool tls = data.ssl_engine.value_or(m_main.ssl_engine.value_or(false));
        if (tls) {
          server.certificates = certificates_of(data);
        }
        const auto root =
          data.document_root ? data.document_root->first : m_dump.main_document_root;
        server.default_site = default_site_reason(entry.where.file, root);
        m_config.servers.push_back(std::move(server));
      }
      auto& server = m_config.servers[found->second];
      // Its ServerName (else the main server's; -S shows a guessed name then, not a configured
      // one), then the aliases -S lists.
      std::vector<std::string> names;
      if (const auto& configured = data.server_name ? data.server_name : m_main.server_name) {
        names.push_back(host_of_server_name(*configured));
      }
      names.insert(
        names.end(), entry.names.begin() + (entry.names.empty() ? 0 : 1), entry.names.end());
      for (const auto& name : names) {
        if (std::find(server.names.begin(), server.names.end(), name) == server.names.end()) {
          server.names.push_back(name);
        }
      }
      auto address = entry.address;
      if (address.starts_with("_default_:")) {
        address = "*" + address.substr(9);
      }
      const auto parsed = parse_listen_address(address, 0);
      if (parsed.port != 0) {
        Listener listener;
        listener.host = parsed.host;
        listener.ipv6_any = parsed.ipv6_any;
        listener.port = parsed.port;
        listener.tls = data.ssl_engine.value_or(m_main.ssl_engine.value_or(false));
        listener.where = entry.where;
        const bool known =
          std::any_of(server.listeners.begin(), server.listeners.end(), [&](const Listener& other) {
            return other.host == listener.host && other.port == listener.port
                   && other.ipv6_any == listener.ipv6_any;
          });
        if (!known) { // -S lists a name-based host as the default server and again by name
          server.listeners.push_back(listener);
        }
      }
    }
    if (m_dump.virtual_hosts.empty() && !m_main_listeners.empty()) {
      // No virtual host: the main server answers on every Listen.
      VirtualServer main;
      main.syntax = NameSyntax::apache;
      if (m_main.server_name) {
        main.names.push_back(host_of_server_name(*m_main.server_name));
      }
      main.listeners = m_main_listeners;
      const bool tls = m_main.ssl_engine.value_or(false);
      for (auto& listener : main.listeners) {
        listener.tls = listener.tls || tls;
      }
      if (tls) {
        main.certificates = certificates_of(m_main);
      }
      main.where = main.listeners.front().where;
      main.default_site = default_site_reason("", m_dump.main_document_root);
      m_config.servers.push_back(std::move(main));
    }
    for (const auto& include : m_dump.includes) {
      const auto name = std::filesystem::path(include.path).lexically_normal().string();
      if (name.ends_with("/conf.d/welcome.conf")) {
        VirtualServer welcome;
        welcome.where = Place{include.path, 0};
        welcome.default_site = fmt::format("the distribution's welcome page ({})", name);
        m_config.servers.push_back(std::move(welcome));
      }
    }
    m_config.worker_user = m_dump.user;
    return std::move(m_config);
  }

  const ApacheDump& m_dump;
  const FileReader& m_read;
  std::vector<std::vector<std::size_t>> m_children;
  std::map<PlaceKey, HostData> m_hosts;
  HostData m_main;
  std::vector<Listener> m_main_listeners;
  ServerConfig m_config;
};

} // namespace

util::Result<ApacheDump>
parse_apache_dump(std::string_view text)
{
  static const boost::regex k_include(R"(^( +)\((\*|[0-9]+)\) (.+)$)");
  static const boost::regex k_name_host(R"(^(\S+)\s+is a NameVirtualHost$)");
  static const boost::regex k_default(R"(^\s+default server (\S+) \((.*):([0-9]+)\)$)");
  static const boost::regex k_named(R"(^\s+port (\S+) namevhost (\S+) \((.*):([0-9]+)\)$)");
  static const boost::regex k_alias(R"(^\s+(?:wild )?alias (\S+)$)");
  static const boost::regex k_single(R"(^(\S+)\s+(\S+) \((.*):([0-9]+)\)$)");
  static const boost::regex k_module(R"(^ (\S+) \((?:static|shared)\)$)");

  ApacheDump dump;
  enum class Section { none, includes, virtual_hosts, modules };
  Section section = Section::none;
  bool saw_includes = false;
  bool saw_virtual_hosts = false;
  std::string name_host_address;
  ApacheDump::VirtualHost* last = nullptr;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    const std::string line(
      text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    pos = end == std::string_view::npos ? text.size() : end + 1;
    boost::smatch match;
    if (line == "Included configuration files:") {
      section = Section::includes;
      saw_includes = true;
    } else if (line == "VirtualHost configuration:") {
      section = Section::virtual_hosts;
      saw_virtual_hosts = true;
    } else if (line == "Loaded Modules:") {
      section = Section::modules;
    } else if (line.starts_with("ServerRoot: ")) {
      dump.server_root = unquote(line.substr(12));
      section = Section::none;
    } else if (line.starts_with("Main DocumentRoot: ")) {
      dump.main_document_root = unquote(line.substr(19));
      section = Section::none;
    } else if (line.starts_with("User: name=")) {
      auto rest = line.substr(11);
      rest.erase(std::min(rest.find(" id="), rest.size()));
      dump.user = unquote(rest);
      section = Section::none;
    } else if (line.starts_with("Define: ")) {
      const auto definition = line.substr(8);
      const auto equals = definition.find('=');
      const auto name = definition.substr(0, equals);
      if (std::find(k_dump_defines.begin(), k_dump_defines.end(), name) == k_dump_defines.end()) {
        dump.defines[name] = equals == std::string::npos ? "" : definition.substr(equals + 1);
      }
      section = Section::none;
    } else if (section == Section::includes && boost::regex_match(line, match, k_include)) {
      const auto spaces = match[1].length();
      if (spaces < 2 || spaces % 2 != 0) {
        return dump_error(fmt::format("an include line indented oddly: {}", util::printable(line)));
      }
      ApacheDump::Include include;
      include.depth = static_cast<std::size_t>(spaces - 2) / 2;
      include.line = match[2] == "*" ? 0 : std::stoul(match[2]);
      include.path = match[3];
      if ((include.depth == 0) != dump.includes.empty()
          || (!dump.includes.empty() && include.depth > dump.includes.back().depth + 1)) {
        return dump_error(fmt::format("an include line out of place: {}", util::printable(line)));
      }
      dump.includes.push_back(std::move(include));
    } else if (section == Section::virtual_hosts && boost::regex_match(line, match, k_name_host)) {
      name_host_address = match[1];
      last = nullptr;
    } else if (section == Section::virtual_hosts && boost::regex_match(line, match, k_default)) {
      dump.virtual_hosts.push_back(
        {name_host_address, {match[1]}, Place{match[2], std::stoul(match[3])}});
      last = nullptr; // the "port N namevhost" line after it carries the aliases
    } else if (section == Section::virtual_hosts && boost::regex_match(line, match, k_named)) {
      const auto colon = name_host_address.rfind(':');
      const auto address =
        name_host_address.substr(0, colon == std::string::npos ? name_host_address.size() : colon)
        + ":" + std::string(match[1]);
      dump.virtual_hosts.push_back({address, {match[2]}, Place{match[3], std::stoul(match[4])}});
      last = &dump.virtual_hosts.back();
    } else if (section == Section::virtual_hosts && boost::regex_match(line, match, k_alias)) {
      if (last != nullptr) {
        last->names.push_back(match[1]);
      }
    } else if (section == Section::virtual_hosts && boost::regex_match(line, match, k_single)) {
      dump.virtual_hosts.push_back({match[1], {match[2]}, Place{match[3], std::stoul(match[4])}});
      last = &dump.virtual_hosts.back();
    } else if (section == Section::modules && boost::regex_match(line, match, k_module)) {
      dump.modules.insert(match[1]);
    }
  }
  if (!saw_includes || dump.includes.empty()) {
    return dump_error("no \"Included configuration files:\" list (is this Apache httpd 2.4?)");
  }
  if (!saw_virtual_hosts) {
    return dump_error("no \"VirtualHost configuration:\" list (is this Apache httpd 2.4?)");
  }
  return dump;
}

util::Result<ServerConfig>
read_apache_config(const ApacheDump& dump, const FileReader& read_file)
{
  ApacheReader reader(dump, read_file);
  return reader.read();
}

} // namespace checks::webserver
