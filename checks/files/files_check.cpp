#include "files_check.hpp"

#include <config/fields.hpp>
#include <hook/util/glob.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <functional>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>

namespace checks::files {

namespace {

constexpr std::size_t k_default_max_findings = 20;

// Keep the first `max` findings, in the order given (callers give them sorted by path).
class Findings
{
public:
  explicit Findings(std::size_t max)
      : m_max(max)
  {}

  void
  add(std::string_view path, std::string expected, std::string found)
  {
    if (m_kept.size() < m_max) {
      m_kept.push_back({escape_display(path), std::move(expected), std::move(found)});
    } else {
      ++m_omitted;
    }
  }

  hook::CheckResult
  result(hook::Status status, std::string message) &&
  {
    return hook::CheckResult{status, std::move(message), std::move(m_kept), m_omitted};
  }

private:
  std::size_t m_max;
  std::vector<hook::Finding> m_kept;
  std::size_t m_omitted = 0;
};

std::string
describe(const Entry& entry)
{
  if (entry.type == EntryType::symlink) {
    return "symlink to " + escape_display(entry.target);
  }
  return std::string(entry_type_name(entry.type));
}

std::string
sha256_text(const util::Sha256Digest& digest)
{
  return "sha256 " + util::to_hex(digest);
}

std::string
plural(std::size_t count, std::string_view noun)
{
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

std::string
entries_text(std::size_t count)
{
  return count == 1 ? std::string("1 entry") : fmt::format("{} entries", count);
}

// Return true when `path` sorts after everything under directory `dir` ("dir/...").
bool
past_contents(std::string_view dir, std::string_view path)
{
  const bool inside = path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
  return !inside && path_order_less(dir, true, path, false);
}

// Judges one path at a time, in manifest order, keeping only counts, the findings it reports
// and the unreadable directories still ahead: memory does not grow with the tree.
class FilesJudge
{
public:
  FilesJudge(const FilesSpec& spec, const std::vector<std::string>& excludes)
      : m_spec(spec),
        m_allowed_extra(spec.allow_extra),
        m_excluded(excludes),
        m_findings(spec.max_findings)
  {}

  using HashDeferred = std::function<util::Result<util::Sha256Digest>(const WalkItem&)>;

  bool
  allowed_extra(std::string_view path) const
  {
    return m_allowed_extra.matches(path) || m_excluded.matches(path);
  }

  // Judge `path`: in the manifest as `want` (or not), found as `have` (or not).
  void
  judge(const Entry* want, const WalkItem* have, const HashDeferred& hash)
  {
    const std::string_view path = want != nullptr ? want->path : have->entry.path;
    while (!m_unreadable.empty() && past_contents(m_unreadable.back(), path)) {
      m_unreadable.pop_back();
    }
    if (want != nullptr) {
      ++m_expected;
    }
    if (have != nullptr && !have->problem.empty()) {
      // Unreadable paths outside the release's business (allowed extras) do not count; the
      // contents of an allowed directory were walked into because the manifest lists some.
      if (want != nullptr || have->contents || !allowed_extra(path)) {
        ++m_problems;
        m_findings.add(path, "readable", have->problem);
        if (have->observed || have->contents) {
          m_unreadable.emplace_back(path);
        }
      }
      if (have->contents) {
        return;
      }
    }
    const bool observed = have != nullptr && have->observed;
    if (want != nullptr && !observed) {
      // Under an unreadable directory nothing is known to be missing: the problem says it all.
      if ((have == nullptr || have->problem.empty()) && !under_unreadable(path)) {
        ++m_missing;
        m_findings.add(path, "present", "missing");
      }
      return;
    }
    if (want == nullptr) {
      if (observed && !allowed_extra(path)) {
        ++m_extra;
        m_findings.add(path, "absent", describe(have->entry));
      }
      return;
    }
    compare(*want, *have, hash);
  }

  void
  finding(std::string_view path, std::string expected, std::string found)
  {
    m_findings.add(path, std::move(expected), std::move(found));
  }
  void
  count_modified()
  {
    ++m_modified;
  }

  std::size_t
  expected() const
  {
    return m_expected;
  }

  hook::CheckResult
  finish(const util::Sha256Digest& digest) &&
  {
    const auto counts = fmt::format("{} missing, {} extra, {} modified of {}",
                                    m_missing,
                                    m_extra,
                                    m_modified,
                                    entries_text(m_expected));
    const auto unreadable = m_problems + m_unverified;
    if (unreadable > 0) {
      return std::move(m_findings)
        .result(hook::Status::error,
                fmt::format("{} could not be read; {}", plural(unreadable, "path"), counts));
    }
    if (m_missing + m_extra + m_modified > 0) {
      return std::move(m_findings).result(hook::Status::fail, counts);
    }
    return std::move(m_findings)
      .result(hook::Status::pass,
              fmt::format("{} match the manifest (digest sha256:{})",
                          entries_text(m_expected),
                          util::to_hex(digest)));
  }

private:
  bool
  under_unreadable(std::string_view path) const
  {
    for (const auto& dir : m_unreadable) {
      if (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/') {
        return true;
      }
    }
    return false;
  }

  void
  compare(const Entry& want, const WalkItem& have_item, const HashDeferred& hash)
  {
    const auto& have = have_item.entry;
    bool changed = false;
    const auto differ = [&](std::string expected_text, std::string found_text) {
      changed = true;
      m_findings.add(want.path, std::move(expected_text), std::move(found_text));
    };
    if (want.type != have.type) {
      differ(describe(want), describe(have));
    } else {
      if (!m_spec.ignore_mode && want.mode != have.mode) {
        differ(fmt::format("mode {:04o}", want.mode), fmt::format("mode {:04o}", have.mode));
      }
      if (!m_spec.ignore_owner && (want.uid != have.uid || want.gid != have.gid)) {
        differ(fmt::format("owner {}:{}", want.uid, want.gid),
               fmt::format("owner {}:{}", have.uid, have.gid));
      }
      if (want.type == EntryType::symlink && want.target != have.target) {
        differ(describe(want), describe(have));
      }
      if ((want.type == EntryType::char_device || want.type == EntryType::block_device)
          && want.rdev != have.rdev) {
        differ("device " + device_text(want.rdev), "device " + device_text(have.rdev));
      }
      if (want.type == EntryType::file && !m_spec.ignore_content) {
        compare_content(want, have_item, hash, differ);
      }
    }
    if (changed) {
      ++m_modified;
    }
  }

  template <typename Differ>
  void
  compare_content(const Entry& want,
                  const WalkItem& have_item,
                  const HashDeferred& hash,
                  Differ& differ)
  {
    const auto& have = have_item.entry;
    if (want.size != have.size) {
      differ(fmt::format("size {}", want.size), fmt::format("size {}", have.size));
      return;
    }
    std::optional<util::Sha256Digest> found = have.sha256;
    if (!found && have_item.deferred && hash) {
      auto digest = hash(have_item);
      if (!digest) {
        ++m_problems;
        m_findings.add(want.path, "readable", digest.error().message);
        return;
      }
      found = *digest;
    }
    if (want.sha256 && found) {
      if (*want.sha256 != *found) {
        differ(sha256_text(*want.sha256), sha256_text(*found));
      }
      return;
    }
    // Not hashed and no reason recorded: never let that pass as "unchanged".
    ++m_unverified;
    m_findings.add(want.path, want.sha256 ? sha256_text(*want.sha256) : "sha256", "not hashed");
  }

  const FilesSpec& m_spec;
  util::GlobSet m_allowed_extra;
  util::GlobSet m_excluded;
  Findings m_findings;
  std::vector<std::string> m_unreadable; // directories whose contents are still ahead
  std::size_t m_expected = 0;
  std::size_t m_missing = 0;
  std::size_t m_extra = 0;
  std::size_t m_modified = 0;
  std::size_t m_problems = 0;
  std::size_t m_unverified = 0;
};

class FilesCheck : public hook::Check
{
public:
  explicit FilesCheck(FilesSpec spec)
      : m_spec(std::move(spec))
  {}

  hook::CheckResult
  run(const hook::CheckContext& ctx) const override
  {
    return run_files(m_spec, ctx);
  }

private:
  FilesSpec m_spec;
};

} // namespace

using config::KeySpec;
using config::KeyType;

// clang-format off
constexpr std::array k_files_keys = {
  KeySpec{"root",            KeyType::path,         true,  "",   false, "the application tree; may be a symlink to the release directory"},
  KeySpec{"manifest",        KeyType::path,         true,  "",   false, "the release manifest written by readygate manifest create"},
  KeySpec{"manifest_sha256", KeyType::string,       false, "",   false, "pin the manifest's #digest (\"sha256:\" and 64 hex digits)"},
  KeySpec{"allow_extra",     KeyType::string_array, false, "[]", false, "globs of extra paths that are not reported"},
  KeySpec{"ignore",          KeyType::string_array, false, "[]", false, "attributes not compared: \"owner\", \"mode\", \"content\""},
  KeySpec{"max_findings",    KeyType::integer,      false, "20", false, "findings listed in the report"},
  KeySpec{"workers",         KeyType::integer,      false, "0",  false, "hashing threads; 0: one per core"},
};
// clang-format on

config::KeyTable
files_keys()
{
  return k_files_keys;
}

util::Result<FilesSpec>
parse_files(const config::CheckSpec& check)
{
  config::FieldReader fields(check, k_files_keys);
  RG_TRY(fields.check_keys());
  FilesSpec spec;
  RG_TRY_ASSIGN(spec.root, fields.required_path("root"));
  RG_TRY_ASSIGN(spec.manifest, fields.required_path("manifest"));
  RG_TRY_ASSIGN(const auto pinned, fields.optional_string("manifest_sha256"));
  if (pinned) {
    std::string_view hex = *pinned;
    if (hex.starts_with("sha256:")) {
      hex.remove_prefix(7);
    }
    spec.manifest_sha256 = util::sha256_from_hex(hex);
    if (!spec.manifest_sha256) {
      return fields.error_at(
        "manifest_sha256", "expected \"sha256:\" and 64 hex digits (the manifest's #digest line)");
    }
  }
  RG_TRY_ASSIGN(spec.allow_extra, fields.string_array("allow_extra"));
  for (const auto& glob : spec.allow_extra) {
    if (glob.empty() || glob.front() == '/') {
      return fields.error_at("allow_extra",
                             fmt::format("\"{}\": expected a glob relative to the root", glob));
    }
  }
  RG_TRY_ASSIGN(const auto ignore, fields.string_array("ignore"));
  for (const auto& attribute : ignore) {
    if (attribute == "owner") {
      spec.ignore_owner = true;
    } else if (attribute == "mode") {
      spec.ignore_mode = true;
    } else if (attribute == "content") {
      spec.ignore_content = true;
    } else {
      return fields.error_at(
        "ignore",
        fmt::format("unknown attribute \"{}\" (expected \"owner\", \"mode\" or \"content\")",
                    attribute));
    }
  }
  RG_TRY_ASSIGN(const auto max_findings, fields.optional_integer("max_findings", 1, 1'000'000));
  spec.max_findings = static_cast<std::size_t>(max_findings.value_or(k_default_max_findings));
  RG_TRY_ASSIGN(const auto workers, fields.optional_integer("workers", 0, 256));
  if (workers) {
    spec.workers = static_cast<unsigned>(*workers);
  }
  return spec;
}

namespace {

// The manifest file lying inside the tree, at `path` relative to the root: it cannot record its
// own digest, so it is left out of the comparison, but only as a regular file that is the very
// file the manifest was read from. Anything else there (a symlink to another file, a directory,
// nothing) is a finding: the comparison must not skip a path an attacker can fill.
struct SelfFile
{
  std::string path;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
};

// Merges the manifest's entries (pulled one by one) with the walk's items, both in manifest
// order, and hands each path to the judge.
class Merge
{
public:
  using NextExpected = std::function<util::Result<const Entry*>()>;

