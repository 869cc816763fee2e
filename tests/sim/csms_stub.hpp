#pragma once
// A minimal CSMS for simulator tests: a WebSocket server on 127.0.0.1 (own thread) that
// accepts stations speaking ocpp1.6 or ocpp2.0.1, answers their CALLs as an accepting
// CSMS would, records every CALL it receives, and sends the stations CALLs of its own.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace chargegrid::testing {

class CsmsStub {
 public:
  using json = nlohmann::json;

  // One CALL a station sent, and what the stub answered.
  struct Received {
    std::string station;
    std::string action;
    json payload;
    json answer;
  };

  CsmsStub() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~CsmsStub() {
    io_.stop();
    thread_.join();
  }
  CsmsStub(const CsmsStub&) = delete;
  CsmsStub& operator=(const CsmsStub&) = delete;

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/ocpp"; }

  // The first CALL received (already or within `timeout`) with this action for which
  // `match` holds.
  std::optional<Received> wait_for(const std::string& action,
                                   std::function<bool(const json&)> match = {},
                                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    std::optional<Received> found;
    changed_.wait_for(lock, timeout, [&] {
      for (const auto& r : received_) {
        if (r.action == action && (!match || match(r.payload))) {
          found = r;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  // Authorize answers Invalid for this token from now on.
  void refuse(const std::string& token) {
    std::lock_guard lock(mutex_);
    refused_.insert(token);
  }

  // Every CALL received so far with this action.
  std::vector<Received> received(const std::string& action) const {
    std::lock_guard lock(mutex_);
    std::vector<Received> out;
    for (const auto& r : received_)
      if (r.action == action) out.push_back(r);
    return out;
  }

  // Sends a CALL to a connected station; its answer frame ([3, id, payload] or
  // [4, id, code, ...]), or null if none came within `timeout`.
  json call(const std::string& station, const std::string& action, json payload,
            std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto promise = std::make_shared<std::promise<json>>();
    auto answer = promise->get_future();
    std::string id;
    {
      std::lock_guard lock(mutex_);
      id = "csms-" + std::to_string(++call_counter_);
      answers_[id] = promise;
    }
    const std::string text = json::array({2, id, action, std::move(payload)}).dump();
    boost::asio::post(io_, [this, station, text] {
      auto peer = peers_.find(station);
      if (peer != peers_.end()) send(peer->second, text);
    });
    if (answer.wait_for(timeout) != std::future_status::ready) return nullptr;
    return answer.get();
  }

 private:
  struct Peer {
    explicit Peer(boost::asio::ip::tcp::socket socket) : ws(std::move(socket)) {}
    boost::beast::websocket::stream<boost::beast::tcp_stream> ws;
    std::string protocol;
    std::deque<std::string> outbox;
    bool writing = false;
  };
  using PeerPtr = std::shared_ptr<Peer>;

  // Authorize: Invalid for a refused token (refuse()), else Accepted.
  std::string token_status(const json& payload) {
    std::string token;
    if (payload.contains("idTag")) token = payload.value("idTag", "");
    if (payload.contains("idToken") && payload["idToken"].is_object())
      token = payload["idToken"].value("idToken", "");
    std::lock_guard lock(mutex_);
    return refused_.count(token) ? "Invalid" : "Accepted";
  }

  static std::string now() {
    return "2030-01-01T00:00:00.000Z";  // the stations do not read it
  }

  // What an accepting CSMS answers.
  json answer(const std::string& protocol, const std::string& action, const json& payload) {
    const bool v16 = protocol == "ocpp1.6";
    const json accepted = {{"status", "Accepted"}};
    if (action == "BootNotification") {
      return {{"status", "Accepted"}, {"currentTime", now()}, {"interval", 300}};
    }
    if (action == "Heartbeat") return {{"currentTime", now()}};
    if (action == "Authorize") {
      const json info = {{"status", token_status(payload)}};
      return v16 ? json{{"idTagInfo", info}} : json{{"idTokenInfo", info}};
    }
    // ISO 15118: the 2.x messages, and on 1.6 the Plug & Charge DataTransfer carrying them.
    if (action == "SignCertificate") return accepted;
    if (action == "Get15118EVCertificate") return {{"status", "Accepted"}, {"exiResponse", "AA=="}};
    if (action == "DataTransfer" &&
        payload.value("vendorId", "") == "org.openchargealliance.iso15118pnc") {
      const auto message = payload.value("messageId", "");
      const json data = json::parse(payload.value("data", "{}"), nullptr, false);
      if (message == "Authorize")
        return {{"status", "Accepted"},
                {"data", json{{"idTokenInfo", {{"status", token_status(data)}}}}.dump()}};
      if (message == "SignCertificate") return {{"status", "Accepted"}, {"data", accepted.dump()}};
      if (message == "Get15118EVCertificate")
        return {{"status", "Accepted"},
                {"data", json{{"status", "Accepted"}, {"exiResponse", "AA=="}}.dump()}};
      return {{"status", "UnknownMessageId"}};
    }
    if (action == "StartTransaction") {
      return {{"transactionId", ++transaction_counter_}, {"idTagInfo", accepted}};
    }
    if (action == "StopTransaction") return {{"idTagInfo", accepted}};
    if (action == "TransactionEvent" && payload.value("eventType", "") == "Started") {
      return {{"idTokenInfo", accepted}};
    }
    return json::object();  // StatusNotification, MeterValues, TransactionEvent ...
  }

  boost::asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] =
          co_await acceptor_.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      boost::asio::co_spawn(io_, serve(std::make_shared<Peer>(std::move(socket))),
                            boost::asio::detached);
    }
  }

  boost::asio::awaitable<void> serve(PeerPtr peer) {
    namespace beast = boost::beast;
    namespace websocket = beast::websocket;
    using boost::asio::use_awaitable;
    beast::flat_buffer buffer;
    beast::http::request<beast::http::string_body> request;
    auto [read_ec, read_n] = co_await beast::http::async_read(
        peer->ws.next_layer(), buffer, request, boost::asio::as_tuple(use_awaitable));
    (void)read_n;
    if (read_ec) co_return;
    const std::string target(request.target());
    const std::string station = target.substr(target.rfind('/') + 1);
    peer->protocol = std::string(request[beast::http::field::sec_websocket_protocol]);
    peer->ws.set_option(websocket::stream_base::decorator(
        [protocol = peer->protocol](websocket::response_type& response) {
          response.set(beast::http::field::sec_websocket_protocol, protocol);
        }));
    auto [accept_ec] =
        co_await peer->ws.async_accept(request, boost::asio::as_tuple(use_awaitable));
    if (accept_ec) co_return;
    peers_[station] = peer;
    for (;;) {
      beast::flat_buffer message;
      auto [ec, n] = co_await peer->ws.async_read(message, boost::asio::as_tuple(use_awaitable));
      (void)n;
      if (ec) break;
      const json frame = json::parse(beast::buffers_to_string(message.data()), nullptr, false);
      if (!frame.is_array() || frame.size() < 3) continue;
      const int type = frame[0].get<int>();
      const std::string id = frame[1].get<std::string>();
      if (type == 2) {
        const std::string action = frame[2].get<std::string>();
        json result = answer(peer->protocol, action, frame[3]);
        {
          std::lock_guard lock(mutex_);
          received_.push_back({station, action, frame[3], result});
        }
        changed_.notify_all();
        send(peer, json::array({3, id, result}).dump());
      } else {
        std::shared_ptr<std::promise<json>> waiting;
        {
          std::lock_guard lock(mutex_);
          auto it = answers_.find(id);
          if (it == answers_.end()) continue;
          waiting = it->second;
          answers_.erase(it);
        }
        waiting->set_value(frame);
      }
    }
    if (peers_[station] == peer) peers_.erase(station);
  }

  void send(const PeerPtr& peer, std::string text) {
    peer->outbox.push_back(std::move(text));
    if (!peer->writing) boost::asio::co_spawn(io_, write_loop(peer), boost::asio::detached);
  }

  boost::asio::awaitable<void> write_loop(PeerPtr peer) {
    peer->writing = true;
    while (!peer->outbox.empty()) {
      const std::string text = std::move(peer->outbox.front());
      peer->outbox.pop_front();
      auto [ec, n] = co_await peer->ws.async_write(
          boost::asio::buffer(text), boost::asio::as_tuple(boost::asio::use_awaitable));
      (void)n;
      if (ec) break;
    }
    peer->writing = false;
  }

  boost::asio::io_context io_;  // first: destroyed last, after the handlers it holds
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::map<std::string, PeerPtr> peers_;  // by station id; on the I/O thread only
  int transaction_counter_ = 100;         // on the I/O thread only
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Received> received_;
  std::set<std::string> refused_;  // tokens Authorize refuses
  std::map<std::string, std::shared_ptr<std::promise<json>>> answers_;
  int call_counter_ = 0;
  std::thread thread_;
};

}  // namespace chargegrid::testing
