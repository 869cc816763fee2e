#pragma once
// The version adapters: a validated payload becomes its generated message struct
// (protocols/<version>/...), and the struct the version-neutral message a functional block
// handles (ocpp/messages.hpp). 1.6 has its adapter in v16.cpp; 2.0.1 and 2.1 spell these
// messages alike and share v2x.hpp, instantiated for each version's structs in adapters.cpp.
//
//   auto report = adapters::read<MeterReport>(ctx.version, ctx.payload);
//
// The payload (a typed reading, or JSON) must have passed validation: a payload of another shape
// throws (nlohmann::json::exception, std::invalid_argument). An action a version does not have
// throws std::logic_error (a registration mistake, not station input).

#include <nlohmann/json.hpp>

#include "chargegrid/protocols/version.hpp"
#include "ocpp/messages.hpp"
#include "ocpp/payload.hpp"

namespace chargegrid::server::ocpp::adapters {

template <class Message>
Message read(protocols::OcppVersion version, const Payload& payload);

template <>
BootInfo read<BootInfo>(protocols::OcppVersion, const Payload&);
template <>
StatusReport read<StatusReport>(protocols::OcppVersion, const Payload&);
template <>
IdToken read<IdToken>(protocols::OcppVersion, const Payload&);  // Authorize
template <>
MeterReport read<MeterReport>(protocols::OcppVersion, const Payload&);  // MeterValues
template <>
TransactionStart read<TransactionStart>(protocols::OcppVersion, const Payload&);  // 1.6
template <>
TransactionStop read<TransactionStop>(protocols::OcppVersion, const Payload&);  // 1.6
template <>
TransactionUpdate read<TransactionUpdate>(protocols::OcppVersion,
                                          const Payload&);  // TransactionEvent, 2.x
template <>
SecurityEvent read<SecurityEvent>(protocols::OcppVersion, const Payload&);
template <>
EvChargingNeeds read<EvChargingNeeds>(protocols::OcppVersion, const Payload&);

// The 1.6 adapter (v16.cpp); the 2.x one is v2x.hpp, a template over each version's structs.
namespace v16 {
BootInfo boot_info(const Payload&);
StatusReport status_report(const Payload&);
IdToken authorize(const Payload&);
MeterReport meter_values(const Payload&);
TransactionStart start_transaction(const Payload&);
TransactionStop stop_transaction(const Payload&);
SecurityEvent security_event(const Payload&);
}  // namespace v16

}  // namespace chargegrid::server::ocpp::adapters
