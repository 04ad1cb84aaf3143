// The `images` kind: do the running containers run exactly the pinned image digests, is every
// image reference in the files that start containers pinned by digest, and does the registry
// answer consistently for each pinned tag?
//
// Three parts, each optional (at least one must be configured):
//   - [[check.expect]]: a container (by name, or every container of a compose `service`) must
//     exist, be running, and run exactly the pinned image. Running means State.Status is
//     "running" (not restarting, not paused), its own health check (if its image has one) is
//     not unhealthy, and over `stable_for` (looked at twice) it stays running and its restart
//     count does not grow; a health check still `starting` cannot be judged yet (error; with
//     retry = true the check waits for it to settle). The pin may be an image index, a
//     platform manifest or (containerd image store) either; the engine may report the config
//     digest (classic Docker, podman), the pulled digest (containerd store) or the platform
//     manifest (ImageManifestDescriptor). readygate compares the right pair: when the engine
//     does not report the pinned digest itself, it fetches the pin from the registry, walks an
//     index to the engine's platform and compares the container's image with that manifest and
//     its config digest. RepoDigests is never used: podman lists name x digest pairs that never
//     existed.
//   - pinned_refs: every image reference in the listed files (compose files, Kubernetes
//     manifests, systemd units, quadlet files, env files, scripts) must carry @sha256:...; a
//     bare tag, `latest` above all, is reported with file:line.
//   - registry consistency: for each expectation pinned as repo:tag@digest, the tag is resolved
//     at its registry `probes` times (HEAD with every manifest type in Accept); answers that
//     differ from each other or from the pin fail, listing every digest seen.
//   With allow_unexpected = false, a running container no expectation names fails too.
//
// Fail or error:
//   pass   every expected container runs its pin, every tag resolved to its pin on every probe,
//          every reference in pinned_refs carries a digest
//   fail   observed and wrong: a container missing, not running (exited, restarting, paused),
//          unhealthy, restarted or stopped while watched, or on another image; a pin the
//          registry does not know, or an index without the engine's platform; a tag that
//          resolved to another digest, or to several; a reference without a digest (file:line);
//          an unexpected running container (allow_unexpected = false)
//   error  could not observe: the engine's socket missing or permission denied, the registry
//          unreachable, stalled past the timeout, answering 5xx/429 or refusing the
//          credentials, an unparseable or oversized answer, a digest that does not verify, a
//          file in pinned_refs unreadable, not valid YAML or without any image reference, an
//          `image:` that is a mapping (Helm's repository/tag) or empty, a ${VARIABLE} no listed
//          file sets; a health check still starting; a watch cut short by the deadline. A definite
//          fail is reported as fail even when something else could not be judged; both are listed.
//
// Example:
//   [[check]]
//   id = "containers"
//   kind = "images"
//   socket = "/run/podman/podman.sock"       # default /var/run/docker.sock
//   pinned_refs = ["/srv/app/compose.yaml", "/etc/systemd/system/worker.service"]
//   allow_unexpected = false
//   probes = 3                               # registry answers per tag; default 3
//   username = "deploy"
//   password_file = "/etc/readygate/registry-password"
//
//   [[check.expect]]
//   service = "web"
//   image =
//   "registry.example.com/app/web:1.4.2@sha256:4ed9dda15b31e9c5963cf3878a6f4876fc1709bcde1b592f221597acfdf74614"
//
//   [[check.expect]]
//   container = "worker"
//   image = "registry.example.com/app/worker@sha256:a317cbfb8d2b..."
#pragma once

#include <checks/images/engine.hpp>
#include <checks/images/pinned_refs.hpp>
#include <checks/images/reference.hpp>
#include <checks/images/registry.hpp>
#include <config/config.hpp>
#include <config/keys.hpp>
#include <hook/check.hpp>
#include <hook/util/result.hpp>
#include <hook/util/secret.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace checks {

// --- Interface ---

struct ImageExpectation
{
  enum class By { container, service };
  By by = By::container;
  std::string name;             // the container's name, or the compose service
  images::ImageReference image; // has a digest
};

struct ImagesSpec
{
  std::string socket = "/var/run/docker.sock";
  std::vector<ImageExpectation> expectations;
  bool allow_unexpected = true;
  std::vector<std::filesystem::path> pinned_refs;
  int probes = 3;
  std::chrono::milliseconds probe_interval{500};
  std::chrono::milliseconds stable_for{2000}; // each expected container is watched this long
  std::optional<images::Platform> platform;   // default: the engine's
  std::vector<std::string> insecure_registries;
  std::optional<std::string> ca_file;
  std::optional<std::string> username;
  std::optional<util::SecretSource> password;
  std::optional<std::filesystem::path> docker_config;
};

// Return the keys of the images kind.
config::KeyTable images_keys();

// Validate the keys of `spec` and build an images check.
util::Result<std::unique_ptr<hook::Check>> create_images_check(const config::CheckSpec& spec);

// Read and validate the images keys of `spec`; every config error names its key.
util::Result<ImagesSpec> parse_images(const config::CheckSpec& spec);

// What one file of pinned_refs holds.
struct PinnedFile
{
  std::string path;
  std::optional<util::Error> error; // could not be read or parsed
  std::vector<images::FoundReference> references;
  bool env_file = false; // only sets variables: no reference in it is no error
};

// What was seen of the containers of one expectation.
struct ExpectationObservation
{
  struct Seen
  {
    images::Container container;
    util::Result<images::ContainerImage> image = util::make_error(util::Errc::internal, "");
    // The same container inspected again stable_for after `image` (absent when stable_for is
    // 0 or the first look failed): its state, health and restart count then.
    std::optional<util::Result<images::ContainerImage>> later;
  };
  std::vector<Seen> containers; // those the expectation names
  // What the pin means, when a container's image had to be compared with it (absent when the
  // engine reported the pinned digest itself, or there was no container to compare).
  std::optional<util::Result<images::PinResolution>> resolution;
  // The tag's digest on each probe (nullopt: the registry does not know the tag); empty when the
  // pin has no tag.
  std::vector<util::Result<std::optional<std::string>>> probes;
};

struct ImagesObservation
{
  std::optional<util::Error> engine_error; // the engine could not be asked
  std::vector<images::Container> containers;
  std::vector<ExpectationObservation> expectations; // one per spec.expectations
  std::string platform;                             // "linux/amd64", for messages
  std::vector<PinnedFile> files;                    // one per spec.pinned_refs
  std::map<std::string, std::string> variables;     // set by the text files of pinned_refs
  std::chrono::milliseconds watched{0}; // from the first look at the containers to the second
};

// Observe the host and its registries through the probes of `ctx` and judge them.
hook::CheckResult run_images(const ImagesSpec& spec, const hook::CheckContext& ctx);

// Judge `observed`. A passing result lists, per expectation, the pinned, running and registry
// digests as findings.
hook::CheckResult evaluate_images(const ImagesSpec& spec, const ImagesObservation& observed);

} // namespace checks
