#include "nginx.hpp"

#include "addresses.hpp"

#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace checks::webserver {

namespace {

constexpr std::string_view k_file_marker = "# configuration file ";

util::Error
syntax_error(const std::string& file, std::size_t line, std::string_view what)
{
  return util::make_error(
    util::Errc::protocol,
    fmt::format("nginx -T output: {}:{}: {}", util::printable(file), line, what));
}

bool
is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Resolve nginx's escapes in a word: \" \' \\ stand for the character, \t \r \n for controls,
// any other backslash stays.
std::string
unescape(std::string_view raw)
{
  std::string word;
  word.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) {
      const char next = raw[i + 1];
      if (next == '"' || next == '\'' || next == '\\') {
        word.push_back(next);
        ++i;
        continue;
      }
      if (next == 't' || next == 'r' || next == 'n') {
        word.push_back(next == 't' ? '\t' : next == 'r' ? '\r' : '\n');
        ++i;
        continue;
      }
    }
    word.push_back(raw[i]);
  }
  return word;
}

// Reads nginx syntax the way ngx_conf_read_token does, one statement at a time.
class Tokenizer
{
public:
  enum class Kind { directive, block_open, block_close, end };
  struct Statement
  {
    Kind kind = Kind::end;
    std::vector<std::string> words;
    std::size_t line = 0;
  };

  Tokenizer(std::string_view text, const std::string& file)
      : m_text(text),
        m_file(file)
  {}

  util::Result<Statement>
  next()
  {
    Statement statement;
    bool sharp_comment = false;
    bool quoted = false;
    bool s_quoted = false;
    bool d_quoted = false;
    bool last_space = true;
    bool need_space = false;
    bool variable = false;
    std::size_t start = 0;
    const auto finish = [&](Kind kind) {
      statement.kind = kind;
      return statement;
    };
    for (;;) {
      if (m_pos >= m_text.size()) {
        if (!statement.words.empty() || !last_space || d_quoted || s_quoted) {
          return syntax_error(m_file, m_line, "unexpected end of file, expecting \";\" or \"}\"");
        }
        return finish(Kind::end);
      }
      const char ch = m_text[m_pos++];
      if (ch == '\n') {
        ++m_line;
        sharp_comment = false;
      }
      if (sharp_comment) {
        continue;
      }
      if (quoted) {
        quoted = false;
        continue;
      }
      if (need_space) {
        if (is_space(ch)) {
          last_space = true;
          need_space = false;
          continue;
        }
        if (ch == ';') {
          return finish(Kind::directive);
        }
        if (ch == '{') {
          return finish(Kind::block_open);
        }
        if (ch != ')') {
          return syntax_error(
            m_file, m_line, fmt::format("unexpected \"{}\"", util::printable(std::string(1, ch))));
        }
        last_space = true;
        need_space = false;
      }
      if (last_space) {
        start = m_pos - 1;
        if (is_space(ch)) {
          continue;
        }
        if (statement.words.empty()) {
          statement.line = m_line;
        }
        switch (ch) {
        case ';':
        case '{':
          if (statement.words.empty()) {
            return syntax_error(m_file, m_line, fmt::format("unexpected \"{}\"", ch));
          }
          return finish(ch == '{' ? Kind::block_open : Kind::directive);
        case '}':
          if (!statement.words.empty()) {
            return syntax_error(m_file, m_line, "unexpected \"}\"");
          }
          return finish(Kind::block_close);
        case '#':
          sharp_comment = true;
          continue;
        case '\\':
          quoted = true;
          last_space = false;
          continue;
        case '"':
          ++start;
          d_quoted = true;
          last_space = false;
          continue;
        case '\'':
          ++start;
          s_quoted = true;
          last_space = false;
          continue;
        case '$':
          variable = true;
          last_space = false;
          continue;
        default:
          last_space = false;
        }
        continue;
      }
      if (ch == '{' && variable) {
        continue;
      }
      variable = false;
      if (ch == '\\') {
        quoted = true;
        continue;
      }
      if (ch == '$') {
        variable = true;
        continue;
      }
      bool found = false;
      if (d_quoted) {
        if (ch == '"') {
          d_quoted = false;
          need_space = true;
          found = true;
        }
      } else if (s_quoted) {
        if (ch == '\'') {
          s_quoted = false;
          need_space = true;
          found = true;
        }
      } else if (is_space(ch) || ch == ';' || ch == '{') {
        last_space = true;
        found = true;
      }
      if (found) {
        statement.words.push_back(unescape(m_text.substr(start, m_pos - 1 - start)));
        if (ch == ';') {
          return finish(Kind::directive);
        }
        if (ch == '{') {
          return finish(Kind::block_open);
        }
      }
    }
  }

