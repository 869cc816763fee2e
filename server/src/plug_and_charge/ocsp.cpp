#include "plug_and_charge/ocsp.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "chargegrid/base/encoding.hpp"

namespace chargegrid::server::plug_and_charge {

namespace {

using Response = base::OpenSslPtr<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using Basic = base::OpenSslPtr<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using BigNumber = base::OpenSslPtr<BIGNUM, BN_free>;

const EVP_MD* digest_named(const std::string& name) {
  if (name == "SHA256") return EVP_sha256();
  if (name == "SHA384") return EVP_sha384();
  if (name == "SHA512") return EVP_sha512();
  return nullptr;
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

// A DER length, short or long form.
std::string der_length(std::size_t size) {
  if (size < 0x80) return std::string(1, static_cast<char>(size));
  std::string bytes;
  while (size > 0) {
    bytes.insert(bytes.begin(), static_cast<char>(size & 0xff));
    size >>= 8;
  }
  return std::string(1, static_cast<char>(0x80 | bytes.size())) + bytes;
}

std::string der_tlv(unsigned char tag, const std::string& content) {
  return std::string(1, static_cast<char>(tag)) + der_length(content.size()) + content;
}

// CertID ::= SEQUENCE { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber }, made
// from the hashes the station computed (OpenSSL builds one only from the issuer itself).
OcspCertId cert_id_from(const OcspRequestData& data, const EVP_MD* digest) {
  const auto name_hash = base::hex_decode_to_string(data.issuer_name_hash);
  const auto key_hash = base::hex_decode_to_string(data.issuer_key_hash);
  const auto size = static_cast<std::size_t>(EVP_MD_get_size(digest));
  if (!name_hash || name_hash->size() != size)
    throw std::invalid_argument("issuerNameHash is not " + std::to_string(size) +
                                " bytes of hexadecimal");
  if (!key_hash || key_hash->size() != size)
    throw std::invalid_argument("issuerKeyHash is not " + std::to_string(size) +
                                " bytes of hexadecimal");
  auto serial_text = data.serial_number;
  if (serial_text.size() % 2 == 1) serial_text = "0" + serial_text;
  const auto serial = base::hex_decode_to_string(serial_text);
  if (!serial || serial->empty() || serial->size() > 20)
    throw std::invalid_argument("serialNumber is not 1 to 20 bytes of hexadecimal");
  std::string serial_content = *serial;
  // A positive INTEGER: strip leading zero octets, then add one where the top bit is set.
  while (serial_content.size() > 1 && serial_content[0] == '\0' &&
         !(static_cast<unsigned char>(serial_content[1]) & 0x80))
    serial_content.erase(0, 1);
  if (static_cast<unsigned char>(serial_content[0]) & 0x80) serial_content.insert(0, 1, '\0');

  const ASN1_OBJECT* oid = OBJ_nid2obj(EVP_MD_get_type(digest));
  const int oid_size = i2d_ASN1_OBJECT(oid, nullptr);
  std::string oid_der(static_cast<std::size_t>(oid_size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(oid_der.data());
  i2d_ASN1_OBJECT(oid, &out);
  const std::string algorithm = der_tlv(0x30, oid_der + std::string("\x05\x00", 2));
  const std::string der =
      der_tlv(0x30, algorithm + der_tlv(0x04, *name_hash) + der_tlv(0x04, *key_hash) +
                        der_tlv(0x02, serial_content));
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  OcspCertId id(d2i_OCSP_CERTID(nullptr, &in, static_cast<long>(der.size())));
  if (!id) {
    ERR_clear_error();
    throw std::invalid_argument("the request data do not make a CertID");
  }
  return id;
}

std::chrono::system_clock::time_point to_time_point(const ASN1_GENERALIZEDTIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

Response parse(std::string_view der) {
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  Response response(d2i_OCSP_RESPONSE(nullptr, &in, static_cast<long>(der.size())));
  if (!response) {
    ERR_clear_error();
    throw OcspInvalid(OcspInvalid::Kind::kMalformed, "not a DER OCSP response");
  }
  return response;
}

std::string issuer_hash(X509* issuer, bool key, const EVP_MD* digest) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (key) {
    const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(issuer);
    if (!bits || EVP_Digest(bits->data, static_cast<std::size_t>(bits->length), out, &size, digest,
                            nullptr) != 1)
      return {};
  } else if (X509_NAME_digest(X509_get_subject_name(issuer), digest, out, &size) != 1) {
    return {};
  }
  return base::hex_encode(base::ByteView(out, size), base::HexCase::kUpper);
}

}  // namespace

OcspRequestData request_data_of(X509* certificate, X509* issuer) {
  OcspRequestData data;
  data.hash_algorithm = "SHA256";
  data.issuer_name_hash = issuer_hash(issuer, false, EVP_sha256());
  data.issuer_key_hash = issuer_hash(issuer, true, EVP_sha256());
  BigNumber serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr));
  if (serial) {
    char* text = BN_bn2hex(serial.get());
    if (text) data.serial_number = text;
    OPENSSL_free(text);
  }
  STACK_OF(OPENSSL_STRING)* urls = X509_get1_ocsp(certificate);
  if (urls && sk_OPENSSL_STRING_num(urls) > 0)
    data.responder_url = sk_OPENSSL_STRING_value(urls, 0);
  X509_email_free(urls);
  return data;
}

OcspQuery::OcspQuery(const OcspRequestData& data, bool with_nonce) {
  const EVP_MD* digest = digest_named(data.hash_algorithm);
  if (!digest) throw std::invalid_argument("unknown hashAlgorithm '" + data.hash_algorithm + "'");
  id_ = cert_id_from(data, digest);
  request_.reset(OCSP_REQUEST_new());
  OCSP_CERTID* copy = OCSP_CERTID_dup(id_.get());
  if (!request_ || !copy || !OCSP_request_add0_id(request_.get(), copy)) {
    OCSP_CERTID_free(copy);
    throw std::runtime_error("cannot build an OCSP request");
  }
  if (with_nonce && OCSP_request_add1_nonce(request_.get(), nullptr, -1) != 1)
    throw std::runtime_error("cannot add an OCSP nonce");
  const int size = i2d_OCSP_REQUEST(request_.get(), nullptr);
  if (size <= 0) throw std::runtime_error("cannot encode an OCSP request");
  der_.resize(static_cast<std::size_t>(size));
  auto* out = reinterpret_cast<unsigned char*>(der_.data());
  i2d_OCSP_REQUEST(request_.get(), &out);
  responder_url_ = data.responder_url;
  key_ = data.hash_algorithm + ":" + upper(data.issuer_name_hash) + ":" +
         upper(data.issuer_key_hash) + ":" + upper(data.serial_number) + "@" + data.responder_url;
}

OcspVerdict verify_response(std::string_view der, const OcspQuery& query, X509_STORE* trust,
                            STACK_OF(X509) * extra) {
  auto response = parse(der);
  const int status = OCSP_response_status(response.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL)
    throw OcspInvalid(OcspInvalid::Kind::kMalformed,
                      std::string("the responder answered ") + OCSP_response_status_str(status));
  Basic basic(OCSP_response_get1_basic(response.get()));
  if (!basic) {
    ERR_clear_error();
    throw OcspInvalid(OcspInvalid::Kind::kMalformed, "not a basic OCSP response");
  }
  // The signer must be the issuer or its delegated responder (OCSPSigning), chained to
  // a trusted root.
  if (OCSP_basic_verify(basic.get(), extra, trust, 0) != 1) {
    const auto reason = ERR_reason_error_string(ERR_peek_last_error());
    ERR_clear_error();
    throw OcspInvalid(OcspInvalid::Kind::kSignature,
                      std::string("the response's signature or signer is not trusted: ") +
                          (reason ? reason : "unknown reason"));
  }
  // A nonce we sent must come back unchanged (a replayed response would carry another).
  if (OCSP_check_nonce(query.request(), basic.get()) == 0)
    throw OcspInvalid(OcspInvalid::Kind::kMismatch, "the response's nonce is not the request's");

  int cert_status = -1, reason = -1;
  ASN1_GENERALIZEDTIME *revoked_at = nullptr, *this_update = nullptr, *next_update = nullptr;
  if (OCSP_resp_find_status(basic.get(), query.cert_id(), &cert_status, &reason, &revoked_at,
                            &this_update, &next_update) != 1)
    throw OcspInvalid(OcspInvalid::Kind::kMismatch,
                      "the response does not answer for this "
                      "certificate");
  if (OCSP_check_validity(this_update, next_update, 300, -1) != 1) {
    ERR_clear_error();
    throw OcspInvalid(OcspInvalid::Kind::kStale,
                      "the response is not current (thisUpdate/nextUpdate)");
  }
  OcspVerdict verdict;
  verdict.status = cert_status == V_OCSP_CERTSTATUS_GOOD      ? OcspCertStatus::kGood
                   : cert_status == V_OCSP_CERTSTATUS_REVOKED ? OcspCertStatus::kRevoked
                                                              : OcspCertStatus::kUnknown;
  verdict.revocation_reason = reason;
  verdict.this_update = to_time_point(this_update);
  if (next_update) verdict.next_update = to_time_point(next_update);
  return verdict;
}

OcspFacts read_response(std::string_view der) {
  auto response = parse(der);
  OcspFacts facts;
  facts.response_status = OCSP_response_status(response.get());
  if (facts.response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) return facts;
  Basic basic(OCSP_response_get1_basic(response.get()));
  if (!basic) {
    ERR_clear_error();
    throw OcspInvalid(OcspInvalid::Kind::kMalformed, "not a basic OCSP response");
  }
  for (int i = 0; i < OCSP_resp_count(basic.get()); ++i) {
    ASN1_GENERALIZEDTIME *revoked_at = nullptr, *this_update = nullptr, *next_update = nullptr;
    int reason = -1;
    if (OCSP_single_get0_status(OCSP_resp_get0(basic.get(), i), &reason, &revoked_at, &this_update,
                                &next_update) < 0 ||
        !next_update)
      continue;
    const auto at = to_time_point(next_update);
    if (!facts.next_update || at < *facts.next_update) facts.next_update = at;
  }
  return facts;
}

}  // namespace chargegrid::server::plug_and_charge
