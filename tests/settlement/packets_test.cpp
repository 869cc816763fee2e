// Packets: interval boundaries aligned in the site's time zone, linear interpolation over gaps
// (flagged), and registers that go backwards (an error, never a negative packet).

#include "settlement/packets.hpp"

#include <catch2/catch.hpp>

#include "chargegrid/base/time.hpp"

using namespace chargegrid::server::settlement;
using namespace std::chrono_literals;
using chargegrid::base::TimePoint;

namespace {

TimePoint at(const std::string& text) {
  return *chargegrid::base::parse_rfc3339(text);
}

std::int64_t total(const Packets& p) {
  std::int64_t sum = 0;
  for (const auto& i : p.intervals) sum += i.imported_wh;
  return sum;
}

}  // namespace

TEST_CASE("boundaries are aligned to the hour in the site's time zone", "[settlement]") {
  auto utc = boundaries(at("2026-03-01T08:07:00Z"), at("2026-03-01T08:40:00Z"), 15min, 0min);
  REQUIRE(utc.size() == 4);
  CHECK(utc[1] == at("2026-03-01T08:15:00Z"));
  CHECK(utc[2] == at("2026-03-01T08:30:00Z"));
  CHECK(utc[3] == at("2026-03-01T08:40:00Z"));
  // India (+05:30): local quarter hours fall on UTC :00/:15/:30/:45 too; Nepal (+05:45) as well;
  // half-hours at +05:45 fall on UTC :15 and :45.
  auto nepal = boundaries(at("2026-03-01T08:00:00Z"), at("2026-03-01T09:00:00Z"), 30min, 345min);
  REQUIRE(nepal.size() == 4);
  CHECK(nepal[1] == at("2026-03-01T08:15:00Z"));
  CHECK(nepal[2] == at("2026-03-01T08:45:00Z"));
  // A session exactly on the boundaries has no zero-length packets.
  auto exact = boundaries(at("2026-03-01T08:00:00Z"), at("2026-03-01T08:30:00Z"), 15min, 0min);
  CHECK(exact.size() == 3);
}

TEST_CASE("packets sum to the register span and flag the intervals without readings",
          "[settlement]") {
  PacketInput in;
  in.start = at("2026-03-01T08:00:00Z");
  in.end = at("2026-03-01T09:00:00Z");
  // Readings at 08:00, 08:10 and 09:00: 08:15-08:45 has none (a gap), interpolated.
  in.import = {{at("2026-03-01T08:00:00Z"), 1000},
               {at("2026-03-01T08:10:00Z"), 2000},
               {at("2026-03-01T09:00:00Z"), 7000}};
  auto p = make_packets(in);
  REQUIRE(p.intervals.size() == 4);
  CHECK(p.errors.empty());
  CHECK(total(p) == 6000);
  CHECK(p.import_start_wh == 1000);
  CHECK(p.import_stop_wh == 7000);
  CHECK(p.intervals[0].imported_wh == 1000 + 500);  // 08:10-08:15 is a tenth of the gap
  CHECK_FALSE(p.intervals[0].estimated);
  CHECK(p.intervals[1].imported_wh == 1500);
  CHECK(p.intervals[1].estimated);
  CHECK(p.intervals[2].estimated);
  CHECK_FALSE(p.intervals[3].estimated);  // 09:00 is its end
}

