// The AWS layer of `readygate lifecycle`: IMDSv2 and Auto Scaling request shapes against a fake
// util::HttpClient, AWS's answers parsed and classified, credentials refreshed, and libcurl's
// SigV4 (through util::CurlHttpClient) against vectors botocore computes at test time.
#include "testutil.hpp"

#include <hook/gate/aws.hpp>
#include <hook/util/text.hpp>

#include <boost/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

namespace {

using namespace std::chrono_literals;
using hook::gate::AnswerKind;
using hook::gate::ApiAnswer;
using hook::gate::CallLimits;

CallLimits
limits(std::chrono::milliseconds budget = 5s)
{
  return CallLimits{util::time_after(util::Clock::now(), budget), {}};
}

util::HttpResponse
response(long status, std::string body)
{
  util::HttpResponse answer;
  answer.status = status;
  answer.body = std::move(body);
  return answer;
}

std::optional<std::string>
header(const util::HttpRequest& request, std::string_view name)
{
  for (const auto& [found, value] : request.headers) {
    if (found == name) {
      return value;
    }
  }
  return std::nullopt;
}

// Answers each request with `answer(request)` and keeps every request.
class FakeHttp final : public util::HttpClient
{
public:
  std::function<util::Result<util::HttpResponse>(const util::HttpRequest&)> answer;

  util::Result<util::HttpResponse>
  perform(const util::HttpRequest& request) override
  {
    {
      const std::lock_guard lock(m_mutex);
      m_requests.push_back(request);
    }
    return answer(request);
  }
  std::vector<util::HttpRequest>
  requests() const
  {
    const std::lock_guard lock(m_mutex);
    return m_requests;
  }

private:
  mutable std::mutex m_mutex;
  std::vector<util::HttpRequest> m_requests;
};

// IMDS answering from `items` ("meta-data/instance-id" -> value); anything else is 404.
class FakeImds final : public hook::gate::Imds
{
public:
  std::map<std::string, std::string, std::less<>> items;
  std::deque<util::Error> failures; // answered first, one per read
  unsigned reads = 0;

  util::Result<std::optional<std::string>>
  read(std::string_view item, const CallLimits&) override
  {
    ++reads;
    if (!failures.empty()) {
      auto error = failures.front();
      failures.pop_front();
      return error;
    }
    const auto found = items.find(item);
    if (found == items.end()) {
      return std::optional<std::string>();
    }
    return std::optional<std::string>(found->second);
  }
};

std::string
credentials_json(std::string_view key, std::string_view expiration)
{
  return fmt::format(R"({{"Code": "Success", "LastUpdated": "2026-11-22T01:00:00Z",
  "Type": "AWS-HMAC", "AccessKeyId": "{}", "SecretAccessKey": "secret+/{}=",
  "Token": "token+/{}==", "Expiration": "{}"}})",
                     key,
                     key,
                     key,
                     expiration);
}

hook::gate::RoleCredentials
example_credentials()
{
  hook::gate::RoleCredentials credentials;
  credentials.role_name = "rg-instance-role";
  credentials.access_key_id = "ASIAEXAMPLE";
  credentials.secret_access_key = util::Secret("secret/with+chars=");
  credentials.session_token = util::Secret("token/with+chars==");
  credentials.expiration = std::chrono::system_clock::now() + 1h;
  return credentials;
}

// A credential source handing out `credentials`, and others after refresh().
class FakeCredentials final : public hook::gate::CredentialSource
{
public:
  hook::gate::RoleCredentials credentials = example_credentials();
  unsigned refreshes = 0;

  util::Result<hook::gate::RoleCredentials>
  current(const CallLimits&) override
  {
    return credentials;
  }
  util::Result<hook::gate::RoleCredentials>
  refresh(const CallLimits&) override
  {
    ++refreshes;
    credentials.access_key_id = "ASIAREFRESHED";
    credentials.session_token = util::Secret("fresh-token");
    return credentials;
  }
  std::vector<util::Secret>
  secrets() const override
  {
    return {
      credentials.secret_access_key, credentials.session_token, util::Secret("token/with+chars==")};
  }
};

constexpr std::string_view k_ok_heartbeat =
  R"(<RecordLifecycleActionHeartbeatResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <RecordLifecycleActionHeartbeatResult/>
  <ResponseMetadata><RequestId>7c6e177f-1111</RequestId></ResponseMetadata>
