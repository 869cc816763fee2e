#include "station_registry.hpp"

#include "station_session.hpp"

namespace chargegrid::server {

std::shared_ptr<StationSession> StationRegistry::attach(
    const std::string& station_id, const std::shared_ptr<StationSession>& session) {
  std::lock_guard lock(mutex_);
  auto& slot = sessions_[station_id];
  auto previous = slot.lock();
  slot = session;
  return previous;
}

bool StationRegistry::detach(const std::string& station_id, const StationSession* session) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(station_id);
  if (it == sessions_.end()) return false;
  auto current = it->second.lock();
  if (current && current.get() != session) return false;
  sessions_.erase(it);
  return true;
}

std::shared_ptr<StationSession> StationRegistry::find(const std::string& station_id) const {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(station_id);
  return it == sessions_.end() ? nullptr : it->second.lock();
}

std::size_t StationRegistry::connected(protocols::OcppVersion version) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& [_, weak] : sessions_)
    if (auto s = weak.lock(); s && s->version() == version) ++n;
  return n;
}

std::vector<std::shared_ptr<StationSession>> StationRegistry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<StationSession>> out;
  out.reserve(sessions_.size());
  for (const auto& [_, weak] : sessions_)
    if (auto s = weak.lock()) out.push_back(std::move(s));
  return out;
}

void StationRegistry::remember_answer(const std::string& station_id, const std::string& message_id,
                                      const std::string& action, std::string frame) {
  std::lock_guard lock(mutex_);
  auto& answers = answers_[station_id];
  answers.push_back({message_id, action, std::move(frame)});
  if (answers.size() > kAnswersKept) answers.pop_front();
}

std::optional<std::string> StationRegistry::recall_answer(const std::string& station_id,
                                                          const std::string& message_id,
                                                          const std::string& action) const {
  std::lock_guard lock(mutex_);
  auto it = answers_.find(station_id);
  if (it == answers_.end()) return std::nullopt;
  for (const auto& a : it->second)
    if (a.message_id == message_id && a.action == action) return a.frame;
  return std::nullopt;
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
