// The repositories of what stations report, against a real PostgreSQL: charging sessions,
// meter values, connector states and station reports. Each write is idempotent, an ended
// session never changes, and one station never writes into another's session.

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "chargegrid/testing/database.hpp"
#include "store/connectors.hpp"
#include "store/meter_values.hpp"
#include "store/sessions.hpp"
#include "store/station_reports.hpp"
#include "store/stations.hpp"

using chargegrid::testing::TestDatabase;
namespace store = chargegrid::server::store;
namespace sessions = store::sessions;

namespace {

// A database with stations A and B.
struct Fixture {
  TestDatabase db;
  pqxx::connection c{db.url()};
  Fixture() {
    pqxx::work tx(c);
    tx.exec("INSERT INTO stations (id, registration) VALUES ('A', 'accepted'), ('B', 'accepted')");
    tx.commit();
  }
  std::string value(const std::string& sql) {
    pqxx::work tx(c);
    auto field = tx.exec1(sql)[0];
    return field.is_null() ? "NULL" : field.c_str();
  }
  template <class Write>
  auto write(Write fn) {
    pqxx::work tx(c);
    auto result = fn(tx);
    tx.commit();
    return result;
  }
};

sessions::IssuedStart start(const std::string& station, std::int64_t meter_start) {
  sessions::IssuedStart s;
  s.station_id = station;
  s.connector_id = 1;
  s.id_tag = "TAG";
  s.timestamp = "2026-12-05T08:00:00Z";
  s.meter_start_wh = meter_start;
  s.start_key = "1|TAG|2026-12-05T08:00:00Z|" + std::to_string(meter_start);
  return s;
}

sessions::StationEvent event(const std::string& type, int seq, const std::string& at) {
  sessions::StationEvent e;
  e.station_id = "A";
  e.protocol = "ocpp2.0.1";
  e.transaction_id = "TX-1";
  e.event_type = type;
  e.trigger_reason = "Authorized";
  e.timestamp = at;
  e.seq_no = seq;
  e.evse_id = 1;
  e.payload = "{}";
  return e;
}

}  // namespace

TEST_CASE("An issued session starts once and ends once", "[store][sessions]") {
  Fixture fx;
  const auto first = fx.write([](auto& tx) { return sessions::start_issued(tx, start("A", 100)); });
  CHECK(first.inserted);
  const auto again = fx.write([](auto& tx) { return sessions::start_issued(tx, start("A", 100)); });
  CHECK_FALSE(again.inserted);
  CHECK(again.id == first.id);

  sessions::IssuedStop stop{"A", first.id, "2026-12-05T09:00:00Z", 900, "Local", {}};
  auto stopped = fx.write([&](auto& tx) { return sessions::stop_issued(tx, stop); });
  CHECK(stopped.found == sessions::StopFound::Ended);
  stopped = fx.write([&](auto& tx) { return sessions::stop_issued(tx, stop); });
  CHECK(stopped.found == sessions::StopFound::AlreadyEnded);
  auto other = stop;
  other.timestamp = "2026-12-05T07:00:00Z";
  other.meter_stop_wh = 50;
  stopped = fx.write([&](auto& tx) { return sessions::stop_issued(tx, other); });
  CHECK(stopped.found == sessions::StopFound::AlreadyEndedOtherwise);
  CHECK(fx.value("SELECT meter_stop_wh FROM transactions") == "900");
  CHECK(fx.value("SELECT ended_at = '2026-12-05T09:00:00Z' FROM transactions") == "t");

  // Station B cannot end A's session.
  auto foreign = stop;
  foreign.station_id = "B";
  CHECK(fx.write([&](auto& tx) { return sessions::stop_issued(tx, foreign); }).found ==
        sessions::StopFound::Unknown);
}

