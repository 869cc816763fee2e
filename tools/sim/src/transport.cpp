#include "transport.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace chargegrid::sim::detail {

namespace net = boost::asio;
using namespace net::experimental::awaitable_operators;
using net::awaitable;
using net::use_awaitable;

namespace {

SteadyClock::duration seconds_real(double s) {
  return std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(std::max(0.0, s)));
}

}  // namespace

Transport::Transport(Strand strand, std::string station_id, const StationOptions& options,
                     boost::asio::ssl::context* tls,
                     std::optional<boost::asio::ip::address> source_address, FleetProbe* probe,
                     Stats& stats, Hooks hooks)
    : station_id_(std::move(station_id)),
      options_(options),
      tls_(tls),
      source_address_(source_address),
      probe_(probe),
      stats_(stats),
      hooks_(std::move(hooks)),
      backoff_s_(options.reconnect_min_s),
      write_signal_(strand),
      response_signal_(strand) {}

awaitable<bool> Transport::open(std::optional<std::string> password) {
  ConnectRequest request{options_.endpoint,   station_id_,     subprotocol(options_.version),
                         std::move(password), source_address_, tls_};
  try {
    connection_ = co_await connect(request);
  } catch (const std::exception& e) {
    stats_.count_connect_failure(e.what());
    if (probe_) probe_->on_connect_failure();
    spdlog::debug("{}: connect failed: {}", station_id_, e.what());
    co_return false;
  }
  ++stats_.connects;
  if (probe_) probe_->on_connected();
  if (ever_connected_) ++stats_.reconnects;
  ever_connected_ = true;
  backoff_s_ = options_.reconnect_min_s;
  co_return true;
}

SteadyClock::duration Transport::next_retry_delay() {
  const auto delay = seconds_real(backoff_s_);
  backoff_s_ = std::min(options_.reconnect_max_s, backoff_s_ * 2);
  return delay;
}

awaitable<void> Transport::serve(std::function<awaitable<void>()> work) {
  // The three parts end by themselves once the connection is lost (flag + timer
  // cancels), so nothing depends on cancelling an outstanding WebSocket read.
  lost_ = false;
  try {
    co_await (reader() && writer() && drive(std::move(work)));
  } catch (const std::exception& e) {
    spdlog::debug("{}: connection ended: {}", station_id_, e.what());
  }
  pending_call_id_.clear();
  outbox_.clear();
  co_await connection_->close();
  connection_.reset();
}

void Transport::lose_connection() {
  lost_ = true;
  response_signal_.cancel();
  write_signal_.cancel();
  if (hooks_.on_lost) hooks_.on_lost();
}

awaitable<void> Transport::drive(std::function<awaitable<void>()> work) {
  try {
    co_await work();
  } catch (const std::exception& e) {
    spdlog::debug("{}: {}", station_id_, e.what());
  }
  const bool peer_gone = lost_;
  lose_connection();
  // Ends the reader: after a close handshake (or a dead peer) its read fails.
  if (!peer_gone) co_await connection_->close();
}

awaitable<void> Transport::reader() {
  for (;;) {
    std::string text;
    try {
      text = co_await connection_->read();
    } catch (const std::exception& e) {
      spdlog::debug("{}: read ended: {}", station_id_, e.what());
      lose_connection();
      co_return;
    }
    spdlog::trace("{} <- {}", station_id_, text);
    auto frame = parse_frame(text);
    if (!frame) {
      // Not a frame we can answer by id; a real station logs and drops it.
      spdlog::debug("{}: dropped malformed frame: {}", station_id_, text.substr(0, 200));
      continue;
    }
    if (frame->type == MessageType::call) {
      hooks_.on_call(*frame);
    } else if (!pending_call_id_.empty() && frame->message_id == pending_call_id_) {
      pending_response_ = std::move(*frame);
      response_signal_.cancel();
    }
  }
}

awaitable<void> Transport::writer() {
  while (!lost_) {
    while (!outbox_.empty() && !lost_) {
      const std::string frame = std::move(outbox_.front());
      outbox_.pop_front();
      spdlog::trace("{} -> {}", station_id_, frame);
      auto [ec] = co_await connection_->write(frame);
      if (ec) {
        spdlog::debug("{}: write failed: {}", station_id_, ec.message());
        lose_connection();
        co_return;
      }
    }
    if (lost_) break;
    write_signal_.expires_at(SteadyClock::time_point::max());
    co_await write_signal_.async_wait(net::as_tuple(use_awaitable));
  }
}

void Transport::enqueue_frame(std::string frame) {
  outbox_.push_back(std::move(frame));
  write_signal_.cancel();
}

void Transport::reply(const std::string& message_id, const Json& payload) {
  enqueue_frame(make_call_result(message_id, payload));
}

void Transport::reply_error(const std::string& message_id, const std::string& code,
                            const std::string& description) {
  enqueue_frame(make_call_error(message_id, code, description));
}

awaitable<Frame> Transport::call(std::string action, Json payload, std::string message_id) {
  if (message_id.empty()) message_id = next_message_id();
  std::string text = make_call(message_id, action, payload);
  co_return co_await call_text(std::move(action), std::move(text), std::move(message_id));
}

awaitable<Frame> Transport::call_text(std::string action, std::string text,
                                      std::string message_id) {
  pending_call_id_ = message_id;
  pending_response_.reset();
  const auto sent_at = SteadyClock::now();
  enqueue_frame(std::move(text));
  ++stats_.calls_sent;
  if (probe_) probe_->on_call_sent();
  response_signal_.expires_after(seconds_real(options_.response_timeout_s));
  co_await response_signal_.async_wait(net::as_tuple(use_awaitable));
  pending_call_id_.clear();
  if (!pending_response_) {
    if (lost_) throw std::runtime_error(action + " lost with the connection");
    ++stats_.call_timeouts;
    if (probe_) probe_->on_timeout();
    throw CallTimeout(action + " not answered in time");
  }
  Frame response = std::move(*pending_response_);
  pending_response_.reset();
  ++stats_.calls_answered;
  const auto latency =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - sent_at);
  // The fleet's probe keeps the run's latencies; a station without one keeps its own.
  if (probe_)
    probe_->on_answer(latency, response.type == MessageType::call_error);
  else
    stats_.latency.record(latency);
  if (response.type == MessageType::call_error) {
    ++stats_.call_errors_received;
    ++stats_.call_error_codes[response.error_code];
  }
  co_return response;
}

}  // namespace chargegrid::sim::detail
