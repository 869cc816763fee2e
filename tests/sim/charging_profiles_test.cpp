// The composite schedule a simulated station applies: profiles read from SetChargingProfile
// payloads of each version, and the limit in force at an instant (stack levels, validity,
// relative / absolute / recurring schedules, amperes, the station maximum, 2.1 setpoints).

#include "charging_profiles.hpp"

#include <catch2/catch.hpp>

#include "chargegrid/base/time.hpp"

using namespace chargegrid::sim;
using namespace chargegrid::sim::detail;
using namespace std::chrono_literals;

namespace {

Timestamp at(const char* text) {
  return *chargegrid::base::parse_rfc3339(text);
}

const Timestamp kNoon = at("2026-12-05T12:00:00Z");
const Electrics kThreePhase{230.0, 3};

// A 2.0.1 profile: `periods` as [[startPeriod, limit], ...] in watts unless `unit` says A.
Json profile_201(int id, const char* purpose, int stack_level, const Json& periods,
                 const char* kind = "Absolute", const char* unit = "W") {
  Json schedule_periods = Json::array();
  for (const auto& p : periods)
    schedule_periods.push_back({{"startPeriod", p[0]}, {"limit", p[1]}});
  Json schedule = {
      {"id", id}, {"chargingRateUnit", unit}, {"chargingSchedulePeriod", schedule_periods}};
  if (std::string(kind) != "Relative") schedule["startSchedule"] = "2026-12-05T12:00:00Z";
  return {{"id", id},
          {"stackLevel", stack_level},
          {"chargingProfilePurpose", purpose},
          {"chargingProfileKind", kind},
          {"chargingSchedule", Json::array({schedule})}};
}

ChargingProfile read(int evse, const Json& payload, OcppVersion version = OcppVersion::v201) {
  return read_profile(version, evse, payload, kNoon);
}

double watts(const std::vector<ChargingProfile>& profiles, int evse, Timestamp when,
             const std::optional<RunningTransaction>& tx = std::nullopt) {
  return limit_at(profiles, evse, tx, when, kThreePhase).max_w;
}

const std::optional<RunningTransaction> kTx = RunningTransaction{"TX-1", kNoon};

}  // namespace

TEST_CASE("profiles are read from each version's SetChargingProfile", "[sim][profiles]") {
  const Json v16 = {{"chargingProfileId", 7},
                    {"transactionId", 42},
                    {"stackLevel", 2},
                    {"chargingProfilePurpose", "TxProfile"},
                    {"chargingProfileKind", "Relative"},
                    {"chargingSchedule",
                     {{"chargingRateUnit", "A"},
                      {"duration", 3600},
                      {"chargingSchedulePeriod",
                       {{{"startPeriod", 0}, {"limit", 16.0}, {"numberPhases", 1}},
                        {{"startPeriod", 600}, {"limit", 10.0}}}}}}};
  const auto p16 = read(1, v16, OcppVersion::v16);
  CHECK(p16.id == 7);
  CHECK(p16.transaction_id == "42");
  CHECK(p16.purpose == ProfilePurpose::Tx);
  CHECK(p16.kind == ProfileKind::Relative);
  CHECK(p16.unit == RateUnit::A);
  CHECK(p16.duration_s == 3600);
  REQUIRE(p16.periods.size() == 2);
  CHECK(p16.periods[0].phases == 1);
  CHECK(p16.periods[1].start_s == 600);

  Json max16 = v16;
  max16.erase("transactionId");
  max16["chargingProfilePurpose"] = "ChargePointMaxProfile";
  CHECK(read(0, max16, OcppVersion::v16).purpose == ProfilePurpose::StationMax);
  // 2.x calls it ChargingStationMaxProfile; the 1.6 name is not one of its purposes.
  CHECK_THROWS_AS(read(0, profile_201(1, "ChargePointMaxProfile", 0, {{0, 1000}})),
                  ProfileRejected);
  const auto p201 = read(0, profile_201(3, "ChargingStationMaxProfile", 0, {{0, 1000}}));
  CHECK(p201.purpose == ProfilePurpose::StationMax);
  CHECK(p201.start_schedule == kNoon);
}

