// The http kind: parsing its keys, judging answers (pure), and the probe through a fake client.
#include "testutil.hpp"

#include <checks/http.hpp>

#include <fmt/format.h>

#include <sys/stat.h>

#include <mutex>

using namespace std::chrono_literals;
using hook::Status;

namespace {

const testutil::KindHarness<checks::HttpSpec> k_http{"http", "api", &checks::parse_http};

std::string
config_with(std::string_view keys)
{
  return k_http.config(keys);
}

util::Result<checks::HttpSpec>
parse(std::string_view keys)
{
  return k_http.parse(keys);
}

checks::HttpSpec
parsed(std::string_view keys)
{
  return k_http.parsed(keys);
}

// Require `keys` to be a config error about `key` whose message contains `detail`.
void
require_config_error(std::string_view keys, std::string_view key, std::string_view detail)
{
  const auto spec = parse(keys);
  REQUIRE_FALSE(spec);
  CHECK(spec.error().code == util::Errc::config);
  CHECK_THAT(spec.error().message,
             Catch::StartsWith("test.toml:")
               && Catch::Contains(fmt::format("check \"api\" (http): key \"{}\": ", key))
               && Catch::Contains(std::string(detail)));
}

util::HttpResponse
answer(long status, std::string body, util::HeaderList headers = {})
{
  util::HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  response.duration = 12ms;
  return response;
}

// Records the request and returns a canned outcome.
class FakeHttpClient final : public util::HttpClient
{
public:
  explicit FakeHttpClient(util::Result<util::HttpResponse> outcome)
      : m_outcome(std::move(outcome))
  {}
  util::Result<util::HttpResponse>
  perform(const util::HttpRequest& request) override
  {
    const std::lock_guard lock(m_mutex);
    m_requests.push_back(request);
    return m_outcome;
  }
  std::vector<util::HttpRequest>
  requests() const
  {
    const std::lock_guard lock(m_mutex);
    return m_requests;
  }

private:
  util::Result<util::HttpResponse> m_outcome;
  mutable std::mutex m_mutex;
  std::vector<util::HttpRequest> m_requests;
};

hook::CheckContext
context_with(util::HttpClient* client, std::chrono::milliseconds left = 5s)
{
  auto ctx = testutil::context(left);
  testutil::install_fake(ctx, client);
  return ctx;
}

} // namespace

