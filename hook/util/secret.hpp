// Secrets (tokens, passwords, DSNs): read only from an environment variable or a file named by
// a `*_env` / `*_file` key, never from the config itself, and never printable: formatting a
// Secret gives "<redacted>", so no report, log line or error message can carry one by mistake.
#pragma once

#include <hook/util/duration.hpp>
#include <hook/util/result.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

  // Return "environment variable API_TOKEN" or "file /etc/readygate/token", for messages. A
  // variable's name not in capitals is not shown: a token of letters and digits written where the
  // name belongs passes for a name.
  std::string describe() const;

  // Read the secret now (by `deadline`). Errors name the source, never the value: a variable
  // that is unset or empty, a file that is missing, not a regular file, larger than 64 KiB, or
  // readable by every user (mode o+r: the secret is not one). One trailing newline is dropped.
  Result<Secret> read(Clock::time_point deadline) const;
};

// Return true when `name` can name an environment variable portably (POSIX: a letter or '_',
// then letters, digits and '_'). A `*_env` key holding anything else is a mistake, often the
// secret itself written in its place.
bool is_variable_name(std::string_view name);

// Finds secrets in text that came from outside (a response a server or a proxy sent back, a
// command's output, a library's error message) in the forms they are echoed in, so that they are
// taken out of the raw text before anything escapes or cuts it.
class Redactor
{
public:
  Redactor() = default;
  explicit Redactor(std::span<const Secret> secrets);

  // Also find `secret`.
  void add(const Secret& secret);
  // Also find the base64 of "`user`:`password`", the form Basic authentication sends.
  void add_basic_credentials(std::string_view user, const Secret& password);
  bool
  empty() const
  {
    return m_secrets.empty();
  }

  // Return `text` with "<redacted>" for each stretch of it that spells a secret: as is,
  // percent-encoded (hex digits in either case, '+' for a space), escaped as JSON, C or
  // printable() write it (\" \\ \/ \' \b \f \n \r \t \xHH, \uHHHH with surrogate pairs), or as
  // XML/HTML references (&amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;), in any mix. With `cut`
  // (`text` is the first part of something longer), a tail of `text` that spells the start of a
  // secret, however short, is redacted too: no prefix of a secret is left at the cut.
  std::string redact(std::string_view text, bool cut = false) const;

  // Return printable_excerpt() of the redacted `text`: secrets are taken out of the raw text, then
  // it is escaped and cut, so that no escape hides one and no cut leaves a part of one.
  std::string excerpt(std::string_view text, bool truncated, std::size_t limit = 200) const;
  // Return printable() of the redacted `text`.
  std::string printable(std::string_view text, Quotes quotes = Quotes::keep) const;

private:
  std::vector<Secret> m_secrets; // non-empty, no duplicates
};

// Return `text` with "<redacted>" for each of `secrets`, as Redactor::redact finds them: for text a
// server or a command sent back (an echoed header, a DSN in an error).
std::string redact(std::string_view text, std::span<const Secret> secrets);

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
