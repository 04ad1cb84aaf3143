#include "images_check.hpp"

#include <checks/common.hpp>
#include <config/fields.hpp>
#include <hook/expect.hpp>
#include <hook/util/file.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <mutex>
#include <set>

namespace checks {

namespace {

using config::KeySpec;
using config::KeyType;
using images::ImageReference;

// clang-format off
constexpr std::array k_images_keys = {
  KeySpec{"socket",              KeyType::path,         false, "\"/var/run/docker.sock\"", false, "the container engine's API socket (Docker, or podman's system service)"},
  KeySpec{"expect",              KeyType::tables,       false, "",          false, "[[check.expect]]: container or service, and its pinned image repo[:tag]@sha256:..."},
  KeySpec{"allow_unexpected",    KeyType::boolean,      false, "true",      false, "allow running containers that no expectation names"},
  KeySpec{"pinned_refs",         KeyType::strings,      false, "",          false, "files that start containers; every image reference in them must carry a digest"},
  KeySpec{"probes",              KeyType::integer,      false, "3",         false, "registry answers asked for each pinned tag (1 to 20)"},
  KeySpec{"probe_interval",      KeyType::duration,     false, "\"500ms\"", false, "pause between two probes of a tag"},
  KeySpec{"stable_for",          KeyType::duration,     false, "\"2s\"",    false, "how long each expected container is watched: it must stay running, without a restart"},
  KeySpec{"platform",            KeyType::string,       false, "the engine's", false, "os/architecture[/variant] chosen from an image index"},
  KeySpec{"insecure_registries", KeyType::string_array, false, "[]",        false, "registries (host[:port]) reached over plain HTTP instead of HTTPS"},
  KeySpec{"ca_file",             KeyType::path,         false, "system CAs", false, "PEM bundle to verify registries with"},
  KeySpec{"username",            KeyType::string,       false, "",          false, "registry user name (with password_env or password_file)"},
  KeySpec{"password_env",        KeyType::string,       false, "",          true,  "environment variable holding the registry password"},
  KeySpec{"password_file",       KeyType::path,         false, "",          true,  "file holding the registry password (not world-readable)"},
  KeySpec{"docker_config",       KeyType::path,         false, "none",      true,  "a Docker client config.json to take registry credentials from"},
};
// clang-format on

constexpr std::size_t k_pinned_file_limit = 4 * 1024 * 1024;
constexpr std::int64_t k_max_probes = 20;

std::string
describe_expectation(const ImageExpectation& expectation)
{
  return fmt::format("{} {}",
                     expectation.by == ImageExpectation::By::container ? "container" : "service",
                     expectation.name);
}

// Return the platform of this machine, for an engine that did not say its own.
images::Platform
host_platform()
{
  utsname name{};
  std::string machine = "amd64";
  if (::uname(&name) == 0) {
    machine = name.machine;
  }
  auto parsed = images::parse_platform(fmt::format("linux/{}", machine));
  return parsed ? *parsed : images::Platform{"linux", "amd64", ""};
}

util::Result<std::vector<ImageExpectation>>
parse_expectations(const config::CheckSpec& check_spec, config::FieldReader& reader)
{
  std::vector<ImageExpectation> expectations;
  if (!reader.has("expect")) {
    return expectations;
  }
  const auto* node = check_spec.params.get("expect");
  const auto* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return reader.error_at("expect", "expected [[check.expect]] tables");
  }
  std::set<std::string> seen;
  std::size_t number = 0;
  for (const auto& element : *array) {
    ++number;
    const auto& table = *element.as_table();
    const auto bad = [&](std::string_view why) {
      return reader.error_at("expect", fmt::format("[[check.expect]] #{}: {}", number, why));
    };
    for (const auto& [key, value] : table) {
      const auto name = key.str();
      if (name != "container" && name != "service" && name != "image") {
        return bad(
          fmt::format("unknown key \"{}\" (expected container or service, and image)", name));
      }
      if (!value.is_string()) {
        return bad(fmt::format(
          "key \"{}\": expected a string, found {}", name, config::type_name_of(value)));
      }
    }
    ImageExpectation expectation;
    const auto* container = table.get_as<std::string>("container");
    const auto* service = table.get_as<std::string>("service");
    if ((container == nullptr) == (service == nullptr)) {
      return bad("set exactly one of \"container\" and \"service\"");
    }
    expectation.by =
      container != nullptr ? ImageExpectation::By::container : ImageExpectation::By::service;
    expectation.name = container != nullptr ? container->get() : service->get();
    if (expectation.name.empty()
        || std::any_of(expectation.name.begin(), expectation.name.end(), [](char c) {
             return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
           })) {
      return bad("the name is empty or has a control character");
    }
    if (!seen.insert(describe_expectation(expectation)).second) {
      return bad(fmt::format("{} is expected twice", describe_expectation(expectation)));
    }
    const auto* image = table.get_as<std::string>("image");
    if (image == nullptr) {
      return bad("missing key \"image\" (expected repo[:tag]@sha256:<64 hex digits>)");
    }
    auto reference = images::parse_reference(image->get());
    if (!reference) {
      return bad(fmt::format("key \"image\": {}", reference.error().message));
    }
    if (!reference->digest) {
      return bad(fmt::format("key \"image\": \"{}\" is not pinned: expected "
                             "repo[:tag]@sha256:<64 lowercase hex digits>",
                             util::printable(image->get(), util::Quotes::escape)));
    }
    expectation.image = std::move(*reference);
    expectations.push_back(std::move(expectation));
  }
  return expectations;
}

} // namespace

