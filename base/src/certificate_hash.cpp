#include "chargegrid/base/certificate_hash.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <ctime>
#include <memory>

#include "chargegrid/base/encoding.hpp"
#include "chargegrid/base/openssl_ptr.hpp"
#include "chargegrid/base/sha256.hpp"

namespace chargegrid::base {

namespace {

using Certificate = OpenSslPtr<X509, X509_free>;
using Bio = OpenSslPtr<BIO, BIO_free>;
using BigNumber = OpenSslPtr<BIGNUM, BN_free>;
void free_string(char* text) {
  OPENSSL_free(text);
}
using OpenSslString = OpenSslPtr<char, free_string>;

constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kEnd = "-----END CERTIFICATE-----";

Certificate parse_one(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Certificate certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!certificate) throw NotACertificate("the PEM block is not an X.509 certificate");
  return certificate;
}

Certificate first_certificate(std::string_view pem) {
  const auto begin = pem.find(kBegin);
  if (begin == std::string_view::npos)
    throw NotACertificate("no PEM certificate (-----BEGIN CERTIFICATE-----) in the text");
  return parse_one(pem.substr(begin));
}

std::string name_hash(X509_NAME* name) {
  unsigned char* der = nullptr;
  const int length = i2d_X509_NAME(name, &der);
  if (length <= 0) throw NotACertificate("the certificate's issuer name does not encode");
  const auto digest = sha256(
      ByteView(reinterpret_cast<const std::uint8_t*>(der), static_cast<std::size_t>(length)));
  OPENSSL_free(der);
  return hex_encode(digest);
}

std::string key_hash(X509* issuer) {
  const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(issuer);
  if (!bits) throw NotACertificate("the issuer certificate has no public key");
  const auto digest = sha256(
      ByteView(ASN1_STRING_get0_data(bits), static_cast<std::size_t>(ASN1_STRING_length(bits))));
  return hex_encode(digest);
}

std::string serial_hex(X509* certificate) {
  BigNumber serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr));
  if (!serial) throw NotACertificate("the certificate's serial number does not read");
  OpenSslString text(BN_bn2hex(serial.get()));
  std::string out(text.get());
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto first = out.find_first_not_of('0');
  return first == std::string::npos ? "0" : out.substr(first);
}

std::string one_line(X509_NAME* name) {
  Bio bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

std::string rfc3339(const ASN1_TIME* time) {
  std::tm parts{};
  if (ASN1_TIME_to_tm(time, &parts) != 1) return {};
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

CertificateHashData hash_data(X509* certificate, X509* issuer) {
  return {"SHA256", name_hash(X509_get_issuer_name(certificate)), key_hash(issuer),
          serial_hex(certificate)};
}

}  // namespace

std::vector<std::string> split_certificate_chain(std::string_view pem) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = pem.find(kBegin, at)) != std::string_view::npos) {
    const auto end = pem.find(kEnd, at);
    if (end == std::string_view::npos) throw NotACertificate("a PEM certificate is not closed");
    const auto block = pem.substr(at, end + kEnd.size() - at);
    parse_one(block);
    out.emplace_back(block);
    out.back() += '\n';
    at = end + kEnd.size();
  }
  if (out.empty())
    throw NotACertificate("no PEM certificate (-----BEGIN CERTIFICATE-----) in the text");
  return out;
}

CertificateFacts describe_certificate(std::string_view pem) {
  auto certificate = first_certificate(pem);
  X509* x = certificate.get();
  CertificateFacts facts;
  facts.hash = hash_data(x, x);
  facts.subject = one_line(X509_get_subject_name(x));
  facts.issuer = one_line(X509_get_issuer_name(x));
  facts.ca = X509_check_ca(x) > 0;
  facts.self_signed =
      X509_check_issued(x, x) == X509_V_OK && X509_verify(x, X509_get0_pubkey(x)) == 1;
  ERR_clear_error();
  facts.not_after = rfc3339(X509_get0_notAfter(x));
  if (STACK_OF(OPENSSL_STRING)* urls = X509_get1_ocsp(x)) {
    for (int i = 0; i < sk_OPENSSL_STRING_num(urls); ++i)
      facts.ocsp_responders.emplace_back(sk_OPENSSL_STRING_value(urls, i));
    X509_email_free(urls);
  }
  return facts;
}

CertificateHashData certificate_hash_data(std::string_view certificate_pem,
                                          std::string_view issuer_pem) {
  auto certificate = first_certificate(certificate_pem);
  if (issuer_pem.empty()) return hash_data(certificate.get(), certificate.get());
  auto issuer = first_certificate(issuer_pem);
  return hash_data(certificate.get(), issuer.get());
}

}  // namespace chargegrid::base
