#include "engine.hpp"

#include <checks/images/json.hpp>
#include <checks/images/reference.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace checks::images {

namespace {

constexpr std::size_t k_version_body_limit = 64 * 1024;
constexpr std::size_t k_list_body_limit = 16 * 1024 * 1024;
constexpr std::size_t k_inspect_body_limit = 4 * 1024 * 1024;

struct ApiVersion
{
  int major = 0;
  int minor = 0;
  auto operator<=>(const ApiVersion&) const = default;
};

std::optional<ApiVersion>
parse_api_version(std::string_view text)
{
  const auto dot = text.find('.');
  if (dot == std::string_view::npos || text.size() > 16) {
    return std::nullopt;
  }
  ApiVersion version;
  const auto number = [](std::string_view digits, int& out) {
    if (digits.empty()) {
      return false;
    }
    const auto* end = digits.data() + digits.size();
    const auto [stop, error] = std::from_chars(digits.data(), end, out);
    return error == std::errc() && stop == end && out >= 0;
  };
  if (!number(text.substr(0, dot), version.major) || !number(text.substr(dot + 1), version.minor)) {
    return std::nullopt;
  }
  return version;
}

std::string
format_api_version(const ApiVersion& version)
{
  return fmt::format("{}.{}", version.major, version.minor);
}

// A container ID as engines give it: lowercase hex, 12 to 64 digits.
bool
is_container_id(std::string_view id)
{
  return id.size() >= 12 && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Text from the engine, for a message: one line, escaped, at most 200 bytes.
std::string
shown(std::string_view text)
{
  return util::printable_excerpt(text, false);
}

class DockerEngine final : public Engine
{
public:
  util::Result<EngineSession>
  connect(const std::string& socket, const Call& call) override
  {
    RG_TRY_ASSIGN(const auto body, get(socket, "/version", k_version_body_limit, call));
    RG_TRY_ASSIGN(const auto json, parse_json(body, what(socket, "/version")));
    const auto* object = json.if_object();
    const auto* api = object != nullptr ? string_at(*object, "ApiVersion") : nullptr;
    const auto engine_version = api != nullptr ? parse_api_version(*api) : std::nullopt;
    if (!engine_version) {
      return util::make_error(
        util::Errc::protocol,
        fmt::format("{}: the answer has no ApiVersion", what(socket, "/version")));
    }
    const auto* minimum_text = string_at(*object, "MinAPIVersion");
    const auto engine_minimum =
      minimum_text != nullptr ? parse_api_version(*minimum_text) : std::nullopt;
    const auto highest = *parse_api_version(k_max_api_version);
    const auto lowest = *parse_api_version(k_min_api_version);
    const auto chosen = std::min(*engine_version, highest);
    if (chosen < lowest) {
      return util::make_error(
        util::Errc::protocol,
        fmt::format("{}: the engine speaks API {}; readygate needs {} or later",
                    socket,
                    format_api_version(*engine_version),
                    k_min_api_version));
    }
    if (engine_minimum && *engine_minimum > chosen) {
      return util::make_error(util::Errc::protocol,
                              fmt::format("{}: the engine needs API {} or later; readygate speaks "
                                          "up to {}",
                                          socket,
                                          format_api_version(*engine_minimum),
                                          k_max_api_version));
    }
    EngineSession session;
    session.socket = socket;
    session.api_version = format_api_version(chosen);
    const auto* os = string_at(*object, "Os");
    const auto* arch = string_at(*object, "Arch");
    session.os = os != nullptr ? util::to_lower(util::printable(*os)) : "";
    session.architecture = arch != nullptr ? util::to_lower(util::printable(*arch)) : "";
    return session;
  }

  util::Result<std::vector<Container>>
  containers(const EngineSession& session, const Call& call) override
  {
    const auto path = fmt::format("/v{}/containers/json?all=1", session.api_version);
    RG_TRY_ASSIGN(const auto body, get(session.socket, path, k_list_body_limit, call));
    const auto where = what(session.socket, "/containers/json");
    RG_TRY_ASSIGN(const auto json, parse_json(body, where));
    const auto* list = json.if_array();
    if (list == nullptr) {
      return util::make_error(util::Errc::protocol,
                              fmt::format("{}: expected a JSON array of containers", where));
    }
    std::vector<Container> found;
    for (const auto& entry : *list) {
      const auto* object = entry.if_object();
      const auto* id = object != nullptr ? string_at(*object, "Id") : nullptr;
      if (id == nullptr || !is_container_id(*id)) {
        return util::make_error(
          util::Errc::protocol,
          fmt::format("{}: a container without a valid Id ({})", where, shown(serialize(entry))));
      }
      Container container;
      container.id = std::string(*id);
      if (const auto* names = array_at(*object, "Names")) {
        for (const auto& name : *names) {
          if (const auto* text = name.if_string()) {
            std::string_view value = *text;
            if (value.starts_with('/')) {
              value.remove_prefix(1);
            }
            container.names.emplace_back(value);
          }
        }
      }
      if (const auto* labels = object_at(*object, "Labels")) {
        if (const auto* service = string_at(*labels, k_compose_service_label)) {
          container.compose_service = std::string(*service);
        }
      }
      if (const auto* state = string_at(*object, "State")) {
        container.state = util::to_lower(util::printable(*state));
      }
      if (const auto* image = string_at(*object, "Image")) {
        container.image = std::string(*image);
      }
      found.push_back(std::move(container));
    }
    return found;
  }

  util::Result<ContainerImage>
  inspect(const EngineSession& session, const std::string& id, const Call& call) override
  {
    if (!is_container_id(id)) {
      return util::make_error(util::Errc::internal,
                              fmt::format("\"{}\" is not a container ID", shown(id)));
    }
    const auto path = fmt::format("/v{}/containers/{}/json", session.api_version, id);
    RG_TRY_ASSIGN(const auto body, get(session.socket, path, k_inspect_body_limit, call));
    const auto where = what(session.socket, fmt::format("/containers/{}/json", id.substr(0, 12)));
    RG_TRY_ASSIGN(const auto json, parse_json(body, where));
    const auto* object = json.if_object();
    if (object == nullptr) {
      return util::make_error(util::Errc::protocol,
                              fmt::format("{}: expected a JSON object", where));
    }
    ContainerImage image;
    const auto* image_id = string_at(*object, "Image");
    if (image_id == nullptr || !is_digest(*image_id)) {
      return util::make_error(
        util::Errc::protocol,
        fmt::format("{}: the container's Image is not a sha256 digest ({})",
                    where,
                    image_id != nullptr ? shown(*image_id) : std::string("missing")));
    }
    image.image_id = std::string(*image_id);
    if (const auto* descriptor = object_at(*object, "ImageManifestDescriptor")) {
      const auto* digest = string_at(*descriptor, "digest");
      if (digest == nullptr || !is_digest(*digest)) {
        return util::make_error(
          util::Errc::protocol,
          fmt::format("{}: ImageManifestDescriptor.digest is not a sha256 digest", where));
      }
      image.manifest_digest = std::string(*digest);
    }
    const auto* state = object_at(*object, "State");
    const auto* running = state != nullptr ? state->if_contains("Running") : nullptr;
    if (running == nullptr || !running->is_bool()) {
      return util::make_error(util::Errc::protocol,
                              fmt::format("{}: the answer has no State.Running", where));
    }
    image.running = running->get_bool();
    const auto* status = string_at(*state, "Status");
    if (status == nullptr || status->empty()) {
      return util::make_error(util::Errc::protocol,
                              fmt::format("{}: the answer has no State.Status", where));
    }
    image.status = util::to_lower(util::printable(*status));
    const auto flag = [&](std::string_view key) {
      const auto* value = state->if_contains(key);
      return value != nullptr && value->is_bool() && value->get_bool();
    };
    image.paused = flag("Paused");
    image.restarting = flag("Restarting");
    if (const auto* health = object_at(*state, "Health")) {
      if (const auto* health_status = string_at(*health, "Status")) {
        image.health = util::to_lower(util::printable(*health_status));
      }
      const auto* streak = health->if_contains("FailingStreak");
      if (streak != nullptr && streak->is_int64() && streak->get_int64() >= 0
          && streak->get_int64() <= 1'000'000) {
        image.failing_streak = static_cast<int>(streak->get_int64());
      }
    }
    if (image.health == "none") {
      image.health.clear(); // Docker's word for a container whose image's check is disabled
    }
    if (const auto* count = object->if_contains("RestartCount")) {
      if (!count->is_int64() || count->get_int64() < 0) {
        return util::make_error(util::Errc::protocol,
                                fmt::format("{}: RestartCount is not a count", where));
      }
      image.restart_count = count->get_int64();
    }
    if (const auto* started = string_at(*state, "StartedAt")) {
      image.started_at = util::printable_excerpt(*started, false);
    }
    if (const auto* config = object_at(*object, "Config")) {
      if (const auto* requested = string_at(*config, "Image")) {
        image.config_image = std::string(*requested);
      }
    }
    return image;
  }

private:
  static std::string
  what(const std::string& socket, std::string_view path)
  {
    return fmt::format("engine {} {}", socket, path);
  }

  // GET `path` from the engine at `socket`; a status other than 200 is an error carrying the
  // engine's message.
  static util::Result<std::string>
  get(const std::string& socket, const std::string& path, std::size_t limit, const Call& call)
  {
    util::HttpRequest request;
    request.url = "http://docker" + path;
    request.unix_socket = socket;
    request.timeout = call.time_left();
    request.stop = call.stop;
    request.body_limit = limit;
    auto response = call.http->perform(request);
    if (!response) {
      auto error = std::move(response).error();
      // The URL names a made-up host and port; the socket is what the operator knows.
      const auto prefix = request.url + ": ";
      if (error.message.starts_with(prefix)) {
        error.message.erase(0, prefix.size());
      }
      if (error.code == util::Errc::network && error.message.ends_with(')')) {
        // "failed to connect to docker port 80 ...: Couldn't connect to server (reason)"
        const auto open = error.message.rfind(" (");
        if (open != std::string::npos) {
          error.message = fmt::format(
            "cannot connect: {}", error.message.substr(open + 2, error.message.size() - open - 3));
        }
      }
      return util::with_context(std::move(error), what(socket, path));
    }
    if (response->body_truncated) {
      return util::make_error(
        util::Errc::protocol,
        fmt::format("{}: the answer is longer than {} bytes", what(socket, path), limit));
    }
    if (response->status != 200) {
      std::string detail;
      if (auto json = parse_json(response->body, "")) {
        if (const auto* object = json->if_object()) {
          if (const auto* message = string_at(*object, "message")) {
            detail = fmt::format(": {}", shown(*message));
          }
        }
      }
      return util::make_error(
        response->status == 401 || response->status == 403 ? util::Errc::permission
                                                           : util::Errc::protocol,
        fmt::format("{}: status {}{}", what(socket, path), response->status, detail));
    }
    return std::move(response->body);
  }
};

} // namespace

std::string
ContainerImage::state() const
{
  if (restarting || status == "restarting") {
    return "restarting";
  }
  if (paused || status == "paused") {
    return "paused";
  }
  if (status == "running" && !running) {
    return "not running";
  }
  return status;
}

std::shared_ptr<Engine>
Engine::make_real()
{
  return std::make_shared<DockerEngine>();
}

} // namespace checks::images
