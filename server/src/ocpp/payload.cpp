#include "ocpp/payload.hpp"

#include "chargegrid/protocols/json_limits.hpp"

namespace chargegrid::server::ocpp {

const nlohmann::json& Payload::json() const {
  if (json_) return *json_;
  if (!parsed_) {
    // The text was read and checked with the frame; it parses.
    auto parsed = protocols::parse_json(text_);
    parsed_ = parsed ? std::move(parsed.value) : nlohmann::json::object();
  }
  return *parsed_;
}

std::string Payload::text() const {
  if (json_) return json_->dump();
  return std::string(text_);
}

}  // namespace chargegrid::server::ocpp