</RecordLifecycleActionHeartbeatResponse>)";

std::string
error_xml(std::string_view code, std::string_view message)
{
  return fmt::format(R"(<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error>
  <RequestId>8d5b6f2a-2222</RequestId>
</ErrorResponse>)",
                     code,
                     message);
}

const hook::gate::LifecycleAction k_action{"i-0123456789abcdef0", "rg-asg", "rg-launch-hook"};

} // namespace

TEST_CASE("gate::form_body: Action and Version first, every value percent-encoded, order kept",
          "[lifecycle]")
{
  CHECK(hook::gate::form_body(hook::gate::complete_action(k_action, "CONTINUE"))
        == "Action=CompleteLifecycleAction&Version=2011-01-01&LifecycleHookName=rg-launch-hook"
           "&AutoScalingGroupName=rg-asg&LifecycleActionResult=CONTINUE"
           "&InstanceId=i-0123456789abcdef0");
  CHECK(
    hook::gate::form_body(
      hook::gate::heartbeat_action({"i-0123456789abcdef0", "web asg/ü+1=&x", "team/hook_1-a.b~c"}))
    == "Action=RecordLifecycleActionHeartbeat&Version=2011-01-01"
       "&LifecycleHookName=team%2Fhook_1-a.b~c&AutoScalingGroupName=web%20asg%2F%C3%BC%2B1%3D%26x"
       "&InstanceId=i-0123456789abcdef0");
  CHECK(hook::gate::form_body(hook::gate::describe_instance_action("i-0abc12345678"))
        == "Action=DescribeAutoScalingInstances&Version=2011-01-01"
           "&InstanceIds.member.1=i-0abc12345678");
}

TEST_CASE("gate::query_request: POST / with a form body, libcurl SigV4, the token as a header, "
          "no date of its own, no proxy",
          "[lifecycle]")
{
  const auto request = hook::gate::query_request(hook::gate::heartbeat_action(k_action),
                                                 example_credentials(),
                                                 "https://autoscaling.eu-west-1.amazonaws.com",
                                                 "eu-west-1",
                                                 7s);
  CHECK(request.method == "POST");
  CHECK(request.url == "https://autoscaling.eu-west-1.amazonaws.com/");
  CHECK(request.body == hook::gate::form_body(hook::gate::heartbeat_action(k_action)));
  CHECK(request.aws_sigv4 == "aws:amz:eu-west-1:autoscaling");
  CHECK(request.user_password == "ASIAEXAMPLE:secret/with+chars=");
  // Exactly one header: the session token (never empty: libcurl 7.88 signs a valueless header
  // it then does not send); no X-Amz-Date (libcurl would send it twice).
  REQUIRE(request.headers.size() == 1);
  CHECK(request.headers[0].first == "X-Amz-Security-Token");
  CHECK(request.headers[0].second == "token/with+chars==");
  CHECK_FALSE(request.proxy);
  CHECK(request.follow_redirects == util::FollowRedirects::no);
  CHECK(request.tls_verify == util::TlsVerify::yes);
  CHECK(request.timeout == 7s);
  CHECK(request.connect_to.empty());
}

