#include "haproxy.hpp"

#include "addresses.hpp"

#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <set>

namespace checks::webserver {

namespace {

constexpr std::array<std::string_view, 16> k_sections = {"global",
                                                         "defaults",
                                                         "frontend",
                                                         "backend",
                                                         "listen",
                                                         "resolvers",
                                                         "peers",
                                                         "userlist",
                                                         "mailers",
                                                         "program",
                                                         "http-errors",
                                                         "ring",
                                                         "cache",
                                                         "fcgi-app",
                                                         "log-forward",
                                                         "crt-store"};

// Sample fetches that read the Host header or the SNI; the values compared with them are names
// the frontend routes on.
constexpr std::array<std::string_view, 11> k_host_fetches = {"hdr(host)",
                                                             "req.hdr(host)",
                                                             "hdr_dom(host)",
                                                             "hdr_end(host)",
                                                             "hdr_beg(host)",
                                                             "hdr_str(host)",
                                                             "req.ssl_sni",
                                                             "req_ssl_sni",
                                                             "ssl_fc_sni",
                                                             "ssl_fc_sni_end",
                                                             "hdr_ip(host)"};

struct Address
{
  bool usable = false; // a TCP address or a unix socket readygate can use
  std::string host;    // as written ("" or "*" or "::" for every address)
  std::uint16_t port = 0;
  std::string unix_path;
  std::string why_not; // when not usable
};

// Parse a HAProxy address: "[ipv4@|ipv6@]host:port", "unix@/path", "/path", ":80", ":::80",
// "[::1]:80". The port is the last ':' field; a range ("80-85") counts by its first port.
Address
address_of(std::string_view text)
{
  Address address;
  for (const std::string_view prefix : {"ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"}) {
    if (text.starts_with(prefix)) {
      text.remove_prefix(prefix.size());
    }
  }
  if (text.starts_with("unix@") || text.starts_with("/")) {
    address.usable = true;
    address.unix_path = std::string(text.starts_with("unix@") ? text.substr(5) : text);
    return address;
  }
  if (text.find('@') != std::string_view::npos) {
    address.why_not = "not a TCP address or unix socket";
    return address;
  }
  std::string_view host;
  std::string_view port;
  if (text.starts_with("[")) {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) {
      address.why_not = "no port";
      return address;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      address.why_not = "no port (the client's port is used)";
      return address;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (const auto dash = port.find('-'); dash != std::string_view::npos && dash > 0) {
    port = port.substr(0, dash);
  }
  const auto parsed = parse_host_and_port(fmt::format("[x]:{}", port), 0);
  if (port.empty() || port.front() == '+' || port.front() == '-' || !parsed) {
    address.why_not = "no fixed port";
    return address;
  }
  address.usable = true;
  address.host = std::string(host);
  address.port = parsed->port;
  return address;
}

class HaproxyReader
{
public:
  explicit HaproxyReader(const FileReader& read_file)
      : m_read(read_file)
  {
    m_config.every_server_takes_any_host = true;
  }

  util::Result<ServerConfig>
  read(const std::vector<std::string>& files)
  {
    for (const auto& file : files) {
      RG_TRY_ASSIGN(const auto text, m_read(file));
      RG_TRY(read_file(file, text));
    }
    close_section();
    m_config.files = files;
    return std::move(m_config);
  }

private:
  util::Result<void>
  read_file(const std::string& file, std::string_view text)
  {
    std::size_t number = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
      ++number;
      const auto end = text.find('\n', pos);
      const auto line =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
      pos = end == std::string_view::npos ? text.size() : end + 1;
      const auto words = haproxy_words(line);
      if (words.empty()) {
        continue;
      }
      const Place where{file, number};
      const auto keyword = words.front();
      if (std::find(k_sections.begin(), k_sections.end(), keyword) != k_sections.end()) {
        close_section();
        m_section = keyword;
        if (keyword == "frontend" || keyword == "listen") {
          m_frontend = VirtualServer{};
          m_frontend->syntax = NameSyntax::exact;
          m_frontend->where = where;
        }
        continue;
      }
      if (m_section == "global") {
        if (keyword == "user" && words.size() >= 2) {
          m_config.worker_user = words[1];
        } else if (keyword == "crt-base" && words.size() >= 2) {
          m_crt_base = absolute_path(words[1], directory_of(file));
        } else if (keyword == "issuers-chain-path" && words.size() >= 2) {
          m_issuers_chain = absolute_path(words[1], directory_of(file));
        }
        continue;
      }
      if (m_frontend) {
        if (keyword == "bind" && words.size() >= 2) {
          RG_TRY(read_bind(words, where));
        }
        collect_routed_names(words);
      }
      if ((m_section == "backend" || m_section == "listen") && keyword == "server"
          && words.size() >= 3) {
        read_server(words, where);
      }
    }
    return {};
  }

  static std::string
  directory_of(const std::string& file)
  {
    return std::filesystem::path(file).parent_path().string();
  }

  void
  close_section()
  {
    if (m_frontend) {
      m_config.servers.push_back(std::move(*m_frontend));
      m_frontend.reset();
    }
  }

  util::Result<void>
  read_bind(const std::vector<std::string>& words, const Place& where)
  {
    bool tls = false;
    for (std::size_t i = 2; i < words.size(); ++i) {
      if (words[i] == "ssl") {
        tls = true;
      } else if ((words[i] == "crt" || words[i] == "crt-list") && i + 1 < words.size()) {
        const auto& path = words[++i];
        if (path.find("${") != std::string::npos) {
          skip(fmt::format("{} {}", words[i - 1], path), where, "an environment variable");
          continue;
        }
        const auto base = m_crt_base.empty() ? directory_of(where.file) : m_crt_base;
        if (words[i - 1] == "crt") {
          CertificateUse use;
          use.certificate = absolute_path(path, base);
          use.haproxy_lookup = true;
          use.chain = m_issuers_chain;
          use.where = where;
          m_frontend->certificates.push_back(std::move(use));
        } else {
          RG_TRY(read_crt_list(absolute_path(path, directory_of(where.file))));
        }
      }
    }
    std::string_view addresses = words[1];
    while (!addresses.empty()) {
      const auto comma = addresses.find(',');
      const auto text = addresses.substr(0, comma);
      addresses =
        comma == std::string_view::npos ? std::string_view() : addresses.substr(comma + 1);
      if (text.find("${") != std::string_view::npos) {
        skip(fmt::format("bind {}", text), where, "an environment variable");
        continue;
      }
      const auto address = address_of(text);
      if (!address.usable) {
        skip(fmt::format("bind {}", text), where, address.why_not);
        continue;
      }
      Listener listener;
      listener.where = where;
      listener.tls = tls;
      listener.unix_path = address.unix_path;
      if (address.unix_path.empty()) {
        const auto parsed = parse_listen_address(format_target(address.host, address.port), 0);
        listener.host = parsed.host;
        listener.ipv6_any = parsed.ipv6_any;
        listener.port = address.port;
        if (address.host.empty() || address.host == "*") {
          listener.host.clear();
        }
      }
      m_frontend->listeners.push_back(std::move(listener));
    }
    return {};
  }

  util::Result<void>
  read_crt_list(const std::string& list)
  {
    RG_TRY_ASSIGN(const auto text, m_read(list));
    std::size_t number = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
      ++number;
      const auto end = text.find('\n', pos);
      const auto line = std::string_view(text).substr(
        pos, end == std::string::npos ? std::string_view::npos : end - pos);
      pos = end == std::string::npos ? text.size() : end + 1;
      const auto words = haproxy_words(line);
      if (words.empty()) {
        continue;
      }
      CertificateUse use;
      use.certificate =
        absolute_path(words[0], m_crt_base.empty() ? directory_of(list) : m_crt_base);
      use.haproxy_lookup = true;
      use.chain = m_issuers_chain;
      use.where = Place{list, number};
      std::size_t i = 1;
      if (i < words.size() && words[i].starts_with("[")) {
        while (i < words.size() && !words[i].ends_with("]")) {
          ++i;
        }
        ++i;
      }
      for (; i < words.size(); ++i) {
        if (!words[i].starts_with("!")) {
          use.names.push_back(words[i]);
        }
      }
      m_frontend->certificates.push_back(std::move(use));
    }
    return {};
  }

