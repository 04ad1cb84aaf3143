#include "aws.hpp"

#include <hook/util/text.hpp>

#include <boost/json.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <span>
#include <sstream>

namespace hook::gate {

namespace {

using util::Errc;
using util::make_error;

// Small answers only: an IMDS item, a credentials document, an Auto Scaling response.
constexpr std::size_t k_imds_body_limit = 64 * 1024;
constexpr std::size_t k_api_body_limit = 256 * 1024;
// The token is renewed this long before its TTL ends.
constexpr std::chrono::seconds k_imds_token_renew_margin{60};

std::string_view
trim(std::string_view text)
{
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::chrono::milliseconds
attempt_timeout(std::chrono::milliseconds most, const CallLimits& limits)
{
  return std::min(most, util::time_left(limits.deadline));
}

// Return `error` with "`context`: " in front of its message.
util::Error
in_context(util::Error error, std::string_view context)
{
  error.message = fmt::format("{}: {}", context, error.message);
  return error;
}

// Turn an answer IMDS should not give into an error; 5xx and 429 are worth another try.
util::Error
imds_status_error(std::string_view what, long status)
{
  if (status >= 500 || status == 429) {
    return make_error(Errc::network,
                      fmt::format("instance metadata service answered {} to {}", status, what));
  }
  if (status == 403) {
    return make_error(Errc::permission,
                      fmt::format("instance metadata service refused {} (403): the metadata "
                                  "service is disabled for this instance, or a proxy is in the way",
                                  what));
  }
  return make_error(
    Errc::protocol,
    fmt::format("instance metadata service answered {} to {}, expected 200", status, what));
}

// Return `error` of a request to IMDS with context for people reading the journal.
util::Error
imds_transport_error(util::Error error, bool token_request)
{
  if (error.code == Errc::timeout && token_request) {
    error.message += "; a container on this instance needs the metadata hop limit "
                     "(HttpPutResponseHopLimit) at 2 or more";
  }
  return in_context(std::move(error), "instance metadata service");
}

bool
unreserved(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
         || c == '_' || c == '.' || c == '~';
}

void
append_encoded(std::string& out, std::string_view text)
{
  constexpr std::string_view k_hex = "0123456789ABCDEF";
  for (const char c : text) {
    if (unreserved(c)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += k_hex[byte >> 4U];
      out += k_hex[byte & 0x0FU];
    }
  }
}

std::optional<std::string>
json_string(const boost::json::object& object, std::string_view key)
{
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) {
    return std::nullopt;
  }
  return std::string(value->as_string());
}

bool
valid_role_name(std::string_view name)
{
  return !name.empty() && name.size() <= 128 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || std::string_view("+=,.@_-").find(c) != std::string_view::npos;
  });
}

using Tree = boost::property_tree::ptree;

std::optional<Tree>
parse_xml(std::string_view body)
{
  Tree tree;
  try {
    std::istringstream in{std::string(body)};
    boost::property_tree::read_xml(in, tree, boost::property_tree::xml_parser::trim_whitespace);
  } catch (const boost::property_tree::ptree_error&) {
    return std::nullopt;
  }
  return tree;
}

std::string
text_at(const Tree& tree, std::string_view path, const util::Redactor& redactor = util::Redactor())
{
  return redactor.printable(tree.get<std::string>(std::string(path), ""));
}

// Throttling codes of AWS services (botocore's list) and the transient ones Auto Scaling uses,
// in two parts: answers that turn the request away before anything is done, then the others.
constexpr std::array<std::string_view, 10> k_turned_away_codes = {
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "SlowDown",
  "PriorRequestNotComplete",
  "ResourceContention",
  "ServiceLinkedRoleFailure",
};
constexpr std::array<std::string_view, 4> k_other_retry_codes = {
  "InternalFailure",    // the service failed while handling it, perhaps after acting
  "ServiceUnavailable", // the same
  "ExpiredToken",       // credentials rotated under us: fresh ones are fetched on every call
  "RequestExpired",     // clock skew past 15 minutes: time sync may be catching up
};

bool
listed(std::span<const std::string_view> codes, std::string_view code)
{
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

} // namespace

// --- IMDSv2 ---

ImdsClient::ImdsClient(std::shared_ptr<util::HttpClient> http, std::string endpoint)
    : m_http(std::move(http)),
      m_endpoint(std::move(endpoint))
{
  while (m_endpoint.ends_with('/')) {
    m_endpoint.pop_back();
  }
}

