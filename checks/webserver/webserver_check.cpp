#include "webserver_check.hpp"

#include "addresses.hpp"
#include "servers.hpp"

#include <checks/common.hpp>
#include <config/fields.hpp>
#include <hook/util/file.hpp>
#include <hook/util/tcp.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <map>
#include <set>
#include <tuple>

namespace checks {

namespace {

using config::KeySpec;
using config::KeyType;
using namespace webserver;

// clang-format off
constexpr std::array k_webserver_keys = {
  KeySpec{"server",               KeyType::string,   true,  "",            false, "nginx, apache or haproxy"},
  KeySpec{"binary",               KeyType::string,   false, "per server",  false, "the server's program: a path, or a name looked up in PATH"},
  KeySpec{"config",               KeyType::path,     false, "the server's own", false, "the main configuration file (nginx -c, apachectl -f, haproxy -f: a file or a directory)"},
  KeySpec{"prefix",               KeyType::path,     false, "",            false, "nginx's -p prefix; Apache's ServerRoot (-d, or APACHE_CONFDIR for apache2ctl)"},
  KeySpec{"cert_min_days",        KeyType::integer,  false, "14",          false, "days every certificate must stay valid"},
  KeySpec{"ca_file",              KeyType::path,     false, "system store", false, "PEM bundle of the trust anchors every certificate's chain must reach"},
  KeySpec{"require_server_names", KeyType::strings,  false, "",            false, "host names some virtual server must serve"},
  KeySpec{"forbid_default_site",  KeyType::boolean,  false, "false",       false, "fail when the distribution's default site is enabled (nginx, apache)"},
  KeySpec{"check_upstreams",      KeyType::boolean,  false, "true",        false, "connect to every upstream on this host"},
  KeySpec{"output_limit",         KeyType::integer,  false, "4194304",     false, "bytes kept of the test's output; a longer dump is an error"},
  KeySpec{"probe",                KeyType::tables,   false, "",            false, "[[check.probe]]: path, host, port, tls, status, body_contains, body_matches, expect_headers, tls_verify, ca_file, body_limit"},
};

constexpr std::array k_probe_keys = {
  KeySpec{"path",           KeyType::string,       false, "\"/\"",      false, "the request's path (and query)"},
  KeySpec{"host",           KeyType::string,       false, "the address", false, "Host header and SNI; picks the virtual server"},
  KeySpec{"port",           KeyType::integer,      false, "chosen",     false, "the listener's port"},
  KeySpec{"tls",            KeyType::boolean,      false, "chosen",     false, "https (true) or http (false)"},
  KeySpec{"status",         KeyType::integers,     false, "200",        false, "expected status, or a list of them"},
  KeySpec{"body_contains",  KeyType::strings,      false, "",           false, "strings the body must contain"},
  KeySpec{"body_matches",   KeyType::strings,      false, "",           false, "patterns (Perl syntax) the whole body must match"},
  KeySpec{"expect_headers", KeyType::string_table, false, "",           false, "response headers and their exact values"},
  KeySpec{"tls_verify",     KeyType::boolean,      false, "true",       false, "verify the server's certificate"},
  KeySpec{"ca_file",        KeyType::path,         false, "system CAs", false, "PEM bundle to verify the server with"},
  KeySpec{"body_limit",     KeyType::integer,      false, "1048576",    false, "bytes of the body kept and judged"},
};
// clang-format on

// The most readygate reads of a server's configuration files, each and in all.
constexpr std::size_t k_config_file_limit = 4 * 1024 * 1024;
constexpr std::size_t k_config_total_limit = 64 * 1024 * 1024;
constexpr std::int64_t k_max_output_limit = 64 * 1024 * 1024;
constexpr std::size_t k_max_findings = 50;

bool
is_token(std::string_view text)
{
  constexpr std::string_view k_extra = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0
           || k_extra.find(c) != std::string_view::npos;
  });
}

bool
is_ipv6(const std::string& text)
{
  unsigned char bytes[16];
  return inet_pton(AF_INET6, text.c_str(), bytes) == 1;
}

bool
is_host_name(const std::string& text)
{
  return !text.empty() && text.size() <= 253
         && (is_ipv6(text) || std::all_of(text.begin(), text.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-'
                      || c == '_';
             }));
}

bool
is_url_path(const std::string& text)
{
  return text.starts_with("/") && std::all_of(text.begin(), text.end(), [](char c) {
           return c > ' ' && c != 0x7f && c != '#';
         });
}

util::Result<Probe>
parse_probe(const config::CheckSpec& check_spec, const toml::node& node, std::size_t index)
{
  const auto prefix = fmt::format("probe[{}]", index);
  config::CheckSpec sub;
  sub.id = check_spec.id;
  sub.kind = "webserver probe";
  sub.origin = check_spec.origin;
  sub.base_directory = check_spec.base_directory;
  sub.where = check_spec.where;
  if (const auto found = check_spec.param_sources.find(prefix);
      found != check_spec.param_sources.end()) {
    sub.where = config::position_of(found->second, check_spec.origin);
  }
  sub.params = *node.as_table();
  for (const auto& [key, source] : check_spec.param_sources) {
    if (key.starts_with(prefix + ".")) {
      sub.param_sources.emplace(key.substr(prefix.size() + 1), source);
    }
  }
  config::FieldReader reader(sub, k_probe_keys);
  RG_TRY(reader.check_keys());
  Probe probe;
  probe.where = sub.where;
  RG_TRY_ASSIGN(const auto path, reader.optional_string("path"));
  if (path) {
    if (!is_url_path(*path)) {
      return reader.error_at("path",
                             "expected a path starting with \"/\", without spaces, "
                             "control characters or '#'");
    }
    probe.path = *path;
  }
  RG_TRY_ASSIGN(probe.host, reader.optional_string("host"));
  if (probe.host && !is_host_name(*probe.host)) {
    return reader.error_at("host",
                           fmt::format("\"{}\" is not a host name (no port, no brackets)",
                                       util::printable(*probe.host)));
  }
  RG_TRY_ASSIGN(const auto port, reader.optional_integer("port", 1, 65535));
  if (port) {
    probe.port = static_cast<std::uint16_t>(*port);
  }
  RG_TRY_ASSIGN(probe.tls, reader.optional_bool("tls"));
  RG_TRY_ASSIGN(const auto statuses, reader.integer_or_array("status", 100, 599));
  if (!statuses.empty()) {
    probe.statuses.assign(statuses.begin(), statuses.end());
  }
  RG_TRY_ASSIGN(probe.body_expectations,
                read_expectations(reader, "body_contains", "body_matches"));
  RG_TRY_ASSIGN(probe.expect_headers, reader.string_table("expect_headers"));
  for (auto& [name, value] : probe.expect_headers) {
    if (!is_token(name)) {
      return reader.error_at("expect_headers",
                             fmt::format("\"{}\" is not a header name", util::printable(name)));
    }
    name = util::to_lower(name);
  }
  RG_TRY_ASSIGN(const auto verify, reader.optional_bool("tls_verify"));
  probe.tls_verify = verify.value_or(true) ? util::TlsVerify::yes : util::TlsVerify::no;
  RG_TRY_ASSIGN(const auto ca_file, reader.optional_path("ca_file"));
  if (ca_file) {
    probe.ca_file = ca_file->string();
  }
  RG_TRY_ASSIGN(const auto body_limit,
                reader.optional_integer("body_limit", 1, std::int64_t{1} << 30));
  if (body_limit) {
    probe.body_limit = static_cast<std::size_t>(*body_limit);
  }
  return probe;
}