  Merge(FilesJudge& judge,
        NextExpected next_expected,
        std::optional<SelfFile> self,
        FilesJudge::HashDeferred hash)
      : m_judge(judge),
        m_next_expected(std::move(next_expected)),
        m_self(std::move(self)),
        m_hash(std::move(hash))
  {}

  // Judge one walk item, after every manifest entry that sorts before it.
  util::Result<void>
  observed(const WalkItem& item)
  {
    RG_TRY(start());
    RG_TRY(expected_before(item.entry.path, item.contents));
    if (!item.contents && m_want != nullptr && m_want->path == item.entry.path) {
      decide(m_want, &item);
      return advance();
    }
    decide(nullptr, &item);
    return {};
  }

  // The walk is over: every manifest entry left is missing; the manifest is read to its end
  // (where its digest is checked).
  util::Result<void>
  finish()
  {
    RG_TRY(start());
    while (m_want != nullptr) {
      decide(m_want, nullptr);
      RG_TRY(advance());
    }
    if (m_self && !m_self_done) {
      self_wrong("missing");
    }
    return {};
  }

  // Whether the walk should go into the deferred directory `dir` (an allowed extra): only when
  // the manifest lists something under it, or the manifest file lies under it. On the walk's
  // thread, when the directory's contents would come next: the manifest entries before them are
  // judged first (nothing was found for them).
  bool
  enter(std::string_view dir)
  {
    if (m_self && m_self->path.size() > dir.size() && m_self->path.starts_with(dir)
        && m_self->path[dir.size()] == '/') {
      return true;
    }
    auto ready = start();
    if (ready) {
      ready = expected_before(dir, true);
    }
    if (!ready) {
      m_error = ready.error();
      return false;
    }
    return m_want != nullptr && m_want->path.size() > dir.size() && m_want->path.starts_with(dir)
           && m_want->path[dir.size()] == '/';
  }

