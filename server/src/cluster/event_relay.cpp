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

void EventRelay::push(Event&& event) {
  if (job_.stopping()) return;
  std::lock_guard lock(mutex_);
  pending_.push_back(std::move(event));
  if (pending_.size() > kMaxPending) pending_.pop_front();
}

void EventRelay::flush(pqxx::connection_base& c) {
  std::deque<Event> events;
  {
    std::lock_guard lock(mutex_);
    events.swap(pending_);
  }
  if (events.empty()) return;
  pqxx::work tx(c);
  // Decided after the events were published: a stream whose node said so before they were
  // gets them all.
  if (!store::cluster_nodes::events_wanted_elsewhere(tx, node_id_)) {
    unwanted_ += events.size();
    return;
  }
  const std::string head = R"({"op":"event","node":)" + json(node_id_).dump() + R"(,"events":[)";
  std::string payload;
  std::size_t in_payload = 0, sent = 0;
  auto send = [&] {
    if (in_payload == 0) return;
    payload += "]}";
    store::cluster_nodes::notify_all(tx, cluster::kEventsChannel, payload);
    sent += in_payload;
    in_payload = 0;
  };
  for (const auto& e : events) {
    const auto event = wire(e).dump();
    if (head.size() + event.size() + 2 > kMaxPayload) continue;  // too large: this node's only
    if (in_payload > 0 && payload.size() + 1 + event.size() + 2 > kMaxPayload) send();
    if (in_payload == 0)
      payload = head;
    else
      payload += ',';
    payload += event;
    ++in_payload;
  }
  send();
  tx.commit();
  relayed_ += sent;
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