  // Skip the body of a Lua block (after its '{') up to its closing '}': Lua strings, long
  // brackets and comments may hold braces.
  util::Result<void>
  skip_lua_block()
  {
    const auto line = m_line;
    int depth = 1;
    while (m_pos < m_text.size()) {
      const char ch = m_text[m_pos++];
      if (ch == '\n') {
        ++m_line;
      } else if (ch == '{') {
        ++depth;
      } else if (ch == '}') {
        if (--depth == 0) {
          return {};
        }
      } else if (ch == '"' || ch == '\'') {
        while (m_pos < m_text.size() && m_text[m_pos] != ch && m_text[m_pos] != '\n') {
          m_pos += m_text[m_pos] == '\\' ? 2 : 1;
        }
        ++m_pos;
      } else if (ch == '[' && long_bracket_level() >= 0) {
        skip_long_bracket();
      } else if (ch == '-' && m_pos < m_text.size() && m_text[m_pos] == '-') {
        ++m_pos;
        if (m_pos < m_text.size() && m_text[m_pos] == '[') {
          ++m_pos;
          if (long_bracket_level() >= 0) {
            skip_long_bracket();
            continue;
          }
        }
        while (m_pos < m_text.size() && m_text[m_pos] != '\n') {
          ++m_pos;
        }
      }
    }
    return syntax_error(m_file, line, "a Lua block without its closing \"}\"");
  }

private:
  // After a '[': the level of a long bracket opening here ("[[" is 0, "[==[" is 2), else -1.
  int
  long_bracket_level() const
  {
    std::size_t at = m_pos;
    int level = 0;
    while (at < m_text.size() && m_text[at] == '=') {
      ++level;
      ++at;
    }
    return at < m_text.size() && m_text[at] == '[' ? level : -1;
  }

  void
  skip_long_bracket()
  {
    const int level = long_bracket_level();
    m_pos += static_cast<std::size_t>(level) + 1;
    const std::string close = "]" + std::string(static_cast<std::size_t>(level), '=') + "]";
    const auto end = m_text.find(close, m_pos);
    const auto stop = end == std::string_view::npos ? m_text.size() : end + close.size();
    m_line +=
      static_cast<std::size_t>(std::count(m_text.begin() + static_cast<std::ptrdiff_t>(m_pos),
                                          m_text.begin() + static_cast<std::ptrdiff_t>(stop),
                                          '\n'));
    m_pos = stop;
  }

  std::string_view m_text;
  const std::string& m_file;
  std::size_t m_pos = 0;
  std::size_t m_line = 1;
};

std::string
normal(std::string_view path)
{
  return std::filesystem::path(path).lexically_normal().string();
}

bool
has_glob(std::string_view pattern)
{
  return pattern.find_first_of("*?[") != std::string_view::npos;
}

// Rebuilds the configuration from the dump, replacing includes by the files they name.
class DumpAssembler
{
public:
  explicit DumpAssembler(std::vector<DumpedFile> files)
      : m_files(std::move(files)),
        m_parsed(m_files.size()),
        m_used(m_files.size(), false),
        m_on_stack(m_files.size(), false)
  {
    m_conf_prefix = std::filesystem::path(m_files.front().path).parent_path().string();
    for (const auto& file : m_files) {
      m_normal.push_back(normal(file.path));
    }
  }

  util::Result<std::vector<Directive>>
  assemble()
  {
    m_used[0] = true;
    RG_TRY_ASSIGN(auto tree, expand(0));
    for (std::size_t i = 0; i < m_files.size(); ++i) {
      if (!m_used[i]) {
        return util::make_error(
          util::Errc::protocol,
          fmt::format(
            "nginx -T output: {} is not included from anywhere (a comment that looks like "
            "nginx's \"# configuration file\" line?)",
            util::printable(m_files[i].path)));
      }
    }
    return tree;
  }

private:
  util::Result<std::vector<Directive>>
  expand(std::size_t index)
  {
    if (!m_parsed[index]) {
      RG_TRY_ASSIGN(auto parsed, parse_nginx_text(m_files[index].text, m_files[index].path));
      m_parsed[index] = std::move(parsed);
    }
    m_on_stack[index] = true;
    auto expanded = splice(*m_parsed[index]);
    m_on_stack[index] = false;
    return expanded;
  }

