#include "cluster/event_relay.hpp"

#include <pqxx/pqxx>

#include "chargegrid/db/pool.hpp"
#include "cluster/messages.hpp"
#include "store/cluster_nodes.hpp"

namespace chargegrid::server {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxPending = 10'000;  // beyond this the oldest are dropped
constexpr std::size_t kMaxPayload = 7'900;   // PostgreSQL's NOTIFY limit is 8,000 bytes
constexpr auto kFlushInterval = std::chrono::milliseconds(100);

json wire(const Event& e) {
  json j{{"type", e.type}, {"station_id", e.station_id}, {"data", e.data}, {"time", e.time}};
  if (e.site_id) j["site_id"] = *e.site_id;
  if (e.driver_id) j["driver_id"] = *e.driver_id;
  return j;
}

}  // namespace

EventRelay::EventRelay(boost::asio::io_context& io, db::ConnectionPool& pool, std::string node_id)
    : node_id_(std::move(node_id)),
      job_(io, pool, kFlushInterval, [this](pqxx::connection_base& c) {
        flush(c);
        return false;
      }) {}

void EventRelay::push(const Event& event) {
  if (job_.stopping()) return;
  std::lock_guard lock(mutex_);
  pending_.push_back(wire(event));
  if (pending_.size() > kMaxPending) pending_.pop_front();
}

void EventRelay::flush(pqxx::connection_base& c) {
  std::vector<std::string> payloads;
  {
    std::lock_guard lock(mutex_);
    json batch = json::array();
    std::size_t size = 0;
    auto close_batch = [&] {
      if (batch.empty()) return;
      payloads.push_back(
          json{{"op", "event"}, {"node", node_id_}, {"events", std::move(batch)}}.dump());
      batch = json::array();
      size = 0;
    };
    for (auto& event : pending_) {
      auto text_size = event.dump().size();
      if (text_size > kMaxPayload - 100) continue;  // too large to relay: this node's only
      if (size + text_size > kMaxPayload - 100) close_batch();
      size += text_size + 1;
      batch.push_back(std::move(event));
    }
    close_batch();
    pending_.clear();
  }
  if (payloads.empty()) return;
  pqxx::work tx(c);
  for (const auto& payload : payloads)
    store::cluster_nodes::notify_all(tx, cluster::kEventsChannel, payload);
  tx.commit();
}

std::vector<Event> EventRelay::events_of(const json& message) {
  std::vector<Event> out;
  const auto events = message.find("events");
  if (events == message.end() || !events->is_array()) return out;
  for (const auto& j : *events) {
    if (!j.is_object()) continue;
    Event e;
    e.type = j.value("type", "");
    e.station_id = j.value("station_id", "");
    e.time = j.value("time", "");
    if (auto it = j.find("data"); it != j.end()) e.data = *it;
    if (auto it = j.find("site_id"); it != j.end() && it->is_number_integer())
      e.site_id = it->get<std::int64_t>();
    if (auto it = j.find("driver_id"); it != j.end() && it->is_number_integer())
      e.driver_id = it->get<std::int64_t>();
    if (!e.type.empty()) out.push_back(std::move(e));
  }
  return out;
}

}  // namespace chargegrid::server
