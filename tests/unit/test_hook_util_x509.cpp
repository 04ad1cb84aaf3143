// The X.509 probe: real PEM files made here with OpenSSL (names, dates, keys, chains), parsed
// back, matched with names and verified up to trust anchors.
#include "testutil.hpp"
#include "x509_fixtures.hpp"

#include <hook/util/x509.hpp>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using x509_fixtures::Authority;
using x509_fixtures::make_key;
using x509_fixtures::pem_of_key;

// A self-signed certificate's PEM (x509_fixtures::make_certificate).
std::string
make_certificate(EVP_PKEY* key,
                 const std::string& common_name,
                 const std::string& san,
                 std::chrono::seconds from,
                 std::chrono::seconds to)
{
  return x509_fixtures::pem_of(
    x509_fixtures::make_certificate(key, common_name, san, from, to).get());
}

std::chrono::system_clock::time_point
now()
{
  return std::chrono::system_clock::now();
}

} // namespace

TEST_CASE("util::parse_pem: a certificate's names, dates and key, and its own key matches",
          "[x509][webserver]")
{
  const auto key = make_key();
  const auto pem = make_certificate(key.get(),
                                    "www.example.com",
                                    "DNS:www.example.com,DNS:*.example.org,IP:127.0.0.1,IP:::1",
                                    -1h,
                                    24h * 30);
  const auto parsed = util::parse_pem(pem + pem_of_key(key.get()));
  INFO(testutil::error_message(parsed));
  REQUIRE(parsed);
  REQUIRE(parsed->certificates.size() == 1);
  const auto& certificate = parsed->certificates.front();
  CHECK(certificate.common_name == "www.example.com");
  CHECK(certificate.subject == "O=Readygate Test,CN=www.example.com");
  CHECK(certificate.dns_names == std::vector<std::string>{"www.example.com", "*.example.org"});
  CHECK(certificate.ip_addresses == std::vector<std::string>{"127.0.0.1", "::1"});
  CHECK(certificate.not_before < now());
  CHECK(certificate.not_before > now() - 2h);
  CHECK(certificate.not_after > now() + 24h * 29);
  CHECK(certificate.not_after < now() + 24h * 31);
  CHECK(parsed->has_private_key);
  CHECK_FALSE(parsed->private_key_encrypted);
  CHECK(certificate.public_key_sha256.size() == 64);
  CHECK(parsed->private_key_public_sha256 == certificate.public_key_sha256);
}

TEST_CASE("util::parse_pem: another key does not match, and chains keep their order",
          "[x509][webserver]")
{
  const auto key = make_key();
  const auto other = make_key();
  const auto leaf = make_certificate(key.get(), "leaf.example.com", "", -1h, 1h);
  const auto issuer = make_certificate(other.get(), "Readygate CA", "", -1h, 1h);
  const auto parsed = util::parse_pem(leaf + issuer + pem_of_key(other.get()));
  REQUIRE(parsed);
  REQUIRE(parsed->certificates.size() == 2);
  CHECK(parsed->certificates[0].common_name == "leaf.example.com");
  CHECK(parsed->certificates[0].dns_names.empty());
  CHECK(parsed->certificates[1].common_name == "Readygate CA");
  CHECK(parsed->private_key_public_sha256 != parsed->certificates[0].public_key_sha256);
  CHECK(parsed->private_key_public_sha256 == parsed->certificates[1].public_key_sha256);
}

TEST_CASE("util::parse_pem: an expired certificate parses with the dates it says",
          "[x509][webserver]")
{
  const auto key = make_key();
  const auto parsed = util::parse_pem(
    make_certificate(key.get(), "old.example.com", "DNS:old.example.com", -24h * 60, -24h * 30));
  REQUIRE(parsed);
  REQUIRE(parsed->certificates.size() == 1);
  CHECK(parsed->certificates[0].not_after < now() - 24h * 29);
  CHECK_FALSE(parsed->has_private_key);
}

