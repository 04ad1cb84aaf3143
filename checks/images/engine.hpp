// The container engine probe of the images kind: the Docker Engine API over its unix socket (the
// same API podman's `system service` speaks), read through util::HttpClient. Every answer is
// hostile input: bodies are bounded, JSON that does not parse or has the wrong shape is an error,
// and every ID and digest is validated before it is used in a path or shown.
#pragma once

#include <checks/images/probe.hpp>
#include <hook/util/result.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace checks::images {

// --- Interface ---

// The compose label that names a container's service.
inline constexpr std::string_view k_compose_service_label = "com.docker.compose.service";

struct EngineSession
{
  std::string socket;
  std::string api_version;  // negotiated: "1.41"
  std::string os;           // the engine's platform, for choosing from an image index: "linux"
  std::string architecture; // "amd64", "arm64"
};

struct Container
{
  std::string id;                 // 64 hex digits
  std::vector<std::string> names; // without the leading '/'
  std::optional<std::string> compose_service;
  std::string state; // "running", "exited", "created", ...
  std::string image; // the reference the container was created from, as the engine lists it
};

struct ContainerImage
{
  std::string image_id; // a validated digest: the config digest, or (containerd image store) the
                        // digest of what was pulled
  std::optional<std::string> manifest_digest; // ImageManifestDescriptor.digest (API 1.48,
                                              // containerd image store only)
  bool running = false;                       // State.Running: also true while restarting or paused
  bool paused = false;                        // State.Paused
  bool restarting = false;                    // State.Restarting
  std::string status;     // State.Status: "running", "restarting", "paused", "exited", ...
  std::string health;     // State.Health.Status ("starting", "healthy", "unhealthy"); empty
                          // when the container has no health check
  int failing_streak = 0; // State.Health.FailingStreak
  std::optional<std::int64_t> restart_count; // RestartCount: restarts by the restart policy
  std::string started_at;                    // State.StartedAt, as the engine writes it
  std::string config_image;                  // Config.Image: the reference as requested

  // Return the state to judge: "running" only when State.Status is "running" and the container
  // is neither restarting nor paused (Docker reports Running = true for both); otherwise what
  // it is ("restarting", "paused", "exited", ...).
  std::string state() const;
};

class Engine
{
public:
  virtual ~Engine() = default;

  // Return the real engine client (Docker Engine API through call.http).
  static std::shared_ptr<Engine> make_real();

  // Ask the engine at `socket` for its version and choose the API version to speak: the
  // engine's, capped at the highest this client knows; an engine whose minimum is above that is
  // an error.
  virtual util::Result<EngineSession> connect(const std::string& socket, const Call& call) = 0;
  // Return every container, running or not.
  virtual util::Result<std::vector<Container>> containers(const EngineSession& session,
                                                          const Call& call) = 0;
  // Return what container `id` runs.
  virtual util::Result<ContainerImage>
  inspect(const EngineSession& session, const std::string& id, const Call& call) = 0;
};

// The highest Docker Engine API version this client speaks, and the lowest it accepts.
inline constexpr std::string_view k_max_api_version = "1.51";
inline constexpr std::string_view k_min_api_version = "1.24";

} // namespace checks::images
