// The registry probe of the images kind: the OCI Distribution API (HEAD and GET of manifests)
// through util::HttpClient, with anonymous access, Bearer tokens (the registry token protocol)
// and Basic credentials; TLS unless the registry is listed as plain HTTP. Every answer is
// hostile input: digests are validated, a manifest fetched by digest must hash to it, bodies are
// bounded, JSON that does not parse is an error.
//
// On top of it, resolve_pin() says what a pinned digest means: an image index (multi-platform)
// is walked to the manifest of the engine's platform, and that manifest's config digest (the
// "image ID" classic engines report) is read.
#pragma once

#include <checks/images/probe.hpp>
#include <hook/util/result.hpp>
#include <hook/util/secret.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace checks::images {

// --- Interface ---

// Every manifest type this client understands, as sent in Accept. Registry 2.8 answers 404 for
// an OCI manifest when Accept lacks the OCI type, and converts Docker manifests to schema 1
// (another digest) when Accept is missing.
inline constexpr std::string_view k_manifest_accept =
  "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
  "application/vnd.docker.distribution.manifest.list.v2+json, "
  "application/vnd.docker.distribution.manifest.v2+json";

struct Credentials
{
  std::string username;
  util::Secret password;
};

struct RegistryAccess
{
  std::string host;        // "registry.example.com", "127.0.0.1:5000"
  bool plain_http = false; // http:// instead of https://
  std::optional<std::string> ca_file;
  std::optional<Credentials> credentials;
};

struct Manifest
{
  std::string digest;     // verified: the sha256 of `body`
  std::string media_type; // from Content-Type, else the body's mediaType
  std::string body;
};

class Registry
{
public:
  virtual ~Registry() = default;

  // Return the real registry client (OCI Distribution API through call.http).
  static std::shared_ptr<Registry> make_real();

  // Return the digest `repository`:`tag` has now (HEAD with every manifest type in Accept), or
  // nullopt when the registry does not know the tag (404).
  virtual util::Result<std::optional<std::string>> resolve_tag(const RegistryAccess& access,
                                                               const std::string& repository,
                                                               const std::string& tag,
                                                               const Call& call) = 0;
  // Return the manifest `digest` of `repository`, verified against its sha256, or nullopt when
  // the registry does not know it (404).
  virtual util::Result<std::optional<Manifest>> fetch_manifest(const RegistryAccess& access,
                                                               const std::string& repository,
                                                               const std::string& digest,
                                                               const Call& call) = 0;
};

struct Platform
{
  std::string os;           // "linux"
  std::string architecture; // "amd64"
  std::string variant;      // "v8", or "" for any
};

// Return `platform` as "linux/arm64/v8" ("linux/amd64" without a variant).
std::string format_platform(const Platform& platform);

// Parse "os/architecture[/variant]" (an Errc::config error otherwise); the architecture is
// normalised as engines report it (x86_64 -> amd64, aarch64 -> arm64).
util::Result<Platform> parse_platform(std::string_view text);

// What a pinned digest means.
struct PinResolution
{
  enum class Outcome {
    resolved,    // manifest_digest and config_digest are set
    unknown,     // the registry has no manifest with the pinned digest
    no_platform, // the pin is an index without a manifest for the platform
  };
  Outcome outcome = Outcome::resolved;
  bool is_index = false;       // the pin is an image index (manifest list)
  std::string manifest_digest; // the platform's manifest (the pin itself when not an index)
  std::string config_digest;   // that manifest's config.digest
  std::string platforms;       // no_platform: the platforms the index has, for the message
};

// Fetch the manifest `digest` of `repository`; when it is an index, choose the manifest for
// `platform` and fetch it; return both digests and the config digest. A manifest type this
// client does not know (schema 1, an artifact without config) is an Errc::protocol error.
util::Result<PinResolution> resolve_pin(Registry& registry,
                                        const RegistryAccess& access,
                                        const std::string& repository,
                                        const std::string& digest,
                                        const Platform& platform,
                                        const Call& call);

// One challenge of a WWW-Authenticate header: `Bearer realm="...",service="..."`.
struct Challenge
{
  std::string scheme;                        // lowercased: "bearer", "basic"
  std::map<std::string, std::string> params; // names lowercased
};

// Parse a WWW-Authenticate value (one or more challenges; quoted strings with \-escapes).
std::vector<Challenge> parse_challenges(std::string_view header);

// Return the credentials for registry `host` in a Docker client config (config.json: `auths`
// keyed by host, or by a URL of it, each with a base64 `auth` of "user:password", or `username`
// and `password`). nullopt when the file has none for the host; Errc::config when it is not
// such a file, or the entry only has a helper or an identity token (not supported). `what`
// names the file in messages; no message ever holds a credential.
util::Result<std::optional<Credentials>>
credentials_from_docker_config(std::string_view json, std::string_view host, std::string_view what);

} // namespace checks::images
