#include "http.hpp"

#include <checks/common.hpp>
#include <config/fields.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>
#include <system_error>

namespace checks {

namespace {

using config::KeySpec;
using config::KeyType;

// clang-format off
constexpr std::array k_http_keys = {
  KeySpec{"url",              KeyType::string,       true,  "",        false, "http://, https:// or file:// URL to request"},
  KeySpec{"method",           KeyType::string,       false, "\"GET\"", false, "request method"},
  KeySpec{"headers",          KeyType::string_table, false, "{}",      false, "request headers; Host on https also names the virtual host for SNI and the certificate"},
  KeySpec{"body",             KeyType::string,       false, "\"\"",    false, "request body"},
  KeySpec{"headers_env",      KeyType::string_table, false, "{}",      true,  "secret headers: name = environment variable holding the value"},
  KeySpec{"headers_file",     KeyType::string_table, false, "{}",      true,  "secret headers: name = file holding the value (not world-readable)"},
  KeySpec{"unix_socket",      KeyType::path,         false, "",        false, "send the request to this unix socket (Docker-style APIs)"},
  KeySpec{"proxy",            KeyType::string,       false, "none",    false, "proxy URL; the environment's proxy variables are never used"},
  KeySpec{"status",           KeyType::integers,     false, "200",     false, "expected status, or a list of them"},
  KeySpec{"body_contains",    KeyType::strings,      false, "",        false, "strings the body must contain"},
  KeySpec{"body_matches",     KeyType::strings,      false, "",        false, "patterns (Perl syntax, Boost.Regex) the whole body must match"},
  KeySpec{"expect_headers",   KeyType::string_table, false, "",        false, "response headers and their exact values"},
  KeySpec{"tls_verify",       KeyType::boolean,      false, "true",    false, "verify the server's certificate"},
  KeySpec{"ca_file",          KeyType::path,         false, "system CAs", false, "PEM bundle to verify the server with"},
  KeySpec{"follow_redirects", KeyType::boolean,      false, "false",   false, "follow up to 10 redirects; headers never go to another origin"},
  KeySpec{"body_limit",       KeyType::integer,      false, "1048576", false, "bytes of the body kept and judged"},
};
// clang-format on

// Keys that mean nothing for a file:// URL; setting one is a config error, not silently ignored.
constexpr std::array<std::string_view, 11> k_request_only_keys = {
  "proxy",
  "headers_env",
  "headers_file",
  "method",
  "headers",
  "body",
  "unix_socket",
  "status",
  "tls_verify",
  "ca_file",
  "follow_redirects",
};

constexpr std::int64_t k_max_body_limit = std::int64_t{1} << 30;

// RFC 9110 token characters: what a method or a header name may be made of.
bool
is_token(std::string_view text)
{
  constexpr std::string_view k_extra = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0
           || k_extra.find(c) != std::string_view::npos;
  });
}

// Return the host name of the Host header value `value` ("www.example.com:8443" ->
// "www.example.com"; "[::1]:443" -> "[::1]").
util::Result<std::string>
virtual_host_of(std::string_view value)
{
  std::string_view host = value;
  if (host.starts_with("[")) {
    const auto close = host.find(']');
    if (close == std::string_view::npos) {
      return util::make_error(util::Errc::config,
                              fmt::format("Host \"{}\" is not a host name", value));
    }
    host = host.substr(0, close + 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host.empty()
      || (!host.starts_with("[") && host.find_first_of(" /@:\\") != std::string_view::npos)) {
    return util::make_error(util::Errc::config,
                            fmt::format("Host \"{}\" is not a host name", value));
  }
  return std::string(host);
}

std::string
describe_statuses(const std::vector<long>& statuses)
{
  return fmt::format("{}", fmt::join(statuses, " or "));
}

std::string
request_line(const HttpSpec& spec)
{
  const auto url = util::redact_url(spec.url);
  return spec.is_file ? url : fmt::format("{} {}", spec.method, url);
}

// Return what a file of `type` is when it is there but not a regular file, else "".
std::string_view
non_file_type_name(std::filesystem::file_type type)
{
  using std::filesystem::file_type;
  switch (type) {
  case file_type::directory:
    return "a directory";
  case file_type::fifo:
    return "a fifo";
  case file_type::socket:
    return "a socket";
  case file_type::character:
    return "a character device";
  case file_type::block:
    return "a block device";
  default:
    return "";
  }
}

} // namespace

