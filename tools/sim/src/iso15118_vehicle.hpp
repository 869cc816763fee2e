#pragma once
// The ISO 15118 side of a simulated station (Iso15118Options, fleet.hpp): the vehicle's
// contract certificate and what it says to authorize with it, the station's SECC certificate
// request and the chain the CSMS signs for it, and the vehicle's request for a contract
// certificate. The messages are built here in each version's form; station.cpp sends them
// and actions.cpp hands over what the CSMS sends.

#include <memory>
#include <optional>
#include <string>

#include "chargegrid/sim/fleet.hpp"
#include "outgoing.hpp"

namespace chargegrid::sim::detail {

// What every station of a fleet shares, read from the files once. Throws
// std::invalid_argument naming the file and what is wrong with it.
struct Iso15118Credentials {
  std::string contract_chain_pem;  // leaf first
  std::string emaid;
  std::string secc_key_pem;            // empty: each station makes its own key
  std::string ev_certificate_request;  // raw EXI bytes; empty: none
  static std::shared_ptr<const Iso15118Credentials> load(const Iso15118Options& options);
};

class Iso15118Vehicle {
 public:
  Iso15118Vehicle(std::shared_ptr<const Iso15118Credentials> credentials, Iso15118Options options,
                  std::string station_id);
  ~Iso15118Vehicle();

  const std::string& emaid() const { return credentials_->emaid; }

  // Authorize (2.x) or DataTransfer Authorize (1.6) with the eMAID and the contract
  // certificate's hash data or chain.
  OutgoingMessage authorize(OcppVersion version) const;
  // The idTokenInfo status of its answer ("" when there is none).
  static std::string authorization_status(OcppVersion version, const Frame& response);

  // SignCertificate (certificateType V2GCertificate) with a CSR for the SECC's key
  // (1.6: DataTransfer SignCertificate).
  OutgoingMessage sign_certificate(OcppVersion version);
  bool sign_certificate_due() const { return options_.sign_v2g_certificate && !csr_sent_; }
  void csr_answered(const std::string& status);

  // Get15118EVCertificate (1.6: DataTransfer) with the request file's bytes; nullopt when no
  // request is configured or it went out already.
  std::optional<OutgoingMessage> ev_certificate_request(OcppVersion version);
  void ev_certificate_answered(const std::string& status);

  // A CertificateSigned for the SECC (V2GCertificate): "Accepted" and kept when the chain's
  // leaf certifies the SECC's key, else "Rejected".
  std::string certificate_signed(const std::string& chain, const std::string& type);

  const std::string& secc_chain() const { return secc_chain_; }

 private:
  struct Key;
  std::shared_ptr<const Iso15118Credentials> credentials_;
  Iso15118Options options_;
  std::string station_id_;
  std::unique_ptr<Key> key_;  // the SECC's key, made on the first CSR
  bool csr_sent_ = false;
  bool ev_certificate_sent_ = false;
  std::string secc_chain_;
};

}  // namespace chargegrid::sim::detail