TEST_CASE("gate::parse_answer: success, AWS errors, and what is not the API's XML", "[lifecycle]")
{
  const auto ok = hook::gate::parse_answer("RecordLifecycleActionHeartbeat", 200, k_ok_heartbeat);
  REQUIRE(ok);
  CHECK(ok->ok());
  CHECK(ok->request_id == "7c6e177f-1111");

  const auto throttled = hook::gate::parse_answer(
    "CompleteLifecycleAction", 400, error_xml("Throttling", "Rate exceeded"));
  REQUIRE(throttled);
  CHECK_FALSE(throttled->ok());
  CHECK(throttled->code == "Throttling");
  CHECK(throttled->message == "Rate exceeded");
  CHECK(throttled->request_id == "8d5b6f2a-2222");
  CHECK(hook::gate::describe_answer(throttled)
        == "Throttling: Rate exceeded (HTTP 400, request 8d5b6f2a-2222)");

  // Terminal escapes in an answer are shown, never acted on.
  const auto escaped = hook::gate::parse_answer(
    "CompleteLifecycleAction", 400, error_xml("ValidationError", "bad &#27;[2K value"));
  REQUIRE(escaped);
  CHECK(escaped->message == "bad \\x1b[2K value");

  const auto gateway =
    hook::gate::parse_answer("CompleteLifecycleAction", 502, "<html>Bad Gateway</html>");
  REQUIRE(gateway);
  CHECK(gateway->code.empty());
  CHECK(gateway->http_status == 502);
  CHECK_THAT(gateway->message,
             Catch::StartsWith("HTTP 502 without an Auto Scaling error document"));

  const auto forbidden = hook::gate::parse_answer("CompleteLifecycleAction", 403, "denied");
  REQUIRE(forbidden);
  CHECK(forbidden->code == "UnknownError");

  // With 200: not XML, another action's answer, a cut-off document.
  for (const auto& body : {std::string("not xml"),
                           std::string("<CompleteLifecycleActionResponse/>"),
                           std::string(k_ok_heartbeat.substr(0, 60))}) {
    INFO(body);
    const auto garbled = hook::gate::parse_answer("RecordLifecycleActionHeartbeat", 200, body);
    REQUIRE_FALSE(garbled);
    CHECK(garbled.error().code == util::Errc::protocol);
  }
}

TEST_CASE("gate::classify: what is retried, what is final", "[lifecycle]")
{
  const auto answer = [](long status, std::string code, std::string message = "") {
    return util::Result<ApiAnswer>(ApiAnswer{status, std::move(code), std::move(message), "", ""});
  };
  CHECK(hook::gate::classify(answer(200, "")) == AnswerKind::ok);
  for (const auto* code : {"Throttling",
                           "ThrottlingException",
                           "RequestLimitExceeded",
                           "ResourceContention",
                           "ServiceLinkedRoleFailure",
                           "InternalFailure",
                           "ServiceUnavailable",
                           "ExpiredToken",
                           "RequestExpired"}) {
    INFO(code);
    CHECK(hook::gate::classify(answer(400, code)) == AnswerKind::retry);
  }
  CHECK(hook::gate::classify(answer(503, "")) == AnswerKind::retry);
  CHECK(hook::gate::classify(answer(403,
                                    "SignatureDoesNotMatch",
                                    "Signature expired: 20261122T025456Z is now earlier than "
                                    "20261122T031500Z"))
        == AnswerKind::retry);
  CHECK(hook::gate::classify(answer(500, "SomethingNew")) == AnswerKind::retry);
  CHECK(hook::gate::classify(answer(429, "")) == AnswerKind::retry);
  CHECK(hook::gate::classify(
          answer(400,
                 "ValidationError",
                 "No active Lifecycle Action found with instance ID i-0123456789abcdef0"))
        == AnswerKind::no_active_action);
  for (const auto* code : {"ValidationError",
                           "AccessDenied",
                           "SignatureDoesNotMatch",
                           "InvalidClientTokenId",
                           "IncompleteSignature",
                           "UnknownError"}) {
    INFO(code);
    CHECK(hook::gate::classify(answer(403, code, "Injected")) == AnswerKind::final_error);
  }
  CHECK(hook::gate::classify(util::make_error(util::Errc::network, "refused"))
        == AnswerKind::retry);
  CHECK(hook::gate::classify(util::make_error(util::Errc::timeout, "slow")) == AnswerKind::retry);
  CHECK(hook::gate::classify(util::make_error(util::Errc::protocol, "garbled"))
        == AnswerKind::retry);
  CHECK(hook::gate::classify(util::make_error(util::Errc::cancelled, "stop"))
        == AnswerKind::cancelled);
  CHECK(hook::gate::classify(util::make_error(util::Errc::permission, "no profile"))
        == AnswerKind::final_error);
}

