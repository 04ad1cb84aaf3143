// The AWS a lifecycle gate talks to: the instance metadata service (IMDSv2) for the instance's
// identity and its instance-profile credentials, and the Auto Scaling Query API for heartbeats
// and the lifecycle action's result. Each is an interface with a real implementation on
// util::HttpClient (never through a proxy), so unit tests fake either AWS's answers or the HTTP
// underneath them.
//
// Signing is libcurl's CURLOPT_AWS_SIGV4, kept to the one request shape libcurl 7.88 signs
// correctly: POST / with a form body (parameters fully percent-encoded, in the API model's order,
// as botocore sends them), no query string, the session token in a non-empty
// X-Amz-Security-Token header, and no X-Amz-Date of our own (libcurl adds it; a second one
// would be sent twice).
#pragma once

#include <hook/util/duration.hpp>
#include <hook/util/http.hpp>
#include <hook/util/result.hpp>
#include <hook/util/secret.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hook::gate {

// --- Interface ---

// When one AWS call must be over, and what ends it sooner.
struct CallLimits
{
  util::Clock::time_point deadline;
  std::stop_token stop;
};

// --- IMDSv2 ---

// How long one IMDS request may take: the metadata service answers in milliseconds, and a token
// PUT whose answer is dropped (a container behind the instance's HttpPutResponseHopLimit of 1)
// must fail fast rather than hold a boot.
inline constexpr std::chrono::milliseconds k_imds_request_timeout{2'000};
// The TTL asked for an IMDSv2 token (the maximum, 6 h); it is renewed a minute before it ends.
inline constexpr std::chrono::seconds k_imds_token_ttl{21'600};

class Imds
{
public:
  virtual ~Imds() = default;

  // Read `item`, a path under /latest/ such as "meta-data/instance-id". An item the service does
  // not have (404) is nullopt. Errors: Errc::network or Errc::timeout when the service could not
  // be reached or answered 5xx/429 (worth another try), Errc::permission for 403 (IMDS disabled,
  // or the request came through a proxy), Errc::protocol for anything else, Errc::cancelled.
  virtual util::Result<std::optional<std::string>> read(std::string_view item,
                                                        const CallLimits& limits) = 0;
};

// IMDSv2 over `http` at `endpoint` ("http://169.254.169.254"): a session token from PUT
// /latest/api/token, reused until a minute before its TTL ends or until a 401, then renewed. No
// IMDSv1 fallback. Thread-safe.
class ImdsClient final : public Imds
{
public:
  ImdsClient(std::shared_ptr<util::HttpClient> http, std::string endpoint);
  util::Result<std::optional<std::string>> read(std::string_view item,
                                                const CallLimits& limits) override;

private:
  util::Result<std::string> token(const CallLimits& limits, bool renew);
  util::HttpRequest
  request(std::string method, std::string_view path, const CallLimits& limits) const;

  std::shared_ptr<util::HttpClient> m_http;
  std::string m_endpoint;
  std::mutex m_mutex;
  std::string m_token;
  util::Clock::time_point m_token_renew_at{};
};

// --- Credentials ---

struct RoleCredentials
{
  std::string role_name;
  std::string access_key_id; // not a secret, but never printed either
  util::Secret secret_access_key;
  util::Secret session_token;
  std::chrono::system_clock::time_point expiration;
};

// Credentials are refreshed this long before their Expiration: EC2 publishes new ones at least
// five minutes before the old ones expire.
inline constexpr std::chrono::minutes k_credentials_refresh_margin{5};

class CredentialSource
{
public:
  virtual ~CredentialSource() = default;
  // Return credentials that are not about to expire (fetched again within
  // k_credentials_refresh_margin of their Expiration).
  virtual util::Result<RoleCredentials> current(const CallLimits& limits) = 0;
  // Fetch them again now (after an ExpiredToken answer).
  virtual util::Result<RoleCredentials> refresh(const CallLimits& limits) = 0;
  // Return every secret handed out so far, to scrub from any text that leaves readygate.
  virtual std::vector<util::Secret> secrets() const = 0;
};

// The instance profile's role credentials from IMDS (meta-data/iam/security-credentials/<role>).
// `now` is the wall clock (Expiration is a UTC time). Thread-safe.
class InstanceProfileCredentials final : public CredentialSource
{
public:
  explicit InstanceProfileCredentials(
    std::shared_ptr<Imds> imds,
    std::function<std::chrono::system_clock::time_point()> now = &std::chrono::system_clock::now);
  util::Result<RoleCredentials> current(const CallLimits& limits) override;
  util::Result<RoleCredentials> refresh(const CallLimits& limits) override;
  std::vector<util::Secret> secrets() const override;

private:
  util::Result<RoleCredentials> fetch(const CallLimits& limits);

  std::shared_ptr<Imds> m_imds;
  std::function<std::chrono::system_clock::time_point()> m_now;
  mutable std::mutex m_mutex;
  std::optional<RoleCredentials> m_current;
  std::vector<util::Secret> m_seen;
};

// Parse the JSON IMDS serves for a role's credentials. A Code other than "Success", a missing or
// empty field, or an unparseable Expiration is an Errc::protocol error (never quoting a value).
util::Result<RoleCredentials> parse_role_credentials(std::string_view json, std::string role_name);

// Parse "2026-11-22T02:54:56Z" (UTC, as IMDS writes Expiration).
std::optional<std::chrono::system_clock::time_point> parse_utc_timestamp(std::string_view text);

// --- Auto Scaling Query API ---

inline constexpr std::string_view k_autoscaling_api_version = "2011-01-01";
// How long one Auto Scaling request may take.
inline constexpr std::chrono::milliseconds k_api_request_timeout{10'000};

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// One Query API action: its name and parameters in the API model's order.
struct QueryAction
{
  std::string name; // "CompleteLifecycleAction"
  QueryParams params;
};

// An answer of the Auto Scaling API: success, or AWS's error (code and message).
struct ApiAnswer
{
  long http_status = 0;
  std::string code;       // "" on success; AWS's error code ("Throttling", "ValidationError")
  std::string message;    // AWS's message, printable, secrets scrubbed
  std::string request_id; // AWS's RequestId, for support cases
  std::string body;       // the XML of a success, for the caller to read its result

  bool
  ok() const
  {
    return http_status == 200 && code.empty();
  }
};

class AutoScaling
{
public:
  virtual ~AutoScaling() = default;
  // Send `action`. Any answer of the API, success or AWS error, is a value; no answer is an
  // error: Errc::network, Errc::timeout, Errc::cancelled, or Errc::protocol for an answer that
  // is not the API's XML. An ExpiredToken answer is tried once more with fresh credentials.
  virtual util::Result<ApiAnswer> call(const QueryAction& action, const CallLimits& limits) = 0;
};

// The Query API at `endpoint` ("https://autoscaling.us-east-1.amazonaws.com") in `region`, signed
// with the credentials of `credentials`. Thread-safe.
class AutoScalingClient final : public AutoScaling
{
public:
  AutoScalingClient(std::shared_ptr<util::HttpClient> http,
                    std::shared_ptr<CredentialSource> credentials,
                    std::string endpoint,
                    std::string region);
  util::Result<ApiAnswer> call(const QueryAction& action, const CallLimits& limits) override;

private:
  util::Result<ApiAnswer>
  send(const QueryAction& action, const RoleCredentials& credentials, const CallLimits& limits);

  std::shared_ptr<util::HttpClient> m_http;
  std::shared_ptr<CredentialSource> m_credentials;
  std::string m_endpoint;
  std::string m_region;
};

// Return "Action=<name>&Version=2011-01-01&<params>", every name and value percent-encoded
// (RFC 3986: only A-Z a-z 0-9 - _ . ~ stay as they are), in the order given.
std::string form_body(const QueryAction& action);

// Return the signed request for `action` at `endpoint` in `region` with `credentials`, taking at
// most `timeout`: POST / with the form body, SigV4 by libcurl ("aws:amz:<region>:autoscaling"),
// the session token in X-Amz-Security-Token, no proxy.
util::HttpRequest query_request(const QueryAction& action,
                                const RoleCredentials& credentials,
                                std::string_view endpoint,
                                std::string_view region,
                                std::chrono::milliseconds timeout);

// Parse an Auto Scaling answer for `action` (HTTP `status`, XML `body`). A 200 must be
// <ActionResponse>; an error is <ErrorResponse><Error><Code>. A 5xx without the API's XML (a
// load balancer's page) is an answer with an empty code; anything else unparseable is an
// Errc::protocol error. Text from the answer shows none of the secrets of `redactor` (the
// credentials the call was signed with), in any form it may echo them in.
util::Result<ApiAnswer> parse_answer(std::string_view action,
                                     long status,
                                     std::string_view body,
                                     const util::Redactor& redactor = util::Redactor());

// The Auto Scaling instance DescribeAutoScalingInstances reports.
struct DescribedInstance
{
  std::string group_name;
  std::string lifecycle_state; // the current state, e.g. "Pending:Wait"
};

// Read the instance of a DescribeAutoScalingInstancesResponse; nullopt when it lists none (the
// instance is not in a group). Errc::protocol when the XML is not that response.
util::Result<std::optional<DescribedInstance>> parse_described_instance(std::string_view body);

// The lifecycle action a gate completes: the instance, its group and the hook.
struct LifecycleAction
{
  std::string instance_id;
  std::string group_name;
  std::string hook_name;
};

QueryAction heartbeat_action(const LifecycleAction& action);
// `result` is "CONTINUE" or "ABANDON".
QueryAction complete_action(const LifecycleAction& action, std::string_view result);
QueryAction describe_instance_action(std::string_view instance_id);

// What a caller does with an answer (or with no answer).
enum class AnswerKind {
  ok,               // done
  retry,            // throttling, 5xx, a dropped connection, expired credentials or clock skew
  no_active_action, // "No active Lifecycle Action found": the hook timed out or was completed
  final_error,      // denied, invalid, misconfigured: another try gets the same answer
  cancelled,        // the caller was stopped
};

AnswerKind classify(const util::Result<ApiAnswer>& answer);

// Return true when the call that got `answer` may have been carried out although the answer does
// not say so: no answer at all (the connection broke, the time ran out, something in between
// garbled it: the request may have reached the API first) or a 5xx other than throttling (the
// service failed while handling it). A later "No active Lifecycle Action found" may then be
// this call's own doing.
bool may_have_taken_effect(const util::Result<ApiAnswer>& answer);

// Return "Throttling: Rate exceeded (HTTP 400, request 1b2c...)" or the error's message.
std::string describe_answer(const util::Result<ApiAnswer>& answer);

} // namespace hook::gate
