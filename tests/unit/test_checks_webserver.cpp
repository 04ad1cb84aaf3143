// The webserver kind: its keys and [[check.probe]] tables, judging the server's test, choosing a
// probe's listener, judging every observation, and a whole run against fakes of every probe.
#include "testutil.hpp"
#include "x509_fixtures.hpp"

#include <checks/webserver/servers.hpp>
#include <checks/webserver/webserver_check.hpp>
#include <hook/util/table.hpp>
#include <hook/util/tcp.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <arpa/inet.h>

#include <fstream>
#include <map>
#include <mutex>
#include <set>

using namespace std::chrono_literals;
using checks::WebserverObservation;
using checks::WebserverSpec;
using checks::webserver::PathState;
using hook::Status;

namespace {

const testutil::KindHarness<WebserverSpec> k_harness{"webserver", "web", &checks::parse_webserver};

util::Result<WebserverSpec>
parse(std::string_view keys)
{
  return k_harness.parse(keys);
}

WebserverSpec
parsed(std::string_view keys)
{
  return k_harness.parsed(keys);
}

std::string
findings_text(const hook::CheckResult& result)
{
  std::string text;
  for (const auto& finding : result.findings) {
    text += fmt::format("{} | {} | {}\n", finding.subject, finding.expected, finding.found);
  }
  return text;
}

// --- Fakes of every probe the kind uses ---

class FakeRunner final : public util::ProcessRunner
{
public:
  std::map<std::string, util::Result<util::ProcessOutcome>> outcomes; // by argv[0]
  std::vector<util::ProcessRequest> requests;

  util::Result<util::ProcessOutcome>
  run(const util::ProcessRequest& request) override
  {
    requests.push_back(request);
    const auto found = outcomes.find(request.argv.front());
    if (found == outcomes.end()) {
      return util::make_error(
        util::Errc::process,
        fmt::format("cannot run {}: No such file or directory", request.argv.front()));
    }
    return found->second;
  }
};

class FakeHost final : public checks::webserver::WebserverHost
{
public:
  std::map<std::string, PathState> states; // anything else is missing
  std::map<std::string, std::string> files;
  std::map<std::string, std::vector<std::string>> directories;
  std::map<std::string, util::Result<std::chrono::milliseconds>> sockets;
  std::vector<std::string> addresses{"192.0.2.10"};
  bool root = true;
  std::optional<std::string> worker_asked;

  util::Result<std::vector<PathState>>
  inspect(const std::vector<std::string>& paths,
          const std::optional<std::string>& worker,
          util::Clock::time_point,
          std::stop_token) override
  {
    if (worker) {
      worker_asked = worker;
    }
    std::vector<PathState> result;
    for (const auto& path : paths) {
      const auto found = states.find(path);
      if (found != states.end()) {
        result.push_back(found->second);
      } else if (files.contains(path)) {
        result.push_back(PathState{PathState::Kind::file, "", ""});
      } else {
        result.push_back(PathState{PathState::Kind::missing, "No such file or directory", ""});
      }
    }
    return result;
  }
  util::Result<std::string>
  read_file(const std::string& path, std::size_t, util::Clock::time_point, std::stop_token) override
  {
    const auto found = files.find(path);
    if (found == files.end()) {
      return util::make_error(util::Errc::io, path + ": cannot open: No such file or directory");
    }
    return found->second;
  }
  util::Result<std::vector<std::string>>
  list_directory(const std::string& path,
                 const std::string&,
                 util::Clock::time_point,
                 std::stop_token) override
  {
    return directories[path];
  }
  std::vector<std::string>
  local_addresses() override
  {
    return addresses;
  }
  util::Result<std::chrono::milliseconds>
  connect_unix(const std::string& path, std::chrono::milliseconds, std::stop_token) override
  {
    const auto found = sockets.find(path);
    if (found == sockets.end()) {
      return util::make_error(util::Errc::network, fmt::format("unix:{}: no such socket", path));
    }
    return found->second;
  }
  bool
  running_as_root() override
  {
    return root;
  }
};

class FakeX509 final : public util::X509Reader
{
public:
  std::map<std::string, util::Result<util::PemContents>> contents;
  // What a chain whose first certificate has this subject verifies to; others verify.
  std::map<std::string, util::ChainVerification> verifications;
  std::optional<util::Error> anchors_error;           // the trust anchors could not be read
  std::vector<std::vector<std::string>> chains_asked; // the subjects of each chain
  std::optional<std::filesystem::path> ca_file_asked;
  util::Result<util::PemContents>
  read(const std::filesystem::path& path, util::Clock::time_point, std::stop_token) override
  {
    const auto found = contents.find(path.string());
    if (found == contents.end()) {
      return util::make_error(util::Errc::io,
                              path.string() + ": cannot open: No such file or directory");
    }
    return found->second;
  }
  util::Result<std::vector<util::ChainVerification>>
  verify_chains(const std::vector<std::vector<util::CertificateInfo>>& chains,
                const std::optional<std::filesystem::path>& ca_file,
                std::chrono::system_clock::time_point,
                util::Clock::time_point,
                std::stop_token) override
  {
    ca_file_asked = ca_file;
    std::vector<util::ChainVerification> verified;
    for (const auto& chain : chains) {
      std::vector<std::string> subjects;
      for (const auto& certificate : chain) {
        subjects.push_back(certificate.subject);
      }
      chains_asked.push_back(subjects);
      const auto found = verifications.find(chain.front().subject);
      verified.push_back(found != verifications.end() ? found->second
                                                      : util::ChainVerification{subjects, {}});
    }
    if (anchors_error) {
      return *anchors_error;
    }
    return verified;
  }
};

class FakeTcp final : public util::TcpConnector
{
public:
  std::map<std::string, util::Result<std::chrono::milliseconds>> results; // "host:port"
  std::vector<std::string> asked;
  util::Result<std::chrono::milliseconds>
  connect(const std::string& host,
          std::uint16_t port,
          std::chrono::milliseconds,
          std::stop_token) override
  {
    const auto key = fmt::format("{}:{}", host, port);
    asked.push_back(key);
    const auto found = results.find(key);
    if (found == results.end()) {
      return util::make_error(util::Errc::network, key + ": connection refused");
    }
    return found->second;
  }
};

class FakeHttp final : public util::HttpClient
{
public:
  util::Result<util::HttpResponse> response =
    util::HttpResponse{200, {}, "release 1.4.2", false, 3ms};
  std::vector<util::HttpRequest> requests;
  util::Result<util::HttpResponse>
  perform(const util::HttpRequest& request) override
  {
    requests.push_back(request);
    return response;
  }
};

struct Fakes
{
  std::shared_ptr<FakeRunner> runner = std::make_shared<FakeRunner>();
  std::shared_ptr<FakeHost> host = std::make_shared<FakeHost>();
  std::shared_ptr<FakeX509> x509 = std::make_shared<FakeX509>();
  std::shared_ptr<FakeTcp> tcp = std::make_shared<FakeTcp>();
  std::shared_ptr<FakeHttp> http = std::make_shared<FakeHttp>();