TEST_CASE("gate::parse_described_instance: the group and state, none, or not that answer",
          "[lifecycle]")
{
  const auto described = hook::gate::parse_described_instance(
    R"(<DescribeAutoScalingInstancesResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
  <DescribeAutoScalingInstancesResult><AutoScalingInstances><member>
    <InstanceId>i-0123456789abcdef0</InstanceId><AutoScalingGroupName>my asg</AutoScalingGroupName>
    <LifecycleState>Pending:Wait</LifecycleState><HealthStatus>HEALTHY</HealthStatus>
  </member></AutoScalingInstances></DescribeAutoScalingInstancesResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</DescribeAutoScalingInstancesResponse>)");
  REQUIRE(described);
  REQUIRE(*described);
  CHECK((*described)->group_name == "my asg");
  CHECK((*described)->lifecycle_state == "Pending:Wait");

  const auto none = hook::gate::parse_described_instance(
    "<DescribeAutoScalingInstancesResponse><DescribeAutoScalingInstancesResult>"
    "<AutoScalingInstances/></DescribeAutoScalingInstancesResult>"
    "</DescribeAutoScalingInstancesResponse>");
  REQUIRE(none);
  CHECK_FALSE(*none);

  CHECK_FALSE(hook::gate::parse_described_instance("<ErrorResponse/>"));
  CHECK_FALSE(hook::gate::parse_described_instance("nonsense"));
}

TEST_CASE("gate::parse_role_credentials: a Success document, and never a secret in an error",
          "[lifecycle]")
{
  const auto parsed = hook::gate::parse_role_credentials(
    credentials_json("ASIAONE", "2026-11-22T02:54:56Z"), "rg-instance-role");
  REQUIRE(parsed);
  CHECK(parsed->access_key_id == "ASIAONE");
  CHECK(parsed->secret_access_key.reveal() == "secret+/ASIAONE=");
  CHECK(parsed->session_token.reveal() == "token+/ASIAONE==");
  CHECK(parsed->role_name == "rg-instance-role");
  CHECK(parsed->expiration == hook::gate::parse_utc_timestamp("2026-11-22T02:54:56Z"));
  CHECK(fmt::format("{}", parsed->secret_access_key) == "<redacted>");

  const std::vector<std::pair<std::string, std::string>> bad = {
    {"[]", "not a JSON object"},
    {R"({"Code": "AssumeRoleUnauthorizedAccess", "SecretAccessKey": "s3cr3t"})",
     "Code is \"AssumeRoleUnauthorizedAccess\""},
    {R"({"Code": "Success", "AccessKeyId": "A", "SecretAccessKey": "s3cr3t", "Token": "",
       "Expiration": "2026-11-22T02:54:56Z"})",
     "Token is missing or empty"},
    {R"({"Code": "Success", "AccessKeyId": "A", "SecretAccessKey": "s3cr3t", "Token": "t0k3n",
       "Expiration": "tomorrow"})",
     "Expiration \"tomorrow\" is not a UTC time"},
    {R"({"Code": "Success", "AccessKeyId": "A", "SecretAccessKey": "s3 cr3t", "Token": "t0k3n",
       "Expiration": "2026-11-22T02:54:56Z"})",
     "characters a header cannot carry"},
  };
  for (const auto& [json, expected] : bad) {
    INFO(json);
    const auto error = hook::gate::parse_role_credentials(json, "role");
    REQUIRE_FALSE(error);
    CHECK(error.error().code == util::Errc::protocol);
    CHECK_THAT(error.error().message, Catch::Contains(expected));
    CHECK_THAT(error.error().message, !Catch::Contains("s3cr3t") && !Catch::Contains("t0k3n"));
  }
}

TEST_CASE("gate::parse_utc_timestamp: IMDS's Expiration format only", "[lifecycle]")
{
  const auto parsed = hook::gate::parse_utc_timestamp("2017-05-17T15:09:54Z");
  REQUIRE(parsed);
  CHECK(std::chrono::duration_cast<std::chrono::seconds>(parsed->time_since_epoch()).count()
        == 1495033794);
  for (const auto* text : {"2017-05-17 15:09:54Z",
                           "2017-05-17T15:09:54",
                           "2017-02-30T15:09:54Z",
                           "2017-05-17T25:09:54Z",
                           "2017-05-17T15:09:5xZ",
                           ""}) {
    INFO(text);
    CHECK_FALSE(hook::gate::parse_utc_timestamp(text));
  }
}

