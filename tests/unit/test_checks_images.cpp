// The images kind: references, the scanners of pinned_refs, the spec parser, the judgement over
// fake engine and registry probes, and the real engine and registry clients over a fake HTTP
// client (hostile answers, auth challenges, digests that do not verify).
#include "testutil.hpp"

#include <checks/images/images_check.hpp>
#include <hook/util/sha256.hpp>

#include <fmt/format.h>

#include <sys/stat.h>

#include <deque>
#include <functional>
#include <mutex>

using namespace std::chrono_literals;
using hook::Status;
namespace im = checks::images;

namespace {

std::string
digest(char c)
{
  return "sha256:" + std::string(64, c);
}

std::string
digest_of(std::string_view body)
{
  return "sha256:" + util::to_hex(util::sha256(body));
}

// --- Config ---

const testutil::KindHarness<checks::ImagesSpec> k_images{"images", "c", &checks::parse_images};

util::Result<checks::ImagesSpec>
parse(std::string_view keys, const std::filesystem::path& base = "/etc/readygate")
{
  auto harness = k_images;
  harness.base = base;
  return harness.parse(keys);
}

checks::ImagesSpec
parsed(std::string_view keys, const std::filesystem::path& base = "/etc/readygate")
{
  auto harness = k_images;
  harness.base = base;
  return harness.parsed(keys);
}

void
require_config_error(std::string_view keys, std::string_view detail)
{
  const auto spec = parse(keys);
  REQUIRE_FALSE(spec);
  CHECK(spec.error().code == util::Errc::config);
  CHECK_THAT(spec.error().message,
             Catch::StartsWith("test.toml:") && Catch::Contains(std::string(detail)));
}

std::string
expect_table(std::string_view by, std::string_view name, std::string_view image)
{
  return fmt::format("[[check.expect]]\n{} = \"{}\"\nimage = \"{}\"\n", by, name, image);
}

// --- Fakes ---

class FakeEngine final : public im::Engine
{
public:
  std::optional<util::Error> connect_error;
  std::string os = "linux";
  std::string architecture = "amd64";
  std::vector<im::Container> listed;
  std::map<std::string, util::Result<im::ContainerImage>> images;
  // What the second and later inspections of a container answer, when it changed after the first.
  std::map<std::string, util::Result<im::ContainerImage>> later;
  std::map<std::string, int> inspections;

  // Add a container `name` (compose service `service`) running `image_id`; return its ID.
  std::string
  add(std::string name,
      std::string image_id,
      bool running = true,
      std::optional<std::string> service = std::nullopt,
      std::optional<std::string> manifest = std::nullopt)
  {
    im::Container container;
    container.id =
      std::string(64 - std::to_string(listed.size()).size(), 'a') + std::to_string(listed.size());
    container.names = {std::move(name)};
    container.compose_service = std::move(service);
    container.state = running ? "running" : "exited";
    container.image = "registry.test/app/web:v1";
    im::ContainerImage image;
    image.image_id = std::move(image_id);
    image.manifest_digest = std::move(manifest);
    image.running = running;
    image.status = container.state;
    image.restart_count = 0;
    image.started_at = "2026-01-01T00:00:00.000000000Z";
    images.emplace(container.id, image);
    auto id = container.id;
    listed.push_back(std::move(container));
    return id;
  }

  // Return the first inspection's answer for `id`, to change it.
  im::ContainerImage&
  image_of(const std::string& id)
  {
    return *images.at(id);
  }

  util::Result<im::EngineSession>
  connect(const std::string& socket, const im::Call&) override
  {
    if (connect_error) {
      return *connect_error;
    }
    return im::EngineSession{socket, "1.41", os, architecture};
  }
  util::Result<std::vector<im::Container>>
  containers(const im::EngineSession&, const im::Call&) override
  {
    return listed;
  }
  util::Result<im::ContainerImage>
  inspect(const im::EngineSession&, const std::string& id, const im::Call&) override
  {
    if (++inspections[id] > 1 && later.contains(id)) {
      return later.at(id);
    }
    return images.at(id);
  }
};

class FakeRegistry final : public im::Registry
{
public:
  std::mutex mutex;
  // Each probe of a tag takes the next answer; the last one repeats.
  std::map<std::string, std::deque<util::Result<std::optional<std::string>>>> tags;
  std::map<std::string, im::Manifest> manifests; // by digest
  int fetches = 0;
  int resolves = 0;
  std::vector<std::string> hosts;
  std::vector<bool> plain;

  util::Result<std::optional<std::string>>
  resolve_tag(const im::RegistryAccess& access,
              const std::string& repository,
              const std::string& tag,
              const im::Call&) override
  {
    const std::lock_guard lock(mutex);
    ++resolves;
    hosts.push_back(access.host);
    plain.push_back(access.plain_http);
    auto& answers = tags.at(repository + ":" + tag);
    auto answer = answers.front();
    if (answers.size() > 1) {
      answers.pop_front();
    }
    return answer;
  }
  util::Result<std::optional<im::Manifest>>
  fetch_manifest(const im::RegistryAccess&,
                 const std::string&,
                 const std::string& wanted,
                 const im::Call&) override
  {
    const std::lock_guard lock(mutex);
    ++fetches;
    const auto it = manifests.find(wanted);
    if (it == manifests.end()) {
      return std::optional<im::Manifest>();
    }
    return std::optional<im::Manifest>(it->second);
  }

  // Store an image manifest whose config is `config`; return its digest.
  std::string
  add_manifest(const std::string& config,
               std::string_view type = "application/vnd.oci.image.manifest.v1+json")
  {
    const auto body = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":10}},"layers":[]}})",
      type,
      config);
    const auto id = digest_of(body);
    manifests[id] = im::Manifest{id, std::string(type), body};
    return id;
  }
  // Store an index of `entries` (platform, manifest digest); return its digest.
  std::string
  add_index(const std::vector<std::pair<std::string, std::string>>& entries)
  {
    std::vector<std::string> parts;
    for (const auto& [platform, manifest] : entries) {
      const auto slash = platform.find('/');
      parts.push_back(fmt::format(
        R"({{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1,"platform":{{"os":"{}","architecture":"{}"}}}})",
        manifest,
        platform.substr(0, slash),
        platform.substr(slash + 1)));
    }
    const auto body = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}})",
      fmt::join(parts, ","));
    const auto id = digest_of(body);
    manifests[id] = im::Manifest{id, "application/vnd.oci.image.index.v1+json", body};
    return id;
  }
};

struct Fixture
{
  std::shared_ptr<FakeEngine> engine = std::make_shared<FakeEngine>();
  std::shared_ptr<FakeRegistry> registry = std::make_shared<FakeRegistry>();
  hook::CheckContext ctx = testutil::context(10s);

  Fixture()
  {
    ctx.probes.install<im::Engine>(engine);
    ctx.probes.install<im::Registry>(registry);
  }

  // Run `spec`. The fake engine answers at once, so the watch between the two looks at each
  // container is cut to 20 ms unless the test sets `watch`.
  std::optional<std::chrono::milliseconds> watch;

  hook::CheckResult
  run(const checks::ImagesSpec& spec)
  {
    auto quick = spec;
    quick.stable_for = watch.value_or(20ms);
    engine->inspections.clear();
    return checks::run_images(quick, ctx);
  }
};

std::string
all_findings(const hook::CheckResult& result)
{
  std::string text = result.message + "\n";
  for (const auto& finding : result.findings) {
    text += fmt::format("{} | {} | {}\n", finding.subject, finding.expected, finding.found);
  }
  return text;
}

} // namespace

// --- References ---

