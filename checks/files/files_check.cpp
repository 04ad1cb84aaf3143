#include "files_check.hpp"

#include <config/fields.hpp>
#include <hook/util/glob.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
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

// Return true when `path` or one of the directories above it is in `paths`.
bool
at_or_under_any(const std::set<std::string, std::less<>>& paths, std::string_view path)
{
  for (;;) {
    if (paths.contains(path)) {
      return true;
    }
    const auto slash = path.rfind('/');
    if (slash == std::string_view::npos) {
      return false;
    }
    path = path.substr(0, slash);
  }
}

const Entry*
find_entry(const Entries& entries, std::string_view path)
{
  const auto it =
    std::lower_bound(entries.begin(), entries.end(), path, [](const Entry& e, std::string_view p) {
      return e.path < p;
    });
  return it != entries.end() && it->path == path ? &*it : nullptr;
}

// Return true when `entries` has `path` itself or anything under it.
bool
covers(const Entries& entries, std::string_view path)
{
  const auto it =
    std::lower_bound(entries.begin(), entries.end(), path, [](const Entry& e, std::string_view p) {
      return e.path < p;
    });
  if (it == entries.end()) {
    return false;
  }
  if (it->path == path) {
    return true;
  }
  // Entries under path/ sort right after path itself and anything between shares the prefix.
  const std::string prefix = std::string(path) + "/";
  const auto under = std::lower_bound(
    it, entries.end(), prefix, [](const Entry& e, const std::string& p) { return e.path < p; });
  return under != entries.end() && std::string_view(under->path).starts_with(prefix);
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

hook::CheckResult
evaluate_files(const FilesSpec& spec, const Manifest& manifest, const WalkResult& walk)
{
  const auto& expected = manifest.entries;
  const auto& observed = walk.entries;
  const auto allowed_extra = [&](std::string_view path) {
    return util::glob_match_any(spec.allow_extra, path)
           || util::glob_match_any(manifest.excludes, path);
  };

  if (walk.stopped) {
    const auto files = static_cast<std::size_t>(std::count_if(
      expected.begin(), expected.end(), [](const Entry& e) { return e.type == EntryType::file; }));
    return hook::CheckResult::error(fmt::format(
      "stopped after {} of {} files (deadline passed or stop requested)", walk.hashed, files));
  }

  // Unreadable paths outside the release's business (allowed extras) do not count.
  std::vector<const WalkProblem*> problems;
  std::set<std::string, std::less<>> problem_paths;
  for (const auto& problem : walk.problems) {
    if (find_entry(expected, problem.path) == nullptr && allowed_extra(problem.path)) {
      continue;
    }
    problems.push_back(&problem);
    problem_paths.insert(problem.path);
  }

  Findings findings(spec.max_findings);
  std::size_t next_problem = 0;
  // Findings come out in path order: problems are slotted in before the first later path.
  const auto flush_problems = [&](const std::string* before) {
    while (next_problem < problems.size()
           && (before == nullptr || problems[next_problem]->path <= *before)) {
      findings.add(problems[next_problem]->path, "readable", problems[next_problem]->message);
      ++next_problem;
    }
  };

  std::size_t missing = 0;
  std::size_t extra = 0;
  std::size_t modified = 0;
  std::size_t unverified = 0;
  auto want = expected.begin();
  auto have = observed.begin();
  while (want != expected.end() || have != observed.end()) {
    if (have == observed.end() || (want != expected.end() && want->path < have->path)) {
      flush_problems(&want->path);
      // Under an unreadable directory nothing is known to be missing: the problem says it all.
      if (!at_or_under_any(problem_paths, want->path)) {
        ++missing;
        findings.add(want->path, "present", "missing");
      }
      ++want;
      continue;
    }
    if (want == expected.end() || have->path < want->path) {
      flush_problems(&have->path);
      if (!allowed_extra(have->path)) {
        ++extra;
        findings.add(have->path, "absent", describe(*have));
      }
      ++have;
      continue;
    }
    flush_problems(&want->path);
    bool changed = false;
    const auto differ = [&](std::string expected_text, std::string found_text) {
      changed = true;
      findings.add(want->path, std::move(expected_text), std::move(found_text));
    };
    if (want->type != have->type) {
      differ(describe(*want), describe(*have));
    } else {
      if (!spec.ignore_mode && want->mode != have->mode) {
        differ(fmt::format("mode {:04o}", want->mode), fmt::format("mode {:04o}", have->mode));
      }
      if (!spec.ignore_owner && (want->uid != have->uid || want->gid != have->gid)) {
        differ(fmt::format("owner {}:{}", want->uid, want->gid),
               fmt::format("owner {}:{}", have->uid, have->gid));
      }
      if (want->type == EntryType::symlink && want->target != have->target) {
        differ(describe(*want), describe(*have));
      }
      if (want->type == EntryType::file && !spec.ignore_content) {
        if (want->size != have->size) {
          differ(fmt::format("size {}", want->size), fmt::format("size {}", have->size));
        } else if (want->sha256 && have->sha256) {
          if (*want->sha256 != *have->sha256) {
            differ(sha256_text(*want->sha256), sha256_text(*have->sha256));
          }
        } else if (!problem_paths.contains(want->path)) {
          // Not hashed and no reason recorded: never let that pass as "unchanged".
          ++unverified;
          findings.add(
            want->path, want->sha256 ? sha256_text(*want->sha256) : "sha256", "not hashed");
        }
      }
    }
    if (changed) {
      ++modified;
    }
    ++want;
    ++have;
  }
  flush_problems(nullptr);

  const auto counts = fmt::format("{} missing, {} extra, {} modified of {}",
                                  missing,
                                  extra,
                                  modified,
                                  entries_text(expected.size()));
  const auto unreadable = problems.size() + unverified;
  if (unreadable > 0) {
    return std::move(findings).result(
      hook::Status::error,
      fmt::format("{} could not be read; {}", plural(unreadable, "path"), counts));
  }
  if (missing + extra + modified > 0) {
    return std::move(findings).result(hook::Status::fail, counts);
  }
  return std::move(findings).result(hook::Status::pass,
                                    fmt::format("{} match the manifest (digest sha256:{})",
                                                entries_text(expected.size()),
                                                util::to_hex(manifest.digest)));
}

hook::CheckResult
run_files(const FilesSpec& spec, const hook::CheckContext& ctx)
{
  auto manifest = read_manifest(spec.manifest);
  if (!manifest) {
    return hook::CheckResult::from_error(manifest.error());
  }
  if (spec.manifest_sha256 && *spec.manifest_sha256 != manifest->digest) {
    return hook::CheckResult::fail(
      fmt::format("{}: the manifest is not the pinned one", spec.manifest.string()),
      {{spec.manifest.string(),
        "digest sha256:" + util::to_hex(*spec.manifest_sha256),
        "digest sha256:" + util::to_hex(manifest->digest)}});
  }

  // A manifest shipped inside the tree cannot list itself with its own digest: leave it out.
  std::string self;
  std::error_code root_error;
  std::error_code manifest_error;
  const auto real_root = std::filesystem::canonical(spec.root, root_error);
  const auto real_manifest = std::filesystem::canonical(spec.manifest, manifest_error);
  if (!root_error && !manifest_error) {
    const auto relative = real_manifest.lexically_relative(real_root);
    if (!relative.empty() && *relative.begin() != ".." && relative != ".") {
      self = relative.generic_string();
      auto& entries = manifest->entries;
      entries.erase(std::remove_if(entries.begin(),
                                   entries.end(),
                                   [&](const Entry& e) { return e.path == self; }),
                    entries.end());
    }
  }

  const auto& expected = manifest->entries;
  WalkOptions options;
  options.skip = [&](std::string_view path) {
    if (path == self || util::glob_match_any(manifest->excludes, path)) {
      return true;
    }
    // An allowed extra subtree the manifest knows nothing of need not be walked at all.
    return util::glob_match_any(spec.allow_extra, path) && !covers(expected, path);
  };
  if (!spec.ignore_content) {
    options.want_sha256 = [&](const Entry& entry) {
      const auto* want = find_entry(expected, entry.path);
      return want != nullptr && want->type == EntryType::file && want->size == entry.size;
    };
  }
  options.should_stop = [&ctx] { return ctx.should_stop(); };
  unsigned workers = spec.workers.value_or(0U);
  if (workers == 0) {
    workers = std::max(1U, std::thread::hardware_concurrency());
  }
  options.workers = workers;

  auto walk = walk_tree(spec.root, options);
  if (!walk) {
    return hook::CheckResult::from_error(walk.error());
  }
  return evaluate_files(spec, *manifest, *walk);
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