// --- Observing ---

std::string
plural(std::size_t count, std::string_view one, std::string_view many)
{
  return fmt::format("{} {}", count, count == 1 ? one : many);
}

// The names a certificate of `server` must cover: its literal names (regular expressions,
// nginx's "_" and trailing wildcards name no certificate name).
std::vector<std::string>
certificate_names_of(const VirtualServer& server)
{
  std::vector<std::string> names;
  const auto add = [&](std::string name) {
    name = util::to_lower(name);
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(std::move(name));
    }
  };
  for (const auto& name : server.names) {
    if (name.empty() || name == "_" || name.starts_with("~") || name.ends_with(".*")
        || name.find('?') != std::string::npos
        || (name.find('*') != std::string::npos && !name.starts_with("*."))
        || name.find('*', 1) != std::string::npos) {
      continue;
    }
    if (server.syntax == NameSyntax::nginx && name.starts_with(".")) {
      add(name.substr(1));
      add("*" + name);
      continue;
    }
    add(name);
  }
  return names;
}

std::string
names_of(const util::CertificateInfo& certificate)
{
  std::vector<std::string> names = certificate.dns_names;
  names.insert(names.end(), certificate.ip_addresses.begin(), certificate.ip_addresses.end());
  if (names.empty()) {
    names.push_back(fmt::format("CN={}", certificate.common_name));
  }
  if (names.size() > 8) {
    const auto more = names.size() - 8;
    names.resize(8);
    names.push_back(fmt::format("and {} more", more));
  }
  return util::printable(fmt::format("{}", fmt::join(names, ", ")));
}

std::string
date_of(std::chrono::system_clock::time_point when)
{
  const auto seconds = std::chrono::system_clock::to_time_t(when);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &parts);
  return text;
}

bool
refused(const util::Error& error)
{
  return error.code == util::Errc::network
         && (error.message.ends_with(": connection refused")
             || error.message.ends_with(": no such socket")
             || error.message.ends_with(": not a socket"));
}

std::string
connect_host_of(const Listener& listener)
{
  if (listener.host.empty()) {
    return listener.ipv6_any ? "::1" : "127.0.0.1";
  }
  return listener.host;
}

std::string
url_host(const std::string& host)
{
  return host.find(':') != std::string::npos ? fmt::format("[{}]", host) : host;
}

class Observer
{
public:
  Observer(const WebserverSpec& spec, const hook::CheckContext& ctx)
      : m_spec(spec),
        m_ctx(ctx),
        m_host(ctx.probes.get<WebserverHost>())
  {}

  util::Result<WebserverObservation>
  observe(ServerConfig config)
  {
    WebserverObservation observation;
    observation.now = std::chrono::system_clock::now();
    std::vector<std::string> paths;
    for (const auto& path : config.paths) {
      paths.push_back(path.path);
    }
    RG_TRY_ASSIGN(observation.paths,
                  m_host->inspect(paths, config.worker_user, m_ctx.deadline, m_ctx.stop));
    RG_TRY_ASSIGN(observation.certificates, certificates_of(config));
    verify_chains(observation.certificates, observation.now);
    if (m_spec.check_upstreams) {
      connect_upstreams(config, observation);
    }
    for (std::size_t i = 0; i < m_spec.probes.size(); ++i) {
      observation.probes.push_back(send_probe(config, i));
    }
    observation.config = std::move(config);
    return observation;
  }

private:
  util::Result<PathState>
  state_of(const std::string& path)
  {
    RG_TRY_ASSIGN(auto states, m_host->inspect({path}, std::nullopt, m_ctx.deadline, m_ctx.stop));
    return states.front();
  }

  util::Result<std::vector<WebserverObservation::Certificate>>
  certificates_of(const ServerConfig& config)
  {
    // Each certificate (and key) once, with every name it must cover.
    std::vector<WebserverObservation::Certificate> certificates;
    std::map<std::tuple<std::string, std::string, std::string>, std::size_t> index;
    for (std::size_t s = 0; s < config.servers.size(); ++s) {
      const auto& server = config.servers[s];
      // HAProxy picks a certificate by SNI among those of a bind: each need not cover every
      // name the frontend routes on (judge_frontend_names asks that some does).
      const auto server_names = config.every_server_takes_any_host ? std::vector<std::string>()
                                                                   : certificate_names_of(server);
      for (const auto& use : server.certificates) {
        RG_TRY_ASSIGN(const auto expanded, expand(use));
        for (const auto& one : expanded) {
          const auto key = std::make_tuple(one.certificate, one.key, one.chain);
          auto [found, added] = index.emplace(key, certificates.size());
          if (added) {
            WebserverObservation::Certificate certificate;
            certificate.use = one;
            certificates.push_back(std::move(certificate));
          }
          auto& servers = certificates[found->second].servers;
          if (std::find(servers.begin(), servers.end(), s) == servers.end()) {
            servers.push_back(s);
          }
          auto& names = certificates[found->second].names;
          for (const auto& name : one.names.empty() ? server_names : one.names) {
            if (std::find(names.begin(), names.end(), name) == names.end()) {
              names.push_back(name);
            }
          }
        }
      }
    }
    for (auto& certificate : certificates) {
      RG_TRY(read_certificate(certificate));
    }
    return certificates;
  }

