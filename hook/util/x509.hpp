// X.509: what a PEM file holds (certificates, a private key), read through OpenSSL into plain
// values, so whoever judges a certificate (its names, its dates, whether a key belongs to it) can
// do it without OpenSSL and be tested with made-up values.
#pragma once

#include <hook/util/duration.hpp>
#include <hook/util/result.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace util {

// --- Interface ---

struct CertificateInfo
{
  std::string subject;                   // one line, RFC 2253 ("CN=www.example.com,O=Example")
  std::string common_name;               // the subject's CN, "" when there is none
  std::vector<std::string> dns_names;    // subjectAltName dNSName entries, as written
  std::vector<std::string> ip_addresses; // subjectAltName iPAddress entries ("127.0.0.1", "::1")
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  // SHA-256 (hex) of the DER SubjectPublicKeyInfo: equal to a private key's `public_key_sha256`
  // exactly when that key belongs to this certificate.
  std::string public_key_sha256;
};

struct PemContents
{
  std::vector<CertificateInfo> certificates; // in file order: the server's own first
  bool has_private_key = false;              // a PRIVATE KEY block was there
  bool private_key_encrypted = false;        // ... protected by a passphrase (not opened)
  std::string private_key_public_sha256;     // as CertificateInfo's; "" unless a key was opened
};

// Parse `pem`, the text of a PEM file: every CERTIFICATE block and the first PRIVATE KEY block
// (PKCS#8, or RSA/EC traditional); other blocks (DH parameters, CRLs) are skipped. A block that
// does not decode is Errc::protocol naming its type and position ("block 2 (CERTIFICATE): ...");
// text without any PEM block is Errc::protocol too. No byte of the text is ever in a message: it
// may hold a private key.
Result<PemContents> parse_pem(std::string_view pem);

// Reads PEM files for checks (hook::Probes); unit tests install fakes.
class X509Reader
{
public:
  virtual ~X509Reader() = default;
  static std::shared_ptr<X509Reader> make_real();

  // Read the file at `path` (read_small_file: regular files only, at most 1 MiB, by `deadline`)
  // and parse it with parse_pem. Errors carry read_small_file's codes (Errc::io, permission,
  // timeout, cancelled) or parse_pem's, with the path first.
  virtual Result<PemContents>
  read(const std::filesystem::path& path, Clock::time_point deadline, std::stop_token stop) = 0;
};

inline constexpr std::size_t k_pem_size_limit = 1024 * 1024;

} // namespace util
