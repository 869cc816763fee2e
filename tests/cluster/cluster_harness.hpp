#pragma once
// Several chargegridd processes in cluster mode on one database, for the cluster tests: node
// i is "node-i", on its own free ports (or a shared OCPP port), with a short lease timeout;
// an admin API key; HTTP to any node; what the database says about leases.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/sim/test_client.hpp"
#include "chargegrid/testing/daemon.hpp"
#include "chargegrid/testing/http_client.hpp"

namespace chargegrid::testing {

// A station's lease as stored.
struct Lease {
  std::optional<std::string> held_by;
  std::int64_t epoch = 0;
  bool online = false;  // connected_since set
};

class ClusterHarness {
 public:
  static constexpr int kLeaseTimeoutS = 3;

  // Starts `nodes` nodes on `database_url` with the test flags, --lease-timeout 3 and `extra`
  // (option and value pairs, e.g. --call-timeout 20, replacing a default of the same name;
  // a switch such as --smart-charging with the value "").
  // With `shared_ocpp_port` they all listen on that port.
  ClusterHarness(std::string database_url, const std::string& name, int nodes,
                 std::vector<std::string> extra = {},
                 std::optional<std::uint16_t> shared_ocpp_port = std::nullopt);
  ~ClusterHarness();

  int size() const { return static_cast<int>(nodes_.size()); }
  // Node i (1-based); running() is false after it was killed.
  Daemon& node(int i) { return *nodes_.at(i - 1); }
  static std::string node_id(int i) { return "node-" + std::to_string(i); }
  // Starts node i again (after a kill), under the same id.
  void restart(int i);
  std::vector<std::uint16_t> ocpp_ports() const;  // of the running nodes

  ApiClient api(int i) { return {node(i).http_port(), admin_key_}; }
  const std::string& admin_key() const { return admin_key_; }
  // The node's /metrics value of `series` (exact text before the value), 0 if absent.
  double metric(int i, const std::string& series);
  // Station ids each node says it has connections for, with their lease epochs.
  std::map<std::string, std::int64_t> connections(int i);

  std::map<std::string, Lease> leases(const std::string& id_prefix) const;
  Lease lease(const std::string& station_id) const;
  // Stations of `id_prefix` whose lease names a node.
  std::size_t held(const std::string& id_prefix) const;
  const std::string& database_url() const { return url_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string logs() const;

 private:
  std::vector<std::string> flags(int i) const;

  std::string url_;
  std::filesystem::path dir_;
  std::vector<std::string> extra_;
  std::optional<std::uint16_t> shared_port_;
  std::vector<std::unique_ptr<Daemon>> nodes_;
  std::vector<int> generation_;
  std::string admin_key_;
};

// Polls `done` every 50 ms until it holds or `limit` passes; returns its last answer.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit);

// An OCPP 1.6 station (a bare client that answers nothing by itself) connected to
// 127.0.0.1:port as `id` and booted (Accepted).
std::unique_ptr<sim::OcppTestClient> boot_station(std::uint16_t port, const std::string& id);

// A free TCP port on 127.0.0.1 (bound and released).
std::uint16_t free_port();

}  // namespace chargegrid::testing