  // Verify, in one pass over the trust anchors, the chain of every certificate whose files were
  // all read: the file's certificates, then the chain's.
  void
  verify_chains(std::vector<WebserverObservation::Certificate>& certificates,
                std::chrono::system_clock::time_point now)
  {
    std::vector<std::vector<util::CertificateInfo>> chains;
    std::vector<std::size_t> verified;
    for (std::size_t i = 0; i < certificates.size(); ++i) {
      const auto& certificate = certificates[i];
      if (!certificate.contents || !*certificate.contents
          || (*certificate.contents)->certificates.empty()) {
        continue;
      }
      auto chain = (*certificate.contents)->certificates;
      bool all_read = true;
      for (const auto& [path, contents] : certificate.chain_files) {
        if (!contents) {
          all_read = false;
          break;
        }
        chain.insert(chain.end(), contents->certificates.begin(), contents->certificates.end());
      }
      if (!all_read
          || (certificate.chain_state && certificate.chain_state->kind != PathState::Kind::file
              && certificate.chain_state->kind != PathState::Kind::directory)) {
        continue; // a finding of its own
      }
      chains.push_back(std::move(chain));
      verified.push_back(i);
    }
    if (chains.empty()) {
      return;
    }
    const auto reader = m_ctx.probes.get<util::X509Reader>();
    auto results = reader->verify_chains(chains, m_spec.ca_file, now, m_ctx.deadline, m_ctx.stop);
    for (std::size_t j = 0; j < verified.size(); ++j) {
      auto& certificate = certificates[verified[j]];
      if (!results) {
        certificate.verification = results.error();
      } else if (j < results->size()) {
        certificate.verification = (*results)[j];
      } else {
        certificate.verification =
          util::make_error(util::Errc::internal, "the chain's verification is missing");
      }
    }
  }

  // A HAProxy `crt` naming a directory stands for every certificate file in it.
  util::Result<std::vector<CertificateUse>>
  expand(const CertificateUse& use)
  {
    if (!use.haproxy_lookup) {
      return std::vector<CertificateUse>{use};
    }
    RG_TRY_ASSIGN(const auto state, state_of(use.certificate));
    if (state.kind != PathState::Kind::directory) {
      return std::vector<CertificateUse>{use};
    }
    RG_TRY_ASSIGN(const auto files,
                  m_host->list_directory(use.certificate, "", m_ctx.deadline, m_ctx.stop));
    std::vector<CertificateUse> uses;
    for (const auto& file : files) {
      if (file.ends_with(".key") || file.ends_with(".ocsp") || file.ends_with(".issuer")
          || file.ends_with(".sctl")) {
        continue; // HAProxy loads these beside the certificate, not as certificates
      }
      auto one = use;
      one.certificate = file;
      uses.push_back(std::move(one));
    }
    return uses;
  }

  util::Result<void>
  read_certificate(WebserverObservation::Certificate& certificate)
  {
    const auto reader = m_ctx.probes.get<util::X509Reader>();
    RG_TRY_ASSIGN(certificate.state, state_of(certificate.use.certificate));
    if (certificate.state.kind == PathState::Kind::file) {
      certificate.contents = reader->read(certificate.use.certificate, m_ctx.deadline, m_ctx.stop);
    }
    certificate.key_path = certificate.use.key;
    if (certificate.key_path.empty() && certificate.use.haproxy_lookup && certificate.contents
        && *certificate.contents && !(*certificate.contents)->has_private_key) {
      certificate.key_path = certificate.use.certificate + ".key";
    }
    if (!certificate.key_path.empty()) {
      RG_TRY_ASSIGN(certificate.key_state, state_of(certificate.key_path));
      if (certificate.key_state->kind == PathState::Kind::file) {
        certificate.key = reader->read(certificate.key_path, m_ctx.deadline, m_ctx.stop);
      }
    }
    const auto& chain = certificate.use.chain;
    if (!chain.empty()) {
      RG_TRY_ASSIGN(certificate.chain_state, state_of(chain));
      std::vector<std::string> files;
      if (certificate.chain_state->kind == PathState::Kind::file) {
        files.push_back(chain);
      } else if (certificate.chain_state->kind == PathState::Kind::directory) {
        RG_TRY_ASSIGN(files, m_host->list_directory(chain, "", m_ctx.deadline, m_ctx.stop));
      }
      for (const auto& file : files) {
        certificate.chain_files.emplace_back(file, reader->read(file, m_ctx.deadline, m_ctx.stop));
      }
    }
    return {};
  }

  void
  connect_upstreams(const ServerConfig& config, WebserverObservation& observation)
  {
    const auto local = m_host->local_addresses();
    const auto tcp = m_ctx.probes.get<util::TcpConnector>();
    std::set<std::string> seen;
    for (const auto& target : config.upstreams) {
      if (!seen.insert(target.shown).second) {
        continue;
      }
      if (!target.unix_path.empty()) {
        observation.connections.push_back(
          {target, m_host->connect_unix(target.unix_path, m_ctx.time_left(), m_ctx.stop)});
      } else if (is_on_this_host(target.host, local)) {
        observation.connections.push_back(
          {target, tcp->connect(target.host, target.port, m_ctx.time_left(), m_ctx.stop)});
      } else {
        ++observation.upstreams_elsewhere;
      }
    }
  }

  WebserverObservation::ProbeOutcome
  send_probe(const ServerConfig& config, std::size_t index)
  {
    const auto& probe = m_spec.probes[index];
    WebserverObservation::ProbeOutcome outcome;
    outcome.probe = index;
    auto target = choose_probe_target(config, probe);
    if (!target) {
      outcome.no_target = target.error().message;
      return outcome;
    }
    util::HttpRequest request;
    request.url = target->url;
    request.connect_to = target->connect_to;
    request.unix_socket = target->unix_socket;
    request.timeout = m_ctx.time_left();
    request.tls_verify = probe.tls_verify;
    request.ca_file = probe.ca_file;
    request.body_limit = probe.body_limit;
    request.stop = m_ctx.stop;
    outcome.response = m_ctx.probes.get<util::HttpClient>()->perform(request);
    outcome.target = std::move(*target);
    return outcome;
  }

  const WebserverSpec& m_spec;
  const hook::CheckContext& m_ctx;
  std::shared_ptr<WebserverHost> m_host;
};

// --- Judging ---

void
undetermined(hook::Judgement& judgement, hook::Finding finding, std::string summary)
{
  judgement.undetermined.push_back({std::move(finding), std::move(summary)});
}

