#pragma once
// What the model test runs: a fleet of stations of the three OCPP versions and a list of
// abstract commands ("station 4 stops a transaction, with a huge transactionId"), made from a
// seed. A command names what to do, not the frame: the driver turns it into a frame against
// the state the stations are in when it runs, so any subsequence of a scenario is still a
// meaningful run (that is what lets a failure be shrunk by dropping commands).

#include <cstdint>
#include <string>
#include <vector>

namespace chargegrid::model {

enum class Version { v16, v201, v21 };
const char* subprotocol(Version version);
const char* version_name(Version version);

enum class Op : std::uint8_t {
  Heartbeat,
  Authorize,
  Status,
  DataTransfer,
  Start,            // 1.6 StartTransaction, 2.x TransactionEvent Started
  Meter,            // meter values of an active transaction
  Stop,             // 1.6 StopTransaction, 2.x TransactionEvent Ended
  StopAgain,        // a second stop (new message id, new seqNo) of an ended transaction
  MeterEnded,       // meter values naming an ended transaction of the station
  StationMeter,     // meter values of no transaction
  MeterForeign,     // 1.6: MeterValues naming another station's (or an unissued) transactionId
  StopForeign,      // 1.6: StopTransaction naming another station's (or an unissued) transactionId
  StartForeignUid,  // 2.x: a transaction whose id another station's transaction has
  Resend,           // the exact frame of one of the station's recent messages again
  Reconnect,        // a new connection; message ids restart at 1
  Reboot,           // a new connection and a BootNotification
  DatabaseDown,     // PostgreSQL stops
  DatabaseUp,       // PostgreSQL starts again
};
const char* op_name(Op op);

// What is wrong with a command's message, on purpose.
enum class Flaw : std::uint8_t {
  None,
  NonFinite,         // NaN / Infinity / 1e400 as a meter value
  NegativeRegister,  // a negative Energy.Active.*.Register value
  HugeInteger,       // an integer outside the signed 32-bit range
  Nul,               // a string with U+0000 in it
};
const char* flaw_name(Flaw flaw);

struct Command {
  Op op = Op::Heartbeat;
  int station = -1;  // -1 for the database commands
  Flaw flaw = Flaw::None;
  bool reuse_id = false;   // send it with the message id of one of the station's recent messages
  std::uint64_t pick = 0;  // the command's own randomness (which connector, which value, ...)
};

struct Shape {
  int stations_per_version = 2;
  int commands = 300;
};

struct Scenario {
  std::uint64_t seed = 0;
  std::vector<Version> stations;  // station i's version
  std::vector<Command> commands;
};

// Deterministic: the same seed and shape give the same scenario on every platform
// (std::mt19937_64 is fully specified; the distributions are done by hand for that reason).
Scenario generate(std::uint64_t seed, const Shape& shape);

// "S3 (2.0.1) Stop flaw=HugeInteger reuse-id"
std::string describe(const Command& command, const std::vector<Version>& stations);

}  // namespace chargegrid::model
