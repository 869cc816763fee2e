#pragma once
// What the server tests' stations send most: BootNotification of each version, a 1.6
// StartTransaction, a started 1.6 transaction's id, a 2.0.1 TransactionEvent, and stations of
// each version connected and booted.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "chargegrid/sim/test_client.hpp"
#include "server_fixture.hpp"

namespace chargegrid::testing {

// What a station says of itself at boot; the serial number and firmware only when set.
struct StationIdentity {
  std::string vendor = "ACME";
  std::string model = "M";
  std::string serial_number;
  std::string firmware_version;
};

inline nlohmann::json boot_16(const StationIdentity& station = {}) {
  nlohmann::json p{{"chargePointVendor", station.vendor}, {"chargePointModel", station.model}};
  if (!station.serial_number.empty()) p["chargePointSerialNumber"] = station.serial_number;
  if (!station.firmware_version.empty()) p["firmwareVersion"] = station.firmware_version;
  return p;
}

inline nlohmann::json boot_201(const StationIdentity& station = {}) {
  nlohmann::json s{{"model", station.model}, {"vendorName", station.vendor}};
  if (!station.firmware_version.empty()) s["firmwareVersion"] = station.firmware_version;
  if (!station.serial_number.empty()) s["serialNumber"] = station.serial_number;
  return {{"reason", "PowerUp"}, {"chargingStation", std::move(s)}};
}

inline nlohmann::json start_16(int connector, long long meter_start, const std::string& at,
                               const std::string& id_tag = "TAG-1") {
  return {{"connectorId", connector},
          {"idTag", id_tag},
          {"meterStart", meter_start},
          {"timestamp", at}};
}

// A 2.0.1 TransactionEvent of transaction `uid` on EVSE 1 (connector 1); callers add what
// their event carries (idToken, meterValue, stoppedReason).
inline nlohmann::json transaction_event_201(const std::string& type, int seq, const std::string& at,
                                            const std::string& uid, const std::string& trigger) {
  return {{"eventType", type},
          {"timestamp", at},
          {"triggerReason", trigger},
          {"seqNo", seq},
          {"transactionInfo", {{"transactionId", uid}}},
          {"evse", {{"id", 1}, {"connectorId", 1}}}};
}

// Starts a transaction on a booted 1.6 station (connector 1, at 2026-11-24T08:00:00Z) and
// returns its id.
inline long long start_transaction_16(sim::OcppTestClient& station, long long meter_start = 1000,
                                      const std::string& id_tag = "TAG-1") {
  auto started =
      station.call("StartTransaction", start_16(1, meter_start, "2026-11-24T08:00:00Z", id_tag));
  REQUIRE(is_result(started));
  return started[2]["transactionId"].get<long long>();
}

// A connected 1.6 station whose BootNotification was answered.
inline std::unique_ptr<sim::OcppTestClient> booted_16(ServerFixture& fx,
                                                      const std::string& station_id) {
  auto station = fx.connect(station_id, "ocpp1.6");
  REQUIRE(is_result(station->call("BootNotification", boot_16())));
  return station;
}

// A connected 2.0.1 station whose BootNotification was answered.
inline std::unique_ptr<sim::OcppTestClient> booted_201(ServerFixture& fx,
                                                       const std::string& station_id) {
  auto station = fx.connect(station_id, "ocpp2.0.1");
  REQUIRE(is_result(station->call("BootNotification", boot_201())));
  return station;
}

}  // namespace chargegrid::testing