TEST_CASE("util::parse_pem: a key file alone, and an encrypted key that is not opened",
          "[x509][webserver]")
{
  const auto key = make_key();
  const auto plain = util::parse_pem(pem_of_key(key.get()));
  REQUIRE(plain);
  CHECK(plain->certificates.empty());
  CHECK(plain->has_private_key);
  CHECK(plain->private_key_public_sha256.size() == 64);
  const auto encrypted = util::parse_pem(pem_of_key(key.get(), true));
  REQUIRE(encrypted);
  CHECK(encrypted->has_private_key);
  CHECK(encrypted->private_key_encrypted);
  CHECK(encrypted->private_key_public_sha256.empty());
}

TEST_CASE("util::parse_pem: text that is not PEM, or a damaged block, is a protocol error that "
          "never quotes the file",
          "[x509][webserver]")
{
  const auto key = make_key();
  const auto certificate = make_certificate(key.get(), "x.example.com", "", -1h, 1h);
  const std::string secret = "TOPSECRET-KEY-MATERIAL";
  for (const auto& text : std::vector<std::string>{
         "",
         secret,
         "-----BEGIN CERTIFICATE-----\n" + secret + "\n-----END CERTIFICATE-----\n",
         certificate.substr(0, certificate.size() / 2),
         "-----BEGIN PRIVATE KEY-----\nTUlJQ2Vn\n-----END PRIVATE KEY-----\n" + secret,
       }) {
    INFO(text);
    const auto parsed = util::parse_pem(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().code == util::Errc::protocol);
    CHECK_THAT(parsed.error().message, !Catch::Contains(secret));
  }
  const auto damaged =
    util::parse_pem("-----BEGIN CERTIFICATE-----\nTUlJQ2Vn\n-----END CERTIFICATE-----\n");
  REQUIRE_FALSE(damaged);
  CHECK_THAT(damaged.error().message, Catch::StartsWith("block 1 (CERTIFICATE): "));
}

TEST_CASE("util::X509Reader: reads a file, a missing file or a directory is an io error naming it",
          "[x509][webserver]")
{
  const testutil::TempDir dir;
  const auto key = make_key();
  testutil::write_file(dir.path() / "site.pem",
                       make_certificate(key.get(), "site.example.com", "", -1h, 1h));
  const auto reader = util::X509Reader::make_real();
  const auto deadline = util::Clock::now() + 5s;
  const auto read = reader->read(dir.path() / "site.pem", deadline, {});
  REQUIRE(read);
  CHECK(read->certificates.size() == 1);
  const auto missing = reader->read(dir.path() / "missing.pem", deadline, {});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == util::Errc::io);
  CHECK_THAT(missing.error().message, Catch::StartsWith((dir.path() / "missing.pem").string()));
  const auto directory = reader->read(dir.path(), deadline, {});
  REQUIRE_FALSE(directory);
  CHECK(directory.error().code == util::Errc::io);
  testutil::write_file(dir.path() / "junk.pem", "not a certificate");
  const auto junk = reader->read(dir.path() / "junk.pem", deadline, {});
  REQUIRE_FALSE(junk);
  CHECK(junk.error().code == util::Errc::protocol);
  CHECK_THAT(junk.error().message, Catch::StartsWith((dir.path() / "junk.pem").string() + ": "));
}

namespace {

// The one certificate of `pem`, parsed.
util::CertificateInfo
parsed_certificate(const std::string& pem)
{
  const auto parsed = util::parse_pem(pem);
  INFO(testutil::error_message(parsed));
  REQUIRE(parsed);
  REQUIRE_FALSE(parsed->certificates.empty());
  return parsed->certificates.front();
}

util::CertificateInfo
self_signed(const std::string& common_name, const std::string& san)
{
  const auto key = make_key();
  return parsed_certificate(make_certificate(key.get(), common_name, san, -1h, 24h));
}

// Every certificate of the PEM texts, in order.
std::vector<util::CertificateInfo>
chain_of(const std::vector<std::string>& pems)
{
  std::vector<util::CertificateInfo> chain;
  for (const auto& pem : pems) {
    const auto parsed = util::parse_pem(pem);
    REQUIRE(parsed);
    chain.insert(chain.end(), parsed->certificates.begin(), parsed->certificates.end());
  }
  return chain;
}

// Verify `chain` with the real reader against `ca_file` (none: the system store) at `at`.
util::ChainVerification
verified(const std::vector<util::CertificateInfo>& chain,
         const std::optional<std::filesystem::path>& ca_file,
         std::chrono::system_clock::time_point at = now())
{
  const auto reader = util::X509Reader::make_real();
  const auto result = reader->verify_chains({chain}, ca_file, at, util::Clock::now() + 10s, {});
  INFO(testutil::error_message(result));
  REQUIRE(result);
  REQUIRE(result->size() == 1);
  return result->front();
}

std::string
problems_text(const util::ChainVerification& verification)
{
  std::string text;
  for (const auto& problem : verification.problems) {
    text += fmt::format("{} depth {} {} issuer {} offered {}: {}\n",
                        static_cast<int>(problem.kind),
                        problem.depth,
                        problem.subject,
                        problem.issuer,
                        problem.offered ? static_cast<long>(*problem.offered) : -1L,
                        problem.reason);
  }
  return text;
}

} // namespace

