// The `webserver` kind: does nginx, Apache httpd or HAProxy accept its configuration, and does
// what that configuration references really serve?
//
// 1. The server's own test, through the process probe within the check's timeout: `nginx -T -e
//    stderr` (the test, then every file it read), `apache2ctl -t -D DUMP_INCLUDES -D DUMP_MODULES
//    -D DUMP_VHOSTS -D DUMP_RUN_CFG` (the test, the files, modules and virtual hosts), `haproxy
//    -c -f CONFIG`. Its diagnostics go into the findings, escaped, each at the file:line it names.
// 2. From the effective configuration (the dump; HAProxy's files): every root / alias /
//    DocumentRoot / Alias exists and the worker user can read it; every certificate file exists,
//    parses, is valid for `cert_min_days` more days, has its key, covers the names it is used
//    for (OpenSSL's X509_check_host / X509_check_ip_asc), and its chain, with the file's other
//    certificates (and Apache's SSLCertificateChainFile, HAProxy's issuers-chain-path) as
//    untrusted intermediates, reaches a trust anchor of `ca_file` or the system store
//    (X509_verify_cert at the host's time); every upstream on this host accepts a connection; every
//    `require_server_names` name is served; with `forbid_default_site`, the distribution's default
//    site is not enabled.
// 3. Each [[check.probe]]: a request sent to the server's own listener (Host and SNI = `host`),
//    judged by status, headers and body.
//
// Fail or error:
//   pass   the test passed and everything above was observed to be right
//   fail   the server's test rejects the configuration; a served path is missing, not a
//          directory or not readable by the worker user; a certificate is missing, not PEM,
//          expired, expiring within cert_min_days, not yet valid, without its key or for other
//          names; its chain does not reach a trust anchor (an intermediate missing, named by its
//          subject; a self-signed root that is no anchor; an intermediate expired or not yet
//          valid; a bad signature); an upstream on this host refuses connections; a required name
//          is not served; the default site is enabled; a probe got another status, header or body,
//          or no listener serves its host
//   error  readygate could not look: the server's binary is missing or not executable, its test
//          timed out, crashed or was denied a file as non-root; its output was cut at
//          output_limit or could not be parsed; readygate may not read a path or a certificate;
//          the trust anchors (ca_file, the system store) could not be read;
//          an upstream or a probe did not answer in time
//
// Example:
//   [[check]]
//   id = "nginx"
//   kind = "webserver"
//   server = "nginx"                       # nginx | apache | haproxy
//   config = "/etc/nginx/nginx.conf"       # optional: the main configuration file
//   require_server_names = ["www.example.com"]
//   forbid_default_site = true
//   cert_min_days = 14
//   ca_file = "/etc/ssl/internal-ca.pem"   # optional: trust anchors instead of the system store
//   [[check.probe]]
//   host = "www.example.com"               # Host header and SNI
//   path = "/version"
//   status = 200
//   body_contains = "release 1.4.2"
#pragma once

#include <checks/webserver/host.hpp>
#include <checks/webserver/model.hpp>
#include <config/config.hpp>
#include <config/keys.hpp>
#include <hook/check.hpp>
#include <hook/expect.hpp>
#include <hook/util/http.hpp>
#include <hook/util/result.hpp>
#include <hook/util/subprocess.hpp>
#include <hook/util/x509.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace checks {

// --- Interface ---

namespace webserver {

struct ServerKind; // one row of the table of servers (servers.hpp)

// One [[check.probe]]: a request to the server's own listener.
struct Probe
{
  std::string path = "/";
  std::optional<std::string> host; // Host header and SNI
  std::optional<std::uint16_t> port;
  std::optional<bool> tls;
  std::vector<long> statuses{200};
  std::vector<hook::Expectation> body_expectations;
  util::HeaderList expect_headers; // names lowercased
  util::TlsVerify tls_verify = util::TlsVerify::yes;
  std::optional<std::string> ca_file;
  std::size_t body_limit = 1024 * 1024;
  std::string where; // "file:line:col" of its [[check.probe]]
};

// Where a probe's request goes.
struct ProbeTarget
{
  std::string url;
  std::vector<std::string> connect_to; // libcurl CONNECT_TO, when `host` differs from the address
  std::optional<std::string> unix_socket;
  std::string shown; // "GET https://www.example.com:8443/health"
};

} // namespace webserver

