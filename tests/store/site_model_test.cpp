// The site model's repositories against a real PostgreSQL: EVSE power by site for smart
// charging, a site's one tariff with its time zone for settlement, both gone with their
// station or site.

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "chargegrid/testing/database.hpp"
#include "store/charging_plans.hpp"
#include "store/evses.hpp"
#include "store/tariffs.hpp"

using chargegrid::testing::TestDatabase;
namespace evses = chargegrid::server::store::evses;
namespace plans = chargegrid::server::store::charging_plans;
namespace tariffs = chargegrid::server::store::tariffs;
namespace tariff = chargegrid::server::tariff;

namespace {

std::int64_t insert_site(pqxx::work& tx, const std::string& name, const std::string& zone) {
  return tx
      .exec_params1("INSERT INTO sites (name, time_zone) VALUES ($1, $2) RETURNING id", name,
                    zone)[0]
      .as<std::int64_t>();
}

void insert_station(pqxx::work& tx, const std::string& id, std::int64_t site) {
  tx.exec_params("INSERT INTO stations (id, site_id) VALUES ($1, $2)", id, site);
}

evses::EvsePowerPatch power(double watts, int phases) {
  evses::EvsePowerPatch patch;
  patch.max_power_w = watts;
  patch.phases = phases;
  return patch;
}

}  // namespace

TEST_CASE("EVSE power is read by site in order and patched member by member",
          "[store][integration]") {
  TestDatabase db;
  pqxx::connection c{db.url()};
  pqxx::work tx(c);
  const auto a = insert_site(tx, "A", "UTC");
  const auto b = insert_site(tx, "B", "UTC");
  insert_station(tx, "CP-2", a);
  insert_station(tx, "CP-1", a);
  insert_station(tx, "CP-B", b);
  evses::patch(tx, "CP-2", 1, power(22000, 3));
  evses::patch(tx, "CP-1", 2, power(7400, 1));
  evses::patch(tx, "CP-1", 1, power(11000, 3));
  evses::patch(tx, "CP-B", 1, power(50000, 3));

  auto at_a = evses::for_site(tx, a);
  REQUIRE(at_a.size() == 3);
  CHECK(at_a[0].station_id == "CP-1");
  CHECK(at_a[0].evse_id == 1);
  CHECK(at_a[1].station_id == "CP-1");
  CHECK(at_a[1].evse_id == 2);
  CHECK(at_a[1].phases == 1);
  CHECK(at_a[2].station_id == "CP-2");
  CHECK(at_a[2].max_power_w == 22000.0);
  REQUIRE(evses::for_site(tx, b).size() == 1);

  // A patch that clears one member keeps the others.
  evses::EvsePowerPatch clear;
  clear.clear_max_power_w = true;
  clear.bidirectional = true;
  const auto cleared = evses::patch(tx, "CP-2", 1, clear);
  CHECK_FALSE(cleared.max_power_w);
  CHECK(cleared.phases == 3);
  CHECK(cleared.bidirectional);

  // A station that does not exist gets no row.
  CHECK_THROWS_AS(evses::patch(tx, "CP-NONE", 1, power(1000, 1)), pqxx::foreign_key_violation);
}

TEST_CASE("EVSE power rows go with their station", "[store][integration]") {
  TestDatabase db;
  pqxx::connection c{db.url()};
  pqxx::work tx(c);
  const auto a = insert_site(tx, "A", "UTC");
  insert_station(tx, "CP-1", a);
  evses::patch(tx, "CP-1", 1, power(11000, 3));
  REQUIRE(evses::find(tx, "CP-1", 1));
  tx.exec("DELETE FROM stations WHERE id = 'CP-1'");
  CHECK_FALSE(evses::find(tx, "CP-1", 1));
  CHECK(evses::for_site(tx, a).empty());
}

TEST_CASE("A station holds its latest accepted profile of a purpose until a clear is answered",
          "[store][integration]") {
  TestDatabase db;
  pqxx::connection c{db.url()};
  pqxx::work tx(c);
  insert_station(tx, "CP-1", insert_site(tx, "A", "UTC"));
  const auto send = [&](const std::string& kind, const std::string& purpose, int limit,
                        const std::optional<std::string>& status) {
    plans::ProfileSent p;
    p.kind = kind;
    p.purpose = purpose;
    p.station_id = "CP-1";
    p.schedule = {{"limit", limit}};
    const auto recorded = plans::record_profiles(tx, std::span(&p, 1)).at(0);
    if (status) plans::record_outcome(tx, recorded.id, 0, "answered", status);
  };
  const std::vector<std::string> stations{"CP-1"};
  const auto held = [&](const std::string& purpose) {
    const auto all = plans::last_station_profiles(tx, stations, purpose);
    return all.count("CP-1") ? all.at("CP-1").schedule.value("limit", -1) : -1;
  };
  send("set", "TxDefaultProfile", 1000, "Accepted");
  send("set", "TxDefaultProfile", 2000, "Rejected");  // not held
  send("set", "ChargingStationMaxProfile", 5000, "Accepted");
  CHECK(held("TxDefaultProfile") == 1000);
  CHECK(held("ChargingStationMaxProfile") == 5000);
  send("clear", "TxDefaultProfile", 0, std::nullopt);  // not answered yet: still held
  CHECK(held("TxDefaultProfile") == 1000);
  send("clear", "TxDefaultProfile", 0, "Accepted");
  CHECK(held("TxDefaultProfile") == -1);
  CHECK(held("ChargingStationMaxProfile") == 5000);
  send("set", "TxDefaultProfile", 3000, "Accepted");  // sent again after the clear
  CHECK(held("TxDefaultProfile") == 3000);
}

