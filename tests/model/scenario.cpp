#include "scenario.hpp"

#include <random>
#include <utility>

namespace chargegrid::model {

const char* subprotocol(Version version) {
  switch (version) {
    case Version::v16:
      return "ocpp1.6";
    case Version::v201:
      return "ocpp2.0.1";
    case Version::v21:
      return "ocpp2.1";
  }
  return "";
}

const char* version_name(Version version) {
  switch (version) {
    case Version::v16:
      return "1.6";
    case Version::v201:
      return "2.0.1";
    case Version::v21:
      return "2.1";
  }
  return "";
}

const char* op_name(Op op) {
  switch (op) {
    case Op::Heartbeat:
      return "Heartbeat";
    case Op::Authorize:
      return "Authorize";
    case Op::Status:
      return "Status";
    case Op::DataTransfer:
      return "DataTransfer";
    case Op::Start:
      return "Start";
    case Op::Meter:
      return "Meter";
    case Op::Stop:
      return "Stop";
    case Op::StopAgain:
      return "StopAgain";
    case Op::MeterEnded:
      return "MeterEnded";
    case Op::StationMeter:
      return "StationMeter";
    case Op::MeterForeign:
      return "MeterForeign";
    case Op::StopForeign:
      return "StopForeign";
    case Op::StartForeignUid:
      return "StartForeignUid";
    case Op::Resend:
      return "Resend";
    case Op::Reconnect:
      return "Reconnect";
    case Op::Reboot:
      return "Reboot";
    case Op::DatabaseDown:
      return "DatabaseDown";
    case Op::DatabaseUp:
      return "DatabaseUp";
  }
  return "?";
}

const char* flaw_name(Flaw flaw) {
  switch (flaw) {
    case Flaw::None:
      return "none";
    case Flaw::NonFinite:
      return "NonFinite";
    case Flaw::NegativeRegister:
      return "NegativeRegister";
    case Flaw::HugeInteger:
      return "HugeInteger";
    case Flaw::Nul:
      return "Nul";
  }
  return "?";
}

namespace {

// Uniform in [0, n) without std::uniform_int_distribution, whose output is
// implementation-defined: a seed must mean the same scenario everywhere.
std::uint64_t below(std::mt19937_64& rng, std::uint64_t n) {
  return rng() % n;
}

bool chance(std::mt19937_64& rng, int percent) {
  return below(rng, 100) < static_cast<std::uint64_t>(percent);
}

using Weights = std::vector<std::pair<Op, int>>;

// Transaction traffic dominates, as on a real fleet; the rest keeps the other paths busy.
const Weights& weights(Version version) {
  static const Weights v16{{Op::Heartbeat, 3},    {Op::Authorize, 4},    {Op::Status, 3},
                           {Op::DataTransfer, 3}, {Op::Start, 10},       {Op::Meter, 16},
                           {Op::Stop, 7},         {Op::StopAgain, 3},    {Op::MeterEnded, 3},
                           {Op::StationMeter, 3}, {Op::MeterForeign, 5}, {Op::StopForeign, 4},
                           {Op::Resend, 10},      {Op::Reconnect, 3},    {Op::Reboot, 2}};
  static const Weights v2x{{Op::Heartbeat, 3},    {Op::Authorize, 4},       {Op::Status, 3},
                           {Op::DataTransfer, 3}, {Op::Start, 10},          {Op::Meter, 16},
                           {Op::Stop, 7},         {Op::StopAgain, 3},       {Op::MeterEnded, 3},
                           {Op::StationMeter, 3}, {Op::StartForeignUid, 4}, {Op::Resend, 10},
                           {Op::Reconnect, 3},    {Op::Reboot, 2}};
  return version == Version::v16 ? v16 : v2x;
}

Op pick_op(std::mt19937_64& rng, Version version) {
  const auto& table = weights(version);
  int total = 0;
  for (const auto& [op, weight] : table) total += weight;
  auto n = static_cast<int>(below(rng, static_cast<std::uint64_t>(total)));
  for (const auto& [op, weight] : table) {
    if (n < weight) return op;
    n -= weight;
  }
  return Op::Heartbeat;
}

bool sends_message(Op op) {
  return op != Op::Resend && op != Op::Reconnect && op != Op::Reboot && op != Op::DatabaseDown &&
         op != Op::DatabaseUp;
}

}  // namespace

Scenario generate(std::uint64_t seed, const Shape& shape) {
  std::mt19937_64 rng(seed);
  Scenario scenario;
  scenario.seed = seed;
  for (auto version : {Version::v16, Version::v201, Version::v21})
    for (int i = 0; i < shape.stations_per_version; ++i) scenario.stations.push_back(version);

  // One brief outage, somewhere in the first half, lasting a tenth of the run or so.
  const auto n = static_cast<std::uint64_t>(shape.commands);
  const auto down_at = n / 4 + below(rng, n / 4 + 1);
  const auto up_at = down_at + n / 16 + below(rng, n / 10 + 1);
  for (std::uint64_t i = 0; i < n; ++i) {
    if (i == down_at) scenario.commands.push_back({Op::DatabaseDown});
    if (i == up_at) scenario.commands.push_back({Op::DatabaseUp});
    Command command;
    command.station = static_cast<int>(below(rng, scenario.stations.size()));
    command.op = pick_op(rng, scenario.stations[static_cast<std::size_t>(command.station)]);
    command.pick = rng();
    if (sends_message(command.op) && command.op != Op::Heartbeat && chance(rng, 15))
      command.flaw = static_cast<Flaw>(1 + below(rng, 4));
    if (sends_message(command.op) && chance(rng, 8)) command.reuse_id = true;
    scenario.commands.push_back(command);
  }
  return scenario;
}

std::string describe(const Command& command, const std::vector<Version>& stations) {
  if (command.station < 0) return op_name(command.op);
  std::string text = "S" + std::to_string(command.station) + " (" +
                     version_name(stations.at(static_cast<std::size_t>(command.station))) + ") " +
                     op_name(command.op);
  if (command.flaw != Flaw::None) text += std::string(" flaw=") + flaw_name(command.flaw);
  if (command.reuse_id) text += " reuse-id";
  return text;
}

}  // namespace chargegrid::model
