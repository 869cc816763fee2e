#pragma once
// OCPP protocol versions and their WebSocket subprotocol names.

#include <optional>
#include <string_view>

namespace chargegrid::protocols {

enum class OcppVersion { v16, v201, v21 };

// The Sec-WebSocket-Protocol token of a version: "ocpp1.6", "ocpp2.0.1", "ocpp2.1".
std::string_view subprotocol(OcppVersion version);

// The version a subprotocol token names (exact, case-sensitive match), if any.
std::optional<OcppVersion> version_from_subprotocol(std::string_view token);

}  // namespace chargegrid::protocols