TEST_CASE("gate::ImdsClient: a v2 token by PUT with a TTL, reused, renewed once on 401, no proxy",
          "[lifecycle]")
{
  auto http = std::make_shared<FakeHttp>();
  std::atomic<int> tokens = 0;
  std::atomic<bool> revoke = false;
  http->answer = [&](const util::HttpRequest& request) -> util::Result<util::HttpResponse> {
    if (request.method == "PUT") {
      return response(200, fmt::format("token-{}", ++tokens));
    }
    const auto token = header(request, "X-aws-ec2-metadata-token");
    if (revoke.exchange(false) || token != fmt::format("token-{}", tokens.load())) {
      return response(401, "");
    }
    if (request.url.ends_with("/latest/meta-data/instance-id")) {
      return response(200, "i-0123456789abcdef0");
    }
    if (request.url.ends_with("/latest/meta-data/services/partition")) {
      return response(503, "slow down");
    }
    if (request.url.ends_with("/latest/meta-data/iam/info")) {
      return response(403, "");
    }
    return response(404, "");
  };
  hook::gate::ImdsClient imds(http, "http://169.254.169.254/");

  const auto id = imds.read("meta-data/instance-id", limits());
  REQUIRE(id);
  CHECK(*id == "i-0123456789abcdef0");
  CHECK(imds.read("meta-data/instance-id", limits()));
  CHECK(tokens == 1); // reused

  revoke = true;
  CHECK(imds.read("meta-data/instance-id", limits()));
  CHECK(tokens == 2); // renewed after the 401

  const auto missing = imds.read("meta-data/autoscaling/target-lifecycle-state", limits());
  REQUIRE(missing);
  CHECK_FALSE(*missing);
  const auto unavailable = imds.read("meta-data/services/partition", limits());
  REQUIRE_FALSE(unavailable);
  CHECK(unavailable.error().code == util::Errc::network);
  const auto forbidden = imds.read("meta-data/iam/info", limits());
  REQUIRE_FALSE(forbidden);
  CHECK(forbidden.error().code == util::Errc::permission);
  CHECK_THAT(forbidden.error().message, Catch::Contains("disabled for this instance"));

  const auto requests = http->requests();
  REQUIRE(requests.size() >= 2);
  CHECK(requests[0].method == "PUT");
  CHECK(requests[0].url == "http://169.254.169.254/latest/api/token");
  CHECK(header(requests[0], "X-aws-ec2-metadata-token-ttl-seconds") == "21600");
  CHECK(requests[1].method == "GET");
  CHECK(requests[1].url == "http://169.254.169.254/latest/meta-data/instance-id");
  for (const auto& request : requests) {
    CHECK_FALSE(request.proxy);
    CHECK(request.follow_redirects == util::FollowRedirects::no);
    CHECK(request.timeout <= hook::gate::k_imds_request_timeout);
    CHECK_FALSE(header(request, "X-Forwarded-For"));
  }
}

TEST_CASE("gate::ImdsClient: a token PUT that gets no answer names the hop limit, no IMDSv1",
          "[lifecycle]")
{
  auto http = std::make_shared<FakeHttp>();
  http->answer = [](const util::HttpRequest&) -> util::Result<util::HttpResponse> {
    return util::make_error(util::Errc::timeout,
                            "http://169.254.169.254/latest/api/token: timed out");
  };
  hook::gate::ImdsClient imds(http, "http://169.254.169.254");
  const auto timed_out = imds.read("meta-data/instance-id", limits());
  REQUIRE_FALSE(timed_out);
  CHECK(timed_out.error().code == util::Errc::timeout);
  CHECK_THAT(timed_out.error().message,
             Catch::StartsWith("instance metadata service: ")
               && Catch::Contains("HttpPutResponseHopLimit"));

  http->answer = [](const util::HttpRequest&) -> util::Result<util::HttpResponse> {
    return response(405, "");
  };
  const auto v1_only = imds.read("meta-data/instance-id", limits());
  REQUIRE_FALSE(v1_only);
  CHECK(v1_only.error().code == util::Errc::protocol);
  CHECK_THAT(v1_only.error().message, Catch::Contains("does not use IMDSv1"));
  CHECK(http->requests().size() == 2); // no GET without a token
}

