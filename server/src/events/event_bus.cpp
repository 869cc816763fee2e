#include "events/event_bus.hpp"

#include <algorithm>

#include "ocpp/common.hpp"

namespace chargegrid::server {

std::vector<Event> EventBus::Subscription::take(bool& overflowed) {
  std::lock_guard lock(mutex_);
  std::vector<Event> events(std::make_move_iterator(queue_.begin()),
                            std::make_move_iterator(queue_.end()));
  queue_.clear();
  overflowed = overflowed_;
  return events;
}

void EventBus::deliver(const std::shared_ptr<Subscription>& subscription, const Event& event) {
  {
    std::lock_guard lock(subscription->mutex_);
    if (subscription->overflowed_) return;
    if (subscription->queue_.size() >= queue_limit_) {
      subscription->overflowed_ = true;
    } else {
      subscription->queue_.push_back(event);
    }
  }
  subscription->notify_();
}

void EventBus::publish(Event event) {
  deliver_all(event);
  if (forward) forward(std::move(event));
}

void EventBus::publish_remote(Event event) {
  deliver_all(event);
}

void EventBus::deliver_all(Event& event) {
  std::vector<std::shared_ptr<Subscription>> targets;
  {
    std::lock_guard lock(mutex_);
    event.id = next_id_++;
    if (event.time.empty()) event.time = ocpp::now_rfc3339();
    if (!event.site_id && !event.station_id.empty()) {
      auto it = station_sites_.find(event.station_id);
      if (it != station_sites_.end()) event.site_id = it->second;
    }
    history_.push_back(event);
    if (history_.size() > history_limit_) history_.pop_front();
    targets = subscriptions_;
  }
  for (const auto& subscription : targets) deliver(subscription, event);
}

std::shared_ptr<EventBus::Subscription> EventBus::subscribe(
    std::function<void()> notify, std::optional<std::uint64_t> last_seen_id) {
  auto subscription = std::make_shared<Subscription>();
  subscription->notify_ = std::move(notify);
  std::lock_guard lock(mutex_);
  if (last_seen_id) {
    std::lock_guard queue_lock(subscription->mutex_);
    for (const auto& event : history_)
      if (event.id > *last_seen_id) subscription->queue_.push_back(event);
  }
  subscriptions_.push_back(subscription);
  return subscription;
}

void EventBus::unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  std::lock_guard lock(mutex_);
  std::erase(subscriptions_, subscription);
}

std::size_t EventBus::subscribers() const {
  std::lock_guard lock(mutex_);
  return subscriptions_.size();
}

void EventBus::set_station_site(const std::string& station_id,
                                std::optional<std::int64_t> site_id) {
  std::lock_guard lock(mutex_);
  station_sites_[station_id] = site_id;
}

std::optional<std::int64_t> EventBus::station_site(const std::string& station_id) const {
  std::lock_guard lock(mutex_);
  auto it = station_sites_.find(station_id);
  return it == station_sites_.end() ? std::nullopt : it->second;
}

}  // namespace chargegrid::server