  hook::CheckContext
  context() const
  {
    auto ctx = testutil::context();
    ctx.probes.install<util::ProcessRunner>(runner);
    ctx.probes.install<checks::webserver::WebserverHost>(host);
    ctx.probes.install<util::X509Reader>(x509);
    ctx.probes.install<util::TcpConnector>(tcp);
    ctx.probes.install<util::HttpClient>(http);
    return ctx;
  }
};

util::ProcessOutcome
exited(int code, std::string out, std::string err = "")
{
  util::ProcessOutcome outcome;
  outcome.exit_code = code;
  outcome.stdout_text = std::move(out);
  outcome.stderr_text = std::move(err);
  return outcome;
}

const auto k_now = std::chrono::system_clock::from_time_t(1'800'000'000);

// A made-up certificate for `names` (CN the first, subjectAltName all: addresses as IP, the
// others as DNS), valid from a day before k_now for `valid_for` after it, whose key is `key`; its
// `der` is a real certificate with those names, which names are matched on.
util::CertificateInfo
certificate(std::vector<std::string> names, std::chrono::hours valid_for, std::string key = "k1")
{
  static const auto signing_key = x509_fixtures::make_key();
  std::vector<std::string> san;
  for (const auto& name : names) {
    unsigned char bytes[16];
    const bool address =
      inet_pton(AF_INET, name.c_str(), bytes) == 1 || inet_pton(AF_INET6, name.c_str(), bytes) == 1;
    san.push_back((address ? "IP:" : "DNS:") + name);
  }
  util::CertificateInfo info;
  info.der =
    x509_fixtures::der_of(x509_fixtures::make_certificate(signing_key.get(),
                                                          names.empty() ? "x" : names.front(),
                                                          fmt::format("{}", fmt::join(san, ",")),
                                                          -24h,
                                                          24h)
                            .get());
  info.subject = fmt::format("CN={}", names.empty() ? "x" : names.front());
  info.common_name = names.empty() ? "x" : names.front();
  info.dns_names = std::move(names);
  info.not_before = k_now - 24h;
  info.not_after = k_now + valid_for;
  info.public_key_sha256 = std::move(key);
  return info;
}

util::PemContents
pem(std::vector<util::CertificateInfo> certificates, std::string key = "")
{
  util::PemContents contents;
  contents.certificates = std::move(certificates);
  contents.has_private_key = !key.empty();
  contents.private_key_public_sha256 = std::move(key);
  return contents;
}

// A certificate valid from yesterday for `years` (for runs, which judge at the real time).
util::CertificateInfo
current(std::vector<std::string> names, std::string key = "k1")
{
  auto info = certificate(std::move(names), 24h, std::move(key));
  info.not_before = std::chrono::system_clock::now() - 24h;
  info.not_after = std::chrono::system_clock::now() + 24h * 365;
  return info;
}

checks::webserver::Place
at(std::string file, std::size_t line)
{
  return checks::webserver::Place{std::move(file), line};
}

} // namespace

TEST_CASE("webserver: the table of servers is sorted, each found by name", "[webserver]")
{
  CHECK(util::sorted_by_name(checks::webserver::server_kinds()));
  for (const auto& kind : checks::webserver::server_kinds()) {
    CHECK(checks::webserver::find_server_kind(kind.name) == &kind);
    CHECK_FALSE(kind.binaries.empty());
  }
  CHECK(checks::webserver::find_server_kind("caddy") == nullptr);
}

TEST_CASE("webserver: keys, defaults and every server", "[webserver]")
{
  const auto spec = parsed("server = \"nginx\"");
  REQUIRE(spec.server != nullptr);
  CHECK(spec.server->name == "nginx");
  CHECK_FALSE(spec.binary);
  CHECK_FALSE(spec.config);
  CHECK(spec.cert_min_days == 14);
  CHECK_FALSE(spec.forbid_default_site);
  CHECK(spec.check_upstreams);
  CHECK(spec.output_limit == 4 * 1024 * 1024);
  CHECK(spec.probes.empty());
  const auto full = parsed(R"(server = "apache"
binary = "bin/apachectl"
config = "conf/httpd.conf"
prefix = "/etc/httpd"
cert_min_days = 30
require_server_names = ["WWW.Example.com", "api.example.com"]
forbid_default_site = true
check_upstreams = false
output_limit = 2048)");
  CHECK(full.server->name == "apache");
  CHECK(*full.binary == "/etc/readygate/bin/apachectl");
  CHECK(*full.config == "/etc/readygate/conf/httpd.conf");
  CHECK(*full.prefix == "/etc/httpd");
  CHECK(full.cert_min_days == 30);
  CHECK(full.require_server_names
        == std::vector<std::string>{"www.example.com", "api.example.com"});
  CHECK(full.forbid_default_site);
  CHECK_FALSE(full.check_upstreams);
  CHECK(full.output_limit == 2048);
  CHECK(parsed("server = \"haproxy\"").server->name == "haproxy");
  CHECK(*parsed("server = \"nginx\"\nbinary = \"nginx-debug\"").binary == "nginx-debug");
}

TEST_CASE("webserver: bad keys are config errors naming the key", "[webserver]")
{
  const std::vector<std::pair<std::string, std::string>> cases = {
    {"server = \"caddy\"",
     "key \"server\": expected one of \"apache\", \"haproxy\", \"nginx\", found \"caddy\""},
    {"", "missing key \"server\""},
    {"server = \"haproxy\"\nprefix = \"/x\"", "key \"prefix\": not applicable to haproxy"},
    {"server = \"haproxy\"\nforbid_default_site = true",
     "key \"forbid_default_site\": haproxy has no default site"},
    {"server = \"nginx\"\ncert_min_days = -1", "key \"cert_min_days\""},
    {"server = \"nginx\"\nrequire_server_names = [\"a b\"]", "\"a b\" is not a host name"},
    {"server = \"nginx\"\noutput_limit = 10", "key \"output_limit\""},
    {"server = \"nginx\"\nbinary = \"\"", "key \"binary\""},
    {"server = \"nginx\"\nprobe = 3", "key \"probe\": expected [[check.probe]] tables"},
    {"server = \"nginx\"\nsrever = \"x\"", "unknown key \"srever\""},
  };
  for (const auto& [keys, message] : cases) {
    INFO(keys);
    const auto spec = parse(keys);
    REQUIRE_FALSE(spec);
    CHECK(spec.error().code == util::Errc::config);
    CHECK_THAT(spec.error().message, Catch::Contains(message));
  }
}

TEST_CASE("webserver: [[check.probe]] tables, and errors at the probe's own keys", "[webserver]")
{
  const auto spec = parsed(R"(server = "nginx"
[[check.probe]]
host = "www.example.com"
path = "/version?full=1"
port = 8443
tls = true
status = [200, 204]
body_contains = "release"
body_matches = 'release [0-9.]+'
expect_headers = { X-Release = "1.4.2" }
tls_verify = false
ca_file = "ca.pem"
body_limit = 100
[[check.probe]]
)");
  REQUIRE(spec.probes.size() == 2);
  const auto& probe = spec.probes[0];
  CHECK(*probe.host == "www.example.com");
  CHECK(probe.path == "/version?full=1");
  CHECK(*probe.port == 8443);
  CHECK(*probe.tls);
  CHECK(probe.statuses == std::vector<long>{200, 204});
  CHECK(testutil::described(probe.body_expectations)
        == std::vector<std::string>{"contains \"release\"", "matches /release [0-9.]+/"});
  CHECK(probe.expect_headers == util::HeaderList{{"x-release", "1.4.2"}});
  CHECK(probe.tls_verify == util::TlsVerify::no);
  CHECK(*probe.ca_file == "/etc/readygate/ca.pem");
  CHECK(probe.body_limit == 100);
  CHECK(probe.where == "test.toml:5:1");
  const auto& bare = spec.probes[1];
  CHECK(bare.path == "/");
  CHECK_FALSE(bare.host);
  CHECK(bare.statuses == std::vector<long>{200});
  CHECK(bare.where == "test.toml:17:1");

  const std::vector<std::pair<std::string, std::string>> cases = {
    {"[[check.probe]]\npath = \"health\"",
     "test.toml:6:8: check \"web\" (webserver probe): key \"path\""},
    {"[[check.probe]]\npth = \"/\"",
     "test.toml:6:7: check \"web\" (webserver probe): unknown key \"pth\" (did you mean "
     "\"path\"?)"},
    {"[[check.probe]]\nhost = \"www.example.com:443\"",
     "key \"host\": \"www.example.com:443\" is not a host name"},
    {"[[check.probe]]\nport = 0", "key \"port\""},
    {"[[check.probe]]\nstatus = 99", "key \"status\""},
    {"[[check.probe]]\nbody_matches = \"(\"", "key \"body_matches\""},
    {"[[check.probe]]\nexpect_headers = { \"a b\" = \"x\" }", "\"a b\" is not a header name"},
    {"[[check.probe]]\n[[check.probe]]\nstatus = \"x\"",
     "test.toml:7:10: check \"web\" (webserver probe): key \"status\""},
  };
  for (const auto& [keys, message] : cases) {
    INFO(keys);
    const auto bad = parse("server = \"nginx\"\n" + keys);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == util::Errc::config);
    CHECK_THAT(bad.error().message, Catch::Contains(message));
  }
}

