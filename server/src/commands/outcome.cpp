#include "commands/outcome.hpp"

namespace chargegrid::server::commands {

std::string_view outcome_name(Outcome::Kind kind) {
  using Kind = Outcome::Kind;
  switch (kind) {
    case Kind::Answered:
      return "answered";
    case Kind::CallError:
      return "call_error";
    case Kind::Timeout:
      return "timeout";
    case Kind::Offline:
      return "offline";
    case Kind::Lost:
      return "lost";
    case Kind::Refused:
      return "refused";
    case Kind::Invalid:
      return "invalid";
  }
  return "offline";
}

std::optional<Outcome::Kind> outcome_kind(std::string_view name) {
  using Kind = Outcome::Kind;
  for (auto kind : {Kind::Answered, Kind::CallError, Kind::Timeout, Kind::Offline, Kind::Lost,
                    Kind::Refused, Kind::Invalid})
    if (name == outcome_name(kind)) return kind;
  return std::nullopt;
}

}  // namespace chargegrid::server::commands
