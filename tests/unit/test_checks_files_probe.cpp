// The files kind through a fake filesystem probe: a manifest served from memory and a walk that
// yields what the test says, so the judge's rules are tested without touching a disk.
#include "files_entries.hpp"
#include "testutil.hpp"

#include <checks/files/files_check.hpp>
#include <hook/release/filesystem.hpp>
#include <hook/release/manifest.hpp>

#include <algorithm>
#include <cstring>

using hook::Status;
using release::Entry;
using release::WalkItem;

namespace {

// A walk over a fixed list of items (in manifest order), optionally stopping after some.
class ListWalk final : public release::Walk
{
public:
  ListWalk(std::vector<WalkItem> items, std::size_t stop_after)
      : m_items(std::move(items)),
        m_stop_after(stop_after)
  {}
  const WalkItem*
  next() override
  {
    if (m_next >= m_stop_after) {
      m_stopped = m_next < m_items.size();
      return nullptr;
    }
    return m_next < m_items.size() ? &m_items[m_next++] : nullptr;
  }
  util::Result<util::Sha256Digest>
  hash(const WalkItem& item) override
  {
    return item.entry.sha256
             ? util::Result<util::Sha256Digest>(*item.entry.sha256)
             : util::Result<util::Sha256Digest>(util::make_error(util::Errc::io, "no content"));
  }
  bool
  stopped() const override
  {
    return m_stopped;
  }
  std::size_t
  hashed() const override
  {
    return 0;
  }

private:
  std::vector<WalkItem> m_items;
  std::size_t m_stop_after;
  std::size_t m_next = 0;
  bool m_stopped = false;
};

// A filesystem whose manifest is `manifest_text` and whose tree is `walked`.
class FakeFilesystem final : public release::Filesystem
{
public:
  std::string manifest_text;
  std::vector<WalkItem> walked;
  std::size_t stop_after = static_cast<std::size_t>(-1);
  std::vector<std::string> asked;

  util::Result<std::unique_ptr<release::ManifestReader>>
  open_manifest(const std::filesystem::path& path, std::function<bool()>) override
  {
    asked.push_back("manifest " + path.string());
    auto text = std::make_shared<std::string>(manifest_text);
    auto offset = std::make_shared<std::size_t>(0);
    return release::ManifestReader::from_source(
      path.filename().string(), [text, offset](std::span<char> into) -> util::Result<std::size_t> {
        const auto count = std::min(into.size(), text->size() - *offset);
        std::memcpy(into.data(), text->data() + *offset, count);
        *offset += count;
        return count;
      });
  }

  util::Result<std::unique_ptr<release::Walk>>
  walk(const std::filesystem::path& root, release::WalkOptions) override
  {
    asked.push_back("walk " + root.string());
    return std::unique_ptr<release::Walk>(std::make_unique<ListWalk>(walked, stop_after));
  }
};

std::string
manifest_of(const std::vector<Entry>& entries)
{
  release::ManifestWriter writer({});
  std::string lines;
  for (const auto& entry : entries) {
    lines += writer.line(entry);
  }
  return writer.header(writer.finish()) + lines;
}

std::vector<WalkItem>
walked_as(const std::vector<Entry>& entries)
{
  std::vector<WalkItem> items;
  for (const auto& entry : entries) {
    WalkItem item;
    item.entry = entry;
    items.push_back(std::move(item));
  }
  return items;
}

const testutil::KindHarness<checks::files::FilesSpec> k_files{
  "files", "app", &checks::files::parse_files, "/"};

} // namespace

TEST_CASE("checks::files::run_files: judges what the filesystem probe observes", "[files]")
{
  const std::vector<Entry> release = {testutil::dir_entry("."),
                                      testutil::file_entry("a.txt", "first"),
                                      testutil::dir_entry("lib"),
                                      testutil::symlink_entry("lib/current", "v2"),
                                      testutil::file_entry("z.txt", "last")};
  const auto spec = k_files.parsed("root = \"/srv/app\"\nmanifest = \"/etc/app.manifest\"");
  auto fake = std::make_shared<FakeFilesystem>();
  fake->manifest_text = manifest_of(release);
  auto ctx = testutil::context();
  ctx.probes.install<release::Filesystem>(fake);

  SECTION("the release as recorded passes, and the probe was asked for the right things")
  {
    fake->walked = walked_as(release);
    const auto result = checks::files::run_files(spec, ctx);
    INFO(result.message);
    CHECK(result.status == Status::pass);
    CHECK(fake->asked == std::vector<std::string>{"manifest /etc/app.manifest", "walk /srv/app"});
  }
  SECTION("damage at the very first and the very last entry is found")
  {
    auto changed = release;
    changed[1] = testutil::file_entry("a.txt", "FIRST");
    changed[4] = testutil::file_entry("z.txt", "LAST");
    fake->walked = walked_as(changed);
    const auto result = checks::files::run_files(spec, ctx);
    CHECK(result.status == Status::fail);
    REQUIRE(result.findings.size() == 2);
    CHECK(result.findings[0].subject == "a.txt");
    CHECK(result.findings[1].subject == "z.txt");
  }
  SECTION("a retargeted symlink, a missing and an extra entry are findings")
  {
    auto changed = release;
    changed[3] = testutil::symlink_entry("lib/current", "v3");
    changed.erase(changed.begin() + 4);
    changed.push_back(testutil::file_entry("zz-extra", "x"));
    fake->walked = walked_as(changed);
    const auto result = checks::files::run_files(spec, ctx);
    CHECK(result.status == Status::fail);
    CHECK(result.findings.size() == 3);
  }
  SECTION("a path the walk could not look at is an error, never a pass")
  {
    auto items = walked_as(release);
    items[2].problem = "open: Permission denied";
    fake->walked = items;
    const auto result = checks::files::run_files(spec, ctx);
    CHECK(result.status == Status::error);
  }
  SECTION("a walk cut short (deadline, stop) is an error, never a pass")
  {
    fake->walked = walked_as(release);
    fake->stop_after = 2;
    const auto result = checks::files::run_files(spec, ctx);
    CHECK(result.status == Status::error);
  }
  SECTION("a manifest cut in the middle is an error, however well the rest compares")
  {
    fake->manifest_text = fake->manifest_text.substr(0, fake->manifest_text.size() - 20);
    fake->walked = walked_as(release);
    const auto result = checks::files::run_files(spec, ctx);
    CHECK(result.status == Status::error);
  }
}
