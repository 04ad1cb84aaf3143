// The filesystem probe: how the files kind reads a release manifest and walks an application
// tree. The real one opens the manifest as ManifestReader::open does and walks with TreeWalk;
// unit tests install a fake that serves a manifest text and a list of walked items.
#pragma once

#include <hook/release/manifest.hpp>
#include <hook/release/tree_walk.hpp>
#include <hook/util/result.hpp>

#include <filesystem>
#include <functional>
#include <memory>

namespace release {

// --- Interface ---

class Filesystem
{
public:
  virtual ~Filesystem() = default;

  // Return the real filesystem, for hook::Probes.
  static std::shared_ptr<Filesystem> make_real();

  // Open the manifest at `path` and read its header (ManifestReader::open's rules).
  virtual util::Result<std::unique_ptr<ManifestReader>>
  open_manifest(const std::filesystem::path& path, std::function<bool()> should_stop) = 0;

  // Start walking the tree at `root` (TreeWalk::open's rules).
  virtual util::Result<std::unique_ptr<Walk>> walk(const std::filesystem::path& root,
                                                   WalkOptions options) = 0;
};

} // namespace release