util::HttpRequest
ImdsClient::request(std::string method, std::string_view path, const CallLimits& limits) const
{
  util::HttpRequest request;
  request.method = std::move(method);
  request.url = fmt::format("{}/latest/{}", m_endpoint, path);
  request.timeout = attempt_timeout(k_imds_request_timeout, limits);
  request.body_limit = k_imds_body_limit;
  request.stop = limits.stop;
  // request.proxy stays unset: IMDS refuses proxied requests, and none may answer for it.
  return request;
}

util::Result<std::string>
ImdsClient::token(const CallLimits& limits, bool renew)
{
  const std::lock_guard lock(m_mutex);
  const auto now = util::Clock::now();
  if (!renew && !m_token.empty() && now < m_token_renew_at) {
    return m_token;
  }
  auto put = request("PUT", "api/token", limits);
  put.headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds",
                           std::to_string(k_imds_token_ttl.count()));
  auto response = m_http->perform(put);
  if (!response) {
    return imds_transport_error(std::move(response).error(), true);
  }
  if (response->status != 200) {
    auto error = imds_status_error("the IMDSv2 token request", response->status);
    if (response->status == 404 || response->status == 405) {
      error.message += " (IMDSv2 is not available; readygate does not use IMDSv1)";
    }
    return error;
  }
  const auto token = trim(response->body);
  if (token.empty() || response->body_truncated
      || !std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return make_error(Errc::protocol,
                      "instance metadata service: the IMDSv2 token is empty or malformed");
  }
  m_token = std::string(token);
  m_token_renew_at = util::time_after(now, k_imds_token_ttl - k_imds_token_renew_margin);
  return m_token;
}

util::Result<std::optional<std::string>>
ImdsClient::read(std::string_view item, const CallLimits& limits)
{
  for (int attempt = 0;; ++attempt) {
    RG_TRY_ASSIGN(const auto current, token(limits, attempt > 0));
    auto get = request("GET", item, limits);
    get.headers.emplace_back("X-aws-ec2-metadata-token", current);
    auto response = m_http->perform(get);
    if (!response) {
      return imds_transport_error(std::move(response).error(), false);
    }
    if (response->status == 401 && attempt == 0) {
      continue; // the token expired or was revoked: one more try with a new one
    }
    if (response->status == 404) {
      return std::optional<std::string>();
    }
    if (response->status != 200) {
      return imds_status_error(fmt::format("meta-data item {}", item), response->status);
    }
    if (response->body_truncated) {
      return make_error(Errc::protocol,
                        fmt::format("instance metadata service: item {} is larger than {} bytes",
                                    item,
                                    k_imds_body_limit));
    }
    return std::optional<std::string>(std::move(response->body));
  }
}

// --- Credentials ---

std::optional<std::chrono::system_clock::time_point>
parse_utc_timestamp(std::string_view text)
{
  // YYYY-MM-DDTHH:MM:SSZ
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':'
      || text[16] != ':' || text[19] != 'Z') {
    return std::nullopt;
  }
  const auto number = [&](std::size_t at, std::size_t length) -> std::optional<int> {
    int value = 0;
    const auto* first = text.data() + at;
    const auto* last = first + length;
    const auto [end, error] = std::from_chars(first, last, value);
    if (error != std::errc() || end != last) {
      return std::nullopt;
    }
    return value;
  };
  const auto year = number(0, 4);
  const auto month = number(5, 2);
  const auto day = number(8, 2);
  const auto hour = number(11, 2);
  const auto minute = number(14, 2);
  const auto second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || *hour > 23 || *minute > 59
      || *second > 60) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(*year),
                                         std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) {
    return std::nullopt;
  }
  return std::chrono::sys_days(date) + std::chrono::hours(*hour) + std::chrono::minutes(*minute)
         + std::chrono::seconds(*second);
}

