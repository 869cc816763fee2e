// A simulated station under smart charging, without a connection: SetChargingProfile,
// ClearChargingProfile and GetCompositeSchedule as each version's CSMS sends them, every
// answer (and NotifyEVChargingNeeds) valid against the OCA schemas, and the meter values that
// follow the profile as simulated time passes.

#include <catch2/catch.hpp>

#include "actions.hpp"
#include "chargegrid/protocols/validation.hpp"
#include "model.hpp"
#include "outgoing.hpp"

using namespace chargegrid::sim;
using namespace chargegrid::sim::detail;
namespace protocols = chargegrid::protocols;

namespace {

protocols::OcppVersion schema_version(OcppVersion version) {
  switch (version) {
    case OcppVersion::v16:
      return protocols::OcppVersion::v16;
    case OcppVersion::v201:
      return protocols::OcppVersion::v201;
    case OcppVersion::v21:
      return protocols::OcppVersion::v21;
  }
  return protocols::OcppVersion::v201;
}

void check_valid(OcppVersion version, const std::string& action, protocols::Direction direction,
                 const Json& payload) {
  const auto error = protocols::validate(schema_version(version), action, direction, payload);
  INFO(action << " " << payload.dump());
  if (error) FAIL_CHECK(error->path + ": " + error->message);
}

// The CSMS's call (checked against the schema first) and the station's answer (checked too).
Json call(StationModel& station, const std::string& action, const Json& payload) {
  check_valid(station.version(), action, protocols::Direction::Request, payload);
  const Action handler = csms_actions().find(station.version(), action);
  REQUIRE(handler != nullptr);
  Json answer = handler(station, payload);
  check_valid(station.version(), action, protocols::Direction::Response, answer);
  return answer;
}

StationOptions one_evse(OcppVersion version) {
  StationOptions options;
  options.version = version;
  options.connectors = 1;
  options.time_scale = 60;
  options.meter_interval_s = 60;
  options.session_length_s = 3600;
  options.meter.initial_soc_percent = 50;
  options.ev.soc_spread_percent = 0;
  return options;
}

// A relative TxProfile for the running session: 12 A, then 8 A after ten minutes.
Json tx_profile(StationModel& station, const std::string& transaction_id) {
  const Json periods = {{{"startPeriod", 0}, {"limit", 12.0}},
                        {{"startPeriod", 600}, {"limit", 8.0}}};
  if (station.version() == OcppVersion::v16) {
    return {
        {"connectorId", 1},
        {"csChargingProfiles",
         {{"chargingProfileId", 3},
          {"transactionId", std::stoi(transaction_id)},
          {"stackLevel", 0},
          {"chargingProfilePurpose", "TxProfile"},
          {"chargingProfileKind", "Relative"},
          {"chargingSchedule", {{"chargingRateUnit", "A"}, {"chargingSchedulePeriod", periods}}}}}};
  }
  return {{"evseId", 1},
          {"chargingProfile",
           {{"id", 3},
            {"transactionId", transaction_id},
            {"stackLevel", 0},
            {"chargingProfilePurpose", "TxProfile"},
            {"chargingProfileKind", "Relative"},
            {"chargingSchedule",
             Json::array(
                 {{{"id", 3}, {"chargingRateUnit", "A"}, {"chargingSchedulePeriod", periods}}})}}}};
}

// The Power.Active.Import (or, negative, Power.Active.Export) of each queued meter sample.
std::vector<double> queued_power(const StationModel& station) {
  std::vector<double> power;
  for (const auto& message : station.transaction_queue) {
    const Json& payload = message.payload;
    const Json* values = nullptr;
    if (message.action == "MeterValues") values = &payload["meterValue"][0]["sampledValue"];
    if (message.action == "TransactionEvent" && payload["eventType"] == "Updated") {
      values = &payload["meterValue"][0]["sampledValue"];
    }
    if (!values) continue;
    for (const auto& v : *values) {
      const std::string measurand = v.value("measurand", "");
      const double value = v["value"].is_string() ? std::stod(v["value"].get<std::string>())
                                                  : v["value"].get<double>();
      if (measurand == "Power.Active.Import") power.push_back(value);
      if (measurand == "Power.Active.Export") power.push_back(-value);
    }
  }
  return power;
}

}  // namespace

