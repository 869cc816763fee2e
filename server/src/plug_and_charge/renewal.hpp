#pragma once
// Renews stations' SECC (V2G) certificates before they expire: every check interval, each
// station whose newest V2G certificate ends within --v2g-renew-days is asked for a new CSR
// (TriggerMessage SignV2GCertificate; OCPP 1.6: the application note's DataTransfer), at
// most once a day while it does not send one.

#include <boost/asio/io_context.hpp>
#include <memory>

#include "chargegrid/server/config.hpp"
#include "store/database.hpp"

namespace chargegrid::server {
namespace commands {
class CommandRouter;
}

namespace plug_and_charge {

class CertificateRenewal {
 public:
  CertificateRenewal(const Config& config, boost::asio::io_context& io, Database& database,
                     commands::CommandRouter& commands);
  ~CertificateRenewal();
  // Nothing runs unless a CPO sub-CA is configured.
  void start();
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace plug_and_charge
}  // namespace chargegrid::server
