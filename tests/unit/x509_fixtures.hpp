// Certificates made at test time with OpenSSL: self-signed ones, and chains (a root CA, an
// intermediate, a leaf) with the names and dates a test asks for.
#pragma once

#include <hook/util/handle.hpp>

#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <memory>
#include <string>

namespace x509_fixtures {

using Key = util::Handle<EVP_PKEY, EVP_PKEY_free>;
using Certificate = util::Handle<X509, X509_free>;

inline Key
make_key()
{
  Key key(EVP_EC_gen("P-256"));
  REQUIRE(key);
  return key;
}

inline std::string
pem_of_key(EVP_PKEY* key, bool encrypted = false)
{
  const util::Handle<BIO, BIO_free> out(BIO_new(BIO_s_mem()));
  REQUIRE(out);
  static const char passphrase[] = "correct horse";
  const int written =
    encrypted ? PEM_write_bio_PKCS8PrivateKey(out.get(),
                                              key,
                                              EVP_aes_128_cbc(),
                                              passphrase,
                                              static_cast<int>(sizeof passphrase - 1),
                                              nullptr,
                                              nullptr)
              : PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  REQUIRE(written == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

inline std::string
pem_of(X509* certificate)
{
  const util::Handle<BIO, BIO_free> out(BIO_new(BIO_s_mem()));
  REQUIRE(out);
  REQUIRE(PEM_write_bio_X509(out.get(), certificate) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

inline std::string
der_of(X509* certificate)
{
  unsigned char* der = nullptr;
  const int length = i2d_X509(certificate, &der);
  REQUIRE(length > 0);
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return bytes;
}

inline void
add_extension(X509* certificate, X509* issuer, int nid, const std::string& value)
{
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  REQUIRE(extension != nullptr);
  X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
}

// A certificate for `key` with CN `common_name` (none when empty) and O "Readygate Test", the
// subjectAltName `san` (OpenSSL's syntax: "DNS:a,IP:127.0.0.1"; none when empty), valid from
// now + `from` to now + `to`, signed by `issuer` with `issuer_key` (self-signed when null); a CA
// when `ca`.
inline Certificate
make_certificate(EVP_PKEY* key,
                 const std::string& common_name,
                 const std::string& san,
                 std::chrono::seconds from,
                 std::chrono::seconds to,
                 X509* issuer = nullptr,
                 EVP_PKEY* issuer_key = nullptr,
                 bool ca = false)
{
  static long serial = 1;
  Certificate certificate(X509_new());
  REQUIRE(certificate);
  X509* raw = certificate.get();
  X509_set_version(raw, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(raw), serial++);
  X509_gmtime_adj(X509_getm_notBefore(raw), static_cast<long>(from.count()));
  X509_gmtime_adj(X509_getm_notAfter(raw), static_cast<long>(to.count()));
  X509_set_pubkey(raw, key);
  X509_NAME* name = X509_get_subject_name(raw);
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
  X509* signer = issuer != nullptr ? issuer : raw;
  X509_set_issuer_name(raw, X509_get_subject_name(signer));
  if (ca) {
    add_extension(raw, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(raw, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  add_extension(raw, signer, NID_subject_key_identifier, "hash");
  if (!san.empty()) {
    add_extension(raw, signer, NID_subject_alt_name, san);
  }
  REQUIRE(X509_sign(raw, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0);
  return certificate;
}

// A CA: its key and certificate, to sign intermediates and leaves with.
struct Authority
{
  Key key;
  Certificate certificate;

  // A self-signed root CA named `common_name`, valid from now + `from` to now + `to`.
  static Authority
  root(const std::string& common_name,
       std::chrono::seconds from = std::chrono::hours(-1),
       std::chrono::seconds to = std::chrono::hours(24 * 365))
  {
    Authority authority{make_key(), {}};
    authority.certificate =
      make_certificate(authority.key.get(), common_name, "", from, to, nullptr, nullptr, true);
    return authority;
  }

  // An intermediate CA it signs.
  Authority
  intermediate(const std::string& common_name,
               std::chrono::seconds from = std::chrono::hours(-1),
               std::chrono::seconds to = std::chrono::hours(24 * 365)) const
  {
    Authority authority{make_key(), {}};
    authority.certificate = make_certificate(
      authority.key.get(), common_name, "", from, to, certificate.get(), key.get(), true);
    return authority;
  }

  // The PEM of a server's certificate it signs, for `key`.
  std::string
  leaf(EVP_PKEY* leaf_key,
       const std::string& common_name,
       const std::string& san,
       std::chrono::seconds from = std::chrono::hours(-1),
       std::chrono::seconds to = std::chrono::hours(24 * 90)) const
  {
    return pem_of(
      make_certificate(leaf_key, common_name, san, from, to, certificate.get(), key.get()).get());
  }

  std::string
  pem() const
  {
    return pem_of(certificate.get());
  }
};

} // namespace x509_fixtures
