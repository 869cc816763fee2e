#include "chargegrid/protocols/version.hpp"

#include "chargegrid/base/enum_names.hpp"

namespace chargegrid::protocols {

namespace {

constexpr auto kSubprotocols = base::enum_names<OcppVersion>({{OcppVersion::v16, "ocpp1.6"},
                                                              {OcppVersion::v201, "ocpp2.0.1"},
                                                              {OcppVersion::v21, "ocpp2.1"}});

}  // namespace

std::string_view subprotocol(OcppVersion version) {
  return kSubprotocols.name(version);
}

std::optional<OcppVersion> version_from_subprotocol(std::string_view token) {
  return kSubprotocols.parse(token);
}

}  // namespace chargegrid::protocols
