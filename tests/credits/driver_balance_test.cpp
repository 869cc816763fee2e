// Drivers' V2G balances on a real server and PostgreSQL: a session that discharged more than it
// cost earns its driver the difference; the next sessions spend it (a component of their record)
// until it is gone; it never goes negative, and every change is an entry naming its settlement.

#include <catch2/catch.hpp>

#include "../api/api_fixture.hpp"
#include "sessions.hpp"

using namespace chargegrid::testing;
using namespace chargegrid::credits_testing;
using chargegrid::server::api::Role;
using nlohmann::json;
namespace http = boost::beast::http;

namespace {

json settlement_of(ApiFixture& fx, long long session) {
  HttpResult answer;
  REQUIRE(fx.eventually(
      [&] {
        answer = fx.admin().get("/sessions/" + std::to_string(session) + "/settlement");
        return answer.status == 200;
      },
      std::chrono::seconds(15)));
  return answer.data;
}

}  // namespace

TEST_CASE("a driver earns the export credit and later sessions spend it, never below zero",
          "[integration][credits]") {
  ApiFixture fx(free_vend_config());
  const auto [home, away] = fx.make_sites("Home", "Away");
  const json tariff{{"currency", "EUR"},
                    {"import",
                     {{{"days", {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}},
                       {"from", "00:00"},
                       {"to", "24:00"},
                       {"price_minor_per_kwh", 20}}}},
                    {"export_credit_minor_per_kwh", 8}};
  REQUIRE(fx.admin()
              .send(http::verb::put, "/sites/" + std::to_string(home) + "/tariff", tariff.dump())
              .status == 200);
  const auto driver = fx.make_driver("Vee", home);
  REQUIRE(fx.admin()
              .post("/drivers/" + std::to_string(driver) + "/tokens", {{"id_token", "TAG-V2G"}})
              .status == 201);
  fx.make_station("CS-HOME", home);
  auto station = booted_16(fx, "CS-HOME");

  // 5 kWh discharged at 8, nothing charged: the driver is owed 40.
  const auto s1 = session_16(*station, 1000, 1000, "2026-11-24T08:00:00Z", "2026-11-24T09:00:00Z",
                             5000, "TAG-V2G");
  auto first = settlement_of(fx, s1);
  INFO(first.dump());
  CHECK(first["total_minor"] == -40);
  CHECK(!find_item(first["record"]["prices"], "kind", "driver_balance"));
  // 3 kWh charged at 20 (60): 40 is paid from the balance, 20 is left to pay.
  const auto s2 = session_16(*station, 1000, 4000, "2026-11-24T10:00:00Z", "2026-11-24T11:00:00Z",
                             0, "TAG-V2G");
  auto second = settlement_of(fx, s2);
  CHECK(second["total_minor"] == 20);
  const auto* spent = find_item(second["record"]["prices"], "kind", "driver_balance");
  REQUIRE(spent);
  CHECK((*spent)["amount_minor"] == -40);
  CHECK(second["record"]["total_minor"] == 20);
  // 1 kWh more: the balance is empty, so it is paid in full.
  const auto s3 = session_16(*station, 4000, 5000, "2026-11-24T12:00:00Z", "2026-11-24T13:00:00Z",
                             0, "TAG-V2G");
  auto third = settlement_of(fx, s3);
  CHECK(third["total_minor"] == 20);
  CHECK(!find_item(third["record"]["prices"], "kind", "driver_balance"));
  // A session of nobody's token earns nobody anything.
  const auto s4 = session_16(*station, 5000, 5000, "2026-11-24T14:00:00Z", "2026-11-24T15:00:00Z",
                             1000, "TAG-ANON");
  CHECK(settlement_of(fx, s4)["total_minor"] == -8);

  auto balance = fx.admin().get("/drivers/" + std::to_string(driver) + "/balance");
  REQUIRE(balance.status == 200);
  REQUIRE(balance.data["balances"].size() == 1);
  CHECK(balance.data["balances"][0]["currency"] == "EUR");
  CHECK(balance.data["balances"][0]["balance_minor"] == 0);
  const auto& entries = balance.data["entries"];
  REQUIRE(entries.size() == 2);  // newest first
  CHECK(entries[0]["kind"] == "spent");
  CHECK(entries[0]["amount_minor"] == -40);
  CHECK(entries[0]["balance_after_minor"] == 0);
  CHECK(entries[0]["settlement_id"] == second["id"]);
  CHECK(entries[1]["kind"] == "earned");
  CHECK(entries[1]["amount_minor"] == 40);
  CHECK(entries[1]["session_id"] == s1);
  CHECK(fx.query_value("SELECT count(*) FROM driver_balance_entries") == "2");

  // The database refuses a negative balance and rewriting history.
  CHECK_THROWS(fx.query_value("UPDATE driver_balances SET balance_minor = -1"));
  CHECK_THROWS(fx.query_value("DELETE FROM driver_balance_entries"));

  // Scoped like drivers.
  auto own = fx.client(fx.make_key(Role::Driver, {}, driver));
  CHECK(own.get("/drivers/" + std::to_string(driver) + "/balance").status == 200);
  const auto other = fx.make_driver("Other", away);
  auto other_key = fx.client(fx.make_key(Role::Driver, {}, other));
  CHECK(other_key.get("/drivers/" + std::to_string(driver) + "/balance").status == 404);
  auto manager = fx.client(fx.make_key(Role::FacilityManager, {home}));
  CHECK(manager.get("/drivers/" + std::to_string(driver) + "/balance").status == 200);
  auto outsider = fx.client(fx.make_key(Role::FacilityManager, {away}));
  CHECK(outsider.get("/drivers/" + std::to_string(driver) + "/balance").status == 404);
  CHECK(fx.client(fx.make_key(Role::Utility, {home}))
            .get("/drivers/" + std::to_string(driver) + "/balance")
            .status == 403);
  CHECK(fx.admin().get("/drivers/999999/balance").status == 404);
}