std::string
state_text(const PathState& state)
{
  switch (state.kind) {
  case PathState::Kind::directory:
    return "a directory";
  case PathState::Kind::file:
    return "a file";
  case PathState::Kind::other:
    return state.detail;
  case PathState::Kind::missing:
    return fmt::format("missing ({})", state.detail);
  case PathState::Kind::unreadable:
    return fmt::format("could not look: {}", state.detail);
  }
  return state.detail;
}

void
judge_paths(const WebserverObservation& observation, hook::Judgement& judgement)
{
  const auto& paths = observation.config.paths;
  for (std::size_t i = 0; i < paths.size() && i < observation.paths.size(); ++i) {
    const auto& path = paths[i];
    const auto& state = observation.paths[i];
    const auto subject = path.where.text();
    const auto what = fmt::format("{} {}", path.directive, util::printable(path.path));
    const auto expected = fmt::format(
      "{}: {}", what, path.file_allowed ? "a readable directory or file" : "a readable directory");
    const bool right_type = state.kind == PathState::Kind::directory
                            || (path.file_allowed && state.kind == PathState::Kind::file);
    if (state.kind == PathState::Kind::unreadable) {
      undetermined(judgement,
                   {subject, expected, state_text(state)},
                   fmt::format("{}: could not look ({})", what, util::printable(state.detail)));
    } else if (!right_type) {
      const auto found = util::printable(state_text(state));
      judgement.add_unmet({subject, expected, found},
                          state.kind == PathState::Kind::missing
                            ? fmt::format("{} does not exist ({})", what, subject)
                            : fmt::format("{} is {}, not a directory ({})", what, found, subject));
    } else if (!state.worker_denied.empty()) {
      const auto found = util::printable(state.worker_denied);
      judgement.add_unmet({subject, expected, found},
                          fmt::format("{}: {} ({})", what, found, subject));
    }
  }
}

// Judge one PEM file's read: nullopt when it was read, else what went wrong, recorded.
const util::PemContents*
judged_read(const std::string& role,
            const std::string& path,
            const PathState& state,
            const std::optional<util::Result<util::PemContents>>& contents,
            const std::string& subject,
            hook::Judgement& judgement)
{
  const auto expected = fmt::format("{} {}: a readable PEM file", role, util::printable(path));
  if (state.kind == PathState::Kind::unreadable) {
    undetermined(
      judgement,
      {subject, expected, state_text(state)},
      fmt::format(
        "{} {}: could not look ({})", role, util::printable(path), util::printable(state.detail)));
    return nullptr;
  }
  if (state.kind != PathState::Kind::file) {
    const auto found = util::printable(state_text(state));
    judgement.add_unmet(
      {subject, expected, found},
      state.kind == PathState::Kind::missing
        ? fmt::format("{} {} does not exist ({})", role, util::printable(path), subject)
        : fmt::format("{} {} is {} ({})", role, util::printable(path), found, subject));
    return nullptr;
  }
  if (!contents || !*contents) {
    const auto& error =
      contents ? contents->error() : util::make_error(util::Errc::internal, "not read");
    const auto found = util::printable(error.message);
    if (error.code == util::Errc::protocol || error.code == util::Errc::io) {
      judgement.add_unmet({subject, expected, found}, fmt::format("{} ({})", found, subject));
    } else {
      undetermined(judgement, {subject, expected, found}, fmt::format("{} ({})", found, subject));
    }
    return nullptr;
  }
  return &**contents;
}

// Judge the reads of the chain `certificate.use.chain` names, and add the certificates read to
// `sent`.
void
judge_chain_files(const WebserverObservation::Certificate& certificate,
                  const std::string& subject,
                  std::vector<std::pair<const util::CertificateInfo*, std::string>>& sent,
                  hook::Judgement& judgement)
{
  if (!certificate.chain_state) {
    return;
  }
  const auto& chain = certificate.use.chain;
  if (certificate.chain_state->kind != PathState::Kind::directory) {
    const std::optional<util::Result<util::PemContents>> none;
    judged_read("chain",
                chain,
                *certificate.chain_state,
                certificate.chain_files.empty()
                  ? none
                  : std::optional(certificate.chain_files.front().second),
                subject,
                judgement);
  }
  const PathState file{PathState::Kind::file, "", ""};
  for (const auto& [path, contents] : certificate.chain_files) {
    const std::optional<util::Result<util::PemContents>> read(contents);
    const auto* pem = certificate.chain_state->kind == PathState::Kind::directory
                        ? judged_read("chain", path, file, read, subject, judgement)
                        : (contents ? &*contents : nullptr);
    if (pem == nullptr) {
      continue;
    }
    for (std::size_t i = 0; i < pem->certificates.size(); ++i) {
      const auto& one = pem->certificates[i];
      sent.emplace_back(&one,
                        fmt::format("chain certificate {} (#{} in the file, {})",
                                    util::printable(path),
                                    i + 1,
                                    util::printable(one.subject)));
    }
  }
}

// Judge the verification of `certificate`'s chain up to a trust anchor. The dates of the
// certificates the server sends were judged already (with cert_min_days): here only those of the
// trust anchors count.
void
judge_chain(const WebserverSpec& spec,
            const WebserverObservation::Certificate& certificate,
            const std::string& shown,
            const std::string& subject,
            hook::Judgement& judgement)
{
  if (!certificate.verification) {
    return;
  }
  const auto anchors = spec.ca_file
                         ? fmt::format("ca_file {}", util::printable(spec.ca_file->string()))
                         : std::string("the system store");
  const auto expected =
    fmt::format("certificate {}: a chain to a trust anchor of {}", shown, anchors);
  const auto& verification = *certificate.verification;
  if (!verification) {
    const auto found = util::printable(verification.error().message);
    undetermined(
      judgement,
      {subject, expected, found},
      fmt::format(
        "certificate {}: its chain could not be verified: {} ({})", shown, found, subject));
    return;
  }
  for (const auto& problem : verification->problems) {
    const auto who = util::printable(problem.subject);
    const auto from = problem.offered ? std::string() : std::string(", a trust anchor");
    std::string found;
    switch (problem.kind) {
    case util::ChainProblemKind::missing_issuer:
      found = fmt::format("no certificate of its issuer {} (the issuer of {}) in the files or "
                          "among the trust anchors",
                          util::printable(problem.issuer),
                          who);
      break;
    case util::ChainProblemKind::untrusted_root:
      found = fmt::format("it ends at {}, self-signed and not a trust anchor", who);
      break;
    case util::ChainProblemKind::expired:
      if (problem.offered) {
        continue; // its dates are a finding already
      }
      found = fmt::format("{}{} expired on {}", who, from, date_of(problem.not_after));
      break;
    case util::ChainProblemKind::not_yet_valid:
      if (problem.offered) {
        continue;
      }
      found = fmt::format("{}{} is not valid before {}", who, from, date_of(problem.not_before));
      break;
    case util::ChainProblemKind::other:
      found = fmt::format("{}{}: {}", who, from, util::printable(problem.reason));
      break;
    }
    judgement.add_unmet(
      {subject, expected, found},
      fmt::format(
        "certificate {}: its chain does not reach a trust anchor: {} ({})", shown, found, subject));
  }
}