  util::Result<std::vector<Directive>>
  splice(const std::vector<Directive>& directives)
  {
    std::vector<Directive> out;
    for (const auto& directive : directives) {
      if (++m_count > k_max_nginx_directives) {
        return util::make_error(util::Errc::protocol,
                                fmt::format("nginx -T output: more than {} directives once every "
                                            "include is in place",
                                            k_max_nginx_directives));
      }
      if (directive.name == "include" && !directive.block && directive.args.size() == 1) {
        RG_TRY_ASSIGN(const auto matched, match(directive));
        for (const auto index : matched) {
          if (m_on_stack[index]) {
            return syntax_error(
              directive.where.file,
              directive.where.line,
              fmt::format("include \"{}\" includes itself", util::printable(directive.args[0])));
          }
          m_used[index] = true;
          RG_TRY_ASSIGN(auto included, expand(index));
          for (auto& child : included) {
            out.push_back(std::move(child));
          }
        }
        continue;
      }
      Directive copy;
      copy.name = directive.name;
      copy.args = directive.args;
      copy.where = directive.where;
      copy.block = directive.block;
      if (directive.block) {
        RG_TRY_ASSIGN(copy.children, splice(directive.children));
      }
      out.push_back(std::move(copy));
    }
    return out;
  }

  util::Result<std::vector<std::size_t>>
  match(const Directive& include)
  {
    const auto& pattern = include.args[0];
    const auto full = normal(absolute_path(pattern, m_conf_prefix));
    std::vector<std::size_t> matched;
    for (std::size_t i = 1; i < m_files.size(); ++i) {
      if (has_glob(pattern)
            ? ::fnmatch(full.c_str(), m_normal[i].c_str(), FNM_PATHNAME | FNM_PERIOD) == 0
            : m_normal[i] == full) {
        matched.push_back(i);
      }
    }
    if (matched.empty() && !has_glob(pattern)) {
      return syntax_error(
        include.where.file,
        include.where.line,
        fmt::format("include \"{}\": the file is not in the dump", util::printable(pattern)));
    }
    // nginx's glob() gives the files in sorted order.
    std::sort(matched.begin(), matched.end(), [&](std::size_t a, std::size_t b) {
      return m_normal[a] < m_normal[b];
    });
    return matched;
  }

  std::vector<DumpedFile> m_files;
  std::vector<std::string> m_normal;
  std::vector<std::optional<std::vector<Directive>>> m_parsed;
  std::vector<bool> m_used;
  std::vector<bool> m_on_stack;
  std::string m_conf_prefix;
  std::size_t m_count = 0;
};

// --- What the check needs, read out of the tree ---

struct Certificates
{
  std::vector<const Directive*> certificates;
  std::vector<const Directive*> keys;
  bool ssl_on = false;
};

class ConfigReader
{
public:
  ConfigReader(std::string_view prefix, std::string conf_prefix)
      : m_prefix(prefix),
        m_conf_prefix(std::move(conf_prefix))
  {}

  ServerConfig
  read(const std::vector<Directive>& main)
  {
    m_config.worker_user = "nobody"; // nginx's built-in default, unless `user` says otherwise
    for (const auto& directive : main) {
      if (directive.name == "user" && !directive.args.empty()) {
        m_config.worker_user = directive.args[0];
      } else if (directive.name == "http" && directive.block) {
        read_context(directive.children, false);
      } else if (directive.name == "stream" && directive.block) {
        read_context(directive.children, true);
      }
    }
    return std::move(m_config);
  }

private:
  // An http{} or stream{} block.
  void
  read_context(const std::vector<Directive>& body, bool stream)
  {
    Certificates inherited;
    std::optional<std::string> root;
    std::map<std::string, bool> upstream_names;
    for (const auto& directive : body) {
      collect_certificates(directive, inherited);
      if (directive.name == "root" && !directive.args.empty()) {
        root = directive.args[0];
      }
      if (directive.name == "upstream" && directive.block && !directive.args.empty()) {
        upstream_names[util::to_lower(directive.args[0])] = true;
      }
    }
    m_upstream_names = upstream_names;
    for (const auto& directive : body) {
      if (directive.name == "server" && directive.block) {
        read_server(directive, inherited, root, stream);
      } else if (directive.name == "upstream" && directive.block) {
        read_upstream(directive);
      } else if (!stream) {
        read_paths_and_passes(directive, stream);
      }
    }
  }

