// HTTP (and file://) requests through libcurl, one easy handle per request, with a deadline.
#pragma once

#include <hook/util/result.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace util {

// --- Interface ---

using HeaderList = std::vector<std::pair<std::string, std::string>>;

enum class TlsVerify { yes, no };
enum class FollowRedirects { yes, no };

struct HttpRequest
{
  std::string method = "GET";
  std::string url;
  HeaderList headers;
  std::string body;
  std::optional<std::string> unix_socket;    // connect to this socket instead of the URL's host
  std::chrono::milliseconds timeout{10'000}; // the whole request, connect included
  TlsVerify tls_verify = TlsVerify::yes;
  std::optional<std::string> ca_file; // PEM bundle to verify the server with
  // Followed here, not by libcurl, at most 10: the headers of `headers` go to another origin
  // (scheme, host, port) only when it is the one the request was made to, so a redirect can
  // never carry a token to another host; 303 (and 301/302 after a POST) continue with a GET.
  FollowRedirects follow_redirects = FollowRedirects::no;
  std::size_t body_limit = 1024 * 1024;     // bytes of the response body kept
  std::optional<std::string> aws_sigv4;     // CURLOPT_AWS_SIGV4 provider string
  std::optional<std::string> user_password; // "user:password" for CURLOPT_USERPWD; never logged
  // The proxy to use, as libcurl reads CURLOPT_PROXY. Unset: none, whatever the environment's
  // http_proxy, https_proxy or ALL_PROXY say (a site-wide proxy must never answer for the host).
  std::optional<std::string> proxy;
  // CURLOPT_CONNECT_TO entries ("vhost:443:127.0.0.1:8443"): connect there while TLS (SNI and the
  // certificate check) and the Host header use the URL's host.
  std::vector<std::string> connect_to;
  std::stop_token stop; // abort the transfer when requested
};

struct HttpResponse
{
  long status = 0;    // 0 for schemes without a status (file://)
  HeaderList headers; // names lowercased, in the order received (last response only)
  std::string body;
  bool body_truncated = false;
  std::chrono::milliseconds duration{0};
};

class HttpClient
{
public:
  virtual ~HttpClient() = default;

  // Return the real client (CurlHttpClient), for hook::Probes.
  static std::shared_ptr<HttpClient> make_real();

  // Perform `request`. Any answer, whatever its status, is a value; no answer is an error:
  // Errc::timeout when the deadline passed, Errc::network when the connection failed,
  // Errc::tls when the server answered with a certificate that did not verify,
  // Errc::io for a file:// URL that is missing, unreadable or not a regular file (read here,
  // not by libcurl, so a fifo or /dev/zero cannot hold it past its timeout), Errc::cancelled
  // when stopped.
  virtual Result<HttpResponse> perform(const HttpRequest& request) = 0;
};

// The detail of a perform() error (Errc::tls) for a server whose certificate did not verify starts
// with this, for people reading the message; callers branch on the code.
inline constexpr std::string_view k_tls_verification_failed = "tls verification failed";

struct UrlParts
{
  std::string scheme;        // lowercase: "http", "https", "file"
  std::string host;          // "" for file:// URLs without one; IPv6 in brackets
  std::string port;          // as given, else the scheme's default ("" for file://)
  bool has_userinfo = false; // "user:password@" was present
  std::string path;          // percent-decoded, "/" when empty
};

// Split `url` with libcurl's URL parser. A URL libcurl cannot parse is an Errc::config error
// (the URL itself is never in the message: it may hold a password).
Result<UrlParts> parse_url(std::string_view url);

// Return `url` with its host replaced by `host` (a name, or an IPv6 address in brackets).
Result<std::string> with_host(std::string_view url, std::string_view host);

// Return `url` without its userinfo ("user:password@"), for messages and reports.
std::string redact_url(std::string_view url);

// The real client. Call `global_init()` once in main before any thread starts.
class CurlHttpClient final : public HttpClient
{
public:
  static void global_init();
  Result<HttpResponse> perform(const HttpRequest& request) override;

private:
  // One request, no redirect followed; `location` gets the redirect target of a 3xx.
  Result<HttpResponse> perform_once(const HttpRequest& request, std::string& location);
};

} // namespace util