TEST_CASE("webserver: the test's argv and environment for each server", "[webserver]")
{
  const auto ctx = testutil::context();
  const auto nginx =
    parsed("server = \"nginx\"\nprefix = \"/srv/ng\"\nconfig = \"/srv/ng/conf/nginx.conf\"");
  const auto request = checks::webserver_test_request(nginx, "nginx", ctx);
  CHECK(request.argv
        == std::vector<std::string>{
          "nginx", "-T", "-e", "stderr", "-p", "/srv/ng", "-c", "/srv/ng/conf/nginx.conf"});
  CHECK(request.output_limit == nginx.output_limit);
  CHECK(request.timeout <= 5s);
  CHECK(request.timeout > 4s);

  const auto apache = parsed("server = \"apache\"\nprefix = \"/srv/ap\"");
  const auto wrapper = checks::webserver_test_request(apache, "/usr/sbin/apache2ctl", ctx);
  CHECK(wrapper.argv
        == std::vector<std::string>{"/usr/sbin/apache2ctl",
                                    "-t",
                                    "-D",
                                    "DUMP_INCLUDES",
                                    "-D",
                                    "DUMP_MODULES",
                                    "-D",
                                    "DUMP_VHOSTS",
                                    "-D",
                                    "DUMP_RUN_CFG"});
  CHECK(wrapper.environment_overrides
        == std::vector<std::pair<std::string, std::string>>{{"APACHE_CONFDIR", "/srv/ap"}});
  const auto direct = checks::webserver_test_request(apache, "httpd", ctx);
  CHECK(direct.argv.back() == "/srv/ap");
  CHECK(direct.argv[direct.argv.size() - 2] == "-d");
  CHECK(direct.environment_overrides.empty());

  const auto haproxy =
    checks::webserver_test_request(parsed("server = \"haproxy\""), "haproxy", ctx);
  CHECK(haproxy.argv
        == std::vector<std::string>{"haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"});
}

TEST_CASE("webserver: a rejected configuration fails with the server's diagnostics at file:line",
          "[webserver]")
{
  SECTION("nginx")
  {
    const auto spec = parsed("server = \"nginx\"");
    const auto judged = checks::evaluate_server_test(
      spec,
      exited(1,
             "",
             "2026/11/30 18:21:17 [emerg] 11810#11810: unknown directive \"bogus\x1b[2J\" in "
             "/etc/nginx/sites-enabled/app:10\n"
             "nginx: configuration file /etc/nginx/nginx.conf test failed\n"),
      true);
    REQUIRE(judged);
    CHECK(judged->status == Status::fail);
    CHECK(judged->message
          == "nginx -t rejects the configuration (exit code 1): [emerg] unknown directive "
             "\"bogus\\x1b[2J\" in /etc/nginx/sites-enabled/app:10");
    REQUIRE(judged->findings.size() == 1);
    CHECK(judged->findings[0].subject == "/etc/nginx/sites-enabled/app:10");
    CHECK(judged->findings[0].expected == "a configuration nginx accepts");
  }
  SECTION("apache")
  {
    const auto spec = parsed("server = \"apache\"");
    const auto judged = checks::evaluate_server_test(
      spec,
      exited(1,
             "Action '-t' failed.\n",
             "AH00112: Warning: DocumentRoot [/x] does not exist\nAH00526: Syntax error on line 14 "
             "of /etc/apache2/sites-enabled/site.conf:\n"
             "Invalid command 'SSLEngin', perhaps misspelled or defined by a module not included "
             "in the server configuration\n"),
      true);
    REQUIRE(judged);
    CHECK(judged->status == Status::fail);
    REQUIRE(judged->findings.size() == 1);
    CHECK(judged->findings[0].subject == "/etc/apache2/sites-enabled/site.conf:14");
    CHECK_THAT(judged->findings[0].found, Catch::Contains("Invalid command 'SSLEngin'"));
  }
  SECTION("haproxy")
  {
    const auto spec = parsed("server = \"haproxy\"");
    const auto judged = checks::evaluate_server_test(
      spec,
      exited(1,
             "",
             "[NOTICE]   (11707) : haproxy version is 2.6.12\n"
             "[ALERT]    (11707) : config : parsing [/etc/haproxy/haproxy.cfg:19] : unknown "
             "keyword 'servr' in 'backend' section\n"
             "[ALERT]    (11707) : config : Fatal errors found in configuration.\n"),
      true);
    REQUIRE(judged);
    CHECK(judged->status == Status::fail);
    REQUIRE(judged->findings.size() == 1);
    CHECK(judged->findings[0].subject == "/etc/haproxy/haproxy.cfg:19");
    CHECK(judged->message
          == "haproxy -c rejects the configuration (exit code 1): config : parsing "
             "[/etc/haproxy/haproxy.cfg:19] : unknown keyword 'servr' in 'backend' section");
  }
}

TEST_CASE("webserver: a test that could not judge is an error, not a fail", "[webserver]")
{
  const auto spec = parsed("server = \"nginx\"");
  SECTION("denied as non-root")
  {
    const auto judged = checks::evaluate_server_test(
      spec,
      exited(1, "", "nginx: [emerg] open() \"/run/nginx.pid\" failed (13: Permission denied)\n"),
      false);
    REQUIRE(judged);
    CHECK(judged->status == Status::error);
    CHECK_THAT(judged->message, Catch::Contains("as a non-root user"));
    const auto as_root = checks::evaluate_server_test(
      spec,
      exited(1, "", "nginx: [emerg] open() \"/run/nginx.pid\" failed (13: Permission denied)\n"),
      true);
    CHECK(as_root->status == Status::fail);
  }
  SECTION("killed")
  {
    auto outcome = exited(0, "");
    outcome.term_signal = 11;
    const auto judged = checks::evaluate_server_test(spec, outcome, true);
    REQUIRE(judged);
    CHECK(judged->status == Status::error);
  }
  SECTION("an old nginx without -e")
  {
    const auto judged =
      checks::evaluate_server_test(spec, exited(1, "", "nginx: invalid option: \"e\"\n"), true);
    REQUIRE(judged);
    CHECK(judged->status == Status::error);
  }
  SECTION("a dump cut at output_limit")
  {
    auto outcome = exited(0, "# configuration file /etc/nginx/nginx.conf:\nhttp {");
    outcome.stdout_truncated = true;
    const auto judged = checks::evaluate_server_test(spec, outcome, true);
    REQUIRE(judged);
    CHECK(judged->status == Status::error);
    CHECK_THAT(judged->message, Catch::Contains("raise output_limit"));
  }
  SECTION("passed")
  {
    CHECK_FALSE(checks::evaluate_server_test(spec, exited(0, "# configuration file /a:\n"), true));
  }
}

TEST_CASE("webserver: a probe goes to a listener of a server that serves its host", "[webserver]")
{
  checks::webserver::ServerConfig config;
  checks::webserver::VirtualServer shop;
  shop.syntax = checks::webserver::NameSyntax::nginx;
  shop.names = {"shop.example.com"};
  shop.listeners = {{"", false, 80, "", false, at("/a", 1)},
                    {"", true, 443, "", true, at("/a", 2)},
                    {"", false, 8443, "", true, at("/a", 3)}};
  checks::webserver::VirtualServer internal;
  internal.syntax = checks::webserver::NameSyntax::nginx;
  internal.names = {"internal"};
  internal.listeners = {{"127.0.0.1", false, 8081, "", false, at("/b", 1)},
                        {"", false, 0, "/run/nginx.sock", false, at("/b", 2)}};
  config.servers = {shop, internal};

  checks::webserver::Probe probe;
  probe.host = "shop.example.com";
  probe.path = "/health";
  auto target = checks::choose_probe_target(config, probe);
  REQUIRE(target);
  CHECK(target->url == "https://shop.example.com:443/health");
  CHECK(target->connect_to == std::vector<std::string>{"shop.example.com:443:[::1]:443"});
  CHECK(target->shown == "GET https://shop.example.com:443/health (to [::1]:443)");

  probe.tls = false;
  target = checks::choose_probe_target(config, probe);
  REQUIRE(target);
  CHECK(target->url == "http://shop.example.com:80/health");
  CHECK(target->connect_to == std::vector<std::string>{"shop.example.com:80:127.0.0.1:80"});

  probe.tls.reset();
  probe.port = 8443;
  target = checks::choose_probe_target(config, probe);
  REQUIRE(target);
  CHECK(target->url == "https://shop.example.com:8443/health");

  probe.port = 9999;
  const auto none = checks::choose_probe_target(config, probe);
  REQUIRE_FALSE(none);
  CHECK(none.error().message
        == "no listener on port 9999 of a virtual server that serves shop.example.com");

  probe.port.reset();
  probe.host = "unknown.example.com";
  const auto unknown = checks::choose_probe_target(config, probe);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message == "no virtual server serves unknown.example.com");

  probe.host.reset();
  probe.tls = false;
  probe.port = 8081;
  target = checks::choose_probe_target(config, probe);
  REQUIRE(target);
  CHECK(target->url == "http://127.0.0.1:8081/health");
  CHECK(target->connect_to.empty());

  probe.port.reset();
  probe.host = "internal";
  target = checks::choose_probe_target(config, probe);
  REQUIRE(target);
  CHECK(target->url == "http://internal:8081/health");

  config.servers[1].listeners.erase(config.servers[1].listeners.begin());
  target = checks::choose_probe_target(config, probe);
  REQUIRE(target);
  CHECK(target->url == "http://internal/health");
  CHECK(*target->unix_socket == "/run/nginx.sock");

  // HAProxy: a frontend takes any host when no rule names it.
  config.every_server_takes_any_host = true;
  probe.host = "elsewhere.example.com";
  probe.tls = true;
  target = checks::choose_probe_target(config, probe);
  REQUIRE(target);
  CHECK(target->url == "https://elsewhere.example.com:443/health");
}

