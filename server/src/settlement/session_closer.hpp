#pragma once
// Closes the sessions no station will end: one its station has been silent about (no event, no
// register reading) for longer than --session-timeout, and one whose EVSE has since started a
// newer session (the station replaced it). Each is ended at its last import register reading
// with that register as its stop, and gets the "session.ended" event a station's stop writes,
// in the same transaction — so settlement settles it exactly once. The sessions are claimed
// FOR UPDATE SKIP LOCKED: on a cluster, each is closed by one node; a stop arriving meanwhile
// waits for the row and then finds it closed (and changes nothing).

#include <boost/asio/io_context.hpp>
#include <chrono>

#include "chargegrid/db/fwd.hpp"
#include "recurring_job.hpp"

namespace chargegrid::server::settlement {

class SessionCloser {
 public:
  // `timeout` zero: only replaced sessions are closed.
  SessionCloser(boost::asio::io_context& io, db::ConnectionPool& pool,
                std::chrono::milliseconds timeout);
  void start() { job_.start(); }  // the first sweep at once
  void stop() { job_.stop(); }
  // How often open sessions are looked at: a quarter of the timeout, 0.2 s to 10 s.
  std::chrono::milliseconds sweep_interval() const { return interval_; }

 private:
  void sweep(pqxx::connection_base& c);  // a round of job_

  const std::chrono::milliseconds timeout_, interval_;
  RecurringJob job_;
};

}  // namespace chargegrid::server::settlement
