// Regulator reports on a real server and PostgreSQL: 1.6 stations end sessions, settlement
// settles them, and the report of the period sums them per station; a closed period's report is
// appended to the verifiable log once, and the API keeps each key to its sites.

#include <catch2/catch.hpp>
#include <fstream>

#include "../api/api_fixture.hpp"
#include "../ledger/run_tool.hpp"
#include "chargegrid/ledger/energy_report.hpp"
#include "chargegrid/ledger/note.hpp"
#include "chargegrid/testing/temp_folder.hpp"
#include "sessions.hpp"

using namespace chargegrid::testing;
using namespace chargegrid::credits_testing;
using chargegrid::ledger::testing::run_verify;
using chargegrid::ledger::testing::write_temp;
using chargegrid::server::api::Role;
using nlohmann::json;

namespace {

bool settled(ServerFixture& fx, int count) {
  return fx.eventually(
      [&] { return fx.query_value("SELECT count(*) FROM settlements") == std::to_string(count); },
      std::chrono::seconds(15));
}

}  // namespace

TEST_CASE("an energy report sums each station's settled sessions and is logged once",
          "[integration][credits]") {
  ApiFixture fx(free_vend_config());
  const auto [north, south] = fx.make_sites("North", "South");
  fx.make_station("CS-N1", north);
  fx.make_station("CS-N2", north);
  fx.make_station("CS-S1", south);
  auto n1 = booted_16(fx, "CS-N1");
  auto n2 = booted_16(fx, "CS-N2");
  auto s1 = booted_16(fx, "CS-S1");
  session_16(*n1, 1000, 4000, "2026-11-03T08:00:00Z", "2026-11-03T09:00:00Z");
  session_16(*n1, 4000, 4500, "2026-11-20T08:00:00Z", "2026-11-20T09:00:00Z", 700);
  session_16(*n2, 0, 1234, "2026-11-10T22:00:00Z", "2026-11-10T23:30:00Z");
  session_16(*s1, 0, 2000, "2026-11-11T08:00:00Z", "2026-11-11T09:00:00Z");
  // Ends in October: another period.
  session_16(*n1, 0, 900, "2026-10-31T23:00:00Z", "2026-10-31T23:59:00Z");
  REQUIRE(settled(fx, 5));

  auto answer = fx.admin().get("/reports/energy?period=2026-11&site_id=" + std::to_string(north));
  INFO(answer.body);
  REQUIRE(answer.status == 200);
  CHECK(answer.data["closed"] == true);
  CHECK(answer.data["site_id"] == north);
  CHECK(answer.data["unsettled_sessions"] == 0);
  REQUIRE(answer.data["log_index"].is_number_integer());
  const auto index = answer.data["log_index"].get<std::int64_t>();
  CHECK(index == 5);  // after the five settlements
  const auto& report = answer.data["report"];
  CHECK(report["record_type"] == "energy_report");
  CHECK(report["period"] == "2026-11");
  CHECK(report["period_start"] == "2026-11-01T00:00:00.000Z");
  CHECK(report["period_end"] == "2026-12-01T00:00:00.000Z");
  REQUIRE(report["stations"].size() == 2);
  const auto* first = find_item(report["stations"], "station_id", "CS-N1");
  REQUIRE(first);
  CHECK((*first)["sessions"] == 2);
  CHECK((*first)["sessions_verified"] == 0);
  CHECK((*first)["energy_delivered_wh"] == 3500);
  CHECK((*first)["energy_exported_wh"] == 700);
  CHECK((*first)["verified_share_ppm"] == 0);
  CHECK((*first)["site_id"] == std::to_string(north));
  const auto* second = find_item(report["stations"], "station_id", "CS-N2");
  REQUIRE(second);
  CHECK((*second)["energy_delivered_wh"] == 1234);
  CHECK(report["totals"]["sessions"] == 3);
  CHECK(report["totals"]["energy_delivered_wh"] == 4734);
  CHECK(!find_item(report["stations"], "station_id", "CS-S1"));

  // The log's entry is the report byte for byte, and asking again answers the same entry.
  const auto entry =
      fx.query_value("SELECT record FROM ledger_log_entry WHERE idx = " + std::to_string(index));
  CHECK(json::parse(entry) == report);
  auto again = fx.admin().get("/reports/energy?period=2026-11&site_id=" + std::to_string(north));
  CHECK(again.data["log_index"] == index);
  CHECK(again.data["report"] == report);
  CHECK(fx.query_value("SELECT count(*) FROM ledger_log_entry") == "6");
  CHECK(fx.query_value("SELECT count(*) FROM energy_reports") == "1");
  // The stored report cannot be changed afterwards.
  CHECK_THROWS(fx.query_value("UPDATE energy_reports SET record = '{}'"));

  // CSV: one row per station and the totals, the log index in a header.
  auto csv = fx.admin().get_csv("/reports/energy?period=2026-11&site_id=" + std::to_string(north));
  REQUIRE(csv.status == 200);
  CHECK(csv.content_type.rfind("text/csv", 0) == 0);
  CHECK(csv.body.rfind("period,period_start,period_end,station_id,site_id,sessions,", 0) == 0);
  CHECK(csv.body.find("2026-11,2026-11-01T00:00:00.000Z,2026-12-01T00:00:00.000Z,CS-N1," +
                      std::to_string(north) + ",2,0,3500,700,0,0.000000\r\n") != std::string::npos);
  CHECK(csv.body.find("TOTAL,,3,0,4734,700,0,0.000000\r\n") != std::string::npos);
  CHECK(std::count(csv.body.begin(), csv.body.end(), '\n') == 4);

  // Every site (an admin's report), a separate entry; October has one session.
  auto all = fx.admin().get("/reports/energy?period=2026-11");
  REQUIRE(all.status == 200);
  CHECK(all.data["site_id"].is_null());
  CHECK(all.data["report"]["stations"].size() == 3);
  CHECK(all.data["report"]["totals"]["energy_delivered_wh"] == 6734);
  CHECK(all.data["log_index"] == 6);
  auto october = fx.admin().get("/reports/energy?period=2026-10&site_id=" + std::to_string(north));
  CHECK(october.data["report"]["totals"]["energy_delivered_wh"] == 900);
  auto quarter = fx.admin().get("/reports/energy?period=2026-Q4&site_id=" + std::to_string(north));
  CHECK(quarter.data["closed"] == false);  // the quarter ends on 1 January 2027
  CHECK(quarter.data["log_index"].is_null());
  CHECK(quarter.data["report"]["totals"]["sessions"] == 4);
  CHECK(fx.admin().get("/reports/energy?period=2026-Q4").data["log_index"].is_null());
  CHECK(fx.query_value("SELECT count(*) FROM energy_reports") == "3");
}

