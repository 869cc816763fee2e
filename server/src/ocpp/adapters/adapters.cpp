#include "ocpp/adapters/adapters.hpp"

#include <stdexcept>
#include <string>

#include "chargegrid/protocols/v201/authorize.hpp"
#include "chargegrid/protocols/v201/boot_notification.hpp"
#include "chargegrid/protocols/v201/meter_values.hpp"
#include "chargegrid/protocols/v201/notify_ev_charging_needs.hpp"
#include "chargegrid/protocols/v201/security_event_notification.hpp"
#include "chargegrid/protocols/v201/status_notification.hpp"
#include "chargegrid/protocols/v201/transaction_event.hpp"
#include "chargegrid/protocols/v21/authorize.hpp"
#include "chargegrid/protocols/v21/boot_notification.hpp"
#include "chargegrid/protocols/v21/meter_values.hpp"
#include "chargegrid/protocols/v21/notify_ev_charging_needs.hpp"
#include "chargegrid/protocols/v21/security_event_notification.hpp"
#include "chargegrid/protocols/v21/status_notification.hpp"
#include "chargegrid/protocols/v21/transaction_event.hpp"
#include "ocpp/adapters/v2x.hpp"

namespace chargegrid::server::ocpp::adapters {

using protocols::OcppVersion;

namespace {

// Picks the version's adapter function; one a version lacks is null.
template <class Message>
Message dispatch(OcppVersion version, const Payload& payload, Message (*v16)(const Payload&),
                 Message (*v201)(const Payload&), Message (*v21)(const Payload&),
                 const char* what) {
  switch (version) {
    case OcppVersion::v16:
      if (v16) return v16(payload);
      break;
    case OcppVersion::v201:
      if (v201) return v201(payload);
      break;
    case OcppVersion::v21:
      if (v21) return v21(payload);
      break;
  }
  throw std::logic_error(std::string("OCPP ") + std::string(protocols::subprotocol(version)) +
                         " has no " + what);
}

}  // namespace

// A message of every version: the 1.6 adapter (or none) and the 2.x one over each version's
// generated request struct.
#define CHARGEGRID_READ(Message, v16_adapter, v2x_adapter, Request, action)       \
  template <>                                                                     \
  Message read<Message>(OcppVersion version, const Payload& payload) {            \
    return dispatch<Message>(version, payload, v16_adapter,                       \
                             &v2x::v2x_adapter<protocols::v201::Request>,         \
                             &v2x::v2x_adapter<protocols::v21::Request>, action); \
  }

CHARGEGRID_READ(BootInfo, &v16::boot_info, boot_info, BootNotificationRequest, "BootNotification")
CHARGEGRID_READ(StatusReport, &v16::status_report, status_report, StatusNotificationRequest,
                "StatusNotification")
CHARGEGRID_READ(IdToken, &v16::authorize, authorize, AuthorizeRequest, "Authorize")
CHARGEGRID_READ(MeterReport, &v16::meter_values, meter_values, MeterValuesRequest, "MeterValues")
CHARGEGRID_READ(SecurityEvent, &v16::security_event, security_event,
                SecurityEventNotificationRequest, "SecurityEventNotification")
CHARGEGRID_READ(TransactionUpdate, nullptr, transaction_event, TransactionEventRequest,
                "TransactionEvent")
CHARGEGRID_READ(EvChargingNeeds, nullptr, charging_needs, NotifyEVChargingNeedsRequest,
                "NotifyEVChargingNeeds")
#undef CHARGEGRID_READ

// 1.6 only: 2.x has TransactionEvent instead.
template <>
TransactionStart read<TransactionStart>(OcppVersion version, const Payload& payload) {
  return dispatch<TransactionStart>(version, payload, &v16::start_transaction, nullptr, nullptr,
                                    "StartTransaction");
}
template <>
TransactionStop read<TransactionStop>(OcppVersion version, const Payload& payload) {
  return dispatch<TransactionStop>(version, payload, &v16::stop_transaction, nullptr, nullptr,
                                   "StopTransaction");
}

}  // namespace chargegrid::server::ocpp::adapters