TEST_CASE("2.x events make one session whatever their order", "[store][sessions]") {
  Fixture fx;
  auto updated = event("Updated", 1, "2026-12-05T08:30:00Z");
  updated.span = {2000.0, 2500.0, std::nullopt, std::nullopt};
  auto started = event("Started", 0, "2026-12-05T08:00:00Z");
  started.span = {1000.0, 1000.0, std::nullopt, std::nullopt};
  auto ended = event("Ended", 2, "2026-12-05T09:00:00Z");
  ended.span = {3000.0, 3000.0, std::nullopt, std::nullopt};

  const auto u = fx.write([&](auto& tx) { return sessions::record_event(tx, updated); });
  const auto e = fx.write([&](auto& tx) { return sessions::record_event(tx, ended); });
  CHECK(e.ended);
  CHECK(e.id == u.id);
  // The Started event arrives last (an offline queue): it completes how the session began.
  const auto s = fx.write([&](auto& tx) { return sessions::record_event(tx, started); });
  CHECK_FALSE(s.after_end);
  CHECK_FALSE(s.ended);
  CHECK(fx.value("SELECT count(*) FROM transactions") == "1");
  CHECK(fx.value("SELECT started_at = '2026-12-05T08:00:00Z' FROM transactions") == "t");
  CHECK(fx.value("SELECT import_last_wh - import_first_wh FROM transactions") == "2000");

  // A replay changes nothing; a second Ended is kept as an event but not applied.
  CHECK(fx.write([&](auto& tx) { return sessions::record_event(tx, ended); }).replay);
  auto late_end = event("Ended", 3, "2026-12-05T10:00:00Z");
  const auto after = fx.write([&](auto& tx) { return sessions::record_event(tx, late_end); });
  CHECK(after.after_end);
  CHECK_FALSE(after.ended);
  CHECK(fx.value("SELECT ended_at = '2026-12-05T09:00:00Z' FROM transactions") == "t");
  CHECK(fx.value("SELECT count(*) FROM transaction_events") == "4");
  CHECK_FALSE(fx.write([](auto& tx) { return sessions::active_on_evse(tx, "A", 1); }));
}

TEST_CASE("Meter values are stored once and never widen another station's session",
          "[store][meter_values]") {
  Fixture fx;
  const auto a = fx.write([](auto& tx) { return sessions::start_issued(tx, start("A", 100)); });
  CHECK(fx.write([](auto& tx) { return sessions::active_on_evse(tx, "A", 1); }) == a.id);
  std::vector<store::MeterRow> rows(2);
  for (auto& row : rows) {
    row.station_id = "A";
    row.evse_id = 1;
    row.measurand = "Energy.Active.Import.Register";
    row.unit = "Wh";
    row.transaction_id = a.id;
  }
  rows[0].sampled_at = "2026-12-05T08:15:00Z";
  rows[0].value = 400.0;
  rows[1].sampled_at = "2026-12-05T08:30:00Z";
  rows[1].value = 700.0;
  const auto write = [&](const std::vector<store::MeterRow>& batch) {
    return fx.write(
        [&](auto& tx) { return store::meter_values::append(tx, batch.begin(), batch.end()); });
  };
  CHECK(write(rows).empty());
  CHECK(write(rows).empty());  // a resend: skipped by the primary key
  CHECK(fx.value("SELECT count(*) FROM meter_values") == "2");
  CHECK(fx.value("SELECT import_last_wh FROM transactions") == "700");

  // A batch that holds a stored sample and a new one (a resend after a reconnect, then the
  // next reading): the new one is stored and widens the span, the stored one stays as it is.
  auto mixed = rows;
  mixed[0].value = 1.0;  // differs from what was stored: must not replace it
  mixed[1].sampled_at = "2026-12-05T08:45:00Z";
  mixed[1].value = 900.0;
  CHECK(write(mixed).empty());
  CHECK(fx.value("SELECT count(*) FROM meter_values") == "3");
  CHECK(fx.value("SELECT value FROM meter_values WHERE sampled_at = '2026-12-05T08:15:00Z'") ==
        "400");
  // (the first is the start reading's)
  CHECK(fx.value("SELECT import_first_wh || ' ' || import_last_wh FROM transactions") == "100 900");

  // Station B names A's session: stored as B's own meter data, reported, A unchanged.
  auto foreign = rows;
  for (auto& row : foreign) {
    row.station_id = "B";
    row.value = 99999.0;
  }
  const auto reported = write(foreign);
  REQUIRE(reported.size() == 1);
  CHECK(reported[0].station_id == "B");
  CHECK(reported[0].transaction_id == a.id);
  CHECK(fx.value("SELECT count(*) FROM meter_values WHERE station_id = 'B' AND "
                 "transaction_id IS NULL") == "2");
  CHECK(fx.value("SELECT import_last_wh FROM transactions") == "900");
}

