// The X.509 probe: real PEM files made here with OpenSSL (names, dates, keys), parsed back.
#include "testutil.hpp"

#include <hook/util/x509.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct KeyFree
{
  void
  operator()(EVP_PKEY* key) const
  {
    EVP_PKEY_free(key);
  }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

Key
make_key()
{
  Key key(EVP_EC_gen("P-256"));
  REQUIRE(key);
  return key;
}

std::string
pem_of_key(EVP_PKEY* key, bool encrypted = false)
{
  BIO* out = BIO_new(BIO_s_mem());
  REQUIRE(out != nullptr);
  static const char passphrase[] = "correct horse";
  const int written = encrypted
                        ? PEM_write_bio_PKCS8PrivateKey(out,
                                                        key,
                                                        EVP_aes_128_cbc(),
                                                        passphrase,
                                                        static_cast<int>(sizeof passphrase - 1),
                                                        nullptr,
                                                        nullptr)
                        : PEM_write_bio_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr);
  REQUIRE(written == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(out, &data);
  std::string text(data, static_cast<std::size_t>(length));
  BIO_free(out);
  return text;
}

// A self-signed certificate for `key` with CN `common_name`, the subjectAltName `san` (OpenSSL's
// syntax: "DNS:a,IP:127.0.0.1"; none when empty), valid from now + `from` to now + `to`.
std::string
make_certificate(EVP_PKEY* key,
                 const std::string& common_name,
                 const std::string& san,
                 std::chrono::seconds from,
                 std::chrono::seconds to)
{
  X509* certificate = X509_new();
  REQUIRE(certificate != nullptr);
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate), static_cast<long>(from.count()));
  X509_gmtime_adj(X509_getm_notAfter(certificate), static_cast<long>(to.count()));
  X509_set_pubkey(certificate, key);
  X509_NAME* name = X509_get_subject_name(certificate);
  if (!common_name.empty()) {
    X509_NAME_add_entry_by_txt(name,
                               "CN",
                               MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()),
                               -1,
                               -1,
                               0);
  }
  X509_NAME_add_entry_by_txt(
    name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Readygate Test"), -1, -1, 0);
  X509_set_issuer_name(certificate, name);
  if (!san.empty()) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate, certificate, nullptr, nullptr, 0);
    X509_EXTENSION* extension =
      X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name, san.c_str());
    REQUIRE(extension != nullptr);
    X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
  }
  REQUIRE(X509_sign(certificate, key, EVP_sha256()) > 0);
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(out, certificate);
  char* data = nullptr;
  const long length = BIO_get_mem_data(out, &data);
  std::string text(data, static_cast<std::size_t>(length));
  BIO_free(out);
  X509_free(certificate);
  return text;
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