TEST_CASE("images::parse_reference: domains, Docker Hub names, tags and digests", "[images]")
{
  const auto full = im::parse_reference("registry.example.com:5000/app/web:1.4@" + digest('a'));
  REQUIRE(full);
  CHECK(full->domain == "registry.example.com:5000");
  CHECK(full->repository == "app/web");
  CHECK(full->tag == "1.4");
  CHECK(full->digest == digest('a'));
  CHECK(full->registry_host() == "registry.example.com:5000");

  const auto hub = im::parse_reference("nginx");
  REQUIRE(hub);
  CHECK(hub->domain == "docker.io");
  CHECK(hub->repository == "library/nginx");
  CHECK_FALSE(hub->tag);
  CHECK(hub->registry_host() == "registry-1.docker.io");

  const auto local = im::parse_reference("localhost/app@" + digest('b'));
  REQUIRE(local);
  CHECK(local->domain == "localhost");
  CHECK_FALSE(local->tag);

  const auto short_digest = im::parse_reference("app:1@sha256:abc");
  REQUIRE(short_digest);
  CHECK(short_digest->digest_malformed);
  CHECK_FALSE(short_digest->digest);
  const auto upper_digest = im::parse_reference("app@sha256:" + std::string(64, 'A'));
  REQUIRE(upper_digest);
  CHECK(upper_digest->digest_malformed);

  for (const auto* bad : {"",
                          "app/Web",
                          "app/:x",
                          "app:",
                          "app:-x",
                          "a b",
                          "app//web",
                          "-app",
                          "app/web:tag\x1b[2K",
                          "host:port:x/app"}) {
    INFO(bad);
    CHECK_FALSE(im::parse_reference(bad));
  }
  CHECK(im::is_digest(digest('0')));
  CHECK_FALSE(im::is_digest("sha256:" + std::string(63, '0')));
  CHECK_FALSE(im::is_digest("sha512:" + std::string(64, '0')));
  CHECK_FALSE(im::is_digest("sha256:" + std::string(63, '0') + "g"));
}

// --- Scanners ---

TEST_CASE("images::scan_yaml: every image of a compose file with its line", "[images]")
{
  const auto found = im::scan_yaml(R"(x-base: &base
  image: registry.test/app/base:1@sha256:)"
                                     + std::string(64, 'a') + R"(
services:
  web:
    image: "registry.test/app/web:latest"
    command: ["image", "not-an-image"]
  worker:
    <<: *base
  db:
    image: postgres:15   # a comment
    environment:
      IMAGE_NOTE: image
)",
                                   "compose.yaml");
  REQUIRE(found);
  REQUIRE(found->size() == 3);
  CHECK((*found)[0].line == 2);
  CHECK((*found)[0].alias_line == 8); // merged into worker at line 8
  CHECK((*found)[1].line == 5);
  CHECK((*found)[1].text == "registry.test/app/web:latest");
  CHECK((*found)[1].alias_line == 0);
  CHECK((*found)[2].line == 10);
  CHECK((*found)[2].text == "postgres:15");
}

TEST_CASE("images::scan_yaml: anchors, aliases and merge keys are read as a loader reads them",
          "[images]")
{
  const auto pinned = "registry.test/app/base@sha256:" + std::string(64, 'a');
  // The compose pattern: one anchored image, used by several services through an alias. It is
  // reported once, where it is written, with the line of the first alias.
  const auto aliased = im::scan_yaml(R"(x-image: &img registry.test/app/web:latest
x-labels:
  image: not-read   # an extension field: no service
services:
  web:
    image: *img
  worker:
    image: *img
    labels:
      image: also-not-read
)",
                                     "compose.yaml");
  REQUIRE(aliased);
  REQUIRE(aliased->size() == 1);
  CHECK((*aliased)[0].line == 1);
  CHECK((*aliased)[0].alias_line == 6);
  CHECK((*aliased)[0].text == "registry.test/app/web:latest");

  // A service's own image wins over a merged one; of merged maps, the first wins.
  const auto merged = im::scan_yaml(R"(x-a: &a {image: first:1}
x-b: &b {image: second:2, restart: always}
x-c: &c
  <<: *b
services:
  own:
    <<: *a
    image: own:3
  listed:
    <<: [*a, *b]
  chained:
    <<: *c
)",
                                    "compose.yaml");
  REQUIRE(merged);
  REQUIRE(merged->size() == 3);
  CHECK((*merged)[0].text == "first:1");
  CHECK((*merged)[0].alias_line == 10);
  CHECK((*merged)[1].text == "second:2");
  CHECK((*merged)[1].alias_line == 4); // reached through c's own merge first
  CHECK((*merged)[2].text == "own:3");
  CHECK((*merged)[2].line == 8);

  // A quoted "<<" is an ordinary key, not a merge.
  const auto quoted = im::scan_yaml("x: &x {image: x:1}\nservices:\n  a:\n    \"<<\": *x\n"
                                    "    image: "
                                      + pinned + "\n",
                                    "compose.yaml");
  REQUIRE(quoted);
  REQUIRE(quoted->size() == 1);
  CHECK((*quoted)[0].text == pinned);

  // An alias of an undefined anchor, an alias inside its own anchor, a merge of a scalar.
  for (const auto* text : {"services:\n  web:\n    image: *nothing\n",
                           "a: &a [1, *a]\n",
                           "x: &x y\nservices:\n  web:\n    <<: *x\n"}) {
    INFO(text);
    const auto bad = im::scan_yaml(text, "bad.yaml");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == util::Errc::config);
    CHECK_THAT(bad.error().message, Catch::StartsWith("bad.yaml:"));
  }
  const auto bad_merge = im::scan_yaml("x: &x y\nservices:\n  web:\n    <<: *x\n", "bad.yaml");
  REQUIRE_FALSE(bad_merge);
  CHECK(bad_merge.error().message
        == "bad.yaml:4: a merge key (<<) takes a mapping or a sequence of mappings");

  // Aliases of aliases (a "billion laughs" document) are read in linear time.
  std::string laughs = "a0: &a0 {image: x:1}\n";
  for (int i = 1; i < 40; ++i) {
    laughs += fmt::format("a{}: &a{} [*a{}, *a{}, *a{}, *a{}]\n", i, i, i - 1, i - 1, i - 1, i - 1);
  }
  const auto started = util::Clock::now();
  const auto many = im::scan_yaml(laughs, "laughs.yaml");
  REQUIRE(many);
  CHECK(many->size() == 1);
  CHECK(util::Clock::now() - started < 2s);
}

TEST_CASE("images::scan_yaml: an image that is a mapping, a sequence or empty is a problem at "
          "its key",
          "[images]")
{
  const auto found = im::scan_yaml(R"(services:
  web:
    image:
      repository: registry.test/app/web
      tag: "1.4"
  api:
    image: [a, b]
  db:
    image:
  built:
    build: .
)",
                                   "compose.yaml");
  REQUIRE(found);
  REQUIRE(found->size() == 3);
  CHECK((*found)[0].line == 3);
  CHECK_THAT((*found)[0].problem, Catch::StartsWith("image: is a mapping (repository, tag)"));
  CHECK((*found)[1].line == 7);
  CHECK_THAT((*found)[1].problem, Catch::StartsWith("image: is a sequence"));
  CHECK((*found)[2].line == 9);
  CHECK_THAT((*found)[2].problem, Catch::StartsWith("image: is empty"));

  // Helm's values.yaml: no kind, so every image: is read, and a mapping is a problem.
  const auto values =
    im::scan_yaml("replicaCount: 2\nimage:\n  repository: nginx\n  tag: \"\"\n", "values.yaml");
  REQUIRE(values);
  REQUIRE(values->size() == 1);
  CHECK((*values)[0].line == 2);
  CHECK_FALSE((*values)[0].problem.empty());
}

TEST_CASE("images::scan_yaml: Kubernetes manifests, several documents, errors with a position",
          "[images]")
{
  const auto found = im::scan_yaml(R"(apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: app/migrate:2
      containers:
        - {name: web, image: app/web}
---
apiVersion: v1
kind: Pod
spec:
  containers:
    - name: x
      image: app/x@sha256:)" + std::string(64, 'c')
                                     + "\n",
                                   "k8s.yaml");
  REQUIRE(found);
  REQUIRE(found->size() == 3);
  CHECK((*found)[0].line == 8);
  CHECK((*found)[1].line == 10);
  CHECK((*found)[1].text == "app/web");
  CHECK((*found)[2].line == 17);

  const auto broken = im::scan_yaml("services:\n  web:\n    image: [a, b\n", "bad.yaml");
  REQUIRE_FALSE(broken);
  CHECK(broken.error().code == util::Errc::config);
  CHECK_THAT(broken.error().message, Catch::StartsWith("bad.yaml:") && Catch::Contains("YAML"));

  // Deep nesting is refused by the parser's depth guard, not by the stack.
  const auto deep = im::scan_yaml(std::string(100000, '['), "deep.yaml");
  CHECK_FALSE(deep);
}

