#include "iso15118_vehicle.hpp"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "chargegrid/base/certificate_hash.hpp"
#include "chargegrid/base/encoding.hpp"
#include "trust_anchors.hpp"

namespace chargegrid::sim::detail {

namespace {

constexpr const char* kSchemaVersion = "urn:iso:15118:2:2013:MsgDef";

struct Free {
  void operator()(BIO* b) const { BIO_free(b); }
  void operator()(X509* x) const { X509_free(x); }
  void operator()(X509_REQ* r) const { X509_REQ_free(r); }
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(std::string(what) + ": cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::unique_ptr<X509, Free> parse_certificate(const std::string& pem) {
  std::unique_ptr<BIO, Free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<X509, Free> x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return x;
}

std::string common_name(const std::string& pem) {
  auto x = parse_certificate(pem);
  if (!x) return {};
  char cn[256] = {};
  const int n =
      X509_NAME_get_text_by_NID(X509_get_subject_name(x.get()), NID_commonName, cn, sizeof cn);
  return n > 0 ? std::string(cn, static_cast<std::size_t>(n)) : std::string();
}

// 1.6: the Plug & Charge application note's DataTransfer carrying the 2.0.1 request.
OutgoingMessage wrap(OcppVersion version, const std::string& action, Json request) {
  if (version != OcppVersion::v16) return {action, std::move(request)};
  return {"DataTransfer",
          {{"vendorId", kPncVendorId}, {"messageId", action}, {"data", request.dump()}}};
}

// The 2.0.1 answer, out of a 1.6 DataTransfer's data when it is one.
Json unwrap(OcppVersion version, const Frame& response) {
  if (response.type != MessageType::call_result || !response.payload.is_object()) return {};
  if (version != OcppVersion::v16) return response.payload;
  if (response.payload.value("status", "") != "Accepted") return {};
  try {
    return Json::parse(response.payload.value("data", std::string()));
  } catch (const Json::parse_error&) {
    return {};
  }
}

}  // namespace

struct Iso15118Vehicle::Key {
  std::unique_ptr<EVP_PKEY, Free> pkey;
};

std::shared_ptr<const Iso15118Credentials> Iso15118Credentials::load(
    const Iso15118Options& options) {
  auto out = std::make_shared<Iso15118Credentials>();
  if (options.contract_certificate_file.empty())
    throw std::invalid_argument("an ISO 15118 vehicle needs its contract certificate file");
  out->contract_chain_pem = read_file(options.contract_certificate_file, "contract certificate");
  try {
    base::split_certificate_chain(out->contract_chain_pem);
  } catch (const base::NotACertificate& e) {
    throw std::invalid_argument("contract certificate " + options.contract_certificate_file + ": " +
                                e.what());
  }
  out->emaid = options.emaid.empty() ? common_name(out->contract_chain_pem) : options.emaid;
  if (out->emaid.empty())
    throw std::invalid_argument("contract certificate " + options.contract_certificate_file +
                                " has no CN to take the eMAID from; give the eMAID");
  if (!options.secc_key_file.empty()) {
    out->secc_key_pem = read_file(options.secc_key_file, "SECC key");
    std::unique_ptr<BIO, Free> bio(
        BIO_new_mem_buf(out->secc_key_pem.data(), static_cast<int>(out->secc_key_pem.size())));
    std::unique_ptr<EVP_PKEY, Free> key(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
    if (!key) throw std::invalid_argument("SECC key " + options.secc_key_file + " is no PEM key");
  }
  if (!options.ev_certificate_request_file.empty()) {
    out->ev_certificate_request =
        read_file(options.ev_certificate_request_file, "EV certificate request");
    if (out->ev_certificate_request.empty())
      throw std::invalid_argument("EV certificate request " + options.ev_certificate_request_file +
                                  " is empty");
  }
  return out;
}

Iso15118Vehicle::Iso15118Vehicle(std::shared_ptr<const Iso15118Credentials> credentials,
                                 Iso15118Options options, std::string station_id)
    : credentials_(std::move(credentials)),
      options_(std::move(options)),
      station_id_(std::move(station_id)) {}

Iso15118Vehicle::~Iso15118Vehicle() = default;

OutgoingMessage Iso15118Vehicle::authorize(OcppVersion version) const {
  Json request{{"idToken", {{"idToken", emaid()}, {"type", "eMAID"}}}};
  const auto chain = base::split_certificate_chain(credentials_->contract_chain_pem);
  if (options_.authorize_with_certificate) {
    std::string pem;
    for (const auto& block : chain) pem += block;
    request["certificate"] = pem;
  } else {
    // The contract certificate, and each sub-CA whose issuer the chain holds and that names
    // an OCSP responder: what the CSMS asks the responders about.
    Json hashes = Json::array();
    for (std::size_t i = 0; i + 1 < chain.size() && hashes.size() < 4; ++i) {
      const auto facts = base::describe_certificate(chain[i]);
      if (i > 0 && facts.ocsp_responders.empty()) continue;
      const auto hash = base::certificate_hash_data(chain[i], chain[i + 1]);
      hashes.push_back(
          {{"hashAlgorithm", hash.hash_algorithm},
           {"issuerNameHash", hash.issuer_name_hash},
           {"issuerKeyHash", hash.issuer_key_hash},
           {"serialNumber", hash.serial_number},
           {"responderURL",
            facts.ocsp_responders.empty() ? std::string() : facts.ocsp_responders.front()}});
    }
    if (hashes.empty())
      throw std::invalid_argument("the contract certificate chain needs its issuing sub-CA");
    request["iso15118CertificateHashData"] = hashes;
  }
  return wrap(version, "Authorize", std::move(request));
}

std::string Iso15118Vehicle::authorization_status(OcppVersion version, const Frame& response) {
  const Json answer = unwrap(version, response);
  if (!answer.is_object() || !answer.contains("idTokenInfo") || !answer["idTokenInfo"].is_object())
    return {};
  return answer["idTokenInfo"].value("status", "");
}

OutgoingMessage Iso15118Vehicle::sign_certificate(OcppVersion version) {
  if (!key_) {
    key_ = std::make_unique<Key>();
    if (!credentials_->secc_key_pem.empty()) {
      const auto& pem = credentials_->secc_key_pem;
      std::unique_ptr<BIO, Free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
      key_->pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    } else {
      key_->pkey.reset(EVP_EC_gen("P-256"));
    }
    ERR_clear_error();
    if (!key_->pkey) throw std::runtime_error("no SECC key");
  }
  std::unique_ptr<X509_REQ, Free> request(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(request.get());
  const auto add = [&](const char* field, const std::string& value) {
    X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.data()),
                               static_cast<int>(value.size()), -1, 0);
  };
  // ISO 15118-2: an SECC certificate names the station (CN) and DC=CPO.
  add("CN", station_id_);
  add("O", "ChargeGrid simulator");
  add("DC", "CPO");
  X509_REQ_set_pubkey(request.get(), key_->pkey.get());
  if (X509_REQ_sign(request.get(), key_->pkey.get(), EVP_sha256()) <= 0)
    throw std::runtime_error("signing the CSR failed");
  std::unique_ptr<BIO, Free> out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(out.get(), request.get());
  char* data = nullptr;
  const long length = BIO_get_mem_data(out.get(), &data);
  csr_sent_ = true;
  return wrap(version, "SignCertificate",
              {{"csr", std::string(data, static_cast<std::size_t>(length))},
               {"certificateType", "V2GCertificate"}});
}

void Iso15118Vehicle::csr_answered(const std::string& status) {
  // Refused or unanswered: asked again on the next connection.
  if (status != "Accepted") csr_sent_ = false;
}

std::optional<OutgoingMessage> Iso15118Vehicle::ev_certificate_request(OcppVersion version) {
  if (credentials_->ev_certificate_request.empty() || ev_certificate_sent_) return std::nullopt;
  ev_certificate_sent_ = true;
  return wrap(version, "Get15118EVCertificate",
              {{"iso15118SchemaVersion", kSchemaVersion},
               {"action", "Install"},
               {"exiRequest", base::base64_encode(base::as_bytes(
                                  std::string_view(credentials_->ev_certificate_request)))}});
}

void Iso15118Vehicle::ev_certificate_answered(const std::string& status) {
  if (status.empty()) ev_certificate_sent_ = false;  // no answer: ask again
}

std::string Iso15118Vehicle::certificate_signed(const std::string& chain, const std::string& type) {
  if (type != "V2GCertificate" || !key_) return "Rejected";
  auto leaf = parse_certificate(chain);
  if (!leaf || EVP_PKEY_eq(X509_get0_pubkey(leaf.get()), key_->pkey.get()) != 1) {
    ERR_clear_error();
    return "Rejected";
  }
  secc_chain_ = chain;
  return "Accepted";
}

}  // namespace chargegrid::sim::detail
