#pragma once
// What happens in the CSMS, as events for live subscribers (the API's
// Server-Sent Events stream): stations going online and offline, connector
// status, sessions starting, updating and ending, command results, associations.
//
// Publishing never blocks on a subscriber: each subscriber has a bounded queue,
// and one that falls too far behind is dropped (its stream ends with a notice
// and it can resume with Last-Event-ID). The latest events are kept so that a
// subscriber can resume after a reconnect.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <vector>

namespace chargegrid::server {

// Every event type the bus carries (the OpenAPI document's Event.type lists the same).
inline constexpr std::string_view kEventTypes[] = {
    "station.online",  "station.offline",     "connector.status",
    "session.started", "session.updated",     "session.ended",
    "command.result",  "association.created", "association.ended"};

struct Event {
  std::uint64_t id = 0;  // assigned by the bus, increasing
  std::string type;      // e.g. "station.online", "session.started"
  std::string station_id;
  std::optional<std::int64_t> site_id;    // filled from the station when known
  std::optional<std::int64_t> driver_id;  // for events a driver may see
  nlohmann::json data = nlohmann::json::object();
  std::string time;  // RFC 3339
};

class EventBus {
 public:
  // `notify` runs on the publishing thread whenever the subscriber's queue gains
  // an event; it must only wake the subscriber up.
  class Subscription {
   public:
    // Takes what has queued up; `overflowed` is set if events were lost.
    std::vector<Event> take(bool& overflowed);

   private:
    friend class EventBus;
    std::mutex mutex_;
    std::deque<Event> queue_;
    bool overflowed_ = false;
    std::function<void()> notify_;
  };

  explicit EventBus(std::size_t history = 1000, std::size_t queue_limit = 10000)
      : history_limit_(history), queue_limit_(queue_limit) {}

  // Delivers a wire event to the live subscribers (and, when set, hands it to `forward`).
  void publish(Event event);
  // An event another node published: delivered here, not forwarded again.
  void publish_remote(Event event);

  // Typed events (events/domain_events.hpp): the type's in-process listeners first, then its
  // wire form, if it has one, to the live subscribers.
  template <class T>
  void publish(const T& event) {
    if (auto it = listeners_.find(std::type_index(typeid(T))); it != listeners_.end())
      for (const auto& listener : it->second) listener(&event);
    if constexpr (requires { to_wire(event); }) publish(to_wire(event));
  }
  // Registers an in-process listener of one event type. Listeners run on the publishing
  // thread and must only hand work on. Register them all before the server starts: the
  // list is read without a lock.
  template <class T>
  void listen(std::function<void(const T&)> listener) {
    listeners_[std::type_index(typeid(T))].push_back(
        [listener = std::move(listener)](const void* e) { listener(*static_cast<const T*>(e)); });
  }

  template <class T>
  bool has_listeners() const {
    return listeners_.contains(std::type_index(typeid(T)));
  }

  // Cluster mode: handed every event published on this node, once delivered here (set
  // before start).
  std::function<void(Event&&)> forward;

  // Events after `last_seen_id` still in the history are queued at once.
  std::shared_ptr<Subscription> subscribe(std::function<void()> notify,
                                          std::optional<std::uint64_t> last_seen_id);
  void unsubscribe(const std::shared_ptr<Subscription>& subscription);
  // Live subscribers now.
  std::size_t subscribers() const;

  // The site of each station, so events can be filtered by a caller's sites.
  void set_station_site(const std::string& station_id, std::optional<std::int64_t> site_id);
  std::optional<std::int64_t> station_site(const std::string& station_id) const;

 private:
  void deliver(const std::shared_ptr<Subscription>& subscription, const Event& event);
  void deliver_all(Event& event);

  std::unordered_map<std::type_index, std::vector<std::function<void(const void*)>>> listeners_;

  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::deque<Event> history_;
  std::size_t history_limit_;
  std::size_t queue_limit_;
  std::vector<std::shared_ptr<Subscription>> subscriptions_;
  std::unordered_map<std::string, std::optional<std::int64_t>> station_sites_;
};

}  // namespace chargegrid::server