util::Result<RoleCredentials>
parse_role_credentials(std::string_view json, std::string role_name)
{
  const auto context = fmt::format("credentials of role {}", role_name);
  boost::system::error_code ec;
  const auto document = boost::json::parse(json, ec);
  if (ec || !document.is_object()) {
    return make_error(Errc::protocol, fmt::format("{}: not a JSON object", context));
  }
  const auto& object = document.as_object();
  const auto code = json_string(object, "Code");
  if (!code || *code != "Success") {
    return make_error(Errc::protocol,
                      fmt::format("{}: Code is \"{}\", not \"Success\"",
                                  context,
                                  util::printable(code.value_or("(missing)"))));
  }
  RoleCredentials credentials;
  credentials.role_name = std::move(role_name);
  const auto key = json_string(object, "AccessKeyId");
  const auto secret = json_string(object, "SecretAccessKey");
  const auto token = json_string(object, "Token");
  const auto expiration = json_string(object, "Expiration");
  for (const auto& [field, value] : {std::pair{"AccessKeyId", &key},
                                     std::pair{"SecretAccessKey", &secret},
                                     std::pair{"Token", &token},
                                     std::pair{"Expiration", &expiration}}) {
    // An empty token would be sent as a valueless header, which libcurl 7.88 signs wrongly.
    if (!*value || value->value().empty()) {
      return make_error(Errc::protocol, fmt::format("{}: {} is missing or empty", context, field));
    }
  }
  if (!std::all_of(key->begin(), key->end(), [](char c) { return std::isalnum(c) != 0; })) {
    return make_error(Errc::protocol, fmt::format("{}: AccessKeyId is malformed", context));
  }
  const auto printable_ascii = [](const std::string& text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  };
  if (!printable_ascii(*secret) || !printable_ascii(*token)) {
    return make_error(Errc::protocol,
                      fmt::format("{}: SecretAccessKey or Token has characters a header cannot "
                                  "carry",
                                  context));
  }
  const auto expires = parse_utc_timestamp(*expiration);
  if (!expires) {
    return make_error(Errc::protocol,
                      fmt::format("{}: Expiration \"{}\" is not a UTC time",
                                  context,
                                  util::printable(*expiration)));
  }
  credentials.access_key_id = *key;
  credentials.secret_access_key = util::Secret(*secret);
  credentials.session_token = util::Secret(*token);
  credentials.expiration = *expires;
  return credentials;
}

InstanceProfileCredentials::InstanceProfileCredentials(
  std::shared_ptr<Imds> imds, std::function<std::chrono::system_clock::time_point()> now)
    : m_imds(std::move(imds)),
      m_now(std::move(now))
{}

util::Result<RoleCredentials>
InstanceProfileCredentials::fetch(const CallLimits& limits)
{
  RG_TRY_ASSIGN(const auto roles, m_imds->read("meta-data/iam/security-credentials/", limits));
  if (!roles || trim(*roles).empty()) {
    return make_error(Errc::permission,
                      "no instance profile (IAM role) is attached to this instance: "
                      "readygate lifecycle signs its calls with the instance profile's role");
  }
  const auto listed = trim(*roles);
  const auto role = std::string(trim(listed.substr(0, listed.find('\n'))));
  if (!valid_role_name(role)) {
    return make_error(
      Errc::protocol,
      fmt::format("instance metadata service: \"{}\" is not a role name", util::printable(role)));
  }
  RG_TRY_ASSIGN(const auto json,
                m_imds->read(fmt::format("meta-data/iam/security-credentials/{}", role), limits));
  if (!json) {
    return make_error(
      Errc::protocol,
      fmt::format("instance metadata service has no credentials for role {}", role));
  }
  RG_TRY_ASSIGN(auto credentials, parse_role_credentials(*json, role));
  if (credentials.expiration <= m_now()) {
    return make_error(
      Errc::protocol,
      fmt::format("credentials of role {}: they expired at {:%Y-%m-%dT%H:%M:%SZ} "
                  "and the metadata service has no newer ones",
                  role,
                  std::chrono::floor<std::chrono::seconds>(credentials.expiration)));
  }
  const auto seen = [&](const util::Secret& secret) {
    return std::any_of(m_seen.begin(), m_seen.end(), [&](const util::Secret& known) {
      return known.reveal() == secret.reveal();
    });
  };
  for (const auto* secret : {&credentials.secret_access_key, &credentials.session_token}) {
    if (!seen(*secret)) {
      m_seen.push_back(*secret);
    }
  }
  m_current = credentials;
  return credentials;
}

util::Result<RoleCredentials>
InstanceProfileCredentials::current(const CallLimits& limits)
{
  const std::lock_guard lock(m_mutex);
  const auto now = m_now();
  if (m_current && now + k_credentials_refresh_margin < m_current->expiration) {
    return *m_current;
  }
  auto fetched = fetch(limits);
  if (!fetched && m_current && now < m_current->expiration) {
    return *m_current; // the metadata service is out of reach, but these still work
  }
  return fetched;
}

util::Result<RoleCredentials>
InstanceProfileCredentials::refresh(const CallLimits& limits)
{
  const std::lock_guard lock(m_mutex);
  return fetch(limits);
}

std::vector<util::Secret>
InstanceProfileCredentials::secrets() const
{
  const std::lock_guard lock(m_mutex);
  return m_seen;
}

// --- Auto Scaling Query API ---

