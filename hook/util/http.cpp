#include "http.hpp"

#include "fd.hpp"
#include "handle.hpp"
#include "text.hpp"

#include <hook/util/duration.hpp>

#include <curl/curl.h>
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

namespace util {

namespace {

// Response headers kept per response; past this a hostile server's flood is dropped.
constexpr std::size_t k_header_bytes_limit = 256 * 1024;

// The longest a curl_multi_poll waits before the loop looks at the stop token again (a wakeup
// from the stop callback normally ends the wait at once).
constexpr int k_poll_interval_ms = 1000;

constexpr int k_max_redirects = 10;

using EasyHandle = util::Handle<CURL, curl_easy_cleanup>;
using MultiHandle = util::Handle<CURLM, curl_multi_cleanup>;
using UrlHandle = util::Handle<CURLU, curl_url_cleanup>;

// A list of strings for libcurl options such as CURLOPT_HTTPHEADER.
class CurlSlist
{
public:
  // Append `line`; false when libcurl is out of memory.
  bool
  append(const std::string& line)
  {
    auto* appended = curl_slist_append(m_list.get(), line.c_str());
    if (appended == nullptr) {
      return false;
    }
    static_cast<void>(m_list.release());
    m_list.reset(appended);
    return true;
  }
  curl_slist*
  get() const
  {
    return m_list.get();
  }
  explicit operator bool() const { return m_list != nullptr; }

private:
  util::Handle<curl_slist, curl_slist_free_all> m_list;
};

// Removes the easy handle from the multi handle before either is cleaned up.
class Attachment
{
public:
  Attachment(CURLM* multi, CURL* easy)
      : m_multi(multi),
        m_easy(easy)
  {}
  ~Attachment() { curl_multi_remove_handle(m_multi, m_easy); }
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;

private:
  CURLM* m_multi;
  CURL* m_easy;
};

// What the callbacks fill in during one transfer.
struct Transfer
{
  HttpResponse response;
  std::size_t body_limit = 0;
  std::size_t header_bytes = 0;
  bool headers_done = false; // the blank line after the headers came: what follows are trailers
};

std::string_view
trim(std::string_view text)
{
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::size_t
on_body(char* data, std::size_t size, std::size_t count, void* user)
{
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  auto& body = transfer->response.body;
  const std::size_t room =
    transfer->body_limit > body.size() ? transfer->body_limit - body.size() : 0;
  body.append(data, std::min(room, bytes));
  if (bytes > room) {
    // Keep reading (and discarding) so the server sees a normal transfer.
    transfer->response.body_truncated = true;
  }
  return bytes;
}

std::size_t
on_header(char* data, std::size_t size, std::size_t count, void* user)
{
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  const std::string_view raw(data, bytes);
  auto& headers = transfer->response.headers;
  if (raw.starts_with("HTTP/")) {
    // A new response (after a redirect or a 100 Continue): only the last one's headers count.
    headers.clear();
    transfer->header_bytes = 0;
    transfer->headers_done = false;
    return bytes;
  }
  if (transfer->headers_done) {
    return bytes; // a trailer, sent after the body: not a header of the response
  }
  if (raw == "\r\n" || raw == "\n") {
    transfer->headers_done = true;
    return bytes;
  }
  transfer->header_bytes += bytes;
  if (transfer->header_bytes > k_header_bytes_limit) {
    return bytes;
  }
  if (!raw.empty() && (raw.front() == ' ' || raw.front() == '\t')) {
    // An obsolete folded continuation line belongs to the previous header's value.
    const auto continued = trim(raw);
    if (!headers.empty() && !continued.empty()) {
      headers.back().second += ' ';
      headers.back().second += continued;
    }
    return bytes;
  }
  const auto line = trim(raw);
  const auto colon = line.find(':');
  if (line.empty() || colon == std::string_view::npos || colon == 0) {
    return bytes;
  }
  headers.emplace_back(util::to_lower(trim(line.substr(0, colon))),
                       std::string(trim(line.substr(colon + 1))));
  return bytes;
}

Errc
errc_of(CURLcode code)
{
  switch (code) {
  case CURLE_OPERATION_TIMEDOUT:
    return Errc::timeout;
  case CURLE_PEER_FAILED_VERIFICATION:
    return Errc::tls;
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CLIENTCERT:
    return Errc::network;
  case CURLE_FILE_COULDNT_READ_FILE:
    return Errc::io;
  case CURLE_ABORTED_BY_CALLBACK:
    return Errc::cancelled;
  case CURLE_OUT_OF_MEMORY:
  case CURLE_WRITE_ERROR:
  case CURLE_UNKNOWN_OPTION:
  case CURLE_NOT_BUILT_IN:
  case CURLE_BAD_FUNCTION_ARGUMENT:
    return Errc::internal;
  default:
    return Errc::protocol;
  }
}

// Return curl's detail for `code` as a readygate message: lowercase first letter (unless it
// starts an acronym such as "SSL"), `secret` blanked wherever it appears.
std::string
describe(CURLcode code, const char* error_buffer, const std::optional<std::string>& secret)
{
  std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == '.')) {
    detail.pop_back();
  }
  if (detail.size() >= 2 && std::isupper(static_cast<unsigned char>(detail[0])) != 0
      && std::isupper(static_cast<unsigned char>(detail[1])) == 0) {
    detail[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(detail[0])));
  }
  if (secret && !secret->empty()) {
    for (auto at = detail.find(*secret); at != std::string::npos; at = detail.find(*secret, at)) {
      detail.replace(at, secret->size(), "***");
    }
  }
  return detail;
}