  static void
  collect_certificates(const Directive& directive, Certificates& into)
  {
    if (directive.name == "ssl_certificate" && !directive.args.empty()) {
      into.certificates.push_back(&directive);
    } else if (directive.name == "ssl_certificate_key" && !directive.args.empty()) {
      into.keys.push_back(&directive);
    } else if (directive.name == "ssl" && !directive.args.empty() && directive.args[0] == "on") {
      into.ssl_on = true;
    }
  }

  void
  read_server(const Directive& server,
              const Certificates& inherited,
              const std::optional<std::string>& http_root,
              bool stream)
  {
    VirtualServer virtual_server;
    virtual_server.syntax = NameSyntax::nginx;
    virtual_server.where = server.where;
    Certificates own;
    std::optional<std::string> root;
    for (const auto& directive : server.children) {
      collect_certificates(directive, own);
      if (directive.name == "listen" && !directive.args.empty()) {
        virtual_server.listeners.push_back(listener_of(directive));
      } else if (directive.name == "server_name") {
        for (const auto& name : directive.args) {
          virtual_server.names.push_back(name);
        }
      } else if (directive.name == "root" && !directive.args.empty()) {
        root = directive.args[0];
      }
      read_paths_and_passes(directive, stream);
    }
    if (virtual_server.listeners.empty() && !stream) {
      Listener any;
      any.port = 80;
      any.where = server.where;
      virtual_server.listeners.push_back(any);
    }
    const auto& chosen = own.certificates.empty() ? inherited : own;
    const bool ssl_on = own.ssl_on || inherited.ssl_on;
    if (ssl_on) {
      for (auto& listener : virtual_server.listeners) {
        listener.tls = listener.unix_path.empty() || listener.tls;
      }
    }
    const bool any_tls = std::any_of(virtual_server.listeners.begin(),
                                     virtual_server.listeners.end(),
                                     [](const Listener& listener) { return listener.tls; });
    if (any_tls) {
      const auto& keys = own.certificates.empty() ? inherited.keys
                         : own.keys.empty()       ? inherited.keys
                                                  : own.keys;
      for (std::size_t i = 0; i < chosen.certificates.size(); ++i) {
        add_certificate(
          virtual_server, *chosen.certificates[i], i < keys.size() ? keys[i] : nullptr);
      }
    }
    const auto effective_root = root ? root : http_root;
    virtual_server.default_site = default_site_reason(server.where.file, effective_root);
    m_config.servers.push_back(std::move(virtual_server));
  }

  void
  add_certificate(VirtualServer& server, const Directive& certificate, const Directive* key)
  {
    const auto& path = certificate.args[0];
    if (path.find('$') != std::string::npos || path.starts_with("data:")) {
      skip(certificate, "a variable or inline data");
      return;
    }
    CertificateUse use;
    use.certificate = absolute_path(path, m_conf_prefix);
    use.where = certificate.where;
    if (key != nullptr) {
      const auto& key_path = key->args[0];
      if (key_path.find('$') != std::string::npos || key_path.starts_with("data:")
          || key_path.starts_with("engine:")) {
        skip(*key, "a variable, inline data or an engine key");
        return;
      }
      use.key = absolute_path(key_path, m_conf_prefix);
    }
    // The same pair in several server blocks is read once, at its first place.
    server.certificates.push_back(std::move(use));
  }

  static std::string
  default_site_reason(const std::string& file, const std::optional<std::string>& root)
  {
    const auto name = normal(file);
    if (name.ends_with("/sites-enabled/default") || name.ends_with("/conf.d/default.conf")) {
      return fmt::format("the distribution's default site ({})", name);
    }
    if (root && (normal(*root) == "/var/www/html" || normal(*root) == "/usr/share/nginx/html")) {
      return fmt::format("root {} is the distribution's placeholder page", *root);
    }
    return {};
  }

