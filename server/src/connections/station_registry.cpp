#include "connections/station_registry.hpp"

#include <algorithm>
#include <string_view>

#include "connections/station_connection.hpp"

namespace chargegrid::server {

std::shared_ptr<StationConnection> StationRegistry::attach(
    const std::string& station_id, const std::shared_ptr<StationConnection>& connection) {
  std::lock_guard lock(mutex_);
  auto& slot = connections_[station_id];
  auto previous = slot.connection.lock();
  // The lease stays this node's: a reconnect here keeps the epoch until its own take-over.
  slot.connection = connection;
  ++slot.takeovers_pending;
  slot.attached_at = std::chrono::steady_clock::now();
  return previous;
}

std::optional<std::int64_t> StationRegistry::detach(const std::string& station_id,
                                                    const StationConnection* connection) {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(station_id);
  if (it == connections_.end()) return std::nullopt;
  auto current = it->second.connection.lock();
  if (current && current.get() != connection) return std::nullopt;
  const auto epoch = it->second.lease_epoch;
  connections_.erase(it);
  releases_.erase(station_id);
  return epoch;
}

std::shared_ptr<StationConnection> StationRegistry::find(const std::string& station_id) const {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(station_id);
  return it == connections_.end() ? nullptr : it->second.connection.lock();
}

std::size_t StationRegistry::connected(protocols::OcppVersion version) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [_, entry] : connections_)
    if (auto s = entry.connection.lock(); s && s->version() == version) ++n;
  return n;
}

std::size_t StationRegistry::size() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

std::vector<std::shared_ptr<StationConnection>> StationRegistry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<StationConnection>> out;
  out.reserve(connections_.size());
  for (const auto& [_, entry] : connections_)
    if (auto s = entry.connection.lock()) out.push_back(std::move(s));
  return out;
}

StationRegistry::LeaseRecord StationRegistry::record_lease(const std::string& station_id,
                                                           std::int64_t epoch) {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(station_id);
  if (it == connections_.end() || it->second.connection.expired()) return LeaseRecord::NoConnection;
  auto& entry = it->second;
  entry.lease_epoch = std::max(entry.lease_epoch, epoch);
  if (entry.takeovers_pending > 0) --entry.takeovers_pending;
  if (entry.takeovers_pending > 0) return LeaseRecord::Kept;  // judged by the last one
  if (auto released = releases_.find(station_id); released != releases_.end()) {
    const bool lost = released->second > entry.lease_epoch;
    releases_.erase(released);
    if (lost) {
      connections_.erase(it);
      return LeaseRecord::Lost;
    }
  }
  return LeaseRecord::Kept;
}

void StationRegistry::confirm_lease(const std::string& station_id, std::int64_t epoch) {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(station_id);
  if (it != connections_.end()) it->second.lease_epoch = std::max(it->second.lease_epoch, epoch);
}

std::int64_t StationRegistry::lease_epoch(const std::string& station_id) const {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(station_id);
  return it == connections_.end() ? 0 : it->second.lease_epoch;
}

std::shared_ptr<StationConnection> StationRegistry::release_lease(const std::string& station_id,
                                                                  std::int64_t epoch) {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(station_id);
  if (it == connections_.end()) return nullptr;
  auto& entry = it->second;
  if (entry.lease_epoch >= epoch) return nullptr;  // this node's take-over is the newer one
  if (entry.takeovers_pending > 0) {
    // This node's take-over is not stored yet: it decides once it is.
    auto& noted = releases_[station_id];
    noted = std::max(noted, epoch);
    return nullptr;
  }
  auto connection = entry.connection.lock();
  connections_.erase(it);
  return connection;
}

std::shared_ptr<StationConnection> StationRegistry::drop_lease(const std::string& station_id,
                                                               std::int64_t epoch) {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(station_id);
  if (it == connections_.end() || it->second.lease_epoch > epoch) return nullptr;
  auto connection = it->second.connection.lock();
  connections_.erase(it);
  releases_.erase(station_id);
  return connection;
}

std::vector<StationRegistry::Held> StationRegistry::held() const {
  std::lock_guard lock(mutex_);
  std::vector<Held> out;
  out.reserve(connections_.size());
  for (const auto& [id, entry] : connections_)
    if (!entry.connection.expired())
      out.push_back({id, entry.lease_epoch, entry.takeovers_pending, entry.attached_at});
  return out;
}

void StationRegistry::remember_answer(const std::string& station_id, const std::string& message_id,
                                      const std::string& action, std::size_t frame_hash,
                                      std::string answer) {
  Answer kept;
  kept.text.reserve(message_id.size() + answer.size());
  kept.text.append(message_id).append(answer);
  kept.id_size = static_cast<std::uint32_t>(message_id.size());
  kept.frame_hash = frame_hash;
  kept.answered_at = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  kept.action = &*actions_.insert(action).first;
  auto& answers = answers_[station_id];
  auto& ring = answers.ring;
  if (ring.size() < kAnswersKept) {
    // Most stations keep a few answers: room for four first, then doubling up to the cap.
    if (ring.empty()) ring.reserve(4);
    ring.push_back(std::move(kept));
    return;
  }
  ring[answers.oldest] = std::move(kept);
  answers.oldest = (answers.oldest + 1) % kAnswersKept;
}

std::optional<std::string> StationRegistry::recall_answer(const std::string& station_id,
                                                          const std::string& message_id,
                                                          const std::string& action,
                                                          std::size_t frame_hash) const {
  std::lock_guard lock(mutex_);
  auto it = answers_.find(station_id);
  if (it == answers_.end()) return std::nullopt;
  const auto oldest = std::chrono::steady_clock::now() - kResendWindow;
  const auto& [ring, first] = it->second;
  // Oldest first, as they were kept.
  for (std::size_t i = 0; i < ring.size(); ++i) {
    const auto& a = ring[(first + i) % ring.size()];
    const std::string_view text = a.text;
    if (a.frame_hash == frame_hash && text.substr(0, a.id_size) == message_id &&
        *a.action == action && a.answered_at >= oldest)
      return std::string(text.substr(a.id_size));
  }
  return std::nullopt;
}

std::size_t StationRegistry::forget_expired_answers(std::chrono::steady_clock::time_point now) {
  const auto oldest = now - kResendWindow;
  std::lock_guard lock(mutex_);
  return std::erase_if(answers_, [oldest](const auto& entry) {
    const auto& [ring, first] = entry.second;
    // The newest is the one before the oldest (or the last while the ring still grows).
    return ring.empty() || ring[(first + ring.size() - 1) % ring.size()].answered_at < oldest;
  });
}

void StationRegistry::touch(const std::string& station_id) {
  std::lock_guard lock(mutex_);
  seen_[station_id] = std::chrono::system_clock::now();
}

std::vector<std::pair<std::string, std::chrono::system_clock::time_point>>
StationRegistry::take_seen() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::chrono::system_clock::time_point>> out(seen_.begin(),
                                                                                 seen_.end());
  seen_.clear();
  return out;
}

}  // namespace chargegrid::server