std::string
url_part(CURLU* url, CURLUPart part, unsigned flags)
{
  char* text = nullptr;
  if (curl_url_get(url, part, &text, flags) != CURLUE_OK || text == nullptr) {
    return {};
  }
  std::string value(text);
  curl_free(text);
  return value;
}

// Return what `mode` is, for a message about a file that is not a regular one.
std::string_view
file_type_name(mode_t mode)
{
  switch (mode & S_IFMT) {
  case S_IFDIR:
    return "a directory";
  case S_IFIFO:
    return "a fifo";
  case S_IFSOCK:
    return "a socket";
  case S_IFCHR:
    return "a character device";
  case S_IFBLK:
    return "a block device";
  default:
    return "not a regular file";
  }
}

// Read the file that the file:// URL of `request` names, keeping `body_limit` bytes. Done here
// rather than by libcurl, whose file:// reads in one blocking loop that ignores its timeout: a
// fifo blocks the open forever and /dev/zero never ends. Opened with O_NONBLOCK and fstat'ed, so
// only a regular file is read, with the deadline and the stop token looked at between blocks.
Result<HttpResponse>
read_file_url(const HttpRequest& request,
              const std::string& shown_url,
              Clock::time_point started,
              Clock::time_point deadline)
{
  RG_TRY_ASSIGN(const auto parts, parse_url(request.url));
  if (!parts.host.empty() && parts.host != "localhost") {
    return make_error(
      Errc::io,
      fmt::format("{}: a file URL names a local file, not one on \"{}\"", shown_url, parts.host));
  }
  if (parts.path.find('\0') != std::string::npos) {
    return make_error(Errc::io, fmt::format("{}: the path has a NUL byte", shown_url));
  }
  const UniqueFd file(::open(parts.path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  const int fd = file.get();
  if (fd < 0) {
    return make_error(Errc::io,
                      fmt::format("{}: cannot open: {}", shown_url, std::strerror(errno)));
  }
  struct stat info
  {
  };
  if (::fstat(fd, &info) != 0) {
    return make_error(Errc::io, fmt::format("{}: fstat: {}", shown_url, std::strerror(errno)));
  }
  if (!S_ISREG(info.st_mode)) {
    return make_error(
      Errc::io,
      fmt::format("{}: {}, expected a regular file", shown_url, file_type_name(info.st_mode)));
  }
  HttpResponse response;
  std::array<char, 64 * 1024> block{};
  for (;;) {
    if (request.stop.stop_requested()) {
      return make_error(Errc::cancelled, fmt::format("{}: cancelled", shown_url));
    }
    if (Clock::now() >= deadline) {
      return make_error(
        Errc::timeout,
        fmt::format("{}: not read within {} ms", shown_url, request.timeout.count()));
    }
    // One byte past the limit tells a longer file from one that is exactly body_limit long.
    const auto room = request.body_limit - response.body.size();
    const auto wanted = room == 0 ? std::size_t{1} : std::min(block.size(), room);
    const ssize_t count = ::read(fd, block.data(), wanted);
    if (count < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      return make_error(Errc::io, fmt::format("{}: read: {}", shown_url, std::strerror(errno)));
    }
    if (count == 0) {
      break;
    }
    response.body.append(block.data(), static_cast<std::size_t>(count));
    if (response.body.size() > request.body_limit) {
      response.body.resize(request.body_limit);
      response.body_truncated = true;
      break;
    }
  }
  response.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return response;
}

} // namespace

Result<UrlParts>
parse_url(std::string_view url)
{
  CurlHttpClient::global_init();
  UrlHandle handle(curl_url());
  if (!handle) {
    return make_error(Errc::internal, "libcurl could not allocate a URL handle");
  }
  const std::string text(url);
  const auto parsed = curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0);
  if (parsed != CURLUE_OK) {
    return make_error(
      Errc::config,
      fmt::format("malformed URL: {}", describe(CURLE_OK, curl_url_strerror(parsed), {})));
  }
  UrlParts parts;
  parts.scheme = util::to_lower(url_part(handle.get(), CURLUPART_SCHEME, 0));
  parts.host = url_part(handle.get(), CURLUPART_HOST, 0);
  parts.port = parts.scheme == "file" ? std::string()
                                      : url_part(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  parts.has_userinfo = !url_part(handle.get(), CURLUPART_USER, 0).empty()
                       || !url_part(handle.get(), CURLUPART_PASSWORD, 0).empty()
                       || redact_url(url) != url;
  parts.path = url_part(handle.get(), CURLUPART_PATH, CURLU_URLDECODE);
  if (parts.path.empty()) {
    parts.path = "/";
  }
  return parts;
}

Result<std::string>
with_host(std::string_view url, std::string_view host)
{
  CurlHttpClient::global_init();
  UrlHandle handle(curl_url());
  if (!handle) {
    return make_error(Errc::internal, "libcurl could not allocate a URL handle");
  }
  const std::string text(url);
  const std::string name(host);
  if (curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK
      || curl_url_set(handle.get(), CURLUPART_HOST, name.c_str(), 0) != CURLUE_OK) {
    return make_error(Errc::config, fmt::format("\"{}\" cannot be the host of the URL", name));
  }
  auto rebuilt = url_part(handle.get(), CURLUPART_URL, 0);
  if (rebuilt.empty()) {
    return make_error(Errc::config, fmt::format("\"{}\" cannot be the host of the URL", name));
  }
  return rebuilt;
}

std::string
redact_url(std::string_view url)
{
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return std::string(url);
  }
  const auto authority_start = scheme_end + 3;
  const auto authority_end = url.find_first_of("/?#", authority_start);
  const auto authority =
    url.substr(authority_start,
               authority_end == std::string_view::npos ? std::string_view::npos
                                                       : authority_end - authority_start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return std::string(url);
  }
  return std::string(url.substr(0, authority_start))
         + std::string(url.substr(authority_start + at + 1));
}