TEST_CASE("A batch of profiles is recorded in its order, each keeping its target's profile id",
          "[store][integration]") {
  TestDatabase db;
  pqxx::connection c{db.url()};
  pqxx::work tx(c);
  const auto site = insert_site(tx, "A", "UTC");
  insert_station(tx, "CP-1", site);
  insert_station(tx, "CP-2", site);
  const auto session = [&](const std::string& station) {
    return tx
        .exec_params1(
            "INSERT INTO transactions (station_id, transaction_uid, protocol, evse_id, "
            "started_at) VALUES ($1, $1 || '-T', 'ocpp2.0.1', 1, now()) RETURNING id",
            station)[0]
        .as<std::int64_t>();
  };
  const auto s1 = session("CP-1"), s2 = session("CP-2");
  const auto profile = [&](const std::string& station, std::optional<std::int64_t> on_session,
                           const std::string& purpose, int limit) {
    plans::ProfileSent p;
    p.purpose = purpose;
    p.site_id = site;
    p.station_id = station;
    p.evse_id = on_session ? 1 : 0;
    p.session_id = on_session;
    p.start_s = 1'700'000'000;
    p.rate_unit = "W";
    p.schedule = {{"limit", limit}};
    return p;
  };
  const std::vector<plans::ProfileSent> first{
      profile("CP-1", s1, "TxProfile", 1), profile("CP-2", s2, "TxProfile", 2),
      profile("CP-1", std::nullopt, "ChargingStationMaxProfile", 3),
      profile("CP-1", s1, "TxProfile", 4)};
  const auto a = plans::record_profiles(tx, first);
  REQUIRE(a.size() == 4);
  CHECK(a[0].id < a[1].id);
  CHECK(a[1].id < a[2].id);
  CHECK(a[2].id < a[3].id);
  CHECK(a[0].profile_id == a[0].id);  // a session's first profile takes its row's id
  CHECK(a[1].profile_id == a[1].id);
  CHECK(a[2].profile_id == a[2].id);
  CHECK(a[3].profile_id == a[0].profile_id);  // the same session's later one replaces it
  // Rows as sent, in the batch's order.
  CHECK(tx.exec_params1(
              "SELECT schedule->>'limit' || ':' || station_id || ':' || rate_unit || ':' "
              "|| extract(epoch FROM start_at)::bigint FROM charging_profiles WHERE id = $1",
              a[2].id)[0]
            .as<std::string>() == "3:CP-1:W:1700000000");

  // A later batch keeps each target's id; another purpose or EVSE has its own.
  const std::vector<plans::ProfileSent> second{
      profile("CP-2", s2, "TxProfile", 5),
      profile("CP-1", std::nullopt, "ChargingStationMaxProfile", 6),
      profile("CP-2", std::nullopt, "ChargingStationMaxProfile", 7),
      profile("CP-1", std::nullopt, "TxDefaultProfile", 8)};
  const auto b = plans::record_profiles(tx, second);
  REQUIRE(b.size() == 4);
  CHECK(b[0].profile_id == a[1].profile_id);
  CHECK(b[1].profile_id == a[2].profile_id);
  CHECK(b[2].profile_id == b[2].id);
  CHECK(b[3].profile_id == b[3].id);
  CHECK(plans::record_profiles(tx, std::span<const plans::ProfileSent>{}).empty());
}

TEST_CASE("a site has one tariff, read with its time zone, and it goes with the site",
          "[store][integration]") {
  TestDatabase db;
  pqxx::connection c{db.url()};
  pqxx::work tx(c);
  const auto oslo = insert_site(tx, "Oslo", "Europe/Oslo");
  const auto flat = tariff::parse(nlohmann::json::parse(R"({"currency": "NOK", "import": [
      {"days": ["mon","tue","wed","thu","fri","sat","sun"], "from": "00:00", "to": "24:00",
       "price_minor_per_kwh": 90}]})"));
  CHECK_FALSE(tariffs::find(tx, oslo));
  CHECK_FALSE(tariffs::put(tx, oslo + 1000, flat));

  REQUIRE(tariffs::put(tx, oslo, flat));
  auto dearer = flat;
  dearer.import[0].price_minor_per_kwh = 120;
  REQUIRE(tariffs::put(tx, oslo, dearer));
  CHECK(tx.exec1("SELECT count(*) FROM site_tariffs")[0].as<int>() == 1);
  const auto found = tariffs::find(tx, oslo);
  REQUIRE(found);
  CHECK(found->time_zone == "Europe/Oslo");
  CHECK(found->tariff.currency == "NOK");
  CHECK(found->tariff.import[0].price_minor_per_kwh == 120);

  CHECK(tariffs::remove(tx, oslo));
  CHECK_FALSE(tariffs::remove(tx, oslo));
  REQUIRE(tariffs::put(tx, oslo, flat));
  tx.exec_params("DELETE FROM sites WHERE id = $1", oslo);
  CHECK_FALSE(tariffs::find(tx, oslo));
}
