#include "model.hpp"

#include <hook/util/text.hpp>

#include <boost/regex.hpp>
#include <fmt/format.h>

#include <filesystem>

namespace checks::webserver {

namespace {

// Return true when `text` matches `pattern`, where '*' is any run of characters and '?' one
// character (Apache's ServerAlias wildcards; no sets, unlike fnmatch).
bool
wildcard_match(std::string_view pattern, std::string_view text)
{
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') {
    ++p;
  }
  return p == pattern.size();
}

bool
nginx_name_matches(std::string_view pattern, std::string_view name)
{
  if (pattern.empty() || pattern == "_") {
    return false;
  }
  if (pattern.starts_with("~")) {
    try {
      const boost::regex regex(
        pattern.begin() + 1, pattern.end(), boost::regex::perl | boost::regex::icase);
      return boost::regex_search(name.begin(), name.end(), regex);
    } catch (const std::exception&) {
      return false; // nginx -t accepted it with PCRE; Boost.Regex cannot judge it
    }
  }
  const auto lowered = util::to_lower(pattern);
  const std::string_view wanted(lowered);
  if (wanted.starts_with("*.")) {
    return name.size() > wanted.size() - 1 && name.ends_with(wanted.substr(1));
  }
  if (wanted.starts_with(".")) {
    return name == wanted.substr(1) || (name.size() > wanted.size() && name.ends_with(wanted));
  }
  if (wanted.ends_with(".*")) {
    return name.size() > wanted.size() - 1 && name.starts_with(wanted.substr(0, wanted.size() - 1));
  }
  return name == wanted;
}

} // namespace

std::string
Place::text() const
{
  return line == 0 ? file : fmt::format("{}:{}", file, line);
}

bool
serves_name(const VirtualServer& server, std::string_view name)
{
  const auto lowered = util::to_lower(name);
  for (const auto& candidate : server.names) {
    switch (server.syntax) {
    case NameSyntax::nginx:
      if (nginx_name_matches(candidate, lowered)) {
        return true;
      }
      break;
    case NameSyntax::apache:
      if (wildcard_match(util::to_lower(candidate), lowered)) {
        return true;
      }
      break;
    case NameSyntax::exact:
      if (util::to_lower(candidate) == lowered) {
        return true;
      }
      break;
    }
  }
  return false;
}

std::string
absolute_path(std::string_view path, std::string_view base)
{
  if (path.empty()) {
    return {};
  }
  const std::filesystem::path given(path);
  if (given.is_absolute() || base.empty()) {
    return given.lexically_normal().string();
  }
  return (std::filesystem::path(base) / given).lexically_normal().string();
}

} // namespace checks::webserver