util::Result<ImagesSpec>
parse_images(const config::CheckSpec& check_spec)
{
  config::FieldReader reader(check_spec, k_images_keys);
  RG_TRY(reader.check_keys());
  ImagesSpec spec;
  RG_TRY_ASSIGN(const auto socket, reader.optional_path("socket"));
  if (socket) {
    spec.socket = socket->string();
  }
  RG_TRY_ASSIGN(spec.expectations, parse_expectations(check_spec, reader));
  RG_TRY_ASSIGN(const auto allow_unexpected, reader.optional_bool("allow_unexpected"));
  spec.allow_unexpected = allow_unexpected.value_or(true);
  RG_TRY_ASSIGN(const auto pinned, reader.string_or_array("pinned_refs"));
  for (const auto& path : pinned) {
    if (path.empty() || path.find('\0') != std::string::npos) {
      return reader.error_at("pinned_refs", "expected paths of files");
    }
    spec.pinned_refs.push_back((check_spec.base_directory / path).lexically_normal());
  }
  if (spec.expectations.empty() && spec.pinned_refs.empty() && spec.allow_unexpected) {
    return reader.error(
      "nothing to check: add [[check.expect]] tables, pinned_refs, or allow_unexpected = false");
  }
  RG_TRY_ASSIGN(const auto probes, reader.optional_integer("probes", 1, k_max_probes));
  spec.probes = static_cast<int>(probes.value_or(3));
  RG_TRY_ASSIGN(const auto interval, reader.optional_duration("probe_interval"));
  if (interval) {
    spec.probe_interval = *interval;
  }
  RG_TRY_ASSIGN(const auto stable_for, reader.optional_duration("stable_for"));
  if (stable_for) {
    spec.stable_for = *stable_for;
  }
  RG_TRY_ASSIGN(const auto platform, reader.optional_string("platform"));
  if (platform) {
    auto parsed = images::parse_platform(*platform);
    if (!parsed) {
      return reader.error_at("platform", parsed.error().message);
    }
    spec.platform = std::move(*parsed);
  }
  RG_TRY_ASSIGN(spec.insecure_registries, reader.string_array("insecure_registries"));
  for (const auto& registry : spec.insecure_registries) {
    auto probe = images::parse_reference(registry + "/x");
    if (!probe || probe->domain != registry) {
      return reader.error_at("insecure_registries",
                             fmt::format("\"{}\" is not a registry host[:port]",
                                         util::printable(registry, util::Quotes::escape)));
    }
  }
  RG_TRY_ASSIGN(const auto ca_file, reader.optional_path("ca_file"));
  if (ca_file) {
    spec.ca_file = ca_file->string();
  }
  RG_TRY_ASSIGN(spec.username, reader.optional_string("username"));
  RG_TRY_ASSIGN(spec.password, reader.optional_secret("password"));
  if (spec.username
      && (spec.username->empty()
          || spec.username->find_first_of(std::string_view(":\0\r\n", 4)) != std::string::npos)) {
    return reader.error_at("username", "expected a user name without ':' or control characters");
  }
  if (spec.username.has_value() != spec.password.has_value()) {
    return reader.error_at(spec.username ? "username" : "password_env",
                           "username and password_env (or password_file) go together");
  }
  RG_TRY_ASSIGN(spec.docker_config, reader.optional_secret_path("docker_config"));
  if (spec.username && spec.docker_config) {
    return reader.error_at("docker_config", "set either username and a password, or docker_config");
  }
  if (spec.username) {
    // One password must never go to a registry it was not meant for.
    std::set<std::string> registries;
    for (const auto& expectation : spec.expectations) {
      registries.insert(expectation.image.domain);
    }
    if (registries.size() > 1) {
      return reader.error_at(
        "username",
        fmt::format("the expectations name {} registries ({}); a username and password go to "
                    "one: split the check, or use docker_config",
                    registries.size(),
                    fmt::join(registries, ", ")));
    }
  }
  if ((spec.username || spec.docker_config) && spec.expectations.empty()) {
    return reader.error_at(spec.username ? "username" : "docker_config",
                           "credentials without [[check.expect]]: no registry is asked");
  }
  return spec;
}

