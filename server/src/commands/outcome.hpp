#pragma once
// How a CALL to a station ended: one vocabulary for the station's connection, the command
// router, the cluster and the command log (command_log.outcome holds these names).

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace chargegrid::server::commands {

struct Outcome {
  enum class Kind {
    Answered,   // the station's CALLRESULT (payload: its answer)
    CallError,  // a CALLERROR, or an answer that breaks the schema
                // (payload: {"errorCode", "description", "details"})
    Timeout,    // no answer within --call-timeout
    Offline,    // no connection to the station, or it closed before answering
    Lost,       // routed to the node holding the station, which stopped before answering
    Refused,    // too many calls await an answer already (payload: {"description"})
    Invalid,    // the payload breaks the action's schema; never sent (payload: {"description"})
  };
  Kind kind = Kind::Offline;
  nlohmann::json payload = nlohmann::json::object();
};

// The command log's name of a kind: answered, call_error, timeout, offline, lost, refused,
// invalid; and back.
std::string_view outcome_name(Outcome::Kind kind);
std::optional<Outcome::Kind> outcome_kind(std::string_view name);

}  // namespace chargegrid::server::commands
