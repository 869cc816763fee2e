#pragma once
// One station's WebSocket connection: the upgrade handshake (identity from the
// URL, subprotocol negotiation), then OCPP-J RPC over the socket. All of its
// state lives on its strand; CALLs from the station are handled one at a time
// and answered in order.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>

#include "chargegrid/protocols/rpc.hpp"
#include "chargegrid/protocols/version.hpp"
#include "services.hpp"

namespace chargegrid::server {

// How a CALL the server sent ended.
struct CallOutcome {
  // Refused: too many calls await an answer; Invalid: the payload breaks the
  // action's schema (never sent).
  enum class Kind { Result, Error, Timeout, Disconnected, Refused, Invalid } kind;
  nlohmann::json payload;  // Result: the answer; Error: {"errorCode", "description", "details"};
                           // Refused, Invalid: {"description"}
};

class StationSession : public std::enable_shared_from_this<StationSession> {
 public:
  StationSession(boost::asio::ip::tcp::socket socket, Services& services);

  // Reads the upgrade request, then serves the connection until it closes.
  void start();

  // Sends a CALL; `done` runs on this session's strand exactly once.
  void call(std::string action, nlohmann::json payload, std::function<void(CallOutcome)> done);
  // Closes the connection (from any thread).
  void close(boost::beast::websocket::close_code code, std::string reason);

  const std::string& station_id() const { return station_id_; }
  protocols::OcppVersion version() const { return version_; }
  std::string remote_address() const { return remote_address_; }

  // Registration as last known (from the database or this connection's boot).
  enum class Registration { Unknown, Pending, Accepted, Rejected };
  void set_registration(Registration r) { registration_ = r; }

 private:
  using WebSocket = boost::beast::websocket::stream<boost::beast::tcp_stream>;
  struct PendingCall {
    std::string action;
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::function<void(CallOutcome)> done;
  };

  boost::asio::awaitable<void> run();
  boost::asio::awaitable<bool> handshake();
  boost::asio::awaitable<void> load_registration();
  boost::asio::awaitable<void> serve();
  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> handle_call(protocols::Call& call);
  boost::asio::awaitable<void> close_after_writes(boost::beast::websocket::close_code code,
                                                  std::string reason);
  void handle_answer(const std::string& message_id, CallOutcome outcome);
  void send(std::string frame);
  void finish_pending_calls();
  void refuse(boost::beast::http::status status, std::string reason);
  void publish_connection_event(const char* type);

  Services& services_;
  WebSocket ws_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::request<boost::beast::http::string_body> upgrade_;
  std::string station_id_;
  std::string remote_address_;
  protocols::OcppVersion version_ = protocols::OcppVersion::v16;
  Registration registration_ = Registration::Unknown;

  std::deque<std::string> outbox_;
  boost::asio::steady_timer outbox_signal_;
  bool closing_ = false;
  bool write_loop_done_ = false;
  std::map<std::string, PendingCall> pending_calls_;
  std::uint64_t next_call_id_ = 1;
};

// Percent-decodes a URL path segment; nullopt if it is not valid.
std::optional<std::string> percent_decode(std::string_view text);
// The station identity of an upgrade target such as /ocpp/CP%2D01; nullopt if none.
std::optional<std::string> station_id_from_target(std::string_view target);
// Picks the subprotocol from a Sec-WebSocket-Protocol header (client's order).
std::optional<protocols::OcppVersion> negotiate_subprotocol(std::string_view offered);

}  // namespace chargegrid::server