config::KeyTable
images_keys()
{
  return k_images_keys;
}

util::Result<std::unique_ptr<hook::Check>>
create_images_check(const config::CheckSpec& spec)
{
  return create_check<ImagesSpec, parse_images, run_images>(spec);
}

namespace {

// Read and scan one file of pinned_refs.
PinnedFile
read_pinned_file(const std::filesystem::path& path,
                 const hook::CheckContext& ctx,
                 std::map<std::string, std::string>& variables)
{
  PinnedFile file;
  file.path = path.string();
  auto text = util::read_small_file(path, k_pinned_file_limit, ctx.deadline, ctx.stop);
  if (!text) {
    file.error = std::move(text).error();
    return file;
  }
  if (images::is_yaml_path(file.path)) {
    auto found = images::scan_yaml(*text, file.path);
    if (!found) {
      file.error = std::move(found).error();
    } else {
      file.references = std::move(*found);
    }
    return file;
  }
  file.references = images::scan_text(*text);
  file.env_file = images::is_env_file(*text);
  for (auto& [name, value] : images::assignments_in(*text)) {
    variables[name] = std::move(value);
  }
  return file;
}

bool
is_insecure(const ImagesSpec& spec, const ImageReference& reference)
{
  return std::find(
           spec.insecure_registries.begin(), spec.insecure_registries.end(), reference.domain)
         != spec.insecure_registries.end();
}

// Return the credentials for `reference`'s registry: the check's username and password, or the
// entry of docker_config for its host.
util::Result<std::optional<images::Credentials>>
credentials_for(const ImagesSpec& spec,
                const ImageReference& reference,
                const std::optional<util::Secret>& password,
                const std::optional<util::Secret>& docker_config)
{
  if (spec.username && password) {
    return std::optional<images::Credentials>(images::Credentials{*spec.username, *password});
  }
  if (!docker_config) {
    return std::optional<images::Credentials>();
  }
  std::vector<std::string> hosts = {reference.domain};
  if (reference.domain == "docker.io") {
    hosts = {"https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"};
  }
  for (const auto& host : hosts) {
    RG_TRY_ASSIGN(auto found,
                  images::credentials_from_docker_config(
                    docker_config->reveal(),
                    host == "https://index.docker.io/v1/" ? "index.docker.io" : host,
                    spec.docker_config->string()));
    if (found) {
      return found;
    }
  }
  return std::optional<images::Credentials>();
}

// Wait `pause`, or less when the deadline or a stop comes first.
void
pause_for(std::chrono::milliseconds pause, const hook::CheckContext& ctx)
{
  std::mutex mutex;
  std::condition_variable_any never;
  std::unique_lock lock(mutex);
  const auto until = std::min(util::time_after(util::Clock::now(), pause), ctx.deadline);
  never.wait_until(lock, ctx.stop, until, [] { return false; });
}

// Return true when the engine reported the pinned digest itself (containerd image store: the
// pulled digest as image ID, or the platform manifest as ImageManifestDescriptor).
bool
reports_pin(const images::ContainerImage& image, const std::string& pin)
{
  return image.image_id == pin || (image.manifest_digest && *image.manifest_digest == pin);
}

} // namespace