struct WebserverSpec
{
  const webserver::ServerKind* server = nullptr;
  std::optional<std::string> binary; // a path, or a name looked up in PATH
  std::optional<std::filesystem::path> config;
  std::optional<std::filesystem::path> prefix;
  int cert_min_days = 14;
  std::optional<std::filesystem::path> ca_file; // trust anchors; none: the system store
  std::vector<std::string> require_server_names;
  bool forbid_default_site = false;
  bool check_upstreams = true;
  std::size_t output_limit = 4 * 1024 * 1024;
  std::vector<webserver::Probe> probes;
};

// What readygate observed of the server, after its test passed.
struct WebserverObservation
{
  webserver::ServerConfig config;
  std::vector<webserver::PathState> paths; // one per config.paths

  struct Certificate
  {
    webserver::CertificateUse use;
    std::vector<std::string> names;   // the names it must cover
    std::vector<std::size_t> servers; // indices in config.servers of those that present it
    webserver::PathState state;       // of use.certificate
    std::optional<util::Result<util::PemContents>> contents; // when it is a file
    std::string key_path;                                    // "" when the key is in the file
    std::optional<webserver::PathState> key_state;
    std::optional<util::Result<util::PemContents>> key;
    // use.chain: its state, and each file read (the file itself, or those of the directory).
    std::optional<webserver::PathState> chain_state;
    std::vector<std::pair<std::string, util::Result<util::PemContents>>> chain_files;
    // The chain from the certificate to a trust anchor; none when a file could not be read.
    std::optional<util::Result<util::ChainVerification>> verification;
  };
  std::vector<Certificate> certificates;

  struct Connection
  {
    webserver::UpstreamTarget target;
    util::Result<std::chrono::milliseconds> outcome;
  };
  std::vector<Connection> connections;
  std::size_t upstreams_elsewhere = 0; // targets not on this host, not connected to

  struct ProbeOutcome
  {
    std::size_t probe = 0;                        // index in spec.probes
    std::optional<webserver::ProbeTarget> target; // none: no listener serves its host
    std::string no_target;                        // why, when there is no target
    std::optional<util::Result<util::HttpResponse>> response;
  };
  std::vector<ProbeOutcome> probes;

  std::chrono::system_clock::time_point now;
};

// Return the keys of the webserver kind.
config::KeyTable webserver_keys();

// Return the keys of a [[check.probe]] table.
config::KeyTable webserver_probe_keys();

// Validate the keys of `spec` and build a webserver check.
util::Result<std::unique_ptr<hook::Check>> create_webserver_check(const config::CheckSpec& spec);

// Read and validate the webserver keys of `spec`; every config error names its key (a probe's,
// its position in the probe's table).
util::Result<WebserverSpec> parse_webserver(const config::CheckSpec& spec);

// Return the argv and environment of the server's test for `spec` with `binary`.
util::ProcessRequest webserver_test_request(const WebserverSpec& spec,
                                            const std::string& binary,
                                            const hook::CheckContext& ctx);

// Judge the outcome of the server's test: nullopt when it passed; else fail (it rejected the
// configuration) or error (it could not judge it: killed, denied as non-root, its output cut).
std::optional<hook::CheckResult>
evaluate_server_test(const WebserverSpec& spec, const util::ProcessOutcome& outcome, bool as_root);

// Return where `probe` goes, chosen among the listeners of `config` that serve its host (all
// listeners without a host): those of its `tls` and `port` when set, TLS first, TCP before unix
// sockets, then the lowest port. An error (Errc::config) says why none fits; the check fails with
// it.
util::Result<webserver::ProbeTarget> choose_probe_target(const webserver::ServerConfig& config,
                                                         const webserver::Probe& probe);

// Run the server's test, read its configuration, observe the host through the probes of `ctx`
// and judge it.
hook::CheckResult run_webserver(const WebserverSpec& spec, const hook::CheckContext& ctx);

// Judge `observation` against `spec`.
hook::CheckResult evaluate_webserver(const WebserverSpec& spec,
                                     const WebserverObservation& observation);

} // namespace checks
