#include "filesystem.hpp"

namespace release {

namespace {

class RealFilesystem final : public Filesystem
{
public:
  util::Result<std::unique_ptr<ManifestReader>>
  open_manifest(const std::filesystem::path& path, std::function<bool()> should_stop) override
  {
    return ManifestReader::open(path, std::move(should_stop));
  }

  util::Result<std::unique_ptr<Walk>>
  walk(const std::filesystem::path& root, WalkOptions options) override
  {
    RG_TRY_ASSIGN(auto opened, TreeWalk::open(root, std::move(options)));
    return std::unique_ptr<Walk>(std::move(opened));
  }
};

} // namespace

std::shared_ptr<Filesystem>
Filesystem::make_real()
{
  return std::make_shared<RealFilesystem>();
}

} // namespace release
