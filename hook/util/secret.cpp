#include "secret.hpp"

#include "file.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace util {

namespace {

constexpr std::size_t k_secret_size_limit = 64 * 1024;

} // namespace

std::string
SecretSource::describe() const
{
  if (kind == Kind::file) {
    return fmt::format("file {}", name);
  }
  // A token of letters and digits is a valid name too: only a name in capitals is surely a name.
  const bool capitals = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
  return capitals ? fmt::format("environment variable {}", name)
                  : std::string("environment variable (its name is not shown, as it is not in "
                                "capitals: it may be a token)");
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

bool
is_variable_name(std::string_view name)
{
  const auto letter = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  };
  return !name.empty() && letter(name.front())
         && std::all_of(
           name.begin(), name.end(), [&](char c) { return letter(c) || (c >= '0' && c <= '9'); });
}

namespace {

constexpr std::string_view k_redacted = "<redacted>";
// The longest XML/HTML reference read: "&#x10FFFF;" and "&#1114111;" are 10 characters.
constexpr std::size_t k_longest_reference = 10;

// The bytes an escape sequence in a text stands for.
struct Decoded
{
  enum class Outcome { none, decoded, incomplete };
  Outcome outcome = Outcome::none;
  std::string bytes;        // what it stands for (a UTF-8 sequence for a code point)
  std::size_t consumed = 0; // its length in the text
};

// Return the value of the `count` hex digits at `text[at]`, -1 when one is not a hex digit, or -2
// when `text` ends first (the digits seen so far being hex digits).
long
hex_value(std::string_view text, std::size_t at, std::size_t count)
{
  long value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (at + i >= text.size()) {
      return -2;
    }
    const int digit = hex_digit(text[at + i]);
    if (digit < 0) {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

Decoded
code_point(char32_t value, std::size_t consumed)
{
  if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    return {};
  }
  Decoded decoded{Decoded::Outcome::decoded, {}, consumed};
  append_utf8(decoded.bytes, value);
  return decoded;
}

Decoded
byte(long value, std::size_t consumed)
{
  return {Decoded::Outcome::decoded, std::string(1, static_cast<char>(value)), consumed};
}

Decoded
incomplete()
{
  return {Decoded::Outcome::incomplete, {}, 0};
}

// Decode the backslash escape at `text[at]`: JSON's, C's and printable()'s.
Decoded
decode_backslash(std::string_view text, std::size_t at)
{
  if (at + 1 >= text.size()) {
    return incomplete();
  }
  const char c = text[at + 1];
  switch (c) {
  case '"':
  case '\\':
  case '/':
  case '\'':
    return byte(c, 2);
  case 'b':
    return byte('\b', 2);
  case 'f':
    return byte('\f', 2);
  case 'n':
    return byte('\n', 2);
  case 'r':
    return byte('\r', 2);
  case 't':
    return byte('\t', 2);
  case 'x': {
    const auto value = hex_value(text, at + 2, 2);
    return value == -2 ? incomplete() : value < 0 ? Decoded{} : byte(value, 4);
  }
  case 'u': {
    const auto high = hex_value(text, at + 2, 4);
    if (high < 0) {
      return high == -2 ? incomplete() : Decoded{};
    }
    if (high < 0xD800 || high > 0xDBFF) {
      return code_point(static_cast<char32_t>(high), 6);
    }
    // A surrogate pair: JSON's form of a code point past U+FFFF.
    const auto next = text.substr(at + 6, 2);
    if (next.size() < 2 && std::string_view("\\u").starts_with(next)) {
      return incomplete();
    }
    if (next != "\\u") {
      return {};
    }
    const auto low = hex_value(text, at + 8, 4);
    if (low < 0) {
      return low == -2 ? incomplete() : Decoded{};
    }
    if (low < 0xDC00 || low > 0xDFFF) {
      return {};
    }
    return code_point(static_cast<char32_t>(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)),
                      12);
  }
  default:
    return {};
  }
}

// Decode the XML/HTML reference at `text[at]` ('&').
Decoded
decode_reference(std::string_view text, std::size_t at)
{
  // Look no further than the longest reference: a text full of '&' is read once, not once each.
  const auto window = text.substr(at, k_longest_reference);
  const auto end = window.find(';');
  if (end == std::string_view::npos) {
    // The text ends before a ';': a reference in the making, if what is there could start one.
    const auto begun = window.substr(1);
    const bool plausible =
      at + window.size() == text.size() && std::all_of(begun.begin(), begun.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '#';
      });
    return plausible ? incomplete() : Decoded{};
  }
  const auto reference = window.substr(1, end - 1);
  const auto consumed = end + 1;
  static constexpr std::array<std::pair<std::string_view, char>, 5> k_named = {
    {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}}};
  for (const auto& [name, value] : k_named) {
    if (reference == name) {
      return byte(value, consumed);
    }
  }
  if (reference.size() < 2 || reference.front() != '#') {
    return {};
  }
  char32_t value = 0;
  const bool hex = reference[1] == 'x' || reference[1] == 'X';
  const auto digits = reference.substr(hex ? 2 : 1);
  if (digits.empty()) {
    return {};
  }
  for (const char c : digits) {
    const int digit = hex ? hex_digit(c) : (c >= '0' && c <= '9' ? c - '0' : -1);
    if (digit < 0) {
      return {};
    }
    value = value * (hex ? 16U : 10U) + static_cast<char32_t>(digit);
  }
  return code_point(value, consumed);
}