std::string
form_body(const QueryAction& action)
{
  std::string body = "Action=";
  append_encoded(body, action.name);
  body += "&Version=";
  append_encoded(body, k_autoscaling_api_version);
  for (const auto& [name, value] : action.params) {
    body += '&';
    append_encoded(body, name);
    body += '=';
    append_encoded(body, value);
  }
  return body;
}

util::HttpRequest
query_request(const QueryAction& action,
              const RoleCredentials& credentials,
              std::string_view endpoint,
              std::string_view region,
              std::chrono::milliseconds timeout)
{
  util::HttpRequest request;
  request.method = "POST";
  request.url = fmt::format("{}/", endpoint);
  request.body = form_body(action);
  // libcurl sends Content-Type: application/x-www-form-urlencoded for a form body and signs only
  // host, x-amz-date and the headers given here.
  request.headers.emplace_back("X-Amz-Security-Token", credentials.session_token.reveal());
  request.aws_sigv4 = fmt::format("aws:amz:{}:autoscaling", region);
  request.user_password =
    fmt::format("{}:{}", credentials.access_key_id, credentials.secret_access_key.reveal());
  request.timeout = timeout;
  request.body_limit = k_api_body_limit;
  return request;
}

util::Result<ApiAnswer>
parse_answer(std::string_view action,
             long status,
             std::string_view body,
             const util::Redactor& redactor)
{
  ApiAnswer answer;
  answer.http_status = status;
  const auto tree = parse_xml(body);
  const bool transient_status = status >= 500 || status == 429;
  if (tree && tree->count("ErrorResponse") > 0) {
    const auto& error = tree->get_child("ErrorResponse");
    answer.code = text_at(error, "Error.Code", redactor);
    answer.message = text_at(error, "Error.Message", redactor);
    answer.request_id = text_at(error, "RequestId", redactor);
    if (answer.code.empty()) {
      answer.code = "UnknownError";
    }
    return answer;
  }
  const auto response_name = fmt::format("{}Response", action);
  if (tree && status == 200 && tree->count(response_name) > 0) {
    answer.request_id = text_at(tree->get_child(response_name), "ResponseMetadata.RequestId");
    answer.body = std::string(body);
    return answer;
  }
  if (status >= 300) {
    // A load balancer's or proxy's page in front of the API: the status says enough.
    answer.code = transient_status ? "" : "UnknownError";
    answer.message = fmt::format("HTTP {} without an Auto Scaling error document: {}",
                                 status,
                                 redactor.excerpt(body, false, 120));
    return answer;
  }
  return make_error(Errc::protocol,
                    fmt::format("the answer to {} (HTTP {}) is not an Auto Scaling {} document: {}",
                                action,
                                status,
                                response_name,
                                redactor.excerpt(body, false, 120)));
}

util::Result<std::optional<DescribedInstance>>
parse_described_instance(std::string_view body)
{
  const auto tree = parse_xml(body);
  constexpr std::string_view k_root = "DescribeAutoScalingInstancesResponse";
  if (!tree || tree->count(std::string(k_root)) == 0) {
    return make_error(Errc::protocol,
                      "DescribeAutoScalingInstances: the answer is not its XML document");
  }
  const auto instances = tree->get_child_optional(
    std::string(k_root) + ".DescribeAutoScalingInstancesResult.AutoScalingInstances");
  if (!instances) {
    return std::optional<DescribedInstance>();
  }
  for (const auto& [name, member] : *instances) {
    if (name != "member") {
      continue;
    }
    DescribedInstance instance;
    instance.group_name = member.get<std::string>("AutoScalingGroupName", "");
    instance.lifecycle_state = text_at(member, "LifecycleState");
    if (instance.group_name.empty()) {
      return make_error(Errc::protocol,
                        "DescribeAutoScalingInstances: the instance has no AutoScalingGroupName");
    }
    return std::optional<DescribedInstance>(std::move(instance));
  }
  return std::optional<DescribedInstance>();
}

AutoScalingClient::AutoScalingClient(std::shared_ptr<util::HttpClient> http,
                                     std::shared_ptr<CredentialSource> credentials,
                                     std::string endpoint,
                                     std::string region)
    : m_http(std::move(http)),
      m_credentials(std::move(credentials)),
      m_endpoint(std::move(endpoint)),
      m_region(std::move(region))
{
  while (m_endpoint.ends_with('/')) {
    m_endpoint.pop_back();
  }
}