TEST_CASE("gate::InstanceProfileCredentials: fetched, reused, refreshed before Expiration, kept "
          "while IMDS is away",
          "[lifecycle]")
{
  auto imds = std::make_shared<FakeImds>();
  imds->items["meta-data/iam/security-credentials/"] = "rg-instance-role\n";
  const auto at = [](std::string_view text) { return *hook::gate::parse_utc_timestamp(text); };
  imds->items["meta-data/iam/security-credentials/rg-instance-role"] =
    credentials_json("ASIAONE", "2026-11-22T12:00:00Z");
  auto now = at("2026-11-22T11:00:00Z");
  hook::gate::InstanceProfileCredentials source(imds, [&] { return now; });

  const auto first = source.current(limits());
  REQUIRE(first);
  CHECK(first->access_key_id == "ASIAONE");
  CHECK(first->role_name == "rg-instance-role");
  const auto reads = imds->reads;
  CHECK(source.current(limits())->access_key_id == "ASIAONE");
  CHECK(imds->reads == reads); // cached

  // Five minutes before Expiration they are fetched again; EC2 has new ones by then.
  imds->items["meta-data/iam/security-credentials/rg-instance-role"] =
    credentials_json("ASIATWO", "2026-11-22T18:00:00Z");
  now = at("2026-11-22T11:55:30Z");
  CHECK(source.current(limits())->access_key_id == "ASIATWO");

  // The metadata service out of reach: credentials that still work are used.
  now = at("2026-11-22T17:56:00Z");
  imds->failures = {util::make_error(util::Errc::network, "refused"),
                    util::make_error(util::Errc::network, "refused")};
  CHECK(source.current(limits())->access_key_id == "ASIATWO");
  // ... and a forced refresh says why it failed.
  const auto refreshed = source.refresh(limits());
  REQUIRE_FALSE(refreshed);
  CHECK(refreshed.error().code == util::Errc::network);

  // IMDS hands out only expired ones: an error naming the time, no secret.
  now = at("2026-11-22T19:00:00Z");
  const auto expired = source.current(limits());
  REQUIRE_FALSE(expired);
  CHECK_THAT(expired.error().message,
             Catch::Contains("expired at 2026-11-22T18:00:00Z") && !Catch::Contains("secret"));

  std::vector<std::string> seen;
  for (const auto& secret : source.secrets()) {
    seen.push_back(secret.reveal());
  }
  CHECK(seen
        == std::vector<std::string>{
          "secret+/ASIAONE=", "token+/ASIAONE==", "secret+/ASIATWO=", "token+/ASIATWO=="});
}

TEST_CASE("gate::InstanceProfileCredentials: no instance profile is said so", "[lifecycle]")
{
  auto imds = std::make_shared<FakeImds>();
  hook::gate::InstanceProfileCredentials source(imds);
  const auto none = source.current(limits());
  REQUIRE_FALSE(none);
  CHECK(none.error().code == util::Errc::permission);
  CHECK_THAT(none.error().message, Catch::Contains("no instance profile (IAM role) is attached"));
}

TEST_CASE("gate::AutoScalingClient: signs with the source's credentials, retries ExpiredToken "
          "once with fresh ones, scrubs secrets from answers",
          "[lifecycle]")
{
  auto http = std::make_shared<FakeHttp>();
  auto credentials = std::make_shared<FakeCredentials>();
  std::vector<std::string> answers = {
    error_xml("ExpiredToken", "The security token included in the request is expired"),
    std::string(k_ok_heartbeat)};
  std::size_t next = 0;
  http->answer = [&](const util::HttpRequest&) -> util::Result<util::HttpResponse> {
    const auto& body = answers.at(std::min(next, answers.size() - 1));
    ++next;
    return response(body.starts_with("<ErrorResponse") ? 403 : 200, body);
  };
  hook::gate::AutoScalingClient client(http, credentials, "http://127.0.0.1:9/", "us-east-1");
  const auto answer = client.call(hook::gate::heartbeat_action(k_action), limits());
  REQUIRE(answer);
  CHECK(answer->ok());
  CHECK(credentials->refreshes == 1);
  auto requests = http->requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].url == "http://127.0.0.1:9/");
  CHECK(header(requests[0], "X-Amz-Security-Token") == "token/with+chars==");
  CHECK(header(requests[1], "X-Amz-Security-Token") == "fresh-token");
  CHECK_THAT(*requests[1].user_password, Catch::StartsWith("ASIAREFRESHED:"));

  // A server that echoes what it was sent never gets it into a message.
  answers = {error_xml("AccessDenied", "token fresh-token and secret secret/with+chars= refused")};
  next = 0;
  const auto denied = client.call(hook::gate::heartbeat_action(k_action), limits());
  REQUIRE(denied);
  CHECK(denied->code == "AccessDenied");
  CHECK(denied->message == "token <redacted> and secret <redacted> refused");
  CHECK(hook::gate::classify(denied) == AnswerKind::final_error);
}