TEST_CASE("each version's station applies a TxProfile, tells its composite schedule, clears it",
          "[sim][smart-charging]") {
  for (const auto version : {OcppVersion::v16, OcppVersion::v201, OcppVersion::v21}) {
    DYNAMIC_SECTION(to_string(version)) {
      Stats stats;
      StationModel station("SC1", one_evse(version), stats, nullptr);
      auto& session = station.begin_session(*station.evse(1), "T", true, std::nullopt);
      const std::string tx = version == OcppVersion::v16 ? "17" : session.transaction_uid;
      if (version == OcppVersion::v16) station.transaction_ids[session.local_id] = 17;

      // Before the transaction is the one named: refused.
      Json other = tx_profile(station, version == OcppVersion::v16 ? "99" : "OTHER");
      CHECK(call(station, "SetChargingProfile", other)["status"] == "Rejected");
      CHECK(session.meter.power_w() == 11000);

      CHECK(call(station, "SetChargingProfile", tx_profile(station, tx))["status"] == "Accepted");
      CHECK(session.meter.power_w() == Approx(12 * 230 * 3));

      const bool is16 = version == OcppVersion::v16;
      const Json composite = call(
          station, "GetCompositeSchedule",
          {{is16 ? "connectorId" : "evseId", 1}, {"duration", 1200}, {"chargingRateUnit", "A"}});
      CHECK(composite["status"] == "Accepted");
      const Json& periods = is16 ? composite["chargingSchedule"]["chargingSchedulePeriod"]
                                 : composite["schedule"]["chargingSchedulePeriod"];
      REQUIRE(periods.size() == 2);
      CHECK(periods[0]["limit"] == 12.0);
      CHECK(periods[1]["limit"] == 8.0);
      CHECK(periods[1]["startPeriod"].get<int>() == Approx(600).margin(2));

      // Twenty simulated minutes: 12 A for ten, then 8 A.
      station.advance(SteadyClock::now() + station.real(20 * 60 + 1));
      const auto power = queued_power(station);
      REQUIRE(power.size() >= 19);
      CHECK(power[2] == Approx(8280));
      CHECK(power.back() == Approx(5520));
      CHECK(session.meter.soc_percent() > 50);

      // Cleared by its purpose: unlimited again; clearing again finds nothing.
      const Json clear =
          is16 ? Json{{"chargingProfilePurpose", "TxProfile"}}
               : Json{{"chargingProfileCriteria", {{"chargingProfilePurpose", "TxProfile"}}}};
      CHECK(call(station, "ClearChargingProfile", clear)["status"] == "Accepted");
      CHECK(session.meter.power_w() == 11000);
      CHECK(call(station, "ClearChargingProfile", clear)["status"] == "Unknown");
    }
  }
}

