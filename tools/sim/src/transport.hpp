#pragma once
// A simulated station's OCPP-J link to the CSMS: one WebSocket connection at a time
// (connection.hpp), the frames on it, message ids, the one outstanding CALL and its
// answer, and the back-off between connection attempts. It knows no station logic:
// CALLs from the CSMS go to the handler given to it, which answers through reply().

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "chargegrid/sim/fleet.hpp"
#include "connection.hpp"

namespace chargegrid::sim::detail {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
using SteadyClock = std::chrono::steady_clock;

// A CALL left unanswered within the response timeout (the connection is then dropped).
struct CallTimeout : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Transport {
 public:
  struct Hooks {
    std::function<void(const Frame&)> on_call;  // a CALL from the CSMS, to answer with reply()
    std::function<void()> on_lost;              // the open connection is gone
  };

  Transport(Strand strand, std::string station_id, const StationOptions& options,
            boost::asio::ssl::context* tls, std::optional<boost::asio::ip::address> source_address,
            FleetProbe* probe, Stats& stats, Hooks hooks);

  // One connection attempt (with `password` for HTTP Basic auth, if any): true once the
  // WebSocket is open. A success resets the back-off.
  boost::asio::awaitable<bool> open(std::optional<std::string> password);
  // Runs the open connection, reading and writing alongside `work`, until `work` returns
  // or the connection is lost; then closes it. Pending CALLs and unsent frames are dropped.
  boost::asio::awaitable<void> serve(std::function<boost::asio::awaitable<void>()> work);
  // Real time to wait before the next attempt: doubles from reconnect_min_s up to
  // reconnect_max_s with every failed or ended connection.
  SteadyClock::duration next_retry_delay();

  // Sends a CALL and waits for its answer (CALLRESULT or CALLERROR). Throws CallTimeout
  // when none comes in time, std::runtime_error when the connection is lost meanwhile.
  // Arguments by value: they live in the coroutine frame for the whole call.
  boost::asio::awaitable<Frame> call(std::string action, Json payload, std::string message_id = {});
  // The same with the frame already serialised (message_id must be set).
  boost::asio::awaitable<Frame> call_text(std::string action, std::string text,
                                          std::string message_id);
  void reply(const std::string& message_id, const Json& payload);
  void reply_error(const std::string& message_id, const std::string& code,
                   const std::string& description);

  std::string next_message_id() { return std::to_string(++message_counter_); }
  bool connected() const { return connection_ != nullptr; }
  // The connection that is open was lost (serve() is ending).
  bool lost() const { return connection_ != nullptr && lost_; }

 private:
  boost::asio::awaitable<void> reader();
  boost::asio::awaitable<void> writer();
  boost::asio::awaitable<void> drive(std::function<boost::asio::awaitable<void>()> work);
  void lose_connection();
  void enqueue_frame(std::string frame);

  std::string station_id_;
  const StationOptions& options_;
  boost::asio::ssl::context* tls_;
  std::optional<boost::asio::ip::address> source_address_;
  FleetProbe* probe_;  // may be null
  Stats& stats_;
  Hooks hooks_;

  std::unique_ptr<Connection> connection_;
  bool lost_ = false;
  bool ever_connected_ = false;
  double backoff_s_;
  boost::asio::steady_timer write_signal_;
  boost::asio::steady_timer response_signal_;
  std::deque<std::string> outbox_;
  std::string pending_call_id_;
  std::optional<Frame> pending_response_;
  std::uint64_t message_counter_ = 0;
};

}  // namespace chargegrid::sim::detail