  // An error the manifest gave while enter() was reading it.
  const std::optional<util::Error>&
  error() const
  {
    return m_error;
  }

private:
  util::Result<void>
  start()
  {
    if (m_error) {
      return *m_error;
    }
    if (!m_started) {
      m_started = true;
      return advance();
    }
    return {};
  }

  util::Result<void>
  advance()
  {
    auto next = m_next_expected();
    if (!next) {
      m_error = next.error();
      m_want = nullptr;
      return next.error();
    }
    m_want = *next;
    return {};
  }

  util::Result<void>
  expected_before(std::string_view path, bool inside)
  {
    while (m_want != nullptr && path_order_less(m_want->path, false, path, inside)) {
      decide(m_want, nullptr);
      RG_TRY(advance());
    }
    return {};
  }

  void
  decide(const Entry* want, const WalkItem* have)
  {
    const std::string_view path = want != nullptr ? want->path : have->entry.path;
    if (m_self && !m_self_done) {
      if (path == m_self->path && (have == nullptr || !have->contents)) {
        m_self_done = true;
        check_self(have);
        return;
      }
      if (path_order_less(m_self->path, false, path, have != nullptr && have->contents)) {
        self_wrong("missing");
      }
    }
    m_judge.judge(want, have, m_hash);
  }