TEST_CASE("A meter writer looks each transaction's station up once, and never a missing one",
          "[store][meter_values]") {
  Fixture fx;
  const auto a = fx.write([](auto& tx) { return sessions::start_issued(tx, start("A", 100)); });
  store::meter_values::TransactionOwners owners;
  int minute = 0;
  const auto batch = [&](const std::string& station, int transaction_id) {
    store::MeterRow row;
    row.station_id = station;
    row.evse_id = 1;
    row.sampled_at = "2026-12-05T08:" + std::to_string(10 + minute++) + ":00Z";
    row.measurand = "Energy.Active.Import.Register";
    row.unit = "Wh";
    row.value = 1000.0 + minute;
    row.transaction_id = transaction_id;
    const std::vector<store::MeterRow> rows{row};
    return fx.write([&](auto& tx) {
      return store::meter_values::append(tx, rows.begin(), rows.end(), &owners);
    });
  };
  CHECK(batch("A", a.id).empty());
  CHECK(owners.size() == 1);
  CHECK(owners.owner(a.id) == std::optional<std::string>("A"));
  // Known now: another station naming it is refused from what the writer knows.
  CHECK(batch("B", a.id).size() == 1);
  // And it is not read again: were the session's station to change (it never does), A would
  // still be taken as its owner.
  fx.write([](auto& tx) { return tx.exec("UPDATE transactions SET station_id = 'B'"); });
  CHECK(batch("A", a.id).empty());
  fx.write([](auto& tx) { return tx.exec("UPDATE transactions SET station_id = 'A'"); });
  CHECK(fx.value("SELECT count(*) FROM meter_values WHERE transaction_id IS NOT NULL") == "2");

  // An id not issued yet is foreign and not remembered: once issued to A, it is A's.
  const int next = a.id + 1;
  CHECK(batch("A", next).size() == 1);
  CHECK_FALSE(owners.owner(next));
  auto second = start("A", 200);
  second.connector_id = 2;
  second.start_key = "2|TAG|2026-12-05T08:00:00Z|200";
  REQUIRE(fx.write([&](auto& tx) { return sessions::start_issued(tx, second); }).id == next);
  CHECK(batch("A", next).empty());
  CHECK(owners.owner(next) == std::optional<std::string>("A"));

  // Bounded: a full map starts afresh.
  store::meter_values::TransactionOwners one(1);
  one.remember(1, "A");
  one.remember(2, "B");
  CHECK(one.size() == 1);
  CHECK_FALSE(one.owner(1));
  CHECK(one.owner(2) == std::optional<std::string>("B"));
}

TEST_CASE("A late connector report goes into the history only", "[store][connectors]") {
  Fixture fx;
  const auto report = [&](const std::string& status, const std::string& at) {
    fx.write([&](auto& tx) {
      store::connectors::record_status(tx, {"A", 1, 1, status, "NoError", {}, {}, at});
      return 0;
    });
  };
  report("Charging", "2026-12-05T09:00:00Z");
  report("Available", "2026-12-05T08:00:00Z");  // sent late after a reconnect
  CHECK(fx.value("SELECT status FROM connector_status") == "Charging");
  CHECK(fx.value("SELECT count(*) FROM status_history") == "2");
}

TEST_CASE("Station reports are kept as sent", "[store][station_reports]") {
  Fixture fx;
  fx.write([](auto& tx) {
    store::station_reports::keep_notification(tx, "A", "FirmwareStatusNotification",
                                              std::string("Installed"), 7, R"({"status":1})");
    store::station_reports::record_security_event(tx, {"A",
                                                       "TamperDetectionActivated",
                                                       std::string("2026-12-05T08:00:00Z"),
                                                       std::string("lid"),
                                                       "station",
                                                       {}});
    store::station_reports::record_security_event(
        tx, {"A", "InvalidCsr", std::nullopt, std::nullopt, "csms", std::string("10.0.0.1")});
    return 0;
  });
  CHECK(fx.value("SELECT request_id FROM station_notifications") == "7");
  CHECK(fx.value("SELECT count(*) FROM security_events WHERE source = 'csms' AND "
                 "occurred_at > now() - interval '1 minute'") == "1");
  CHECK(fx.value("SELECT tech_info FROM security_events WHERE source = 'station'") == "lid");
}

TEST_CASE("The last-seen update leaves a time written within its precision", "[store][stations]") {
  Fixture fx;
  fx.write([](auto& tx) {
    tx.exec("INSERT INTO stations (id, registration) VALUES ('C', 'accepted')");
    tx.exec("UPDATE stations SET last_seen_at = now() - interval '1 second' WHERE id = 'B'");
    tx.exec("UPDATE stations SET last_seen_at = now() - interval '1 hour' WHERE id = 'C'");
    return 0;
  });
  const auto b_before = fx.value("SELECT last_seen_at FROM stations WHERE id = 'B'");
  const auto seen_at = fx.write([](auto& tx) {
    store::stations::record_seen(tx, {"A", "B", "C", "NOBODY"}, 5);
    return tx.exec1("SELECT now()")[0].template as<std::string>();
  });
  // A had none and C an old one: both now; B was heard from a second ago and keeps it.
  CHECK(fx.value("SELECT last_seen_at FROM stations WHERE id = 'A'") == seen_at);
  CHECK(fx.value("SELECT last_seen_at FROM stations WHERE id = 'C'") == seen_at);
  CHECK(fx.value("SELECT last_seen_at FROM stations WHERE id = 'B'") == b_before);
  CHECK(fx.value("SELECT count(*) FROM stations WHERE id = 'NOBODY'") == "0");
}
