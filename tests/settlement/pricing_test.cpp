// Money: exact sums, banker's rounding once per record, export credits.

#include "settlement/pricing.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "chargegrid/base/time.hpp"

using namespace chargegrid::server::settlement;
using chargegrid::base::TimePoint;

TEST_CASE("rounding is half to even, on thousandths of a minor unit", "[settlement][money]") {
  CHECK(round_thousandths_half_even(2500) == 2);
  CHECK(round_thousandths_half_even(3500) == 4);
  CHECK(round_thousandths_half_even(2501) == 3);
  CHECK(round_thousandths_half_even(2499) == 2);
  CHECK(round_thousandths_half_even(-2500) == -2);
  CHECK(round_thousandths_half_even(-3500) == -4);
  CHECK(round_thousandths_half_even(-2501) == -3);
  CHECK(round_thousandths_half_even(0) == 0);
}

TEST_CASE("packets are priced at the rate in force at their start, rounded once",
          "[settlement][money]") {
  const auto seven = *chargegrid::base::parse_rfc3339("2026-03-02T07:00:00Z");
  Prices prices;
  prices.currency = "EUR";
  prices.import_minor_per_kwh = [seven](TimePoint t) { return t < seven ? 21 : 31; };
  prices.export_credit_minor_per_kwh = 8;
  using std::chrono::minutes;
  std::vector<Packet> packets{
      {seven - minutes(15), seven, 250, 0, false},                 // 0.25 kWh x 21 = 5.25
      {seven, seven + minutes(15), 250, 0, false},                 // 0.25 kWh x 31 = 7.75
      {seven + minutes(15), seven + minutes(30), 0, 500, false}};  // credit 0.5 kWh x 8 = 4
  auto money = price(packets, prices);
  REQUIRE(money.components.size() == 3);
  CHECK(money.components[0].kind == "energy");
  CHECK(money.components[0].unit_price_minor == 21);
  CHECK(money.components[0].quantity_milli == 250);
  CHECK(money.components[0].amount_minor == 5);  // 5.25
  CHECK(money.components[1].amount_minor == 8);  // 7.75
  CHECK(money.components[2].kind == "export_credit");
  CHECK(money.components[2].amount_minor == -4);
  // 5.25 + 7.75 - 4 = 9.000: exact, where rounding each part would also give 9.
  CHECK(money.total_minor == 9);

  // Two halves: rounded separately 2 + 2 (half to even), once: 2.5 + 1.5 = 4.
  prices.import_minor_per_kwh = [seven](TimePoint t) { return t < seven ? 10 : 6; };
  std::vector<Packet> halves{{seven - minutes(15), seven, 250, 0, false},
                             {seven, seven + minutes(15), 250, 0, false}};
  auto once = price(halves, prices);
  CHECK(once.components[0].amount_minor == 2);  // 1.5 -> 2
  CHECK(once.components[1].amount_minor == 2);  // 2.5 -> 2
  CHECK(once.total_minor == 4);
}

TEST_CASE("a site's tariff prices packets in the site's time zone", "[settlement][money]") {
  const auto tariff = chargegrid::server::tariff::parse(nlohmann::json::parse(R"({
    "currency": "NOK",
    "import": [{"days": ["mon","tue","wed","thu","fri","sat","sun"], "from": "00:00",
                "to": "07:00", "price_minor_per_kwh": 50},
               {"days": ["mon","tue","wed","thu","fri","sat","sun"], "from": "07:00",
                "to": "24:00", "price_minor_per_kwh": 150}],
    "export_credit_minor_per_kwh": 20,
    "discharge_price_by_soc": []})"));
  auto prices = prices_of(tariff, "Europe/Oslo");
  CHECK(prices.currency == "NOK");
  // 06:00Z is 07:00 in Oslo in winter: the day rate.
  const auto six = *chargegrid::base::parse_rfc3339("2026-01-05T06:00:00Z");
  CHECK(prices.import_minor_per_kwh(six - std::chrono::minutes(1)) == 50);
  CHECK(prices.import_minor_per_kwh(six) == 150);
  std::vector<Packet> packets{{six - std::chrono::minutes(15), six, 1000, 0, false},
                              {six, six + std::chrono::minutes(15), 1000, 250, false}};
  auto money = price(packets, prices);
  CHECK(money.total_minor == 50 + 150 - 5);
  CHECK_THROWS_AS(prices_of(tariff, "Mars/Olympus"), std::invalid_argument);
}
