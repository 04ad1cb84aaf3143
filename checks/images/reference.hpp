// Image references ("registry.example.com/app/web:1.4@sha256:...") as engines and registries read
// them, and digests: every digest from a config, a file, an engine or a registry is validated
// here before it is used in a URL, compared or shown.
#pragma once

#include <hook/util/result.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace checks::images {

// --- Interface ---

// Return true when `text` is "sha256:" followed by 64 lowercase hex digits.
bool is_digest(std::string_view text);

struct ImageReference
{
  std::string original;   // as written
  std::string domain;     // "registry.example.com:5000"; "docker.io" when none was written
  std::string repository; // "app/web"; "library/nginx" for Docker Hub's official images
  std::optional<std::string> tag;
  std::optional<std::string> digest; // validated with is_digest
  bool digest_malformed = false;     // an "@..." part that is not a sha256 digest

  // Return the host to send registry requests to ("registry-1.docker.io" for docker.io).
  std::string registry_host() const;
  // Return "domain/repository" as written ("docker.io/library/nginx" for "nginx").
  std::string name() const;
};

// Parse `text` with the grammar of the distribution reference (domain, path components of
// lowercase letters, digits and separators, a tag of at most 128 word characters, a digest).
// An "@" part that is not a valid sha256 digest still parses, with `digest_malformed` set, so a
// pinned-reference check can report it; anything else malformed is an Errc::config error.
util::Result<ImageReference> parse_reference(std::string_view text);

} // namespace checks::images