TEST_CASE("images::scan_yaml: Kubernetes images are read where each kind puts them, and only there",
          "[images]")
{
  const auto found = im::scan_yaml(R"(apiVersion: v1
kind: Pod
spec:
  ephemeralContainers:
    - name: debug
      image: busybox:1
  containers:
    - name: app
      image: app/pod:1
  volumes:
    - name: models
      image:
        reference: app/models:v2
        pullPolicy: IfNotPresent
    - name: ceph
      rbd:
        monitors: ["10.0.0.1:6789"]
        image: foo
        pool: kube
---
apiVersion: batch/v1
kind: CronJob
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: nightly
              image: app/nightly:3
---
apiVersion: v1
kind: PersistentVolume
spec:
  rbd:
    image: not-a-container-image
---
apiVersion: v1
kind: ConfigMap
data:
  image: not-a-container-image-either
---
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: StatefulSet
    spec:
      template:
        spec:
          containers:
            - name: db
              image: app/db:4
  - apiVersion: apps/v1
    kind: DaemonSet
    spec:
      template:
        spec:
          containers:
            - name: agent
              image: app/agent:5
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
spec:
  template:
    spec:
      containers:
        - name: canary
          image: app/canary:6
      volumes:
        - name: models
          image: {reference: app/models:7}
)",
                                   "k8s.yaml");
  REQUIRE(found);
  std::vector<std::string> texts;
  for (const auto& reference : *found) {
    CHECK(reference.problem.empty());
    texts.push_back(fmt::format("{}:{}", reference.line, reference.text));
  }
  CHECK(texts
        == std::vector<std::string>{"6:busybox:1",
                                    "9:app/pod:1",
                                    "13:app/models:v2",
                                    "30:app/nightly:3",
                                    "53:app/db:4",
                                    "61:app/agent:5",
                                    "70:app/canary:6",
                                    "73:app/models:7"});

  // A workload whose containers come from an anchor in another part of the document.
  const auto anchored = im::scan_yaml(R"(apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    base: &container {name: web, image: "app/web:latest"}
spec:
  template:
    spec:
      containers:
        - *container
        - <<: *container
          name: sidecar
)",
                                      "k8s.yaml");
  REQUIRE(anchored);
  REQUIRE(anchored->size() == 1);
  CHECK((*anchored)[0].line == 5);
  CHECK((*anchored)[0].alias_line == 10);
}

TEST_CASE("images::scan_text: engine commands in units and scripts, IMAGE variables", "[images]")
{
  const auto found = im::scan_text(R"([Service]
# ExecStart=/usr/bin/docker run commented:latest
ExecStartPre=-/usr/bin/docker pull -q registry.test/app/web:1.4
ExecStart=/usr/bin/docker run --rm --name web -p 8080:80 \
    -e MODE=prod -v /srv:/srv:ro --pull=never -dit \
    registry.test/app/web:1.4@sha256:)"
                                   + std::string(64, 'a') + R"( serve --port 80
ExecStop=/usr/bin/docker stop web
Environment=WEB_IMAGE=registry.test/app/web:latest
Environment="OTHER=1" "SIDECAR_IMAGE=app/sidecar"
)");
  REQUIRE(found.size() == 4);
  CHECK(found[0].line == 3);
  CHECK(found[0].text == "registry.test/app/web:1.4");
  CHECK(found[1].line == 6);
  CHECK(found[1].text.starts_with("registry.test/app/web:1.4@sha256:"));
  CHECK(found[2].line == 8);
  CHECK(found[2].text == "registry.test/app/web:latest");
  CHECK(found[3].line == 9);
  CHECK(found[3].text == "app/sidecar");

  const auto quadlet = im::scan_text("[Container]\nImage=registry.test/app/web:2\nExec=serve\n");
  REQUIRE(quadlet.size() == 1);
  CHECK(quadlet[0].line == 2);
  CHECK(quadlet[0].text == "registry.test/app/web:2");

  const auto script =
    im::scan_text("#!/bin/sh\nset -e\npodman --log-level info run -d --name x app/x:1 && echo ok\n"
                  "docker ps; docker run -- app/y\nexport APP_IMAGE='app/z:3'\nIMAGE_TAG=4\n");
  REQUIRE(script.size() == 3);
  CHECK(script[0].text == "app/x:1");
  CHECK(script[1].text == "app/y");
  CHECK(script[2].line == 5);
  CHECK(script[2].text == "app/z:3");
}

TEST_CASE("images::expand_variables: compose's forms, nested defaults, and what is missing",
          "[images]")
{
  const std::map<std::string, std::string> variables = {
    {"TAG", "1.4"}, {"EMPTY", ""}, {"REPO", "registry.test/app"}};
  const auto expands = [&](std::string_view text, std::string_view expected) {
    INFO(text);
    const auto expanded = im::expand_variables(text, variables);
    REQUIRE(expanded);
    CHECK(*expanded == expected);
  };
  const auto refuses = [&](std::string_view text, std::string_view message) {
    INFO(text);
    const auto expanded = im::expand_variables(text, variables);
    REQUIRE_FALSE(expanded);
    CHECK(expanded.error().code == util::Errc::config);
    CHECK_THAT(expanded.error().message, Catch::Contains(std::string(message)));
  };
  expands("app:${TAG}", "app:1.4");
  expands("app:$TAG", "app:1.4");
  expands("app:${NOPE:-2}", "app:2");
  expands("app:${EMPTY:-3}", "app:3");
  expands("app:${EMPTY-3}x", "app:x");
  expands("a$$b", "a$b");
  expands("$${TAG}", "${TAG}");
  // Nested defaults are read to their own closing brace, not cut at the first one.
  expands("${NOPE:-${REPO}/web}:${NOPE-${ALSO_NOPE:-7}}", "registry.test/app/web:7");
  expands("${TAG:-${NEVER_READ}}", "1.4"); // a default that is not used is not expanded
  expands("${TAG:+v${TAG}}${NOPE:+x}${EMPTY+y}${EMPTY:+z}", "v1.4y");
  expands("${TAG:?set the tag}", "1.4");
  refuses("app:${NOPE}", "${NOPE} is not set by any file of pinned_refs");
  refuses("app:$NOPE", "${NOPE} is not set");
  refuses("app:${NOPE:?set NOPE in versions.env}",
          "${NOPE} is empty or not set by any file of pinned_refs: set NOPE in versions.env");
  refuses("app:${EMPTY:?}", "${EMPTY} is empty or not set");
  expands("app:${EMPTY?}", "app:");
  refuses("${NOPE:-${INNER}}", "${INNER} is not set");
  refuses("app:${TAG", "no closing brace");
  refuses("app:${NOPE:-${TAG}", "no closing brace");
  refuses("app:${TAG:x}", "is not a variable");
  refuses("app:${}", "is not a variable");
  refuses("app:$", "a $ that starts no variable");
  refuses("app:$1", "a $ that starts no variable");
}

// --- Spec ---

