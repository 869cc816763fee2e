// The listening connection: one per node, on its own thread. It carries the heartbeat and
// receives the other nodes' notifications (cluster/messages.hpp).

#include <boost/beast/websocket/rfc6455.hpp>
#include <pqxx/pqxx>

#include "chargegrid/base/text.hpp"
#include "cluster/cluster.hpp"
#include "cluster/messages.hpp"
#include "connections/station_connection.hpp"
#include "connections/station_registry.hpp"
#include "logging.hpp"

namespace chargegrid::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

class Cluster::Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& channel, std::vector<std::string>& inbox)
      : pqxx::notification_receiver(c, channel), inbox_(inbox) {}
  void operator()(const std::string& payload, int) override { inbox_.push_back(payload); }

 private:
  std::vector<std::string>& inbox_;
};

bool Cluster::stopping() {
  std::lock_guard lock(stop_mutex_);
  return stopping_;
}

void Cluster::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(stop_mutex_);
  stop_signal_.wait_for(lock, d, [this] { return stopping_; });
}

void Cluster::run_listener() {
  std::chrono::milliseconds backoff{100};
  bool reconnecting = false;
  while (!stopping()) {
    try {
      pqxx::connection c(url_);
      std::vector<std::string> inbox;
      Receiver receiver(c, cluster::channel(node_id_), inbox);
      std::optional<Receiver> events;
      if (on_event) events.emplace(c, cluster::kEventsChannel, inbox);
      if (reconnecting) {
        ++listener_reconnects_;
        log::info("cluster_listener_reconnected", {{"node", node_id_}});
      }
      heartbeat(c);
      // NOTIFYs sent while the listener was away are lost: look again.
      rescan_commands(c);
      if (reconnecting) reconcile_leases(c, false);
      reconnecting = true;
      backoff = std::chrono::milliseconds(100);
      auto next_heartbeat = Clock::now() + heartbeat_interval_;
      auto next_unleased = Clock::now() + std::chrono::seconds(config_.lease_timeout_s);
      auto next_audit = Clock::now() + 4 * std::chrono::seconds(config_.lease_timeout_s);
      while (!stopping()) {
        c.await_notification(0, 200'000);
        if (!c.is_open()) throw pqxx::broken_connection("the listening connection closed");
        auto messages = std::move(inbox);
        inbox.clear();
        for (const auto& message : messages) handle(message);
        const auto now = Clock::now();
        if (now >= next_heartbeat) {
          heartbeat(c);
          expire_dead_nodes(c);
          next_heartbeat = now + heartbeat_interval_;
        }
        if (now >= next_unleased) {
          reconcile_leases(c, true);
          next_unleased = now + std::chrono::seconds(config_.lease_timeout_s);
        }
        if (now >= next_audit) {
          release_orphaned_leases(c);
          next_audit = now + 4 * std::chrono::seconds(config_.lease_timeout_s);
        }
      }
    } catch (const std::exception& e) {
      ++heartbeats_failed_;
      healthy_since_.reset();
      log::warn("cluster_listener_failed",
                {{"node", node_id_}, {"error", base::first_line(e.what())}});
      sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
}

void Cluster::handle(const std::string& payload) {
  ++notifications_;
  auto ignore = [&](const char* reason) {
    ++notifications_ignored_;
    log::warn("cluster_notification_ignored",
              {{"node", node_id_}, {"reason", reason}, {"payload", payload.substr(0, 200)}});
  };
  const auto message = json::parse(payload, nullptr, false);
  if (!message.is_object() || !message.contains("op") || !message["op"].is_string())
    return ignore("not a JSON object with an op");
  const auto op = message["op"].get<std::string>();
  auto integer = [&](const char* key) -> std::optional<std::int64_t> {
    auto it = message.find(key);
    if (it == message.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
  };
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = message.find(key);
    if (it == message.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  try {
    if (op == "command") {
      const auto id = integer("id");
      if (!id) return ignore("command without an integer id");
      if (on_routed_command) on_routed_command(*id);
    } else if (op == "result") {
      const auto id = integer("id");
      if (!id) return ignore("result without an integer id");
      wake_waiter(*id);
    } else if (op == "release") {
      const auto station = text("station");
      const auto epoch = integer("epoch");
      if (!station || !epoch) return ignore("release without station and epoch");
      if (auto connection = stations_.release_lease(*station, *epoch)) {
        ++leases_lost_;
        log::info("station_lease_moved", {{"station", *station}, {"epoch", *epoch}});
        connection->close(boost::beast::websocket::close_code::policy_error,
                          "connected to another node");
      }
    } else if (op == "close") {
      const auto station = text("station");
      if (!station) return ignore("close without a station");
      if (auto connection = stations_.find(*station))
        connection->close(boost::beast::websocket::close_code::policy_error,
                          text("reason").value_or("closed by the CSMS"));
    } else if (op == "registration") {
      const auto station = text("station");
      const auto registration = text("registration");
      if (!station || !registration) return ignore("registration without station and value");
      if (on_registration && stations_.find(*station)) on_registration(*station, *registration);
    } else if (op == "event") {
      // Another node's domain event, for this node's live subscribers.
      if (text("node") == node_id_) return;  // this node's own, published already
      if (on_event) on_event(message);
    } else {
      return ignore("unknown op");
    }
  } catch (const std::exception& e) {
    ++notifications_ignored_;
    log::warn("cluster_notification_failed",
              {{"node", node_id_}, {"op", op}, {"error", base::first_line(e.what())}});
  }
}

}  // namespace chargegrid::server