util::Result<HttpSpec>
parse_http(const config::CheckSpec& check_spec)
{
  config::FieldReader reader(check_spec, k_http_keys);
  RG_TRY(reader.check_keys());

  HttpSpec spec;
  RG_TRY_ASSIGN(spec.url, reader.required_string("url"));
  if (spec.url.find('\0') != std::string::npos) {
    return reader.error_at("url", "the URL has a NUL byte");
  }
  auto parts = util::parse_url(spec.url);
  if (!parts) {
    return reader.error_at("url", parts.error().message);
  }
  if (parts->scheme != "http" && parts->scheme != "https" && parts->scheme != "file") {
    return reader.error_at(
      "url",
      fmt::format("expected an http, https or file URL, found scheme \"{}\"", parts->scheme));
  }
  if (parts->has_userinfo) {
    return reader.error_at("url",
                           "credentials in the URL are not allowed (secrets never go in the config "
                           "file); send an Authorization header instead");
  }
  spec.is_file = parts->scheme == "file";
  if (spec.is_file) {
    if (!parts->host.empty() && parts->host != "localhost") {
      return reader.error_at(
        "url", fmt::format("a file URL names a local file, found host \"{}\"", parts->host));
    }
    for (const auto key : k_request_only_keys) {
      if (check_spec.params.contains(key)) {
        return reader.error_at(key, "not applicable to a file:// URL");
      }
    }
    spec.file_path = parts->path;
  }

  RG_TRY_ASSIGN(const auto method, reader.optional_string("method"));
  if (method) {
    if (!is_token(*method)) {
      return reader.error_at("method", fmt::format("\"{}\" is not an HTTP method", *method));
    }
    spec.method = *method;
  }
  RG_TRY_ASSIGN(spec.headers, reader.string_table("headers"));
  for (const auto& [name, value] : spec.headers) {
    if (!is_token(name)) {
      return reader.error_at("headers", fmt::format("\"{}\" is not a header name", name));
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      return reader.error_at("headers", fmt::format("the value of \"{}\" has a line break", name));
    }
    if (value.find('\0') != std::string::npos) {
      // libcurl takes C strings: the value would be cut there, and another one sent.
      return reader.error_at("headers", fmt::format("the value of \"{}\" has a NUL byte", name));
    }
  }
  RG_TRY_ASSIGN(auto from_env, reader.secret_table("headers_env", util::SecretSource::Kind::env));
  RG_TRY_ASSIGN(auto from_file,
                reader.secret_table("headers_file", util::SecretSource::Kind::file));
  for (auto* secrets : {&from_env, &from_file}) {
    for (auto& [name, source] : *secrets) {
      if (!is_token(name)) {
        return reader.error_at(secrets == &from_env ? "headers_env" : "headers_file",
                               fmt::format("\"{}\" is not a header name", name));
      }
      spec.secret_headers.emplace_back(std::move(name), std::move(source));
    }
  }
  RG_TRY_ASSIGN(const auto body, reader.optional_string("body"));
  spec.body = body.value_or("");
  RG_TRY_ASSIGN(const auto unix_socket, reader.optional_path("unix_socket"));
  if (unix_socket) {
    spec.unix_socket = unix_socket->string();
  }

  RG_TRY_ASSIGN(const auto statuses, reader.integer_or_array("status", 100, 599));
  spec.statuses.assign(statuses.begin(), statuses.end());
  if (spec.statuses.empty() && !spec.is_file) {
    spec.statuses.push_back(200);
  }

  RG_TRY_ASSIGN(spec.body_expectations, read_expectations(reader, "body_contains", "body_matches"));
  RG_TRY_ASSIGN(spec.expect_headers, reader.string_table("expect_headers"));
  for (auto& [name, value] : spec.expect_headers) {
    if (!is_token(name)) {
      return reader.error_at("expect_headers", fmt::format("\"{}\" is not a header name", name));
    }
    name = util::to_lower(name);
  }

  RG_TRY_ASSIGN(const auto tls_verify, reader.optional_bool("tls_verify"));
  spec.tls_verify = tls_verify.value_or(true) ? util::TlsVerify::yes : util::TlsVerify::no;
  RG_TRY_ASSIGN(const auto ca_file, reader.optional_path("ca_file"));
  if (ca_file) {
    spec.ca_file = ca_file->string();
  }
  RG_TRY_ASSIGN(const auto follow, reader.optional_bool("follow_redirects"));
  spec.follow_redirects =
    follow.value_or(false) ? util::FollowRedirects::yes : util::FollowRedirects::no;
  RG_TRY_ASSIGN(const auto body_limit, reader.optional_integer("body_limit", 1, k_max_body_limit));
  if (body_limit) {
    spec.body_limit = static_cast<std::size_t>(*body_limit);
  }
  RG_TRY_ASSIGN(spec.proxy, reader.optional_string("proxy"));
  if (spec.proxy) {
    if (spec.proxy->empty() || spec.proxy->find('\0') != std::string::npos) {
      return reader.error_at("proxy",
                             "expected a proxy URL such as \"http://proxy.internal:3128\"");
    }
    if (spec.unix_socket) {
      return reader.error_at("proxy", "not applicable with unix_socket");
    }
  }
  if (parts->scheme == "https" && !spec.unix_socket) {
    for (const auto& [name, value] : spec.headers) {
      if (util::to_lower(name) != "host") {
        continue;
      }
      const auto virtual_host = virtual_host_of(value);
      if (!virtual_host) {
        return reader.error_at("headers", virtual_host.error().message);
      }
      auto rebuilt = util::with_host(spec.url, *virtual_host);
      if (!rebuilt) {
        return reader.error_at("headers", fmt::format("Host: {}", rebuilt.error().message));
      }
      spec.virtual_host_url = std::move(*rebuilt);
      spec.connect_to.push_back(
        fmt::format("{}:{}:{}:{}", *virtual_host, parts->port, parts->host, parts->port));
    }
  }
  return spec;
}

