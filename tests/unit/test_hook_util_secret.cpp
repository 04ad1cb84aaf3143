#include "testutil.hpp"

#include <hook/util/secret.hpp>
#include <hook/util/text.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

namespace {

// A secret with what escaping changes: a backslash, a quote, a tab, a space, '&', '<', '%', '+',
// '/' and a non-ASCII letter.
const std::string k_secret = "tok\\en\"q\tx y&<%+/\xc3\xa9-4f1c9a";

util::Redactor
redactor_of(std::string secret)
{
  const std::vector<util::Secret> secrets{util::Secret(std::move(secret))};
  return util::Redactor(secrets);
}

// Return `text` with every byte percent-encoded, hex digits in `upper` or lower case.
std::string
percent_encoded(std::string_view text, bool upper)
{
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out += upper ? fmt::format("%{:02X}", byte) : fmt::format("%{:02x}", byte);
  }
  return out;
}

} // namespace

TEST_CASE("util::is_variable_name: POSIX-portable names only", "[secret]")
{
  CHECK(util::is_variable_name("DATABASE_URL"));
  CHECK(util::is_variable_name("_x9"));
  CHECK(util::is_variable_name("a"));
  CHECK_FALSE(util::is_variable_name(""));
  CHECK_FALSE(util::is_variable_name("9LIVES"));
  CHECK_FALSE(util::is_variable_name("API-TOKEN"));
  CHECK_FALSE(util::is_variable_name("A B"));
  CHECK_FALSE(util::is_variable_name("A=B"));
  CHECK_FALSE(util::is_variable_name("postgresql://app:pw@db/app"));
  CHECK_FALSE(util::is_variable_name("ghp_token\n"));
  CHECK_FALSE(util::is_variable_name(std::string("A\0B", 3)));
}

TEST_CASE("util::Redactor: a secret as sent, and in every form a server or a proxy echoes it",
          "[secret]")
{
  const auto redactor = redactor_of(k_secret);
  const auto redacted = [&](const std::string& echoed) {
    return redactor.redact("before " + echoed + " after");
  };
  const std::string expected = "before <redacted> after";
  // As sent.
  CHECK(redacted(k_secret) == expected);
  // Percent-encoded, upper and lower case hex digits, or only what a URL must encode, '+' for
  // the space, as a query string or a form has it.
  CHECK(redacted(percent_encoded(k_secret, true)) == expected);
  CHECK(redacted(percent_encoded(k_secret, false)) == expected);
  CHECK(redacted("tok%5Cen%22q%09x+y%26%3C%25%2B%2F%C3%A9-4f1c9a") == expected);
  CHECK(redacted("tok%5cen%22q%09x%20y%26%3c%25%2b/%c3%a9-4f1c9a") == expected);
  // JSON-escaped: as Python's json.dumps writes it (non-ASCII as \uXXXX), as PHP does (\/), and
  // as printable() writes it (\xNN for a control byte).
  CHECK(redacted(R"(tok\\en\"q\tx y&<%+/\u00e9-4f1c9a)") == expected);
  CHECK(redacted(R"(tok\\en\"q\tx y&<%+\/\u00E9-4f1c9a)") == expected);
  CHECK(redacted(R"(tok\\en\"q\u0009x y\u0026\u003c%+/é-4f1c9a)") == expected);
  CHECK(redacted(R"(tok\\en\"q\x09x y&<%+/é-4f1c9a)") == expected);
  CHECK(redacted(util::printable(k_secret, util::Quotes::escape)) == expected);
  CHECK(redacted(util::printable_excerpt(k_secret, false)) == expected);
  // XML/HTML-escaped: named, decimal and hex references.
  CHECK(redacted("tok\\en&quot;q\tx y&amp;&lt;%+/\xc3\xa9-4f1c9a") == expected);
  CHECK(redacted("tok\\en&#34;q&#9;x y&#x26;&#X3C;%+/&#233;-4f1c9a") == expected);
  CHECK(redacted("tok\\en&#x22;q\tx y&amp;&lt;%+/&#xE9;-4f1c9a") == expected);
  // Each occurrence, whatever the form.
  CHECK(redactor.redact(k_secret + "|" + percent_encoded(k_secret, false) + "|" + k_secret)
        == "<redacted>|<redacted>|<redacted>");
}

TEST_CASE("util::Redactor: surrogate pairs, and a byte written as itself or as an escape",
          "[secret]")
{
  const auto rocket = redactor_of("go\xF0\x9F\x9A\x80now");
  CHECK(rocket.redact(R"(x go\ud83d\ude80now y)") == "x <redacted> y");
  CHECK(rocket.redact(R"(x go\ud83dnow y)") == R"(x go\ud83dnow y)"); // a lone surrogate
  // "%25" is '%' and also '%' followed by "25": both readings are tried.
  CHECK(redactor_of("%25x").redact("a %25x b") == "a <redacted> b");
  CHECK(redactor_of("%25x").redact("a %2525x b") == "a <redacted> b");
  CHECK(redactor_of("\\\\\\\\").redact(R"(a \\\\\\\\ b)") == "a <redacted> b");
  CHECK(redactor_of("\\\\\\\\").redact(R"(a \\\\ b)") == "a <redacted> b");
}

