#pragma once
// One simulated charging station: a single WebSocket connection at a time, all of its
// work on one strand. It boots, reports status, heartbeats, runs charging sessions,
// answers the CSMS's calls, and keeps its transaction messages across reconnects.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "chargegrid/sim/fleet.hpp"
#include "connection.hpp"

namespace chargegrid::sim::detail {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
using SteadyClock = std::chrono::steady_clock;

class Station : public std::enable_shared_from_this<Station> {
 public:
  Station(Strand strand, std::string id, StationOptions options, boost::asio::ssl::context* tls,
          std::optional<boost::asio::ip::address> source_address,
          std::chrono::milliseconds start_delay, FleetProbe* probe,
          std::function<void()> on_finished);

  void start();
  // Thread-safe: the station ends its session, flushes what it can and disconnects.
  void stop();
  // Read only once the io_context has stopped running this station.
  const Stats& stats() const { return stats_; }
  const std::string& id() const { return id_; }

 private:
  struct Session {
    int local_id = 0;
    int connector = 1;
    std::string id_tag;
    std::string transaction_uid;         // 2.0.1 transactionId
    std::optional<int> remote_start_id;  // 2.0.1
    bool remote = false;
    int seq_no = 0;  // 2.0.1
    SteadyClock::time_point started;
    SteadyClock::time_point last_meter;
    SteadyClock::time_point next_meter;
    SteadyClock::time_point ends;
    std::optional<std::string> stop_reason;  // set when something asks it to stop now
    MeterModel meter;
  };
  struct QueuedMessage {
    std::string action;
    Json payload;
    int session = 0;         // local session id, to fill the 1.6 transactionId in at send time
    std::string message_id;  // fixed at first send, so a resend is the same message
    bool sent = false;
    int refusals = 0;                  // CALLERRORs received for it so far
    SteadyClock::time_point retry_at;  // not sent again before (after a refusal)
  };
  struct Variable {
    std::string value;
    bool read_only = false;
    bool write_only = false;  // a password: never reported back
  };

  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> run_connection(Connection& connection);
  boost::asio::awaitable<void> reader(Connection& connection);
  boost::asio::awaitable<void> writer(Connection& connection);
  boost::asio::awaitable<void> behaviour();
  boost::asio::awaitable<void> drive(Connection& connection);
  void lose_connection();
  // Arguments by value: they live in the coroutine frame for the whole call.
  boost::asio::awaitable<Frame> call(std::string action, Json payload, std::string message_id = {});
  // The same with the frame already serialised (message_id must be set).
  boost::asio::awaitable<Frame> call_text(std::string action, std::string text,
                                          std::string message_id);
  boost::asio::awaitable<void> boot();
  boost::asio::awaitable<void> send_all_status();
  boost::asio::awaitable<void> send_status(int connector);
  boost::asio::awaitable<void> flush_transaction_queue();
  boost::asio::awaitable<void> start_session(std::string id_tag, bool remote,
                                             std::optional<int> remote_start_id);
  boost::asio::awaitable<void> handle_triggers();
  // Waits until `until` (real time) or until wake() is called.
  boost::asio::awaitable<void> sleep_until(SteadyClock::time_point until);
  void wake();

  // Session progress that needs no answer from the CSMS: periodic meter values and the
  // end of the session, queued as transaction messages (also while offline).
  void advance_session(SteadyClock::time_point now);
  void end_session(SteadyClock::time_point now, const std::string& reason);
  void queue_meter_values(SteadyClock::time_point now);
  void enqueue_transaction(std::string action, Json payload, int session);
  void handle_transaction_response(const QueuedMessage& message, const Frame& response);
  void enqueue_frame(std::string frame);

  void handle_csms_call(const Frame& frame);
  Json handle_v16(const Frame& frame);
  Json handle_common(const std::string& action, const Json& p, OcppVersion v);
  Json handle_v201(const Frame& frame);
  void apply_charging_limit(const Json& schedule);

  std::string next_message_id() { return std::to_string(++message_counter_); }
  std::chrono::nanoseconds real(double simulated_seconds) const;
  std::string connector_status_name(int connector) const;
  bool sessions_complete() const;

  Strand strand_;
  std::string id_;
  StationOptions options_;
  boost::asio::ssl::context* tls_;
  std::optional<boost::asio::ip::address> source_address_;
  std::chrono::milliseconds start_delay_;
  FleetProbe* probe_;  // may be null
  std::function<void()> on_finished_;

  boost::asio::steady_timer wake_timer_;
  boost::asio::steady_timer write_signal_;
  boost::asio::steady_timer response_signal_;
  std::deque<std::string> outbox_;
  std::string pending_call_id_;
  std::optional<Frame> pending_response_;

  Stats stats_;
  std::uint64_t message_counter_ = 0;
  bool stopping_ = false;
  bool connected_ = false;
  bool connection_lost_ = false;
  bool booted_ = false;  // BootNotification accepted on this connection
  bool ever_connected_ = false;
  bool reboot_requested_ = false;
  std::string boot_reason_ = "PowerUp";
  int heartbeat_interval_s_;
  double meter_interval_s_;
  SteadyClock::time_point next_heartbeat_;
  SteadyClock::time_point next_session_;
  int sessions_begun_ = 0;
  int session_counter_ = 0;
  std::optional<Session> session_;
  std::deque<QueuedMessage> transaction_queue_;
  std::map<int, int> transaction_ids_;  // 1.6: local session id -> CSMS transactionId
  std::optional<Json> remote_start_;    // pending remote start request (idTag, remoteStartId)
  std::map<int, bool> connector_available_;
  bool status_dirty_ = false;
  std::deque<std::string> triggered_;  // messages the CSMS asked for with TriggerMessage
  std::map<std::string, Variable> variables_;
  int local_list_version_ = 0;
  std::map<std::string, std::string> local_list_;  // id token -> status
  std::map<int, std::string> reservations_;        // reservation id -> id token
  double power_limit_w_ = -1.0;
  bool limit_ends_with_session_ = false;
  double import_register_wh_;
  double export_register_wh_;
};

}  // namespace chargegrid::sim::detail
