// The `http` kind: request a URL and compare the answer (status, headers, body) with what the
// release expects.
//
// Fail or error:
//   pass   an answer came, and its status, the expected headers and the body all match
//   fail   an answer came and differs: another status, a header missing or different, the body
//          without an expected string or pattern; a server whose TLS certificate does not verify
//          (it answered, with the wrong identity: expired, self-signed, another name); a
//          file:// URL whose file does not exist or is not a regular file (a directory, a fifo)
//   error  no answer: connection refused, timeout, name not resolved, connection reset, an
//          unreadable file; also a body longer than `body_limit` whose kept part lacks an
//          expected string, or that a pattern is to be matched against (the rest could not be
//          looked at; `$` would match at the cut)
//
// Example:
//   [[check]]
//   id = "api-version"
//   kind = "http"
//   url = "http://127.0.0.1:8080/version"
//   status = [200, 204]                        # default 200; not for file:// URLs
//   headers = { Host = "api.example.com" }
//   expect_headers = { content-type = "application/json" }
//   body_contains = "\"version\": \"1.2.3\""    # a string or an array; all must be present
//   body_matches = ['"build": "[0-9a-f]{40}"']  # Perl-style (Boost.Regex); ^ $: whole body
//   timeout = "5s"
//
// Secret header values (tokens) come from headers_env = { Authorization = "API_TOKEN" } (an
// environment variable's value) or headers_file = { Authorization = "/etc/readygate/token" } (a
// file that is not world-readable), read at each attempt, never printed: any echo of them in a
// response (as sent, percent-encoded, JSON- or XML-escaped) is shown as <redacted>. A secret that
// cannot be read is an error.
//
// Other keys: method (default "GET"), body, unix_socket (a path: the request goes to that socket,
// for Docker-style APIs), tls_verify (default true), ca_file, follow_redirects (default false;
// the configured headers never go to another origin), body_limit (bytes kept of the body,
// default 1 MiB), proxy (a proxy URL; without it no proxy is used, whatever http_proxy,
// https_proxy or ALL_PROXY in the environment say).
//
// A Host header on an https URL names the virtual host: readygate connects to the URL's address
// but sends that name in SNI and verifies the certificate against it, so the check sees the
// certificate a client of that virtual host would get.
#pragma once

#include <config/config.hpp>
#include <config/keys.hpp>
#include <hook/check.hpp>
#include <hook/expect.hpp>
#include <hook/util/http.hpp>
#include <hook/util/pattern.hpp>
#include <hook/util/result.hpp>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace checks {

// --- Interface ---

struct HttpSpec
{
  std::string url;
  bool is_file = false;            // a file:// URL: no status, no request options
  std::filesystem::path file_path; // the file a file:// URL names
  std::string method = "GET";
  util::HeaderList headers;
  std::string body;
  std::optional<std::string> unix_socket;
  std::vector<long> statuses;                       // any of them passes; empty for file:// URLs
  std::vector<hook::Expectation> body_expectations; // body_contains, then body_matches
  util::HeaderList expect_headers;                  // names lowercased; values compared exactly
  util::TlsVerify tls_verify = util::TlsVerify::yes;
  std::optional<std::string> ca_file;
  util::FollowRedirects follow_redirects = util::FollowRedirects::no;
  std::size_t body_limit = 1024 * 1024;
  std::optional<std::string> proxy; // only ever from the config, never from the environment
  // headers_env / headers_file: header values read at run time, never printed.
  std::vector<std::pair<std::string, util::SecretSource>> secret_headers;
  // With a Host header on an https URL: the URL with that virtual host as its host, and where to
  // connect instead, so SNI and the certificate check name the virtual host.
  std::optional<std::string> virtual_host_url;
  std::vector<std::string> connect_to;
};

// Return the keys of the http kind.
config::KeyTable http_keys();

// Validate the keys of `spec` and build a http check.
util::Result<std::unique_ptr<hook::Check>> create_http_check(const config::CheckSpec& spec);

// Read and validate the http keys of `spec`; every config error names its key.
util::Result<HttpSpec> parse_http(const config::CheckSpec& spec);

// Return the request the check sends for `spec`, with `timeout` and `stop`.
util::HttpRequest
http_request_for(const HttpSpec& spec, std::chrono::milliseconds timeout, std::stop_token stop);

// Request what `spec` asks for through the HTTP probe of `ctx` and judge the answer.
hook::CheckResult run_http(const HttpSpec& spec, const hook::CheckContext& ctx);

// Judge `response`, the answer to the request of `spec`, showing none of the secrets of
// `redactor` (the secret headers sent) in any form the response may echo them in.
hook::CheckResult evaluate_http(const HttpSpec& spec,
                                const util::HttpResponse& response,
                                const util::Redactor& redactor = util::Redactor());

// Judge `error`, the failure of the request of `spec`: a certificate that does not verify and a
// missing file are fail, anything else is error.
hook::CheckResult evaluate_http_error(const HttpSpec& spec, const util::Error& error);

} // namespace checks
