// util::CurlHttpClient against the real fixture server (tests/integration/fixtures/http_server.py)
// run with python3 on loopback.
#include "testutil.hpp"

#include <hook/util/http.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

extern char** environ; // NOLINT: POSIX declares it nowhere in C++ headers

namespace {

using namespace std::chrono_literals;

const std::filesystem::path k_fixture =
  std::filesystem::path(RG_GOLDEN_DIR).parent_path().parent_path() / "integration" / "fixtures"
  / "http_server.py";

// The fixture server in its own temporary directory (its --root is `root()`), stopped with its
// process group by SIGTERM at scope exit.
class FixtureServer
{
public:
  explicit FixtureServer(std::vector<std::string> extra = {})
  {
    std::filesystem::create_directories(root());
    const auto ready = m_dir.path() / "ready";
    const auto log = m_dir.path() / "server.log";
    std::vector<std::string> args = {"python3",
                                     k_fixture.string(),
                                     "--port",
                                     "0",
                                     "--root",
                                     root().string(),
                                     "--ready-file",
                                     ready.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    // Its own process group, killed whole: a python3 wrapper (pyenv's shim) may not exec.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    const int spawned =
      posix_spawnp(&m_pid, "python3", &actions, &attributes, argv.data(), environ);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(spawned == 0);
    for (int i = 0; i < 200 && !std::filesystem::exists(ready); ++i) {
      std::this_thread::sleep_for(50ms);
    }
    INFO("fixture server log: " << log.string());
    REQUIRE(std::filesystem::exists(ready));
    std::ifstream(ready) >> m_port;
  }
  ~FixtureServer()
  {
    kill(-m_pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; ++i) {
      if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    kill(-m_pid, SIGKILL);
    waitpid(m_pid, &status, 0);
  }
  FixtureServer(const FixtureServer&) = delete;
  FixtureServer& operator=(const FixtureServer&) = delete;

  std::filesystem::path
  root() const
  {
    return m_dir.path() / "root";
  }
  const std::filesystem::path&
  dir() const
  {
    return m_dir.path();
  }
  std::string
  url(std::string_view path) const
  {
    return "http://127.0.0.1:" + std::to_string(m_port) + std::string(path);
  }

private:
  testutil::TempDir m_dir;
  pid_t m_pid = -1;
  int m_port = 0;
};

// One server shared by the tests that do not need their own; started on first use.
FixtureServer&
shared_server()
{
  static FixtureServer server;
  return server;
}

// Return a loopback port nothing listens on now.
int
free_port()
{
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  close(fd);
  return ntohs(address.sin_port);
}

util::HttpRequest
get(std::string url)
{
  util::HttpRequest request;
  request.url = std::move(url);
  request.timeout = 5s;
  return request;
}

std::optional<std::string>
header(const util::HttpResponse& response, std::string_view name)
{
  for (const auto& [found, value] : response.headers) {
    if (found == name) {
      return value;
    }
  }
  return std::nullopt;
}

} // namespace

TEST_CASE("util::CurlHttpClient::perform: any status is an answer, with its body", "[http]")
{
  util::CurlHttpClient client;
  const auto response = client.perform(get(shared_server().url("/status/503")));
  INFO(testutil::error_message(response));
  REQUIRE(response);
  CHECK(response->status == 503);
  CHECK(response->body == "status 503\n");
  CHECK_FALSE(response->body_truncated);
}

TEST_CASE("util::CurlHttpClient::perform: serves a file's bytes with status 200", "[http]")
{
  auto& server = shared_server();
  testutil::write_file(server.root() / "index.txt", "release 1.2.3\n");
  util::CurlHttpClient client;
  const auto response = client.perform(get(server.url("/index.txt")));
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body == "release 1.2.3\n");
}

TEST_CASE("util::CurlHttpClient::perform: keeps body_limit bytes and marks the body truncated",
          "[http]")
{
  util::CurlHttpClient client;
  auto request = get(shared_server().url("/big/100000"));
  request.body_limit = 1000;
  const auto truncated = client.perform(request);
  REQUIRE(truncated);
  CHECK(truncated->status == 200);
  CHECK(truncated->body == std::string(1000, 'x'));
  CHECK(truncated->body_truncated);

  request.url = shared_server().url("/big/1000");
  const auto exact = client.perform(request);
  REQUIRE(exact);
  CHECK(exact->body.size() == 1000);
  CHECK_FALSE(exact->body_truncated);
}

TEST_CASE("util::CurlHttpClient::perform: header names are lowercased", "[http]")
{
  util::CurlHttpClient client;
  const auto response = client.perform(get(shared_server().url("/version")));
  REQUIRE(response);
  CHECK(header(*response, "content-type") == "application/json");
  CHECK(header(*response, "x-fixture") == "readygate");
  for (const auto& [name, value] : response->headers) {
    INFO(name);
    CHECK(
      std::none_of(name.begin(), name.end(), [](unsigned char c) { return std::isupper(c) != 0; }));
  }
  CHECK(response->body == R"({"version": "1.0.0"})");
}

TEST_CASE(
  "util::CurlHttpClient::perform: redirects are followed only when asked, headers of the last "
  "response only",
  "[http]")
{
  util::CurlHttpClient client;
  auto request = get(shared_server().url("/redirect"));
  const auto stayed = client.perform(request);
  REQUIRE(stayed);
  CHECK(stayed->status == 302);
  CHECK(header(*stayed, "location") == "/version");

  request.follow_redirects = util::FollowRedirects::yes;
  const auto followed = client.perform(request);
  REQUIRE(followed);
  CHECK(followed->status == 200);
  CHECK(followed->body == R"({"version": "1.0.0"})");
  CHECK_FALSE(header(*followed, "location"));
  CHECK(header(*followed, "content-type") == "application/json");
}

TEST_CASE("util::CurlHttpClient::perform: sends the method, headers and body", "[http]")
{
  util::CurlHttpClient client;
  auto request = get(shared_server().url("/echo"));
  request.method = "PUT";
  request.body = "payload=1";
  request.headers = {{"X-Token", "abc"}, {"X-Empty", ""}};
  const auto response = client.perform(request);
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK_THAT(response->body, Catch::Contains(R"("method": "PUT")"));
  CHECK_THAT(response->body, Catch::Contains(R"("body": "payload=1")"));
  CHECK_THAT(response->body, Catch::Contains(R"("X-Token": "abc")"));
  CHECK_THAT(response->body, Catch::Contains(R"("X-Empty": "")"));

  request.method = "HEAD";
  request.body.clear();
  request.url = shared_server().url("/version");
  const auto head = client.perform(request);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
}

TEST_CASE("util::CurlHttpClient::perform: a slow answer past the timeout is Errc::timeout, on time",
          "[http]")
{
  util::CurlHttpClient client;
  auto request = get(shared_server().url("/slow/3000"));
  request.timeout = 300ms;
  const auto started = std::chrono::steady_clock::now();
  const auto response = client.perform(request);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(response);
  CHECK(response.error().code == util::Errc::timeout);
  CHECK_THAT(response.error().message, Catch::StartsWith(request.url + ": "));
  CHECK(took >= 250ms);
  CHECK(took < 2500ms);

  request.timeout = 0ms;
  const auto no_time = client.perform(request);
  REQUIRE_FALSE(no_time);
  CHECK(no_time.error().code == util::Errc::timeout);
}

TEST_CASE("util::CurlHttpClient::perform: a refused connection is Errc::network", "[http]")
{
  util::CurlHttpClient client;
  const auto url = "http://127.0.0.1:" + std::to_string(free_port()) + "/";
  const auto response = client.perform(get(url));
  REQUIRE_FALSE(response);
  CHECK(response.error().code == util::Errc::network);
  CHECK_THAT(response.error().message,
             Catch::StartsWith(url + ": ") && Catch::EndsWith("(connection refused)"));
}

TEST_CASE("util::CurlHttpClient::perform: talks HTTP over a unix socket", "[http]")
{
  testutil::TempDir sockets;
  const auto socket_path = (sockets.path() / "api.sock").string();
  FixtureServer server({"--unix-socket", socket_path, "--version-string", "9.9.9"});
  util::CurlHttpClient client;
  auto request = get("http://localhost/version");
  request.unix_socket = socket_path;
  const auto response = client.perform(request);
  INFO(testutil::error_message(response));
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body == R"({"version": "9.9.9"})");
}