TEST_CASE("checks::parse_images: keys, defaults and expectations", "[images]")
{
  const auto spec =
    parsed(R"(socket = "run/podman.sock"
pinned_refs = ["compose.yaml", "/etc/app.service"]
allow_unexpected = false
probes = 5
probe_interval = "50ms"
platform = "linux/aarch64"
insecure_registries = ["127.0.0.1:5000"]
)" + expect_table("container", "web", "127.0.0.1:5000/app/web:v1@" + digest('a'))
           + expect_table("service", "worker", "127.0.0.1:5000/app/worker@" + digest('b')));
  CHECK(spec.socket == "/etc/readygate/run/podman.sock");
  REQUIRE(spec.pinned_refs.size() == 2);
  CHECK(spec.pinned_refs[0] == "/etc/readygate/compose.yaml");
  CHECK_FALSE(spec.allow_unexpected);
  CHECK(spec.probes == 5);
  CHECK(spec.probe_interval == 50ms);
  REQUIRE(spec.platform);
  CHECK(spec.platform->architecture == "arm64");
  REQUIRE(spec.expectations.size() == 2);
  CHECK(spec.expectations[0].by == checks::ImageExpectation::By::container);
  CHECK(spec.expectations[1].by == checks::ImageExpectation::By::service);
  CHECK(spec.expectations[1].image.digest == digest('b'));

  const auto defaults = parsed("pinned_refs = \"compose.yaml\"");
  CHECK(defaults.socket == "/var/run/docker.sock");
  CHECK(defaults.probes == 3);
  CHECK(defaults.allow_unexpected);
}

TEST_CASE("checks::parse_images: every mistake is a config error with a position", "[images]")
{
  require_config_error("probes = 3", "nothing to check");
  require_config_error(expect_table("container", "web", "app/web:latest"),
                       "[[check.expect]] #1: key \"image\": \"app/web:latest\" is not pinned");
  require_config_error(expect_table("container", "web", "app/web@sha256:abc"), "is not pinned");
  require_config_error("[[check.expect]]\ncontainer = \"web\"\nimagee = \"x\"\n",
                       "unknown key \"imagee\"");
  require_config_error("[[check.expect]]\ncontainer = \"web\"\nservice = \"web\"\nimage = \"a@"
                         + digest('a') + "\"\n",
                       "exactly one of \"container\" and \"service\"");
  require_config_error(expect_table("container", "web", "a@" + digest('a'))
                         + expect_table("container", "web", "b@" + digest('b')),
                       "container web is expected twice");
  require_config_error("pinned_refs = \"x\"\nprobes = 0", "key \"probes\"");
  require_config_error("pinned_refs = \"x\"\nplatform = \"linux\"", "key \"platform\"");
  require_config_error("pinned_refs = \"x\"\ninsecure_registries = [\"http://x\"]",
                       "not a registry host");
  require_config_error("username = \"u\"\n" + expect_table("container", "web", "a@" + digest('a')),
                       "go together");
  require_config_error("username = \"u\"\npassword_env = \"P\"\n"
                         + expect_table("container", "a", "one.test/a@" + digest('a'))
                         + expect_table("container", "b", "two.test/b@" + digest('b')),
                       "a username and password go to one");
  require_config_error("username = \"u:v\"\npassword_env = \"P\"\n"
                         + expect_table("container", "a", "one.test/a@" + digest('a')),
                       "key \"username\"");
  require_config_error("password = \"x\"\npinned_refs = \"y\"", "unknown key \"password\"");
}

// --- Judgement over fake probes ---

TEST_CASE("checks::run_images: classic engines report the config digest, a pass lists every pin",
          "[images]")
{
  Fixture fixture;
  const auto config = digest('c');
  const auto manifest = fixture.registry->add_manifest(config);
  fixture.registry->tags["app/web:v1"] = {std::optional<std::string>(manifest)};
  fixture.engine->add("web", config);
  const auto spec =
    parsed("probe_interval = \"1ms\"\ninsecure_registries = [\"registry.test\"]\n"
           + expect_table("container", "web", "registry.test/app/web:v1@" + manifest));
  const auto result = fixture.run(spec);
  INFO(all_findings(result));
  CHECK(result.status == Status::pass);
  CHECK_THAT(result.message,
             Catch::Contains("1 of 1 run their pinned images")
               && Catch::Contains("on 3 probes each"));
  REQUIRE(result.findings.size() == 1);
  CHECK(result.findings[0].subject == "container web");
  CHECK_THAT(result.findings[0].expected, Catch::StartsWith(manifest) && Catch::Contains(config));
  CHECK_THAT(result.findings[0].found,
             Catch::Contains("running " + config)
               && Catch::Contains(fmt::format("registry v1: {} x3", manifest)));
  CHECK(fixture.registry->resolves == 3);
  CHECK(fixture.registry->plain == std::vector<bool>{true, true, true});
}

TEST_CASE("checks::run_images: a container on another image fails with both digests", "[images]")
{
  Fixture fixture;
  const auto manifest = fixture.registry->add_manifest(digest('c'));
  fixture.engine->add("web", digest('d'));
  const auto spec = parsed(expect_table("container", "web", "registry.test/app/web@" + manifest));
  const auto result = fixture.run(spec);
  INFO(all_findings(result));
  CHECK(result.status == Status::fail);
  CHECK_THAT(result.message,
             Catch::Contains("container web runs " + digest('d'))
               && Catch::Contains("not the pinned " + manifest) && Catch::Contains(digest('c')));
  REQUIRE(result.findings.size() == 1);
  CHECK_THAT(result.findings[0].found, Catch::Contains("running " + digest('d')));
  CHECK(fixture.registry->resolves == 0); // no tag: nothing to probe
}

TEST_CASE("checks::run_images: the containerd store reports the pin itself, no registry needed",
          "[images]")
{
  Fixture fixture;
  const auto pin = digest('e');
  fixture.engine->add("web", pin);
  fixture.engine->add("api", digest('9'), true, std::nullopt, digest('f'));
  const auto spec =
    parsed(expect_table("container", "web", "registry.test/app/web@" + pin)
           + expect_table("container", "api", "registry.test/app/api@" + digest('f')));
  const auto result = fixture.run(spec);
  INFO(all_findings(result));
  CHECK(result.status == Status::pass);
  CHECK(fixture.registry->fetches == 0);
}

TEST_CASE("checks::run_images: an index pin is walked to the engine's platform", "[images]")
{
  Fixture fixture;
  const auto amd64 = fixture.registry->add_manifest(digest('1'));
  const auto arm64 = fixture.registry->add_manifest(digest('2'));
  const auto index = fixture.registry->add_index({{"linux/arm64", arm64}, {"linux/amd64", amd64}});
  fixture.engine->add("web", digest('1'));
  const auto spec = parsed(expect_table("container", "web", "registry.test/app/web@" + index));
  auto result = fixture.run(spec);
  INFO(all_findings(result));
  CHECK(result.status == Status::pass);
  REQUIRE(result.findings.size() == 1);
  CHECK_THAT(result.findings[0].expected,
             Catch::Contains("linux/amd64 manifest " + amd64) && Catch::Contains(digest('1')));

  SECTION("the container runs the other platform's image")
  {
    fixture.engine->os = "linux";
    fixture.engine->architecture = "arm64";
    result = fixture.run(spec);
    CHECK(result.status == Status::fail);
    CHECK_THAT(result.message, Catch::Contains("runs " + digest('1')));
  }
  SECTION("an index without the platform fails, naming what it has")
  {
    fixture.engine->architecture = "s390x";
    result = fixture.run(spec);
    CHECK(result.status == Status::fail);
    CHECK_THAT(result.message,
               Catch::Contains("has no manifest for linux/s390x")
                 && Catch::Contains("linux/arm64, linux/amd64"));
  }
  SECTION("platform in the config wins over the engine's")
  {
    const auto arm_spec =
      parsed("platform = \"linux/arm64\"\n"
             + expect_table("container", "web", "registry.test/app/web@" + index));
    result = fixture.run(arm_spec);
    CHECK(result.status == Status::fail);
  }
}