  static Listener
  listener_of(const Directive& listen)
  {
    Listener listener;
    listener.where = listen.where;
    const auto& address = listen.args[0];
    for (std::size_t i = 1; i < listen.args.size(); ++i) {
      if (listen.args[i] == "ssl" || listen.args[i] == "quic") {
        listener.tls = true;
      }
    }
    if (address.starts_with("unix:")) {
      listener.unix_path = address.substr(5);
      return listener;
    }
    auto parsed = parse_listen_address(address, 80);
    listener.host = parsed.host;
    listener.ipv6_any = parsed.ipv6_any;
    listener.port = parsed.port;
    return listener;
  }

  // A directive anywhere under http{}: root, alias and the *_pass targets, recursively through
  // locations and ifs. map{}, types{}, geo{} and the like hold data, not directives.
  void
  read_paths_and_passes(const Directive& directive, bool stream)
  {
    const auto& name = directive.name;
    if (!stream && (name == "root" || name == "alias") && !directive.args.empty()) {
      add_path(directive);
    } else if ((name == "proxy_pass" || name == "fastcgi_pass" || name == "uwsgi_pass"
                || name == "scgi_pass" || name == "grpc_pass" || name == "memcached_pass")
               && !directive.args.empty()) {
      add_pass(directive);
    }
    if (directive.block
        && (name == "location" || name == "if" || name == "limit_except"
            || (stream && name == "server"))) {
      for (const auto& child : directive.children) {
        read_paths_and_passes(child, stream);
      }
    }
  }

  void
  add_path(const Directive& directive)
  {
    const auto& path = directive.args[0];
    if (path.find('$') != std::string::npos) {
      skip(directive, "a variable");
      return;
    }
    if (!std::filesystem::path(path).is_absolute() && m_prefix.empty()) {
      skip(directive, "relative to nginx's prefix (set the check's prefix)");
      return;
    }
    m_config.paths.push_back(ServedPath{
      absolute_path(path, m_prefix), directive.name, directive.name == "alias", directive.where});
  }

  void
  add_pass(const Directive& directive)
  {
    std::string target = directive.args[0];
    if (target.find('$') != std::string::npos) {
      skip(directive, "a variable");
      return;
    }
    bool tls = false;
    for (const std::string_view scheme :
         {"http://", "https://", "grpc://", "grpcs://", "uwsgi://", "suwsgi://"}) {
      if (target.starts_with(scheme)) {
        tls = scheme == "https://" || scheme == "grpcs://" || scheme == "suwsgi://";
        target.erase(0, scheme.size());
        break;
      }
    }
    if (target.starts_with("unix:")) {
      auto path = target.substr(5);
      if (const auto colon = path.find(':'); colon != std::string::npos) {
        path.erase(colon); // unix:/run/app.sock:/uri
      }
      m_config.upstreams.push_back(UpstreamTarget{"", 0, path, "unix:" + path, directive.where});
      return;
    }
    if (const auto slash = target.find('/'); slash != std::string::npos) {
      target.erase(slash);
    }
    const bool has_port = target.starts_with("[") ? target.find("]:") != std::string::npos
                                                  : target.find(':') != std::string::npos;
    if (!has_port && m_upstream_names.contains(util::to_lower(target))) {
      return; // an upstream{} block: its servers are targets of their own
    }
    const auto parsed = parse_host_and_port(target, tls ? 443 : 80);
    if (!parsed || parsed->host.empty()) {
      skip(directive, "not a host:port");
      return;
    }
    m_config.upstreams.push_back(UpstreamTarget{
      parsed->host, parsed->port, "", format_target(parsed->host, parsed->port), directive.where});
  }

  void
  read_upstream(const Directive& upstream)
  {
    for (const auto& server : upstream.children) {
      if (server.name != "server" || server.args.empty()) {
        continue;
      }
      if (std::find(server.args.begin() + 1, server.args.end(), "down") != server.args.end()) {
        continue; // marked down: not expected to answer
      }
      const auto& address = server.args[0];
      if (address.starts_with("unix:")) {
        m_config.upstreams.push_back(
          UpstreamTarget{"", 0, address.substr(5), address, server.where});
        continue;
      }
      const auto parsed = parse_host_and_port(address, 80);
      if (!parsed || parsed->host.empty()) {
        skip(server, "not a host:port");
        continue;
      }
      m_config.upstreams.push_back(UpstreamTarget{
        parsed->host, parsed->port, "", format_target(parsed->host, parsed->port), server.where});
    }
  }

