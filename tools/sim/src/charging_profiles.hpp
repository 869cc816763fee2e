#pragma once
// Smart charging as a station applies it: the charging profiles it holds (read from
// SetChargingProfile payloads of OCPP 1.6, 2.0.1 and 2.1) and the composite schedule, the
// limit in force on one EVSE at an instant. Pure: no clock, no I/O; the station model asks
// it at every meter step and for GetCompositeSchedule.

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "chargegrid/sim/messages.hpp"

namespace chargegrid::sim::detail {

enum class ProfilePurpose { StationMax, TxDefault, Tx };
enum class ProfileKind { Absolute, Recurring, Relative };
enum class RateUnit { A, W };

struct SchedulePeriod {
  double start_s = 0;                     // from the schedule's start
  double limit = 0;                       // in the schedule's unit; charging only
  std::optional<int> phases;              // absent: the station's
  std::optional<double> setpoint;         // 2.1 CentralSetpoint: below zero discharges
  std::optional<double> discharge_limit;  // 2.1: at most this much discharge (<= 0)
};

struct ChargingProfile {
  int id = 0;
  int evse = 0;  // 0: the station as a whole (StationMax, TxDefault for every EVSE)
  int stack_level = 0;
  ProfilePurpose purpose = ProfilePurpose::TxDefault;
  ProfileKind kind = ProfileKind::Absolute;
  bool weekly = false;  // Recurring: weekly, else daily
  std::optional<Timestamp> valid_from;
  std::optional<Timestamp> valid_to;
  std::optional<std::string> transaction_id;  // 1.6: the CSMS's number as text
  RateUnit unit = RateUnit::W;
  std::optional<Timestamp> start_schedule;  // absent: when the transaction (or profile) began
  std::optional<double> duration_s;
  std::vector<SchedulePeriod> periods;
  Timestamp received;  // the start of a station-wide schedule that names none
};

// A SetChargingProfile the station cannot hold: answered Rejected with this reason.
struct ProfileRejected : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A payload that is not a charging profile at all (a field missing or of the wrong type):
// answered with a CALLERROR of this code.
struct ProfileMalformed : std::runtime_error {
  ProfileMalformed(std::string code_, const std::string& what)
      : std::runtime_error(what), code(std::move(code_)) {}
  std::string code;
};

// A chargingProfilePurpose as `version` spells it; nullopt for one the station does not hold.
std::optional<ProfilePurpose> purpose_named(OcppVersion version, const std::string& purpose);

// The profile a SetChargingProfile payload carries, for EVSE (1.6 connector) `evse`. Throws
// ProfileRejected where it breaks the rules of its version (a TxProfile for the whole
// station, a station maximum for one EVSE, periods out of order, a negative limit, a
// setpoint before 2.1, ...). `received` is when it arrived (a start for schedules without).
ChargingProfile read_profile(OcppVersion version, int evse, const Json& profile,
                             Timestamp received);

// What the station's electrics are: converts amperes to watts.
struct Electrics {
  double voltage_v = 230.0;  // phase to neutral
  int phases = 3;
};

// The charging session on the EVSE asked about, if one runs.
struct RunningTransaction {
  std::string id;  // 1.6: the CSMS's transactionId as text; 2.x: the station's
  Timestamp started;
};

// The power in force: charging at most max_w; with a setpoint (2.1), the EV is asked to run at
// exactly that (below zero: discharge), never above max_w nor below -max_discharge_w.
struct PowerLimit {
  double max_w = -1;  // negative: no limit
  std::optional<double> setpoint_w;
  std::optional<double> max_discharge_w;  // from a discharge limit (positive watts)
  std::optional<int> phases;              // the phases the period allows, if it says
  bool limited() const { return max_w >= 0; }
};

// The profiles a station holds, replaced by id and stack level as SetChargingProfile says.
class ProfileStore {
 public:
  // Keeps `profile`, replacing one of the same id, and one of the same purpose, stack level and
  // EVSE (a second profile cannot share them).
  void install(ChargingProfile profile);
  // ClearChargingProfile criteria; nullopt matches anything. The number cleared.
  int clear(std::optional<int> id, std::optional<int> evse, std::optional<ProfilePurpose> purpose,
            std::optional<int> stack_level);
  // A transaction ended: its TxProfiles go with it.
  void end_transaction(int evse);
  const std::vector<ChargingProfile>& profiles() const { return profiles_; }
  bool empty() const { return profiles_.empty(); }

 private:
  std::vector<ChargingProfile> profiles_;
};

// The limit in force on `evse` at `at`: within a purpose the active profile of the highest
// stack level; a TxProfile (of the running transaction) over a TxDefaultProfile (one for this
// EVSE over one for all); then no more than the station maximum. Amperes become watts.
PowerLimit limit_at(const std::vector<ChargingProfile>& profiles, int evse,
                    const std::optional<RunningTransaction>& transaction, Timestamp at,
                    const Electrics& electrics);

// Where the limits the profiles set may change between `from` and `until` (both excluded):
// every profile's validity edges and period starts, in order.
std::vector<Timestamp> limit_edges(const std::vector<ChargingProfile>& profiles,
                                   const std::optional<RunningTransaction>& tx, Timestamp from,
                                   Timestamp until);

// One period of a composite schedule, from the schedule's start.
struct CompositePeriod {
  double start_s = 0;
  double limit = 0;  // in the unit asked for
  std::optional<int> phases;
  std::optional<double> setpoint;  // 2.1, in the unit asked for
};

// The composite schedule on `evse` from `from` for `duration_s`: limit_at at every instant,
// as the periods where it changes. Where no profile limits, the limit is `unlimited_w` (the
// EVSE's own maximum).
std::vector<CompositePeriod> composite_schedule(const std::vector<ChargingProfile>& profiles,
                                                int evse,
                                                const std::optional<RunningTransaction>& tx,
                                                Timestamp from, double duration_s, RateUnit unit,
                                                const Electrics& electrics, double unlimited_w);

}  // namespace chargegrid::sim::detail