config::KeyTable
http_keys()
{
  return k_http_keys;
}

util::Result<std::unique_ptr<hook::Check>>
create_http_check(const config::CheckSpec& spec)
{
  return create_check<HttpSpec, parse_http, run_http>(spec);
}

hook::CheckResult judge_response(const HttpSpec& spec,
                                 const util::HttpResponse& response,
                                 const util::Redactor& redactor);

hook::CheckResult
run_http(const HttpSpec& spec, const hook::CheckContext& ctx)
{
  auto request = http_request_for(spec, ctx.time_left(), ctx.stop);
  std::vector<util::Secret> secrets;
  for (const auto& [name, source] : spec.secret_headers) {
    auto secret = source.read(ctx.deadline);
    if (!secret) {
      return hook::CheckResult::error(fmt::format("header {}: {}", name, secret.error().message));
    }
    request.headers.emplace_back(name, secret->reveal());
    secrets.push_back(std::move(*secret));
  }
  const util::Redactor redactor(secrets);
  auto result = [&] {
    const auto response = ctx.probes.get<util::HttpClient>()->perform(request);
    if (!response) {
      return evaluate_http_error(spec, response.error());
    }
    return judge_response(spec, *response, redactor);
  }();
  hook::redact(result, redactor);
  return result;
}

hook::CheckResult
judge_response(const HttpSpec& spec,
               const util::HttpResponse& response,
               const util::Redactor& redactor)
{
  std::error_code ignored;
  if (spec.is_file && std::filesystem::is_directory(spec.file_path, ignored)) {
    // libcurl reads a directory as an empty file; the release expects a file there.
    return hook::CheckResult::fail(
      fmt::format("{}: a directory, expected a file", spec.file_path.string()),
      {{spec.file_path.string(), "a file", "a directory"}});
  }
  return evaluate_http(spec, response, redactor);
}