TEST_CASE("checks::run_images: tags that flap or drift fail listing every digest", "[images]")
{
  Fixture fixture;
  const auto manifest = fixture.registry->add_manifest(digest('c'));
  const auto other = digest('7');
  fixture.engine->add("web", digest('c'));
  const auto spec =
    parsed("probe_interval = \"1ms\"\n"
           + expect_table("container", "web", "registry.test/app/web:v1@" + manifest));

  SECTION("flapping")
  {
    fixture.registry->tags["app/web:v1"] = {std::optional<std::string>(manifest),
                                            std::optional<std::string>(other),
                                            std::optional<std::string>(manifest)};
    const auto result = fixture.run(spec);
    INFO(all_findings(result));
    CHECK(result.status == Status::fail);
    CHECK_THAT(result.message,
               Catch::Contains("inconsistently") && Catch::Contains(manifest)
                 && Catch::Contains(other));
    REQUIRE(result.findings.size() == 1);
    CHECK_THAT(result.findings[0].found,
               Catch::Contains(fmt::format("{} x2, {} x1", manifest, other)));
  }
  SECTION("drift: consistent, but not the pin")
  {
    fixture.registry->tags["app/web:v1"] = {std::optional<std::string>(other)};
    const auto result = fixture.run(spec);
    CHECK(result.status == Status::fail);
    CHECK_THAT(result.message, Catch::Contains("is now " + other + ", not the pinned " + manifest));
  }
  SECTION("an unknown tag")
  {
    fixture.registry->tags["app/web:v1"] = {std::optional<std::string>()};
    const auto result = fixture.run(spec);
    CHECK(result.status == Status::fail);
    CHECK_THAT(result.message, Catch::Contains("does not know the tag"));
  }
  SECTION("an unanswered probe is an error, and stops the probing")
  {
    fixture.registry->tags["app/web:v1"] = {
      std::optional<std::string>(manifest),
      util::make_error(util::Errc::network, "registry.test: connection refused")};
    const auto result = fixture.run(spec);
    CHECK(result.status == Status::error);
    CHECK_THAT(result.message, Catch::Contains("connection refused"));
    CHECK(fixture.registry->resolves == 2);
  }
  SECTION("a definite fail outranks an unanswered probe of another pin")
  {
    fixture.registry->tags["app/web:v1"] = {std::optional<std::string>(other)};
    fixture.registry->tags["app/api:v1"] = {util::make_error(util::Errc::timeout, "stalled")};
    fixture.engine->add("api", digest('c'));
    const auto both =
      parsed("probe_interval = \"1ms\"\n"
             + expect_table("container", "web", "registry.test/app/web:v1@" + manifest)
             + expect_table("container", "api", "registry.test/app/api:v1@" + manifest));
    const auto result = fixture.run(both);
    CHECK(result.status == Status::fail);
    CHECK(result.findings.size() == 2);
  }
}

TEST_CASE("checks::run_images: missing, stopped and unexpected containers, engine errors",
          "[images]")
{
  Fixture fixture;
  const auto pin = digest('e');
  fixture.engine->add("web", pin, false);
  fixture.engine->add("web-1", pin, true, "web");
  fixture.engine->add("sidecar", digest('5'));
  fixture.engine->add("looping", digest('5'));
  fixture.engine->listed.back().state = "restarting";
  fixture.engine->add("held", digest('5'));
  fixture.engine->listed.back().state = "paused";
  fixture.engine->add("done", digest('5'), false);
  fixture.engine->listed.back().state = "created";
  auto spec = parsed("allow_unexpected = false\n"
                     + expect_table("container", "web", "registry.test/app/web@" + pin)
                     + expect_table("container", "api", "registry.test/app/api@" + pin)
                     + expect_table("service", "web", "registry.test/app/web@" + pin));
  auto result = fixture.run(spec);
  INFO(all_findings(result));
  CHECK(result.status == Status::fail);
  CHECK(result.message == "container web is exited, expected running (and 4 more)");
  const auto text = all_findings(result);
  CHECK_THAT(text,
             Catch::Contains("container web | " + pin + " | exited")
               && Catch::Contains("container api | " + pin + " | no container")
               && Catch::Contains("container sidecar | not running (allow_unexpected = "
                                  "false) | running registry.test/app/web:v1")
               && Catch::Contains("container looping | not running (allow_unexpected = "
                                  "false) | restarting registry.test/app/web:v1")
               && Catch::Contains("container held | not running (allow_unexpected = "
                                  "false) | paused registry.test/app/web:v1"));
  CHECK_THAT(text, !Catch::Contains("service web") && !Catch::Contains("container done"));

  fixture.engine->connect_error =
    util::make_error(util::Errc::network, "engine /run/x.sock /version: No such file or directory");
  result = fixture.run(spec);
  CHECK(result.status == Status::error);
  CHECK_THAT(result.message, Catch::Contains("No such file or directory"));
}

TEST_CASE("checks::run_images: running means running: restarting, paused and unhealthy fail",
          "[images]")
{
  Fixture fixture;
  const auto pin = digest('e');
  const auto id = fixture.engine->add("web", pin);
  const auto spec = parsed(expect_table("container", "web", "registry.test/app/web@" + pin));
  auto& image = fixture.engine->image_of(id);

  SECTION("a restart loop: Running is true, Status is restarting")
  {
    image.restarting = true;
    image.status = "restarting";
    image.restart_count = 7;
    const auto result = fixture.run(spec);
    INFO(all_findings(result));
    CHECK(result.status == Status::fail);
    CHECK(result.message == "container web is restarting, expected running (restarted 7 times)");
  }
  SECTION("Restarting alone (an engine whose Status lags) is restarting too")
  {
    image.restarting = true;
    CHECK(fixture.run(spec).status == Status::fail);
  }
  SECTION("paused")
  {
    image.paused = true;
    image.status = "paused";
    const auto result = fixture.run(spec);
    CHECK(result.status == Status::fail);
    CHECK(result.message == "container web is paused, expected running");
  }
  SECTION("unhealthy by its own health check")
  {
    image.health = "unhealthy";
    image.failing_streak = 3;
    const auto result = fixture.run(spec);
    CHECK(result.status == Status::fail);
    CHECK(result.message
          == "container web is unhealthy by its own health check (failing streak 3)");
  }
  SECTION("a health check still starting is not judged yet: an error, not a pass")
  {
    image.health = "starting";
    const auto result = fixture.run(spec);
    CHECK(result.status == Status::error);
    CHECK_THAT(result.message,
               Catch::Contains("container web: its health check is still starting"));
  }
  SECTION("healthy passes and says so")
  {
    image.health = "healthy";
    const auto result = fixture.run(spec);
    CHECK(result.status == Status::pass);
    REQUIRE(result.findings.size() == 1);
    CHECK(result.findings[0].found == "running " + pin + ", healthy");
  }
  SECTION("a health status readygate does not know is an error")
  {
    image.health = "degraded";
    CHECK(fixture.run(spec).status == Status::error);
  }
  SECTION("a restart count above 0 that does not grow while watched passes")
  {
    image.restart_count = 2;
    CHECK(fixture.run(spec).status == Status::pass);
  }
}