void
judge_certificates(const WebserverSpec& spec,
                   const WebserverObservation& observation,
                   hook::Judgement& judgement,
                   std::vector<std::string>& notes)
{
  const auto margin = std::chrono::hours(24) * spec.cert_min_days;
  for (const auto& certificate : observation.certificates) {
    const auto& path = certificate.use.certificate;
    const auto shown = util::printable(path);
    const auto subject = certificate.use.where.text();
    const auto* contents =
      judged_read("certificate", path, certificate.state, certificate.contents, subject, judgement);
    if (contents == nullptr) {
      continue;
    }
    if (contents->certificates.empty()) {
      judgement.add_unmet(
        {subject, fmt::format("certificate {}: a certificate", shown), "no CERTIFICATE block"},
        fmt::format("certificate {} holds no certificate ({})", shown, subject));
      continue;
    }
    // Every certificate sent: the file's (the server's own first), then the chain's.
    std::vector<std::pair<const util::CertificateInfo*, std::string>> sent;
    for (std::size_t i = 0; i < contents->certificates.size(); ++i) {
      const auto& one = contents->certificates[i];
      sent.emplace_back(&one,
                        i == 0 ? fmt::format("certificate {}", shown)
                               : fmt::format("certificate {} (#{} in the file, {})",
                                             shown,
                                             i + 1,
                                             util::printable(one.subject)));
    }
    judge_chain_files(certificate, subject, sent, judgement);
    for (const auto& [sent_one, which] : sent) {
      const auto& one = *sent_one;
      const auto expected = fmt::format("{}: valid for {} days or more", which, spec.cert_min_days);
      const auto days_left =
        std::chrono::duration_cast<std::chrono::hours>(one.not_after - observation.now).count()
        / 24;
      if (one.not_after <= observation.now) {
        const auto found = fmt::format("expired on {}", date_of(one.not_after));
        judgement.add_unmet({subject, expected, found},
                            fmt::format("{} {} ({})", which, found, subject));
      } else if (one.not_after < observation.now + margin) {
        const auto found =
          fmt::format("expires on {}, in {} days", date_of(one.not_after), days_left);
        judgement.add_unmet({subject, expected, found},
                            fmt::format("{} {} ({})", which, found, subject));
      }
      if (one.not_before > observation.now) {
        const auto found = fmt::format("not valid before {}", date_of(one.not_before));
        judgement.add_unmet({subject, fmt::format("{}: valid now", which), found},
                            fmt::format("{} is {} ({})", which, found, subject));
      }
    }
    judge_chain(spec, certificate, shown, subject, judgement);
    const auto& leaf = contents->certificates.front();
    for (const auto& name : certificate.names) {
      if (!util::certificate_covers(leaf, name)) {
        const auto found = fmt::format("it names {}", names_of(leaf));
        judgement.add_unmet(
          {subject, fmt::format("certificate {}: covers {}", shown, util::printable(name)), found},
          fmt::format(
            "certificate {} does not cover {} ({})", shown, util::printable(name), subject));
      }
    }
    // The key: in its own file, or in the certificate's.
    const util::PemContents* key = contents;
    std::string key_shown = shown;
    if (!certificate.key_path.empty()) {
      key_shown = util::printable(certificate.key_path);
      key =
        certificate.key_state ? judged_read(
          "key", certificate.key_path, *certificate.key_state, certificate.key, subject, judgement)
                              : nullptr;
      if (key == nullptr) {
        continue;
      }
    }
    const auto expected =
      fmt::format("key {}: the private key of certificate {}", key_shown, shown);
    if (!key->has_private_key) {
      judgement.add_unmet(
        {subject, expected, "no PRIVATE KEY block"},
        fmt::format("no private key for certificate {} in {} ({})", shown, key_shown, subject));
    } else if (key->private_key_encrypted) {
      notes.push_back(
        fmt::format("key {} is encrypted: not matched with its certificate", key_shown));
    } else if (key->private_key_public_sha256 != leaf.public_key_sha256) {
      judgement.add_unmet(
        {subject, expected, "the key of another certificate"},
        fmt::format("key {} does not belong to certificate {} ({})", key_shown, shown, subject));
    }
  }
}

// HAProxy: each name a TLS frontend routes on is covered by one of its certificates, or clients
// of that name get the default one.
void
judge_frontend_names(const WebserverObservation& observation, hook::Judgement& judgement)
{
  const auto& config = observation.config;
  if (!config.every_server_takes_any_host) {
    return;
  }
  for (std::size_t s = 0; s < config.servers.size(); ++s) {
    const auto& server = config.servers[s];
    const bool tls = std::any_of(server.listeners.begin(),
                                 server.listeners.end(),
                                 [](const Listener& listener) { return listener.tls; });
    if (!tls) {
      continue;
    }
    std::vector<const util::CertificateInfo*> leaves;
    std::vector<std::string> files;
    bool all_read = true;
    for (const auto& certificate : observation.certificates) {
      if (std::find(certificate.servers.begin(), certificate.servers.end(), s)
          == certificate.servers.end()) {
        continue;
      }
      files.push_back(util::printable(certificate.use.certificate));
      if (certificate.contents && *certificate.contents
          && !(*certificate.contents)->certificates.empty()) {
        leaves.push_back(&(*certificate.contents)->certificates.front());
      } else {
        all_read = false; // already a finding of its own
      }
    }
    if (!all_read) {
      continue;
    }
    for (const auto& name : certificate_names_of(server)) {
      const bool covered =
        std::any_of(leaves.begin(), leaves.end(), [&](const util::CertificateInfo* leaf) {
          return util::certificate_covers(*leaf, name);
        });
      if (!covered) {
        const auto found = files.empty() ? std::string("no certificate")
                                         : fmt::format("none of {} does", fmt::join(files, ", "));
        judgement.add_unmet({server.where.text(),
                             fmt::format("a certificate that covers {}", util::printable(name)),
                             found},
                            fmt::format("no certificate covers {}, a name it routes on ({})",
                                        util::printable(name),
                                        server.where.text()));
      }
    }
  }
}

