#include "tariff/tariff.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace {

using chargegrid::server::tariff::Tariff;
using chargegrid::server::tariff::TariffError;
using nlohmann::json;
namespace tariff = chargegrid::server::tariff;

chargegrid::base::TimePoint at(const char* text) {
  return *chargegrid::base::parse_rfc3339(text);
}

// Weekdays: night 12, day 31, evening 22; weekends 15 all day.
json weekly() {
  return json::parse(R"({
    "currency": "NOK",
    "import": [
      {"days": ["mon","tue","wed","thu","fri"], "from": "00:00", "to": "07:00", "price_minor_per_kwh": 12},
      {"days": ["mon","tue","wed","thu","fri"], "from": "07:00", "to": "17:00", "price_minor_per_kwh": 31},
      {"days": ["mon","tue","wed","thu","fri"], "from": "17:00", "to": "24:00", "price_minor_per_kwh": 22},
      {"days": ["sat","sun"], "from": "00:00", "to": "24:00", "price_minor_per_kwh": 15}
    ],
    "export_credit_minor_per_kwh": 8,
    "demand_response_credit_minor_per_kwh": 20,
    "discharge_price_by_soc": [
      {"soc_from": 60, "soc_to": 100, "price_minor_per_kwh": 30},
      {"soc_from": 20, "soc_to": 60, "price_minor_per_kwh": 45}
    ]
  })");
}

// The refusal `document` gets: its JSON pointer and message.
std::pair<std::string, std::string> refusal(const json& document) {
  try {
    tariff::parse(document);
  } catch (const TariffError& e) {
    return {e.path, e.what()};
  }
  FAIL("the tariff was accepted: " << document.dump());
  return {};
}

}  // namespace

