#pragma once
// The commands a station can be sent, each with arguments that mean the same for every
// OCPP version, and how each becomes the station's own CALL: one row per command.
// The REST API offers every row as POST /stations/{id}/commands/{name}; services of the
// server use the same rows (a new command for a service is a new row here).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "chargegrid/protocols/version.hpp"

namespace chargegrid::server::commands {

// What a command becomes for one station: the OCPP action and its payload.
struct OcppCall {
  std::string action;
  nlohmann::json payload;
};

// The command has no form in the station's OCPP version (what to use instead is said).
class NotAvailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An OCPP action the station's version does not define (a command sent as "ocpp").
class UnknownAction : public NotAvailable {
 public:
  using NotAvailable::NotAvailable;
};

// `command_id` is the command log's id, for payloads that carry a request id
// (remoteStartId, requestId, reservationId). Throws NotAvailable.
using Translate = OcppCall (*)(const nlohmann::json& arguments, protocols::OcppVersion version,
                               std::int64_t command_id);

struct CommandSpec {
  std::string_view name;  // e.g. "remote-start"
  // The arguments' schema in the OpenAPI document; empty for a command the REST API offers
  // on a route of its own (remote-stop) or not at all (the server's own services: passwords,
  // certificates, charging profiles).
  std::string_view schema;
  Translate translate;
};

std::span<const CommandSpec> command_table();
// The row of `name`; nullptr when there is none.
const CommandSpec* find_command(std::string_view name);

}  // namespace chargegrid::server::commands