util::Result<ApiAnswer>
AutoScalingClient::send(const QueryAction& action,
                        const RoleCredentials& credentials,
                        const CallLimits& limits)
{
  const auto timeout = attempt_timeout(k_api_request_timeout, limits);
  if (timeout <= std::chrono::milliseconds::zero()) {
    return make_error(Errc::timeout, fmt::format("{}: no time left for the call", action.name));
  }
  if (credentials.session_token.empty() || credentials.secret_access_key.empty()) {
    return make_error(Errc::internal, fmt::format("{}: credentials are incomplete", action.name));
  }
  auto request = query_request(action, credentials, m_endpoint, m_region, timeout);
  request.stop = limits.stop;
  const util::Redactor redactor(m_credentials->secrets());
  auto response = m_http->perform(request);
  if (!response) {
    auto error = std::move(response).error();
    error.message = redactor.redact(error.message);
    return in_context(std::move(error), action.name);
  }
  auto answer = parse_answer(action.name, response->status, response->body, redactor);
  if (!answer) {
    auto error = std::move(answer).error();
    error.message = redactor.redact(error.message);
    return error;
  }
  answer->message = redactor.redact(answer->message);
  return answer;
}

util::Result<ApiAnswer>
AutoScalingClient::call(const QueryAction& action, const CallLimits& limits)
{
  auto credentials = m_credentials->current(limits);
  if (!credentials) {
    return in_context(std::move(credentials).error(), action.name);
  }
  auto answer = send(action, *credentials, limits);
  if (answer && answer->code == "ExpiredToken") {
    auto fresh = m_credentials->refresh(limits);
    if (fresh) {
      answer = send(action, *fresh, limits);
    }
  }
  return answer;
}

QueryAction
heartbeat_action(const LifecycleAction& action)
{
  // The order of RecordLifecycleActionHeartbeatType's members in the API model.
  return QueryAction{"RecordLifecycleActionHeartbeat",
                     {{"LifecycleHookName", action.hook_name},
                      {"AutoScalingGroupName", action.group_name},
                      {"InstanceId", action.instance_id}}};
}

QueryAction
complete_action(const LifecycleAction& action, std::string_view result)
{
  // The order of CompleteLifecycleActionType's members in the API model.
  return QueryAction{"CompleteLifecycleAction",
                     {{"LifecycleHookName", action.hook_name},
                      {"AutoScalingGroupName", action.group_name},
                      {"LifecycleActionResult", std::string(result)},
                      {"InstanceId", action.instance_id}}};
}

QueryAction
describe_instance_action(std::string_view instance_id)
{
  return QueryAction{"DescribeAutoScalingInstances",
                     {{"InstanceIds.member.1", std::string(instance_id)}}};
}

AnswerKind
classify(const util::Result<ApiAnswer>& answer)
{
  if (!answer) {
    switch (answer.error().code) {
    case Errc::cancelled:
      return AnswerKind::cancelled;
    case Errc::network:
    case Errc::timeout:
    case Errc::protocol: // a garbled answer from something in between
      return AnswerKind::retry;
    default:
      return AnswerKind::final_error;
    }
  }
  if (answer->ok()) {
    return AnswerKind::ok;
  }
  if (answer->code == "ValidationError"
      && answer->message.find("No active Lifecycle Action found") != std::string::npos) {
    return AnswerKind::no_active_action;
  }
  // A clock more than 15 minutes off: time sync may still be catching up at boot.
  const bool skewed = answer->code == "SignatureDoesNotMatch"
                      && (answer->message.starts_with("Signature expired")
                          || answer->message.starts_with("Signature not yet current"));
  if (skewed || listed(k_turned_away_codes, answer->code)
      || listed(k_other_retry_codes, answer->code) || answer->http_status >= 500
      || answer->http_status == 429) {
    return AnswerKind::retry;
  }
  return AnswerKind::final_error;
}

bool
may_have_taken_effect(const util::Result<ApiAnswer>& answer)
{
  if (!answer) {
    const auto code = answer.error().code;
    return code == Errc::network || code == Errc::timeout || code == Errc::protocol
           || code == Errc::cancelled;
  }
  return answer->http_status >= 500 && !listed(k_turned_away_codes, answer->code);
}

std::string
describe_answer(const util::Result<ApiAnswer>& answer)
{
  if (!answer) {
    return answer.error().message;
  }
  if (answer->ok()) {
    return "OK (HTTP 200)";
  }
  auto text =
    answer->code.empty()
      ? answer->message
      : fmt::format("{}: {} (HTTP {}", answer->code, answer->message, answer->http_status);
  if (!answer->code.empty()) {
    text += answer->request_id.empty() ? ")" : fmt::format(", request {})", answer->request_id);
  }
  return text;
}

} // namespace hook::gate
