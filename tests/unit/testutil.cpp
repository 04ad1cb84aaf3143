#include "testutil.hpp"

#include <fstream>
#include <random>

namespace testutil {

hook::CheckContext
context(std::chrono::milliseconds left)
{
  hook::CheckContext ctx;
  ctx.deadline = util::Clock::now() + left;
  return ctx;
}

std::vector<std::string>
described(const std::vector<hook::Expectation>& expectations)
{
  std::vector<std::string> texts;
  for (const auto& expectation : expectations) {
    texts.push_back(expectation.describe());
  }
  return texts;
}

TempDir::TempDir()
{
  std::random_device random;
  m_path = std::filesystem::temp_directory_path()
           / ("readygate-test-" + std::to_string(random()) + std::to_string(random()));
  std::filesystem::create_directories(m_path);
}

TempDir::~TempDir()
{
  std::error_code ignored;
  std::filesystem::remove_all(m_path, ignored);
}

void
write_file(const std::filesystem::path& path, std::string_view content)
{
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  REQUIRE(out.good());
}

config::CheckSpec
spec_from(std::string_view toml, const std::filesystem::path& base_directory)
{
  auto parsed = config::parse_config(toml, "test.toml", base_directory);
  INFO(error_message(parsed));
  REQUIRE(parsed);
  REQUIRE(parsed->checks.size() == 1);
  return parsed->checks.front();
}

} // namespace testutil
