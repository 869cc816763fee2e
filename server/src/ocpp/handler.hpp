#pragma once
// What a functional-block handler sees and returns. Handlers are registered per
// OCPP version and action; the payload has already passed schema validation (ocpp/payload.hpp:
// the generated struct for the requests stations send most, JSON for the rest).

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "chargegrid/protocols/rpc.hpp"
#include "chargegrid/protocols/version.hpp"
#include "ocpp/payload.hpp"

namespace chargegrid::server {

class StationConnection;

struct CallContext {
  std::string station_id;
  protocols::OcppVersion version;
  std::string action;
  ocpp::Payload payload;
  std::shared_ptr<StationConnection> connection;
};

struct CallReply {
  nlohmann::json payload = nlohmann::json::object();
  std::optional<protocols::RpcErrorCode> error;
  std::string description;
  nlohmann::json details = nlohmann::json::object();  // of a CALLERROR, e.g. {"path": ...}
  // Runs on the station's strand once the answer is queued (a CALL that must follow it).
  std::function<void()> after_answer;

  static CallReply ok(nlohmann::json payload) {
    return {std::move(payload), std::nullopt, {}, nlohmann::json::object(), nullptr};
  }
  static CallReply fail(protocols::RpcErrorCode code, std::string description,
                        nlohmann::json details = nlohmann::json::object()) {
    return {nlohmann::json::object(), code, std::move(description), std::move(details), nullptr};
  }
};

using Handler = std::function<boost::asio::awaitable<CallReply>(CallContext&)>;

class HandlerRegistry {
 public:
  void add(protocols::OcppVersion version, std::string action, Handler handler) {
    handlers_[{version, std::move(action)}] = std::move(handler);
  }
  // The 2.1 handlers reuse 2.0.1's where the message is the same.
  const Handler* find(protocols::OcppVersion version, std::string_view action) const {
    auto it = handlers_.find({version, std::string(action)});
    return it == handlers_.end() ? nullptr : &it->second;
  }
  std::vector<std::pair<protocols::OcppVersion, std::string>> list() const {
    std::vector<std::pair<protocols::OcppVersion, std::string>> out;
    for (const auto& [key, _] : handlers_) out.push_back(key);
    return out;
  }

 private:
  std::map<std::pair<protocols::OcppVersion, std::string>, Handler> handlers_;
};

}  // namespace chargegrid::server
