#include "chargegrid/protocols/version.hpp"

namespace chargegrid::protocols {

std::string_view subprotocol(OcppVersion version) {
  switch (version) {
    case OcppVersion::v16:
      return "ocpp1.6";
    case OcppVersion::v201:
      return "ocpp2.0.1";
    case OcppVersion::v21:
      return "ocpp2.1";
  }
  return {};
}

std::optional<OcppVersion> version_from_subprotocol(std::string_view token) {
  for (auto version : {OcppVersion::v16, OcppVersion::v201, OcppVersion::v21}) {
    if (token == subprotocol(version)) return version;
  }
  return std::nullopt;
}

}  // namespace chargegrid::protocols
