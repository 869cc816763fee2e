#pragma once
// Cluster mode: live events published on one node reach the subscribers on every node. Each
// node batches its events every 100 ms (a RecurringJob round on the pool) into NOTIFYs on one
// shared channel; each node's listener hands the other nodes' events to its own bus
// (EventBus::publish_remote). A batch is sent only while another live node streams events
// (store::cluster_nodes::events_wanted_elsewhere): nobody parses events nobody reads. Live
// events are lossy by design: a batch that cannot be sent (database away) is dropped, as a
// slow stream would be, and beyond 10,000 waiting events the oldest go first.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "chargegrid/db/fwd.hpp"
#include "events/event_bus.hpp"
#include "recurring_job.hpp"

namespace chargegrid::server {

class EventRelay {
 public:
  EventRelay(boost::asio::io_context& io, db::ConnectionPool& pool, std::string node_id);
  // Takes an event published here (EventBus::forward).
  void push(Event&& event);
  // Starts the periodic flush.
  void start() { job_.start(); }
  void stop() { job_.stop(); }
  // A NOTIFY another node sent: its events, for this node's bus.
  static std::vector<Event> events_of(const nlohmann::json& message);

  // Events sent to the other nodes, and dropped because no other node streamed them.
  std::uint64_t relayed() const { return relayed_.load(); }
  std::uint64_t unwanted() const { return unwanted_.load(); }

 private:
  void flush(pqxx::connection_base& c);  // a round of job_

  std::string node_id_;
  std::mutex mutex_;
  std::deque<Event> pending_;  // turned into wire text only when some node wants them
  std::atomic<std::uint64_t> relayed_{0};
  std::atomic<std::uint64_t> unwanted_{0};
  RecurringJob job_;
};

}  // namespace chargegrid::server