std::shared_ptr<HttpClient>
HttpClient::make_real()
{
  return std::make_shared<CurlHttpClient>();
}

void
CurlHttpClient::global_init()
{
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Fatal("libcurl could not be initialised");
    }
  });
}

Result<HttpResponse>
CurlHttpClient::perform(const HttpRequest& request)
{
  global_init();
  const auto started = Clock::now();
  const std::string shown_url = redact_url(request.url);
  if (request.stop.stop_requested()) {
    return make_error(Errc::cancelled, fmt::format("{}: cancelled", shown_url));
  }
  if (request.timeout <= std::chrono::milliseconds::zero()) {
    // libcurl reads a zero timeout as "none": never let it.
    return make_error(Errc::timeout, fmt::format("{}: no time left for the request", shown_url));
  }

  const auto first = parse_url(request.url);
  if (first && first->scheme == "file") {
    return read_file_url(request, shown_url, started, started + request.timeout);
  }
  const auto deadline = util::time_after(started, request.timeout);
  HttpRequest hop = request;
  for (int redirects = 0;; ++redirects) {
    std::string location;
    RG_TRY_ASSIGN(auto response, perform_once(hop, location));
    const bool redirected = response.status >= 300 && response.status < 400 && !location.empty();
    if (request.follow_redirects == FollowRedirects::no || !redirected) {
      response.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
      return response;
    }
    const auto shown_location = redact_url(location);
    if (redirects >= k_max_redirects) {
      return make_error(Errc::protocol,
                        fmt::format("{}: more than {} redirects (the last to {})",
                                    shown_url,
                                    k_max_redirects,
                                    shown_location));
    }
    const auto next = parse_url(location);
    if (!next || (next->scheme != "http" && next->scheme != "https")) {
      return make_error(Errc::protocol,
                        fmt::format("{}: redirected to {}, which is not an http or https URL",
                                    shown_url,
                                    shown_location));
    }
    if (first
        && (next->scheme != first->scheme || next->host != first->host
            || next->port != first->port)) {
      // Another origin: the request's own headers (tokens, cookies, API keys of any name) and the
      // credentials stay with the origin they were configured for.
      hop.headers.clear();
      hop.user_password.reset();
      hop.aws_sigv4.reset();
    }
    if (response.status == 303
        || ((response.status == 301 || response.status == 302) && hop.method == "POST")) {
      hop.method = hop.method == "HEAD" ? "HEAD" : "GET";
      hop.body.clear();
    }
    hop.url = std::move(location);
    hop.timeout = util::time_left(deadline);
    if (hop.timeout <= std::chrono::milliseconds::zero()) {
      return make_error(
        Errc::timeout,
        fmt::format("{}: no time left to follow the redirect to {}", shown_url, shown_location));
    }
  }
}