TEST_CASE("util::certificate_covers: names as OpenSSL's X509_check_host matches them, never *.com",
          "[x509][webserver]")
{
  const auto wildcard = self_signed("x", "DNS:*.example.com,DNS:www.Example.org");
  CHECK(util::certificate_covers(wildcard, "www.example.com"));
  CHECK(util::certificate_covers(wildcard, "WWW.EXAMPLE.COM"));
  CHECK(util::certificate_covers(wildcard, "www.example.org"));
  CHECK(util::certificate_covers(wildcard, "*.example.com"));         // a wildcard server name
  CHECK_FALSE(util::certificate_covers(wildcard, "a.b.example.com")); // one label only
  CHECK_FALSE(util::certificate_covers(wildcard, "example.com"));
  CHECK_FALSE(util::certificate_covers(wildcard, ".example.com"));
  CHECK_FALSE(util::certificate_covers(wildcard, "x")); // CN is not read beside DNS names
  CHECK_FALSE(util::certificate_covers(wildcard, ""));

  // A wildcard with a single label after it covers nothing: the hand-written matcher took
  // "*.com" for "example.com".
  const auto top_level = self_signed("x", "DNS:*.com");
  CHECK_FALSE(util::certificate_covers(top_level, "example.com"));
  CHECK_FALSE(util::certificate_covers(top_level, "com"));
  // A partial wildcard is refused, as browsers refuse it.
  const auto partial = self_signed("x", "DNS:w*.example.com");
  CHECK_FALSE(util::certificate_covers(partial, "www.example.com"));

  // No DNS name: the CN, as TLS clients fall back to it.
  const auto cn_only = self_signed("legacy.example.com", "");
  CHECK(util::certificate_covers(cn_only, "legacy.example.com"));
  CHECK_FALSE(util::certificate_covers(cn_only, "other.example.com"));

  // A certificate that does not decode covers nothing.
  auto broken = wildcard;
  broken.der = "not DER";
  CHECK_FALSE(util::certificate_covers(broken, "www.example.com"));
}

TEST_CASE("util::certificate_covers: addresses compared as bytes, IPv6 in any spelling",
          "[x509][webserver]")
{
  const auto addresses = self_signed("x", "IP:::1,IP:2001:db8::10,IP:192.0.2.7");
  CHECK(util::certificate_covers(addresses, "::1"));
  CHECK(util::certificate_covers(addresses, "0:0:0:0:0:0:0:1"));
  CHECK(util::certificate_covers(addresses, "[::1]"));
  CHECK(util::certificate_covers(addresses, "2001:DB8:0:0::10"));
  CHECK(util::certificate_covers(addresses, "2001:0db8::0010"));
  CHECK(util::certificate_covers(addresses, "192.0.2.7"));
  CHECK_FALSE(util::certificate_covers(addresses, "2001:db8::1"));
  CHECK_FALSE(util::certificate_covers(addresses, "192.0.2.70"));
  CHECK_FALSE(util::certificate_covers(addresses, "::ffff:192.0.2.8"));
  // An address is never matched against DNS names or the CN.
  const auto named = self_signed("127.0.0.1", "DNS:127.0.0.1");
  CHECK_FALSE(util::certificate_covers(named, "127.0.0.1"));
}