TEST_CASE("profiles the station cannot hold are rejected, malformed ones answered with CALLERRORs",
          "[sim][smart-charging]") {
  Stats stats;
  StationModel station("SC2", one_evse(OcppVersion::v201), stats, nullptr);
  const Json max = {
      {"evseId", 0},
      {"chargingProfile",
       {{"id", 1},
        {"stackLevel", 0},
        {"chargingProfilePurpose", "ChargingStationMaxProfile"},
        {"chargingProfileKind", "Relative"},
        {"chargingSchedule",
         Json::array({{{"id", 1},
                       {"chargingRateUnit", "W"},
                       {"chargingSchedulePeriod", {{{"startPeriod", 0}, {"limit", 7000}}}}}})}}}};
  CHECK(call(station, "SetChargingProfile", max)["status"] == "Accepted");
  // A TxProfile with no transaction running; a maximum for one EVSE; an unknown EVSE.
  Json tx = max;
  tx["evseId"] = 1;
  tx["chargingProfile"]["chargingProfilePurpose"] = "TxProfile";
  const Json no_tx = call(station, "SetChargingProfile", tx);
  CHECK(no_tx["status"] == "Rejected");
  CHECK(no_tx["statusInfo"]["reasonCode"] == "TxNotFound");
  Json per_evse = max;
  per_evse["evseId"] = 1;
  CHECK(call(station, "SetChargingProfile", per_evse)["statusInfo"]["reasonCode"] ==
        "InvalidProfile");
  Json unknown_evse = max;
  unknown_evse["evseId"] = 5;
  CHECK(call(station, "SetChargingProfile", unknown_evse)["status"] == "Rejected");
  Json late_start = max;
  late_start["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["startPeriod"] =
      30;
  CHECK(call(station, "SetChargingProfile", late_start)["status"] == "Rejected");
  // Nothing half-held: only the first profile is there.
  CHECK(station.profiles.profiles().size() == 1);

  // Malformed payloads (a CSMS that does not check its schema): CALLERRORs.
  const Action set = csms_actions().find(OcppVersion::v201, "SetChargingProfile");
  Json no_periods = max;
  no_periods["chargingProfile"]["chargingSchedule"][0].erase("chargingSchedulePeriod");
  CHECK_THROWS_AS(set(station, no_periods), CallError);
  Json text_limit = max;
  text_limit["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] = "x";
  try {
    set(station, text_limit);
    FAIL("accepted a limit that is not a number");
  } catch (const CallError& e) {
    CHECK(e.code == "TypeConstraintViolation");
  }
  CHECK_THROWS_AS(set(station, Json{{"evseId", 0}}), CallError);
  CHECK(station.profiles.profiles().size() == 1);

  // The station maximum shows in EVSE 0's composite schedule; a bad duration is refused.
  const Json composite = call(station, "GetCompositeSchedule", {{"evseId", 0}, {"duration", 300}});
  CHECK(composite["schedule"]["chargingSchedulePeriod"][0]["limit"] == 7000);
  CHECK(call(station, "GetCompositeSchedule", {{"evseId", 9}, {"duration", 300}})["status"] ==
        "Rejected");
}

TEST_CASE("a 2.1 bidirectional vehicle discharges under a setpoint below zero",
          "[sim][smart-charging]") {
  Stats stats;
  auto options = one_evse(OcppVersion::v21);
  options.ev.v2g_share = 1;
  StationModel station("SC3", options, stats, nullptr);
  auto& session = station.begin_session(*station.evse(1), "T", true, std::nullopt);
  REQUIRE(session.meter.can_discharge());
  const Json setpoint = {
      {"evseId", 1},
      {"chargingProfile",
       {{"id", 8},
        {"stackLevel", 0},
        {"chargingProfilePurpose", "TxProfile"},
        {"chargingProfileKind", "Relative"},
        {"transactionId", session.transaction_uid},
        {"chargingSchedule", Json::array({{{"id", 8},
                                           {"chargingRateUnit", "W"},
                                           {"chargingSchedulePeriod",
                                            {{{"startPeriod", 0},
                                              {"limit", 11000},
                                              {"operationMode", "CentralSetpoint"},
                                              {"setpoint", -6000},
                                              {"dischargeLimit", -5000}}}}}})}}}};
  CHECK(call(station, "SetChargingProfile", setpoint)["status"] == "Accepted");
  CHECK(session.meter.power_w() == -5000);
  const Json composite = call(station, "GetCompositeSchedule", {{"evseId", 1}, {"duration", 60}});
  CHECK(composite["schedule"]["chargingSchedulePeriod"][0]["setpoint"] == -5000);

  // An hour of simulated time: 5 kWh out, the state of charge down by 5/60.
  const double soc = session.meter.soc_percent();
  station.advance(SteadyClock::now() + station.real(3600 - 1));
  CHECK(session.meter.export_register_wh() == Approx(5000).margin(100));
  CHECK(session.meter.import_register_wh() < 1);  // before the setpoint came
  CHECK(session.meter.soc_percent() == Approx(soc - 100.0 * 5000 / 60000).margin(0.2));
  const auto power = queued_power(station);
  REQUIRE_FALSE(power.empty());
  CHECK(power.back() == -5000);

  // A vehicle that cannot discharge stays at zero under the same setpoint.
  auto one_way = one_evse(OcppVersion::v21);
  StationModel plain("SC4", one_way, stats, nullptr);
  auto& charging = plain.begin_session(*plain.evse(1), "T", true, std::nullopt);
  Json same = setpoint;
  same["chargingProfile"]["transactionId"] = charging.transaction_uid;
  CHECK(call(plain, "SetChargingProfile", same)["status"] == "Accepted");
  CHECK(charging.meter.power_w() == 0);
}

TEST_CASE("vehicles say what they need, valid for 2.0.1 and 2.1", "[sim][smart-charging]") {
  Stats stats;
  for (const auto version : {OcppVersion::v201, OcppVersion::v21}) {
    for (const double share : {0.0, 1.0}) {
      auto options = one_evse(version);
      options.ev.v2g_share = share;
      options.meter.battery_capacity_wh = 40000;
      StationModel station("SC5", options, stats, nullptr);
      auto& session = station.begin_session(*station.evse(1), "T", true, std::nullopt);
      const auto departure = std::chrono::system_clock::now() + std::chrono::hours(2);
      const auto needs = outgoing::ev_charging_needs(version, session, departure);
      CHECK(needs.action == "NotifyEVChargingNeeds");
      check_valid(version, needs.action, protocols::Direction::Request, needs.payload);
      const Json& charging = needs.payload["chargingNeeds"];
      CHECK(charging["acChargingParameters"]["energyAmount"] == 20000);  // 50 % of 40 kWh
      CHECK(charging["acChargingParameters"]["evMaxCurrent"] == 16);
      CHECK(charging.contains("departureTime"));
      const bool v2x = version == OcppVersion::v21 && share == 1.0;
      CHECK(charging.contains("v2xChargingParameters") == v2x);
      CHECK(charging["requestedEnergyTransfer"] == (v2x ? "AC_BPT" : "AC_three_phase"));
    }
  }
}

TEST_CASE("a vehicle stops drawing at its target state of charge and leaves at its departure",
          "[sim][smart-charging]") {
  Stats stats;
  auto options = one_evse(OcppVersion::v201);
  options.meter.target_soc_percent = 60;  // 6 kWh of a 60 kWh battery at 50 %
  options.session_length_s = 7200;
  StationModel station("SC6", options, stats, nullptr);
  auto& session = station.begin_session(*station.evse(1), "T", true, std::nullopt);
  CHECK(session.meter.energy_needed_wh() == Approx(6000));
  station.advance(SteadyClock::now() + station.real(3600));
  CHECK(session.meter.full());
  CHECK(session.meter.power_w() == 0);
  CHECK(session.meter.import_register_wh() == Approx(6000).margin(200));
  const auto& last = station.transaction_queue.back().payload;
  CHECK(last["transactionInfo"]["chargingState"] == "SuspendedEV");
  // Its departure ends the session.
  station.advance(SteadyClock::now() + station.real(7200 + 1));
  CHECK_FALSE(station.any_session());
}
