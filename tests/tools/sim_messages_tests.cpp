// The simulator's OCPP messages, checked against the OCA schemas, and its meter model.

#include <catch2/catch.hpp>
#include <chrono>

#include "chargegrid/sim/fleet.hpp"
#include "chargegrid/sim/messages.hpp"
#include "chargegrid/sim/meter.hpp"
#include "chargegrid/sim/stats.hpp"
#include "schema_check.hpp"

using namespace chargegrid::sim;
using chargegrid::test::SchemaCheck;

namespace {
const std::string kV16 = "data/ocpp-schemas/ocpp1_6_subset.json";
const std::string kV201 = "data/ocpp-schemas/ocpp2_0_1_subset.json";
const Timestamp kNow = std::chrono::sys_days{std::chrono::year{2024} / 5 / 1} +
                       std::chrono::hours(12) + std::chrono::milliseconds(123);

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

MeterModel charged_meter(bool v2g, int phases = 3) {
  MeterConfig config;
  config.v2g = v2g;
  config.phases = phases;
  config.initial_import_register_wh = 1234567;
  MeterModel meter(config);
  meter.advance(2400);  // 40 minutes: into the V2G discharge window
  return meter;
}
}  // namespace

TEST_CASE("timestamps are RFC 3339 UTC with milliseconds", "[sim]") {
  CHECK(format_timestamp(kNow) == "2024-05-01T12:00:00.123Z");
  // Rounded, not cut: an instant a microsecond before a whole second is that second.
  CHECK(format_timestamp(kNow - std::chrono::milliseconds(123) - std::chrono::microseconds(1)) ==
        "2024-05-01T12:00:00.000Z");
}

TEST_CASE("1.6 MeterValues conforms to the OCA schema", "[sim]") {
  const auto schema = SchemaCheck::from_bundle(kV16, "urn:MeterValues.req");
  for (bool v2g : {false, true}) {
    const auto payload = v16::meter_values(1, 42, charged_meter(v2g).sample(), kNow);
    INFO(payload.dump(1));
    const auto problems = schema.violations(payload);
    CHECK(joined(problems) == "");
    const auto& sampled = payload["meterValue"][0]["sampledValue"];
    CHECK(sampled.size() >= 4);
    CHECK(sampled.size() <= 8);
    CHECK(payload["transactionId"] == 42);
    CHECK(sampled[0]["measurand"] == "Energy.Active.Import.Register");
    CHECK(sampled[0]["value"].is_string());  // 1.6 carries values as strings
  }
}

TEST_CASE("the schema check itself rejects broken 1.6 MeterValues", "[sim]") {
  const auto schema = SchemaCheck::from_bundle(kV16, "urn:MeterValues.req");
  auto payload = v16::meter_values(1, 42, charged_meter(false).sample(), kNow);
  auto missing = payload;
  missing.erase("connectorId");
  CHECK_FALSE(schema.violations(missing).empty());
  auto numeric = payload;
  numeric["meterValue"][0]["sampledValue"][0]["value"] = 12.5;  // must be a string in 1.6
  CHECK_FALSE(schema.violations(numeric).empty());
  auto bad_unit = payload;
  bad_unit["meterValue"][0]["sampledValue"][0]["unit"] = "kWhr";
  CHECK_FALSE(schema.violations(bad_unit).empty());
  auto bad_time = payload;
  bad_time["meterValue"][0]["timestamp"] = "yesterday";
  CHECK_FALSE(schema.violations(bad_time).empty());
}

TEST_CASE("1.6 boot, status, start and stop conform to the OCA schemas", "[sim]") {
  StationIdentity identity;
  identity.serial_number = "A-very-long-serial-number-beyond-25";
  CHECK(joined(SchemaCheck::from_bundle(kV16, "urn:BootNotification.req")
                   .violations(v16::boot_notification(identity))) == "");
  CHECK(joined(SchemaCheck::from_bundle(kV16, "urn:StatusNotification.req")
                   .violations(v16::status_notification(0, "Available", kNow))) == "");
  CHECK(joined(SchemaCheck::from_bundle(kV16, "urn:StartTransaction.req")
                   .violations(
                       v16::start_transaction(1, "TAG-THAT-IS-LONGER-THAN-20", 100, kNow))) == "");
  const auto stop =
      v16::stop_transaction(7, "TAG", 5000, kNow, "Local", charged_meter(true).sample());
  CHECK(joined(SchemaCheck::from_bundle(kV16, "urn:StopTransaction.req").violations(stop)) == "");
  CHECK(stop["transactionData"][0]["sampledValue"][0]["context"] == "Transaction.End");
}