TEST_CASE("util::X509Reader::verify_chains: root -> intermediate -> leaf reaches the ca_file's "
          "root, the file's other certificates as intermediates",
          "[x509][webserver]")
{
  const testutil::TempDir dir;
  const auto root = Authority::root("Readygate Test Root");
  const auto intermediate = root.intermediate("Readygate Test Intermediate");
  const auto key = make_key();
  const auto leaf = intermediate.leaf(key.get(), "www.example.com", "DNS:www.example.com");
  testutil::write_file(dir.path() / "root.pem", root.pem());

  const auto full = verified(chain_of({leaf, intermediate.pem()}), dir.path() / "root.pem");
  INFO(problems_text(full));
  CHECK(full.problems.empty());
  CHECK(full.chain
        == std::vector<std::string>{"O=Readygate Test,CN=www.example.com",
                                    "O=Readygate Test,CN=Readygate Test Intermediate",
                                    "O=Readygate Test,CN=Readygate Test Root"});

  // The intermediate missing from the file: the issuer it needed is named.
  const auto alone = verified(chain_of({leaf}), dir.path() / "root.pem");
  INFO(problems_text(alone));
  REQUIRE(alone.problems.size() == 1);
  const auto& missing = alone.problems.front();
  CHECK(missing.kind == util::ChainProblemKind::missing_issuer);
  CHECK(missing.depth == 0);
  CHECK(missing.subject == "O=Readygate Test,CN=www.example.com");
  CHECK(missing.issuer == "O=Readygate Test,CN=Readygate Test Intermediate");
  CHECK(missing.offered == std::optional<std::size_t>(0));

  // The root in the file but not trusted: the chain ends at an untrusted self-signed root.
  const auto other = Authority::root("Another Root");
  testutil::write_file(dir.path() / "other.pem", other.pem());
  const auto untrusted =
    verified(chain_of({leaf, intermediate.pem(), root.pem()}), dir.path() / "other.pem");
  INFO(problems_text(untrusted));
  REQUIRE_FALSE(untrusted.problems.empty());
  CHECK(untrusted.problems.front().kind == util::ChainProblemKind::untrusted_root);
  CHECK(untrusted.problems.front().subject == "O=Readygate Test,CN=Readygate Test Root");

  // A ca_file naming the intermediate is a trust anchor too (as curl takes it).
  testutil::write_file(dir.path() / "intermediate.pem", intermediate.pem());
  const auto partial = verified(chain_of({leaf}), dir.path() / "intermediate.pem");
  INFO(problems_text(partial));
  CHECK(partial.problems.empty());

  // The host's time decides: two years on, the leaf and the CAs have expired.
  const auto later =
    verified(chain_of({leaf, intermediate.pem()}), dir.path() / "root.pem", now() + 24h * 730);
  INFO(problems_text(later));
  REQUIRE_FALSE(later.problems.empty());
  CHECK(later.problems.front().kind == util::ChainProblemKind::expired);
}