  void
  check_self(const WalkItem* have)
  {
    if (have == nullptr || !have->observed) {
      self_wrong(have == nullptr ? "missing" : have->problem);
    } else if (have->entry.type != EntryType::file) {
      self_wrong(describe(have->entry));
    } else if (have->entry.device != m_self->device || have->entry.inode != m_self->inode) {
      self_wrong("another file");
    }
  }

  void
  self_wrong(std::string found)
  {
    m_self_done = true;
    m_judge.finding(m_self->path, "the manifest file itself", std::move(found));
    m_judge.count_modified();
  }

  FilesJudge& m_judge;
  NextExpected m_next_expected;
  std::optional<SelfFile> m_self;
  FilesJudge::HashDeferred m_hash;
  const Entry* m_want = nullptr;
  bool m_started = false;
  bool m_self_done = false;
  std::optional<util::Error> m_error;
};

std::string
stopped_message(std::size_t hashed)
{
  return fmt::format("stopped after {} files hashed (deadline passed or stop requested)", hashed);
}

// Return the manifest's path relative to the root when it lies inside it, decided on the paths
// as written: resolving symlinks would let a symlink at the manifest's place decide what is
// skipped.
std::optional<std::string>
self_path(const std::filesystem::path& root, const std::filesystem::path& manifest)
{
  const auto relative = std::filesystem::absolute(manifest).lexically_normal().lexically_relative(
    std::filesystem::absolute(root).lexically_normal());
  if (relative.empty() || relative == "." || *relative.begin() == "..") {
    return std::nullopt;
  }
  auto text = relative.generic_string();
  while (!text.empty() && text.back() == '/') {
    text.pop_back();
  }
  return text;
}

} // namespace

hook::CheckResult
evaluate_files(const FilesSpec& spec, const Manifest& manifest, const WalkResult& walk)
{
  if (walk.stopped) {
    const auto files = static_cast<std::size_t>(
      std::count_if(manifest.entries.begin(), manifest.entries.end(), [](const Entry& e) {
        return e.type == EntryType::file;
      }));
    return hook::CheckResult::error(fmt::format(
      "stopped after {} of {} files (deadline passed or stop requested)", walk.hashed, files));
  }
  // One item per path, as a streaming walk gives them: an entry, a problem, or both (a
  // directory whose contents could not be listed).
  std::vector<WalkItem> items;
  const auto problem_item = [](const WalkProblem& p) {
    WalkItem item;
    item.entry.path = p.path;
    item.observed = false;
    item.problem = p.message;
    return item;
  };
  auto problem = walk.problems.begin();
  for (const auto& entry : walk.entries) {
    for (; problem != walk.problems.end() && problem->path < entry.path; ++problem) {
      items.push_back(problem_item(*problem));
    }
    WalkItem item;
    item.entry = entry;
    if (problem != walk.problems.end() && problem->path == entry.path) {
      item.problem = problem->message;
      ++problem;
    }
    items.push_back(std::move(item));
  }
  for (; problem != walk.problems.end(); ++problem) {
    items.push_back(problem_item(*problem));
  }

  FilesJudge judge(spec, manifest.excludes);
  auto expected = manifest.entries.begin();
  Merge merge(judge,
              [&]() -> util::Result<const Entry*> {
                return expected == manifest.entries.end() ? nullptr : &*expected++;
              },
              std::nullopt,
              {});
  for (const auto& item : items) {
    (void)merge.observed(item);
  }
  (void)merge.finish();
  return std::move(judge).finish(manifest.digest);
}

hook::CheckResult
run_files(const FilesSpec& spec, const hook::CheckContext& ctx)
{
  const auto should_stop = [&ctx] { return ctx.should_stop(); };
  const auto manifest_error = [&](const util::Error& error, std::size_t hashed) {
    return error.code == util::Errc::cancelled ? hook::CheckResult::error(stopped_message(hashed))
                                               : hook::CheckResult::from_error(error);
  };
  auto opened = ManifestReader::open(spec.manifest, should_stop);
  if (!opened) {
    return manifest_error(opened.error(), 0);
  }
  auto& reader = **opened;
  if (spec.manifest_sha256 && *spec.manifest_sha256 != reader.digest()) {
    return hook::CheckResult::fail(
      fmt::format("{}: the manifest is not the pinned one", spec.manifest.string()),
      {{spec.manifest.string(),
        "digest sha256:" + util::to_hex(*spec.manifest_sha256),
        "digest sha256:" + util::to_hex(reader.digest())}});
  }

  std::optional<SelfFile> self;
  if (auto path = self_path(spec.root, spec.manifest)) {
    self = SelfFile{std::move(*path), reader.device(), reader.inode()};
  }
  const auto holds_self = [&self](std::string_view path) {
    return self
           && (path == self->path
               || (self->path.size() > path.size() && std::string_view(self->path).starts_with(path)
                   && self->path[path.size()] == '/'));
  };
  const util::GlobSet excluded(reader.excludes());
  const util::GlobSet allowed(spec.allow_extra);
  Merge* merge_ptr = nullptr;

  WalkOptions options;
  // The manifest's own #exclude globs are not walked; the manifest file and the directories
  // above it always are.
  options.skip = [&](std::string_view path) { return excluded.matches(path) && !holds_self(path); };
  // Allowed extras are walked into (or hashed) only when the manifest lists what is in them.
  options.defer = [&](std::string_view path) {
    return (self && path == self->path) || allowed.matches(path);
  };
  options.enter = [&merge_ptr](std::string_view path) {
    return merge_ptr != nullptr && merge_ptr->enter(path);
  };
  options.hash_files = !spec.ignore_content;
  options.should_stop = should_stop;
  unsigned workers = spec.workers.value_or(0U);
  options.workers = workers == 0 ? default_walk_workers() : workers;

  auto walk = TreeWalk::open(spec.root, std::move(options));
  if (!walk) {
    return hook::CheckResult::from_error(walk.error());
  }
  FilesJudge judge(spec, reader.excludes());
  Merge merge(
    judge,
    [&reader]() { return reader.next(); },
    self,
    [&walk](const WalkItem& item) { return (*walk)->hash(item); });
  merge_ptr = &merge;
  while (const auto* item = (*walk)->next()) {
    if (merge.error()) {
      break;
    }
    if (auto judged = merge.observed(*item); !judged) {
      break;
    }
  }
  merge_ptr = nullptr;
  if (merge.error()) {
    return manifest_error(*merge.error(), (*walk)->hashed());
  }
  if ((*walk)->stopped()) {
    return hook::CheckResult::error(stopped_message((*walk)->hashed()));
  }
  if (auto finished = merge.finish(); !finished) {
    return manifest_error(finished.error(), (*walk)->hashed());
  }
  return std::move(judge).finish(reader.digest());
}

} // namespace checks::files

namespace checks {

util::Result<std::unique_ptr<hook::Check>>
create_files_check(const config::CheckSpec& spec)
{
  RG_TRY_ASSIGN(auto parsed, files::parse_files(spec));
  return std::unique_ptr<hook::Check>(std::make_unique<files::FilesCheck>(std::move(parsed)));
}

} // namespace checks
