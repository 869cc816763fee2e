#include "commands/outcome.hpp"

#include "chargegrid/base/enum_names.hpp"

namespace chargegrid::server::commands {

namespace {

using Kind = Outcome::Kind;
constexpr auto kOutcomeNames = base::enum_names<Kind>({{Kind::Answered, "answered"},
                                                       {Kind::CallError, "call_error"},
                                                       {Kind::Timeout, "timeout"},
                                                       {Kind::Offline, "offline"},
                                                       {Kind::Lost, "lost"},
                                                       {Kind::Refused, "refused"},
                                                       {Kind::Invalid, "invalid"}});

}  // namespace

std::string_view outcome_name(Outcome::Kind kind) {
  return kOutcomeNames.name(kind);
}

std::optional<Outcome::Kind> outcome_kind(std::string_view name) {
  return kOutcomeNames.parse(name);
}

}  // namespace chargegrid::server::commands
