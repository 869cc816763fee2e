#pragma once
// A request's payload as a handler receives it, validated: either the struct the frame was
// read into (protocols/typed_call.hpp, the messages stations send most) or the JSON DOM.
// A typed request's JSON is parsed from the frame's text only if a handler asks for it.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "chargegrid/protocols/typed_call.hpp"

namespace chargegrid::server::ocpp {

class Payload {
 public:
  // The DOM path (and handlers calling handlers).
  Payload(const nlohmann::json& json) : json_(&json) {}  // NOLINT: implicit by design
  // A typed reading; `json_text` is its payload's text, which must outlive this.
  Payload(protocols::TypedRequest& typed, std::string_view json_text)
      : typed_(&typed), text_(json_text) {}

  // The payload as JSON.
  const nlohmann::json& json() const;
  // The payload as JSON text: as the station sent it for a typed request, else serialised.
  std::string text() const;

  // The payload as its generated struct: moved out of the typed reading the first time (the
  // reading is then spent), otherwise from_json of the JSON.
  template <class Request>
  Request take() const {
    if constexpr (protocols::kIsTypedRequest<Request>) {
      if (typed_) {
        if (auto* request = std::get_if<Request>(typed_)) {
          Request out = std::move(*request);
          *typed_ = std::monostate{};
          return out;
        }
      }
    }
    return json().template get<Request>();
  }

 private:
  const nlohmann::json* json_ = nullptr;
  protocols::TypedRequest* typed_ = nullptr;
  std::string_view text_;
  mutable std::optional<nlohmann::json> parsed_;
};

}  // namespace chargegrid::server::ocpp