util::HttpRequest
http_request_for(const HttpSpec& spec, std::chrono::milliseconds timeout, std::stop_token stop)
{
  util::HttpRequest request;
  request.method = spec.method;
  request.url = spec.url;
  request.headers = spec.headers;
  request.body = spec.body;
  request.unix_socket = spec.unix_socket;
  request.timeout = timeout;
  request.tls_verify = spec.tls_verify;
  request.ca_file = spec.ca_file;
  request.follow_redirects = spec.follow_redirects;
  request.body_limit = spec.body_limit;
  request.proxy = spec.proxy;
  if (spec.virtual_host_url) {
    request.url = *spec.virtual_host_url;
    request.connect_to = spec.connect_to;
  }
  request.stop = std::move(stop);
  return request;
}

hook::CheckResult
evaluate_http(const HttpSpec& spec,
              const util::HttpResponse& response,
              const util::Redactor& redactor)
{
  hook::Judgement judgement;
  if (!spec.is_file
      && std::find(spec.statuses.begin(), spec.statuses.end(), response.status)
           == spec.statuses.end()) {
    const auto expected = describe_statuses(spec.statuses);
    judgement.add_unmet({"status", expected, std::to_string(response.status)},
                        fmt::format("status {} (expected {})", response.status, expected));
  }
  for (const auto& [name, expected] : spec.expect_headers) {
    std::vector<std::string_view> values;
    for (const auto& [found_name, found_value] : response.headers) {
      if (util::to_lower(found_name) == name) {
        values.push_back(found_value);
      }
    }
    if (std::find(values.begin(), values.end(), expected) == values.end()) {
      // The raw values, with any secret a header echoes taken out before they are escaped.
      const auto found = values.empty()
                           ? std::string("(missing)")
                           : redactor.redact(fmt::format("{}", fmt::join(values, ", ")));
      judgement.add_unmet({"header " + name, expected, found},
                          fmt::format("header {} is \"{}\", expected \"{}\"",
                                      name,
                                      util::printable(found, util::Quotes::escape),
                                      util::printable(expected, util::Quotes::escape)));
    }
  }
  hook::judge(
    spec.body_expectations,
    {"body", response.body, response.body_truncated, "body_limit", spec.body_limit, &redactor},
    judgement);
  const auto what = request_line(spec);
  auto passed =
    spec.is_file ? fmt::format(
      "{}: {} bytes read in {} ms", what, response.body.size(), response.duration.count())
                 : fmt::format("{}: {} in {} ms", what, response.status, response.duration.count());
  return hook::result_of(what, std::move(judgement), std::move(passed));
}

hook::CheckResult
evaluate_http_error(const HttpSpec& spec, const util::Error& error)
{
  if (error.code == util::Errc::tls) {
    // The server answered, with an identity that does not verify: a wrong host, not an absent one.
    const auto marker = error.message.find(util::k_tls_verification_failed);
    auto detail = marker == std::string::npos
                    ? error.message
                    : error.message.substr(marker + util::k_tls_verification_failed.size());
    if (detail.starts_with(": ")) {
      detail.erase(0, 2);
    }
    return hook::CheckResult::fail(error.message,
                                   {{"tls certificate", "one that verifies", std::move(detail)}});
  }
  if (error.code == util::Errc::io && spec.is_file) {
    std::error_code ignored;
    const auto state = std::filesystem::status(spec.file_path, ignored);
    if (state.type() == std::filesystem::file_type::not_found) {
      return hook::CheckResult::fail(
        fmt::format("{}: the file does not exist", spec.file_path.string()),
        {{spec.file_path.string(), "exists", "missing"}});
    }
    if (const auto found = non_file_type_name(state.type()); !found.empty()) {
      // Observed, and not what the release has there (the client only reads regular files).
      return hook::CheckResult::fail(
        fmt::format("{}: {}, expected a file", spec.file_path.string(), found),
        {{spec.file_path.string(), "a file", std::string(found)}});
    }
  }
  return hook::CheckResult::from_error(error);
}

} // namespace checks