TEST_CASE(
  "webserver: served paths: missing, not a directory, unreadable by the worker, could not look",
  "[webserver]")
{
  const auto spec = parsed("server = \"nginx\"");
  WebserverObservation observation;
  observation.now = k_now;
  observation.config.paths = {
    {"/srv/ok", "root", false, at("/etc/nginx/a", 1)},
    {"/srv/gone", "root", false, at("/etc/nginx/a", 2)},
    {"/srv/file", "root", false, at("/etc/nginx/a", 3)},
    {"/srv/robots.txt", "alias", true, at("/etc/nginx/a", 4)},
    {"/srv/private", "root", false, at("/etc/nginx/a", 5)},
    {"/srv/secret", "root", false, at("/etc/nginx/a", 6)},
  };
  observation.paths = {
    {PathState::Kind::directory, "", ""},
    {PathState::Kind::missing, "No such file or directory", ""},
    {PathState::Kind::file, "", ""},
    {PathState::Kind::file, "", ""},
    {PathState::Kind::directory, "", "www-data cannot list /srv/private (mode 0700, owner 0:0)"},
    {PathState::Kind::unreadable, "Permission denied", ""},
  };
  const auto result = checks::evaluate_webserver(spec, observation);
  CHECK(result.status == Status::fail);
  CHECK(result.message == "nginx: root /srv/gone does not exist (/etc/nginx/a:2) (and 2 more)");
  CHECK(findings_text(result)
        == "/etc/nginx/a:2 | root /srv/gone: a readable directory | missing (No such file or "
           "directory)\n"
           "/etc/nginx/a:3 | root /srv/file: a readable directory | a file\n"
           "/etc/nginx/a:5 | root /srv/private: a readable directory | www-data cannot list "
           "/srv/private (mode 0700, owner 0:0)\n"
           "/etc/nginx/a:6 | root /srv/secret: a readable directory | could not look: Permission "
           "denied\n");

  observation.config.paths.resize(1);
  observation.paths.resize(1);
  observation.config.paths.push_back({"/srv/secret", "root", false, at("/etc/nginx/a", 6)});
  observation.paths.push_back({PathState::Kind::unreadable, "Permission denied", ""});
  const auto unreadable = checks::evaluate_webserver(spec, observation);
  CHECK(unreadable.status == Status::error);
  CHECK(unreadable.message == "nginx: root /srv/secret: could not look (Permission denied)");
}

TEST_CASE("webserver: certificates: expiry, names, keys, files", "[webserver]")
{
  const auto spec = parsed("server = \"nginx\"");
  const auto make =
    [](std::string path, std::string key, std::vector<std::string> names, std::size_t line) {
      WebserverObservation::Certificate certificate;
      certificate.use.certificate = std::move(path);
      certificate.use.key = key;
      certificate.use.where = at("/etc/nginx/site", line);
      certificate.names = std::move(names);
      certificate.state = {PathState::Kind::file, "", ""};
      certificate.key_path = key;
      if (!key.empty()) {
        certificate.key_state = PathState{PathState::Kind::file, "", ""};
      }
      return certificate;
    };
  WebserverObservation observation;
  observation.now = k_now;

  auto good = make("/ssl/good.pem", "/ssl/good.key", {"www.example.com", "a.wild.example.com"}, 1);
  good.contents = pem({certificate({"www.example.com", "*.wild.example.com"}, 24h * 90)});
  good.key = pem({}, "k1");
  observation.certificates.push_back(good);
  auto expired = make("/ssl/old.pem", "/ssl/old.key", {}, 2);
  expired.contents = pem({certificate({"old.example.com"}, -24h * 3)});
  expired.key = pem({}, "k1");
  observation.certificates.push_back(expired);
  auto soon = make("/ssl/soon.pem", "/ssl/soon.key", {}, 3);
  soon.contents = pem({certificate({"soon.example.com"}, 24h * 5 + 1h)});
  soon.key = pem({}, "k1");
  observation.certificates.push_back(soon);
  auto wrong_name = make("/ssl/other.pem", "/ssl/other.key", {"www.example.com", "example.com"}, 4);
  wrong_name.contents = pem({certificate({"*.example.com"}, 24h * 90)});
  wrong_name.key = pem({}, "k1");
  observation.certificates.push_back(wrong_name);
  auto wrong_key = make("/ssl/mismatch.pem", "/ssl/mismatch.key", {}, 5);
  wrong_key.contents = pem({certificate({"m.example.com"}, 24h * 90)});
  wrong_key.key = pem({}, "k2");
  observation.certificates.push_back(wrong_key);
  auto missing = make("/ssl/missing.pem", "/ssl/missing.key", {}, 6);
  missing.state = {PathState::Kind::missing, "No such file or directory", ""};
  observation.certificates.push_back(missing);
  auto junk = make("/ssl/junk.pem", "/ssl/junk.key", {}, 7);
  junk.contents = util::Result<util::PemContents>(util::make_error(
    util::Errc::protocol, "/ssl/junk.pem: no PEM block (expected -----BEGIN CERTIFICATE-----)"));
  observation.certificates.push_back(junk);
  auto no_key = make("/ssl/nokey.pem", "", {}, 8);
  no_key.contents = pem({certificate({"n.example.com"}, 24h * 90)});
  observation.certificates.push_back(no_key);
  auto chain = make("/ssl/chain.pem", "", {}, 9);
  chain.contents =
    pem({certificate({"c.example.com"}, 24h * 90, "k3"), certificate({"Old CA"}, -1h, "k9")}, "k3");
  observation.certificates.push_back(chain);

  const auto result = checks::evaluate_webserver(spec, observation);
  CHECK(result.status == Status::fail);
  CHECK(findings_text(result)
        == "/etc/nginx/site:2 | certificate /ssl/old.pem: valid for 14 days or more | expired on "
           "2027-01-12 08:00 UTC\n"
           "/etc/nginx/site:3 | certificate /ssl/soon.pem: valid for 14 days or more | expires on "
           "2027-01-20 09:00 UTC, in 5 days\n"
           "/etc/nginx/site:4 | certificate /ssl/other.pem: covers example.com | it names "
           "*.example.com\n"
           "/etc/nginx/site:5 | key /ssl/mismatch.key: the private key of certificate "
           "/ssl/mismatch.pem | the key of another certificate\n"
           "/etc/nginx/site:6 | certificate /ssl/missing.pem: a readable PEM file | missing (No "
           "such file or directory)\n"
           "/etc/nginx/site:7 | certificate /ssl/junk.pem: a readable PEM file | /ssl/junk.pem: no "
           "PEM block (expected -----BEGIN CERTIFICATE-----)\n"
           "/etc/nginx/site:8 | key /ssl/nokey.pem: the private key of certificate /ssl/nokey.pem "
           "| no PRIVATE KEY block\n"
           "/etc/nginx/site:9 | certificate /ssl/chain.pem (#2 in the file, CN=Old CA): valid for "
           "14 days or more | expired on 2027-01-15 07:00 UTC\n");
  CHECK(result.message
        == "nginx: certificate /ssl/old.pem expired on 2027-01-12 08:00 UTC (/etc/nginx/site:2) "
           "(and 7 more)");

  // cert_min_days = 0 lets the one expiring soon pass; an expired one still fails.
  const auto lenient = parsed("server = \"nginx\"\ncert_min_days = 0");
  WebserverObservation two;
  two.now = k_now;
  two.certificates = {soon};
  CHECK(checks::evaluate_webserver(lenient, two).status == Status::pass);
  two.certificates = {expired};
  CHECK(checks::evaluate_webserver(lenient, two).status == Status::fail);
}

TEST_CASE("webserver: a certificate readygate may not read is an error, an encrypted key a note",
          "[webserver]")
{
  const auto spec = parsed("server = \"apache\"");
  WebserverObservation observation;
  observation.now = k_now;
  WebserverObservation::Certificate site;
  site.use.certificate = "/ssl/site.pem";
  site.use.where = at("/etc/apache2/site.conf", 4);
  site.state = {PathState::Kind::file, "", ""};
  site.contents = util::Result<util::PemContents>(
    util::make_error(util::Errc::permission, "/ssl/site.pem: cannot open: Permission denied"));
  observation.certificates = {site};
  const auto denied = checks::evaluate_webserver(spec, observation);
  CHECK(denied.status == Status::error);
  CHECK(denied.message
        == "apache: /ssl/site.pem: cannot open: Permission denied (/etc/apache2/site.conf:4)");

  util::PemContents encrypted = pem({certificate({"site.example.com"}, 24h * 90)});
  encrypted.has_private_key = true;
  encrypted.private_key_encrypted = true;
  observation.certificates[0].contents = encrypted;
  const auto noted = checks::evaluate_webserver(spec, observation);
  CHECK(noted.status == Status::pass);
  CHECK_THAT(noted.message,
             Catch::EndsWith(
               "not checked: key /ssl/site.pem is encrypted: not matched with its certificate"));
}

