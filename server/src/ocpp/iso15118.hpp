#pragma once
// ISO 15118 Plug & Charge messages: Authorize with a contract certificate (or its OCSP data),
// GetCertificateStatus, Get15118EVCertificate and SignCertificate for V2G certificates, in
// OCPP 2.0.1 and 2.1 and in the OCPP 1.6 application note's DataTransfer form (vendor
// org.openchargealliance.iso15118pnc). Registered after the other handlers: Authorize,
// SignCertificate and DataTransfer requests that are not Plug & Charge go to the handlers
// registered before.

#include "ocpp/handler.hpp"

namespace chargegrid::server {
struct Services;
namespace plug_and_charge {
class PlugAndCharge;
}

namespace ocpp {

void register_iso15118(HandlerRegistry& registry, Services& services,
                       plug_and_charge::PlugAndCharge& pnc);

}  // namespace ocpp
}  // namespace chargegrid::server