TEST_CASE("energy reports: bad periods, foreign sites and keys without a scope are refused",
          "[integration][credits]") {
  ApiFixture fx(free_vend_config());
  const auto [mine, theirs] = fx.make_sites("Mine", "Theirs");
  for (const auto* bad :
       {"2026-13", "2026-00", "26-11", "2026-Q5", "2026-11-01", "1999-12", "2026-1x", "%00"}) {
    auto r = fx.admin().get(std::string("/reports/energy?period=") + bad);
    INFO(bad);
    CHECK(r.status == 400);
  }
  CHECK(fx.admin().get("/reports/energy?period=2026-11&site_id=999999").status == 404);
  CHECK(fx.admin().get("/reports/energy?period=2026-11&site_id=abc").status == 400);

  auto manager = fx.client(fx.make_key(Role::FacilityManager, {mine}));
  auto ok = manager.get("/reports/energy?period=2026-11");  // its only site
  REQUIRE(ok.status == 200);
  CHECK(ok.data["site_id"] == mine);
  CHECK(ok.data["report"]["stations"].empty());
  CHECK(manager.get("/reports/energy?period=2026-11&site_id=" + std::to_string(theirs)).status ==
        404);
  auto both = fx.client(fx.make_key(Role::FacilityManager, {mine, theirs}));
  CHECK(both.get("/reports/energy?period=2026-11").status == 400);
  CHECK(both.get("/reports/energy?period=2026-11&site_id=" + std::to_string(theirs)).status == 200);
  auto utility = fx.client(fx.make_key(Role::Utility, {theirs}));
  CHECK(utility.get("/reports/energy?period=2026-11").data["site_id"] == theirs);
  CHECK(utility.get("/reports/energy?period=2026-11&site_id=" + std::to_string(mine)).status ==
        404);
  const auto driver_id = fx.make_driver("Dee", mine);
  auto driver = fx.client(fx.make_key(Role::Driver, {}, driver_id));
  CHECK(driver.get("/reports/energy?period=2026-11").status == 403);
  // Nothing half-written by the refusals: two closed reports (mine, theirs), two entries.
  CHECK(fx.query_value("SELECT count(*) FROM energy_reports") == "2");
  CHECK(fx.query_value("SELECT count(*) FROM ledger_log_entry") == "2");
}