TEST_CASE("checks::run_images: a container is looked at twice, stable_for apart", "[images]")
{
  Fixture fixture;
  const auto pin = digest('e');
  const auto id = fixture.engine->add("web", pin);
  auto spec = parsed(expect_table("container", "web", "registry.test/app/web@" + pin));
  auto later = fixture.engine->image_of(id);

  SECTION("the restart count grew: a loop that looked running at the first look")
  {
    later.restart_count = 3;
    later.started_at = "2026-01-01T00:00:02.000000000Z";
    fixture.engine->later.emplace(id, later);
    const auto result = fixture.run(spec);
    INFO(all_findings(result));
    CHECK(result.status == Status::fail);
    CHECK_THAT(result.message,
               Catch::StartsWith("container web restarted 3 times in ")
                 && Catch::EndsWith("(restart count 0 then 3): a restart loop"));
    CHECK(fixture.engine->inspections.at(id) == 2);
  }
  SECTION("started again without a count (a restart by hand)")
  {
    later.started_at = "2026-01-01T00:00:02.000000000Z";
    fixture.engine->later.emplace(id, later);
    const auto result = fixture.run(spec);
    CHECK(result.status == Status::fail);
    CHECK_THAT(result.message, Catch::Contains("was started again in"));
  }
  SECTION("stopped or restarting at the second look")
  {
    later.restarting = true;
    later.status = "restarting";
    later.restart_count = 1;
    fixture.engine->later.emplace(id, later);
    const auto result = fixture.run(spec);
    CHECK(result.status == Status::fail);
    CHECK_THAT(result.message,
               Catch::StartsWith("container web was running, then restarting ")
                 && Catch::EndsWith("later, expected running (restarted once)"));
  }
  SECTION("unhealthy at the second look")
  {
    later.health = "unhealthy";
    fixture.engine->later.emplace(id, later);
    CHECK(fixture.run(spec).status == Status::fail);
  }
  SECTION("the second look cannot be had: an error")
  {
    fixture.engine->later.emplace(id, util::make_error(util::Errc::network, "engine gone"));
    const auto result = fixture.run(spec);
    CHECK(result.status == Status::error);
    CHECK_THAT(result.message, Catch::Contains("container web: engine gone"));
  }
  SECTION("the watch lasts stable_for, at least")
  {
    fixture.watch = 300ms;
    const auto started = util::Clock::now();
    CHECK(fixture.run(spec).status == Status::pass);
    CHECK(util::Clock::now() - started >= 300ms);
    CHECK(fixture.engine->inspections.at(id) == 2);
  }
  SECTION("a deadline before stable_for ends leaves the watch unfinished: an error")
  {
    fixture.watch = 5s;
    fixture.ctx = testutil::context(200ms);
    fixture.ctx.probes.install<im::Engine>(fixture.engine);
    fixture.ctx.probes.install<im::Registry>(fixture.registry);
    const auto result = fixture.run(spec);
    CHECK(result.status == Status::error);
    CHECK_THAT(result.message,
               Catch::Contains("of stable_for 5s: the check's deadline came first"));
  }
  SECTION("stable_for = 0: one look")
  {
    fixture.watch = 0ms;
    later.restart_count = 3;
    fixture.engine->later.emplace(id, later);
    CHECK(fixture.run(spec).status == Status::pass);
    CHECK(fixture.engine->inspections.at(id) == 1);
  }
}

TEST_CASE("checks::run_images: references without a digest fail with file:line", "[images]")
{
  testutil::TempDir dir;
  testutil::write_file(
    dir.path() / "compose.yaml",
    "services:\n  web:\n    image: app/web:latest\n  api:\n    image: ${API_IMAGE}\n"
    "  db:\n    image: db@sha256:"
      + std::string(64, 'a') + "\n");
  testutil::write_file(dir.path() / "app.env",
                       "API_IMAGE=app/api@sha256:" + std::string(64, 'b') + "\n");
  testutil::write_file(dir.path() / "unit.service",
                       "[Service]\nExecStart=/usr/bin/podman run --rm app/worker\n");
  Fixture fixture;
  auto spec = parsed(R"(pinned_refs = ["compose.yaml", "app.env", "unit.service"])", dir.path());
  auto result = fixture.run(spec);
  INFO(all_findings(result));
  CHECK(result.status == Status::fail);
  const auto compose = (dir.path() / "compose.yaml").string();
  const auto unit = (dir.path() / "unit.service").string();
  CHECK_THAT(result.message,
             Catch::StartsWith(compose
                               + ":3: image \"app/web:latest\" is not pinned by digest "
                                 "(tag latest)"));
  REQUIRE(result.findings.size() == 2);
  CHECK(result.findings[1].subject == unit + ":2");
  CHECK(result.findings[1].found == "\"app/worker\": no tag (latest)");

  SECTION("a variable no listed file sets is an error")
  {
    spec = parsed(R"(pinned_refs = ["compose.yaml"])", dir.path());
    testutil::write_file(dir.path() / "compose.yaml",
                         "services:\n  api:\n    image: ${API_IMAGE}\n");
    result = fixture.run(spec);
    CHECK(result.status == Status::error);
    CHECK_THAT(result.message, Catch::Contains("${API_IMAGE} is not set"));
  }
  SECTION("a pinned file passes")
  {
    spec = parsed(R"(pinned_refs = ["app.env"])", dir.path());
    result = fixture.run(spec);
    CHECK(result.status == Status::pass);
    CHECK_THAT(result.message, Catch::Contains("1 references in 1 files pinned by digest"));
  }
  SECTION("an env file that only sets variables is no error")
  {
    testutil::write_file(dir.path() / "compose.yaml",
                         "services:\n  api:\n    image: app/api:${TAG}@${DIGEST}\n");
    testutil::write_file(dir.path() / "versions.env",
                         "# the release\nexport TAG=1.4\nDIGEST=sha256:" + std::string(64, 'b')
                           + "\n");
    spec = parsed(R"(pinned_refs = ["compose.yaml", "versions.env"])", dir.path());
    result = fixture.run(spec);
    INFO(all_findings(result));
    CHECK(result.status == Status::pass);
  }
  SECTION("an image given through an anchor is read, and reported where it is written")
  {
    testutil::write_file(dir.path() / "compose.yaml",
                         "x-image: &img app/web:latest\nservices:\n  web:\n    image: *img\n"
                         "  worker:\n    image: *img\n");
    spec = parsed(R"(pinned_refs = ["compose.yaml"])", dir.path());
    result = fixture.run(spec);
    INFO(all_findings(result));
    CHECK(result.status == Status::fail);
    CHECK(result.message
          == compose
               + ":1: image \"app/web:latest\" (anchored here, used at line 4) is not pinned by "
                 "digest (tag latest)");
    CHECK(result.findings.size() == 1);
  }
  SECTION("an image that is a mapping is an error naming file:line, never skipped")
  {
    testutil::write_file(dir.path() / "values.yaml",
                         "image:\n  repository: app/web\n  tag: latest\n");
    spec = parsed(R"(pinned_refs = ["values.yaml", "app.env"])", dir.path());
    result = fixture.run(spec);
    INFO(all_findings(result));
    CHECK(result.status == Status::error);
    CHECK_THAT(result.message,
               Catch::StartsWith((dir.path() / "values.yaml").string()
                                 + ":1: image: is a mapping (repository, tag), not an image "
                                   "reference"));
  }
  SECTION("compose's nested defaults and required variables")
  {
    testutil::write_file(dir.path() / "compose.yaml",
                         "services:\n  api:\n    image: ${NOPE:-${API_IMAGE}}\n"
                         "  web:\n    image: app/web@${WEB_DIGEST:?run the release script}\n");
    spec = parsed(R"(pinned_refs = ["compose.yaml", "app.env"])", dir.path());
    result = fixture.run(spec);
    INFO(all_findings(result));
    CHECK(result.status == Status::error);
    CHECK(result.message
          == compose
               + ":5: image \"app/web@${WEB_DIGEST:?run the release script}\": ${WEB_DIGEST} is "
                 "empty or not set by any file of pinned_refs: run the release script");
    CHECK(result.findings.size() == 1); // the nested default expanded to the pinned API_IMAGE
  }
  SECTION("a missing file, a file without references and broken YAML are errors")
  {
    testutil::write_file(dir.path() / "empty.yaml", "services: {}\n");
    testutil::write_file(dir.path() / "broken.yaml", "services: [\n");
    testutil::write_file(dir.path() / "app.service", "[Service]\nExecStart=/usr/bin/app\n");
    for (const auto* name : {"missing.yaml", "empty.yaml", "broken.yaml", "app.service"}) {
      INFO(name);
      spec = parsed(fmt::format("pinned_refs = [\"{}\"]", name), dir.path());
      result = fixture.run(spec);
      CHECK(result.status == Status::error);
    }
  }
}

TEST_CASE("checks::run_images: credentials are read at run time and never shown", "[images]")
{
  testutil::TempDir dir;
  const std::string secret = "p4ssw0rd-never-shown";
  testutil::write_file(dir.path() / "password", secret + "\n");
  ::chmod((dir.path() / "password").c_str(), 0600);
  Fixture fixture;
  fixture.registry->tags["app/web:v1"] = {
    util::make_error(util::Errc::permission, "registry.test: denied for " + secret)};
  fixture.engine->add("web", digest('e'));
  const auto spec =
    parsed("username = \"deploy\"\npassword_file = \"password\"\n"
             + expect_table("container", "web", "registry.test/app/web:v1@" + digest('e')),
           dir.path());
  auto result = fixture.run(spec);
  CHECK(result.status == Status::error);
  CHECK_THAT(all_findings(result), !Catch::Contains(secret) && Catch::Contains("<redacted>"));

  ::chmod((dir.path() / "password").c_str(), 0644);
  result = fixture.run(spec);
  CHECK(result.status == Status::error);
  CHECK_THAT(result.message, Catch::Contains("readable by every user"));
  CHECK(fixture.registry->resolves == 1);
}