  void
  collect_routed_names(const std::vector<std::string>& words)
  {
    for (std::size_t i = 0; i < words.size(); ++i) {
      const auto lowered = util::to_lower(words[i]);
      const bool host_fetch =
        std::any_of(k_host_fetches.begin(), k_host_fetches.end(), [&](std::string_view fetch) {
          return lowered == fetch || lowered.starts_with(std::string(fetch) + ",");
        });
      if (!host_fetch) {
        continue;
      }
      for (++i; i < words.size(); ++i) {
        const auto& value = words[i];
        if (value == "-m" || value == "-f" || value == "-M") {
          ++i; // a flag with an argument (a match method, a file of values)
          continue;
        }
        if (value.starts_with("-")) {
          continue;
        }
        if (value == "}" || value == "or" || value == "||" || value == "!" || value == "{"
            || value == "if" || value == "unless") {
          break;
        }
        auto name = value;
        if (const auto colon = name.rfind(':');
            colon != std::string::npos
            && std::all_of(
              name.begin() + static_cast<std::ptrdiff_t>(colon) + 1, name.end(), [](char c) {
                return std::isdigit(static_cast<unsigned char>(c)) != 0;
              })) {
          name.erase(colon); // "www.example.com:443"
        }
        if (std::find(m_frontend->names.begin(), m_frontend->names.end(), name)
            == m_frontend->names.end()) {
          m_frontend->names.push_back(name);
        }
      }
    }
  }