hook::CheckResult
run_images(const ImagesSpec& spec, const hook::CheckContext& ctx)
{
  const images::Call call{ctx.probes.get<util::HttpClient>(), ctx.deadline, ctx.stop};
  ImagesObservation observed;
  for (const auto& path : spec.pinned_refs) {
    observed.files.push_back(read_pinned_file(path, ctx, observed.variables));
  }
  observed.expectations.resize(spec.expectations.size());

  std::optional<images::EngineSession> session;
  if (!spec.expectations.empty() || !spec.allow_unexpected) {
    const auto engine = ctx.probes.get<images::Engine>();
    auto connected = engine->connect(spec.socket, call);
    auto listed = connected ? engine->containers(*connected, call)
                            : util::Result<std::vector<images::Container>>(connected.error());
    if (!listed) {
      observed.engine_error = std::move(listed).error();
    } else {
      session = std::move(*connected);
      observed.containers = std::move(*listed);
      for (std::size_t i = 0; i < spec.expectations.size(); ++i) {
        const auto& expectation = spec.expectations[i];
        for (const auto& container : observed.containers) {
          const bool named =
            expectation.by == ImageExpectation::By::container
              ? std::find(container.names.begin(), container.names.end(), expectation.name)
                  != container.names.end()
              : container.compose_service == expectation.name;
          if (named) {
            observed.expectations[i].containers.push_back(
              {container, engine->inspect(*session, container.id, call), std::nullopt});
          }
        }
      }
    }
  }
  const auto first_look = util::Clock::now();

  auto platform = spec.platform;
  if (!platform && session && !session->os.empty() && !session->architecture.empty()) {
    auto parsed = images::parse_platform(fmt::format("{}/{}", session->os, session->architecture));
    if (parsed) {
      platform = std::move(*parsed);
    }
  }
  if (!platform) {
    platform = host_platform();
  }
  observed.platform = images::format_platform(*platform);

  // Credentials, read now (never kept in the spec).
  std::vector<util::Secret> secrets;
  std::optional<util::Secret> password;
  std::optional<util::Secret> docker_config;
  std::optional<util::Error> credentials_error;
  if (spec.password) {
    auto read = spec.password->read(ctx.deadline);
    if (read) {
      password = *read;
      secrets.push_back(std::move(*read));
    } else {
      credentials_error = util::with_context(std::move(read).error(), "registry password");
    }
  }
  if (spec.docker_config) {
    auto read =
      util::SecretSource{util::SecretSource::Kind::file, spec.docker_config->string()}.read(
        ctx.deadline);
    if (read) {
      docker_config = std::move(*read);
    } else {
      credentials_error = util::with_context(std::move(read).error(), "docker_config");
    }
  }

  const auto registry = ctx.probes.get<images::Registry>();
  std::vector<std::pair<std::string, util::Secret>> basic_credentials;
  for (std::size_t i = 0; i < spec.expectations.size(); ++i) {
    const auto& expectation = spec.expectations[i];
    auto& seen = observed.expectations[i];
    const auto& pin = *expectation.image.digest;
    images::RegistryAccess access;
    access.host = expectation.image.registry_host();
    access.plain_http = is_insecure(spec, expectation.image);
    access.ca_file = spec.ca_file;
    std::optional<util::Error> access_error = credentials_error;
    if (!access_error) {
      auto credentials = credentials_for(spec, expectation.image, password, docker_config);
      if (!credentials) {
        access_error = std::move(credentials).error();
      } else if (*credentials) {
        secrets.push_back((*credentials)->password);
        basic_credentials.emplace_back((*credentials)->username, (*credentials)->password);
        access.credentials = std::move(**credentials);
      }
    }
    const bool needs_resolution =
      std::any_of(seen.containers.begin(), seen.containers.end(), [&](const auto& container) {
        return container.image && container.image->state() == "running"
               && !reports_pin(*container.image, pin);
      });
    if (needs_resolution) {
      seen.resolution = access_error
                          ? util::Result<images::PinResolution>(*access_error)
                          : images::resolve_pin(
                            *registry, access, expectation.image.repository, pin, *platform, call);
    }
    if (!expectation.image.tag) {
      continue;
    }
    for (int probe = 0; probe < spec.probes; ++probe) {
      if (probe > 0) {
        pause_for(spec.probe_interval, ctx);
      }
      if (access_error) {
        seen.probes.emplace_back(*access_error);
        break;
      }
      if (ctx.should_stop()) {
        seen.probes.emplace_back(
          util::make_error(ctx.stop.stop_requested() ? util::Errc::cancelled : util::Errc::timeout,
                           fmt::format("registry {}: probes of {} stopped at the deadline",
                                       access.host,
                                       *expectation.image.tag)));
        break;
      }
      auto answer =
        registry->resolve_tag(access, expectation.image.repository, *expectation.image.tag, call);
      const bool failed = !answer;
      seen.probes.push_back(std::move(answer));
      if (failed) {
        break; // one unanswered probe already leaves the tag undetermined
      }
    }
  }

  // The second look: each container that was seen running, stable_for after the first, so a
  // restart loop that shows "running" at one instant is seen restarting.
  const bool watch =
    session && spec.stable_for.count() > 0
    && std::any_of(observed.expectations.begin(), observed.expectations.end(), [](const auto& e) {
         return std::any_of(e.containers.begin(), e.containers.end(), [](const auto& c) {
           return c.image && c.image->state() == "running";
         });
       });
  if (watch) {
    pause_for(
      spec.stable_for
        - std::chrono::duration_cast<std::chrono::milliseconds>(util::Clock::now() - first_look),
      ctx);
    observed.watched =
      std::chrono::duration_cast<std::chrono::milliseconds>(util::Clock::now() - first_look);
    const auto engine = ctx.probes.get<images::Engine>();
    for (auto& expectation : observed.expectations) {
      for (auto& container : expectation.containers) {
        if (!container.image || container.image->state() != "running") {
          continue;
        }
        if (observed.watched < spec.stable_for) {
          container.later = util::make_error(
            ctx.stop.stop_requested() ? util::Errc::cancelled : util::Errc::timeout,
            fmt::format("watched for {} of stable_for {}: the check's deadline came first",
                        util::format_duration(observed.watched),
                        util::format_duration(spec.stable_for)));
          continue;
        }
        container.later = engine->inspect(*session, container.container.id, call);
      }
    }
  }

  auto result = evaluate_images(spec, observed);
  util::Redactor redactor(secrets);
  for (const auto& [user, sent] : basic_credentials) {
    redactor.add_basic_credentials(user, sent); // as Basic authentication sent them
  }
  hook::redact(result, redactor);
  return result;
}

