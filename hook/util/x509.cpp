#include "x509.hpp"

#include "file.hpp"
#include "sha256.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cstring>
#include <ctime>
#include <memory>

namespace util {

namespace {

template <typename T, void (*Free)(T*)>
struct Freer
{
  void
  operator()(T* pointer) const
  {
    Free(pointer);
  }
};

void
free_bytes(unsigned char* bytes)
{
  OPENSSL_free(bytes);
}

void
free_chars(char* chars)
{
  OPENSSL_free(chars);
}

void
free_general_names(GENERAL_NAMES* names)
{
  GENERAL_NAMES_free(names);
}

using BioPtr = std::unique_ptr<BIO, Freer<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;
using BytesPtr = std::unique_ptr<unsigned char, Freer<unsigned char, free_bytes>>;
using CharsPtr = std::unique_ptr<char, Freer<char, free_chars>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Freer<GENERAL_NAMES, free_general_names>>;

// The most PEM blocks looked at in one file: a bound on the work a strange file can cause.
constexpr int k_max_blocks = 4096;

// Return OpenSSL's reason for the last error, and clear its queue (it is per thread).
std::string
openssl_reason()
{
  const auto code = ERR_peek_last_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? std::string(reason) : std::string("not valid");
}

Result<std::string>
public_key_sha256(EVP_PKEY* key)
{
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  if (length <= 0) {
    return make_error(Errc::protocol, fmt::format("public key: {}", openssl_reason()));
  }
  const BytesPtr owned(der);
  return to_hex(
    sha256(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length))));
}

Result<std::chrono::system_clock::time_point>
time_of(const ASN1_TIME* time)
{
  std::tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return make_error(Errc::protocol, "a validity date does not decode");
  }
  return std::chrono::system_clock::from_time_t(timegm(&parts));
}

std::string
text_of(const ASN1_STRING* text)
{
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, text);
  if (length < 0) {
    ERR_clear_error();
    return {};
  }
  const BytesPtr owned(utf8);
  return std::string(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
}

Result<CertificateInfo>
certificate_info(X509* certificate)
{
  CertificateInfo info;
  {
    const BioPtr out(BIO_new(BIO_s_mem()));
    if (out
        && X509_NAME_print_ex(out.get(),
                              X509_get_subject_name(certificate),
                              0,
                              XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)
             >= 0) {
      char* data = nullptr;
      const long length = BIO_get_mem_data(out.get(), &data);
      if (length > 0) {
        info.subject.assign(data, static_cast<std::size_t>(length));
      }
    }
  }
  const X509_NAME* subject = X509_get_subject_name(certificate);
  const int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn >= 0) {
    info.common_name = text_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn)));
  }
  const NamesPtr names(static_cast<GENERAL_NAMES*>(
    X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
      if (name->type == GEN_DNS) {
        info.dns_names.push_back(text_of(name->d.dNSName));
      } else if (name->type == GEN_IPADD) {
        const auto* bytes = ASN1_STRING_get0_data(name->d.iPAddress);
        const int length = ASN1_STRING_length(name->d.iPAddress);
        char text[INET6_ADDRSTRLEN] = {};
        if ((length == 4 && inet_ntop(AF_INET, bytes, text, sizeof text) != nullptr)
            || (length == 16 && inet_ntop(AF_INET6, bytes, text, sizeof text) != nullptr)) {
          info.ip_addresses.emplace_back(text);
        }
      }
    }
  }
  ERR_clear_error(); // an absent extension leaves nothing worth keeping
  RG_TRY_ASSIGN(info.not_before, time_of(X509_get0_notBefore(certificate)));
  RG_TRY_ASSIGN(info.not_after, time_of(X509_get0_notAfter(certificate)));
  EVP_PKEY* key = X509_get0_pubkey(certificate);
  if (key == nullptr) {
    return make_error(Errc::protocol, fmt::format("public key: {}", openssl_reason()));
  }
  RG_TRY_ASSIGN(info.public_key_sha256, public_key_sha256(key));
  return info;
}

class RealX509Reader final : public X509Reader
{
public:
  Result<PemContents>
  read(const std::filesystem::path& path, Clock::time_point deadline, std::stop_token stop) override
  {
    RG_TRY_ASSIGN(const auto text, read_small_file(path, k_pem_size_limit, deadline, stop));
    auto parsed = parse_pem(text);
    if (!parsed) {
      return with_context(std::move(parsed).error(), path.string());
    }
    return parsed;
  }
};

} // namespace

Result<PemContents>
parse_pem(std::string_view pem)
{
  ERR_clear_error();
  const BioPtr in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!in || pem.size() > static_cast<std::size_t>(INT32_MAX)) {
    return make_error(Errc::internal, "cannot make a memory BIO");
  }
  PemContents contents;
  int blocks = 0;
  for (; blocks < k_max_blocks; ++blocks) {
    char* raw_name = nullptr;
    char* raw_header = nullptr;
    unsigned char* raw_data = nullptr;
    long length = 0;
    if (PEM_read_bio(in.get(), &raw_name, &raw_header, &raw_data, &length) != 1) {
      const auto code = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
        break; // the end: nothing more that looks like a block
      }
      return make_error(
        Errc::protocol,
        fmt::format("block {}: not valid PEM (a line broken or cut short)", blocks + 1));
    }
    const CharsPtr name(raw_name);
    const CharsPtr header(raw_header);
    const BytesPtr data(raw_data);
    const std::string_view type(raw_name);
    const auto where = fmt::format("block {} ({})", blocks + 1, type);
    if (type == "CERTIFICATE" || type == "X509 CERTIFICATE" || type == "TRUSTED CERTIFICATE") {
      const unsigned char* cursor = raw_data;
      X509Ptr certificate(type == "TRUSTED CERTIFICATE" ? d2i_X509_AUX(nullptr, &cursor, length)
                                                        : d2i_X509(nullptr, &cursor, length));
      if (!certificate) {
        return make_error(Errc::protocol, fmt::format("{}: {}", where, openssl_reason()));
      }
      auto info = certificate_info(certificate.get());
      if (!info) {
        return with_context(std::move(info).error(), where);
      }
      contents.certificates.push_back(std::move(*info));
    } else if (type.ends_with("PRIVATE KEY") && !contents.has_private_key) {
      contents.has_private_key = true;
      if (type == "ENCRYPTED PRIVATE KEY"
          || (raw_header != nullptr && std::strstr(raw_header, "ENCRYPTED") != nullptr)) {
        contents.private_key_encrypted = true;
        continue;
      }
      const unsigned char* cursor = raw_data;
      KeyPtr key(d2i_AutoPrivateKey(nullptr, &cursor, length));
      if (!key) {
        return make_error(Errc::protocol, fmt::format("{}: {}", where, openssl_reason()));
      }
      RG_TRY_ASSIGN(contents.private_key_public_sha256, public_key_sha256(key.get()));
    }
  }
  ERR_clear_error();
  if (blocks == 0) {
    return make_error(Errc::protocol, "no PEM block (expected -----BEGIN CERTIFICATE-----)");
  }
  return contents;
}

std::shared_ptr<X509Reader>
X509Reader::make_real()
{
  return std::make_shared<RealX509Reader>();
}

} // namespace util
