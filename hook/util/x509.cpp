#include "x509.hpp"

#include "file.hpp"
#include "handle.hpp"
#include "sha256.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <memory>

namespace util {

namespace {

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

void
free_stack(STACK_OF(X509) * stack)
{
  sk_X509_free(stack); // the certificates are owned elsewhere
}

using BioPtr = Handle<BIO, BIO_free_all>;
using X509Ptr = Handle<X509, X509_free>;
using KeyPtr = Handle<EVP_PKEY, EVP_PKEY_free>;
using BytesPtr = Handle<unsigned char, free_bytes>;
using CharsPtr = Handle<char, free_chars>;
using NamesPtr = Handle<GENERAL_NAMES, free_general_names>;
using StorePtr = Handle<X509_STORE, X509_STORE_free>;
using StoreContextPtr = Handle<X509_STORE_CTX, X509_STORE_CTX_free>;
using StackPtr = Handle<STACK_OF(X509), free_stack>;

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

// Return `name` on one line, RFC 2253 ("CN=www.example.com,O=Example"), UTF-8 kept as is.
std::string
name_text(const X509_NAME* name)
{
  std::string text;
  const BioPtr out(BIO_new(BIO_s_mem()));
  if (out && name != nullptr
      && X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
    char* data = nullptr;
    const long length = BIO_get_mem_data(out.get(), &data);
    if (length > 0) {
      text.assign(data, static_cast<std::size_t>(length));
    }
  }
  return text;
}

Result<CertificateInfo>
certificate_info(X509* certificate)
{
  CertificateInfo info;
  info.subject = name_text(X509_get_subject_name(certificate));
  info.issuer = name_text(X509_get_issuer_name(certificate));
  {
    unsigned char* der = nullptr;
    const int length = i2d_X509(certificate, &der);
    if (length <= 0) {
      return make_error(Errc::protocol, fmt::format("certificate: {}", openssl_reason()));
    }
    const BytesPtr owned(der);
    info.der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
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

X509Ptr
decoded(const std::string& der)
{
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr certificate(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!certificate) {
    ERR_clear_error();
  }
  return certificate;
}

// Add every certificate of the PEM text `pem` to `store` as a trust anchor; other blocks are
// skipped. Errc::protocol, naming `shown`, when a block does not decode or none is a certificate.
Result<void>
add_anchors(X509_STORE* store, std::string_view pem, const std::string& shown)
{
  ERR_clear_error();
  const BioPtr in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!in || pem.size() > static_cast<std::size_t>(INT32_MAX)) {
    return make_error(Errc::internal, "cannot make a memory BIO");
  }
  std::size_t added = 0;
  while (true) {
    const X509Ptr certificate(PEM_read_bio_X509_AUX(in.get(), nullptr, nullptr, nullptr));
    if (!certificate) {
      const auto code = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
        break;
      }
      return make_error(
        Errc::protocol,
        fmt::format("{}: certificate {}: not valid PEM or not a certificate", shown, added + 1));
    }
    if (X509_STORE_add_cert(store, certificate.get()) != 1) {
      return make_error(Errc::internal, fmt::format("{}: {}", shown, openssl_reason()));
    }
    ++added;
  }
  if (added == 0) {
    return make_error(
      Errc::protocol,
      fmt::format("{}: no certificate (expected -----BEGIN CERTIFICATE-----)", shown));
  }
  return {};
}

// The trust anchors: `ca_file`'s, else the system store's. The system's file is read like any
// other (regular files only, by the deadline); OpenSSL's directory is the fallback when there is
// no such file.
Result<StorePtr>
trust_anchors(const std::optional<std::filesystem::path>& ca_file,
              Clock::time_point deadline,
              std::stop_token stop)
{
  StorePtr store(X509_STORE_new());
  if (!store) {
    return make_error(Errc::internal, "cannot make an X509_STORE");
  }
  std::filesystem::path file =
    ca_file ? *ca_file : std::filesystem::path(X509_get_default_cert_file());
  std::error_code ignored;
  if (ca_file || std::filesystem::exists(file, ignored)) {
    RG_TRY_ASSIGN(const auto text, read_small_file(file, k_anchors_size_limit, deadline, stop));
    RG_TRY(add_anchors(store.get(), text, file.string()));
    return store;
  }
  X509_LOOKUP* lookup = X509_STORE_add_lookup(store.get(), X509_LOOKUP_hash_dir());
  if (lookup == nullptr
      || X509_LOOKUP_add_dir(lookup, X509_get_default_cert_dir(), X509_FILETYPE_PEM) != 1) {
    return make_error(Errc::io,
                      fmt::format("the system's trust anchors: neither {} nor {} can be used: {}",
                                  file.string(),
                                  X509_get_default_cert_dir(),
                                  openssl_reason()));
  }
  return store;
}

ChainProblemKind
kind_of(int code)
{
  switch (code) {
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    return ChainProblemKind::missing_issuer;
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    return ChainProblemKind::untrusted_root;
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return ChainProblemKind::expired;
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return ChainProblemKind::not_yet_valid;
  default:
    return ChainProblemKind::other;
  }
}

// What the verify callback collects: every problem, each (kind, depth) once.
struct Collected
{
  const std::vector<X509Ptr>* offered = nullptr;
  std::vector<ChainProblem> problems;
  bool undated = false; // a certificate's dates did not decode
};

ChainProblem
problem_at(X509_STORE_CTX* context, int code, const std::vector<X509Ptr>& offered, bool& undated)
{
  ChainProblem problem;
  problem.kind = kind_of(code);
  const int depth = X509_STORE_CTX_get_error_depth(context);
  problem.depth = depth > 0 ? static_cast<std::size_t>(depth) : 0;
  const char* reason = X509_verify_cert_error_string(code);
  problem.reason = reason != nullptr ? reason : fmt::format("error {}", code);
  X509* certificate = X509_STORE_CTX_get_current_cert(context);
  if (certificate == nullptr) {
    const auto* chain = X509_STORE_CTX_get0_chain(context);
    if (chain != nullptr && depth >= 0 && depth < sk_X509_num(chain)) {
      certificate = sk_X509_value(chain, depth);
    }
  }
  if (certificate == nullptr) {
    return problem;
  }
  problem.subject = name_text(X509_get_subject_name(certificate));
  problem.issuer = name_text(X509_get_issuer_name(certificate));
  const auto before = time_of(X509_get0_notBefore(certificate));
  const auto after = time_of(X509_get0_notAfter(certificate));
  if (before && after) {
    problem.not_before = *before;
    problem.not_after = *after;
  } else {
    undated = true;
  }
  for (std::size_t i = 0; i < offered.size(); ++i) {
    if (X509_cmp(offered[i].get(), certificate) == 0) {
      problem.offered = i;
      break;
    }
  }
  return problem;
}

int
collect_problem(int ok, X509_STORE_CTX* context)
{
  if (ok == 1) {
    return 1;
  }
  auto* collected = static_cast<Collected*>(X509_STORE_CTX_get_app_data(context));
  const int code = X509_STORE_CTX_get_error(context);
  auto problem = problem_at(context, code, *collected->offered, collected->undated);
  const bool seen = std::any_of(
    collected->problems.begin(), collected->problems.end(), [&](const ChainProblem& earlier) {
      return earlier.kind == problem.kind && earlier.depth == problem.depth
             && (problem.kind != ChainProblemKind::other || earlier.reason == problem.reason);
    });
  if (!seen) {
    collected->problems.push_back(std::move(problem));
  }
  return 1; // go on: every problem is reported, not only the first
}

Result<ChainVerification>
verify_chain(X509_STORE* store,
             const std::vector<CertificateInfo>& certificates,
             std::chrono::system_clock::time_point at)
{
  if (certificates.empty()) {
    return make_error(Errc::internal, "a chain without a certificate");
  }
  std::vector<X509Ptr> offered;
  for (const auto& certificate : certificates) {
    auto one = decoded(certificate.der);
    if (!one) {
      return make_error(Errc::protocol, fmt::format("{}: does not decode", certificate.subject));
    }
    offered.push_back(std::move(one));
  }
  const StackPtr untrusted(sk_X509_new_null());
  const StoreContextPtr context(X509_STORE_CTX_new());
  if (!untrusted || !context) {
    return make_error(Errc::internal, "cannot make an X509_STORE_CTX");
  }
  for (std::size_t i = 1; i < offered.size(); ++i) {
    if (sk_X509_push(untrusted.get(), offered[i].get()) <= 0) {
      return make_error(Errc::internal, "cannot make the stack of intermediates");
    }
  }
  if (X509_STORE_CTX_init(context.get(), store, offered.front().get(), untrusted.get()) != 1
      || X509_STORE_CTX_set_default(context.get(), "ssl_server") != 1) {
    return make_error(Errc::internal, fmt::format("X509_STORE_CTX: {}", openssl_reason()));
  }
  X509_VERIFY_PARAM* parameters = X509_STORE_CTX_get0_param(context.get());
  X509_VERIFY_PARAM_set_time(parameters, std::chrono::system_clock::to_time_t(at));
  // A trust anchor need not be self-signed: a ca_file may name an intermediate (as curl does).
  X509_VERIFY_PARAM_set_flags(parameters, X509_V_FLAG_PARTIAL_CHAIN);
  Collected collected;
  collected.offered = &offered;
  X509_STORE_CTX_set_app_data(context.get(), &collected);
  X509_STORE_CTX_set_verify_cb(context.get(), collect_problem);
  const int verified = X509_verify_cert(context.get());
  if (verified < 0) {
    return make_error(Errc::internal, fmt::format("X509_verify_cert: {}", openssl_reason()));
  }
  ERR_clear_error();
  if (collected.undated) {
    return make_error(Errc::protocol, "a certificate of the chain has a date that does not decode");
  }
  ChainVerification verification;
  verification.problems = std::move(collected.problems);
  if (verified != 1 && verification.problems.empty()) {
    const int code = X509_STORE_CTX_get_error(context.get());
    ChainProblem problem;
    const char* reason = X509_verify_cert_error_string(code);
    problem.reason = reason != nullptr ? reason : fmt::format("error {}", code);
    verification.problems.push_back(std::move(problem));
  }
  const auto* chain = X509_STORE_CTX_get0_chain(context.get());
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    verification.chain.push_back(name_text(X509_get_subject_name(sk_X509_value(chain, i))));
  }
  return verification;
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

