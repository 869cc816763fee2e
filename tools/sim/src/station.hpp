#pragma once
// One simulated charging station: its model (model.hpp) on its link to the CSMS
// (transport.hpp), all of its work on one strand. It boots, reports status, heartbeats,
// runs charging sessions, answers the CSMS's calls through the action table
// (actions.hpp), and keeps its transaction messages across reconnects.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "chargegrid/sim/fleet.hpp"
#include "model.hpp"
#include "transport.hpp"

namespace chargegrid::sim::detail {

class Station : public std::enable_shared_from_this<Station> {
 public:
  Station(Strand strand, std::string id, StationOptions options, boost::asio::ssl::context* tls,
          std::optional<boost::asio::ip::address> source_address,
          std::chrono::milliseconds start_delay, FleetProbe* probe,
          std::function<void()> on_finished);

  void start();
  // Thread-safe: the station ends its sessions, flushes what it can and disconnects.
  void stop();
  // Read only once the io_context has stopped running this station.
  const Stats& stats() const { return stats_; }
  const std::string& id() const { return model_.id; }

 private:
  boost::asio::awaitable<void> run();
  // What the station does while connected; returns to disconnect.
  boost::asio::awaitable<void> behaviour();
  boost::asio::awaitable<Frame> send(OutgoingMessage message);
  boost::asio::awaitable<void> boot();
  // The ISO 15118 vehicle's requests after boot: the SECC's CSR, a contract certificate.
  boost::asio::awaitable<void> iso15118_after_boot();
  boost::asio::awaitable<void> send_all_status();
  boost::asio::awaitable<void> send_status(int evse);
  boost::asio::awaitable<void> flush_transaction_queue();
  // Starts what the CSMS asked for and the station's own sessions when they are due;
  // true if it started (or tried to start) one.
  boost::asio::awaitable<bool> start_due_session();
  boost::asio::awaitable<void> start_session(int evse, std::string id_tag, bool remote,
                                             std::optional<int> remote_start_id);
  boost::asio::awaitable<void> handle_triggers();
  // Waits until `until` (real time) or until wake() is called.
  boost::asio::awaitable<void> sleep_until(SteadyClock::time_point until);
  void wake();
  // A CALL from the CSMS, dispatched through the action table and answered.
  void handle_csms_call(const Frame& frame);

  Stats stats_;
  StationModel model_;
  Transport transport_;
  std::chrono::milliseconds start_delay_;
  FleetProbe* probe_;  // may be null
  std::function<void()> on_finished_;
  Strand strand_;
  boost::asio::steady_timer wake_timer_;
};

}  // namespace chargegrid::sim::detail
