// The demand-response windows repository against a real PostgreSQL: an event's windows are
// replaced as a whole, the sites it touched (before and after) are named, and a site reads
// only the windows that overlap the asked period.

#include "store/demand_response.hpp"

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include "chargegrid/testing/database.hpp"

using chargegrid::testing::TestDatabase;
namespace demand_response = chargegrid::server::store::demand_response;

namespace {

demand_response::Window window(std::int64_t site, const std::string& from, const std::string& to,
                               double limit_w) {
  return {.event_id = "E1",
          .program_id = "P1",
          .site_id = site,
          .starts_at = from,
          .ends_at = to,
          .import_limit_w = limit_w};
}

}  // namespace

TEST_CASE("An event's demand-response windows are replaced as a whole", "[store][integration]") {
  TestDatabase db;
  pqxx::connection c{db.url()};
  std::int64_t site_a = 0, site_b = 0;
  {
    pqxx::work tx(c);
    site_a = tx.exec1("INSERT INTO sites (name) VALUES ('A') RETURNING id")[0].as<std::int64_t>();
    site_b = tx.exec1("INSERT INTO sites (name) VALUES ('B') RETURNING id")[0].as<std::int64_t>();
    const auto touched = demand_response::replace_event(
        tx, "E1",
        {window(site_a, "2026-12-05T16:00:00Z", "2026-12-05T17:00:00Z", 50000),
         window(site_a, "2026-12-05T17:00:00Z", "2026-12-05T18:00:00Z", 40000),
         window(site_b, "2026-12-05T16:00:00Z", "2026-12-05T18:00:00Z", 30000)});
    CHECK(touched == std::vector<std::int64_t>{site_a, site_b});
    tx.commit();
  }
  {
    pqxx::work tx(c);
    auto windows =
        demand_response::for_site(tx, site_a, "2026-12-05T16:30:00Z", "2026-12-05T17:30:00Z");
    REQUIRE(windows.size() == 2);
    CHECK(windows[0].starts_at == "2026-12-05T16:00:00Z");
    CHECK(windows[0].import_limit_w == 50000);
    CHECK_FALSE(windows[0].export_limit_w.has_value());
    CHECK(windows[1].ends_at == "2026-12-05T18:00:00Z");
    // A period that only touches a window's end does not overlap it.
    CHECK(demand_response::for_site(tx, site_a, "2026-12-05T18:00:00Z", "2026-12-05T19:00:00Z")
              .empty());
  }
  {
    pqxx::work tx(c);
    const auto touched = demand_response::replace_event(
        tx, "E1", {window(site_b, "2026-12-05T16:00:00Z", "2026-12-05T17:00:00Z", 20000)});
    CHECK(touched == std::vector<std::int64_t>{site_a, site_b});  // A lost its windows
    CHECK(demand_response::for_site(tx, site_a, "2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z")
              .empty());
    CHECK(demand_response::replace_event(tx, "E1", {}) == std::vector<std::int64_t>{site_b});
    tx.commit();
  }
}