// --- Docker config ---

TEST_CASE("images::credentials_from_docker_config: auth entries by host", "[images]")
{
  const auto config = R"({"auths": {
    "https://registry.test/v1/": {"auth": "ZGVwbG95OnMzY3IzdDpwYXJ0"},
    "other.test": {"username": "u", "password": "p"},
    "token.test": {"identitytoken": "x"}},
    "credHelpers": {"ecr.test": "ecr-login"}})";
  const auto found = im::credentials_from_docker_config(config, "registry.test", "config.json");
  REQUIRE(found);
  REQUIRE(*found);
  CHECK((*found)->username == "deploy");
  CHECK((*found)->password.reveal() == "s3cr3t:part");
  const auto other = im::credentials_from_docker_config(config, "other.test", "config.json");
  REQUIRE(other);
  REQUIRE(*other);
  CHECK((*other)->username == "u");
  const auto none = im::credentials_from_docker_config(config, "none.test", "config.json");
  REQUIRE(none);
  CHECK_FALSE(*none);
  CHECK_FALSE(im::credentials_from_docker_config(config, "token.test", "config.json"));
  const auto helper = im::credentials_from_docker_config(config, "ecr.test", "config.json");
  REQUIRE_FALSE(helper);
  CHECK_THAT(helper.error().message, Catch::Contains("credential helper"));
  const auto broken = im::credentials_from_docker_config("{\"auths\": ", "x", "config.json");
  REQUIRE_FALSE(broken);
  CHECK_THAT(broken.error().message, Catch::StartsWith("config.json: not valid JSON"));
}

TEST_CASE("images::parse_challenges: Bearer and Basic, quoted values", "[images]")
{
  const auto challenges = im::parse_challenges(
    R"(Bearer realm="https://auth.test/token",service="registry.test",scope="repository:a/b:pull", Basic realm="x \"y\"")");
  REQUIRE(challenges.size() == 2);
  CHECK(challenges[0].scheme == "bearer");
  CHECK(challenges[0].params.at("realm") == "https://auth.test/token");
  CHECK(challenges[0].params.at("scope") == "repository:a/b:pull");
  CHECK(challenges[1].scheme == "basic");
  CHECK(challenges[1].params.at("realm") == "x \"y\"");
  CHECK(im::parse_challenges("").empty());
  CHECK(im::parse_challenges("=,=,\"").empty());
}

// --- The real clients over a fake HTTP client ---

namespace {

class ScriptedHttp final : public util::HttpClient
{
public:
  std::function<util::Result<util::HttpResponse>(const util::HttpRequest&)> answer;
  std::vector<util::HttpRequest> requests;

  util::Result<util::HttpResponse>
  perform(const util::HttpRequest& request) override
  {
    requests.push_back(request);
    return answer(request);
  }
};

util::HttpResponse
response(long status, std::string body, util::HeaderList headers = {}, bool truncated = false)
{
  util::HttpResponse answer;
  answer.status = status;
  answer.body = std::move(body);
  answer.headers = std::move(headers);
  answer.body_truncated = truncated;
  return answer;
}

im::Call
call_with(const std::shared_ptr<ScriptedHttp>& http)
{
  return im::Call{http, util::Clock::now() + 5s, {}};
}

} // namespace

TEST_CASE("images::Engine (real): API negotiation, listing and inspecting over the socket",
          "[images]")
{
  auto http = std::make_shared<ScriptedHttp>();
  const auto id = std::string(64, 'f');
  std::string version =
    R"({"ApiVersion":"1.41","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"})";
  std::string inspect =
    R"({"Image":")" + digest('c')
    + R"(","State":{"Running":true,"Status":"running"},"Config":{"Image":"app/web:v1"}})";
  http->answer = [&](const util::HttpRequest& request) -> util::Result<util::HttpResponse> {
    if (request.url == "http://docker/version") {
      return response(200, version);
    }
    if (request.url == "http://docker/v1.41/containers/json?all=1") {
      return response(
        200,
        R"([{"Id":")" + id
          + R"(","Names":["/web"],"Image":"app/web:v1","State":"running","Labels":{"com.docker.compose.service":"web"}}])");
    }
    if (request.url == "http://docker/v1.41/containers/" + id + "/json") {
      return response(200, inspect);
    }
    return response(404, R"({"message":"page not found"})");
  };
  const auto engine = im::Engine::make_real();
  const auto call = call_with(http);
  const auto session = engine->connect("/run/docker.sock", call);
  REQUIRE(session);
  CHECK(session->api_version == "1.41");
  CHECK(http->requests.at(0).unix_socket == "/run/docker.sock");
  CHECK_FALSE(http->requests.at(0).proxy);
  const auto listed = engine->containers(*session, call);
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].names == std::vector<std::string>{"web"});
  CHECK((*listed)[0].compose_service == "web");
  const auto image = engine->inspect(*session, id, call);
  REQUIRE(image);
  CHECK(image->image_id == digest('c'));
  CHECK(image->running);

  SECTION("restarting, paused, health and restart count are read from the State")
  {
    CHECK(image->state() == "running");
    CHECK(image->health.empty());
    inspect = R"({"Image":")" + digest('c')
              + R"(","RestartCount":12,"State":{"Running":true,"Status":"restarting",)"
                R"("Restarting":true,"Paused":false,"StartedAt":"2026-01-01T00:00:00Z",)"
                R"("Health":{"Status":"unhealthy","FailingStreak":4}}})";
    auto looping = engine->inspect(*session, id, call);
    REQUIRE(looping);
    CHECK(looping->running);
    CHECK(looping->restarting);
    CHECK(looping->state() == "restarting");
    CHECK(looping->restart_count == 12);
    CHECK(looping->started_at == "2026-01-01T00:00:00Z");
    CHECK(looping->health == "unhealthy");
    CHECK(looping->failing_streak == 4);
    inspect = R"({"Image":")" + digest('c')
              + R"(","State":{"Running":true,"Status":"paused","Paused":true,)"
                R"("Health":{"Status":"none"}}})";
    auto paused = engine->inspect(*session, id, call);
    REQUIRE(paused);
    CHECK(paused->state() == "paused");
    CHECK(paused->health.empty()); // "none": no health check
    CHECK_FALSE(paused->restart_count);
    for (const auto& body :
         {R"({"Image":")" + digest('c') + R"(","State":{"Running":true}})",
          R"({"Image":")" + digest('c')
            + R"(","RestartCount":-1,"State":{"Running":true,"Status":"running"}})",
          R"({"Image":")" + digest('c')
            + R"(","RestartCount":"1","State":{"Running":true,"Status":"running"}})"}) {
      INFO(body);
      inspect = body;
      const auto bad = engine->inspect(*session, id, call);
      REQUIRE_FALSE(bad);
      CHECK(bad.error().code == util::Errc::protocol);
    }
  }
  SECTION("a newer engine is spoken to at the highest version readygate knows")
  {
    version = R"({"ApiVersion":"1.52","MinAPIVersion":"1.44"})";
    const auto newer = engine->connect("/s", call);
    REQUIRE(newer);
    CHECK(newer->api_version == std::string(im::k_max_api_version));
  }
  SECTION("an engine that needs a newer API than readygate speaks is an error")
  {
    version = R"({"ApiVersion":"2.10","MinAPIVersion":"2.0"})";
    const auto refused = engine->connect("/s", call);
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error().message, Catch::Contains("needs API 2.0 or later"));
  }
  SECTION("hostile answers are errors, never digests")
  {
    for (const auto* body : {R"({"Image":"sha256:zz","State":{"Running":true}})",
                             R"({"Image":"sha256:)"
                             "\x1b[2K"
                             R"(","State":{"Running":true}})",
                             R"({"State":{"Running":true}})",
                             R"({"Image":"x"})",
                             "not json",
                             R"({"Image":")"
                             "sha256:"
                             "\xff"
                             R"("})"}) {
      INFO(body);
      inspect = body;
      const auto bad = engine->inspect(*session, id, call);
      REQUIRE_FALSE(bad);
      CHECK(bad.error().code == util::Errc::protocol);
      CHECK_THAT(bad.error().message, !Catch::Contains("\x1b"));
    }
    CHECK_FALSE(engine->inspect(*session, "../../etc", call));
  }
  SECTION("a socket that cannot be reached keeps its error, naming the socket")
  {
    http->answer = [](const util::HttpRequest& request) -> util::Result<util::HttpResponse> {
      return util::make_error(util::Errc::network,
                              request.url
                                + ": failed to connect to docker port 80 after 0 ms: Couldn't "
                                  "connect to server (permission denied)");
    };
    const auto refused = engine->connect("/run/docker.sock", call);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == util::Errc::network);
    CHECK(refused.error().message
          == "engine /run/docker.sock /version: cannot connect: permission denied");
  }
  SECTION("an oversized or failing answer is an error")
  {
    http->answer = [](const util::HttpRequest&) -> util::Result<util::HttpResponse> {
      return response(200, "[", {}, true);
    };
    CHECK_FALSE(engine->containers(*session, call));
    http->answer = [](const util::HttpRequest&) -> util::Result<util::HttpResponse> {
      return response(500, R"({"message":"boom"})");
    };
    const auto failed = engine->containers(*session, call);
    REQUIRE_FALSE(failed);
    CHECK_THAT(failed.error().message, Catch::EndsWith("status 500: boom"));
  }
}