namespace {

// One certificate file of an nginx site, read, with its key in it.
WebserverObservation::Certificate
read_certificate(std::string path, std::vector<std::string> names, util::PemContents contents)
{
  WebserverObservation::Certificate certificate;
  certificate.use.certificate = std::move(path);
  certificate.use.where = at("/etc/nginx/site", 3);
  certificate.names = std::move(names);
  certificate.state = {PathState::Kind::file, "", ""};
  contents.has_private_key = true;
  contents.private_key_public_sha256 = contents.certificates.front().public_key_sha256;
  certificate.contents = std::move(contents);
  return certificate;
}

util::ChainProblem
chain_problem(util::ChainProblemKind kind,
              std::size_t depth,
              std::string subject,
              std::string issuer,
              std::optional<std::size_t> offered)
{
  util::ChainProblem problem;
  problem.kind = kind;
  problem.depth = depth;
  problem.subject = std::move(subject);
  problem.issuer = std::move(issuer);
  problem.offered = offered;
  problem.not_before = k_now - 24h * 400;
  problem.not_after = k_now - 24h * 2;
  problem.reason = "certificate signature failure";
  return problem;
}

} // namespace

TEST_CASE("webserver: a chain that does not reach a trust anchor fails, naming the missing issuer",
          "[webserver]")
{
  const auto spec = parsed("server = \"nginx\"\nca_file = \"/etc/ssl/internal-ca.pem\"");
  WebserverObservation observation;
  observation.now = k_now;
  auto site = read_certificate(
    "/ssl/www.pem", {"www.example.com"}, pem({certificate({"www.example.com"}, 24h * 90)}));

  // Verified: passes.
  site.verification = util::ChainVerification{{"CN=www.example.com", "CN=Root"}, {}};
  observation.certificates = {site};
  CHECK(checks::evaluate_webserver(spec, observation).status == Status::pass);

  // The intermediate is not in the file: the issuer the leaf names is what is missing.
  site.verification =
    util::ChainVerification{{"CN=www.example.com"},
                            {chain_problem(util::ChainProblemKind::missing_issuer,
                                           0,
                                           "CN=www.example.com",
                                           "CN=Readygate Intermediate,O=Readygate",
                                           0)}};
  observation.certificates = {site};
  const auto missing = checks::evaluate_webserver(spec, observation);
  CHECK(missing.status == Status::fail);
  CHECK(findings_text(missing)
        == "/etc/nginx/site:3 | certificate /ssl/www.pem: a chain to a trust anchor of ca_file "
           "/etc/ssl/internal-ca.pem | no certificate of its issuer CN=Readygate "
           "Intermediate,O=Readygate (the issuer of CN=www.example.com) in the files or among the "
           "trust anchors\n");
  CHECK(missing.message
        == "nginx: certificate /ssl/www.pem: its chain does not reach a trust anchor: no "
           "certificate of its issuer CN=Readygate Intermediate,O=Readygate (the issuer of "
           "CN=www.example.com) in the files or among the trust anchors (/etc/nginx/site:3)");

  // A self-signed root that is no anchor, a bad signature, an expired anchor: each named. An
  // expired certificate the server sends is judged by its dates (once), not here again.
  site.verification = util::ChainVerification{
    {"CN=www.example.com", "CN=Intermediate", "CN=Own Root"},
    {chain_problem(util::ChainProblemKind::expired, 1, "CN=Intermediate", "CN=Own Root", 1),
     chain_problem(util::ChainProblemKind::untrusted_root, 2, "CN=Own Root", "CN=Own Root", 2),
     chain_problem(util::ChainProblemKind::other, 1, "CN=Intermediate", "CN=Own Root", 1),
     chain_problem(util::ChainProblemKind::expired, 2, "CN=Old Anchor", "CN=Old Anchor", {}),
     chain_problem(
       util::ChainProblemKind::not_yet_valid, 2, "CN=New Anchor", "CN=New Anchor", {})}};
  observation.certificates = {site};
  const auto several = checks::evaluate_webserver(parsed("server = \"nginx\""), observation);
  CHECK(several.status == Status::fail);
  CHECK(findings_text(several)
        == "/etc/nginx/site:3 | certificate /ssl/www.pem: a chain to a trust anchor of the system "
           "store | it ends at CN=Own Root, self-signed and not a trust anchor\n"
           "/etc/nginx/site:3 | certificate /ssl/www.pem: a chain to a trust anchor of the system "
           "store | CN=Intermediate: certificate signature failure\n"
           "/etc/nginx/site:3 | certificate /ssl/www.pem: a chain to a trust anchor of the system "
           "store | CN=Old Anchor, a trust anchor expired on 2027-01-13 08:00 UTC\n"
           "/etc/nginx/site:3 | certificate /ssl/www.pem: a chain to a trust anchor of the system "
           "store | CN=New Anchor, a trust anchor is not valid before 2025-12-11 08:00 UTC\n");

  // The trust anchors could not be read: the chain could not be judged, an error.
  site.verification = util::Result<util::ChainVerification>(util::make_error(
    util::Errc::io, "/etc/ssl/internal-ca.pem: cannot open: No such file or directory"));
  observation.certificates = {site};
  const auto unread = checks::evaluate_webserver(spec, observation);
  CHECK(unread.status == Status::error);
  CHECK(unread.message
        == "nginx: certificate /ssl/www.pem: its chain could not be verified: "
           "/etc/ssl/internal-ca.pem: cannot open: No such file or directory (/etc/nginx/site:3)");
}

TEST_CASE("webserver: names are matched as OpenSSL matches them: no *.com, addresses as bytes",
          "[webserver]")
{
  const auto spec = parsed("server = \"nginx\"");
  WebserverObservation observation;
  observation.now = k_now;
  observation.certificates = {
    read_certificate("/ssl/tld.pem", {"example.com"}, pem({certificate({"*.com"}, 24h * 90)})),
    read_certificate("/ssl/v6.pem",
                     {"0:0:0:0:0:0:0:1", "2001:DB8::A"},
                     pem({certificate({"::1", "2001:db8::a"}, 24h * 90)})),
  };
  const auto result = checks::evaluate_webserver(spec, observation);
  CHECK(result.status == Status::fail);
  CHECK(findings_text(result)
        == "/etc/nginx/site:3 | certificate /ssl/tld.pem: covers example.com | it names *.com\n");

  observation.certificates = {
    read_certificate("/ssl/v6.pem", {"::2"}, pem({certificate({"::1"}, 24h * 90)}))};
  CHECK(checks::evaluate_webserver(spec, observation).status == Status::fail);
}

TEST_CASE("webserver: ca_file is a path, taken from the config's directory", "[webserver]")
{
  CHECK_FALSE(parsed("server = \"nginx\"").ca_file);
  const auto spec = k_harness.parsed("server = \"nginx\"\nca_file = \"ca/root.pem\"");
  CHECK(spec.ca_file == std::filesystem::path("/etc/readygate/ca/root.pem"));
  const auto wrong = parse("server = \"nginx\"\nca_file = 3");
  REQUIRE_FALSE(wrong);
  CHECK_THAT(wrong.error().message, Catch::Contains("ca_file"));
}