TEST_CASE("util::X509Reader::verify_chains: an expired or not yet valid intermediate, an expired "
          "anchor, each named",
          "[x509][webserver]")
{
  const testutil::TempDir dir;
  const auto root = Authority::root("Readygate Test Root");
  testutil::write_file(dir.path() / "root.pem", root.pem());
  const auto key = make_key();

  const auto expired = root.intermediate("Expired Intermediate", -24h * 60, -24h);
  const auto with_expired = verified(
    chain_of({expired.leaf(key.get(), "www.example.com", "DNS:www.example.com"), expired.pem()}),
    dir.path() / "root.pem");
  INFO(problems_text(with_expired));
  REQUIRE(with_expired.problems.size() == 1);
  CHECK(with_expired.problems.front().kind == util::ChainProblemKind::expired);
  CHECK(with_expired.problems.front().depth == 1);
  CHECK(with_expired.problems.front().subject == "O=Readygate Test,CN=Expired Intermediate");
  CHECK(with_expired.problems.front().offered == std::optional<std::size_t>(1));
  CHECK(with_expired.problems.front().not_after < now());

  // Every problem is listed, not only the first: the expired intermediate, and then that no
  // anchor of this ca_file issued it.
  const auto other = Authority::root("Another Root");
  testutil::write_file(dir.path() / "other.pem", other.pem());
  const auto two = verified(
    chain_of({expired.leaf(key.get(), "www.example.com", "DNS:www.example.com"), expired.pem()}),
    dir.path() / "other.pem");
  INFO(problems_text(two));
  REQUIRE(two.problems.size() == 2);
  CHECK(two.problems[0].kind == util::ChainProblemKind::missing_issuer);
  CHECK(two.problems[0].issuer == "O=Readygate Test,CN=Readygate Test Root");
  CHECK(two.problems[1].kind == util::ChainProblemKind::expired);
  CHECK(two.problems[1].subject == "O=Readygate Test,CN=Expired Intermediate");

  const auto future = root.intermediate("Future Intermediate", 24h, 24h * 60);
  const auto with_future = verified(
    chain_of({future.leaf(key.get(), "www.example.com", "DNS:www.example.com"), future.pem()}),
    dir.path() / "root.pem");
  INFO(problems_text(with_future));
  REQUIRE_FALSE(with_future.problems.empty());
  CHECK(with_future.problems.front().kind == util::ChainProblemKind::not_yet_valid);
  CHECK(with_future.problems.front().subject == "O=Readygate Test,CN=Future Intermediate");

  const auto old_root = Authority::root("Expired Root", -24h * 60, -24h);
  testutil::write_file(dir.path() / "old-root.pem", old_root.pem());
  const auto with_old_root =
    verified(chain_of({old_root.leaf(key.get(), "www.example.com", "DNS:www.example.com")}),
             dir.path() / "old-root.pem");
  INFO(problems_text(with_old_root));
  REQUIRE_FALSE(with_old_root.problems.empty());
  CHECK(with_old_root.problems.front().kind == util::ChainProblemKind::expired);
  CHECK(with_old_root.problems.front().subject == "O=Readygate Test,CN=Expired Root");
  CHECK_FALSE(with_old_root.problems.front().offered);
}

TEST_CASE("util::X509Reader::verify_chains: the system store, a self-signed leaf, and a ca_file "
          "that cannot be read is an error",
          "[x509][webserver]")
{
  const testutil::TempDir dir;
  const auto root = Authority::root("Readygate Test Root");
  const auto key = make_key();
  const auto leaf = root.leaf(key.get(), "www.example.com", "DNS:www.example.com");

  // A private root is not in the system store: its name is what is missing.
  const auto system = verified(chain_of({leaf}), std::nullopt);
  INFO(problems_text(system));
  REQUIRE(system.problems.size() == 1);
  CHECK(system.problems.front().kind == util::ChainProblemKind::missing_issuer);
  CHECK(system.problems.front().issuer == "O=Readygate Test,CN=Readygate Test Root");

  const auto self = verified(
    chain_of({make_certificate(key.get(), "self.example.com", "DNS:self.example.com", -1h, 24h)}),
    std::nullopt);
  INFO(problems_text(self));
  REQUIRE_FALSE(self.problems.empty());
  CHECK(self.problems.front().kind == util::ChainProblemKind::untrusted_root);

  const auto reader = util::X509Reader::make_real();
  const auto deadline = util::Clock::now() + 10s;
  const auto missing =
    reader->verify_chains({chain_of({leaf})}, dir.path() / "missing.pem", now(), deadline, {});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == util::Errc::io);
  CHECK_THAT(missing.error().message, Catch::StartsWith((dir.path() / "missing.pem").string()));
  testutil::write_file(dir.path() / "junk.pem", "TOPSECRET not a certificate");
  const auto junk =
    reader->verify_chains({chain_of({leaf})}, dir.path() / "junk.pem", now(), deadline, {});
  REQUIRE_FALSE(junk);
  CHECK(junk.error().code == util::Errc::protocol);
  CHECK_THAT(junk.error().message, !Catch::Contains("TOPSECRET"));
  // Nothing to verify reads nothing.
  const auto none = reader->verify_chains({}, dir.path() / "missing.pem", now(), deadline, {});
  REQUIRE(none);
  CHECK(none->empty());
}