namespace {

struct Problem
{
  bool definite = false; // fail; otherwise undetermined (error)
  std::string summary;
};

std::string
digest_counts(const std::vector<util::Result<std::optional<std::string>>>& probes)
{
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& probe : probes) {
    if (!probe) {
      continue;
    }
    const auto text = *probe ? **probe : std::string("unknown tag");
    auto it = std::find_if(
      counts.begin(), counts.end(), [&](const auto& entry) { return entry.first == text; });
    if (it == counts.end()) {
      counts.emplace_back(text, 1);
    } else {
      ++it->second;
    }
  }
  std::vector<std::string> parts;
  for (const auto& [text, count] : counts) {
    parts.push_back(fmt::format("{} x{}", text, count));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string
times(std::int64_t count)
{
  return count == 1 ? std::string("once") : fmt::format("{} times", count);
}

// Judge one expectation: its finding row (pinned, running and registry digests) and problems.
std::pair<hook::Finding, std::vector<Problem>>
judge_expectation(const ImageExpectation& expectation,
                  const ExpectationObservation& seen,
                  const ImagesObservation& observed)
{
  std::vector<Problem> problems;
  const auto& pin = *expectation.image.digest;
  const auto who = describe_expectation(expectation);
  hook::Finding row;
  row.subject = who;
  row.expected = pin;
  std::vector<std::string> found;

  const images::PinResolution* resolved = nullptr;
  if (seen.resolution) {
    if (!*seen.resolution) {
      problems.push_back(
        {false,
         fmt::format("{}: cannot resolve the pin: {}", who, seen.resolution->error().message)});
      found.push_back(fmt::format("pin not resolved: {}", seen.resolution->error().message));
    } else if ((*seen.resolution)->outcome == images::PinResolution::Outcome::unknown) {
      problems.push_back(
        {true,
         fmt::format(
           "{}: the registry has no manifest {} ({})", who, pin, expectation.image.name())});
      found.push_back("registry: pin unknown");
    } else if ((*seen.resolution)->outcome == images::PinResolution::Outcome::no_platform) {
      problems.push_back({true,
                          fmt::format("{}: the pinned index {} has no manifest for {} (it has {})",
                                      who,
                                      pin,
                                      observed.platform,
                                      (*seen.resolution)->platforms)});
      found.push_back(fmt::format("registry: no {} in the index", observed.platform));
    } else {
      resolved = &**seen.resolution;
      row.expected = resolved->is_index
                       ? fmt::format("{} ({} manifest {}, config {})",
                                     pin,
                                     observed.platform,
                                     resolved->manifest_digest,
                                     resolved->config_digest)
                       : fmt::format("{} (config {})", pin, resolved->config_digest);
    }
  }

  if (!observed.engine_error) {
    if (seen.containers.empty()) {
      problems.push_back({true, fmt::format("{}: no such container", who)});
      found.push_back("no container");
    }
    for (const auto& container : seen.containers) {
      const auto name = container.container.names.empty() ? container.container.id.substr(0, 12)
                                                          : container.container.names.front();
      const auto label = expectation.by == ImageExpectation::By::service
                           ? fmt::format("{} ({})", who, util::printable(name))
                           : who;
      if (!container.image) {
        problems.push_back({false, fmt::format("{}: {}", label, container.image.error().message)});
        found.push_back(fmt::format("{}: not inspected", util::printable(name)));
        continue;
      }
      const auto& image = *container.image;
      const auto named = [&](const std::string& text) {
        return expectation.by == ImageExpectation::By::service
                 ? fmt::format("{}: {}", util::printable(name), text)
                 : text;
      };
      const auto restarts = [](const images::ContainerImage& seen_image) {
        return seen_image.restart_count && *seen_image.restart_count > 0
                 ? fmt::format(" (restarted {})", times(*seen_image.restart_count))
                 : std::string();
      };
      if (const auto state = image.state(); state != "running") {
        problems.push_back(
          {true, fmt::format("{} is {}, expected running{}", label, state, restarts(image))});
        found.push_back(named(state + restarts(image)));
        continue;
      }
      // The second look, stable_for later: still running, not restarted in between.
      const images::ContainerImage* last = &image;
      if (container.later) {
        if (!*container.later) {
          problems.push_back(
            {false, fmt::format("{}: {}", label, container.later->error().message)});
          found.push_back(named("not watched"));
        } else {
          last = &**container.later;
          const auto later_state = last->state();
          const bool restarted_more = image.restart_count && last->restart_count
                                      && *last->restart_count > *image.restart_count;
          if (later_state != "running") {
            problems.push_back({true,
                                fmt::format("{} was running, then {} {} later, expected running{}",
                                            label,
                                            later_state,
                                            util::format_duration(observed.watched),
                                            restarts(*last))});
            found.push_back(named(fmt::format("running, then {}", later_state)));
            continue;
          }
          if (restarted_more) {
            problems.push_back(
              {true,
               fmt::format("{} restarted {} in {} (restart count {} then {}): a restart loop",
                           label,
                           times(*last->restart_count - *image.restart_count),
                           util::format_duration(observed.watched),
                           *image.restart_count,
                           *last->restart_count)});
            found.push_back(named(fmt::format("restarting (restart count {} then {})",
                                              *image.restart_count,
                                              *last->restart_count)));
            continue;
          }
          if (last->started_at != image.started_at) {
            problems.push_back({true,
                                fmt::format("{} was started again in {} (started {}, then {})",
                                            label,
                                            util::format_duration(observed.watched),
                                            image.started_at,
                                            last->started_at)});
            found.push_back(named("started again"));
            continue;
          }
        }
      }
      // Its own health check, as last seen.
      if (last->health == "unhealthy") {
        problems.push_back({true,
                            fmt::format("{} is unhealthy by its own health check (failing "
                                        "streak {})",
                                        label,
                                        last->failing_streak)});
        found.push_back(named("running, unhealthy"));
        continue;
      }
      if (last->health == "starting") {
        problems.push_back({false,
                            fmt::format("{}: its health check is still starting (not yet "
                                        "healthy); retry = true waits for it",
                                        label)});
        found.push_back(named("running, health check starting"));
        continue;
      }
      if (!last->health.empty() && last->health != "healthy") {
        problems.push_back(
          {false,
           fmt::format("{}: unknown health status \"{}\"", label, util::printable(last->health))});
        found.push_back(named("running, health unknown"));
        continue;
      }
      auto running =
        image.manifest_digest
          ? fmt::format("running {} (manifest {})", image.image_id, *image.manifest_digest)
          : fmt::format("running {}", image.image_id);
      if (last->health == "healthy") {
        running += ", healthy";
      }
      found.push_back(expectation.by == ImageExpectation::By::service
                        ? fmt::format("{} {}", util::printable(name), running)
                        : running);
      if (reports_pin(image, pin)) {
        continue;
      }
      if (resolved == nullptr) {
        continue; // the pin could not be resolved: reported above
      }
      const bool same =
        image.image_id == resolved->config_digest || image.image_id == resolved->manifest_digest
        || (image.manifest_digest && *image.manifest_digest == resolved->manifest_digest);
      if (!same) {
        problems.push_back({true,
                            fmt::format("{} runs {}, not the pinned {} (config {})",
                                        label,
                                        image.image_id,
                                        pin,
                                        resolved->config_digest)});
      }
    }
  }

  if (expectation.image.tag) {
    const auto& tag = *expectation.image.tag;
    std::optional<util::Error> failed;
    for (const auto& probe : seen.probes) {
      if (!probe && !failed) {
        failed = probe.error();
      }
    }
    std::set<std::string> digests;
    bool unknown = false;
    for (const auto& probe : seen.probes) {
      if (probe && *probe) {
        digests.insert(**probe);
      } else if (probe) {
        unknown = true;
      }
    }
    const auto counts = digest_counts(seen.probes);
    auto answers = counts;
    if (failed) {
      answers += fmt::format("{}no answer: {}", counts.empty() ? "" : ", then ", failed->message);
    }
    found.push_back(fmt::format("registry {}: {}", tag, answers));
    if (unknown) {
      problems.push_back(
        {true,
         fmt::format(
           "{}: the registry does not know the tag {}:{}", who, expectation.image.name(), tag)});
    } else if (digests.size() > 1) {
      problems.push_back({true,
                          fmt::format("{}: the registry answered {}:{} inconsistently: {} "
                                      "(pinned {})",
                                      who,
                                      expectation.image.name(),
                                      tag,
                                      fmt::join(digests, ", "),
                                      pin)});
    } else if (digests.size() == 1 && *digests.begin() != pin) {
      problems.push_back({true,
                          fmt::format("{}: the tag {}:{} is now {}, not the pinned {}",
                                      who,
                                      expectation.image.name(),
                                      tag,
                                      *digests.begin(),
                                      pin)});
    }
    if (failed) {
      problems.push_back({false, fmt::format("{}: {}", who, failed->message)});
    }
  }
  row.found = fmt::format("{}", fmt::join(found, "; "));
  return {std::move(row), std::move(problems)};
}

} // namespace

hook::CheckResult
evaluate_images(const ImagesSpec& spec, const ImagesObservation& observed)
{
  hook::Judgement judgement;
  std::vector<hook::Finding> rows;
  const auto add = [&](hook::Finding finding, const std::vector<Problem>& problems) {
    const bool definite =
      std::any_of(problems.begin(), problems.end(), [](const Problem& p) { return p.definite; });
    std::vector<std::string> summaries;
    for (const auto& problem : problems) {
      if (problem.definite == definite) {
        summaries.push_back(problem.summary);
      }
    }
    auto summary = fmt::format("{}", fmt::join(summaries, "; "));
    if (definite) {
      judgement.unmet.push_back({std::move(finding), std::move(summary)});
    } else {
      judgement.undetermined.push_back({std::move(finding), std::move(summary)});
    }
  };

  if (observed.engine_error) {
    const auto subject = fmt::format("engine {}", spec.socket);
    auto detail = observed.engine_error->message;
    if (detail.starts_with(subject + " ")) {
      detail.erase(0, subject.size() + 1);
    }
    add({subject, "an answer", std::move(detail)}, {{false, observed.engine_error->message}});
  }
  std::size_t containers_ok = 0;
  for (std::size_t i = 0; i < spec.expectations.size() && i < observed.expectations.size(); ++i) {
    auto [row, problems] =
      judge_expectation(spec.expectations[i], observed.expectations[i], observed);
    if (problems.empty()) {
      ++containers_ok;
      rows.push_back(std::move(row));
    } else {
      add(std::move(row), problems);
    }
  }

  if (!spec.allow_unexpected && !observed.engine_error) {
    for (const auto& container : observed.containers) {
      // Live: running, or trying to (a restart loop), or holding its place (paused).
      if (container.state != "running" && container.state != "restarting"
          && container.state != "paused") {
        continue;
      }
      const bool expected =
        std::any_of(spec.expectations.begin(), spec.expectations.end(), [&](const auto& e) {
          return e.by == ImageExpectation::By::container
                   ? std::find(container.names.begin(), container.names.end(), e.name)
                       != container.names.end()
                   : container.compose_service == e.name;
        });
      if (expected) {
        continue;
      }
      const auto name = util::printable(container.names.empty() ? container.id.substr(0, 12)
                                                                : container.names.front());
      add({fmt::format("container {}", name),
           "not running (allow_unexpected = false)",
           fmt::format("{} {}", container.state, util::printable(container.image))},
          {{true,
            fmt::format("container {} is {} ({}) but no expectation names it",
                        name,
                        container.state,
                        util::printable(container.image))}});
    }
  }

  std::size_t references = 0;
  for (const auto& file : observed.files) {
    if (file.error) {
      add({file.path, "a readable file of image references", file.error->message},
          {{false, file.error->message}});
      continue;
    }
    if (file.references.empty() && !file.env_file) {
      const auto why = fmt::format(
        "{}: no image reference found (is it a file that starts containers?)", file.path);
      add({file.path, "image references pinned by digest", "no image reference"}, {{false, why}});
      continue;
    }
    for (const auto& found : file.references) {
      const auto where = fmt::format("{}:{}", file.path, found.line);
      if (!found.problem.empty()) {
        add({where, "an image reference", found.problem},
            {{false, fmt::format("{}: {}", where, found.problem)}});
        continue;
      }
      const auto written = util::printable(found.text, util::Quotes::escape);
      const auto expanded = images::expand_variables(found.text, observed.variables);
      if (!expanded) {
        add(
          {where, "an image reference pinned by digest", fmt::format("\"{}\"", written)},
          {{false, fmt::format("{}: image \"{}\": {}", where, written, expanded.error().message)}});
        continue;
      }
      auto shown = *expanded == found.text
                     ? fmt::format("\"{}\"", written)
                     : fmt::format("\"{}\" (\"{}\")",
                                   written,
                                   util::printable(*expanded, util::Quotes::escape));
      if (found.alias_line != 0) {
        // Written once under an anchor, used through an alias or merge key elsewhere: the line
        // reported is where to change it.
        shown += fmt::format(" (anchored here, used at line {})", found.alias_line);
      }
      auto reference = images::parse_reference(*expanded);
      if (!reference) {
        add({where, "an image reference pinned by digest", shown},
            {{true, fmt::format("{}: {}", where, reference.error().message)}});
        continue;
      }
      if (reference->digest_malformed) {
        add({where, "@sha256:<64 lowercase hex digits>", shown},
            {{true, fmt::format("{}: image {} has a malformed digest", where, shown)}});
        continue;
      }
      if (!reference->digest) {
        const auto tag =
          reference->tag ? fmt::format("tag {}", *reference->tag) : std::string("no tag (latest)");
        add({where, "pinned by digest (@sha256:...)", fmt::format("{}: {}", shown, tag)},
            {{true, fmt::format("{}: image {} is not pinned by digest ({})", where, shown, tag)}});
        continue;
      }
      ++references;
    }
  }

  std::vector<std::string> passed;
  if (!spec.expectations.empty()) {
    passed.push_back(
      fmt::format("{} of {} run their pinned images", containers_ok, spec.expectations.size()));
    const auto tagged = std::count_if(spec.expectations.begin(),
                                      spec.expectations.end(),
                                      [](const auto& e) { return e.image.tag.has_value(); });
    if (tagged > 0) {
      passed.push_back(
        fmt::format("{} tags resolved to their pins on {} probes each", tagged, spec.probes));
    }
  }
  if (!spec.allow_unexpected) {
    passed.push_back("no unexpected container");
  }
  if (!spec.pinned_refs.empty()) {
    passed.push_back(fmt::format(
      "{} references in {} files pinned by digest", references, spec.pinned_refs.size()));
  }
  auto result =
    hook::result_of("", std::move(judgement), fmt::format("{}", fmt::join(passed, "; ")));
  if (result.status == hook::Status::pass) {
    // The record of what was compared: per expectation the pinned, running and registry digests.
    result.findings = std::move(rows);
  }
  return result;
}

} // namespace checks