TEST_CASE("checks::parse_http: defaults from a bare url", "[http]")
{
  const auto spec = parsed(R"(url = "http://127.0.0.1:8080/health")");
  CHECK(spec.url == "http://127.0.0.1:8080/health");
  CHECK_FALSE(spec.is_file);
  CHECK(spec.method == "GET");
  CHECK(spec.statuses == std::vector<long>{200});
  CHECK(spec.tls_verify == util::TlsVerify::yes);
  CHECK(spec.follow_redirects == util::FollowRedirects::no);
  CHECK(spec.body_limit == 1024 * 1024);
  CHECK_FALSE(spec.unix_socket);
  CHECK(spec.body_expectations.empty());
}

TEST_CASE("checks::parse_http: every key", "[http]")
{
  const auto spec = parsed(R"(
url = "https://api.example.com/v1/version"
method = "POST"
headers = { Host = "api.example.com", X-Probe = "readygate" }
body = '{"ping": true}'
unix_socket = "run/api.sock"
status = [200, 204]
body_contains = ["v1.2.3", "ok"]
body_matches = '"build": "[0-9a-f]{7}"'
expect_headers = { Content-Type = "application/json" }
tls_verify = false
ca_file = "/etc/ssl/internal.pem"
follow_redirects = true
body_limit = 4096
)");
  CHECK(spec.method == "POST");
  CHECK(spec.headers == util::HeaderList{{"Host", "api.example.com"}, {"X-Probe", "readygate"}});
  CHECK(spec.body == R"({"ping": true})");
  CHECK(spec.unix_socket == "/etc/readygate/run/api.sock");
  CHECK(spec.statuses == std::vector<long>{200, 204});
  CHECK(testutil::described(spec.body_expectations)
        == std::vector<std::string>{
          "contains \"v1.2.3\"", "contains \"ok\"", R"(matches /"build": "[0-9a-f]{7}"/)"});
  CHECK(spec.expect_headers == util::HeaderList{{"content-type", "application/json"}});
  CHECK(spec.tls_verify == util::TlsVerify::no);
  CHECK(spec.ca_file == "/etc/ssl/internal.pem");
  CHECK(spec.follow_redirects == util::FollowRedirects::yes);
  CHECK(spec.body_limit == 4096);
}

TEST_CASE("checks::parse_http: file URLs have no status and take no request keys", "[http]")
{
  const auto spec = parsed(R"(
url = "file:///srv/app/VERSION"
body_contains = "1.2.3")");
  CHECK(spec.is_file);
  CHECK(spec.file_path == "/srv/app/VERSION");
  CHECK(spec.statuses.empty());

  require_config_error(
    "url = \"file:///srv/app/VERSION\"\nstatus = 200", "status", "not applicable to a file:// URL");
  require_config_error(
    "url = \"file:///srv/app/VERSION\"\nmethod = \"POST\"", "method", "not applicable");
  require_config_error("url = \"file://otherhost/srv/VERSION\"", "url", "malformed URL");
}

TEST_CASE("checks::parse_http: bad values are config errors naming their key", "[http]")
{
  require_config_error(
    R"(url = "ftp://127.0.0.1/x")", "url", "expected an http, https or file URL");
  require_config_error(
    R"(url = "http://user:secret@127.0.0.1/x")", "url", "credentials in the URL are not allowed");
  require_config_error(R"(url = "http://exa mple.com/")", "url", "malformed URL");
  require_config_error(R"(url = 8080)", "url", "expected a string");
  require_config_error(
    "url = \"http://h/\"\nstatus = 600", "status", "expected an integer from 100 to 599");
  require_config_error("url = \"http://h/\"\nstatus = \"200\"", "status", "expected an integer");
  require_config_error(
    "url = \"http://h/\"\nstatus = [200, \"x\"]", "status", "expected an integer");
  require_config_error("url = \"http://h/\"\nbody_matches = [\"ok\", \"v(1\"]",
                       "body_matches",
                       "invalid regular expression \"v(1\"");
  require_config_error(
    "url = \"http://h/\"\nmethod = \"GET /\"", "method", "is not an HTTP method");
  require_config_error(
    "url = \"http://h/\"\nheaders = { \"Bad Name\" = \"x\" }", "headers", "is not a header name");
  require_config_error(
    "url = \"http://h/\"\nheaders = { X = \"a\\r\\nInjected: 1\" }", "headers", "line break");
  // libcurl would cut the value (or the URL) at the NUL and send another one.
  require_config_error(
    "url = \"http://h/\"\nheaders = { X = \"abc\\u0000def\" }", "headers", "has a NUL byte");
  require_config_error("url = \"http://h/\\u0000x\"", "url", "the URL has a NUL byte");
  require_config_error(
    "url = \"http://h/\"\nheaders = { X = 1 }", "headers", "expected a table of strings");
  require_config_error(
    "url = \"http://h/\"\nbody_limit = 0", "body_limit", "expected an integer from 1");
  require_config_error(
    "url = \"http://h/\"\ntls_verify = \"no\"", "tls_verify", "expected true or false");

  const auto missing = parse(R"(method = "GET")");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("missing key \"url\""));
}

TEST_CASE("checks::parse_http: an unknown key is rejected first, with the known keys", "[http]")
{
  const auto spec = parse("sttaus = 200"); // no url either: the typo is what gets reported
  REQUIRE_FALSE(spec);
  CHECK(spec.error().code == util::Errc::config);
  CHECK_THAT(spec.error().message,
             Catch::Contains("unknown key \"sttaus\"") && Catch::Contains("status"));
}

TEST_CASE("checks::evaluate_http: the expected answer passes", "[http]")
{
  const auto spec = parsed(R"(
url = "http://127.0.0.1/version"
status = [200, 204]
body_contains = "1.2.3"
body_matches = '"version": "\d+\.\d+\.\d+"'
expect_headers = { Content-Type = "application/json" })");
  const auto result = checks::evaluate_http(
    spec,
    answer(204,
           R"({"version": "1.2.3"})",
           {{"content-type", "text/html"}, {"content-type", "application/json"}}));
  INFO(result.message);
  CHECK(result.status == Status::pass);
  CHECK(result.findings.empty());
  CHECK(result.message == "GET http://127.0.0.1/version: 204 in 12 ms");
}

TEST_CASE("checks::evaluate_http: another status is a fail with expected and found", "[http]")
{
  const auto spec = parsed(R"(url = "http://127.0.0.1/health")");
  const auto result = checks::evaluate_http(spec, answer(503, "down"));
  CHECK(result.status == Status::fail);
  REQUIRE(result.findings.size() == 1);
  CHECK(result.findings[0].subject == "status");
  CHECK(result.findings[0].expected == "200");
  CHECK(result.findings[0].found == "503");
  CHECK(result.message == "GET http://127.0.0.1/health: status 503 (expected 200)");

  const auto several =
    checks::evaluate_http(parsed("url = \"http://h/\"\nstatus = [200, 204]"), answer(500, ""));
  REQUIRE(several.findings.size() == 1);
  CHECK(several.findings[0].expected == "200 or 204");
}

TEST_CASE("checks::evaluate_http: a success status other than the expected one is a fail", "[http]")
{
  // 2xx is not "close enough": 204 may be an empty maintenance answer, 201 a different endpoint.
  const auto no_content =
    checks::evaluate_http(parsed(R"(url = "http://h/health")"), answer(204, ""));
  CHECK(no_content.status == Status::fail);
  REQUIRE(no_content.findings.size() == 1);
  CHECK(no_content.findings[0].expected == "200");
  CHECK(no_content.findings[0].found == "204");

  const auto listed =
    checks::evaluate_http(parsed("url = \"http://h/\"\nstatus = [201, 202]"), answer(200, "ok"));
  CHECK(listed.status == Status::fail);
  REQUIRE(listed.findings.size() == 1);
  CHECK(listed.findings[0].expected == "201 or 202");
  CHECK(listed.findings[0].found == "200");
}

TEST_CASE(
  "checks::evaluate_http: a body without the expected text is a fail showing an escaped excerpt",
  "[http]")
{
  const auto spec = parsed(R"(
url = "http://h/version"
body_contains = ["v1.2.3", "ok"]
body_matches = "^build [0-9]+$")");
  const std::string body = "v1.2.2\tok\n\x01" + std::string(300, 'y');
  const auto result = checks::evaluate_http(spec, answer(200, body));
  CHECK(result.status == Status::fail);
  REQUIRE(result.findings.size() == 2);
  CHECK(result.findings[0].subject == "body");
  CHECK(result.findings[0].expected == "contains \"v1.2.3\"");
  CHECK(result.findings[0].found == "v1.2.2\\tok\\n\\x01" + std::string(200 - 11, 'y') + "...");
  CHECK(result.findings[1].expected == "matches /^build [0-9]+$/");
  CHECK(result.message == "GET http://h/version: body does not contain \"v1.2.3\" (and 1 more)");

  // The expected text is shown escaped, as it would be written in a TOML basic string.
  const auto quoted = checks::evaluate_http(parsed(R"(
url = "http://h/version"
body_contains = '"version": "1.2.3"')"),
                                            answer(200, R"({"version": "1.0.0"})"));
  REQUIRE(quoted.findings.size() == 1);
  CHECK(quoted.findings[0].expected == R"(contains "\"version\": \"1.2.3\"")");
  CHECK(quoted.findings[0].found == R"({"version": "1.0.0"})");
}

TEST_CASE("checks::evaluate_http: an echoed secret is taken out of the raw answer before it is "
          "escaped or cut",
          "[http][secret]")
{
  // What escaping changes ('\\', '"', a tab) sits in the secret, and the echo straddles the
  // 200-byte excerpt: redacting the escaped, cut excerpt would have shown all or part of it.
  const std::string secret = "tok\\en\"q\tz-4f1c9a";
  const util::Redactor redactor(std::vector{util::Secret(secret)});
  const auto spec = parsed(R"(
url = "http://h/"
body_contains = "absent"
expect_headers = { X-Echo = "absent" })");
  for (const std::size_t offset : {0, 150, 192, 199}) {
    const auto body = std::string(offset, 'x') + secret + "\n";
    const auto result =
      checks::evaluate_http(spec, answer(200, body, {{"X-Echo", secret}}), redactor);
    INFO(result.message);
    REQUIRE(result.findings.size() == 2);
    CHECK(result.findings[0].found == "<redacted>");
    CHECK_THAT(result.message, Catch::Contains("header x-echo is \"<redacted>\""));
    const auto& shown = result.findings[1].found;
    INFO(shown);
    CHECK(shown.starts_with(std::string(offset, 'x')));
    CHECK_THAT(shown, !Catch::Contains("tok") && !Catch::Contains("4f1c9a"));
    if (offset < 190) {
      CHECK_THAT(shown, Catch::Contains("<redacted>"));
    }
  }
  // Percent-encoded, JSON- and XML-escaped echoes too.
  for (const std::string echo :
       {"tok%5Cen%22q%09z-4f1c9a", "tok\\\\en\\\"q\\tz-4f1c9a", "tok\\en&quot;q&#9;z-4f1c9a"}) {
    const auto result = checks::evaluate_http(spec, answer(200, "echo: " + echo), redactor);
    REQUIRE(result.findings.size() == 2);
    CHECK(result.findings[1].found == "echo: <redacted>");
  }
}

TEST_CASE(
  "checks::evaluate_http: expected headers are matched by name case-insensitively, value exactly",
  "[http]")
{
  const auto spec = parsed(R"(
url = "http://h/"
expect_headers = { "Content-Type" = "application/json", "X-Release" = "1.2.3" })");
  const auto result =
    checks::evaluate_http(spec, answer(200, "{}", {{"content-type", "text/html; charset=utf-8"}}));
  CHECK(result.status == Status::fail);
  REQUIRE(result.findings.size() == 2);
  CHECK(result.findings[0].subject == "header content-type");
  CHECK(result.findings[0].expected == "application/json");
  CHECK(result.findings[0].found == "text/html; charset=utf-8");
  CHECK(result.findings[1].subject == "header x-release");
  CHECK(result.findings[1].found == "(missing)");

  // Responses from other clients may keep the server's spelling.
  const auto mixed = checks::evaluate_http(
    spec, answer(200, "{}", {{"Content-Type", "application/json"}, {"X-RELEASE", "1.2.3"}}));
  CHECK(mixed.status == Status::pass);
}

TEST_CASE("checks::evaluate_http: a truncated body lacking the text is an error, not a fail",
          "[http]")
{
  const auto spec = parsed("url = \"http://h/\"\nbody_contains = \"needle\"\nbody_limit = 10");
  auto truncated = answer(200, "haystackha");
  truncated.body_truncated = true;
  const auto result = checks::evaluate_http(spec, truncated);
  CHECK(result.status == Status::error);
  CHECK_THAT(result.message, Catch::Contains("body is longer than body_limit (10 bytes)"));
  CHECK(result.findings.size() == 1);

  // The status was observed wrong whatever the rest of the body says.
  truncated.status = 500;
  CHECK(checks::evaluate_http(spec, truncated).status == Status::fail);

  // Found in the kept part: truncation does not matter.
  truncated.status = 200;
  truncated.body = "a needle..";
  CHECK(checks::evaluate_http(spec, truncated).status == Status::pass);
}

TEST_CASE("checks::evaluate_http: a pattern is never judged on a truncated body", "[http]")
{
  // "OK" is all that was kept of "OK\nbut degraded": '$' would match at the cut.
  const auto spec = parsed("url = \"http://h/\"\nbody_matches = '^OK$'\nbody_limit = 2");
  auto truncated = answer(200, "OK");
  truncated.body_truncated = true;
  const auto result = checks::evaluate_http(spec, truncated);
  CHECK(result.status == Status::error);
  CHECK(result.message
        == "GET http://h/: body is longer than body_limit (2 bytes); raise it to judge "
           "matches /^OK$/");
  REQUIRE(result.findings.size() == 1);
  CHECK(result.findings[0].found == "more than body_limit (2 bytes); not judged");

  // A definite mismatch elsewhere still makes it a fail, listing the undetermined one too.
  truncated.status = 503;
  const auto wrong = checks::evaluate_http(spec, truncated);
  CHECK(wrong.status == Status::fail);
  CHECK(wrong.findings.size() == 2);

  // The whole body: judged.
  CHECK(checks::evaluate_http(spec, answer(200, "OK")).status == Status::pass);

  // Not only '$': a lookahead would also be judged at the cut, and pass on "OK" of "OK, degraded".
  const auto lookahead =
    parsed("url = \"http://h/\"\nbody_matches = 'OK(?!.*degraded)'\nbody_limit = 2");
  truncated.status = 200;
  CHECK(checks::evaluate_http(lookahead, truncated).status == Status::error);
  CHECK(checks::evaluate_http(lookahead, answer(200, "OK, degraded")).status == Status::fail);
}

TEST_CASE("checks::evaluate_http: '^' and '$' anchor the whole body, not each line", "[http]")
{
  const auto spec = parsed("url = \"http://h/\"\nbody_matches = '^OK$'");
  CHECK(checks::evaluate_http(spec, answer(200, "OK")).status == Status::pass);
  CHECK(checks::evaluate_http(spec, answer(200, "ERROR: database down\nOK")).status
        == Status::fail);
  CHECK(checks::evaluate_http(spec, answer(200, "OK\nERROR: database down")).status
        == Status::fail);
  // Lines can still be matched where the pattern says so.
  const auto lines = parsed("url = \"http://h/\"\nbody_matches = '(?m)^OK$'");
  CHECK(checks::evaluate_http(lines, answer(200, "ERROR\nOK\n")).status == Status::pass);
}

TEST_CASE("checks::evaluate_http: a file URL passes on its content alone", "[http]")
{
  const auto spec = parsed("url = \"file:///srv/app/VERSION\"\nbody_contains = \"1.2.3\"");
  const auto result = checks::evaluate_http(spec, answer(0, "1.2.3\n"));
  CHECK(result.status == Status::pass);
  CHECK(result.message == "file:///srv/app/VERSION: 6 bytes read in 12 ms");
  CHECK(checks::evaluate_http(spec, answer(0, "1.2.4\n")).status == Status::fail);
}

TEST_CASE(
  "checks::evaluate_http_error: no answer is an error, a bad certificate or a missing file a fail",
  "[http]")
{
  const auto spec = parsed(R"(url = "https://127.0.0.1/")");
  const auto refused = checks::evaluate_http_error(
    spec,
    util::make_error(util::Errc::network,
                     "https://127.0.0.1/: failed to connect: connection refused"));
  CHECK(refused.status == Status::error);
  CHECK(refused.message == "https://127.0.0.1/: failed to connect: connection refused");
  CHECK(checks::evaluate_http_error(spec, util::make_error(util::Errc::timeout, "t")).status
        == Status::error);

  const auto tls = checks::evaluate_http_error(
    spec,
    util::make_error(
      util::Errc::tls,
      fmt::format("https://127.0.0.1/: {}: SSL certificate problem: self-signed certificate",
                  util::k_tls_verification_failed)));
  CHECK(tls.status == Status::fail);
  REQUIRE(tls.findings.size() == 1);
  CHECK(tls.findings[0].subject == "tls certificate");
  CHECK(tls.findings[0].found == "SSL certificate problem: self-signed certificate");

  testutil::TempDir dir;
  const auto missing_spec = parsed(fmt::format("url = \"file://{}/VERSION\"", dir.path().string()));
  const auto missing =
    checks::evaluate_http_error(missing_spec, util::make_error(util::Errc::io, "x"));
  CHECK(missing.status == Status::fail);
  REQUIRE(missing.findings.size() == 1);
  CHECK(missing.findings[0].subject == (dir.path() / "VERSION").string());
  CHECK(missing.findings[0].found == "missing");

  // The file is there but could not be read: that is not an observation of the release.
  testutil::write_file(dir.path() / "VERSION", "1");
  CHECK(checks::evaluate_http_error(missing_spec, util::make_error(util::Errc::io, "x")).status
        == Status::error);

  // A fifo (or a device, a directory) where the release has a file: observed and wrong.
  REQUIRE(::mkfifo((dir.path() / "PIPE").c_str(), 0600) == 0);
  const auto fifo = checks::evaluate_http_error(
    parsed(fmt::format("url = \"file://{}/PIPE\"", dir.path().string())),
    util::make_error(util::Errc::io, "x"));
  CHECK(fifo.status == Status::fail);
  REQUIRE(fifo.findings.size() == 1);
  CHECK(fifo.findings[0].expected == "a file");
  CHECK(fifo.findings[0].found == "a fifo");
}

TEST_CASE("checks::create_http_check: run sends the spec's request within the time left", "[http]")
{
  const auto spec = testutil::spec_from(config_with(R"(
url = "http://localhost/v1/info"
method = "POST"
headers = { Accept = "application/json" }
body = "{}"
unix_socket = "/run/app.sock"
follow_redirects = true
body_limit = 100
body_contains = "ok")"));
  const auto check = checks::create_http_check(spec);
  REQUIRE(check);
  FakeHttpClient client(answer(200, "ok"));
  const auto result = (*check)->run(context_with(&client, 3s));
  CHECK(result.status == Status::pass);
  const auto requests = client.requests();
  REQUIRE(requests.size() == 1);
  const auto& sent = requests.front();
  CHECK(sent.method == "POST");
  CHECK(sent.url == "http://localhost/v1/info");
  CHECK(sent.headers == util::HeaderList{{"Accept", "application/json"}});
  CHECK(sent.body == "{}");
  CHECK(sent.unix_socket == "/run/app.sock");
  CHECK(sent.follow_redirects == util::FollowRedirects::yes);
  CHECK(sent.body_limit == 100);
  CHECK(sent.timeout <= 3s);
  CHECK(sent.timeout > 2s);
}

TEST_CASE("checks::create_http_check: run turns a client error into an error result", "[http]")
{
  const auto check =
    checks::create_http_check(testutil::spec_from(config_with(R"(url = "http://127.0.0.1:1/")")));
  REQUIRE(check);
  FakeHttpClient client(
    util::make_error(util::Errc::timeout, "http://127.0.0.1:1/: operation timed out"));
  const auto result = (*check)->run(context_with(&client));
  CHECK(result.status == Status::error);
  CHECK(result.message == "http://127.0.0.1:1/: operation timed out");

  const auto without_client = (*check)->run(context_with(nullptr));
  CHECK(without_client.status == Status::error);
}

TEST_CASE("checks::create_http_check: a file URL naming a directory fails", "[http]")
{
  testutil::TempDir dir;
  const auto check = checks::create_http_check(
    testutil::spec_from(config_with(fmt::format("url = \"file://{}\"", dir.path().string()))));
  REQUIRE(check);
  FakeHttpClient client(answer(0, "")); // what libcurl answers for a directory
  const auto result = (*check)->run(context_with(&client));
  CHECK(result.status == Status::fail);
  REQUIRE(result.findings.size() == 1);
  CHECK(result.findings[0].expected == "a file");
  CHECK(result.findings[0].found == "a directory");
}
