#include "cluster_harness.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <pqxx/pqxx>
#include <thread>

#include "api/auth.hpp"

namespace chargegrid::testing {

namespace fs = std::filesystem;

ClusterHarness::ClusterHarness(std::string database_url, const std::string& name, int nodes,
                               std::vector<std::string> extra,
                               std::optional<std::uint16_t> shared_ocpp_port)
    : url_(std::move(database_url)),
      dir_(fs::temp_directory_path() / ("cg-cluster-" + name + "-" + std::to_string(::getpid()))),
      extra_(std::move(extra)),
      shared_port_(shared_ocpp_port) {
  fs::remove_all(dir_);
  {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    admin_key_ =
        server::api::create_api_key(tx, "cluster tests", server::api::Role::Admin, {}, std::nullopt)
            .secret;
    tx.commit();
  }
  for (int i = 1; i <= nodes; ++i) {
    generation_.push_back(1);
    nodes_.push_back(
        std::make_unique<Daemon>(CHARGEGRIDD, url_, dir_, node_id(i) + "-1", flags(i)));
  }
}

ClusterHarness::~ClusterHarness() {
  nodes_.clear();
  // CHARGEGRID_TEST_KEEP=1 keeps the nodes' logs for a look after the test.
  if (const char* keep = std::getenv("CHARGEGRID_TEST_KEEP"); keep && *keep == '1') return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::vector<std::string> ClusterHarness::flags(int i) const {
  auto args = daemon_test_flags();
  const std::string ocpp_port = shared_port_ ? std::to_string(*shared_port_) : "0";
  args.insert(args.end(),
              {"--node-id", node_id(i), "--lease-timeout", std::to_string(kLeaseTimeoutS),
               "--ocpp-port", ocpp_port, "--http-port", "0"});
  // A flag in `extra` replaces the default one (options may be given once); a switch comes
  // with an empty value.
  for (std::size_t e = 0; e + 1 < extra_.size(); e += 2) {
    auto it = std::find(args.begin(), args.end(), extra_[e]);
    if (extra_[e + 1].empty())
      args.push_back(extra_[e]);
    else if (it != args.end() && it + 1 != args.end())
      *(it + 1) = extra_[e + 1];
    else
      args.insert(args.end(), {extra_[e], extra_[e + 1]});
  }
  return args;
}

void ClusterHarness::restart(int i) {
  auto& slot = nodes_.at(i - 1);
  slot.reset();
  const int generation = ++generation_.at(i - 1);
  slot = std::make_unique<Daemon>(CHARGEGRIDD, url_, dir_,
                                  node_id(i) + "-" + std::to_string(generation), flags(i));
}

std::vector<std::uint16_t> ClusterHarness::ocpp_ports() const {
  std::vector<std::uint16_t> ports;
  for (const auto& node : nodes_)
    if (node && node->running()) ports.push_back(node->ocpp_port());
  return ports;
}

double ClusterHarness::metric(int i, const std::string& series) {
  return metric_value(node(i).http_port(), series);
}

std::map<std::string, std::int64_t> ClusterHarness::connections(int i) {
  auto r = api(i).get("/cluster/connections");
  REQUIRE(r.status == 200);
  std::map<std::string, std::int64_t> out;
  for (const auto& item : r.data.at("items"))
    out[item.at("station_id").get<std::string>()] = item.at("lease_epoch").get<std::int64_t>();
  return out;
}

std::map<std::string, Lease> ClusterHarness::leases(const std::string& id_prefix) const {
  pqxx::connection c(url_);
  pqxx::nontransaction tx(c);
  auto rows = tx.exec_params(
      "SELECT id, held_by, lease_epoch, connected_since IS NOT NULL FROM stations "
      "WHERE starts_with(id, $1)",
      id_prefix);
  std::map<std::string, Lease> out;
  for (const auto& row : rows) {
    Lease lease;
    if (!row[1].is_null()) lease.held_by = row[1].as<std::string>();
    lease.epoch = row[2].as<std::int64_t>();
    lease.online = row[3].as<bool>();
    out[row[0].as<std::string>()] = lease;
  }
  return out;
}

Lease ClusterHarness::lease(const std::string& station_id) const {
  auto all = leases(station_id);
  auto it = all.find(station_id);
  return it == all.end() ? Lease{} : it->second;
}

std::size_t ClusterHarness::held(const std::string& id_prefix) const {
  std::size_t n = 0;
  for (const auto& [id, lease] : leases(id_prefix)) n += lease.held_by.has_value();
  return n;
}

std::string ClusterHarness::logs() const {
  std::string out;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i])
      out += "--- " + node_id(static_cast<int>(i) + 1) + "\n" + nodes_[i]->log_text(2000);
  return out;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::unique_ptr<sim::OcppTestClient> boot_station(std::uint16_t port, const std::string& id) {
  auto client = std::make_unique<sim::OcppTestClient>();
  client->connect("127.0.0.1", port, "/ocpp/" + id, {"ocpp1.6"});
  auto boot =
      client->call("BootNotification", {{"chargePointVendor", "V"}, {"chargePointModel", "M"}});
  REQUIRE(boot[0] == 3);
  REQUIRE(boot[2]["status"] == "Accepted");
  return client;
}

std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

}  // namespace chargegrid::testing