  void
  skip(const Directive& directive, std::string_view why)
  {
    std::string what = directive.name;
    for (const auto& arg : directive.args) {
      what += " " + arg;
    }
    m_config.skipped.push_back(Skipped{fmt::format("{}: {}", what, why), directive.where});
  }

  std::string m_prefix;
  std::string m_conf_prefix;
  std::map<std::string, bool> m_upstream_names;
  ServerConfig m_config;
};

} // namespace

util::Result<std::vector<DumpedFile>>
split_nginx_dump(std::string_view dump)
{
  std::vector<DumpedFile> files;
  std::size_t pos = 0;
  while (pos < dump.size()) {
    const auto end = dump.find('\n', pos);
    const auto line =
      dump.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    const auto next = end == std::string_view::npos ? dump.size() : end + 1;
    if (line.starts_with(k_file_marker) && line.ends_with(":")
        && line.size() > k_file_marker.size() + 1) {
      if (!files.empty() && files.back().text.ends_with('\n')) {
        files.back().text.pop_back(); // the newline nginx prints after each file
      }
      files.push_back(DumpedFile{
        std::string(line.substr(k_file_marker.size(), line.size() - k_file_marker.size() - 1)),
        {}});
    } else if (files.empty()) {
      return util::make_error(
        util::Errc::protocol,
        "nginx -T output does not start with a \"# configuration file\" line");
    } else {
      files.back().text.append(dump.substr(pos, next - pos));
    }
    pos = next;
  }
  if (files.empty()) {
    return util::make_error(util::Errc::protocol, "nginx -T printed no configuration");
  }
  if (files.back().text.ends_with('\n')) {
    files.back().text.pop_back();
  }
  return files;
}

util::Result<std::vector<Directive>>
parse_nginx_text(std::string_view text, const std::string& file)
{
  Tokenizer tokenizer(text, file);
  std::vector<std::vector<Directive>> stack(1);
  std::vector<Directive> open;
  for (;;) {
    RG_TRY_ASSIGN(auto statement, tokenizer.next());
    switch (statement.kind) {
    case Tokenizer::Kind::end:
      if (!open.empty()) {
        return syntax_error(
          file,
          open.back().where.line,
          fmt::format("\"{}\" block is not closed", util::printable(open.back().name)));
      }
      return std::move(stack.front());
    case Tokenizer::Kind::block_close: {
      if (open.empty()) {
        return syntax_error(file, statement.line == 0 ? 1 : statement.line, "unexpected \"}\"");
      }
      auto block = std::move(open.back());
      open.pop_back();
      block.children = std::move(stack.back());
      stack.pop_back();
      stack.back().push_back(std::move(block));
      break;
    }
    case Tokenizer::Kind::directive:
    case Tokenizer::Kind::block_open: {
      Directive directive;
      directive.name = std::move(statement.words.front());
      directive.args.assign(std::make_move_iterator(statement.words.begin() + 1),
                            std::make_move_iterator(statement.words.end()));
      directive.where = Place{file, statement.line};
      if (statement.kind == Tokenizer::Kind::directive) {
        stack.back().push_back(std::move(directive));
        break;
      }
      directive.block = true;
      if (directive.name.ends_with("_by_lua_block")) {
        RG_TRY(tokenizer.skip_lua_block());
        stack.back().push_back(std::move(directive));
        break;
      }
      if (open.size() >= 64) {
        return syntax_error(file, statement.line, "blocks nested more than 64 deep");
      }
      open.push_back(std::move(directive));
      stack.emplace_back();
      break;
    }
    }
  }
}

util::Result<std::vector<Directive>>
parse_nginx_dump(std::string_view dump)
{
  RG_TRY_ASSIGN(auto files, split_nginx_dump(dump));
  DumpAssembler assembler(std::move(files));
  return assembler.assemble();
}

util::Result<ServerConfig>
read_nginx_config(std::string_view dump, std::string_view prefix)
{
  RG_TRY_ASSIGN(auto files, split_nginx_dump(dump));
  std::vector<std::string> names;
  for (const auto& file : files) {
    names.push_back(file.path);
  }
  auto conf_prefix = std::filesystem::path(files.front().path).parent_path().string();
  DumpAssembler assembler(std::move(files));
  RG_TRY_ASSIGN(const auto tree, assembler.assemble());
  ConfigReader reader(prefix, std::move(conf_prefix));
  auto config = reader.read(tree);
  config.files = std::move(names);
  return config;
}

} // namespace checks::webserver
