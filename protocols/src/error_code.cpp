#include "chargegrid/protocols/error_code.hpp"

namespace chargegrid::protocols {

std::string_view to_wire(RpcErrorCode code, OcppVersion version) {
  const bool v16 = version == OcppVersion::v16;
  switch (code) {
    case RpcErrorCode::FormatViolation:
      return v16 ? "FormationViolation" : "FormatViolation";
    case RpcErrorCode::GenericError:
      return "GenericError";
    case RpcErrorCode::InternalError:
      return "InternalError";
    case RpcErrorCode::MessageTypeNotSupported:
      // 1.6 has no such code; NotSupported is the one that says "understood, not handled".
      return v16 ? "NotSupported" : "MessageTypeNotSupported";
    case RpcErrorCode::NotImplemented:
      return "NotImplemented";
    case RpcErrorCode::NotSupported:
      return "NotSupported";
    case RpcErrorCode::OccurrenceConstraintViolation:
      // The 1.6 specification spells it with one "r".
      return v16 ? "OccurenceConstraintViolation" : "OccurrenceConstraintViolation";
    case RpcErrorCode::PropertyConstraintViolation:
      return "PropertyConstraintViolation";
    case RpcErrorCode::ProtocolError:
      return "ProtocolError";
    case RpcErrorCode::RpcFrameworkError:
      // 1.6: a frame that is not a well-formed RPC array is syntactically incorrect.
      return v16 ? "FormationViolation" : "RpcFrameworkError";
    case RpcErrorCode::SecurityError:
      return "SecurityError";
    case RpcErrorCode::TypeConstraintViolation:
      return "TypeConstraintViolation";
  }
  return "GenericError";
}

}  // namespace chargegrid::protocols
