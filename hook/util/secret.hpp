// Secrets (tokens, passwords, DSNs): read only from an environment variable or a file named by
// a `*_env` / `*_file` key, never from the config itself, and never printable: formatting a
// Secret gives "<redacted>", so no report, log line or error message can carry one by mistake.
#pragma once

#include <hook/util/duration.hpp>
#include <hook/util/result.hpp>

#include <fmt/format.h>

#include <ostream>
#include <span>
#include <string>
#include <string_view>

namespace util {

// --- Interface ---

class Secret
{
public:
  Secret() = default;
  explicit Secret(std::string value)
      : m_value(std::move(value))
  {}

  // The value, for the one call that must send it (a header, a connection). Never format it.
  const std::string&
  reveal() const
  {
    return m_value;
  }
  bool
  empty() const
  {
    return m_value.empty();
  }

private:
  std::string m_value;
};

inline std::ostream&
operator<<(std::ostream& out, const Secret&)
{
  return out << "<redacted>";
}

// Where a secret comes from, as the config names it.
struct SecretSource
{
  enum class Kind { env, file };
  Kind kind = Kind::env;
  std::string name; // the variable's name, or the file's path

  // Return "environment variable API_TOKEN" or "file /etc/readygate/token", for messages.
  std::string describe() const;

  // Read the secret now (by `deadline`). Errors name the source, never the value: a variable
  // that is unset or empty, a file that is missing, not a regular file, larger than 64 KiB, or
  // readable by every user (mode o+r: the secret is not one). One trailing newline is dropped.
  Result<Secret> read(Clock::time_point deadline) const;
};

// Return `text` with every occurrence of each non-empty secret of `secrets` replaced by
// "<redacted>": for text a server or a command sent back (an echoed header, a DSN in an error).
std::string redact(std::string text, std::span<const Secret> secrets);

} // namespace util

template <>
struct fmt::formatter<util::Secret> : fmt::formatter<std::string_view>
{
  template <typename Context>
  auto
  format(const util::Secret&, Context& context) const
  {
    return fmt::formatter<std::string_view>::format("<redacted>", context);
  }
};