TEST_CASE("webserver: upstreams: refused fails, no answer in time is an error", "[webserver]")
{
  const auto spec = parsed("server = \"nginx\"");
  WebserverObservation observation;
  observation.now = k_now;
  const checks::webserver::UpstreamTarget app{
    "127.0.0.1", 8080, "", "127.0.0.1:8080", at("/etc/nginx/nginx.conf", 6)};
  const checks::webserver::UpstreamTarget php{
    "", 0, "/run/php.sock", "unix:/run/php.sock", at("/etc/nginx/nginx.conf", 7)};
  const checks::webserver::UpstreamTarget slow{
    "127.0.0.1", 9000, "", "127.0.0.1:9000", at("/etc/nginx/nginx.conf", 8)};
  observation.connections = {
    {app,
     util::Result<std::chrono::milliseconds>(
       util::make_error(util::Errc::network, "127.0.0.1:8080: connection refused"))},
    {php,
     util::Result<std::chrono::milliseconds>(
       util::make_error(util::Errc::network, "unix:/run/php.sock: no such socket"))},
    {slow,
     util::Result<std::chrono::milliseconds>(
       util::make_error(util::Errc::timeout, "127.0.0.1:9000: no answer within 5000 ms"))},
  };
  const auto result = checks::evaluate_webserver(spec, observation);
  CHECK(result.status == Status::fail);
  CHECK(findings_text(result)
        == "/etc/nginx/nginx.conf:6 | upstream 127.0.0.1:8080: accepts connections | "
           "127.0.0.1:8080: connection refused\n"
           "/etc/nginx/nginx.conf:7 | upstream unix:/run/php.sock: accepts connections | "
           "unix:/run/php.sock: no such socket\n"
           "/etc/nginx/nginx.conf:8 | upstream 127.0.0.1:9000: accepts connections | "
           "127.0.0.1:9000: no answer within 5000 ms\n");
  CHECK(
    result.message
    == "nginx: upstream 127.0.0.1:8080 refuses connections (/etc/nginx/nginx.conf:6) (and 1 more)");
  observation.connections.erase(observation.connections.begin(),
                                observation.connections.begin() + 2);
  CHECK(checks::evaluate_webserver(spec, observation).status == Status::error);
  observation.connections[0].outcome = 2ms;
  observation.upstreams_elsewhere = 2;
  const auto passed = checks::evaluate_webserver(spec, observation);
  CHECK(passed.status == Status::pass);
  CHECK(passed.message
        == "nginx: configuration accepted; 0 served paths, 0 certificates, 1 upstream as expected; "
           "not checked: 2 upstreams on other hosts");
}

TEST_CASE("webserver: required names and the default site", "[webserver]")
{
  auto spec = parsed("server = \"nginx\"\nrequire_server_names = [\"www.example.com\", "
                     "\"api.example.com\"]\nforbid_default_site = true");
  WebserverObservation observation;
  observation.now = k_now;
  observation.config.files = {"/etc/nginx/nginx.conf"};
  checks::webserver::VirtualServer app;
  app.syntax = checks::webserver::NameSyntax::nginx;
  app.names = {"*.example.com"};
  app.where = at("/etc/nginx/sites-enabled/app", 1);
  checks::webserver::VirtualServer fallback;
  fallback.syntax = checks::webserver::NameSyntax::nginx;
  fallback.names = {"_"};
  fallback.where = at("/etc/nginx/sites-enabled/default", 21);
  fallback.default_site = "the distribution's default site (/etc/nginx/sites-enabled/default)";
  observation.config.servers = {app, fallback};
  auto result = checks::evaluate_webserver(spec, observation);
  CHECK(result.status == Status::fail);
  CHECK(findings_text(result)
        == "/etc/nginx/sites-enabled/default:21 | no default site enabled (forbid_default_site) | "
           "the distribution's default site (/etc/nginx/sites-enabled/default)\n");
  observation.config.servers[0].names = {"www.example.com"};
  result = checks::evaluate_webserver(spec, observation);
  CHECK(findings_text(result)
        == "/etc/nginx/nginx.conf | a virtual server that serves api.example.com | server names "
           "www.example.com, _\n"
           "/etc/nginx/sites-enabled/default:21 | no default site enabled (forbid_default_site) | "
           "the distribution's default site (/etc/nginx/sites-enabled/default)\n");
  CHECK(result.message == "nginx: no virtual server serves api.example.com (and 1 more)");
  spec.forbid_default_site = false;
  spec.require_server_names = {"www.example.com"};
  CHECK(checks::evaluate_webserver(spec, observation).status == Status::pass);
}

TEST_CASE("webserver: probes: status, headers, body, TLS identity, no answer, no listener",
          "[webserver]")
{
  const auto spec = parsed(R"(server = "nginx"
[[check.probe]]
host = "www.example.com"
body_contains = "release 1.4.2"
expect_headers = { X-Release = "1.4.2" }
[[check.probe]]
status = 301
[[check.probe]]
host = "gone.example.com"
[[check.probe]]
[[check.probe]])");
  WebserverObservation observation;
  observation.now = k_now;
  const auto target = [](std::string shown) {
    checks::webserver::ProbeTarget t;
    t.shown = std::move(shown);
    return t;
  };
  observation.probes = {
    {0,
     target("GET https://www.example.com:443/"),
     "",
     util::HttpResponse{200, {{"x-release", "1.4.1"}}, "release 1.4.1", false, 3ms}},
    {1, target("GET http://127.0.0.1:80/"), "", util::HttpResponse{200, {}, "", false, 3ms}},
    {2, std::nullopt, "no virtual server serves gone.example.com", std::nullopt},
    {3,
     target("GET https://127.0.0.1:443/"),
     "",
     util::Result<util::HttpResponse>(
       util::make_error(util::Errc::tls, "tls verification failed: certificate has expired"))},
    {4,
     target("GET http://127.0.0.1:81/"),
     "",
     util::Result<util::HttpResponse>(
       util::make_error(util::Errc::timeout, "no answer within 5000 ms"))},
  };
  const auto result = checks::evaluate_webserver(spec, observation);
  CHECK(result.status == Status::fail);
  CHECK(findings_text(result)
        == "GET https://www.example.com:443/ header x-release | 1.4.2 | 1.4.1\n"
           "GET https://www.example.com:443/ body | contains \"release 1.4.2\" | release 1.4.1\n"
           "GET http://127.0.0.1:80/ status | 301 | 200\n"
           "probe at test.toml:11:1 | a listener that serves its host | no virtual server serves "
           "gone.example.com\n"
           "GET https://127.0.0.1:443/ | a certificate that verifies | tls verification failed: "
           "certificate has expired\n"
           "GET http://127.0.0.1:81/ | an answer | no answer within 5000 ms\n");
  CHECK(result.message
        == "nginx: GET https://www.example.com:443/: header x-release is \"1.4.1\", expected "
           "\"1.4.2\" (and 4 more)");
}

TEST_CASE("webserver: a missing binary, a timeout or a hung test is an error, never a pass",
          "[webserver]")
{
  Fakes fakes;
  const auto none = checks::run_webserver(parsed("server = \"nginx\""), fakes.context());
  CHECK(none.status == Status::error);
  CHECK(none.message
        == "nginx: no program to test it with (tried nginx, /usr/sbin/nginx): cannot run "
           "/usr/sbin/nginx: No such file or directory");
  REQUIRE(fakes.runner->requests.size() == 2);

  const auto named = checks::run_webserver(
    parsed("server = \"haproxy\"\nbinary = \"/opt/haproxy/sbin/haproxy\""), fakes.context());
  CHECK(named.status == Status::error);
  CHECK(named.message
        == "haproxy -c: cannot run /opt/haproxy/sbin/haproxy: No such file or directory");

  fakes.runner->outcomes.emplace("apache2ctl",
                                 util::Result<util::ProcessOutcome>(util::make_error(
                                   util::Errc::timeout, "apache2ctl did not exit within 5000 ms")));
  const auto slow = checks::run_webserver(parsed("server = \"apache\""), fakes.context());
  CHECK(slow.status == Status::error);
  CHECK(slow.message == "apachectl -t: apache2ctl did not exit within 5000 ms");
}

