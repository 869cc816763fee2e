// Credits split by verified energy: half-to-even shares that always add up to the credit, the
// remainder given in a fixed order.

#include "credits/allocation.hpp"

#include <catch2/catch.hpp>
#include <numeric>

#include "credits/imports.hpp"

using namespace chargegrid::server::credits;

namespace {

std::int64_t sum(const std::vector<Share>& shares) {
  return std::accumulate(shares.begin(), shares.end(), std::int64_t{0},
                         [](std::int64_t s, const Share& x) { return s + x.amount_minor; });
}

}  // namespace

TEST_CASE("a credit is split by verified energy and always adds up", "[unit][credits]") {
  auto shares = allocate(1001, {{"b", 1000}, {"a", 3000}});
  REQUIRE(shares.size() == 2);
  CHECK(shares[0].owner == "a");  // more energy first
  CHECK(shares[0].amount_minor == 751);
  CHECK(shares[1].amount_minor == 250);

  // Three equal owners of 2 units: 0.667 each rounds to 1 (3 in all); one is taken back from the
  // first in order (by name when the energy is equal).
  shares = allocate(2, {{"c", 10}, {"a", 10}, {"b", 10}});
  CHECK(shares[0].owner == "a");
  CHECK(shares[0].amount_minor == 0);
  CHECK(shares[1].amount_minor == 1);
  CHECK(shares[2].amount_minor == 1);
  // 1 unit among three: 0.333 rounds to 0; the unit goes to the first.
  shares = allocate(1, {{"c", 10}, {"a", 10}, {"b", 10}});
  CHECK(shares[0].amount_minor == 1);
  CHECK(sum(shares) == 1);
  // Exact halves go to even: 5 split 1:1 is 2.5 each → 2 and 2, the remainder to the first.
  shares = allocate(5, {{"x", 7}, {"y", 7}});
  CHECK(shares[0].amount_minor == 3);
  CHECK(shares[1].amount_minor == 2);
  // Large amounts and energy do not overflow.
  shares = allocate(1'000'000'000'000'000, {{"big", 999'999'999'999}, {"small", 1}});
  CHECK(sum(shares) == 1'000'000'000'000'000);
  CHECK(shares[1].amount_minor == 1000);
  // Owners without energy get nothing; nobody with energy is an error.
  CHECK(allocate(10, {{"a", 0}, {"b", 5}}).size() == 1);
  CHECK_THROWS(allocate(10, {{"a", 0}}));
  for (std::int64_t amount = 0; amount < 50; ++amount)
    CHECK(sum(allocate(amount, {{"a", 1}, {"b", 2}, {"c", 3}, {"d", 5}, {"e", 7}})) == amount);
}

TEST_CASE("credit files are read strictly", "[unit][credits]") {
  auto rows =
      parse_import("currency,amount_minor,period,site_id\n\"EUR\",12,2026-Q4,3\nEUR,7,2026-11,4\n",
                   ImportFormat::kCsv);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].period == "2026-Q4");
  CHECK(rows[0].site_id == 3);
  CHECK(rows[1].number == 2);
  CHECK(rows[1].amount_minor == 7);
  auto json_rows = parse_import(
      R"({"rows":[{"period":"2026-11","station_id":"CS-1","amount_minor":5,"currency":"NOK"}]})",
      ImportFormat::kJson);
  REQUIRE(json_rows.size() == 1);
  CHECK(json_rows[0].station_id == "CS-1");
  auto refused_row = [](const std::string& body, ImportFormat format) {
    try {
      parse_import(body, format);
    } catch (const ImportError& e) {
      return e.row();
    }
    return std::size_t{999};
  };
  CHECK(refused_row(
            R"({"rows":[{"period":"2026-11","site_id":-1,"amount_minor":5,"currency":"NOK"}]})",
            ImportFormat::kJson) == 1);
  CHECK(refused_row(
            R"({"rows":[{"period":"2026-11","site_id":1,"amount_minor":5.5,"currency":"NOK"}]})",
            ImportFormat::kJson) == 1);
  CHECK(refused_row(R"({"rows":[{"period":"2026-11","site_id":1,"currency":"NOK"}]})",
                    ImportFormat::kJson) == 1);
  CHECK(refused_row("not json", ImportFormat::kJson) == 0);
  std::string many = "period,site_id,amount_minor,currency\n";
  for (int i = 0; i < 10001; ++i) many += "2026-11,1,1,EUR\n";
  CHECK(refused_row(many, ImportFormat::kCsv) == 10001);
}
