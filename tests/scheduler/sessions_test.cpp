#include "chargegrid/scheduler/sessions.hpp"

#include <catch2/catch.hpp>
#include <sstream>

using namespace chargegrid::scheduler;
using namespace std::chrono;

TEST_CASE("ISO 8601 times need an offset and are converted to UTC", "[scheduler][sessions]") {
  Time t;
  minutes offset;
  REQUIRE(parse_iso8601("2024-03-01T18:05:00+01:00", t, offset));
  CHECK(offset == minutes{60});
  CHECK(t == sys_days{2024y / 3 / 1} + 17h + 5min);
  CHECK(format_iso8601(t, offset) == "2024-03-01T18:05:00+01:00");
  REQUIRE(parse_iso8601("2024-03-01T18:05Z", t, offset));
  CHECK(t == sys_days{2024y / 3 / 1} + 18h + 5min);
  REQUIRE(parse_iso8601("2024-03-01T18:05:00.250-0530", t, offset));
  CHECK(offset == minutes{-330});
  for (const char* bad : {"2024-03-01T18:05:00", "2024-02-30T10:00:00Z", "2024-03-01 25:00Z", "",
                          "yesterday", "2024-03-01T18:05:00+01:00junk", "2024-3-1T1:00Z"})
    CHECK_FALSE(parse_iso8601(bad, t, offset));
}

TEST_CASE("generic CSV keeps good rows and names each rejected one", "[scheduler][sessions]") {
  std::istringstream in(
      "user_id,site_id,plugin_time,plugout_time,energy_kwh\n"
      "u1,s1,2024-03-01T18:00:00+01:00,2024-03-02T07:30:00+01:00,12.5\n"
      "u1,s1,2024-03-02T18:00:00+01:00,2024-03-02T17:00:00+01:00,3\n"
      "u2,s1,not-a-time,2024-03-02T07:30:00+01:00,1\n"
      "u2,s1,2024-03-01T18:00:00Z,2024-03-01T19:00:00Z,-4\n"
      "u2,s1,2024-03-01T18:00:00Z,2024-03-01T19:00:00Z\n"
      ",s1,2024-03-01T18:00:00Z,2024-03-01T19:00:00Z,1\n"
      "u3,s2,2024-03-01T18:00:00Z,2024-03-01T19:00:00Z,7\r\n");
  auto file = read_generic_csv(in);
  REQUIRE(file.sessions.size() == 2);
  CHECK(file.sessions[0].energy_wh == 12500);
  CHECK(file.sessions[0].utc_offset == minutes{60});
  CHECK(file.sessions[0].plugout - file.sessions[0].plugin == 13h + 30min);
  CHECK(file.sessions[1].user_id == "u3");
  REQUIRE(file.rejected.size() == 5);
  CHECK(file.rejected[0].rfind("line 3:", 0) == 0);

  std::istringstream wrong_header("a,b,c\n1,2,3\n");
  auto bad = read_generic_csv(wrong_header);
  CHECK(bad.sessions.empty());
  CHECK(bad.rejected.size() == 1);
  std::istringstream empty("");
  CHECK(read_generic_csv(empty).rejected.size() == 1);
}

TEST_CASE("Norway local times follow the EU summer-time rule", "[scheduler][sessions]") {
  std::istringstream in(
      "\"location\";\"user_id\";\"session_id\";\"plugin_time\";\"plugout_time\";"
      "\"connection_time\";\"energy_session\"\n"
      "\"ASK\";\"ASK_P1\";\"ASK_1\";2019-07-01 18:00:00;2019-07-02 07:00:00;13;19,96\n"
      "\"ASK\";\"ASK_P1\";\"ASK_2\";2019-01-10 18:00:00;2019-01-11 07:00:00;13;5\n"
      // Across the autumn change: 13 wall-clock hours are 14 real hours.
      "\"ASK\";\"ASK_P1\";\"ASK_3\";2019-10-26 18:00:00;2019-10-27 07:00:00;13;5\n"
      "\"ASK\";\"ASK_P1\";\"ASK_4\";2019-10-26 18:00:00;NA;NA;5\n"
      "\"ASK\";\"ASK_P1\";\"ASK_5\";2019-10-26 18:00:00;2019-10-27 07:00:00;13;lots\n");
  auto file = read_norway_csv(in);
  REQUIRE(file.sessions.size() == 3);
  CHECK(file.sessions[0].plugin == sys_days{2019y / 7 / 1} + 16h);
  CHECK(file.sessions[0].utc_offset == 120min);
  CHECK(file.sessions[0].energy_wh == 19960);
  CHECK(file.sessions[1].plugin == sys_days{2019y / 1 / 10} + 17h);
  CHECK(file.sessions[2].plugout - file.sessions[2].plugin == 14h);
  CHECK(file.rejected.size() == 2);
  // The repeated hour of 27 October 2019 (02:00-03:00 local) reads as summer time.
  CHECK(oslo_offset_for_local(local_days{2019y / 10 / 27} + 2h + 30min) == 120min);
  CHECK(oslo_offset_for_local(local_days{2019y / 10 / 27} + 3h + 30min) == 60min);
  CHECK(oslo_offset_for_local(local_days{2019y / 3 / 31} + 1h + 30min) == 60min);
  CHECK(oslo_offset_for_local(local_days{2019y / 3 / 31} + 3h + 30min) == 120min);
}