  void
  read_server(const std::vector<std::string>& words, const Place& where)
  {
    if (std::find(words.begin() + 3, words.end(), "disabled") != words.end()) {
      return;
    }
    const auto& text = words[2];
    if (text.find("${") != std::string::npos) {
      skip(fmt::format("server {} {}", words[1], text), where, "an environment variable");
      return;
    }
    const auto address = address_of(text);
    if (!address.usable) {
      skip(fmt::format("server {} {}", words[1], text), where, address.why_not);
      return;
    }
    if (!address.unix_path.empty()) {
      m_config.upstreams.push_back(
        UpstreamTarget{"", 0, address.unix_path, "unix@" + address.unix_path, where});
      return;
    }
    if (address.host.empty() || address.host == "*") {
      skip(fmt::format("server {} {}", words[1], text), where, "no host");
      return;
    }
    m_config.upstreams.push_back(UpstreamTarget{
      address.host, address.port, "", format_target(address.host, address.port), where});
  }

  void
  skip(std::string what, const Place& where, std::string_view why)
  {
    m_config.skipped.push_back(Skipped{fmt::format("{}: {}", what, why), where});
  }

  const FileReader& m_read;
  ServerConfig m_config;
  std::string m_section;
  std::optional<VirtualServer> m_frontend;
  std::string m_crt_base;
  std::string m_issuers_chain; // issuers-chain-path: where HAProxy finds missing intermediates
};

} // namespace

std::vector<std::string>
haproxy_words(std::string_view line)
{
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote == '\'') {
      if (c == '\'') {
        quote = 0;
      } else {
        word.push_back(c);
      }
      continue;
    }
    if (c == '\\' && i + 1 < line.size()) {
      const char next = line[++i];
      in_word = true;
      if (next == 'x' && i + 2 < line.size() && util::hex_digit(line[i + 1]) >= 0
          && util::hex_digit(line[i + 2]) >= 0) {
        word.push_back(
          static_cast<char>(util::hex_digit(line[i + 1]) * 16 + util::hex_digit(line[i + 2])));
        i += 2;
      } else {
        word.push_back(next == 'n' ? '\n' : next == 'r' ? '\r' : next == 't' ? '\t' : next);
      }
      continue;
    }
    if (quote == '"') {
      if (c == '"') {
        quote = 0;
      } else {
        word.push_back(c);
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
      in_word = true;
      continue;
    }
    if (c == '#') {
      break;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      if (in_word) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
      continue;
    }
    word.push_back(c);
    in_word = true;
  }
  if (in_word) {
    words.push_back(std::move(word));
  }
  return words;
}

util::Result<ServerConfig>
read_haproxy_config(const std::vector<std::string>& files, const FileReader& read_file)
{
  HaproxyReader reader(read_file);
  return reader.read(files);
}

} // namespace checks::webserver
