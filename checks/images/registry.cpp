#include "registry.hpp"

#include <checks/images/json.hpp>
#include <checks/images/reference.hpp>
#include <hook/util/sha256.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <utility>

namespace checks::images {

namespace {

constexpr std::size_t k_manifest_body_limit = 4 * 1024 * 1024;
constexpr std::size_t k_token_body_limit = 1024 * 1024;
constexpr std::size_t k_max_token_length = 16 * 1024;
constexpr std::chrono::seconds k_default_token_lifetime{60};

constexpr std::string_view k_oci_index = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view k_docker_list =
  "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr std::string_view k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view k_docker_manifest =
  "application/vnd.docker.distribution.manifest.v2+json";

std::string
shown(std::string_view text)
{
  return util::printable_excerpt(text, false, 120);
}

// Return what a registry, a token server or a proxy in front of them may echo of the credentials
// of `access`: the password, and the Basic credentials as sent (base64 of user:password).
util::Redactor
redactor_of(const RegistryAccess& access)
{
  util::Redactor redactor;
  if (access.credentials) {
    redactor.add(access.credentials->password);
    redactor.add_basic_credentials(access.credentials->username, access.credentials->password);
  }
  return redactor;
}

// Return shown(`text`) with the credentials of `access` taken out first, in any form.
std::string
shown(const RegistryAccess& access, std::string_view text)
{
  return redactor_of(access).excerpt(text, false, 120);
}

const std::string*
header_of(const util::HttpResponse& response, std::string_view name)
{
  for (const auto& [found, value] : response.headers) {
    if (found == name) {
      return &value;
    }
  }
  return nullptr;
}

std::string
percent_encode(std::string_view text)
{
  std::string out;
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_'
        || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::optional<std::string>
base64_decode(std::string_view text)
{
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (const char c : text) {
    unsigned value = 0;
    if (c >= 'A' && c <= 'Z') {
      value = static_cast<unsigned>(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      value = static_cast<unsigned>(c - 'a' + 26);
    } else if (c >= '0' && c <= '9') {
      value = static_cast<unsigned>(c - '0' + 52);
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else if (c == '=') {
      ++padding;
      continue;
    } else {
      return std::nullopt;
    }
    if (padding > 0) {
      return std::nullopt; // data after padding
    }
    buffer = (buffer << 6U) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xffU);
    }
  }
  if (padding > 2) {
    return std::nullopt;
  }
  return out;
}

std::string
digest_of(std::string_view body)
{
  return "sha256:" + util::to_hex(util::sha256(body));
}

std::string
normalise_architecture(std::string architecture)
{
  architecture = util::to_lower(architecture);
  if (architecture == "x86_64" || architecture == "x86-64") {
    return "amd64";
  }
  if (architecture == "aarch64") {
    return "arm64";
  }
  return architecture;
}

// The host part of a key of `auths`: "https://registry.example.com/v1/" -> "registry.example.com".
std::string
auth_key_host(std::string_view key)
{
  if (const auto scheme = key.find("://"); scheme != std::string_view::npos) {
    key.remove_prefix(scheme + 3);
  }
  if (const auto slash = key.find('/'); slash != std::string_view::npos) {
    key = key.substr(0, slash);
  }
  return util::to_lower(key);
}

// A token as it may go into an Authorization header: visible ASCII, bounded.
bool
is_token_text(std::string_view token)
{
  return !token.empty() && token.size() <= k_max_token_length
         && std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

struct CachedAuth
{
  std::string header; // "Bearer ..." or "" for Basic (user_password)
  util::Clock::time_point expires;
};

class DistributionRegistry final : public Registry
{
public:
  util::Result<std::optional<std::string>>
  resolve_tag(const RegistryAccess& access,
              const std::string& repository,
              const std::string& tag,
              const Call& call) override
  {
    RG_TRY_ASSIGN(auto response, request(access, repository, "HEAD", tag, call));
    if (response.status == 404) {
      return std::optional<std::string>();
    }
    RG_TRY(expect_ok(access, repository, tag, response));
    const auto* digest = header_of(response, "docker-content-digest");
    if (digest == nullptr) {
      // The spec makes the header a MUST on HEAD; an older registry may omit it: hash the body.
      RG_TRY_ASSIGN(auto full, request(access, repository, "GET", tag, call));
      if (full.status == 404) {
        return std::optional<std::string>();
      }
      RG_TRY(expect_ok(access, repository, tag, full));
      return std::optional<std::string>(digest_of(full.body));
    }
    if (!is_digest(*digest)) {
      return util::make_error(util::Errc::protocol,
                              fmt::format("registry {}: {}:{}: Docker-Content-Digest \"{}\" is "
                                          "not a sha256 digest",
                                          access.host,
                                          repository,
                                          tag,
                                          shown(access, *digest)));
    }
    return std::optional<std::string>(*digest);
  }

  util::Result<std::optional<Manifest>>
  fetch_manifest(const RegistryAccess& access,
                 const std::string& repository,
                 const std::string& digest,
                 const Call& call) override
  {
    if (!is_digest(digest)) {
      return util::make_error(util::Errc::internal,
                              fmt::format("\"{}\" is not a sha256 digest", shown(digest)));
    }
    RG_TRY_ASSIGN(auto response, request(access, repository, "GET", digest, call));
    if (response.status == 404) {
      return std::optional<Manifest>();
    }
    RG_TRY(expect_ok(access, repository, digest, response));
    const auto actual = digest_of(response.body);
    if (actual != digest) {
      return util::make_error(util::Errc::protocol,
                              fmt::format("registry {}: {}@{}: the manifest served hashes to {}",
                                          access.host,
                                          repository,
                                          digest,
                                          actual));
    }
    Manifest manifest;
    manifest.digest = digest;
    if (const auto* type = header_of(response, "content-type")) {
      manifest.media_type = util::to_lower(std::string_view(*type).substr(0, type->find(';')));
      while (!manifest.media_type.empty() && manifest.media_type.back() == ' ') {
        manifest.media_type.pop_back();
      }
    }
    manifest.body = std::move(response.body);
    return std::optional<Manifest>(std::move(manifest));
  }

private:
  std::mutex m_mutex;
  std::map<std::string, CachedAuth> m_auth; // by registry, repository and user

  static std::string
  base_url(const RegistryAccess& access)
  {
    return fmt::format("{}://{}", access.plain_http ? "http" : "https", access.host);
  }

  static std::string
  cache_key(const RegistryAccess& access, const std::string& repository)
  {
    return fmt::format("{}|{}|{}",
                       base_url(access),
                       repository,
                       access.credentials ? access.credentials->username : std::string());
  }

  static util::Result<void>
  expect_ok(const RegistryAccess& access,
            const std::string& repository,
            const std::string& reference,
            const util::HttpResponse& response)
  {
    const auto where = fmt::format(
      "registry {}: {}{}{}", access.host, repository, is_digest(reference) ? "@" : ":", reference);
    if (response.status == 200) {
      if (response.body_truncated) {
        return util::make_error(
          util::Errc::protocol,
          fmt::format("{}: the manifest is longer than {} bytes", where, k_manifest_body_limit));
      }
      return {};
    }
    std::string detail;
    if (auto json = parse_json(response.body, "")) {
      const auto* object = json->if_object();
      const auto* errors = object != nullptr ? array_at(*object, "errors") : nullptr;
      if (errors != nullptr && !errors->empty() && errors->front().is_object()) {
        const auto& first = errors->front().get_object();
        const auto* code = string_at(first, "code");
        const auto* message = string_at(first, "message");
        detail = fmt::format(" ({}{}{})",
                             code != nullptr ? shown(access, *code) : std::string(),
                             code != nullptr && message != nullptr ? ": " : "",
                             message != nullptr ? shown(access, *message) : std::string());
      }
    }
    const auto code = response.status == 401 || response.status == 403 ? util::Errc::permission
                                                                       : util::Errc::protocol;
    return util::make_error(
      code, fmt::format("{}: the registry answered {}{}", where, response.status, detail));
  }

  // Send `method` for the manifest `reference`, answering an authentication challenge once.
  util::Result<util::HttpResponse>
  request(const RegistryAccess& access,
          const std::string& repository,
          std::string_view method,
          const std::string& reference,
          const Call& call)
  {
    util::HttpRequest request;
    request.method = std::string(method);
    request.url = fmt::format("{}/v2/{}/manifests/{}", base_url(access), repository, reference);
    request.headers.emplace_back("Accept", std::string(k_manifest_accept));
    request.ca_file = access.ca_file;
    request.body_limit = k_manifest_body_limit;
    request.stop = call.stop;

    const auto key = cache_key(access, repository);
    std::optional<CachedAuth> cached;
    {
      const std::lock_guard lock(m_mutex);
      if (const auto it = m_auth.find(key);
          it != m_auth.end() && it->second.expires > util::Clock::now()) {
        cached = it->second;
      }
    }
    const auto send = [&](const std::optional<CachedAuth>& auth) {
      auto attempt = request;
      attempt.timeout = call.time_left();
      if (auth) {
        if (auth->header.empty()) {
          attempt.user_password =
            access.credentials->username + ":" + access.credentials->password.reveal();
        } else {
          attempt.headers.emplace_back("Authorization", auth->header);
        }
      }
      return call.http->perform(attempt);
    };
    RG_TRY_ASSIGN(auto response, send(cached));
    if (response.status != 401) {
      return response;
    }
    {
      const std::lock_guard lock(m_mutex);
      m_auth.erase(key);
    }
    const auto* header = header_of(response, "www-authenticate");
    const auto challenges =
      header != nullptr ? parse_challenges(*header) : std::vector<Challenge>{};
    RG_TRY_ASSIGN(auto auth, authorize(access, repository, challenges, call));
    RG_TRY_ASSIGN(auto retried, send(auth));
    if (retried.status == 401) {
      return util::make_error(
        util::Errc::permission,
        fmt::format("registry {}: {}: access denied{}",
                    access.host,
                    repository,
                    access.credentials ? " with the credentials given" : " without credentials"));
    }
    {
      const std::lock_guard lock(m_mutex);
      m_auth[key] = auth;
    }
    return retried;
  }

  // Answer `challenges`: a Bearer token from the realm (with Basic credentials when there are
  // some), or Basic credentials.
  util::Result<CachedAuth>
  authorize(const RegistryAccess& access,
            const std::string& repository,
            const std::vector<Challenge>& challenges,
            const Call& call)
  {
    const auto where = fmt::format("registry {}", access.host);
    for (const auto& challenge : challenges) {
      if (challenge.scheme == "bearer") {
        return bearer_token(access, repository, challenge, call);
      }
    }
    for (const auto& challenge : challenges) {
      if (challenge.scheme == "basic") {
        if (!access.credentials) {
          return util::make_error(util::Errc::permission,
                                  fmt::format("{}: asks for credentials (Basic); set username and "
                                              "password_env or password_file, or docker_config",
                                              where));
        }
        return CachedAuth{"", util::Clock::time_point::max()};
      }
    }
    return util::make_error(
      util::Errc::permission,
      fmt::format("{}: answered 401 without a Bearer or Basic challenge", where));
  }

  util::Result<CachedAuth>
  bearer_token(const RegistryAccess& access,
               const std::string& repository,
               const Challenge& challenge,
               const Call& call)
  {
    const auto where = fmt::format("registry {}", access.host);
    const auto realm = challenge.params.find("realm");
    if (realm == challenge.params.end() || realm->second.empty()) {
      return util::make_error(util::Errc::protocol,
                              fmt::format("{}: a Bearer challenge without a realm", where));
    }
    const auto parts = util::parse_url(realm->second);
    if (!parts || parts->has_userinfo
        || !(parts->scheme == "https" || (parts->scheme == "http" && access.plain_http))) {
      // Credentials go to the realm: never over plain HTTP unless the registry itself is.
      return util::make_error(util::Errc::protocol,
                              fmt::format("{}: the token realm \"{}\" is not an https URL",
                                          where,
                                          shown(access, realm->second)));
    }
    std::string url = realm->second;
    url += url.find('?') == std::string::npos ? '?' : '&';
    std::vector<std::string> query;
    if (const auto service = challenge.params.find("service"); service != challenge.params.end()) {
      query.push_back("service=" + percent_encode(service->second));
    }
    query.push_back("scope=" + percent_encode(fmt::format("repository:{}:pull", repository)));
    url += fmt::format("{}", fmt::join(query, "&"));

    util::HttpRequest request;
    request.url = url;
    request.ca_file = access.ca_file;
    request.body_limit = k_token_body_limit;
    request.timeout = call.time_left();
    request.stop = call.stop;
    if (access.credentials) {
      request.user_password =
        access.credentials->username + ":" + access.credentials->password.reveal();
    }
    const auto shown_realm = util::redact_url(realm->second);
    auto response = call.http->perform(request);
    if (!response) {
      return util::with_context(std::move(response).error(), fmt::format("{}: token", where));
    }
    if (response->status == 401 || response->status == 403) {
      return util::make_error(
        util::Errc::permission,
        fmt::format("{}: the token server {} refused {} ({})",
                    where,
                    shown_realm,
                    access.credentials ? "the credentials given" : "anonymous access",
                    response->status));
    }
    if (response->status != 200 || response->body_truncated) {
      return util::make_error(
        util::Errc::protocol,
        fmt::format("{}: the token server {} answered {}", where, shown_realm, response->status));
    }
    RG_TRY_ASSIGN(const auto json,
                  parse_json(response->body, fmt::format("{}: the token server's answer", where)));
    const auto* object = json.if_object();
    const boost::json::string* token = nullptr;
    if (object != nullptr) {
      token = string_at(*object, "token");
      if (token == nullptr || token->empty()) {
        token = string_at(*object, "access_token");
      }
    }
    if (token == nullptr || !is_token_text(*token)) {
      return util::make_error(
        util::Errc::protocol,
        fmt::format("{}: the token server {} gave no usable token", where, shown_realm));
    }
    auto lifetime = std::chrono::duration_cast<std::chrono::seconds>(k_default_token_lifetime);
    if (const auto* expires = object->if_contains("expires_in")) {
      if (expires->is_int64() && expires->get_int64() > 0) {
        lifetime = std::chrono::seconds(std::min<std::int64_t>(expires->get_int64(), 86400));
      }
    }
    // Renew a little early, so a token does not expire between the check and its use.
    const auto margin = std::min(lifetime / 10, std::chrono::seconds(30));
    return CachedAuth{fmt::format("Bearer {}", std::string_view(*token)),
                      util::Clock::now() + lifetime - margin};
  }
};

// What a manifest is, from its media type and body.
enum class ManifestKind { index, image, unknown };

ManifestKind
kind_of(std::string_view media_type)
{
  if (media_type == k_oci_index || media_type == k_docker_list) {
    return ManifestKind::index;
  }
  if (media_type == k_oci_manifest || media_type == k_docker_manifest) {
    return ManifestKind::image;
  }
  return ManifestKind::unknown;
}

} // namespace

std::shared_ptr<Registry>
Registry::make_real()
{
  return std::make_shared<DistributionRegistry>();
}

std::string
format_platform(const Platform& platform)
{
  return platform.variant.empty()
           ? fmt::format("{}/{}", platform.os, platform.architecture)
           : fmt::format("{}/{}/{}", platform.os, platform.architecture, platform.variant);
}

util::Result<Platform>
parse_platform(std::string_view text)
{
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  const auto valid = [](const std::string& part) {
    return !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
    });
  };
  if (parts.size() < 2 || parts.size() > 3 || !std::all_of(parts.begin(), parts.end(), valid)) {
    return util::make_error(
      util::Errc::config,
      fmt::format("expected os/architecture[/variant] such as \"linux/amd64\", found \"{}\"",
                  util::printable(text, util::Quotes::escape)));
  }
  Platform platform;
  platform.os = util::to_lower(parts[0]);
  platform.architecture = normalise_architecture(parts[1]);
  if (parts.size() == 3) {
    platform.variant = util::to_lower(parts[2]);
  }
  return platform;
}

util::Result<PinResolution>
resolve_pin(Registry& registry,
            const RegistryAccess& access,
            const std::string& repository,
            const std::string& digest,
            const Platform& platform,
            const Call& call)
{
  const auto where = fmt::format("registry {}: {}@{}", access.host, repository, digest);
  RG_TRY_ASSIGN(const auto pinned, registry.fetch_manifest(access, repository, digest, call));
  PinResolution resolution;
  if (!pinned) {
    resolution.outcome = PinResolution::Outcome::unknown;
    return resolution;
  }
  RG_TRY_ASSIGN(const auto json, parse_json(pinned->body, where));
  const auto* object = json.if_object();
  if (object == nullptr) {
    return util::make_error(util::Errc::protocol,
                            fmt::format("{}: the manifest is not a JSON object", where));
  }
  auto media_type = pinned->media_type;
  if (const auto* declared = string_at(*object, "mediaType")) {
    if (media_type.empty() || kind_of(media_type) == ManifestKind::unknown) {
      media_type = std::string(*declared);
    } else if (*declared != media_type) {
      return util::make_error(
        util::Errc::protocol,
        fmt::format(
          "{}: served as {} but declares {}", where, shown(media_type), shown(*declared)));
    }
  }
  auto kind = kind_of(media_type);
  const boost::json::object* manifest = object;
  std::string manifest_where = where;
  std::optional<boost::json::value> platform_json;
  if (kind == ManifestKind::index) {
    resolution.is_index = true;
    const auto* entries = array_at(*object, "manifests");
    if (entries == nullptr) {
      return util::make_error(util::Errc::protocol,
                              fmt::format("{}: an index without manifests", where));
    }
    std::optional<std::string> chosen;
    std::vector<std::string> seen;
    for (const auto& entry : *entries) {
      const auto* item = entry.if_object();
      const auto* platform_of = item != nullptr ? object_at(*item, "platform") : nullptr;
      const auto* entry_digest = item != nullptr ? string_at(*item, "digest") : nullptr;
      if (platform_of == nullptr || entry_digest == nullptr) {
        continue;
      }
      const auto* os = string_at(*platform_of, "os");
      const auto* architecture = string_at(*platform_of, "architecture");
      const auto* variant = string_at(*platform_of, "variant");
      if (os == nullptr || architecture == nullptr) {
        continue;
      }
      // Shown in messages: escaped and cut short.
      const auto field = [](std::string_view text) {
        return util::to_lower(util::printable(text.substr(0, 32)));
      };
      Platform offered{field(*os),
                       normalise_architecture(field(*architecture)),
                       variant != nullptr ? field(*variant) : ""};
      if (seen.size() < 10) {
        seen.push_back(format_platform(offered));
      } else if (seen.size() == 10) {
        seen.emplace_back("...");
      }
      if (chosen || offered.os != platform.os || offered.architecture != platform.architecture
          || (!platform.variant.empty() && offered.variant != platform.variant)) {
        continue;
      }
      if (!is_digest(*entry_digest)) {
        return util::make_error(util::Errc::protocol,
                                fmt::format("{}: the entry for {} has the digest \"{}\"",
                                            where,
                                            format_platform(offered),
                                            shown(*entry_digest)));
      }
      chosen = std::string(*entry_digest);
    }
    if (!chosen) {
      resolution.outcome = PinResolution::Outcome::no_platform;
      resolution.platforms =
        seen.empty() ? std::string("none") : fmt::format("{}", fmt::join(seen, ", "));
      return resolution;
    }
    RG_TRY_ASSIGN(const auto child, registry.fetch_manifest(access, repository, *chosen, call));
    manifest_where = fmt::format("registry {}: {}@{}", access.host, repository, *chosen);
    if (!child) {
      return util::make_error(util::Errc::protocol,
                              fmt::format("{}: listed in the index {}, but unknown to the registry",
                                          manifest_where,
                                          digest));
    }
    RG_TRY_ASSIGN(platform_json, parse_json(child->body, manifest_where));
    manifest = platform_json->if_object();
    if (manifest == nullptr) {
      return util::make_error(util::Errc::protocol,
                              fmt::format("{}: the manifest is not a JSON object", manifest_where));
    }
    media_type = child->media_type;
    if (const auto* declared = string_at(*manifest, "mediaType");
        declared != nullptr
        && (media_type.empty() || kind_of(media_type) == ManifestKind::unknown)) {
      media_type = std::string(*declared);
    }
    kind = kind_of(media_type);
    resolution.manifest_digest = *chosen;
  } else {
    resolution.manifest_digest = digest;
  }
  if (kind != ManifestKind::image) {
    return util::make_error(
      util::Errc::protocol,
      fmt::format("{}: a manifest of type \"{}\", which readygate does not "
                  "read (expected an OCI or Docker v2 image manifest or index)",
                  manifest_where,
                  shown(media_type)));
  }
  const auto* config = object_at(*manifest, "config");
  const auto* config_digest = config != nullptr ? string_at(*config, "digest") : nullptr;
  if (config_digest == nullptr || !is_digest(*config_digest)) {
    return util::make_error(
      util::Errc::protocol,
      fmt::format("{}: the manifest has no valid config.digest", manifest_where));
  }
  resolution.config_digest = std::string(*config_digest);
  return resolution;
}

std::vector<Challenge>
parse_challenges(std::string_view header)
{
  std::vector<Challenge> challenges;
  std::size_t i = 0;
  const auto skip_blanks = [&] {
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t' || header[i] == ',')) {
      ++i;
    }
  };
  const auto token = [&] {
    const auto start = i;
    while (i < header.size() && header[i] != ' ' && header[i] != '\t' && header[i] != ','
           && header[i] != '=') {
      ++i;
    }
    return header.substr(start, i - start);
  };
  while (i < header.size()) {
    skip_blanks();
    const auto scheme = token();
    if (scheme.empty()) {
      break;
    }
    Challenge challenge;
    challenge.scheme = util::to_lower(scheme);
    // Parameters: name=value or name="quoted", comma-separated, until the next scheme.
    for (;;) {
      skip_blanks();
      const auto mark = i;
      const auto name = token();
      if (name.empty() || i >= header.size() || header[i] != '=') {
        i = mark; // the next challenge's scheme
        break;
      }
      ++i; // '='
      std::string value;
      if (i < header.size() && header[i] == '"') {
        ++i;
        while (i < header.size() && header[i] != '"') {
          if (header[i] == '\\' && i + 1 < header.size()) {
            ++i;
          }
          value += header[i];
          ++i;
        }
        ++i; // closing quote
      } else {
        const auto start = i;
        while (i < header.size() && header[i] != ',' && header[i] != ' ') {
          ++i;
        }
        value = std::string(header.substr(start, i - start));
      }
      challenge.params[util::to_lower(name)] = std::move(value);
    }
    challenges.push_back(std::move(challenge));
  }
  return challenges;
}