void
judge_connections(const WebserverObservation& observation, hook::Judgement& judgement)
{
  for (const auto& connection : observation.connections) {
    if (connection.outcome) {
      continue;
    }
    const auto& target = connection.target;
    const auto subject = target.where.text();
    const auto expected =
      fmt::format("upstream {}: accepts connections", util::printable(target.shown));
    const auto found = util::printable(connection.outcome.error().message);
    if (refused(connection.outcome.error())) {
      judgement.add_unmet({subject, expected, found},
                          fmt::format("upstream {} refuses connections ({})",
                                      util::printable(target.shown),
                                      subject));
    } else {
      undetermined(
        judgement,
        {subject, expected, found},
        fmt::format("upstream {}: {} ({})", util::printable(target.shown), found, subject));
    }
  }
}

void
judge_names(const WebserverSpec& spec,
            const WebserverObservation& observation,
            hook::Judgement& judgement)
{
  const auto& config = observation.config;
  const auto subject = config.files.empty() ? std::string("configuration") : config.files.front();
  for (const auto& name : spec.require_server_names) {
    const bool served =
      std::any_of(config.servers.begin(), config.servers.end(), [&](const VirtualServer& server) {
        return serves_name(server, name);
      });
    if (served) {
      continue;
    }
    std::vector<std::string> names;
    for (const auto& server : config.servers) {
      names.insert(names.end(), server.names.begin(), server.names.end());
    }
    const auto found = names.empty()
                         ? std::string("no server names")
                         : util::printable(fmt::format("server names {}", fmt::join(names, ", ")));
    judgement.add_unmet({subject, fmt::format("a virtual server that serves {}", name), found},
                        fmt::format("no virtual server serves {}", name));
  }
  if (!spec.forbid_default_site) {
    return;
  }
  for (const auto& server : config.servers) {
    if (!server.default_site.empty()) {
      const auto found = util::printable(server.default_site);
      judgement.add_unmet(
        {server.where.text(), "no default site enabled (forbid_default_site)", found},
        fmt::format("the default site is enabled: {} ({})", found, server.where.text()));
    }
  }
}

void
judge_probes(const WebserverSpec& spec,
             const WebserverObservation& observation,
             hook::Judgement& judgement)
{
  for (const auto& outcome : observation.probes) {
    const auto& probe = spec.probes[outcome.probe];
    if (!outcome.target) {
      const auto found = util::printable(outcome.no_target);
      judgement.add_unmet(
        {fmt::format("probe at {}", probe.where), "a listener that serves its host", found},
        fmt::format("probe at {}: {}", probe.where, found));
      continue;
    }
    const auto& shown = outcome.target->shown;
    if (!outcome.response || !*outcome.response) {
      const auto& error = outcome.response ? outcome.response->error()
                                           : util::make_error(util::Errc::internal, "not sent");
      const auto found = util::printable(error.message);
      if (error.code == util::Errc::tls) {
        judgement.add_unmet({shown, "a certificate that verifies", found},
                            fmt::format("{}: {}", shown, found));
      } else {
        undetermined(judgement, {shown, "an answer", found}, fmt::format("{}: {}", shown, found));
      }
      continue;
    }
    const auto& response = **outcome.response;
    if (std::find(probe.statuses.begin(), probe.statuses.end(), response.status)
        == probe.statuses.end()) {
      const auto expected = fmt::format("{}", fmt::join(probe.statuses, " or "));
      judgement.add_unmet(
        {shown + " status", expected, std::to_string(response.status)},
        fmt::format("{}: status {} (expected {})", shown, response.status, expected));
    }
    for (const auto& [name, expected] : probe.expect_headers) {
      std::vector<std::string_view> values;
      for (const auto& [found_name, found_value] : response.headers) {
        if (util::to_lower(found_name) == name) {
          values.push_back(found_value);
        }
      }
      if (std::find(values.begin(), values.end(), expected) == values.end()) {
        const auto found =
          values.empty() ? std::string("(missing)") : fmt::format("{}", fmt::join(values, ", "));
        judgement.add_unmet({fmt::format("{} header {}", shown, name), expected, found},
                            fmt::format("{}: header {} is \"{}\", expected \"{}\"",
                                        shown,
                                        name,
                                        util::printable(found, util::Quotes::escape),
                                        util::printable(expected, util::Quotes::escape)));
      }
    }
    const auto subject = shown + " body";
    hook::judge(probe.body_expectations,
                {subject, response.body, response.body_truncated, "body_limit", probe.body_limit},
                judgement);
  }
}

} // namespace