TEST_CASE("2.0.1 TransactionEvent conforms to the OCA schema", "[sim]") {
  const auto schema = SchemaCheck::from_bundle(kV201, "urn:TransactionEvent.req");
  v201::TransactionEvent event;
  event.time = kNow;
  event.transaction_id = "SIM0001-1-123456";
  event.meter_values = charged_meter(true).sample();

  SECTION("Started with token, EVSE and remote start id") {
    event.event_type = "Started";
    event.trigger_reason = "RemoteStart";
    event.charging_state = "Charging";
    event.id_token = "TOKEN1";
    event.evse_id = 1;
    event.remote_start_id = 17;
    event.context = "Transaction.Begin";
  }
  SECTION("Updated while offline") {
    event.event_type = "Updated";
    event.trigger_reason = "MeterValuePeriodic";
    event.seq_no = 3;
    event.offline = true;
  }
  SECTION("Ended with stopped reason") {
    event.event_type = "Ended";
    event.trigger_reason = "StopAuthorized";
    event.seq_no = 9;
    event.stopped_reason = "Local";
    event.context = "Transaction.End";
  }
  const auto payload = v201::transaction_event(event);
  INFO(payload.dump(1));
  CHECK(joined(schema.violations(payload)) == "");
  CHECK(payload["meterValue"][0]["sampledValue"][0]["value"].is_number());
  CHECK(payload.contains("offline") == event.offline);

  auto broken = payload;
  broken["triggerReason"] = "Because";
  CHECK_FALSE(schema.violations(broken).empty());
}

TEST_CASE("2.0.1 boot and status conform to the OCA schemas", "[sim]") {
  StationIdentity identity;
  identity.serial_number = "SIM0001";
  CHECK(joined(SchemaCheck::from_bundle(kV201, "urn:BootNotification.req")
                   .violations(v201::boot_notification(identity, "RemoteReset"))) == "");
  CHECK(joined(SchemaCheck::from_bundle(kV201, "urn:StatusNotification.req")
                   .violations(v201::status_notification(2, 1, "Occupied", kNow))) == "");
}

TEST_CASE("meter registers only grow and follow the power", "[sim]") {
  MeterConfig config;
  config.max_power_w = 11000;
  config.battery_capacity_wh = 50000;
  config.initial_soc_percent = 20;
  MeterModel meter(config);
  double last_import = meter.import_register_wh();
  double last_soc = meter.soc_percent();
  meter.advance(3600);
  CHECK(meter.import_register_wh() == Approx(11000).epsilon(0.001));  // one hour at 11 kW
  for (int step = 0; step < 200; ++step) {
    meter.advance(300);
    CHECK(meter.import_register_wh() >= last_import);
    CHECK(meter.soc_percent() >= last_soc);
    CHECK(meter.export_register_wh() == 0);
    last_import = meter.import_register_wh();
    last_soc = meter.soc_percent();
  }
  // The battery fills (taper above 80 %) and then draws nothing.
  CHECK(meter.soc_percent() == Approx(100));
  CHECK(meter.power_w() == 0);
  CHECK(meter.import_register_wh() == Approx(40000).epsilon(0.01));

  meter.advance(-5);
  meter.advance(std::nan(""));
  CHECK(meter.import_register_wh() == last_import);
}

TEST_CASE("a charging profile limit caps the power", "[sim]") {
  MeterModel meter(MeterConfig{});
  meter.set_power_limit_w(5000);
  meter.advance(3600);
  CHECK(meter.import_register_wh() == Approx(5000).epsilon(0.001));
}

TEST_CASE("a limit below the vehicle's minimum current pauses it", "[sim]") {
  MeterModel three(MeterConfig{});  // 6 A on three phases at 230 V: 4,140 W
  three.set_power_limit_w(4000);
  three.advance(3600);
  CHECK(three.import_register_wh() == 0);
  CHECK(three.power_w() == 0);
  three.set_power_limit_w(4140);
  three.advance(3600);
  CHECK(three.import_register_wh() == Approx(4140).epsilon(0.001));
  MeterConfig config;
  config.phases = 1;
  MeterModel one(config);  // 1,380 W
  one.set_power_limit_w(3680);
  one.advance(3600);
  CHECK(one.import_register_wh() == Approx(3680).epsilon(0.001));
  config.ev_min_current_a = 0;
  MeterModel any(config);
  any.set_power_limit_w(500);
  any.advance(3600);
  CHECK(any.import_register_wh() == Approx(500).epsilon(0.001));
}

TEST_CASE("registers are reported in whole Wh, or in the step configured", "[sim]") {
  MeterConfig config;
  config.max_power_w = 11000;
  MeterModel whole(config);
  whole.advance(10);  // 30.56 Wh
  CHECK(whole.sample()[0].value == 30);
  config.register_resolution_wh = 0.01;
  MeterModel fine(config);
  fine.advance(10);
  CHECK(fine.sample()[0].value == Approx(30.55).margin(1e-9));
  // 1.6 prints the decimals a reading has, no more.
  const auto payload = v16::meter_values(1, 42, fine.sample(), kNow);
  CHECK(payload["meterValue"][0]["sampledValue"][0]["value"] == "30.55");
}