TEST_CASE("webserver: nginx end to end through fakes: every reference observed, probes sent",
          "[webserver]")
{
  Fakes fakes;
  fakes.runner->outcomes.emplace(
    "nginx",
    exited(0,
           R"(# configuration file /etc/nginx/nginx.conf:
user www-data;
http {
  upstream app { server 127.0.0.1:8080; server 10.9.9.9:8080; server 192.0.2.10:8081; }
  server {
    listen 443 ssl;
    server_name www.example.com;
    root /srv/app/public;
    ssl_certificate /etc/ssl/www.pem;
    ssl_certificate_key /etc/ssl/www.key;
    location /api { proxy_pass http://app; }
    location /php { fastcgi_pass unix:/run/php.sock; }
  }
}
)",
           "nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n"));
  fakes.host->states["/srv/app/public"] = {PathState::Kind::directory, "", ""};
  fakes.host->files["/etc/ssl/www.pem"] = "";
  fakes.host->files["/etc/ssl/www.key"] = "";
  fakes.host->sockets.emplace("/run/php.sock", 1ms);
  fakes.x509->contents.emplace("/etc/ssl/www.pem", pem({current({"www.example.com"})}));
  fakes.x509->contents.emplace("/etc/ssl/www.key", pem({}, "k1"));
  fakes.tcp->results.emplace("127.0.0.1:8080", 1ms);
  fakes.tcp->results.emplace("192.0.2.10:8081", 1ms);
  const auto spec = parsed(R"(server = "nginx"
require_server_names = "www.example.com"
[[check.probe]]
host = "www.example.com"
path = "/version"
body_contains = "release 1.4.2")");
  const auto result = checks::run_webserver(spec, fakes.context());
  INFO(result.message << "\n" << findings_text(result));
  CHECK(result.status == Status::pass);
  CHECK(result.message
        == "nginx: configuration accepted; 1 served path, 1 certificate, 3 upstreams, 1 probe as "
           "expected; not checked: 1 upstream on another host");
  CHECK(fakes.host->worker_asked == "www-data");
  CHECK(fakes.tcp->asked == std::vector<std::string>{"127.0.0.1:8080", "192.0.2.10:8081"});
  REQUIRE(fakes.http->requests.size() == 1);
  const auto& request = fakes.http->requests[0];
  CHECK(request.url == "https://www.example.com:443/version");
  CHECK(request.connect_to == std::vector<std::string>{"www.example.com:443:127.0.0.1:443"});
  CHECK_FALSE(request.proxy);
  CHECK(request.timeout <= 5s);

  // The same host with the app's upstream down and the docroot gone.
  fakes.tcp->results.erase("127.0.0.1:8080");
  fakes.host->states.erase("/srv/app/public");
  const auto broken = checks::run_webserver(spec, fakes.context());
  CHECK(broken.status == Status::fail);
  CHECK(findings_text(broken)
        == "/etc/nginx/nginx.conf:7 | root /srv/app/public: a readable directory | missing (No "
           "such file or directory)\n"
           "/etc/nginx/nginx.conf:3 | upstream 127.0.0.1:8080: accepts connections | "
           "127.0.0.1:8080: connection refused\n");
}

TEST_CASE("webserver: nginx output that cannot be read is an error", "[webserver]")
{
  Fakes fakes;
  fakes.runner->outcomes.emplace(
    "nginx", exited(0, "# configuration file /etc/nginx/nginx.conf:\nhttp {\n"));
  const auto result = checks::run_webserver(parsed("server = \"nginx\""), fakes.context());
  CHECK(result.status == Status::error);
  CHECK(result.message
        == "nginx: cannot read its configuration: nginx -T output: /etc/nginx/nginx.conf:1: "
           "\"http\" block is not closed");
}

TEST_CASE("webserver: haproxy through fakes: a config directory, a crt directory, keys beside",
          "[webserver]")
{
  Fakes fakes;
  fakes.runner->outcomes.emplace("haproxy", exited(0, "Configuration file is valid\n"));
  fakes.host->states["/etc/haproxy/conf.d"] = {PathState::Kind::directory, "", ""};
  fakes.host->states["/etc/haproxy/certs"] = {PathState::Kind::directory, "", ""};
  fakes.host->directories["/etc/haproxy/conf.d"] = {"/etc/haproxy/conf.d/a.cfg"};
  fakes.host->directories["/etc/haproxy/certs"] = {
    "/etc/haproxy/certs/a.pem", "/etc/haproxy/certs/a.pem.key", "/etc/haproxy/certs/b.pem"};
  fakes.host->files["/etc/haproxy/conf.d/a.cfg"] =
    "frontend web\n  bind :443 ssl crt /etc/haproxy/certs\n  use_backend app if { hdr(host) -i "
    "shop.example.com }\nbackend app\n  server a 127.0.0.1:8080\n";
  fakes.host->files["/etc/haproxy/certs/a.pem"] = "";
  fakes.host->files["/etc/haproxy/certs/a.pem.key"] = "";
  fakes.host->files["/etc/haproxy/certs/b.pem"] = "";
  fakes.x509->contents.emplace("/etc/haproxy/certs/a.pem", pem({current({"a.example.com"}, "ka")}));
  fakes.x509->contents.emplace("/etc/haproxy/certs/a.pem.key", pem({}, "ka"));
  fakes.x509->contents.emplace("/etc/haproxy/certs/b.pem",
                               pem({current({"b.example.com", "shop.example.com"}, "kb")}, "kx"));
  fakes.tcp->results.emplace("127.0.0.1:8080", 1ms);
  const auto spec =
    parsed("server = \"haproxy\"\nconfig = \"/etc/haproxy/conf.d\"\nrequire_server_names = "
           "[\"shop.example.com\"]");
  const auto result = checks::run_webserver(spec, fakes.context());
  CHECK(result.status == Status::fail);
  CHECK(findings_text(result)
        == "/etc/haproxy/conf.d/a.cfg:2 | key /etc/haproxy/certs/b.pem: the private key of "
           "certificate /etc/haproxy/certs/b.pem | the key of another certificate\n");
  REQUIRE(fakes.runner->requests.size() == 1);
  CHECK(fakes.runner->requests[0].argv
        == std::vector<std::string>{"haproxy", "-c", "-f", "/etc/haproxy/conf.d"});

  // No certificate of the frontend covers a name it routes on over TLS.
  fakes.x509->contents.erase("/etc/haproxy/certs/b.pem");
  fakes.x509->contents.emplace("/etc/haproxy/certs/b.pem",
                               pem({current({"b.example.com"}, "kb")}, "kb"));
  const auto uncovered = checks::run_webserver(spec, fakes.context());
  CHECK(uncovered.status == Status::fail);
  CHECK(findings_text(uncovered)
        == "/etc/haproxy/conf.d/a.cfg:1 | a certificate that covers shop.example.com | none of "
           "/etc/haproxy/certs/a.pem, /etc/haproxy/certs/b.pem does\n");
}