TEST_CASE(
  "util::CurlHttpClient::perform: file:// reads a file with status 0, a missing one is Errc::io",
  "[http]")
{
  testutil::TempDir dir;
  testutil::write_file(dir.path() / "VERSION", "1.2.3\n");
  util::CurlHttpClient client;
  const auto response = client.perform(get("file://" + (dir.path() / "VERSION").string()));
  INFO(testutil::error_message(response));
  REQUIRE(response);
  CHECK(response->status == 0);
  CHECK(response->body == "1.2.3\n");

  const auto missing = client.perform(get("file://" + (dir.path() / "nope").string()));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == util::Errc::io);
}

TEST_CASE("util::CurlHttpClient::perform: file:// reads only a regular file, and never blocks",
          "[http]")
{
  testutil::TempDir dir;
  util::CurlHttpClient client;
  const auto fifo = dir.path() / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // A fifo without a writer blocked the open (and /dev/zero the read) past any timeout.
  for (const auto& path : {fifo.string(), std::string("/dev/zero"), dir.path().string()}) {
    INFO(path);
    auto request = get("file://" + path);
    request.timeout = 2s;
    const auto started = std::chrono::steady_clock::now();
    const auto response = client.perform(request);
    CHECK(std::chrono::steady_clock::now() - started < 1s);
    REQUIRE_FALSE(response);
    CHECK(response.error().code == util::Errc::io);
    CHECK_THAT(response.error().message, Catch::EndsWith(", expected a regular file"));
  }

  // body_limit keeps the start of a longer file and says it was cut.
  testutil::write_file(dir.path() / "big", std::string(100, 'x') + "tail");
  auto request = get("file://" + (dir.path() / "big").string());
  request.body_limit = 100;
  const auto cut = client.perform(request);
  REQUIRE(cut);
  CHECK(cut->body == std::string(100, 'x'));
  CHECK(cut->body_truncated);
  request.body_limit = 104;
  const auto whole = client.perform(request);
  REQUIRE(whole);
  CHECK(whole->body.size() == 104);
  CHECK_FALSE(whole->body_truncated);
}