namespace {

// A loopback HTTP server that keeps the head of every request and answers 200 with an empty body.
class CaptureServer
{
public:
  CaptureServer()
  {
    m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(m_listener >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(m_listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    m_port = ntohs(address.sin_port);
    REQUIRE(::listen(m_listener, 16) == 0);
    m_thread = std::thread([this] { serve(); });
  }
  ~CaptureServer()
  {
    ::shutdown(m_listener, SHUT_RDWR);
    ::close(m_listener);
    m_thread.join();
  }
  CaptureServer(const CaptureServer&) = delete;
  CaptureServer& operator=(const CaptureServer&) = delete;

  int
  port() const
  {
    return m_port;
  }
  // Return the requests received so far, head and body.
  std::vector<std::string>
  requests() const
  {
    const std::lock_guard lock(m_mutex);
    return m_requests;
  }

private:
  void
  serve()
  {
    for (;;) {
      const int connection = ::accept4(m_listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) {
        return;
      }
      std::string received;
      char buffer[4096];
      std::size_t wanted = std::string::npos;
      while (wanted == std::string::npos || received.size() < wanted) {
        const auto count = ::recv(connection, buffer, sizeof buffer, 0);
        if (count <= 0) {
          break;
        }
        received.append(buffer, static_cast<std::size_t>(count));
        const auto end = received.find("\r\n\r\n");
        if (end != std::string::npos && wanted == std::string::npos) {
          const auto head = util::to_lower(received.substr(0, end));
          const auto at = head.find("\r\ncontent-length:");
          const auto length =
            at == std::string::npos ? 0 : std::stoul(head.substr(at + 17, head.find('\r', at + 2)));
          wanted = end + 4 + length;
        }
      }
      {
        const std::lock_guard lock(m_mutex);
        m_requests.push_back(received);
      }
      constexpr std::string_view k_answer =
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      [[maybe_unused]] const auto sent = ::send(connection, k_answer.data(), k_answer.size(), 0);
      ::close(connection);
    }
  }

  int m_listener = -1;
  int m_port = 0;
  std::thread m_thread;
  mutable std::mutex m_mutex;
  std::vector<std::string> m_requests;
};

const std::filesystem::path k_fixtures =
  std::filesystem::path(RG_GOLDEN_DIR).parent_path().parent_path() / "integration" / "fixtures";

// The vectors fixtures/sigv4_vectors.py computes with Debian's botocore, by name.
std::map<std::string, boost::json::object>
botocore_vectors()
{
  const auto command =
    fmt::format("/usr/bin/python3 '{}' 2>&1", (k_fixtures / "sigv4_vectors.py").string());
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), &::pclose);
  REQUIRE(pipe);
  std::string output;
  char buffer[4096];
  while (const auto count = std::fread(buffer, 1, sizeof buffer, pipe.get())) {
    output.append(buffer, count);
  }
  boost::system::error_code ec;
  auto document = boost::json::parse(output, ec);
  INFO("sigv4_vectors.py (needs python3-botocore): " << output.substr(0, 400));
  REQUIRE_FALSE(ec);
  std::map<std::string, boost::json::object> vectors;
  for (const auto& vector : document.at("vectors").as_array()) {
    vectors.emplace(std::string(vector.at("name").as_string()), vector.as_object());
  }
  return vectors;
}

std::string
field(const boost::json::object& vector, std::string_view name)
{
  return std::string(vector.at(name).as_string());
}

// Return the value of `name` in the request head `raw`.
std::string
captured_header(const std::string& raw, std::string_view name)
{
  const auto lowered = util::to_lower(raw);
  const auto at = lowered.find(fmt::format("\r\n{}:", util::to_lower(name)));
  REQUIRE(at != std::string::npos);
  const auto start = at + 3 + name.size();
  const auto value = raw.substr(start, raw.find("\r\n", start) - start);
  return std::string(value.substr(value.find_first_not_of(' ')));
}

} // namespace