  Result<std::vector<ChainVerification>>
  verify_chains(const std::vector<std::vector<CertificateInfo>>& chains,
                const std::optional<std::filesystem::path>& ca_file,
                std::chrono::system_clock::time_point at,
                Clock::time_point deadline,
                std::stop_token stop) override
  {
    std::vector<ChainVerification> verified;
    if (chains.empty()) {
      return verified;
    }
    RG_TRY_ASSIGN(const auto store, trust_anchors(ca_file, deadline, stop));
    for (const auto& chain : chains) {
      if (stop.stop_requested()) {
        return make_error(Errc::cancelled, "certificate chains: interrupted");
      }
      if (Clock::now() >= deadline) {
        return make_error(Errc::timeout, "certificate chains: the deadline passed");
      }
      RG_TRY_ASSIGN(auto one, verify_chain(store.get(), chain, at));
      verified.push_back(std::move(one));
    }
    return verified;
  }
};

} // namespace

bool
certificate_covers(const CertificateInfo& certificate, std::string_view name)
{
  const auto decoded_certificate = decoded(certificate.der);
  if (!decoded_certificate) {
    return false;
  }
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  const std::string host(name);
  // A leading dot asks OpenSSL for "any subdomain of": never a name a client sends.
  if (host.empty() || host.starts_with('.') || host.find('\0') != std::string::npos) {
    return false;
  }
  unsigned char bytes[16];
  bool matched = false;
  if (inet_pton(AF_INET, host.c_str(), bytes) == 1
      || inet_pton(AF_INET6, host.c_str(), bytes) == 1) {
    matched = X509_check_ip_asc(decoded_certificate.get(), host.c_str(), 0) == 1;
  } else {
    matched = X509_check_host(decoded_certificate.get(),
                              host.data(),
                              host.size(),
                              X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                              nullptr)
              == 1;
  }
  ERR_clear_error();
  return matched;
}

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
