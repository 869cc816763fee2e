#pragma once
// OCPP-J CALLERROR error codes.

#include <string_view>

#include "chargegrid/protocols/version.hpp"

namespace chargegrid::protocols {

// Version-neutral error codes; to_wire() gives each version's spelling.
enum class RpcErrorCode {
  FormatViolation,
  GenericError,
  InternalError,
  MessageTypeNotSupported,
  NotImplemented,
  NotSupported,
  OccurrenceConstraintViolation,
  PropertyConstraintViolation,
  ProtocolError,
  RpcFrameworkError,
  SecurityError,
  TypeConstraintViolation
};

// The errorCode string a version uses on the wire. OCPP 1.6 spells
// FormatViolation "FormationViolation" and OccurrenceConstraintViolation
// "OccurenceConstraintViolation"; codes 1.6 lacks map to its closest code
// (RpcFrameworkError -> FormationViolation, MessageTypeNotSupported -> NotSupported).
std::string_view to_wire(RpcErrorCode code, OcppVersion version);

}  // namespace chargegrid::protocols