util::Result<std::optional<Credentials>>
credentials_from_docker_config(std::string_view json_text,
                               std::string_view host,
                               std::string_view what)
{
  const auto bad = [&](std::string_view why) {
    return util::make_error(util::Errc::config, fmt::format("{}: {}", what, why));
  };
  auto json = parse_json(json_text, what);
  if (!json) {
    // The parser's message does not quote the input; still, say no more than that.
    return bad("not valid JSON");
  }
  const auto* object = json->if_object();
  if (object == nullptr) {
    return bad("expected a JSON object");
  }
  const auto wanted = util::to_lower(host);
  const auto* auths = object_at(*object, "auths");
  if (auths != nullptr) {
    for (const auto& [key, value] : *auths) {
      if (auth_key_host(key) != wanted) {
        continue;
      }
      const auto* entry = value.if_object();
      if (entry == nullptr) {
        return bad(fmt::format("the entry for {} is not an object", host));
      }
      if (const auto* auth = string_at(*entry, "auth"); auth != nullptr && !auth->empty()) {
        const auto decoded = base64_decode(*auth);
        const auto colon = decoded ? decoded->find(':') : std::string::npos;
        if (!decoded || colon == std::string::npos || colon == 0) {
          return bad(fmt::format("the auth of {} is not base64 of user:password", host));
        }
        return std::optional<Credentials>(
          Credentials{decoded->substr(0, colon), util::Secret(decoded->substr(colon + 1))});
      }
      const auto* username = string_at(*entry, "username");
      const auto* password = string_at(*entry, "password");
      if (username != nullptr && password != nullptr && !username->empty() && !password->empty()) {
        return std::optional<Credentials>(
          Credentials{std::string(*username), util::Secret(std::string(*password))});
      }
      if (string_at(*entry, "identitytoken") != nullptr) {
        return bad(fmt::format("the entry for {} holds an identity token, which readygate does "
                               "not use; give a username and password",
                               host));
      }
    }
  }
  if (const auto* helpers = object_at(*object, "credHelpers");
      helpers != nullptr && helpers->contains(wanted)) {
    return bad(fmt::format(
      "credentials for {} come from a credential helper, which readygate does not run", host));
  }
  return std::optional<Credentials>();
}

} // namespace checks::images