TEST_CASE("V2G discharges in its window and reports the export register", "[sim]") {
  MeterConfig config;
  config.v2g = true;
  config.initial_soc_percent = 60;
  MeterModel meter(config);
  double last_import = 0;
  double last_export = 0;
  bool saw_discharge = false;
  for (int minute = 0; minute < 180; ++minute) {
    meter.advance(60);
    CHECK(meter.import_register_wh() >= last_import);
    CHECK(meter.export_register_wh() >= last_export);
    last_import = meter.import_register_wh();
    last_export = meter.export_register_wh();
    const auto sample = meter.sample();
    CHECK(sample.size() >= 4);
    CHECK(sample.size() <= 8);
    const bool has_export = std::any_of(sample.begin(), sample.end(), [](const SampledValue& v) {
      return v.measurand == "Energy.Active.Export.Register";
    });
    CHECK(has_export);
    if (meter.discharging()) {
      saw_discharge = true;
      CHECK(std::any_of(sample.begin(), sample.end(), [](const SampledValue& v) {
        return v.measurand == "Power.Active.Export";
      }));
    }
  }
  CHECK(saw_discharge);
  CHECK(last_export > 0);
}

TEST_CASE("a meter without V2G never reports export", "[sim]") {
  const auto sample = charged_meter(false, 1).sample();
  CHECK(sample.size() == 5);  // register, power, one current, voltage, SoC
  for (const auto& v : sample) CHECK(v.measurand.find("Export") == std::string::npos);
}

TEST_CASE("frames parse strictly", "[sim]") {
  const auto call = parse_frame(make_call("1", "Heartbeat", Json::object()));
  REQUIRE(call);
  CHECK(call->type == MessageType::call);
  CHECK(call->action == "Heartbeat");
  const auto error = parse_frame(R"([4,"9","NotImplemented","nope",{}])");
  REQUIRE(error);
  CHECK(error->error_code == "NotImplemented");
  CHECK_FALSE(parse_frame("not json"));
  CHECK_FALSE(parse_frame("[]"));
  CHECK_FALSE(parse_frame(R"([2,"1","Heartbeat"])"));
  CHECK_FALSE(parse_frame(R"([2,1,"Heartbeat",{}])"));
  CHECK_FALSE(parse_frame(R"([2,"1","Heartbeat",[]])"));
  CHECK_FALSE(parse_frame(R"([5,"1",{}])"));
  CHECK_FALSE(parse_frame(R"([4,"1","Code"])"));
}

TEST_CASE("station URLs parse and bad ones are refused", "[sim]") {
  const auto plain = parse_url("ws://127.0.0.1:9000/ocpp/");
  CHECK_FALSE(plain.tls);
  CHECK(plain.host == "127.0.0.1");
  CHECK(plain.port == "9000");
  CHECK(plain.path == "/ocpp");
  const auto tls = parse_url("wss://csms.example.com/ocpp");
  CHECK(tls.tls);
  CHECK(tls.port.empty());
  const auto v6 = parse_url("ws://[::1]:8080");
  CHECK(v6.host == "::1");
  CHECK(v6.port == "8080");
  CHECK(v6.path.empty());
  CHECK_THROWS_AS(parse_url("http://x/ocpp"), std::invalid_argument);
  CHECK_THROWS_AS(parse_url("ws://:9000/ocpp"), std::invalid_argument);
  CHECK_THROWS_AS(parse_url("ws://host:99999/ocpp"), std::invalid_argument);
  CHECK_THROWS_AS(parse_url("ws://host:12ab/ocpp"), std::invalid_argument);
  CHECK_THROWS_AS(parse_url("ws://user:pw@host/ocpp"), std::invalid_argument);
  CHECK_THROWS_AS(parse_url("ws://host/ocpp?x=1"), std::invalid_argument);
}

TEST_CASE("latency histogram quantiles are within its precision", "[sim]") {
  LatencyHistogram h;
  for (int us = 1; us <= 10000; ++us) h.record(std::chrono::microseconds(us));
  CHECK(h.count() == 10000);
  CHECK(h.quantile_us(0.5) == Approx(5000).epsilon(0.03));
  CHECK(h.quantile_us(0.99) == Approx(9900).epsilon(0.03));
  CHECK(h.quantile_us(1.0) == 10000);
  LatencyHistogram other;
  other.record(std::chrono::seconds(2));
  h.merge(other);
  CHECK(h.max_us() == 2000000);
  CHECK(LatencyHistogram{}.quantile_us(0.5) == 0);
}
