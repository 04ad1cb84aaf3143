// X.509: what a PEM file holds (certificates, a private key), read through OpenSSL into plain
// values, so whoever judges a certificate (its dates, whether a key belongs to it, whether its
// chain reached a trust anchor) can do it from those values and be tested with made-up ones. The
// two questions a hand-written answer gets wrong are OpenSSL's: whether a certificate is valid for
// a name (certificate_covers) and whether its chain verifies (X509Reader::verify_chains).
#pragma once

#include <hook/util/duration.hpp>
#include <hook/util/result.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace util {

// --- Interface ---

struct CertificateInfo
{
  std::string subject;                   // one line, RFC 2253 ("CN=www.example.com,O=Example")
  std::string issuer;                    // the issuer's subject, written the same way
  std::string common_name;               // the subject's CN, "" when there is none
  std::vector<std::string> dns_names;    // subjectAltName dNSName entries, as written
  std::vector<std::string> ip_addresses; // subjectAltName iPAddress entries ("127.0.0.1", "::1")
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  // SHA-256 (hex) of the DER SubjectPublicKeyInfo: equal to a private key's `public_key_sha256`
  // exactly when that key belongs to this certificate.
  std::string public_key_sha256;
  std::string der; // the certificate as encoded (DER): what names are matched and chains built on
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

// Return true when `certificate` (its `der`) is valid for `name` as a TLS client checks it, by
// OpenSSL's X509_check_host: a subjectAltName DNS name equal ignoring case, or a wildcard that is
// the whole leftmost label with at least two labels after it ("*.example.com", never "*.com" or
// "w*.example.com"), the subject's CN only when there is no DNS name. An IPv4 or IPv6 address,
// in any spelling and with or without brackets, is matched by X509_check_ip_asc against the
// iPAddress entries as bytes. A `der` that does not decode covers nothing, nor does a name that
// starts with a dot (which OpenSSL would take for "any subdomain of").
bool certificate_covers(const CertificateInfo& certificate, std::string_view name);

// Why a chain did not verify, in the words a fix needs.
enum class ChainProblemKind : std::uint8_t {
  missing_issuer, // no certificate of `issuer`, the issuer the certificate at `depth` names
  untrusted_root, // the chain ends at a self-signed certificate that is no trust anchor
  expired,
  not_yet_valid,
  other, // a bad signature, a CA that may not sign, the wrong purpose, ...: see `reason`
};

struct ChainProblem
{
  ChainProblemKind kind = ChainProblemKind::other;
  std::size_t depth = 0; // in the chain built: 0 is the server's certificate
  std::string subject;   // of the certificate at `depth`
  std::string issuer;    // the issuer it names
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  // Its index among the certificates given; none when it came from the trust anchors.
  std::optional<std::size_t> offered;
  std::string reason; // OpenSSL's words ("unable to get local issuer certificate")
};

struct ChainVerification
{
  std::vector<std::string> chain;     // the subjects of the chain built, the server's first
  std::vector<ChainProblem> problems; // empty: it reached a trust anchor, every link valid
};

// Reads PEM files and verifies certificate chains for checks (hook::Probes); unit tests install
// fakes.
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

  // Verify each of `chains` (the server's certificate first, the others untrusted intermediates
  // OpenSSL may use in any order) with X509_verify_cert, as a TLS client verifies a server
  // ("ssl_server"), at time `at`, up to the trust anchors of `ca_file` (a PEM bundle; a trust
  // anchor need not be self-signed), else of the system store (OpenSSL's default file, else its
  // default directory). Every problem is listed, not only the first. One ChainVerification per
  // chain, in order. An error (read_small_file's codes, Errc::protocol for a ca_file without a
  // certificate) means the trust anchors could not be loaded and nothing was verified.
  virtual Result<std::vector<ChainVerification>>
  verify_chains(const std::vector<std::vector<CertificateInfo>>& chains,
                const std::optional<std::filesystem::path>& ca_file,
                std::chrono::system_clock::time_point at,
                Clock::time_point deadline,
                std::stop_token stop) = 0;
};

inline constexpr std::size_t k_pem_size_limit = 1024 * 1024;
// The most read of a bundle of trust anchors (Debian's whole store is about 220 KiB).
inline constexpr std::size_t k_anchors_size_limit = 16 * 1024 * 1024;

} // namespace util