TEST_CASE("a register that goes backwards is an error and never a negative packet",
          "[settlement]") {
  PacketInput in;
  in.start = at("2026-03-01T08:00:00Z");
  in.end = at("2026-03-01T08:45:00Z");
  in.import = {{at("2026-03-01T08:00:00Z"), 5000},
               {at("2026-03-01T08:15:00Z"), 6000},
               {at("2026-03-01T08:30:00Z"), 4000},  // a meter swap, or a glitch
               {at("2026-03-01T08:45:00Z"), 6500}};
  auto p = make_packets(in);
  REQUIRE(p.errors.size() == 1);
  CHECK(p.errors[0].find("import register went backwards") != std::string::npos);
  CHECK(p.errors[0].find("4000 Wh after 6000 Wh") != std::string::npos);
  for (const auto& i : p.intervals) CHECK(i.imported_wh >= 0);
  CHECK(total(p) == 1500);

  // The stop register below the start: an error, every packet zero.
  PacketInput stopped = in;
  stopped.import.clear();
  stopped.import_start_wh = 9000;
  stopped.import_stop_wh = 8000;
  auto q = make_packets(stopped);
  CHECK(q.errors.size() == 1);
  CHECK(total(q) == 0);
  CHECK(q.import_stop_wh >= q.import_start_wh);
}

TEST_CASE("export registers give V2G packets", "[settlement]") {
  PacketInput in;
  in.start = at("2026-03-01T08:00:00Z");
  in.end = at("2026-03-01T08:30:00Z");
  in.import = {{at("2026-03-01T08:00:00Z"), 100}, {at("2026-03-01T08:30:00Z"), 100}};
  in.export_ = {{at("2026-03-01T08:00:00Z"), 50},
                {at("2026-03-01T08:15:00Z"), 1050},
                {at("2026-03-01T08:30:00Z"), 1550}};
  auto p = make_packets(in);
  REQUIRE(p.intervals.size() == 2);
  CHECK(p.has_export);
  CHECK(p.intervals[0].exported_wh == 1000);
  CHECK(p.intervals[1].exported_wh == 500);
  CHECK(p.intervals[0].imported_wh == 0);
}

TEST_CASE("no register at all is reported", "[settlement]") {
  PacketInput in;
  in.start = at("2026-03-01T08:00:00Z");
  in.end = at("2026-03-01T08:10:00Z");
  auto p = make_packets(in);
  CHECK(p.errors == std::vector<std::string>{"no import register reading for the session"});
  REQUIRE(p.intervals.size() == 1);
  CHECK(p.intervals[0].estimated);
}

TEST_CASE("export pinned to the signed registers wins over the unsigned samples",
          "[settlement][v2g]") {
  PacketInput in;
  in.start = at("2026-03-01T08:00:00Z");
  in.end = at("2026-03-01T08:30:00Z");
  in.import_start_wh = 100;
  in.import_stop_wh = 100;
  // The unsigned samples say 1000 Wh went back; the signed ends say 1200 Wh.
  in.export_ = {{at("2026-03-01T08:00:00Z"), 50}, {at("2026-03-01T08:30:00Z"), 1050}};
  in.export_start_wh = 5000;
  in.export_stop_wh = 6200;
  auto p = make_packets(in);
  REQUIRE(p.intervals.size() == 2);
  CHECK(p.export_start_wh == 5000);
  CHECK(p.export_stop_wh == 6200);
  CHECK(p.intervals[0].exported_wh + p.intervals[1].exported_wh == 1200);

  // Signed ends alone (no unsigned export sample): the register rises evenly between them, and
  // the intervals at the ends are read, not estimated.
  in.export_.clear();
  auto only_signed = make_packets(in);
  CHECK(only_signed.has_export);
  REQUIRE(only_signed.intervals.size() == 2);
  CHECK(only_signed.intervals[0].exported_wh == 600);
  CHECK(only_signed.intervals[1].exported_wh == 600);
  CHECK_FALSE(only_signed.intervals[0].estimated);
  CHECK_FALSE(only_signed.intervals[1].estimated);
  CHECK(only_signed.errors.empty());

  // Ends the wrong way round: an error, and no negative packet.
  in.export_stop_wh = 4000;
  auto backwards = make_packets(in);
  REQUIRE(backwards.errors.size() == 1);
  CHECK(backwards.errors[0].find("export register went backwards") != std::string::npos);
  for (const auto& i : backwards.intervals) CHECK(i.exported_wh >= 0);
}