TEST_CASE("an authority checks a logged energy report offline, and a tampered one is refused",
          "[integration][credits][verify]") {
  TempFolder folder;
  auto config = free_vend_config();
  config.data_dir = folder.path().string();
  config.checkpoint_interval_s = 1;
  ApiFixture fx(config);
  const auto [site] = fx.make_sites("North");
  fx.make_station("CS-R1", site);
  auto station = booted_16(fx, "CS-R1");
  TestMeter meter;
  REQUIRE(fx.admin()
              .send(boost::beast::http::verb::put, "/stations/CS-R1/evses/1/meter-key",
                    json{{"public_key", meter.public_key_hex()}}.dump())
              .status == 200);
  signed_session_16(*station, meter, "2026-11-03T08:00:00", "2026-11-03T09:00:00", 1000, 4000);
  session_16(*station, 4000, 4500, "2026-11-20T08:00:00Z", "2026-11-20T09:00:00Z", 700);
  REQUIRE(settled(fx, 2));

  // What the authority is given: the API's answer for a closed period.
  const auto path = "/reports/energy?period=2026-11&site_id=" + std::to_string(site);
  auto answer = fx.admin().get(path);
  REQUIRE(answer.status == 200);
  REQUIRE(answer.data["log_index"].is_number_integer());
  const auto index = answer.data["log_index"].get<std::uint64_t>();
  CHECK(answer.data["report"]["totals"]["verified_energy_wh"] == 3000);

  // What it fetches from the public log: the verifier key, a checkpoint covering the report and
  // the report's inclusion proof.
  const auto port = fx.server().http_port();
  const auto get = [&](const std::string& target) {
    auto got = http_request(port, boost::beast::http::verb::get, target, "");
    INFO(target << ": " << got.body);
    REQUIRE(got.status == 200);
    return got.body;
  };
  const auto vkey = get("/ledger/verifier-key");
  std::string note;
  REQUIRE(fx.eventually([&] {
    note = get("/ledger/checkpoint");
    const auto size_line = note.substr(note.find('\n') + 1);
    return std::stoull(size_line.substr(0, size_line.find('\n'))) > index;
  }));
  const auto size_line = note.substr(note.find('\n') + 1);
  const auto size = size_line.substr(0, size_line.find('\n'));
  const auto checkpoint = write_temp(folder.path(), "checkpoint", note);
  const auto proof =
      write_temp(folder.path(), "report.proof",
                 get("/ledger/proof/inclusion?index=" + std::to_string(index) + "&size=" + size));
  const auto verify = [&](const std::filesystem::path& report,
                          const std::filesystem::path& proof_file) {
    return run_verify({"report", "--vkey", vkey, "--checkpoint", checkpoint.string(), "--report",
                       report.string(), "--proof", proof_file.string()});
  };

  // The answer as given, and the log's own entry: both verify and show the figures.
  const auto given = write_temp(folder.path(), "answer.json", answer.body);
  auto ok = verify(given, proof);
  INFO(ok.output);
  CHECK(ok.status == 0);
  CHECK(ok.output.find("is entry " + std::to_string(index)) != std::string::npos);
  CHECK(ok.output.find("energy report rpt-2026-11-") != std::string::npos);
  CHECK(ok.output.find("2 sessions, 3500 Wh delivered, 700 Wh exported, 3000 Wh verified") !=
        std::string::npos);
  const auto entry =
      write_temp(folder.path(), "entry.json", get("/ledger/entries/" + std::to_string(index)));
  CHECK(verify(entry, proof).status == 0);

  // Tampered: more energy claimed (the sums kept consistent), so it still reads as a report.
  auto tampered = answer.data;
  for (auto* figures : {&tampered["report"]["stations"][0], &tampered["report"]["totals"]}) {
    (*figures)["energy_delivered_wh"] = 35000;
    (*figures)["verified_share_ppm"] = chargegrid::ledger::share_ppm(3000, 35000);
  }
  auto refused = verify(write_temp(folder.path(), "tampered.json", tampered.dump()), proof);
  INFO(refused.output);
  CHECK(refused.status == 1);
  CHECK(refused.output.find("FAILED: inclusion of the record") != std::string::npos);
  // The right report said to be another entry; another entry given as the report.
  auto moved = answer.data;
  moved["log_index"] = index - 1;
  auto misplaced = verify(write_temp(folder.path(), "moved.json", moved.dump()), proof);
  CHECK(misplaced.status == 1);
  CHECK(misplaced.output.find("the proof is for entry " + std::to_string(index)) !=
        std::string::npos);
  const auto other_proof = write_temp(
      folder.path(), "other.proof",
      get("/ledger/proof/inclusion?index=" + std::to_string(index - 1) + "&size=" + size));
  auto other = verify(
      write_temp(folder.path(), "other.json", get("/ledger/entries/" + std::to_string(index - 1))),
      other_proof);
  CHECK(other.status == 1);
  CHECK(other.output.find("FAILED: the entry is not an energy report") != std::string::npos);
  // A preview of an open period is in no log; a file that is not JSON is malformed.
  auto preview = fx.admin().get("/reports/energy?period=2099-01&site_id=" + std::to_string(site));
  REQUIRE(preview.status == 200);
  auto open = verify(write_temp(folder.path(), "preview.json", preview.body), proof);
  CHECK(open.status == 1);
  CHECK(open.output.find("preview of an open period") != std::string::npos);
  CHECK(verify(write_temp(folder.path(), "broken.json", "{\"report\": "), proof).status == 2);
}