TEST_CASE("images::Registry (real): HEAD with Accept, token flow, digests verified", "[images]")
{
  auto http = std::make_shared<ScriptedHttp>();
  const auto registry = im::Registry::make_real();
  const auto call = call_with(http);
  im::RegistryAccess access;
  access.host = "registry.test";
  const auto manifest_body = std::string(
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":")"
    + digest('c') + R"("}})");
  const auto manifest_digest = digest_of(manifest_body);

  SECTION("anonymous Bearer: challenge, token with service and scope, retry with the token")
  {
    http->answer = [&](const util::HttpRequest& request) -> util::Result<util::HttpResponse> {
      if (request.url.starts_with("https://auth.test/token")) {
        return response(200, R"({"token":"tok.en","expires_in":300})");
      }
      const bool authorized =
        std::any_of(request.headers.begin(), request.headers.end(), [](const auto& header) {
          return header.first == "Authorization" && header.second == "Bearer tok.en";
        });
      if (!authorized) {
        return response(401,
                        "",
                        {{"www-authenticate",
                          R"(Bearer realm="https://auth.test/token",service="registry.test")"}});
      }
      return response(200, "", {{"docker-content-digest", manifest_digest}});
    };
    const auto tag = registry->resolve_tag(access, "app/web", "v1", call);
    INFO(testutil::error_message(tag));
    REQUIRE(tag);
    CHECK(*tag == manifest_digest);
    REQUIRE(http->requests.size() == 3);
    CHECK(http->requests[0].method == "HEAD");
    CHECK(http->requests[0].url == "https://registry.test/v2/app/web/manifests/v1");
    CHECK(http->requests[0].headers.at(0).second == std::string(im::k_manifest_accept));
    CHECK(http->requests[1].url
          == "https://auth.test/token?service=registry.test&scope=repository%3Aapp%2Fweb%3Apull");
    CHECK_FALSE(http->requests[1].user_password);
    // The token is kept for the next request.
    REQUIRE(registry->resolve_tag(access, "app/web", "v1", call));
    CHECK(http->requests.size() == 4);
  }
  SECTION("a realm over plain HTTP for an HTTPS registry is refused")
  {
    http->answer = [&](const util::HttpRequest&) -> util::Result<util::HttpResponse> {
      return response(401, "", {{"www-authenticate", R"(Bearer realm="http://auth.test/token")"}});
    };
    access.credentials = im::Credentials{"u", util::Secret("pw")};
    const auto tag = registry->resolve_tag(access, "app/web", "v1", call);
    REQUIRE_FALSE(tag);
    CHECK_THAT(tag.error().message, Catch::Contains("is not an https URL"));
    CHECK(http->requests.size() == 1);
  }
  SECTION("Basic: without credentials an error, with them sent as user:password")
  {
    http->answer = [&](const util::HttpRequest& request) -> util::Result<util::HttpResponse> {
      if (request.user_password != "u:pw") {
        return response(401, "", {{"www-authenticate", R"(Basic realm="r")"}});
      }
      return response(200, "", {{"docker-content-digest", manifest_digest}});
    };
    const auto anonymous = registry->resolve_tag(access, "app/web", "v1", call);
    REQUIRE_FALSE(anonymous);
    CHECK(anonymous.error().code == util::Errc::permission);
    access.credentials = im::Credentials{"u", util::Secret("pw")};
    const auto tag = registry->resolve_tag(access, "app/web", "v1", call);
    REQUIRE(tag);
    CHECK(*tag == manifest_digest);
    access.credentials = im::Credentials{"u", util::Secret("wrong")};
    const auto rejected = registry->resolve_tag(access, "app/web", "v1", call);
    REQUIRE_FALSE(rejected);
    CHECK_THAT(rejected.error().message, Catch::Contains("access denied with the credentials"));
    CHECK_THAT(rejected.error().message, !Catch::Contains("wrong"));
  }
  SECTION("answers: 404 is an unknown tag, 5xx an error, a bad digest header an error")
  {
    long status = 404;
    std::string header = manifest_digest;
    http->answer = [&](const util::HttpRequest&) -> util::Result<util::HttpResponse> {
      return response(status,
                      R"({"errors":[{"code":"UNAVAILABLE","message":"try later"}]})",
                      {{"docker-content-digest", header}});
    };
    const auto unknown = registry->resolve_tag(access, "app/web", "v1", call);
    REQUIRE(unknown);
    CHECK_FALSE(*unknown);
    status = 503;
    const auto unavailable = registry->resolve_tag(access, "app/web", "v1", call);
    REQUIRE_FALSE(unavailable);
    CHECK_THAT(unavailable.error().message,
               Catch::EndsWith("answered 503 (UNAVAILABLE: try later)"));
    status = 200;
    header = "sha256:nope";
    const auto bad = registry->resolve_tag(access, "app/web", "v1", call);
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("is not a sha256 digest"));
  }
  SECTION("a manifest that does not hash to its digest is an error; an index is walked")
  {
    const auto index_body = std::string(
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"digest":")"
      + manifest_digest + R"(","platform":{"os":"linux","architecture":"amd64"}}]})");
    const auto index_digest = digest_of(index_body);
    std::string served_for_manifest = manifest_body;
    http->answer = [&](const util::HttpRequest& request) -> util::Result<util::HttpResponse> {
      if (request.url.ends_with(index_digest)) {
        return response(
          200, index_body, {{"content-type", "application/vnd.oci.image.index.v1+json"}});
      }
      return response(
        200, served_for_manifest, {{"content-type", "application/vnd.oci.image.manifest.v1+json"}});
    };
    const auto resolved = im::resolve_pin(
      *registry, access, "app/web", index_digest, im::Platform{"linux", "amd64", ""}, call);
    INFO(testutil::error_message(resolved));
    REQUIRE(resolved);
    CHECK(resolved->is_index);
    CHECK(resolved->manifest_digest == manifest_digest);
    CHECK(resolved->config_digest == digest('c'));
    served_for_manifest = manifest_body + " ";
    const auto tampered = im::resolve_pin(
      *registry, access, "app/web", index_digest, im::Platform{"linux", "amd64", ""}, call);
    REQUIRE_FALSE(tampered);
    CHECK_THAT(tampered.error().message, Catch::Contains("the manifest served hashes to"));
  }
}
