// The canonical settlement record: what the verifiable log stores for every settled session.
//
// Serialised as RFC 8785 canonical JSON; docs/settlement-record.schema.json describes it.
// Energy is in Wh and money in integer minor units of an ISO 4217 currency.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace chargegrid::ledger {

inline constexpr int kSettlementSchemaVersion = 1;
// Version 2 adds, per interval, `estimated` (its energy was interpolated over a gap in the meter
// data) and, per record, `errors` (what is wrong with the meter data, e.g. a register that went
// backwards). A version 1 record has neither.
inline constexpr int kSettlementSchemaVersion2 = 2;
// Version 3 adds the interim settlement of long sessions: `settlement_kind` ("interim" or
// "final"), `period` (the part of the session the record covers) and `previous_settlement_id`
// (the session's record before this one; null for its first). `start` stays the session's start
// and `end` is the period's end. Everything else is as in version 2.
inline constexpr int kSettlementSchemaVersion3 = 3;

enum class SettlementKind { kInterim, kFinal };
const char* settlement_kind_name(SettlementKind kind);  // "interim", "final"

using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;

// The UTC span a version 3 record covers: [start, end).
struct Period {
  TimePoint start;
  TimePoint end;
};

// A JSON document that is not a valid settlement record; what() names the field.
class RecordError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// WGS84 geodetic reference of the site; latitude and longitude in micro-degrees and altitude
// in millimetres above the ellipsoid, so the record holds no floating-point values.
struct GeodeticReference {
  std::int64_t latitude_microdeg = 0;   // -90e6 .. 90e6
  std::int64_t longitude_microdeg = 0;  // -180e6 .. 180e6
  std::int64_t altitude_mm = 0;
};

struct Site {
  std::string id;
  GeodeticReference location;
};

struct MeterReading {
  TimePoint time;
  std::int64_t register_wh = 0;  // the meter's import register
};

// Energy moved during one interval: the "kilowatt packets" of the session.
struct EnergyInterval {
  TimePoint start;
  TimePoint end;
  std::int64_t imported_wh = 0;
  std::int64_t exported_wh = 0;
  bool estimated = false;  // schema version 2
};

struct PriceComponent {
  std::string kind;                   // "energy", "time", "flat", ...
  std::int64_t unit_price_minor = 0;  // per `unit`
  std::string unit;                   // "kWh", "h", "session"
  std::int64_t quantity_milli = 0;    // thousandths of `unit`
  std::int64_t amount_minor = 0;
};

struct DemandResponseCredit {
  std::string event_id;
  std::int64_t energy_wh = 0;  // energy shifted or delivered back
  std::int64_t amount_minor = 0;
};

enum class MeterVerification { kVerified, kUnverified, kFailed, kNotSigned };

struct MeterEvidence {
  MeterVerification status = MeterVerification::kNotSigned;
  std::vector<std::string> signed_data;   // OCMF strings as received
  std::optional<std::string> public_key;  // hex DER SubjectPublicKeyInfo
  std::string detail;                     // why it is not verified, when it is not
};

struct SettlementRecord {
  int schema_version = kSettlementSchemaVersion;
  std::string settlement_id;
  std::string session_id;
  std::string transaction_id;
  std::string station_id;
  int evse_id = 0;
  std::optional<int> connector_id;
  std::string id_token;
  Site site;
  TimePoint start;
  TimePoint end;
  MeterReading meter_start;
  MeterReading meter_stop;
  std::vector<EnergyInterval> intervals;
  std::string currency;  // ISO 4217, e.g. "EUR"
  std::vector<PriceComponent> prices;
  std::vector<DemandResponseCredit> demand_response_credits;
  std::int64_t total_minor = 0;  // what the driver pays, credits deducted
  MeterEvidence meter_evidence;
  TimePoint settled_at;
  std::vector<std::string> errors;  // schema version 2
  // Schema version 3.
  SettlementKind settlement_kind = SettlementKind::kFinal;
  Period period;
  std::optional<std::string> previous_settlement_id;

  std::int64_t energy_imported_wh() const;
  std::int64_t energy_exported_wh() const;
};

nlohmann::json to_json(const SettlementRecord& record);
// Throws RecordError naming the field that is missing, of the wrong type or out of range.
SettlementRecord record_from_json(const nlohmann::json& json);
// The record's RFC 8785 canonical form: the bytes the verifiable log hashes as a leaf.
std::string canonical_record(const SettlementRecord& record);

// RFC 3339 UTC with milliseconds ("2026-03-01T12:00:00.000Z") and back; nullopt on bad text.
std::string format_time(TimePoint time);
std::optional<TimePoint> parse_time(const std::string& text);

}  // namespace chargegrid::ledger