TEST_CASE("gate signing: util::CurlHttpClient with libcurl's SigV4 reproduces botocore's vectors, "
          "the Auto Scaling requests byte for byte",
          "[lifecycle]")
{
  const auto vectors = botocore_vectors();
  CaptureServer server;
  util::CurlHttpClient client;
  const std::string key = "AKIDEXAMPLE";
  const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  // libcurl 7.88 signs with a caller's X-Amz-Date instead of the clock: that pins the vectors'
  // date. (readygate itself never sends one: libcurl would send both.)
  const std::pair<std::string, std::string> pinned = {"X-Amz-Date", "20150830T123600Z"};
  const auto send = [&](util::HttpRequest request, std::string_view host) {
    request.connect_to = {fmt::format("{}:80:127.0.0.1:{}", host, server.port())};
    request.headers.push_back(pinned);
    request.timeout = 5s;
    const auto answered = client.perform(request);
    INFO(testutil::error_message(answered));
    REQUIRE(answered);
    CHECK(answered->status == 200);
    return server.requests().back();
  };
  const auto generic = [&](std::string method, std::string body, util::HeaderList headers) {
    util::HttpRequest request;
    request.method = std::move(method);
    request.url = "http://example.amazonaws.com/";
    request.body = std::move(body);
    request.headers = std::move(headers);
    request.aws_sigv4 = "aws:amz:us-east-1:service";
    request.user_password = key + ":" + secret;
    return send(std::move(request), "example.amazonaws.com");
  };

  SECTION("AWS's suite: get-vanilla, post-vanilla, post-x-www-form-urlencoded, a session token")
  {
    const auto token = field(vectors.at("post-session-token-header"), "session_token");
    const std::vector<std::tuple<std::string, std::string, std::string, util::HeaderList>> cases = {
      {"get-vanilla", "GET", "", {}},
      {"post-vanilla", "POST", "", {}},
      {"post-x-www-form-urlencoded",
       "POST",
       "Param1=value1",
       {{"Content-Type", "application/x-www-form-urlencoded"}}},
      {"post-session-token-header", "POST", "", {{"X-Amz-Security-Token", token}}},
    };
    for (const auto& [name, method, body, headers] : cases) {
      INFO(name);
      const auto raw = generic(method, body, headers);
      CHECK(captured_header(raw, "Authorization") == field(vectors.at(name), "authorization"));
    }
  }

  SECTION("the requests readygate lifecycle sends, built by gate::query_request")
  {
    const auto& complete = vectors.at("autoscaling-complete-lifecycle-action");
    hook::gate::RoleCredentials credentials;
    credentials.access_key_id = key;
    credentials.secret_access_key = util::Secret(secret);
    credentials.session_token = util::Secret(field(complete, "session_token"));

    auto request = hook::gate::query_request(hook::gate::complete_action(k_action, "CONTINUE"),
                                             credentials,
                                             "http://autoscaling.us-east-1.amazonaws.com",
                                             "us-east-1",
                                             5s);
    CHECK(request.body == field(complete.at("request").as_object(), "body"));
    auto raw = send(request, "autoscaling.us-east-1.amazonaws.com");
    CHECK(captured_header(raw, "Authorization") == field(complete, "authorization"));
    CHECK(raw.ends_with("\r\n\r\n" + request.body));
    CHECK(captured_header(raw, "Content-Type") == "application/x-www-form-urlencoded");

    // botocore signs its Content-Type; with the same header, so does libcurl.
    const auto& heartbeat = vectors.at("autoscaling-heartbeat-eu-west-1");
    request = hook::gate::query_request(hook::gate::heartbeat_action(k_action),
                                        credentials,
                                        "http://autoscaling.eu-west-1.amazonaws.com",
                                        "eu-west-1",
                                        5s);
    CHECK(request.body == field(heartbeat.at("request").as_object(), "body"));
    request.headers.emplace_back("Content-Type",
                                 "application/x-www-form-urlencoded; charset=utf-8");
    raw = send(request, "autoscaling.eu-west-1.amazonaws.com");
    CHECK(captured_header(raw, "Authorization") == field(heartbeat, "authorization"));
  }
}
