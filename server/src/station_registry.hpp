#pragma once
// Which connection holds each station, plus what must outlive a connection:
// the answers to recent CALLs (so a message replayed after a reconnect gets the
// same answer) and the time each station was last heard from.

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chargegrid/protocols/version.hpp"

namespace chargegrid::server {

class StationSession;

class StationRegistry {
 public:
  // Makes `session` the connection of `station_id`; returns the one it replaces.
  std::shared_ptr<StationSession> attach(const std::string& station_id,
                                         const std::shared_ptr<StationSession>& session);
  // Forgets `session` if it is still the station's current connection.
  bool detach(const std::string& station_id, const StationSession* session);
  std::shared_ptr<StationSession> find(const std::string& station_id) const;
  std::size_t connected(protocols::OcppVersion version) const;
  std::vector<std::shared_ptr<StationSession>> all() const;

  // Replay cache of recent answers, keyed by station and message id.
  void remember_answer(const std::string& station_id, const std::string& message_id,
                       const std::string& action, std::string frame);
  std::optional<std::string> recall_answer(const std::string& station_id,
                                           const std::string& message_id,
                                           const std::string& action) const;

  void touch(const std::string& station_id);
  // Stations heard from since the last call, with when (for one batched UPDATE).
  std::vector<std::pair<std::string, std::chrono::system_clock::time_point>> take_seen();

  static constexpr std::size_t kAnswersKept = 32;

 private:
  struct Answer {
    std::string message_id;
    std::string action;
    std::string frame;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::weak_ptr<StationSession>> sessions_;
  std::unordered_map<std::string, std::deque<Answer>> answers_;
  std::unordered_map<std::string, std::chrono::system_clock::time_point> seen_;
};

}  // namespace chargegrid::server