TEST_CASE("tariff: a tariff covering the week parses and round-trips", "[tariff]") {
  const Tariff parsed = tariff::parse(weekly());
  CHECK(parsed.currency == "NOK");
  REQUIRE(parsed.import.size() == 4);
  CHECK(parsed.import[0].days == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(parsed.import[2].from_minute == 17 * 60);
  CHECK(parsed.import[2].to_minute == 1440);
  CHECK(parsed.import[3].days == std::vector<int>{5, 6});
  CHECK(parsed.export_credit_minor_per_kwh == 8);
  CHECK(parsed.demand_response_credit_minor_per_kwh == 20);
  REQUIRE(parsed.discharge_price_by_soc.size() == 2);

  const json stored = tariff::to_json(parsed);
  CHECK(stored == weekly());
  CHECK(tariff::to_json(tariff::parse(stored)) == stored);
}

TEST_CASE("tariff: the optional members default to no credit and no discharge", "[tariff]") {
  json document = weekly();
  document.erase("export_credit_minor_per_kwh");
  document.erase("demand_response_credit_minor_per_kwh");
  document.erase("discharge_price_by_soc");
  const Tariff parsed = tariff::parse(document);
  CHECK(parsed.export_credit_minor_per_kwh == 0);
  CHECK(parsed.demand_response_credit_minor_per_kwh == 0);
  CHECK(parsed.discharge_price_by_soc.empty());
  CHECK(tariff::to_json(parsed)["discharge_price_by_soc"] == json::array());
  CHECK_FALSE(tariff::discharge_price_at(parsed, 50).has_value());
}

TEST_CASE("tariff: import prices follow Oslo's wall clock", "[tariff]") {
  const Tariff t = tariff::parse(weekly());
  // Winter (+01:00): Monday 2026-01-12.
  CHECK(tariff::import_price_at(t, at("2026-01-12T05:59:00Z"), "Europe/Oslo") == 12);  // 06:59
  CHECK(tariff::import_price_at(t, at("2026-01-12T06:00:00Z"), "Europe/Oslo") == 31);  // 07:00
  CHECK(tariff::import_price_at(t, at("2026-01-12T16:00:00Z"), "Europe/Oslo") == 22);  // 17:00
  // Friday 23:30 UTC is already Saturday in Oslo.
  CHECK(tariff::import_price_at(t, at("2026-01-16T23:30:00Z"), "Europe/Oslo") == 15);
  CHECK(tariff::import_price_at(t, at("2026-01-16T23:30:00Z"), "UTC") == 22);
  // Sunday 23:00 UTC is Monday 00:00 in Oslo.
  CHECK(tariff::import_price_at(t, at("2026-01-18T23:00:00Z"), "Europe/Oslo") == 12);
  // Summer (+02:00): Wednesday 2026-07-08 07:00 local is 05:00 UTC.
  CHECK(tariff::import_price_at(t, at("2026-07-08T04:59:00Z"), "Europe/Oslo") == 12);
  CHECK(tariff::import_price_at(t, at("2026-07-08T05:00:00Z"), "Europe/Oslo") == 31);
}

TEST_CASE("tariff: prices across Oslo's clock changes", "[tariff]") {
  // A Sunday band boundary at 02:00-03:00, the hour that is skipped in March and repeated in
  // October.
  json document = weekly();
  document["import"][3]["days"] = {"sat"};
  document["import"].push_back(
      {{"days", {"sun"}}, {"from", "00:00"}, {"to", "02:00"}, {"price_minor_per_kwh", 5}});
  document["import"].push_back(
      {{"days", {"sun"}}, {"from", "02:00"}, {"to", "03:00"}, {"price_minor_per_kwh", 7}});
  document["import"].push_back(
      {{"days", {"sun"}}, {"from", "03:00"}, {"to", "24:00"}, {"price_minor_per_kwh", 9}});
  const Tariff t = tariff::parse(document);

  // 2026-03-29: 01:59 CET (00:59 UTC) is followed by 03:00 CEST (01:00 UTC); 02:xx never shows.
  CHECK(tariff::import_price_at(t, at("2026-03-29T00:59:00Z"), "Europe/Oslo") == 5);
  CHECK(tariff::import_price_at(t, at("2026-03-29T01:00:00Z"), "Europe/Oslo") == 9);
  CHECK(tariff::import_price_at(t, at("2026-03-29T01:30:00Z"), "Europe/Oslo") == 9);

  // 2026-10-25: 02:00-03:00 happens twice, 00:00-01:00 UTC (CEST) and 01:00-02:00 UTC (CET).
  CHECK(tariff::import_price_at(t, at("2026-10-24T23:59:00Z"), "Europe/Oslo") == 5);  // 01:59
  CHECK(tariff::import_price_at(t, at("2026-10-25T00:00:00Z"), "Europe/Oslo") == 7);
  CHECK(tariff::import_price_at(t, at("2026-10-25T00:59:00Z"), "Europe/Oslo") == 7);
  CHECK(tariff::import_price_at(t, at("2026-10-25T01:00:00Z"), "Europe/Oslo") == 7);
  CHECK(tariff::import_price_at(t, at("2026-10-25T01:59:00Z"), "Europe/Oslo") == 7);
  CHECK(tariff::import_price_at(t, at("2026-10-25T02:00:00Z"), "Europe/Oslo") == 9);  // 03:00
}

TEST_CASE("tariff: an unknown time zone is refused when pricing", "[tariff]") {
  const Tariff t = tariff::parse(weekly());
  CHECK_THROWS_AS(tariff::import_price_at(t, at("2026-01-12T06:00:00Z"), "Europe/Atlantis"),
                  std::invalid_argument);
}

TEST_CASE("tariff: discharge prices by state of charge", "[tariff]") {
  const Tariff t = tariff::parse(weekly());
  CHECK_FALSE(tariff::discharge_price_at(t, 0).has_value());
  CHECK_FALSE(tariff::discharge_price_at(t, 19.9).has_value());
  CHECK(tariff::discharge_price_at(t, 20) == 45);
  CHECK(tariff::discharge_price_at(t, 59.9) == 45);
  CHECK(tariff::discharge_price_at(t, 60) == 30);
  CHECK(tariff::discharge_price_at(t, 100) == 30);
  CHECK_FALSE(tariff::discharge_price_at(t, 100.5).has_value());
}

TEST_CASE("tariff: a gap in the week is refused and named", "[tariff]") {
  json document = weekly();
  document["import"][2]["to"] = "22:00";  // weekdays 22:00-24:00 uncovered
  CHECK(refusal(document) ==
        std::pair<std::string, std::string>{"/import", "mon 22:00-24:00 is not covered"});

  document = weekly();
  document["import"][2]["days"] = {"mon", "wed", "thu", "fri"};
  CHECK(refusal(document) ==
        std::pair<std::string, std::string>{"/import", "tue 17:00-24:00 is not covered"});

  document = weekly();
  document["import"] = json::array();
  CHECK(refusal(document) ==
        std::pair<std::string, std::string>{"/import", "mon 00:00-24:00 is not covered"});
}

TEST_CASE("tariff: an overlap in the week is refused and named", "[tariff]") {
  json document = weekly();
  document["import"][1]["to"] = "18:00";
  CHECK(refusal(document) ==
        std::pair<std::string, std::string>{"/import/2",
                                            "mon 17:00-18:00 is covered by import/1 and import/2"});

  document = weekly();
  document["import"].push_back(
      {{"days", {"sun"}}, {"from", "08:00"}, {"to", "09:00"}, {"price_minor_per_kwh", 1}});
  CHECK(refusal(document) ==
        std::pair<std::string, std::string>{"/import/4",
                                            "sun 08:00-09:00 is covered by import/3 and import/4"});
}

TEST_CASE("tariff: more bands than any real tariff has are refused", "[tariff]") {
  json document = weekly();
  for (int i = 0; i < 1000; ++i) document["import"].push_back(document["import"][3]);
  CHECK(refusal(document) ==
        std::pair<std::string, std::string>{"/import", "a tariff has at most 1000 import bands"});
  document = weekly();
  for (int i = 0; i < 100; ++i)
    document["discharge_price_by_soc"].push_back(
        {{"soc_from", i * 0.1}, {"soc_to", i * 0.1 + 0.1}, {"price_minor_per_kwh", 1}});
  CHECK(refusal(document).first == "/discharge_price_by_soc");
}

TEST_CASE("tariff: malformed members are refused with their JSON pointer", "[tariff]") {
  const auto path_of = [](auto edit) {
    json document = weekly();
    edit(document);
    return refusal(document).first;
  };
  CHECK(refusal(json::array()).first.empty());
  CHECK(refusal(json("EUR")).first.empty());
  CHECK(path_of([](json& d) { d.erase("currency"); }) == "/currency");
  CHECK(path_of([](json& d) { d["currency"] = "eur"; }) == "/currency");
  CHECK(path_of([](json& d) { d["currency"] = "EURO"; }) == "/currency");
  CHECK(path_of([](json& d) { d["currency"] = "ABC"; }) == "/currency");
  CHECK(path_of([](json& d) { d["currency"] = "XXX"; }) == "/currency");
  CHECK(path_of([](json& d) { d["currency"] = 978; }) == "/currency");
  CHECK(path_of([](json& d) { d.erase("import"); }) == "/import");
  CHECK(path_of([](json& d) { d["import"] = json::object(); }) == "/import");
  CHECK(path_of([](json& d) { d["import"][1] = "07:00-17:00"; }) == "/import/1");
  CHECK(path_of([](json& d) { d["import"][1]["days"] = json::array(); }) == "/import/1/days");
  CHECK(path_of([](json& d) { d["import"][1]["days"] = "mon"; }) == "/import/1/days");
  CHECK(path_of([](json& d) { d["import"][1]["days"][2] = "Wednesday"; }) == "/import/1/days/2");
  CHECK(path_of([](json& d) { d["import"][1]["days"][2] = 3; }) == "/import/1/days/2");
  CHECK(path_of([](json& d) { d["import"][1]["days"][2] = "tue"; }) == "/import/1/days/2");
  CHECK(path_of([](json& d) { d["import"][1].erase("from"); }) == "/import/1/from");
  CHECK(path_of([](json& d) { d["import"][1]["from"] = "7:00"; }) == "/import/1/from");
  CHECK(path_of([](json& d) { d["import"][1]["from"] = "07:60"; }) == "/import/1/from");
  CHECK(path_of([](json& d) { d["import"][1]["from"] = "25:00"; }) == "/import/1/from");
  CHECK(path_of([](json& d) { d["import"][1]["from"] = 700; }) == "/import/1/from");
  CHECK(path_of([](json& d) { d["import"][3]["from"] = "24:00"; }) == "/import/3/from");
  CHECK(path_of([](json& d) { d["import"][1]["to"] = "24:01"; }) == "/import/1/to");
  CHECK(path_of([](json& d) { d["import"][1]["to"] = "07:00"; }) == "/import/1/to");
  CHECK(path_of([](json& d) { d["import"][1]["to"] = "06:00"; }) == "/import/1/to");
  CHECK(path_of([](json& d) { d["import"][1]["price_minor_per_kwh"] = -1; }) ==
        "/import/1/price_minor_per_kwh");
  CHECK(path_of([](json& d) { d["import"][1]["price_minor_per_kwh"] = 31.5; }) ==
        "/import/1/price_minor_per_kwh");
  CHECK(path_of([](json& d) { d["import"][1]["price_minor_per_kwh"] = "31"; }) ==
        "/import/1/price_minor_per_kwh");
  CHECK(path_of([](json& d) { d["import"][1].erase("price_minor_per_kwh"); }) ==
        "/import/1/price_minor_per_kwh");
  CHECK(path_of([](json& d) { d["import"][1]["price_minor_per_kwh"] = 18446744073709551615u; }) ==
        "/import/1/price_minor_per_kwh");
  CHECK(path_of([](json& d) { d["import"][1]["price"] = 31; }) == "/import/1/price");
  CHECK(path_of([](json& d) { d["export_credit_minor_per_kwh"] = -8; }) ==
        "/export_credit_minor_per_kwh");
  CHECK(path_of([](json& d) { d["export_credit"] = 8; }) == "/export_credit");
  CHECK(path_of([](json& d) { d["discharge_price_by_soc"] = 45; }) == "/discharge_price_by_soc");
  CHECK(path_of([](json& d) { d["discharge_price_by_soc"][0]["soc_to"] = 101; }) ==
        "/discharge_price_by_soc/0/soc_to");
  CHECK(path_of([](json& d) { d["discharge_price_by_soc"][1]["soc_from"] = -5; }) ==
        "/discharge_price_by_soc/1/soc_from");
  CHECK(path_of([](json& d) { d["discharge_price_by_soc"][1]["soc_from"] = "20"; }) ==
        "/discharge_price_by_soc/1/soc_from");
  CHECK(path_of([](json& d) { d["discharge_price_by_soc"][1]["soc_to"] = 20; }) ==
        "/discharge_price_by_soc/1/soc_to");
  CHECK(path_of([](json& d) { d["discharge_price_by_soc"][1]["price_minor_per_kwh"] = -45; }) ==
        "/discharge_price_by_soc/1/price_minor_per_kwh");
}

TEST_CASE("tariff: overlapping discharge bands are refused and named", "[tariff]") {
  json document = weekly();
  document["discharge_price_by_soc"][1]["soc_to"] = 70;
  CHECK(refusal(document) == std::pair<std::string, std::string>{
                                 "/discharge_price_by_soc/1",
                                 "state of charge 60-70 % is covered by discharge_price_by_soc/0 "
                                 "and discharge_price_by_soc/1"});
  // Touching bands are not an overlap, and gaps between them are allowed.
  document["discharge_price_by_soc"][1]["soc_to"] = 50;
  CHECK_NOTHROW(tariff::parse(document));
}