// Decode the escape at `text[at]`, whatever its kind.
Decoded
decode_escape(std::string_view text, std::size_t at)
{
  switch (text[at]) {
  case '%': {
    const auto value = hex_value(text, at + 1, 2);
    return value == -2 ? incomplete() : value < 0 ? Decoded{} : byte(value, 3);
  }
  case '+':
    return byte(' ', 1);
  case '\\':
    return decode_backslash(text, at);
  case '&':
    return decode_reference(text, at);
  default:
    return {};
  }
}

bool
starts_escape(char c)
{
  return c == '%' || c == '+' || c == '\\' || c == '&';
}

// Return the end of the longest stretch of `text` from `at` that spells `secret`, each byte as is
// or encoded; with `cut`, a stretch that reaches the end of `text` spelling the start of `secret`
// counts too. 0 when there is none.
std::size_t
match_at(std::string_view text, std::size_t at, std::string_view secret, bool cut)
{
  if (text[at] != secret.front()) {
    // The common case, decided at once: neither the byte nor the escape there starts the secret.
    if (!starts_escape(text[at])) {
      return 0;
    }
    const auto first = decode_escape(text, at);
    if (first.outcome != Decoded::Outcome::decoded || !secret.starts_with(first.bytes)) {
      return 0;
    }
  }
  // A depth-first search over (position in text, bytes of the secret spelled): a byte may be
  // written as is or encoded, and both may fit ("%25" is '%', and '%' followed by "25").
  struct State
  {
    std::size_t in_text;
    std::size_t in_secret;
    bool operator==(const State&) const = default;
  };
  std::vector<State> pending{{at, 0}};
  std::vector<State> seen{{at, 0}};
  std::size_t best = 0;
  const auto visit = [&](State next) {
    if (std::find(seen.begin(), seen.end(), next) == seen.end()) {
      seen.push_back(next);
      pending.push_back(next);
    }
  };
  while (!pending.empty()) {
    const auto [i, j] = pending.back();
    pending.pop_back();
    if (j == secret.size()) {
      best = std::max(best, i);
      continue;
    }
    if (i == text.size()) {
      if (cut && j > 0) {
        best = text.size(); // the text was cut within the secret
      }
      continue;
    }
    if (text[i] == secret[j]) {
      visit({i + 1, j + 1});
    }
    if (!starts_escape(text[i])) {
      continue;
    }
    const auto decoded = decode_escape(text, i);
    if (decoded.outcome == Decoded::Outcome::incomplete) {
      if (cut && j > 0) {
        best = text.size(); // cut within an escape, within the secret
      }
    } else if (decoded.outcome == Decoded::Outcome::decoded
               && secret.substr(j).starts_with(decoded.bytes)) {
      visit({i + decoded.consumed, j + decoded.bytes.size()});
    }
  }
  return best;
}

std::string
base64(std::string_view data)
{
  constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const auto group = (static_cast<unsigned char>(data[i]) << 16U)
                       | (static_cast<unsigned char>(data[i + 1]) << 8U)
                       | static_cast<unsigned char>(data[i + 2]);
    for (const unsigned shift : {18U, 12U, 6U, 0U}) {
      out += k_alphabet[(group >> shift) & 0x3FU];
    }
  }
  if (const auto rest = data.size() - i; rest > 0) {
    unsigned group = static_cast<unsigned char>(data[i]) << 16U;
    if (rest == 2) {
      group |= static_cast<unsigned char>(data[i + 1]) << 8U;
    }
    out += k_alphabet[(group >> 18U) & 0x3FU];
    out += k_alphabet[(group >> 12U) & 0x3FU];
    out += rest == 2 ? k_alphabet[(group >> 6U) & 0x3FU] : '=';
    out += '=';
  }
  return out;
}

} // namespace

Redactor::Redactor(std::span<const Secret> secrets)
{
  for (const auto& secret : secrets) {
    add(secret);
  }
}

void
Redactor::add(const Secret& secret)
{
  const auto& value = secret.reveal();
  if (value.empty()) {
    return;
  }
  for (const auto& known : m_secrets) {
    if (known.reveal() == value) {
      return;
    }
  }
  m_secrets.push_back(secret);
}

void
Redactor::add_basic_credentials(std::string_view user, const Secret& password)
{
  add(Secret(base64(fmt::format("{}:{}", user, password.reveal()))));
}

std::string
Redactor::redact(std::string_view text, bool cut) const
{
  if (m_secrets.empty()) {
    return std::string(text);
  }
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = 0;
    for (const auto& secret : m_secrets) {
      end = std::max(end, match_at(text, at, secret.reveal(), cut));
    }
    if (end > at) {
      out += k_redacted;
      at = end;
    } else {
      out += text[at];
      ++at;
    }
  }
  return out;
}

std::string
Redactor::excerpt(std::string_view text, bool truncated, std::size_t limit) const
{
  return printable_excerpt(redact(text, truncated), truncated, limit);
}

std::string
Redactor::printable(std::string_view text, Quotes quotes) const
{
  return util::printable(redact(text), quotes);
}

std::string
redact(std::string_view text, std::span<const Secret> secrets)
{
  return Redactor(secrets).redact(text);
}

} // namespace util