TEST_CASE("webserver: apache through fakes: included files are read through the host probe",
          "[webserver]")
{
  Fakes fakes;
  fakes.runner->outcomes.emplace("apache2ctl", exited(0, R"(Included configuration files:
  (*) /etc/apache2/apache2.conf
VirtualHost configuration:
*:80                   www.example.com (/etc/apache2/apache2.conf:2)
ServerRoot: "/etc/apache2"
Main DocumentRoot: "/var/www/html"
User: name="www-data" id=33
)"));
  fakes.host->files["/etc/apache2/apache2.conf"] =
    "Listen 80\n<VirtualHost *:80>\n  ServerName www.example.com\n  DocumentRoot /srv/www\n  "
    "ProxyPass /app http://127.0.0.1:8080/\n</VirtualHost>\n";
  fakes.host->states["/srv/www"] = {
    PathState::Kind::directory, "", "www-data cannot search /srv (mode 0700, owner 0:0)"};
  fakes.tcp->results.emplace("127.0.0.1:8080", 1ms);
  const auto result = checks::run_webserver(
    parsed("server = \"apache\"\nrequire_server_names = \"www.example.com\""), fakes.context());
  CHECK(result.status == Status::fail);
  CHECK(result.message
        == "apache: DocumentRoot /srv/www: www-data cannot search /srv (mode 0700, owner 0:0) "
           "(/etc/apache2/apache2.conf:4)");
  CHECK(fakes.host->worker_asked == "www-data");

  fakes.host->files.erase("/etc/apache2/apache2.conf");
  const auto unreadable = checks::run_webserver(parsed("server = \"apache\""), fakes.context());
  CHECK(unreadable.status == Status::error);
  CHECK_THAT(unreadable.message,
             Catch::StartsWith(
               "apache: cannot read its configuration: /etc/apache2/apache2.conf: cannot open"));
}

TEST_CASE("webserver: chains through fakes: Apache's SSLCertificateChainFile and HAProxy's "
          "issuers-chain-path are the intermediates, verified against ca_file",
          "[webserver]")
{
  Fakes fakes;
  fakes.runner->outcomes.emplace("apache2ctl", exited(0, R"(Included configuration files:
  (*) /etc/apache2/apache2.conf
VirtualHost configuration:
*:443                  www.example.com (/etc/apache2/apache2.conf:3)
ServerRoot: "/etc/apache2"
User: name="www-data" id=33
Loaded Modules:
 ssl_module (shared)
)"));
  fakes.host->files["/etc/apache2/apache2.conf"] =
    "Listen 443\nSSLCertificateChainFile /etc/ssl/main-chain.pem\n<VirtualHost *:443>\n"
    "  ServerName www.example.com\n  SSLEngine on\n  SSLCertificateFile /etc/ssl/www.pem\n"
    "  SSLCertificateKeyFile /etc/ssl/www.key\n  SSLCertificateChainFile ssl/chain.pem\n"
    "</VirtualHost>\n";
  fakes.host->files["/etc/ssl/www.pem"] = "";
  fakes.host->files["/etc/ssl/www.key"] = "";
  fakes.host->files["/etc/apache2/ssl/chain.pem"] = "";
  auto leaf = current({"www.example.com"});
  auto intermediate = current({"Readygate Intermediate"}, "ki");
  fakes.x509->contents.emplace("/etc/ssl/www.pem", pem({leaf}));
  fakes.x509->contents.emplace("/etc/ssl/www.key", pem({}, "k1"));
  fakes.x509->contents.emplace("/etc/apache2/ssl/chain.pem", pem({intermediate}));
  const auto spec = parsed("server = \"apache\"\nca_file = \"/etc/ssl/internal-ca.pem\"");
  const auto result = checks::run_webserver(spec, fakes.context());
  INFO(result.message << "\n" << findings_text(result));
  CHECK(result.status == Status::pass);
  CHECK(fakes.x509->ca_file_asked == std::filesystem::path("/etc/ssl/internal-ca.pem"));
  CHECK(
    fakes.x509->chains_asked
    == std::vector<std::vector<std::string>>{{"CN=www.example.com", "CN=Readygate Intermediate"}});

  // An intermediate of the chain file that expires soon fails like one of the file.
  fakes.x509->contents.erase("/etc/apache2/ssl/chain.pem");
  auto soon = intermediate;
  soon.not_after = std::chrono::system_clock::now() + 24h * 3;
  fakes.x509->contents.emplace("/etc/apache2/ssl/chain.pem", pem({soon}));
  const auto expiring = checks::run_webserver(spec, fakes.context());
  CHECK(expiring.status == Status::fail);
  CHECK_THAT(findings_text(expiring),
             Catch::StartsWith("/etc/apache2/apache2.conf:6 | chain certificate "
                               "/etc/apache2/ssl/chain.pem (#1 in the file, CN=Readygate "
                               "Intermediate): valid for 14 days or more | expires on "));

  // The chain file missing fails at the certificate's line; its chain is not verified then.
  fakes.host->files.erase("/etc/apache2/ssl/chain.pem");
  fakes.x509->chains_asked.clear();
  const auto missing = checks::run_webserver(spec, fakes.context());
  CHECK(missing.status == Status::fail);
  CHECK(findings_text(missing)
        == "/etc/apache2/apache2.conf:6 | chain /etc/apache2/ssl/chain.pem: a readable PEM file | "
           "missing (No such file or directory)\n");
  CHECK(fakes.x509->chains_asked.empty());

  // Without its own, a virtual host uses the main server's; a chain that does not verify fails.
  fakes.host->files["/etc/apache2/apache2.conf"] =
    "Listen 443\nSSLCertificateChainFile /etc/ssl/main-chain.pem\n<VirtualHost *:443>\n"
    "  ServerName www.example.com\n  SSLEngine on\n  SSLCertificateFile /etc/ssl/www.pem\n"
    "  SSLCertificateKeyFile /etc/ssl/www.key\n</VirtualHost>\n";
  fakes.host->files["/etc/ssl/main-chain.pem"] = "";
  fakes.x509->contents.emplace("/etc/ssl/main-chain.pem", pem({}));
  util::ChainProblem problem;
  problem.kind = util::ChainProblemKind::missing_issuer;
  problem.subject = "CN=www.example.com";
  problem.issuer = "CN=Readygate Intermediate";
  problem.offered = 0;
  fakes.x509->verifications["CN=www.example.com"] = {{"CN=www.example.com"}, {problem}};
  const auto unverified = checks::run_webserver(spec, fakes.context());
  CHECK(unverified.status == Status::fail);
  CHECK(findings_text(unverified)
        == "/etc/apache2/apache2.conf:6 | certificate /etc/ssl/www.pem: a chain to a trust anchor "
           "of ca_file /etc/ssl/internal-ca.pem | no certificate of its issuer CN=Readygate "
           "Intermediate (the issuer of CN=www.example.com) in the files or among the trust "
           "anchors\n");
  CHECK(fakes.x509->chains_asked.back() == std::vector<std::string>{"CN=www.example.com"});

  // The trust anchors could not be read: an error.
  fakes.x509->verifications.clear();
  fakes.x509->anchors_error =
    util::make_error(util::Errc::io, "/etc/ssl/internal-ca.pem: cannot open: No such file");
  CHECK(checks::run_webserver(spec, fakes.context()).status == Status::error);

  // HAProxy: every file of issuers-chain-path is offered as an intermediate.
  Fakes haproxy;
  haproxy.runner->outcomes.emplace("haproxy", exited(0, "Configuration file is valid\n"));
  haproxy.host->files["/etc/haproxy/haproxy.cfg"] =
    "global\n  issuers-chain-path /etc/haproxy/issuers\nfrontend web\n  bind :443 ssl crt "
    "/etc/haproxy/www.pem\n";
  haproxy.host->states["/etc/haproxy/issuers"] = {PathState::Kind::directory, "", ""};
  haproxy.host->directories["/etc/haproxy/issuers"] = {"/etc/haproxy/issuers/a.pem",
                                                       "/etc/haproxy/issuers/b.pem"};
  haproxy.host->files["/etc/haproxy/www.pem"] = "";
  haproxy.x509->contents.emplace("/etc/haproxy/www.pem", pem({leaf}, "k1"));
  haproxy.x509->contents.emplace("/etc/haproxy/issuers/a.pem", pem({intermediate}));
  haproxy.x509->contents.emplace("/etc/haproxy/issuers/b.pem", pem({current({"Other CA"}, "ko")}));
  const auto proxied = checks::run_webserver(parsed("server = \"haproxy\""), haproxy.context());
  INFO(proxied.message << "\n" << findings_text(proxied));
  CHECK(proxied.status == Status::pass);
  CHECK_FALSE(haproxy.x509->ca_file_asked);
  CHECK(haproxy.x509->chains_asked
        == std::vector<std::vector<std::string>>{
          {"CN=www.example.com", "CN=Readygate Intermediate", "CN=Other CA"}});
  haproxy.x509->contents.erase("/etc/haproxy/issuers/b.pem");
  haproxy.x509->contents.emplace(
    "/etc/haproxy/issuers/b.pem",
    util::Result<util::PemContents>(util::make_error(
      util::Errc::protocol,
      "/etc/haproxy/issuers/b.pem: no PEM block (expected -----BEGIN CERTIFICATE-----)")));
  const auto junk = checks::run_webserver(parsed("server = \"haproxy\""), haproxy.context());
  CHECK(junk.status == Status::fail);
  CHECK(findings_text(junk)
        == "/etc/haproxy/haproxy.cfg:4 | chain /etc/haproxy/issuers/b.pem: a readable PEM file | "
           "/etc/haproxy/issuers/b.pem: no PEM block (expected -----BEGIN CERTIFICATE-----)\n");
}

TEST_CASE("webserver: configuration files past 64 MiB in all are an error, not a partial reading",
          "[webserver]")
{
  Fakes fakes;
  std::string dump = "Included configuration files:\n  (*) /etc/apache2/apache2.conf\n";
  fakes.host->files["/etc/apache2/apache2.conf"] = "";
  for (int i = 0; i < 17; ++i) {
    const auto path = fmt::format("/etc/apache2/conf.d/{:02}.conf", i);
    dump += fmt::format("    (1) {}\n", path);
    fakes.host->files[path] = "#" + std::string(4 * 1024 * 1024 - 2, 'x') + "\n";
  }
  fakes.host->files["/etc/apache2/apache2.conf"] = "IncludeOptional conf.d/*.conf\n";
  dump += "VirtualHost configuration:\nServerRoot: \"/etc/apache2\"\n";
  fakes.runner->outcomes.emplace("apache2ctl", exited(0, dump));
  const auto result = checks::run_webserver(parsed("server = \"apache\""), fakes.context());
  CHECK(result.status == Status::error);
  CHECK(result.message
        == "apache: cannot read its configuration: the configuration files are larger than 64 MiB "
           "in all");
}

TEST_CASE("webserver: the README's probe key table lists exactly the [[check.probe]] keys",
          "[webserver]")
{
  std::ifstream in(RG_README_PATH);
  REQUIRE(in);
  std::set<std::string> listed;
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.starts_with("| probe key |")) {
      in_table = true;
      continue;
    }
    if (in_table && !line.starts_with("|")) {
      break;
    }
    if (in_table && line.starts_with("| `")) {
      const auto column = line.substr(2, line.find(" |", 2) - 2);
      for (auto open = column.find('`'); open != std::string::npos;
           open = column.find('`', column.find('`', open + 1) + 1)) {
        listed.emplace(column.substr(open + 1, column.find('`', open + 1) - open - 1));
      }
    }
  }
  std::set<std::string> declared;
  for (const auto& key : checks::webserver_probe_keys()) {
    declared.emplace(key.name);
  }
  CHECK(listed == declared);
}