TEST_CASE("util::Redactor: nothing else changes", "[secret]")
{
  const auto redactor = redactor_of("s3cr3t");
  for (const std::string text : {"",
                                 "plain text",
                                 "s3cr3",
                                 "s3cr4t",
                                 "%73%33%63%72%33",
                                 "&amp;&#1114112;&#xD800;&bogus;",
                                 "\\u12\\x",
                                 "100% + 50%",
                                 "trailing \\",
                                 "trailing %",
                                 "trailing &#"}) {
    INFO(text);
    CHECK(redactor.redact(text) == text);
  }
  CHECK(util::Redactor().redact("s3cr3t") == "s3cr3t");
  CHECK(util::Redactor().empty());
  CHECK_FALSE(redactor.empty());
  // An empty secret redacts nothing.
  CHECK(redactor_of("").empty());
}

TEST_CASE("util::Redactor: a text cut within a secret shows none of it", "[secret]")
{
  const auto redactor = redactor_of("s3cr3t-from-env-4f1c9a");
  // Cut by whoever read it (body_limit, output_limit): the part of the secret before the cut goes,
  // however short, in any form.
  CHECK(redactor.redact("token: s3cr3t-fr", true) == "token: <redacted>");
  CHECK(redactor.redact("token: s", true) == "token: <redacted>");
  CHECK(redactor.redact("token: s3cr3t-f%72", true) == "token: <redacted>");
  CHECK(redactor.redact("token: s3cr3t-f%7", true) == "token: <redacted>");
  CHECK(redactor.redact("token: s3cr3t-f&#11", true) == "token: <redacted>");
  CHECK(redactor.redact("token: s3cr3t-f\\u00", true) == "token: <redacted>");
  // Only at the cut, and only when there is one.
  CHECK(redactor.redact("token: s3cr3t-fr", false) == "token: s3cr3t-fr");
  CHECK(redactor.redact("s3cr3t-fr token: x", true) == "s3cr3t-fr token: x");
  CHECK(redactor.redact("token: x", true) == "token: x");
}

TEST_CASE("util::Redactor::excerpt: secrets go before the text is escaped or cut", "[secret]")
{
  const auto redactor = redactor_of(k_secret);
  // Escaping first would have changed the secret ("\\", "\"", "\t") so that it was not found.
  CHECK(redactor.excerpt("echo: " + k_secret + "\n", false) == "echo: <redacted>\\n");
  CHECK(redactor.printable("\"" + k_secret + "\"", util::Quotes::escape) == "\\\"<redacted>\\\"");
  // A secret across the excerpt's limit: cutting first would have left its first part.
  for (std::size_t offset = 180; offset <= 200; ++offset) {
    const auto text = std::string(offset, 'x') + k_secret + std::string(100, 'y');
    const auto shown = redactor.excerpt(text, false);
    INFO(shown);
    CHECK_THAT(shown, !Catch::Contains("tok"));
    CHECK(shown.starts_with(std::string(offset, 'x')));
  }
  // A text cut within the secret by whoever read it.
  CHECK(redactor.excerpt("echo: " + k_secret.substr(0, 8), true) == "echo: <redacted>...");
}

TEST_CASE("util::Redactor::add_basic_credentials: the base64 Basic authentication sends",
          "[secret]")
{
  util::Redactor redactor;
  redactor.add_basic_credentials("reader", util::Secret("p4ss"));
  // base64("reader:p4ss"), as an echoed Authorization header has it.
  CHECK(redactor.redact("Authorization: Basic cmVhZGVyOnA0c3M=")
        == "Authorization: Basic <redacted>");
  util::Redactor padded;
  padded.add_basic_credentials("a", util::Secret("bcd")); // "a:bcd": one padding byte
  CHECK(padded.redact("YTpiY2Q=") == "<redacted>");
  padded.add_basic_credentials("ab", util::Secret("c")); // "ab:c": two padding bytes
  CHECK(padded.redact("YWI6Yw==") == "<redacted>");
  CHECK(util::redact("p4ss and cmVhZGVyOnA0c3M=", std::vector{util::Secret("p4ss")})
        == "<redacted> and cmVhZGVyOnA0c3M=");
}

TEST_CASE("util::SecretSource::describe: a variable's name only when it is in capitals", "[secret]")
{
  using util::SecretSource;
  CHECK(SecretSource{SecretSource::Kind::env, "DATABASE_URL"}.describe()
        == "environment variable DATABASE_URL");
  // A token of letters and digits passes for a name; it is looked up, and not shown when unset.
  const SecretSource token{SecretSource::Kind::env, "ghp_16C7e42F292c6912E7710c838347Ae178B4a"};
  CHECK_THAT(token.describe(), !Catch::Contains("ghp_") && Catch::Contains("not shown"));
  const auto unset = token.read(util::Clock::now() + std::chrono::seconds(1));
  REQUIRE_FALSE(unset);
  CHECK_THAT(unset.error().message, !Catch::Contains("ghp_") && Catch::Contains("is not set"));
  CHECK(SecretSource{SecretSource::Kind::file, "/etc/token"}.describe() == "file /etc/token");
}

TEST_CASE("util::Redactor: a long text full of escapes is read in linear time", "[secret]")
{
  // A body of 1 MiB of what starts an escape, none ending: each is looked at a few bytes deep.
  const auto redactor = redactor_of("&%\\+s3cr3t");
  for (const std::string unit : {"&a", "%4", "\\u", "+", "&#1"}) {
    std::string text;
    while (text.size() < 1024 * 1024) {
      text += unit;
    }
    const auto started = std::chrono::steady_clock::now();
    CHECK(redactor.redact(text, true).size() >= text.size() - 16);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  }
}
