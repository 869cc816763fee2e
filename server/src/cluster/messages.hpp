#pragma once
// What nodes tell each other (docs/cluster.md). Each node LISTENs on its own channel; a
// NOTIFY only wakes, what it is about is read from the database:
//   {"op":"command","id":N}   run command_log row N (routed here) on this node's connection
//   {"op":"result","id":N}    row N, which this node routed, has its outcome
//   {"op":"release","station":S,"epoch":E}   another node took S over at epoch E
//   {"op":"close","station":S,"reason":R}    close S's connection (API: deleted, profile ...)
//   {"op":"registration","station":S,"registration":"accepted"|"rejected"}
//   {"op":"event", ...}       a domain event published on another node (live streams)

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace chargegrid::server::cluster {

// The NOTIFY channel of a node.
inline std::string channel(const std::string& node) {
  return "chargegrid:" + node;
}
// The channel every node listens on for the others' domain events.
inline const char* kEventsChannel = "chargegrid:events";

namespace messages {

inline nlohmann::json command(std::int64_t id) {
  return {{"op", "command"}, {"id", id}};
}
inline nlohmann::json result(std::int64_t id) {
  return {{"op", "result"}, {"id", id}};
}
inline nlohmann::json release(const std::string& station, std::int64_t epoch) {
  return {{"op", "release"}, {"station", station}, {"epoch", epoch}};
}
inline nlohmann::json close(const std::string& station, const std::string& reason) {
  return {{"op", "close"}, {"station", station}, {"reason", reason}};
}
inline nlohmann::json registration(const std::string& station, const std::string& registration) {
  return {{"op", "registration"}, {"station", station}, {"registration", registration}};
}

}  // namespace messages
}  // namespace chargegrid::server::cluster
