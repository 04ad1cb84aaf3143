#include "secret.hpp"

#include "file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace util {

namespace {

constexpr std::size_t k_secret_size_limit = 64 * 1024;

} // namespace

std::string
SecretSource::describe() const
{
  return kind == Kind::env ? fmt::format("environment variable {}", name)
                           : fmt::format("file {}", name);
}

Result<Secret>
SecretSource::read(Clock::time_point deadline) const
{
  if (kind == Kind::env) {
    const char* value = std::getenv(name.c_str()); // NOLINT(concurrency-mt-unsafe)
    if (value == nullptr || *value == '\0') {
      return make_error(Errc::config, fmt::format("the secret's {} is not set", describe()));
    }
    return Secret(value);
  }
  struct stat info
  {
  };
  if (::stat(name.c_str(), &info) == 0 && (info.st_mode & S_IROTH) != 0) {
    return make_error(Errc::permission,
                      fmt::format("{}: a secret readable by every user (mode {:04o}); chmod o-r it",
                                  name,
                                  info.st_mode & 07777));
  }
  RG_TRY_ASSIGN(auto text, read_small_file(name, k_secret_size_limit, deadline));
  if (text.ends_with('\n')) {
    text.pop_back();
    if (text.ends_with('\r')) {
      text.pop_back();
    }
  }
  if (text.empty()) {
    return make_error(Errc::config, fmt::format("{}: the secret file is empty", name));
  }
  return Secret(std::move(text));
}

std::string
redact(std::string text, std::span<const Secret> secrets)
{
  for (const auto& secret : secrets) {
    const auto& value = secret.reveal();
    if (value.empty()) {
      continue;
    }
    for (auto at = text.find(value); at != std::string::npos; at = text.find(value, at)) {
      text.replace(at, value.size(), "<redacted>");
      at += 10;
    }
  }
  return text;
}

} // namespace util