util::Result<WebserverSpec>
parse_webserver(const config::CheckSpec& check_spec)
{
  config::FieldReader reader(check_spec, k_webserver_keys);
  RG_TRY(reader.check_keys());
  WebserverSpec spec;
  RG_TRY_ASSIGN(const auto server, reader.required_string("server"));
  spec.server = find_server_kind(server);
  if (spec.server == nullptr) {
    std::vector<std::string_view> names;
    for (const auto& kind : server_kinds()) {
      names.push_back(kind.name);
    }
    return reader.error_at("server",
                           fmt::format("expected one of \"{}\", found \"{}\"",
                                       fmt::join(names, "\", \""),
                                       util::printable(server)));
  }
  const bool haproxy = spec.server->name == "haproxy";
  RG_TRY_ASSIGN(spec.binary, reader.optional_string("binary"));
  if (spec.binary && (spec.binary->empty() || spec.binary->find('\0') != std::string::npos)) {
    return reader.error_at("binary", "expected a program's path or name");
  }
  if (spec.binary && spec.binary->find('/') != std::string::npos) {
    spec.binary = (check_spec.base_directory / *spec.binary).lexically_normal().string();
  }
  RG_TRY_ASSIGN(spec.config, reader.optional_path("config"));
  RG_TRY_ASSIGN(spec.prefix, reader.optional_path("prefix"));
  if (spec.prefix && haproxy) {
    return reader.error_at("prefix",
                           "not applicable to haproxy (name its configuration with config)");
  }
  RG_TRY_ASSIGN(const auto days, reader.optional_integer("cert_min_days", 0, 3650));
  spec.cert_min_days = static_cast<int>(days.value_or(14));
  RG_TRY_ASSIGN(spec.ca_file, reader.optional_path("ca_file"));
  RG_TRY_ASSIGN(spec.require_server_names, reader.string_or_array("require_server_names"));
  for (auto& name : spec.require_server_names) {
    if (!is_host_name(name)) {
      return reader.error_at("require_server_names",
                             fmt::format("\"{}\" is not a host name", util::printable(name)));
    }
    name = util::to_lower(name);
  }
  RG_TRY_ASSIGN(const auto forbid, reader.optional_bool("forbid_default_site"));
  spec.forbid_default_site = forbid.value_or(false);
  if (spec.forbid_default_site && haproxy) {
    return reader.error_at("forbid_default_site", "haproxy has no default site (not applicable)");
  }
  RG_TRY_ASSIGN(const auto upstreams, reader.optional_bool("check_upstreams"));
  spec.check_upstreams = upstreams.value_or(true);
  RG_TRY_ASSIGN(const auto limit,
                reader.optional_integer("output_limit", 1024, k_max_output_limit));
  if (limit) {
    spec.output_limit = static_cast<std::size_t>(*limit);
  }
  if (reader.has("probe")) {
    const auto* tables = check_spec.params.get("probe")->as_array();
    if (tables == nullptr || !tables->is_array_of_tables()) {
      return reader.error_at("probe", "expected [[check.probe]] tables");
    }
    for (std::size_t i = 0; i < tables->size(); ++i) {
      RG_TRY_ASSIGN(auto probe, parse_probe(check_spec, *tables->get(i), i));
      spec.probes.push_back(std::move(probe));
    }
  }
  return spec;
}

config::KeyTable
webserver_keys()
{
  return k_webserver_keys;
}

config::KeyTable
webserver_probe_keys()
{
  return k_probe_keys;
}

util::Result<std::unique_ptr<hook::Check>>
create_webserver_check(const config::CheckSpec& spec)
{
  return create_check<WebserverSpec, parse_webserver, run_webserver>(spec);
}

util::ProcessRequest
webserver_test_request(const WebserverSpec& spec,
                       const std::string& binary,
                       const hook::CheckContext& ctx)
{
  util::ProcessRequest request;
  request.timeout = ctx.time_left();
  request.output_limit = spec.output_limit;
  request.stop = ctx.stop;
  spec.server->prepare(spec, binary, request);
  return request;
}

std::optional<hook::CheckResult>
evaluate_server_test(const WebserverSpec& spec, const util::ProcessOutcome& outcome, bool as_root)
{
  const auto test = spec.server->test;
  if (outcome.term_signal != 0) {
    return hook::CheckResult::error(
      fmt::format("{} was killed by signal {}", test, outcome.term_signal));
  }
  const auto subject = spec.config ? spec.config->string() : std::string(spec.server->name);
  if (outcome.exit_code != 0) {
    auto diagnostics = spec.server->diagnostics(outcome);
    const auto all_text = outcome.stderr_text + outcome.stdout_text;
    const auto expected = fmt::format("a configuration {} accepts", spec.server->name);
    std::vector<hook::Finding> findings;
    for (const auto& diagnostic : diagnostics) {
      if (findings.size() >= k_max_findings) {
        break;
      }
      findings.push_back({diagnostic.where ? diagnostic.where->text() : subject,
                          expected,
                          util::printable_excerpt(diagnostic.text, false, 400)});
    }
    if (findings.empty()) {
      findings.push_back({subject,
                          expected,
                          util::printable_excerpt(
                            all_text, outcome.stderr_truncated || outcome.stdout_truncated, 400)});
    }
    const auto first = findings.front().found;
    if (spec.server->name == "nginx"
        && outcome.stderr_text.find("invalid option: \"e\"") != std::string::npos) {
      return hook::CheckResult::error(
        fmt::format("{} does not take readygate's options (nginx 1.19.5 or later is needed): {}",
                    test,
                    first),
        std::move(findings));
    }
    if (!as_root && all_text.find("Permission denied") != std::string::npos) {
      return hook::CheckResult::error(
        fmt::format(
          "{} could not read what it needs as a non-root user (run readygate as root): {}",
          test,
          first),
        std::move(findings));
    }
    auto result = hook::CheckResult::fail(
      fmt::format(
        "{} rejects the configuration (exit code {}): {}", test, outcome.exit_code, first),
      std::move(findings));
    result.findings_omitted =
      diagnostics.size() > k_max_findings ? diagnostics.size() - k_max_findings : 0;
    return result;
  }
  if (outcome.stdout_truncated) {
    return hook::CheckResult::error(
      fmt::format("{}: its configuration dump is longer than output_limit ({}); raise output_limit",
                  test,
                  util::format_size(spec.output_limit)),
      {{subject,
        "a whole configuration dump",
        fmt::format("cut at {}", util::format_size(spec.output_limit))}});
  }
  return std::nullopt;
}

