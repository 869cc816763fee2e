#pragma once
// One station's WebSocket connection (ws or wss): the TLS and upgrade handshake
// (identity from the URL, authentication by the station's security profile,
// subprotocol negotiation), then OCPP-J RPC over the socket, within the message
// rate and idle limits. All of its state lives on its strand; CALLs from the
// station are handled one at a time and answered in order.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "chargegrid/protocols/rpc.hpp"
#include "chargegrid/protocols/typed_call.hpp"
#include "chargegrid/protocols/version.hpp"
#include "commands/outcome.hpp"
#include "connections/station_stream.hpp"
#include "security/limits.hpp"
#include "security/station_auth.hpp"
#include "security/tls.hpp"
#include "services.hpp"

namespace chargegrid::server {

class StationConnection : public std::enable_shared_from_this<StationConnection> {
 public:
  // `tls`: the context of a wss connection (nullptr for ws); `ticket`: its place under the
  // connection limits, given back when the connection ends.
  StationConnection(boost::asio::ip::tcp::socket socket,
                    std::shared_ptr<boost::asio::ssl::context> tls, Services& services,
                    security::ConnectionLimits::Ticket ticket);

  // Reads the upgrade request, then serves the connection until it closes.
  void start();

  // Sends a CALL; `done` runs on this connection's strand exactly once.
  void call(std::string action, nlohmann::json payload,
            std::function<void(commands::Outcome)> done);
  // Closes the connection (from any thread).
  void close(boost::beast::websocket::close_code code, std::string reason);

  const std::string& station_id() const { return station_id_; }
  protocols::OcppVersion version() const { return version_; }
  std::string remote_address() const;
  // The security profile this connection reached (0 to 3).
  int security_profile() const { return security_profile_; }

  // Registration as last known (from the database or this connection's boot).
  enum class Registration { Unknown, Pending, Accepted, Rejected };
  void set_registration(Registration r) { registration_ = r; }

 private:
  struct PendingCall {
    std::string action;
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::function<void(commands::Outcome)> done;
  };

  // Handshake and registration run as a coroutine; afterwards the connection waits for
  // frames with completion handlers, so an idle station holds no coroutine frame.
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<bool> handshake();
  boost::asio::awaitable<bool> authenticate(
      const boost::beast::http::request<boost::beast::http::string_body>& upgrade);
  boost::asio::awaitable<std::optional<security::StationSecurity>> load_station_security(
      bool& unavailable);
  void refuse_authentication(const security::Verdict& verdict);
  // False when the frame exceeds the station's message rate (it was answered or dropped).
  bool within_message_rate(
      const std::variant<protocols::RpcMessage, protocols::RpcParseError>& parsed);
  // Until the WebSocket is open: closes the socket once `after` has passed, unless cleared.
  void arm_deadline(std::chrono::seconds after);
  void clear_deadline();
  // Once open: keep-alive pings and the idle limits (one timer; wait_idle()).
  void wait_idle();
  void on_idle_timer(boost::system::error_code ec);
  // Any frame, data or control, arrived.
  void heard_from();
  boost::asio::awaitable<void> load_registration();
  // Reads the next frame; on_frame handles it and reads the one after.
  void read_next();
  // Reads at most `limit` more bytes of the current message into buffer_.
  void read_some(std::size_t limit);
  void on_frame(boost::system::error_code ec);
  void disconnected();
  // A CALL read straight into its request struct (protocols/typed_call.hpp), with the frame
  // its payload's text is in.
  struct TypedFrame {
    protocols::TypedRequest request;
    std::string frame;
    std::size_t payload_begin = 0;
    std::size_t payload_size = 0;
  };
  // `frame_hash` identifies a resend; `may_hold_nul`: the frame has a \u0000 escape. A typed
  // CALL comes with `typed` (its payload checked already) and an empty `call.payload`.
  boost::asio::awaitable<void> handle_call(protocols::Call call, std::size_t frame_hash,
                                           bool may_hold_nul, std::optional<TypedFrame> typed);
  void handle_answer(const std::string& message_id, commands::Outcome outcome);
  void send(std::string frame);
  void write_next();
  void on_written(boost::system::error_code ec);
  void send_close();
  void finish_pending_calls();
  using Decorate =
      std::function<void(boost::beast::http::response<boost::beast::http::string_body>&)>;
  // Logs and answers a refused upgrade; send_refusal only answers.
  void refuse(boost::beast::http::status status, std::string reason, Decorate decorate = nullptr);
  void send_refusal(boost::beast::http::status status, std::string reason, Decorate decorate);
  void publish_connection_event(bool online);

  Services& services_;
  security::ConnectionLimits::Ticket ticket_;
  StationStream ws_;
  security::ChainCheck chain_check_;
  security::TokenBucket message_rate_;
  security::TokenBucket rate_strikes_;
  security::Clock::time_point last_message_at_;
  security::Clock::time_point last_received_at_;  // any frame, pongs included
  // The handshake's deadline until the WebSocket is open, then keep-alive pings and the idle limit.
  boost::asio::steady_timer idle_timer_;
  boost::beast::flat_buffer buffer_;
  std::string station_id_;
  boost::asio::ip::address remote_ip_;
  // The frame being written, and those queued behind it (empty, allocating nothing, while
  // the station is idle).
  std::string writing_;
  std::vector<std::string> send_queue_;
  // A close asked for while a write was in flight: sent once it completes.
  std::unique_ptr<boost::beast::websocket::close_reason> close_after_write_;
  std::map<std::string, PendingCall> pending_calls_;
  std::uint64_t next_call_id_ = 1;
  protocols::OcppVersion version_ = protocols::OcppVersion::v16;
  Registration registration_ = Registration::Unknown;
  std::uint8_t security_profile_ = 0;
  bool rate_limited_ = false;  // the last frame exceeded the rate
  bool draining_ = false;      // closing for the rate: frames are read and dropped
  bool closing_ = false;
  bool write_in_flight_ = false;
  bool deadline_passed_ = false;      // the handshake's deadline closed the socket
  bool ping_sent_ = false;            // a keep-alive ping went out since the last frame
  bool keepalive_timed_out_ = false;  // no answer to a ping closed the socket
};

// The station identity of an upgrade target such as /ocpp/CP%2D01; nullopt if none.
std::optional<std::string> station_id_from_target(std::string_view target);
// Picks the subprotocol from a Sec-WebSocket-Protocol header (client's order).
std::optional<protocols::OcppVersion> negotiate_subprotocol(std::string_view offered);

}  // namespace chargegrid::server