Result<HttpResponse>
CurlHttpClient::perform_once(const HttpRequest& request, std::string& location)
{
  const auto started = Clock::now();
  const std::string shown_url = redact_url(request.url);
  EasyHandle easy(curl_easy_init());
  MultiHandle multi(curl_multi_init());
  if (!easy || !multi) {
    return make_error(Errc::internal,
                      fmt::format("{}: libcurl could not allocate a handle", shown_url));
  }
  CURL* handle = easy.get();
  Transfer transfer;
  transfer.body_limit = request.body_limit;
  std::array<char, CURL_ERROR_SIZE> error_buffer{};

  CurlSlist headers;
  for (const auto& [name, value] : request.headers) {
    // "Name;" is how libcurl is told to send a header with an empty value.
    if (!headers.append(value.empty() ? name + ";" : name + ": " + value)) {
      return make_error(Errc::internal, fmt::format("{}: out of memory for headers", shown_url));
    }
  }

  CURLcode option_status = CURLE_OK;
  const char* failed_option = nullptr;
  const auto set = [&](CURLoption option, const char* name, auto value) {
    if (option_status == CURLE_OK) {
      option_status = curl_easy_setopt(handle, option, value);
      if (option_status != CURLE_OK) {
        failed_option = name;
      }
    }
  };
  const long timeout_ms = static_cast<long>(request.timeout.count());
  set(CURLOPT_URL, "url", request.url.c_str());
  set(CURLOPT_NOSIGNAL, "nosignal", 1L);
  set(CURLOPT_TIMEOUT_MS, "timeout", timeout_ms);
  set(CURLOPT_CONNECTTIMEOUT_MS, "connect timeout", timeout_ms);
  set(CURLOPT_ERRORBUFFER, "error buffer", error_buffer.data());
  set(CURLOPT_PROTOCOLS_STR, "protocols", "http,https,file");
  set(CURLOPT_REDIR_PROTOCOLS_STR, "redirect protocols", "http,https");
  set(CURLOPT_WRITEFUNCTION, "write function", &on_body);
  set(CURLOPT_WRITEDATA, "write data", static_cast<void*>(&transfer));
  set(CURLOPT_HEADERFUNCTION, "header function", &on_header);
  set(CURLOPT_HEADERDATA, "header data", static_cast<void*>(&transfer));
  if (request.method == "HEAD") {
    set(CURLOPT_NOBODY, "nobody", 1L);
  } else if (request.method != "GET" || !request.body.empty()) {
    set(CURLOPT_CUSTOMREQUEST, "method", request.method.c_str());
  }
  if (!request.body.empty()) {
    set(CURLOPT_POSTFIELDSIZE_LARGE, "body size", static_cast<curl_off_t>(request.body.size()));
    set(CURLOPT_POSTFIELDS, "body", request.body.c_str());
  }
  if (headers) {
    set(CURLOPT_HTTPHEADER, "headers", headers.get());
  }
  if (request.unix_socket) {
    set(CURLOPT_UNIX_SOCKET_PATH, "unix socket", request.unix_socket->c_str());
  }
  const long verify = request.tls_verify == TlsVerify::yes ? 1L : 0L;
  set(CURLOPT_SSL_VERIFYPEER, "verify peer", verify);
  set(CURLOPT_SSL_VERIFYHOST, "verify host", verify * 2L);
  if (request.ca_file) {
    set(CURLOPT_CAINFO, "ca file", request.ca_file->c_str());
  }
  // An explicit proxy, or none: "" tells libcurl not to read the environment's proxy variables.
  set(CURLOPT_PROXY, "proxy", request.proxy ? request.proxy->c_str() : "");
  CurlSlist connect_to;
  for (const auto& entry : request.connect_to) {
    if (!connect_to.append(entry)) {
      return make_error(Errc::internal, fmt::format("{}: out of memory for connect_to", shown_url));
    }
  }
  if (connect_to) {
    set(CURLOPT_CONNECT_TO, "connect to", connect_to.get());
  }
  if (request.aws_sigv4) {
    set(CURLOPT_AWS_SIGV4, "aws sigv4", request.aws_sigv4->c_str());
  }
  if (request.user_password) {
    set(CURLOPT_USERPWD, "user and password", request.user_password->c_str());
  }
  if (option_status != CURLE_OK) {
    return make_error(Errc::internal,
                      fmt::format("{}: libcurl rejected the {} option: {}",
                                  shown_url,
                                  failed_option,
                                  curl_easy_strerror(option_status)));
  }

  // The multi interface, so a stop request wakes the wait at once instead of at the next
  // progress callback (which libcurl may call only once a second on an idle connection).
  if (curl_multi_add_handle(multi.get(), handle) != CURLM_OK) {
    return make_error(Errc::internal,
                      fmt::format("{}: libcurl could not start the transfer", shown_url));
  }
  const Attachment attachment(multi.get(), handle);
  CURLM* waker = multi.get();
  const std::stop_callback wake_on_stop(request.stop, [waker] { curl_multi_wakeup(waker); });
  for (;;) {
    int running = 0;
    auto status = curl_multi_perform(multi.get(), &running);
    if (status != CURLM_OK) {
      return make_error(Errc::internal,
                        fmt::format("{}: libcurl: {}", shown_url, curl_multi_strerror(status)));
    }
    if (running == 0) {
      break;
    }
    if (request.stop.stop_requested()) {
      return make_error(Errc::cancelled, fmt::format("{}: cancelled", shown_url));
    }
    status = curl_multi_poll(multi.get(), nullptr, 0, k_poll_interval_ms, nullptr);
    if (status != CURLM_OK) {
      return make_error(Errc::internal,
                        fmt::format("{}: libcurl: {}", shown_url, curl_multi_strerror(status)));
    }
  }
  CURLcode result = CURLE_OK;
  int queued = 0;
  while (const CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
    if (message->msg == CURLMSG_DONE && message->easy_handle == handle) {
      result = message->data.result;
    }
  }

  if (result != CURLE_OK) {
    auto detail = describe(result, error_buffer.data(), request.user_password);
    long os_errno = 0;
    if (result == CURLE_COULDNT_CONNECT
        && curl_easy_getinfo(handle, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno != 0) {
      // "Couldn't connect to server" alone hides whether it was refused or unreachable.
      detail +=
        fmt::format(" ({})", describe(CURLE_OK, std::strerror(static_cast<int>(os_errno)), {}));
    }
    if (result == CURLE_PEER_FAILED_VERIFICATION) {
      detail = fmt::format("{}: {}", k_tls_verification_failed, detail);
    }
    return make_error(errc_of(result), fmt::format("{}: {}", shown_url, detail));
  }

  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  transfer.response.status = status;
  const char* redirect_url = nullptr;
  if (curl_easy_getinfo(handle, CURLINFO_REDIRECT_URL, &redirect_url) == CURLE_OK
      && redirect_url != nullptr) {
    location = redirect_url;
  }
  transfer.response.duration =
    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  return std::move(transfer.response);
}

} // namespace util