util::Result<ProbeTarget>
choose_probe_target(const ServerConfig& config, const Probe& probe)
{
  std::vector<const VirtualServer*> servers;
  for (const auto& server : config.servers) {
    if (!probe.host || serves_name(server, *probe.host)) {
      servers.push_back(&server);
    }
  }
  if (servers.empty() && probe.host && config.every_server_takes_any_host) {
    for (const auto& server : config.servers) {
      servers.push_back(&server);
    }
  }
  const auto for_host =
    probe.host ? fmt::format(" serves {}", *probe.host) : std::string(" listens");
  if (servers.empty()) {
    return util::make_error(util::Errc::config, fmt::format("no virtual server{}", for_host));
  }
  std::vector<const Listener*> listeners;
  for (const auto* server : servers) {
    for (const auto& listener : server->listeners) {
      if (probe.tls && listener.tls != *probe.tls) {
        continue;
      }
      if (probe.port && (!listener.unix_path.empty() || listener.port != *probe.port)) {
        continue;
      }
      listeners.push_back(&listener);
    }
  }
  if (listeners.empty()) {
    std::string on;
    if (probe.port) {
      on += fmt::format(" on port {}", *probe.port);
    }
    if (probe.tls) {
      on += *probe.tls ? " with TLS" : " without TLS";
    }
    return util::make_error(
      util::Errc::config,
      fmt::format("no listener{}{}",
                  on,
                  probe.host ? fmt::format(" of a virtual server that serves {}", *probe.host)
                             : std::string()));
  }
  std::stable_sort(listeners.begin(), listeners.end(), [](const Listener* a, const Listener* b) {
    if (a->tls != b->tls) {
      return a->tls;
    }
    if (a->unix_path.empty() != b->unix_path.empty()) {
      return a->unix_path.empty();
    }
    return a->port < b->port;
  });
  const auto& listener = *listeners.front();
  ProbeTarget target;
  const auto scheme = listener.tls ? "https" : "http";
  if (!listener.unix_path.empty()) {
    target.unix_socket = listener.unix_path;
    target.url =
      fmt::format("{}://{}{}", scheme, url_host(probe.host.value_or("localhost")), probe.path);
    target.shown = fmt::format("GET {} (unix:{})", target.url, listener.unix_path);
    return target;
  }
  const auto address = connect_host_of(listener);
  const auto name = probe.host.value_or(address);
  target.url = fmt::format("{}://{}:{}{}", scheme, url_host(name), listener.port, probe.path);
  if (probe.host && util::to_lower(*probe.host) != util::to_lower(address)) {
    target.connect_to.push_back(
      fmt::format("{}:{}:{}:{}", url_host(name), listener.port, url_host(address), listener.port));
    target.shown = fmt::format("GET {} (to {})", target.url, format_target(address, listener.port));
  } else {
    target.shown = fmt::format("GET {}", target.url);
  }
  return target;
}

hook::CheckResult
run_webserver(const WebserverSpec& spec, const hook::CheckContext& ctx)
{
  // 1. The server's own test.
  const auto runner = ctx.probes.get<util::ProcessRunner>();
  std::vector<std::string> binaries;
  if (spec.binary) {
    binaries.push_back(*spec.binary);
  } else {
    binaries.assign(spec.server->binaries.begin(), spec.server->binaries.end());
  }
  std::optional<util::Result<util::ProcessOutcome>> outcome;
  std::vector<std::string> tried;
  for (const auto& binary : binaries) {
    outcome = runner->run(webserver_test_request(spec, binary, ctx));
    if (*outcome || outcome->error().code != util::Errc::process) {
      break;
    }
    tried.push_back(binary);
  }
  if (!*outcome) {
    const auto& error = outcome->error();
    if (error.code == util::Errc::process && tried.size() > 1) {
      return hook::CheckResult::error(
        fmt::format("{}: no program to test it with (tried {}): {}",
                    spec.server->name,
                    fmt::join(tried, ", "),
                    error.message),
        {{"binary", fmt::format("one of {}", fmt::join(tried, ", ")), "none could be run"}});
    }
    return hook::CheckResult::error(fmt::format("{}: {}", spec.server->test, error.message));
  }
  const auto host = ctx.probes.get<WebserverHost>();
  if (auto judged = evaluate_server_test(spec, **outcome, host->running_as_root())) {
    return std::move(*judged);
  }

  // 2. Its effective configuration.
  ConfigSource source;
  std::size_t read_so_far = 0;
  source.read_file = [&](const std::string& path) -> util::Result<std::string> {
    RG_TRY_ASSIGN(auto text, host->read_file(path, k_config_file_limit, ctx.deadline, ctx.stop));
    read_so_far += text.size();
    if (read_so_far > k_config_total_limit) {
      return util::make_error(util::Errc::io,
                              fmt::format("the configuration files are larger than {} in all",
                                          util::format_size(k_config_total_limit)));
    }
    return text;
  };
  source.state_of = [&](const std::string& path) -> util::Result<PathState> {
    RG_TRY_ASSIGN(auto states, host->inspect({path}, std::nullopt, ctx.deadline, ctx.stop));
    return states.front();
  };
  source.list_configs = [&](const std::string& directory) {
    return host->list_directory(directory, ".cfg", ctx.deadline, ctx.stop);
  };
  auto config = spec.server->read(spec, **outcome, source);
  if (!config) {
    return hook::CheckResult::error(fmt::format("{}: cannot read its configuration: {}",
                                                spec.server->name,
                                                util::printable(config.error().message)));
  }

  // 3. What it references, and the probes.
  Observer observer(spec, ctx);
  auto observation = observer.observe(std::move(*config));
  if (!observation) {
    return hook::CheckResult::error(
      fmt::format("{}: {}", spec.server->name, util::printable(observation.error().message)));
  }
  return evaluate_webserver(spec, *observation);
}

hook::CheckResult
evaluate_webserver(const WebserverSpec& spec, const WebserverObservation& observation)
{
  hook::Judgement judgement;
  std::vector<std::string> notes;
  judge_paths(observation, judgement);
  judge_certificates(spec, observation, judgement, notes);
  judge_frontend_names(observation, judgement);
  judge_connections(observation, judgement);
  judge_names(spec, observation, judgement);
  judge_probes(spec, observation, judgement);

  const auto& config = observation.config;
  std::vector<std::string> parts;
  parts.push_back(plural(config.paths.size(), "served path", "served paths"));
  parts.push_back(plural(observation.certificates.size(), "certificate", "certificates"));
  parts.push_back(plural(observation.connections.size(), "upstream", "upstreams"));
  if (!spec.probes.empty()) {
    parts.push_back(plural(spec.probes.size(), "probe", "probes"));
  }
  auto message = fmt::format(
    "{}: configuration accepted; {} as expected", spec.server->name, fmt::join(parts, ", "));
  std::vector<std::string> unchecked;
  if (observation.upstreams_elsewhere > 0) {
    unchecked.push_back(plural(
      observation.upstreams_elsewhere, "upstream on another host", "upstreams on other hosts"));
  }
  if (!config.skipped.empty()) {
    unchecked.push_back(fmt::format("{} ({}: {})",
                                    plural(config.skipped.size(), "directive", "directives"),
                                    util::printable(config.skipped.front().where.text()),
                                    util::printable(config.skipped.front().what)));
  }
  for (const auto& note : notes) {
    unchecked.push_back(util::printable(note));
  }
  if (!unchecked.empty()) {
    message += fmt::format("; not checked: {}", fmt::join(unchecked, "; "));
  }
  auto result = hook::result_of(spec.server->name, std::move(judgement), std::move(message));
  if (result.findings.size() > k_max_findings) {
    result.findings_omitted = result.findings.size() - k_max_findings;
    result.findings.resize(k_max_findings);
  }
  return result;
}

} // namespace checks
