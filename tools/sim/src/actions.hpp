#pragma once
// The CALLs a simulated station answers, in a table keyed by (OCPP version, action) like
// the server's HandlerRegistry: one small function per action, which reads the payload,
// changes the station model and returns the CALLRESULT payload, or throws CallError.

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model.hpp"

namespace chargegrid::sim::detail {

// A CSMS request that cannot be answered with a result: answered with this CALLERROR.
struct CallError : std::runtime_error {
  CallError(std::string code_, const std::string& description)
      : std::runtime_error(description), code(std::move(code_)) {}
  std::string code;
};

using Action = Json (*)(StationModel& station, const Json& payload);

class ActionTable {
 public:
  void add(OcppVersion version, std::string action, Action handler) {
    actions_[{version, std::move(action)}] = handler;
  }
  // Null when the station does not implement the action in that version.
  Action find(OcppVersion version, std::string_view action) const {
    auto it = actions_.find({version, std::string(action)});
    return it == actions_.end() ? nullptr : it->second;
  }
  std::vector<std::pair<OcppVersion, std::string>> list() const {
    std::vector<std::pair<OcppVersion, std::string>> out;
    for (const auto& [key, _] : actions_) out.push_back(key);
    return out;
  }

 private:
  std::map<std::pair<OcppVersion, std::string>, Action> actions_;
};

// Every CALL the simulated stations answer.
const ActionTable& csms_actions();

}  // namespace chargegrid::sim::detail
