// The `files` kind: is the application tree exactly the release? The tree under `root` is walked
// (never following a symlink inside it) and compared with the release manifest written by
// `readygate manifest create`: missing entries, extra entries, and modified ones (type, mode,
// owner uid:gid, size, SHA-256 of the content, symlink target, device number). mtime is never
// compared: a deploy rewrites it without changing the release. The manifest and the walk are
// both in manifest order and compared as a merge: memory does not grow with the tree.
//
// fail:  the manifest was read and verified, the whole tree was observed, and something differs
//        (or `manifest_sha256` pins a different manifest).
// error: the manifest is missing, unreadable, not a regular file, too large, truncated or edited
//        (its #digest does not match, found at its end after the comparison), the root cannot be
//        opened, any path could not be read (EACCES, EIO, vanished mid-walk, longer than the
//        walk's limit), or the deadline / a stop came first. Error outranks fail: damage found next
//        to an unreadable path is reported in the findings, with status error.
//
//   [[check]]
//   id = "app-files"
//   kind = "files"
//   root = "/srv/app"                                 # may be a symlink to the release dir
//   manifest = "/srv/app/.readygate/files.manifest"   # read at run time; may ship in the tree
//   manifest_sha256 = "sha256:3f1c..."                # optional: pin the manifest's #digest
//   allow_extra = ["var/cache/**", "*.pid"]           # extra paths that are not reported
//   ignore = ["owner"]                                # of "owner", "mode", "content"
//   max_findings = 20
//   workers = 0                                       # walking threads; 0: one per core
//
// Paths matching the manifest's own #exclude globs are not walked. A manifest lying inside the
// root (by its path as written) is left out of the comparison (it cannot record its own digest)
// only as a regular file that is the file that was read; anything else there is a finding.
#pragma once

#include <checks/files/manifest.hpp>
#include <checks/files/tree_walk.hpp>
#include <config/config.hpp>
#include <config/keys.hpp>
#include <hook/check.hpp>
#include <hook/util/result.hpp>
#include <hook/util/sha256.hpp>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace checks::files {

// --- Interface ---

struct FilesSpec
{
  std::filesystem::path root;
  std::filesystem::path manifest;
  std::optional<util::Sha256Digest> manifest_sha256; // the manifest's #digest must be this
  std::vector<std::string> allow_extra;              // globs of extra paths not reported
  bool ignore_owner = false;
  bool ignore_mode = false;
  bool ignore_content = false; // neither size nor sha256 of files (no hashing at all)
  std::size_t max_findings = 20;
  std::optional<unsigned> workers; // unset or 0: one per core
};

// Return the keys of the files kind.
config::KeyTable files_keys();

// Validate the keys of `spec` and return the files spec.
util::Result<FilesSpec> parse_files(const config::CheckSpec& spec);

// Judge the collected walk `walk` of the tree against `manifest` under `spec`'s rules
// (allow_extra, ignore, max_findings), with the same merge run_files streams through. Pure:
// touches nothing.
hook::CheckResult
evaluate_files(const FilesSpec& spec, const Manifest& manifest, const WalkResult& walk);

// Stream the manifest and the walk of the tree through the judge; honours `ctx`'s deadline and
// stop.
hook::CheckResult run_files(const FilesSpec& spec, const hook::CheckContext& ctx);

} // namespace checks::files

namespace checks {

// Validate the keys of `spec` and build a files check.
util::Result<std::unique_ptr<hook::Check>> create_files_check(const config::CheckSpec& spec);

} // namespace checks
