// Unit normalisation and station identity parsing.

#include "units.hpp"

#include <catch2/catch.hpp>

#include "connections/station_connection.hpp"

using chargegrid::protocols::OcppVersion;
using namespace chargegrid::server;

TEST_CASE("Meter values are normalised to base units", "[unit]") {
  auto wh = normalise("Energy.Active.Import.Register", "kWh", 12.5);
  REQUIRE(wh);
  CHECK(wh->unit == "Wh");
  CHECK(wh->value == Approx(12500));
  auto w = normalise("Power.Active.Import", "W", 7.4, 3);  // 2.0.1 multiplier
  CHECK(w->unit == "W");
  CHECK(w->value == Approx(7400));
  CHECK(normalise("Power.Active.Import", "kW", 11)->value == Approx(11000));
  CHECK(normalise("Energy.Reactive.Import.Register", "kvarh", 2)->unit == "varh");
  CHECK(normalise("SoC", "Percent", 80)->unit == "%");
  CHECK(normalise("Temperature", "Celcius", 21)->unit == "Celsius");
  CHECK(normalise("Temperature", "Fahrenheit", 212)->value == Approx(100));
  CHECK(normalise("Current.Import", "", 16)->unit == "A");  // unit from the measurand
  CHECK(normalise("", "", 5)->unit == "Wh");                // OCPP's default measurand
  CHECK(normalise("Power.Factor", "", 0.97)->unit.empty());
  CHECK(normalise("Energy.Active.Import.Register", "Wh", 1, -3)->value == Approx(0.001));
  CHECK_FALSE(normalise("Voltage", "furlongs", 1));
}

TEST_CASE("Station ids come from the URL path, percent-decoded", "[unit]") {
  CHECK(station_id_from_target("/ocpp/CP1") == std::optional<std::string>("CP1"));
  CHECK(station_id_from_target("/ocpp/CP%201") == std::nullopt);  // a space is not allowed
  CHECK(station_id_from_target("/ocpp/CP%2D1?x=1") == std::optional<std::string>("CP-1"));
  CHECK(station_id_from_target("/ocpp/") == std::nullopt);
  CHECK(station_id_from_target("/ocpp/a/b") == std::nullopt);
  CHECK(station_id_from_target("/other/CP1") == std::nullopt);
  CHECK(station_id_from_target("/ocpp/CP%2") == std::nullopt);
  CHECK(station_id_from_target("/ocpp/CP%zz") == std::nullopt);
  CHECK(station_id_from_target("/ocpp/a%3Ab") == std::nullopt);  // ':' breaks Basic auth
  CHECK(station_id_from_target("/ocpp/" + std::string(48, 'x')));
  CHECK_FALSE(station_id_from_target("/ocpp/" + std::string(49, 'x')));
}

TEST_CASE("The subprotocol is the first one offered that is supported", "[unit]") {
  CHECK(negotiate_subprotocol("ocpp1.6") == OcppVersion::v16);
  CHECK(negotiate_subprotocol("ocpp2.0.1, ocpp1.6") == OcppVersion::v201);
  CHECK(negotiate_subprotocol("foo,ocpp2.1") == OcppVersion::v21);
  CHECK(negotiate_subprotocol("") == std::nullopt);
  CHECK(negotiate_subprotocol("ocpp1.5, ocpp2.0") == std::nullopt);
}
