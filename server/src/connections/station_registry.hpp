#pragma once
// Which connection holds each station, plus what must outlive a connection:
// the answers to recent CALLs (so a message replayed after a reconnect gets the
// same answer) and the time each station was last heard from. In cluster mode each
// entry also carries the epoch of the station's lease this node took (0 until the
// take-over is stored; see docs/cluster.md).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chargegrid/protocols/version.hpp"

namespace chargegrid::server {

class StationConnection;

class StationRegistry {
 public:
  // Makes `connection` the connection of `station_id`; returns the one it replaces.
  std::shared_ptr<StationConnection> attach(const std::string& station_id,
                                            const std::shared_ptr<StationConnection>& connection);
  // Forgets `connection` if it is still the station's current connection; returns the lease
  // epoch the entry held then (0: none), or nullopt when `connection` was not current.
  std::optional<std::int64_t> detach(const std::string& station_id,
                                     const StationConnection* connection);
  std::shared_ptr<StationConnection> find(const std::string& station_id) const;
  std::size_t connected(protocols::OcppVersion version) const;
  std::size_t size() const;
  std::vector<std::shared_ptr<StationConnection>> all() const;

  // Cluster leases. Every attach starts a take-over of the station's lease; record_lease
  // ends one: this node took the lease at `epoch` (0: the take-over failed). The entry keeps
  // the highest epoch it got. Returns Kept, or Lost when another node took the station over
  // at a higher epoch meanwhile (release_lease came first: the connection is forgotten here
  // and must close), or NoConnection when the station has no connection here any more (the
  // lease must be given back).
  enum class LeaseRecord { Kept, Lost, NoConnection };
  LeaseRecord record_lease(const std::string& station_id, std::int64_t epoch);
  // The database says this node holds the station at `epoch` (found by a check, not by a
  // take-over of the current connection).
  void confirm_lease(const std::string& station_id, std::int64_t epoch);
  // The epoch of the lease this node holds for the station (0: none, or no connection).
  std::int64_t lease_epoch(const std::string& station_id) const;
  // Another node took the station over at `epoch`: returns this node's connection if it
  // holds an older lease (it is forgotten here and must be closed). A connection whose
  // take-over is not stored yet is judged once it is (record_lease).
  std::shared_ptr<StationConnection> release_lease(const std::string& station_id,
                                                   std::int64_t epoch);
  // Forgets the connection if it is still current and its lease is at most `epoch` (the
  // lease was found lost); returns it.
  std::shared_ptr<StationConnection> drop_lease(const std::string& station_id, std::int64_t epoch);
  struct Held {
    std::string station_id;
    std::int64_t lease_epoch = 0;  // 0: no take-over stored yet
    int takeovers_pending = 0;
    std::chrono::steady_clock::time_point attached_at;
  };
  std::vector<Held> held() const;

  // Replay cache of recent answers. A resend is the same message id, action AND frame
  // (`frame_hash`, a hash of the CALL's text) within kResendWindow: stations number their
  // messages afresh after a reboot or reconnect, so an id alone says nothing, and a
  // station resends what went unanswered soon after it reconnects.
  void remember_answer(const std::string& station_id, const std::string& message_id,
                       const std::string& action, std::size_t frame_hash, std::string answer);
  std::optional<std::string> recall_answer(const std::string& station_id,
                                           const std::string& message_id, const std::string& action,
                                           std::size_t frame_hash) const;

  // Drops the kept answers of every station whose newest answer is older than kResendWindow
  // at `now` (none of them could be recalled): a station that left keeps nothing. Returns how
  // many stations' answers were dropped.
  std::size_t forget_expired_answers(std::chrono::steady_clock::time_point now);

  void touch(const std::string& station_id);
  // Stations heard from since the last call, with when (for one batched UPDATE).
  std::vector<std::pair<std::string, std::chrono::system_clock::time_point>> take_seen();

  static constexpr std::size_t kAnswersKept = 32;
  static constexpr std::chrono::minutes kResendWindow{10};

 private:
  // The message id and the answer share one string and the action name is interned, so a
  // short answer allocates nothing of its own.
  struct Answer {
    std::string text;                     // the message id, then the answer frame
    const std::string* action = nullptr;  // in actions_
    std::size_t frame_hash = 0;
    std::chrono::steady_clock::time_point answered_at;
    std::uint32_t id_size = 0;
  };
  // A station's recent answers: grows to kAnswersKept, then each new answer replaces the
  // oldest (at `oldest`). Made on a station's first kept answer.
  struct Answers {
    std::vector<Answer> ring;
    std::uint32_t oldest = 0;
  };
  struct Entry {
    std::weak_ptr<StationConnection> connection;
    std::int64_t lease_epoch = 0;
    int takeovers_pending = 0;  // attaches whose take-over is not stored yet
    std::chrono::steady_clock::time_point attached_at;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> connections_;
  // Take-overs by other nodes announced before this node's own was stored: station -> epoch.
  std::unordered_map<std::string, std::int64_t> releases_;
  std::unordered_map<std::string, Answers> answers_;
  // The actions of kept answers, each once (a set's elements stay where they are).
  std::unordered_set<std::string> actions_;
  std::unordered_map<std::string, std::chrono::system_clock::time_point> seen_;
};

}  // namespace chargegrid::server