TEST_CASE("util::CurlHttpClient::perform: a stop request cancels a transfer at once", "[http]")
{
  util::CurlHttpClient client;
  std::stop_source stop;
  auto request = get(shared_server().url("/slow/5000"));
  request.timeout = 10s;
  request.stop = stop.get_token();
  std::jthread stopper([&stop] {
    std::this_thread::sleep_for(200ms);
    stop.request_stop();
  });
  const auto started = std::chrono::steady_clock::now();
  const auto response = client.perform(request);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(response);
  CHECK(response.error().code == util::Errc::cancelled);
  CHECK(took < 3s);

  const auto again = client.perform(request); // stopped before it starts
  REQUIRE_FALSE(again);
  CHECK(again.error().code == util::Errc::cancelled);
}

TEST_CASE("util::CurlHttpClient::perform: messages never show a URL's userinfo or user_password",
          "[http]")
{
  util::CurlHttpClient client;
  const auto port = std::to_string(free_port());
  auto request = get("http://deploy:s3cret@127.0.0.1:" + port + "/health");
  request.user_password = "admin:hunter2";
  const auto response = client.perform(request);
  REQUIRE_FALSE(response);
  CHECK(response.error().code == util::Errc::network);
  CHECK_THAT(response.error().message, Catch::StartsWith("http://127.0.0.1:" + port + "/health: "));
  CHECK_THAT(response.error().message,
             !Catch::Contains("s3cret") && !Catch::Contains("deploy")
               && !Catch::Contains("hunter2"));
}

TEST_CASE(
  "util::CurlHttpClient::perform: a certificate that does not verify is named, tls_verify and "
  "ca_file accept it",
  "[http]")
{
  testutil::TempDir dir;
  const auto cert = dir.path() / "cert.pem";
  const auto key = dir.path() / "key.pem";
  const auto command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                       "-addext subjectAltName=IP:127.0.0.1 -keyout '"
                       + key.string() + "' -out '" + cert.string() + "' >/dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0); // NOLINT: a fixed command line
  FixtureServer server({"--tls-cert", cert.string(), "--tls-key", key.string()});
  auto url = server.url("/version");
  url.replace(0, 4, "https");
  util::CurlHttpClient client;
  auto request = get(url);

  const auto refused = client.perform(request);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == util::Errc::tls);
  CHECK_THAT(refused.error().message,
             Catch::StartsWith(url + ": " + std::string(util::k_tls_verification_failed) + ": "));

  request.tls_verify = util::TlsVerify::no;
  const auto unverified = client.perform(request);
  INFO(testutil::error_message(unverified));
  REQUIRE(unverified);
  CHECK(unverified->status == 200);

  request.tls_verify = util::TlsVerify::yes;
  request.ca_file = cert.string();
  const auto pinned = client.perform(request);
  INFO(testutil::error_message(pinned));
  REQUIRE(pinned);
  CHECK(pinned->body == R"({"version": "1.0.0"})");
}

TEST_CASE("util::redact_url: drops userinfo and nothing else", "[http]")
{
  CHECK(util::redact_url("https://u:p@example.com:8443/a@b?c=@#d")
        == "https://example.com:8443/a@b?c=@#d");
  CHECK(util::redact_url("http://token@host/") == "http://host/");
  CHECK(util::redact_url("http://host/path@x") == "http://host/path@x");
  CHECK(util::redact_url("file:///srv/app/VERSION") == "file:///srv/app/VERSION");
  CHECK(util::redact_url("not a url") == "not a url");
}

TEST_CASE("util::parse_url: splits scheme, host, userinfo and decoded path", "[http]")
{
  const auto plain = util::parse_url("HTTP://127.0.0.1:8080/a%20b");
  REQUIRE(plain);
  CHECK(plain->scheme == "http");
  CHECK(plain->host == "127.0.0.1");
  CHECK_FALSE(plain->has_userinfo);
  CHECK(plain->path == "/a b");

  const auto secret = util::parse_url("https://user:pw@example.com");
  REQUIRE(secret);
  CHECK(secret->has_userinfo);
  CHECK(secret->path == "/");

  const auto file = util::parse_url("file:///srv/app/VERSION");
  REQUIRE(file);
  CHECK(file->scheme == "file");
  CHECK(file->path == "/srv/app/VERSION");

  const auto bad = util::parse_url("http://exa mple.com/");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == util::Errc::config);
  CHECK_THAT(bad.error().message, Catch::StartsWith("malformed URL: "));
}