TEST_CASE("a profile that breaks its version's rules is rejected, a malformed one refused",
          "[sim][profiles]") {
  // Purpose and EVSE must fit.
  CHECK_THROWS_AS(read(0, profile_201(1, "TxProfile", 0, {{0, 1000}})), ProfileRejected);
  CHECK_THROWS_AS(read(1, profile_201(1, "ChargingStationMaxProfile", 0, {{0, 1000}})),
                  ProfileRejected);
  CHECK_THROWS_AS(read(1, profile_201(1, "ChargingStationExternalConstraints", 0, {{0, 1000}})),
                  ProfileRejected);
  // Periods start at 0 and go forward; limits are not negative.
  CHECK_THROWS_AS(read(1, profile_201(1, "TxDefaultProfile", 0, {{60, 1000}})), ProfileRejected);
  CHECK_THROWS_AS(read(1, profile_201(1, "TxDefaultProfile", 0, {{0, 1000}, {600, 2}, {300, 5}})),
                  ProfileRejected);
  CHECK_THROWS_AS(read(1, profile_201(1, "TxDefaultProfile", 0, {{0, -1}})), ProfileRejected);
  // A recurring schedule needs its start and recurrency (an absolute one without a start runs
  // from the transaction's).
  auto no_start = profile_201(1, "TxDefaultProfile", 0, {{0, 1000}}, "Recurring");
  no_start["recurrencyKind"] = "Daily";
  no_start["chargingSchedule"][0].erase("startSchedule");
  CHECK_THROWS_AS(read(1, no_start), ProfileRejected);
  CHECK_THROWS_AS(read(1, profile_201(1, "TxDefaultProfile", 0, {{0, 1000}}, "Recurring")),
                  ProfileRejected);
  auto backwards = profile_201(1, "TxDefaultProfile", 0, {{0, 1000}});
  backwards["validFrom"] = "2026-12-06T00:00:00Z";
  backwards["validTo"] = "2026-12-05T00:00:00Z";
  CHECK_THROWS_AS(read(1, backwards), ProfileRejected);
  // A transaction id belongs to a TxProfile.
  auto named = profile_201(1, "TxDefaultProfile", 0, {{0, 1000}});
  named["transactionId"] = "TX-1";
  CHECK_THROWS_AS(read(1, named), ProfileRejected);
  // 2.0.1 has no setpoints; 2.1 only in CentralSetpoint mode.
  auto setpoint = profile_201(1, "TxProfile", 0, {{0, 11000}});
  setpoint["chargingSchedule"][0]["chargingSchedulePeriod"][0]["setpoint"] = -5000;
  CHECK_THROWS_AS(read(1, setpoint, OcppVersion::v21), ProfileRejected);
  CHECK_NOTHROW(read(1, setpoint, OcppVersion::v201));  // not a 2.0.1 field: not read
  CHECK_FALSE(read(1, setpoint, OcppVersion::v201).periods[0].setpoint);

  // Not a profile at all: the station answers with a CALLERROR of this code.
  auto missing = profile_201(1, "TxDefaultProfile", 0, {{0, 1000}});
  missing.erase("stackLevel");
  try {
    read(1, missing);
    FAIL("accepted a profile without a stack level");
  } catch (const ProfileMalformed& e) {
    CHECK(e.code == "OccurrenceConstraintViolation");
  }
  auto wrong_type = profile_201(1, "TxDefaultProfile", 0, {{0, 1000}});
  wrong_type["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] = "lots";
  CHECK_THROWS_AS(read(1, wrong_type), ProfileMalformed);
  auto bad_time = profile_201(1, "TxDefaultProfile", 0, {{0, 1000}});
  bad_time["chargingSchedule"][0]["startSchedule"] = "noon";
  CHECK_THROWS_AS(read(1, bad_time), ProfileMalformed);
  auto empty = profile_201(1, "TxDefaultProfile", 0, Json::array());
  CHECK_THROWS_AS(read(1, empty), ProfileMalformed);
}

TEST_CASE("within a purpose the highest active stack level wins", "[sim][profiles]") {
  ProfileStore store;
  store.install(read(1, profile_201(1, "TxDefaultProfile", 0, {{0, 11000}})));
  auto boost = profile_201(2, "TxDefaultProfile", 5, {{0, 4000}, {1800, 2000}});
  boost["chargingSchedule"][0]["duration"] = 3600;
  store.install(read(1, boost));

  CHECK(watts(store.profiles(), 1, kNoon - 1s, kTx) < 0);  // nothing has begun
  CHECK(watts(store.profiles(), 1, kNoon, kTx) == 4000);
  CHECK(watts(store.profiles(), 1, kNoon + 1799s, kTx) == 4000);
  CHECK(watts(store.profiles(), 1, kNoon + 1800s, kTx) == 2000);
  // Level 5 has run its hour: level 0 holds again.
  CHECK(watts(store.profiles(), 1, kNoon + 3600s, kTx) == 11000);
  // The other EVSE has no profile of its own.
  CHECK(watts(store.profiles(), 2, kNoon, kTx) < 0);

  // The same purpose, level and EVSE: the new profile replaces the old one.
  store.install(read(1, profile_201(9, "TxDefaultProfile", 5, {{0, 1500}})));
  CHECK(store.profiles().size() == 2);
  CHECK(watts(store.profiles(), 1, kNoon + 3600s, kTx) == 1500);
  // The same id: replaced too.
  store.install(read(1, profile_201(9, "TxDefaultProfile", 6, {{0, 1200}})));
  CHECK(store.profiles().size() == 2);
  CHECK(watts(store.profiles(), 1, kNoon, kTx) == 1200);
}

TEST_CASE("validFrom and validTo bound a profile", "[sim][profiles]") {
  auto window = profile_201(1, "TxDefaultProfile", 0, {{0, 3000}});
  window["validFrom"] = "2026-12-05T13:00:00Z";
  window["validTo"] = "2026-12-05T14:00:00Z";
  const std::vector<ChargingProfile> profiles{read(1, window)};
  CHECK(watts(profiles, 1, at("2026-12-05T12:59:59Z"), kTx) < 0);
  CHECK(watts(profiles, 1, at("2026-12-05T13:00:00Z"), kTx) == 3000);
  CHECK(watts(profiles, 1, at("2026-12-05T13:59:59Z"), kTx) == 3000);
  CHECK(watts(profiles, 1, at("2026-12-05T14:00:00Z"), kTx) < 0);
}

TEST_CASE("relative schedules run from the transaction's start", "[sim][profiles]") {
  const std::vector<ChargingProfile> profiles{
      read(1, profile_201(1, "TxDefaultProfile", 0, {{0, 7000}, {600, 3500}}, "Relative"))};
  const RunningTransaction later{"TX-2", kNoon + 3600s};
  CHECK(watts(profiles, 1, kNoon + 3600s + 599s, later) == 7000);
  CHECK(watts(profiles, 1, kNoon + 3600s + 600s, later) == 3500);
  CHECK(watts(profiles, 1, kNoon + 3600s) < 0);  // no transaction: nothing to run from

  // An absolute schedule without a start runs from the transaction's too.
  auto absolute = profile_201(2, "TxDefaultProfile", 0, {{0, 7000}, {600, 3500}});
  absolute["chargingSchedule"][0].erase("startSchedule");
  const std::vector<ChargingProfile> unanchored{read(1, absolute)};
  CHECK(watts(unanchored, 1, kNoon + 3600s + 599s, later) == 7000);
  CHECK(watts(unanchored, 1, kNoon + 3600s + 600s, later) == 3500);
}

TEST_CASE("recurring schedules repeat daily or weekly", "[sim][profiles]") {
  // From 12:00 every day: 2 kW for six hours, then 11 kW.
  auto daily = profile_201(1, "TxDefaultProfile", 0, {{0, 2000}, {21600, 11000}}, "Recurring");
  daily["recurrencyKind"] = "Daily";
  std::vector<ChargingProfile> profiles{read(1, daily)};
  CHECK(watts(profiles, 1, at("2026-12-05T13:00:00Z"), kTx) == 2000);
  CHECK(watts(profiles, 1, at("2026-12-05T19:00:00Z"), kTx) == 11000);
  CHECK(watts(profiles, 1, at("2026-12-09T12:30:00Z"), kTx) == 2000);
  CHECK(watts(profiles, 1, at("2026-12-09T11:59:59Z"), kTx) == 11000);
  // Before its first start the previous cycle holds.
  CHECK(watts(profiles, 1, at("2026-12-04T13:00:00Z"), kTx) == 2000);

  auto weekly = profile_201(1, "TxDefaultProfile", 0, {{0, 1000}, {86400, 9000}}, "Recurring");
  weekly["recurrencyKind"] = "Weekly";
  profiles = {read(1, weekly)};
  CHECK(watts(profiles, 1, at("2026-12-05T20:00:00Z"), kTx) == 1000);  // day one of the week
  CHECK(watts(profiles, 1, at("2026-12-08T20:00:00Z"), kTx) == 9000);
  CHECK(watts(profiles, 1, at("2026-12-12T13:00:00Z"), kTx) == 1000);  // a week on
}

TEST_CASE("amperes become watts with the station's voltage and phases", "[sim][profiles]") {
  auto amps = profile_201(1, "TxDefaultProfile", 0, {{0, 16}, {600, 10}}, "Absolute", "A");
  amps["chargingSchedule"][0]["chargingSchedulePeriod"][1]["numberPhases"] = 1;
  const std::vector<ChargingProfile> profiles{read(1, amps)};
  CHECK(watts(profiles, 1, kNoon, kTx) == Approx(16 * 230 * 3));
  CHECK(watts(profiles, 1, kNoon + 600s, kTx) == Approx(10 * 230));
  CHECK(limit_at(profiles, 1, kTx, kNoon, Electrics{230, 1}).max_w == Approx(16 * 230));
}

TEST_CASE("a TxProfile over a TxDefaultProfile, never above the station maximum",
          "[sim][profiles]") {
  ProfileStore store;
  store.install(read(0, profile_201(1, "TxDefaultProfile", 0, {{0, 9000}})));
  CHECK(watts(store.profiles(), 2, kNoon, kTx) == 9000);  // EVSE 0's default is every EVSE's
  store.install(read(2, profile_201(2, "TxDefaultProfile", 0, {{0, 8000}})));
  CHECK(watts(store.profiles(), 2, kNoon, kTx) == 8000);  // one for this EVSE comes first
  CHECK(watts(store.profiles(), 1, kNoon, kTx) == 9000);

  auto tx = profile_201(3, "TxProfile", 0, {{0, 6000}});
  tx["transactionId"] = "TX-1";
  store.install(read(2, tx));
  CHECK(watts(store.profiles(), 2, kNoon, kTx) == 6000);
  // Another transaction on that EVSE is not the one the profile names.
  CHECK(watts(store.profiles(), 2, kNoon, RunningTransaction{"TX-9", kNoon}) == 8000);

  store.install(read(0, profile_201(4, "ChargingStationMaxProfile", 0, {{0, 7000}, {60, 5000}})));
  CHECK(watts(store.profiles(), 2, kNoon, kTx) == 6000);
  CHECK(watts(store.profiles(), 2, kNoon + 60s, kTx) == 5000);
  CHECK(watts(store.profiles(), 1, kNoon, kTx) == 7000);

  // The transaction ends: its TxProfile goes; clearing by criteria takes what matches.
  store.end_transaction(2);
  CHECK(watts(store.profiles(), 2, kNoon, kTx) == 7000);
  CHECK(store.clear(std::nullopt, std::nullopt, ProfilePurpose::Tx, std::nullopt) == 0);
  CHECK(store.clear(std::nullopt, 2, ProfilePurpose::TxDefault, std::nullopt) == 1);
  CHECK(store.clear(4, std::nullopt, std::nullopt, std::nullopt) == 1);
  CHECK(watts(store.profiles(), 2, kNoon, kTx) == 9000);
  CHECK(store.clear(std::nullopt, std::nullopt, std::nullopt, 3) == 0);
  CHECK(store.clear(std::nullopt, std::nullopt, std::nullopt, 0) == 1);
  CHECK(store.empty());
}

TEST_CASE("2.1 setpoints ask for discharge within the discharge limit", "[sim][profiles]") {
  auto v2g = profile_201(1, "TxProfile", 0, {{0, 11000}, {600, 11000}});
  auto& periods = v2g["chargingSchedule"][0]["chargingSchedulePeriod"];
  periods[0]["operationMode"] = "CentralSetpoint";
  periods[0]["setpoint"] = -8000;
  periods[0]["dischargeLimit"] = -5000;
  periods[1]["operationMode"] = "CentralSetpoint";
  periods[1]["setpoint"] = 15000;
  std::vector<ChargingProfile> profiles{read(1, v2g, OcppVersion::v21)};
  const auto discharging = limit_at(profiles, 1, kTx, kNoon, kThreePhase);
  CHECK(discharging.setpoint_w == -5000);
  const auto charging = limit_at(profiles, 1, kTx, kNoon + 600s, kThreePhase);
  CHECK(charging.setpoint_w == 11000);  // no more than the limit

  // The composite schedule shows the setpoints.
  const auto composite =
      composite_schedule(profiles, 1, kTx, kNoon, 1200, RateUnit::W, kThreePhase, 11000);
  REQUIRE(composite.size() == 2);
  CHECK(composite[0].setpoint == -5000);
  CHECK(composite[1].start_s == 600);
  CHECK(composite[1].setpoint == 11000);
}

TEST_CASE("the composite schedule lists where the limit changes", "[sim][profiles]") {
  ProfileStore store;
  auto tx = profile_201(1, "TxProfile", 0, {{0, 6000}, {900, 3000}, {1800, 6000}});
  tx["chargingSchedule"][0]["duration"] = 3600;
  store.install(read(1, tx));
  store.install(read(0, profile_201(2, "ChargingStationMaxProfile", 0, {{0, 4000}})));
  auto night = profile_201(3, "ChargingStationMaxProfile", 1, {{0, 1000}});
  night["validFrom"] = "2026-12-05T12:40:00Z";
  night["validTo"] = "2026-12-05T12:50:00Z";
  store.install(read(0, night));

  const auto w =
      composite_schedule(store.profiles(), 1, kTx, kNoon, 7200, RateUnit::W, kThreePhase, 11000);
  // 4000 (station) until 12:15, 3000 until 12:30, 4000, 1000 from 12:40 to 12:50, 4000: the
  // TxProfile's end at 13:00 changes nothing as the station maximum is lower.
  std::vector<std::pair<double, double>> got;
  for (const auto& p : w) got.emplace_back(p.start_s, p.limit);
  CHECK(got == std::vector<std::pair<double, double>>{
                   {0, 4000}, {900, 3000}, {1800, 4000}, {2400, 1000}, {3000, 4000}});

  // In amperes at 230 V on three phases; without profiles, the EVSE's own maximum.
  const auto a =
      composite_schedule(store.profiles(), 1, kTx, kNoon, 600, RateUnit::A, kThreePhase, 11000);
  REQUIRE(a.size() == 1);
  CHECK(a[0].limit == Approx(4000.0 / 690));
  const auto none = composite_schedule({}, 1, kTx, kNoon, 600, RateUnit::W, kThreePhase, 11000);
  REQUIRE(none.size() == 1);
  CHECK(none[0].limit == 11000);
}
