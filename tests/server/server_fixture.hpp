#pragma once
// A real chargegridd server in the test process, on its own fresh database and
// free ports, and helpers to connect stations to it.

#include <chrono>
#include <future>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "chargegrid/server/server.hpp"
#include "chargegrid/sim/test_client.hpp"
#include "chargegrid/testing/database.hpp"
#include "chargegrid/testing/eventually.hpp"
#include "chargegrid/testing/test_config.hpp"

namespace chargegrid::testing {

class ServerFixture {
 public:
  explicit ServerFixture(server::Config config = test_config())
      : config_(std::move(config)), server_(std::make_unique<server::Server>(config_, db_.url())) {
    server_->start();
  }

  server::Server& server() { return *server_; }
  const TestDatabase& database() const { return db_; }
  pqxx::connection sql() const { return db_.connect(); }

  // A connected station of the given subprotocol ("ocpp1.6", "ocpp2.0.1", "ocpp2.1").
  std::unique_ptr<sim::OcppTestClient> connect(const std::string& station_id,
                                               const std::string& subprotocol) {
    auto client = std::make_unique<sim::OcppTestClient>();
    client->connect("127.0.0.1", server_->ocpp_port(), "/ocpp/" + station_id, {subprotocol});
    return client;
  }

  // One value from the database (first column of the first row), as text.
  std::string query_value(const std::string& sql_text) const {
    auto c = db_.connect();
    return query_value(c, sql_text);
  }
  // The same on a connection the caller keeps (one that polls should not open one each time).
  static std::string query_value(pqxx::connection& connection, const std::string& sql_text) {
    pqxx::read_transaction tx(connection);
    auto rows = tx.exec(sql_text);
    if (rows.empty() || rows[0][0].is_null()) return "";
    return rows[0][0].as<std::string>();
  }

  // Waits until `predicate` holds (for state that settles asynchronously).
  template <class Predicate>
  static bool eventually(Predicate predicate,
                         std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    return testing::eventually(predicate, limit);
  }

 private:
  TestDatabase db_;
  server::Config config_;
  std::unique_ptr<server::Server> server_;
};

// The security events the CSMS stored for a station, oldest first: "type: tech info".
inline std::vector<std::string> csms_events(const ServerFixture& fixture, const std::string& id) {
  auto c = fixture.sql();
  pqxx::read_transaction tx(c);
  std::vector<std::string> out;
  for (const auto& row :
       tx.exec_params("SELECT event_type || ': ' || coalesce(tech_info, '') FROM security_events "
                      "WHERE station_id = $1 AND source = 'csms' ORDER BY id",
                      id))
    out.push_back(row[0].as<std::string>());
  return out;
}

// Frame helpers: [3, id, payload] / [4, id, code, description, details].
inline bool is_result(const nlohmann::json& frame) {
  return frame.at(0) == 3;
}
inline std::string error_code(const nlohmann::json& frame) {
  return frame.at(0) == 4 ? frame.at(2).get<std::string>() : std::string();
}

}  // namespace chargegrid::testing
