#include "station.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <cmath>

namespace chargegrid::sim::detail {

namespace net = boost::asio;
using namespace net::experimental::awaitable_operators;
using net::awaitable;
using net::use_awaitable;

namespace {

// "41424344" -> "ABCD"; nullopt for anything that is not pairs of hex digits.
std::optional<std::string> decode_hex(const std::string& hex) {
  if (hex.size() % 2) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int byte = 0;
    for (char c : hex.substr(i, 2)) {
      byte <<= 4;
      if (c >= '0' && c <= '9')
        byte |= c - '0';
      else if (c >= 'a' && c <= 'f')
        byte |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        byte |= c - 'A' + 10;
      else
        return std::nullopt;
    }
    out += static_cast<char>(byte);
  }
  return out;
}

// The call failed in a way that ends the connection (no answer in time).
struct CallTimeout : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A CSMS request that cannot be answered with a result: answered with this CALLERROR.
struct CallError : std::runtime_error {
  CallError(std::string code_, const std::string& description)
      : std::runtime_error(description), code(std::move(code_)) {}
  std::string code;
};

const Json& require(const Json& payload, const char* field, OcppVersion version) {
  if (!payload.is_object() || !payload.contains(field)) {
    throw CallError(version == OcppVersion::v16 ? "OccurenceConstraintViolation"
                                                : "OccurrenceConstraintViolation",
                    std::string("missing required field ") + field);
  }
  return payload.at(field);
}

int require_int(const Json& payload, const char* field, OcppVersion version) {
  const Json& value = require(payload, field, version);
  if (!value.is_number_integer()) {
    throw CallError("TypeConstraintViolation", std::string(field) + " must be an integer");
  }
  return value.get<int>();
}

std::string require_string(const Json& payload, const char* field, OcppVersion version) {
  const Json& value = require(payload, field, version);
  if (!value.is_string()) {
    throw CallError("TypeConstraintViolation", std::string(field) + " must be a string");
  }
  return value.get<std::string>();
}

std::chrono::steady_clock::duration seconds_real(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(std::max(0.0, s)));
}

}  // namespace

Station::Station(Strand strand, std::string id, StationOptions options,
                 boost::asio::ssl::context* tls,
                 std::optional<boost::asio::ip::address> source_address,
                 std::chrono::milliseconds start_delay, FleetProbe* probe,
                 std::function<void()> on_finished)
    : strand_(strand),
      id_(std::move(id)),
      options_(std::move(options)),
      tls_(tls),
      source_address_(source_address),
      start_delay_(start_delay),
      probe_(probe),
      on_finished_(std::move(on_finished)),
      wake_timer_(strand),
      write_signal_(strand),
      response_signal_(strand),
      heartbeat_interval_s_(options_.default_heartbeat_s),
      meter_interval_s_(options_.meter_interval_s),
      import_register_wh_(options_.meter.initial_import_register_wh),
      export_register_wh_(options_.meter.initial_export_register_wh) {
  options_.connectors = std::max(1, options_.connectors);
  if (options_.time_scale <= 0 || !std::isfinite(options_.time_scale)) options_.time_scale = 1.0;
  if (options_.identity.serial_number.empty()) options_.identity.serial_number = id_;
  for (int c = 1; c <= options_.connectors; ++c) connector_available_[c] = true;
  stats_.stations = 1;
  const std::string interval = std::to_string(options_.default_heartbeat_s);
  const std::string sample = std::to_string(static_cast<int>(options_.meter_interval_s));
  if (options_.version == OcppVersion::v16) {
    variables_ = {
        {"HeartbeatInterval", {interval, false}},
        {"MeterValueSampleInterval", {sample, false}},
        {"NumberOfConnectors", {std::to_string(options_.connectors), true}},
        {"MeterValuesSampledData",
         {"Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC", false}},
        {"AuthorizeRemoteTxRequests", {"true", false}},
        {"ConnectionTimeOut", {"60", false}},
        {"LocalPreAuthorize", {"false", false}},
        {"StopTransactionOnEVSideDisconnect", {"true", true}},
        {"SupportedFeatureProfiles",
         {"Core,RemoteTrigger,SmartCharging,LocalAuthListManagement,Reservation,"
          "FirmwareManagement",
          true}},
        {"AuthorizationKey", {"", false, true}},
    };
  } else {
    variables_ = {
        {"OCPPCommCtrlr/HeartbeatInterval", {interval, false}},
        {"SampledDataCtrlr/TxUpdatedInterval", {sample, false}},
        {"SampledDataCtrlr/TxUpdatedMeasurands",
         {"Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC", false}},
        {"AuthCtrlr/AuthorizeRemoteStart", {"true", false}},
        {"TxCtrlr/EVConnectionTimeOut", {"60", false}},
        {"DeviceDataCtrlr/ItemsPerMessage", {"20", true}},
        {"ChargingStation/Model", {options_.identity.model, true}},
        {"ChargingStation/VendorName", {options_.identity.vendor, true}},
        {"SecurityCtrlr/BasicAuthPassword", {"", false, true}},
    };
  }
}

void Station::start() {
  net::co_spawn(
      strand_, [self = shared_from_this()]() { return self->run(); }, net::detached);
}

void Station::stop() {
  net::post(strand_, [self = shared_from_this()] {
    if (self->stopping_) return;
    self->stopping_ = true;
    if (self->session_) self->session_->stop_reason = "Other";
    self->wake();
  });
}

void Station::wake() {
  wake_timer_.cancel();
}

std::chrono::nanoseconds Station::real(double simulated_seconds) const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(std::max(0.0, simulated_seconds) / options_.time_scale));
}

bool Station::sessions_complete() const {
  return options_.sessions > 0 && sessions_begun_ >= options_.sessions && !session_ &&
         !remote_start_;
}

awaitable<void> Station::sleep_until(SteadyClock::time_point until) {
  wake_timer_.expires_at(until);
  co_await wake_timer_.async_wait(net::as_tuple(use_awaitable));
  if (connected_ && connection_lost_) throw std::runtime_error("connection lost");
}

awaitable<void> Station::run() {
  if (start_delay_.count() > 0) co_await sleep_until(SteadyClock::now() + start_delay_);
  next_session_ = SteadyClock::now() + real(options_.first_session_delay_s);
  double backoff_s = options_.reconnect_min_s;
  bool finished = false;
  while (!stopping_ && !finished) {
    ConnectRequest request{options_.endpoint, id_, subprotocol(options_.version), options_.password,
                           source_address_,   tls_};
    std::unique_ptr<Connection> connection;
    try {
      connection = co_await connect(request);
    } catch (const std::exception& e) {
      ++stats_.connect_failures;
      if (probe_) probe_->on_connect_failure();
      spdlog::debug("{}: connect failed: {}", id_, e.what());
    }
    if (connection) {
      ++stats_.connects;
      if (probe_) probe_->on_connected();
      if (ever_connected_) ++stats_.reconnects;
      ever_connected_ = true;
      connected_ = true;
      backoff_s = options_.reconnect_min_s;
      try {
        co_await run_connection(*connection);
      } catch (const std::exception& e) {
        spdlog::debug("{}: connection ended: {}", id_, e.what());
      }
      connected_ = false;
      if (probe_) probe_->on_disconnected(booted_);
      booted_ = false;
      pending_call_id_.clear();
      outbox_.clear();
      co_await connection->close();
      connection.reset();
      finished = sessions_complete() && transaction_queue_.empty();
      if (reboot_requested_) {
        reboot_requested_ = false;
        boot_reason_ = "RemoteReset";
        continue;  // a reset station comes straight back
      }
    }
    if (stopping_ || finished) break;
    // Offline: the session goes on, its transaction messages wait in the queue.
    const auto reconnect_at = SteadyClock::now() + seconds_real(backoff_s);
    while (!stopping_ && SteadyClock::now() < reconnect_at) {
      advance_session(SteadyClock::now());
      auto until = reconnect_at;
      if (session_) until = std::min({until, session_->next_meter, session_->ends});
      co_await sleep_until(until);
    }
    backoff_s = std::min(options_.reconnect_max_s, backoff_s * 2);
  }
  if (sessions_complete() && transaction_queue_.empty()) ++stats_.stations_finished;
  if (on_finished_) on_finished_();
}

awaitable<void> Station::run_connection(Connection& connection) {
  // The three parts end by themselves once the connection is lost (flag + timer
  // cancels), so nothing depends on cancelling an outstanding WebSocket read.
  connection_lost_ = false;
  co_await (reader(connection) && writer(connection) && drive(connection));
}

void Station::lose_connection() {
  connection_lost_ = true;
  response_signal_.cancel();
  write_signal_.cancel();
  wake_timer_.cancel();
}

awaitable<void> Station::drive(Connection& connection) {
  try {
    co_await behaviour();
  } catch (const std::exception& e) {
    spdlog::debug("{}: {}", id_, e.what());
  }
  const bool peer_gone = connection_lost_;
  lose_connection();
  // Ends the reader: after a close handshake (or a dead peer) its read fails.
  if (!peer_gone) co_await connection.close();
}

awaitable<void> Station::reader(Connection& connection) {
  for (;;) {
    std::string text;
    try {
      text = co_await connection.read();
    } catch (const std::exception& e) {
      spdlog::debug("{}: read ended: {}", id_, e.what());
      lose_connection();
      co_return;
    }
    spdlog::trace("{} <- {}", id_, text);
    auto frame = parse_frame(text);
    if (!frame) {
      // Not a frame we can answer by id; a real station logs and drops it.
      spdlog::debug("{}: dropped malformed frame: {}", id_, text.substr(0, 200));
      continue;
    }
    if (frame->type == MessageType::call) {
      handle_csms_call(*frame);
    } else if (!pending_call_id_.empty() && frame->message_id == pending_call_id_) {
      pending_response_ = std::move(*frame);
      response_signal_.cancel();
    }
  }
}

awaitable<void> Station::writer(Connection& connection) {
  while (!connection_lost_) {
    while (!outbox_.empty() && !connection_lost_) {
      const std::string frame = std::move(outbox_.front());
      outbox_.pop_front();
      spdlog::trace("{} -> {}", id_, frame);
      auto [ec] = co_await connection.write(frame);
      if (ec) {
        spdlog::debug("{}: write failed: {}", id_, ec.message());
        lose_connection();
        co_return;
      }
    }
    if (connection_lost_) break;
    write_signal_.expires_at(SteadyClock::time_point::max());
    co_await write_signal_.async_wait(net::as_tuple(use_awaitable));
  }
}

void Station::enqueue_frame(std::string frame) {
  outbox_.push_back(std::move(frame));
  write_signal_.cancel();
}

awaitable<Frame> Station::call(std::string action, Json payload, std::string message_id) {
  if (message_id.empty()) message_id = next_message_id();
  std::string text = make_call(message_id, action, payload);
  co_return co_await call_text(std::move(action), std::move(text), std::move(message_id));
}

awaitable<Frame> Station::call_text(std::string action, std::string text, std::string message_id) {
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
    if (connection_lost_) throw std::runtime_error(action + " lost with the connection");
    ++stats_.call_timeouts;
    if (probe_) probe_->on_timeout();
    throw CallTimeout(action + " not answered in time");
  }
  Frame response = std::move(*pending_response_);
  pending_response_.reset();
  ++stats_.calls_answered;
  const auto latency =
      std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - sent_at);
  stats_.latency.record(latency);
  if (probe_) probe_->on_answer(latency, response.type == MessageType::call_error);
  if (response.type == MessageType::call_error) {
    ++stats_.call_errors_received;
    ++stats_.call_error_codes[response.error_code];
  }
  co_return response;
}

awaitable<void> Station::boot() {
  for (;;) {
    const Json payload = options_.version == OcppVersion::v16
                             ? v16::boot_notification(options_.identity)
                             : v201::boot_notification(options_.identity, boot_reason_);
    const Frame response = co_await call("BootNotification", payload);
    int interval = 0;
    std::string status;
    if (response.type == MessageType::call_result && response.payload.is_object()) {
      interval = response.payload.value("interval", 0);
      status = response.payload.value("status", "");
    }
    if (status == "Accepted") {
      ++stats_.boots_accepted;
      if (probe_) probe_->on_booted();
      if (interval > 0) heartbeat_interval_s_ = interval;
      booted_ = true;
      boot_reason_ = "PowerUp";
      co_return;
    }
    if (status == "Pending") {
      ++stats_.boots_pending;
    } else {
      ++stats_.boots_rejected;
    }
    // Pending: the CSMS may configure us meanwhile (reader answers). Rejected: retry later.
    const double wait_s = interval > 0 ? interval : options_.default_heartbeat_s;
    co_await sleep_until(SteadyClock::now() + real(wait_s));
    if (stopping_) throw boost::system::system_error(net::error::operation_aborted);
    if (options_.version == OcppVersion::v201 && !triggered_.empty()) {
      // A Pending station may only send what the CSMS triggered; Boot is retried anyway.
      triggered_.clear();
    }
  }
}

std::string Station::connector_status_name(int connector) const {
  const bool available = connector == 0 ? connector_available_.at(1) || options_.connectors > 1
                                        : connector_available_.at(connector);
  const bool busy = session_ && session_->connector == connector;
  if (options_.version == OcppVersion::v16) {
    if (busy) return "Charging";
    return available ? "Available" : "Unavailable";
  }
  if (busy) return "Occupied";
  return available ? "Available" : "Unavailable";
}

awaitable<void> Station::send_status(int connector) {
  const auto now = std::chrono::system_clock::now();
  if (options_.version == OcppVersion::v16) {
    Json payload = v16::status_notification(connector, connector_status_name(connector), now);
    co_await call("StatusNotification", std::move(payload));
  } else {
    Json payload = v201::status_notification(connector, 1, connector_status_name(connector), now);
    co_await call("StatusNotification", std::move(payload));
  }
}

awaitable<void> Station::send_all_status() {
  status_dirty_ = false;
  if (options_.version == OcppVersion::v16) co_await send_status(0);
  for (int c = 1; c <= options_.connectors; ++c) co_await send_status(c);
}

awaitable<void> Station::behaviour() {
  co_await boot();
  co_await send_all_status();
  next_heartbeat_ = SteadyClock::now() + real(heartbeat_interval_s_);
  for (;;) {
    const auto now = SteadyClock::now();
    advance_session(now);
    co_await flush_transaction_queue();
    co_await handle_triggers();
    if (status_dirty_) co_await send_all_status();
    if (reboot_requested_ && !session_ && transaction_queue_.empty()) co_return;
    if (stopping_) {
      if (session_) end_session(SteadyClock::now(), "Other");
      co_await flush_transaction_queue();
      co_return;
    }
    if (sessions_complete() && transaction_queue_.empty()) co_return;

    if (SteadyClock::now() >= next_heartbeat_) {
      Json payload = Json::object();  // empty in both versions
      co_await call("Heartbeat", std::move(payload));
      next_heartbeat_ = SteadyClock::now() + real(heartbeat_interval_s_);
    }
    if (!session_ && remote_start_) {
      Json request = std::move(*remote_start_);
      remote_start_.reset();
      std::optional<int> remote_start_id;
      if (request.contains("remoteStartId")) remote_start_id = request["remoteStartId"].get<int>();
      std::string id_tag = request["idTag"].get<std::string>();
      co_await start_session(std::move(id_tag), true, remote_start_id);
      continue;
    }
    const bool more_sessions = options_.sessions > 0 && sessions_begun_ < options_.sessions;
    if (!session_ && more_sessions && SteadyClock::now() >= next_session_) {
      co_await start_session(options_.id_tag, false, std::nullopt);
      continue;
    }
    auto until = next_heartbeat_;
    if (session_) until = std::min({until, session_->next_meter, session_->ends});
    if (!session_ && more_sessions) until = std::min(until, next_session_);
    const bool queue_ready =
        !transaction_queue_.empty() && transaction_queue_.front().retry_at <= SteadyClock::now();
    if (queue_ready || !triggered_.empty() || status_dirty_) continue;
    if (!transaction_queue_.empty()) until = std::min(until, transaction_queue_.front().retry_at);
    if (session_ && session_->stop_reason) continue;
    co_await sleep_until(until);
  }
}

awaitable<void> Station::start_session(std::string id_tag, bool remote,
                                       std::optional<int> remote_start_id) {
  ++sessions_begun_;
  const int connector = (session_counter_ % options_.connectors) + 1;
  if (!connector_available_[connector]) {
    next_session_ = SteadyClock::now() + real(options_.idle_between_sessions_s);
    co_return;
  }
  const bool authorize_first =
      !remote || variables_[options_.version == OcppVersion::v16 ? "AuthorizeRemoteTxRequests"
                                                                 : "AuthCtrlr/AuthorizeRemoteStart"]
                         .value == "true";
  if (authorize_first) {
    const Json payload =
        options_.version == OcppVersion::v16 ? v16::authorize(id_tag) : v201::authorize(id_tag);
    const Frame response = co_await call("Authorize", payload);
    std::string status;
    if (response.type == MessageType::call_result && response.payload.is_object()) {
      const char* info = options_.version == OcppVersion::v16 ? "idTagInfo" : "idTokenInfo";
      if (response.payload.contains(info) && response.payload[info].is_object()) {
        status = response.payload[info].value("status", "");
      }
    }
    if (status != "Accepted") {
      spdlog::debug("{}: {} not authorized ({})", id_, id_tag, status);
      next_session_ = SteadyClock::now() + real(options_.idle_between_sessions_s);
      co_return;
    }
  }
  MeterConfig meter_config = options_.meter;
  meter_config.seed = options_.meter.seed * 7919 + std::hash<std::string>{}(id_) +
                      static_cast<std::uint64_t>(session_counter_);
  // The station's meter registers carry over from one session to the next.
  meter_config.initial_import_register_wh = import_register_wh_;
  meter_config.initial_export_register_wh = export_register_wh_;
  const auto now = SteadyClock::now();
  ++session_counter_;
  ++stats_.sessions_started;
  if (probe_) probe_->on_session_started();
  Session session{
      .local_id = session_counter_,
      .connector = connector,
      .id_tag = id_tag,
      .transaction_uid =
          id_ + "-" + std::to_string(session_counter_) + "-" +
          std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 1000000000),
      .remote_start_id = remote_start_id,
      .remote = remote,
      .started = now,
      .last_meter = now,
      .next_meter = now + real(meter_interval_s_),
      .ends = now + real(options_.session_length_s),
      .meter = MeterModel(meter_config)};
  session_.emplace(std::move(session));
  session_->meter.set_power_limit_w(power_limit_w_);
  const auto wall = std::chrono::system_clock::now();
  if (options_.version == OcppVersion::v16) {
    Json preparing = v16::status_notification(connector, "Preparing", wall);
    co_await call("StatusNotification", std::move(preparing));
    enqueue_transaction(
        "StartTransaction",
        v16::start_transaction(connector, id_tag, session_->meter.import_register_whole_wh(), wall),
        session_->local_id);
    co_await flush_transaction_queue();
    if (session_) {
      Json charging =
          v16::status_notification(connector, "Charging", std::chrono::system_clock::now());
      co_await call("StatusNotification", std::move(charging));
    }
  } else {
    Json occupied = v201::status_notification(connector, 1, "Occupied", wall);
    co_await call("StatusNotification", std::move(occupied));
    v201::TransactionEvent event;
    event.event_type = "Started";
    event.trigger_reason = remote ? "RemoteStart" : "Authorized";
    event.seq_no = session_->seq_no++;
    event.time = wall;
    event.transaction_id = session_->transaction_uid;
    event.charging_state = "Charging";
    event.remote_start_id = remote_start_id;
    event.id_token = id_tag;
    event.evse_id = connector;
    event.meter_values = session_->meter.sample();
    event.context = "Transaction.Begin";
    event.offline = !booted_;
    enqueue_transaction("TransactionEvent", v201::transaction_event(event), session_->local_id);
  }
}

void Station::advance_session(SteadyClock::time_point now) {
  if (!session_) return;
  if (session_->stop_reason) {
    end_session(now, *session_->stop_reason);
    return;
  }
  while (session_ && now >= session_->next_meter && session_->next_meter < session_->ends) {
    queue_meter_values(session_->next_meter);
    session_->next_meter += real(meter_interval_s_);
  }
  if (session_ && now >= session_->ends) end_session(now, "Local");
}

void Station::queue_meter_values(SteadyClock::time_point at) {
  Session& s = *session_;
  const double simulated_s =
      std::chrono::duration<double>(at - s.last_meter).count() * options_.time_scale;
  s.meter.advance(simulated_s);
  s.last_meter = at;
  const auto wall =
      std::chrono::system_clock::now() -
      std::chrono::duration_cast<std::chrono::system_clock::duration>(SteadyClock::now() - at);
  if (options_.version == OcppVersion::v16) {
    enqueue_transaction("MeterValues", v16::meter_values(s.connector, 0, s.meter.sample(), wall),
                        s.local_id);
  } else {
    v201::TransactionEvent event;
    event.event_type = "Updated";
    event.trigger_reason = "MeterValuePeriodic";
    event.seq_no = s.seq_no++;
    event.time = wall;
    event.transaction_id = s.transaction_uid;
    event.charging_state = s.meter.power_w() == 0 ? "SuspendedEV" : "Charging";
    event.offline = !booted_;
    event.meter_values = s.meter.sample();
    enqueue_transaction("TransactionEvent", v201::transaction_event(event), s.local_id);
  }
}

void Station::end_session(SteadyClock::time_point now, const std::string& reason) {
  Session& s = *session_;
  const double simulated_s =
      std::chrono::duration<double>(now - s.last_meter).count() * options_.time_scale;
  s.meter.advance(simulated_s);
  s.last_meter = now;
  const auto wall = std::chrono::system_clock::now();
  if (options_.version == OcppVersion::v16) {
    enqueue_transaction("StopTransaction",
                        v16::stop_transaction(0, s.id_tag, s.meter.import_register_whole_wh(), wall,
                                              reason, s.meter.sample()),
                        s.local_id);
  } else {
    v201::TransactionEvent event;
    event.event_type = "Ended";
    event.trigger_reason = reason == "Remote"           ? "RemoteStop"
                           : reason == "DeAuthorized"   ? "Deauthorized"
                           : reason == "ImmediateReset" ? "ResetCommand"
                           : reason == "Local"          ? "StopAuthorized"
                                                        : "AbnormalCondition";
    event.seq_no = s.seq_no++;
    event.time = wall;
    event.transaction_id = s.transaction_uid;
    event.charging_state = "EVConnected";
    event.stopped_reason = reason;
    event.offline = !booted_;
    event.id_token = reason == "Local" ? std::optional<std::string>(s.id_tag) : std::nullopt;
    event.meter_values = s.meter.sample();
    event.context = "Transaction.End";
    enqueue_transaction("TransactionEvent", v201::transaction_event(event), s.local_id);
  }
  import_register_wh_ = s.meter.import_register_wh();
  export_register_wh_ = s.meter.export_register_wh();
  session_.reset();
  if (limit_ends_with_session_) {  // a TxProfile applies to its transaction only
    power_limit_w_ = -1.0;
    limit_ends_with_session_ = false;
  }
  ++stats_.sessions_completed;
  if (probe_) probe_->on_session_completed();
  status_dirty_ = true;
  next_session_ = now + real(options_.idle_between_sessions_s);
}

void Station::enqueue_transaction(std::string action, Json payload, int session) {
  transaction_queue_.push_back({std::move(action), std::move(payload), session, {}, false});
}

awaitable<void> Station::flush_transaction_queue() {
  while (booted_ && !transaction_queue_.empty()) {
    QueuedMessage& message = transaction_queue_.front();
    // Refused before: it waits for its retry time, and so does everything behind it.
    if (SteadyClock::now() < message.retry_at) co_return;
    if (options_.version == OcppVersion::v16 && message.action != "StartTransaction") {
      const auto known = transaction_ids_.find(message.session);
      if (known != transaction_ids_.end()) {
        message.payload["transactionId"] = known->second;
      } else if (message.action == "StopTransaction") {
        // The CSMS never gave this session a transaction id: nothing to stop.
        transaction_queue_.pop_front();
        continue;
      } else {
        message.payload.erase("transactionId");
      }
    }
    if (message.message_id.empty()) message.message_id = next_message_id();
    if (message.sent) ++stats_.transaction_messages_resent;
    message.sent = true;
    // The frame is built from the queued payload before waiting; what the response handler
    // needs is copied (it may queue more messages while we wait).
    const QueuedMessage sent{message.action, Json(), message.session, message.message_id, true};
    std::string text = make_call(sent.message_id, sent.action, message.payload);
    std::string action = sent.action;
    std::string message_id = sent.message_id;
    const Frame response =
        co_await call_text(std::move(action), std::move(text), std::move(message_id));
    QueuedMessage& answered = transaction_queue_.front();
    if (response.type == MessageType::call_error &&
        answered.refusals + 1 < options_.transaction_message_attempts) {
      ++answered.refusals;
      answered.retry_at = SteadyClock::now() +
                          real(options_.transaction_message_retry_interval_s * answered.refusals);
      answered.message_id.clear();  // a retry is a new CALL
      co_return;
    }
    transaction_queue_.pop_front();
    handle_transaction_response(sent, response);
  }
}

void Station::handle_transaction_response(const QueuedMessage& message, const Frame& response) {
  if (response.type != MessageType::call_result || !response.payload.is_object()) return;
  const Json& payload = response.payload;
  std::string status;
  if (options_.version == OcppVersion::v16) {
    if (payload.contains("idTagInfo") && payload["idTagInfo"].is_object()) {
      status = payload["idTagInfo"].value("status", "");
    }
    if (message.action == "StartTransaction" && payload.contains("transactionId") &&
        payload["transactionId"].is_number_integer()) {
      transaction_ids_[message.session] = payload["transactionId"].get<int>();
    }
    if (message.action == "StartTransaction" && status != "Accepted" && session_ &&
        session_->local_id == message.session && !session_->stop_reason) {
      session_->stop_reason = "DeAuthorized";
    }
  } else {
    if (payload.contains("idTokenInfo") && payload["idTokenInfo"].is_object()) {
      status = payload["idTokenInfo"].value("status", "");
      if (status != "Accepted" && session_ && session_->local_id == message.session &&
          !session_->stop_reason) {
        session_->stop_reason = "DeAuthorized";
      }
    }
  }
}

awaitable<void> Station::handle_triggers() {
  while (!triggered_.empty()) {
    const std::string what = triggered_.front();
    triggered_.pop_front();
    if (what == "Heartbeat") {
      Json payload = Json::object();
      co_await call("Heartbeat", std::move(payload));
    } else if (what == "StatusNotification") {
      co_await send_all_status();
    } else if (what == "BootNotification") {
      const Json payload = options_.version == OcppVersion::v16
                               ? v16::boot_notification(options_.identity)
                               : v201::boot_notification(options_.identity, "Triggered");
      co_await call("BootNotification", payload);
    } else if (what == "MeterValues") {
      const auto now = std::chrono::system_clock::now();
      if (options_.version == OcppVersion::v16) {
        MeterModel idle(options_.meter);
        const auto& meter = session_ ? session_->meter : idle;
        const int connector = session_ ? session_->connector : 1;
        Json payload = v16::meter_values(connector, std::nullopt, meter.sample(), now, "Trigger");
        co_await call("MeterValues", std::move(payload));
      } else {
        MeterModel idle(options_.meter);
        const auto& meter = session_ ? session_->meter : idle;
        v201::TransactionEvent sample_event;
        sample_event.event_type = "Updated";
        sample_event.trigger_reason = "Trigger";
        sample_event.time = now;
        sample_event.meter_values = meter.sample();
        sample_event.context = "Trigger";
        Json sampled = v201::transaction_event(sample_event)["meterValue"];
        Json payload = Json::object();
        payload["evseId"] = session_ ? session_->connector : 1;
        payload["meterValue"] = std::move(sampled);
        co_await call("MeterValues", payload);
      }
    } else if (what == "TransactionEvent" && session_) {
      v201::TransactionEvent event;
      event.event_type = "Updated";
      event.trigger_reason = "Trigger";
      event.seq_no = session_->seq_no++;
      event.time = std::chrono::system_clock::now();
      event.transaction_id = session_->transaction_uid;
      event.charging_state = "Charging";
      event.meter_values = session_->meter.sample();
      event.context = "Trigger";
      enqueue_transaction("TransactionEvent", v201::transaction_event(event), session_->local_id);
      co_await flush_transaction_queue();
    }
  }
}

void Station::apply_charging_limit(const Json& schedule) {
  // The first period of the schedule is the limit now; amperes convert at nominal voltage.
  if (!schedule.is_object() || !schedule.contains("chargingSchedulePeriod") ||
      !schedule["chargingSchedulePeriod"].is_array() ||
      schedule["chargingSchedulePeriod"].empty()) {
    throw CallError(options_.version == OcppVersion::v16 ? "OccurenceConstraintViolation"
                                                         : "OccurrenceConstraintViolation",
                    "chargingSchedulePeriod missing");
  }
  const Json& period = schedule["chargingSchedulePeriod"][0];
  if (!period.contains("limit") || !period["limit"].is_number()) {
    throw CallError("TypeConstraintViolation", "limit must be a number");
  }
  double limit = period["limit"].get<double>();
  if (schedule.value("chargingRateUnit", "W") == "A") {
    const int phases = period.value("numberPhases", options_.meter.phases);
    limit *= options_.meter.nominal_voltage_v * phases;
  }
  power_limit_w_ = std::max(0.0, limit);
  if (session_) session_->meter.set_power_limit_w(power_limit_w_);
}

void Station::handle_csms_call(const Frame& frame) {
  ++stats_.calls_received;
  ++stats_.calls_received_by_action[frame.action];
  try {
    const Json result =
        options_.version == OcppVersion::v16 ? handle_v16(frame) : handle_v201(frame);
    enqueue_frame(make_call_result(frame.message_id, result));
  } catch (const CallError& e) {
    if (e.code == "NotImplemented") ++stats_.not_implemented_sent;
    enqueue_frame(make_call_error(frame.message_id, e.code, e.what()));
  } catch (const std::exception& e) {
    enqueue_frame(make_call_error(frame.message_id, "FormationViolation", e.what()));
  }
  wake();
}

// Calls both versions answer alike.
Json Station::handle_common(const std::string& action, const Json& p, OcppVersion v) {
  if (action == "ClearChargingProfile") {
    const bool had = power_limit_w_ >= 0;
    power_limit_w_ = -1.0;
    if (session_) session_->meter.set_power_limit_w(-1.0);
    return {{"status", had ? "Accepted" : "Unknown"}};
  }
  if (action == "DataTransfer") {
    const std::string vendor = require_string(p, "vendorId", v);
    if (vendor != options_.identity.vendor) return {{"status", "UnknownVendorId"}};
    Json result = {{"status", "Accepted"}};
    if (p.contains("data")) result["data"] = p["data"];
    return result;
  }
  if (action == "SendLocalList") {
    const bool v16 = v == OcppVersion::v16;
    const int version = require_int(p, v16 ? "listVersion" : "versionNumber", v);
    const std::string update = require_string(p, "updateType", v);
    if (update == "Full") local_list_.clear();
    for (const auto& entry : p.value("localAuthorizationList", Json::array())) {
      const std::string token = v16 ? require_string(entry, "idTag", v)
                                    : require_string(require(entry, "idToken", v), "idToken", v);
      const char* info_key = v16 ? "idTagInfo" : "idTokenInfo";
      if (entry.contains(info_key))
        local_list_[token] = entry[info_key].value("status", "Accepted");
      else
        local_list_.erase(token);  // a differential update without info removes the entry
    }
    if (update == "Differential" && version <= local_list_version_)
      return {{"status", "VersionMismatch"}};
    local_list_version_ = version;
    return {{"status", "Accepted"}};
  }
  if (action == "GetLocalListVersion")
    return {{v == OcppVersion::v16 ? "listVersion" : "versionNumber", local_list_version_}};
  if (action == "ReserveNow") {
    const bool v16 = v == OcppVersion::v16;
    const int id = require_int(p, v16 ? "reservationId" : "id", v);
    const std::string token = v16 ? require_string(p, "idTag", v)
                                  : require_string(require(p, "idToken", v), "idToken", v);
    if (session_) return {{"status", "Occupied"}};
    reservations_[id] = token;
    return {{"status", "Accepted"}};
  }
  if (action == "CancelReservation") {
    const int id = require_int(p, "reservationId", v);
    return {{"status", reservations_.erase(id) ? "Accepted" : "Rejected"}};
  }
  if (action == "UpdateFirmware") {
    // Downloading is not simulated: the station accepts and keeps its firmware.
    if (v == OcppVersion::v16) return Json::object();
    return {{"status", "Accepted"}};
  }
  if (action == "GetDiagnostics") return {{"fileName", id_ + "-diagnostics.log"}};
  if (action == "GetLog") return {{"status", "Accepted"}, {"filename", id_ + ".log"}};
  throw CallError("NotImplemented", action + " is not supported by this station");
}

Json Station::handle_v16(const Frame& frame) {
  const auto v = OcppVersion::v16;
  const Json& p = frame.payload;
  const std::string& action = frame.action;
  if (action == "RemoteStartTransaction") {
    const std::string id_tag = require_string(p, "idTag", v);
    if (p.contains("connectorId") &&
        (!p["connectorId"].is_number_integer() || p["connectorId"].get<int>() < 1 ||
         p["connectorId"].get<int>() > options_.connectors)) {
      return {{"status", "Rejected"}};
    }
    if (session_ || remote_start_ || stopping_) return {{"status", "Rejected"}};
    if (p.contains("chargingProfile") && p["chargingProfile"].is_object() &&
        p["chargingProfile"].contains("chargingSchedule")) {
      apply_charging_limit(p["chargingProfile"]["chargingSchedule"]);
      limit_ends_with_session_ = true;  // a remote start profile is a TxProfile
    }
    remote_start_ = Json{{"idTag", id_tag}};
    return {{"status", "Accepted"}};
  }
  if (action == "RemoteStopTransaction") {
    const int transaction_id = require_int(p, "transactionId", v);
    if (session_) {
      const auto known = transaction_ids_.find(session_->local_id);
      if (known != transaction_ids_.end() && known->second == transaction_id) {
        session_->stop_reason = "Remote";
        return {{"status", "Accepted"}};
      }
    }
    return {{"status", "Rejected"}};
  }
  if (action == "Reset") {
    const std::string type = require_string(p, "type", v);
    if (type != "Hard" && type != "Soft") throw CallError("PropertyConstraintViolation", "type");
    if (session_) session_->stop_reason = type == "Hard" ? "HardReset" : "SoftReset";
    reboot_requested_ = true;
    return {{"status", "Accepted"}};
  }
  if (action == "UnlockConnector") {
    const int connector = require_int(p, "connectorId", v);
    if (connector < 1 || connector > options_.connectors) return {{"status", "NotSupported"}};
    if (session_ && session_->connector == connector) session_->stop_reason = "UnlockCommand";
    return {{"status", "Unlocked"}};
  }
  if (action == "ChangeAvailability") {
    const int connector = require_int(p, "connectorId", v);
    const std::string type = require_string(p, "type", v);
    if (type != "Operative" && type != "Inoperative") {
      throw CallError("PropertyConstraintViolation", "type");
    }
    if (connector < 0 || connector > options_.connectors) return {{"status", "Rejected"}};
    const bool busy = session_ && (connector == 0 || session_->connector == connector);
    for (auto& [c, available] : connector_available_) {
      if (connector == 0 || c == connector) available = type == "Operative";
    }
    status_dirty_ = true;
    return {{"status", busy && type == "Inoperative" ? "Scheduled" : "Accepted"}};
  }
  if (action == "GetConfiguration") {
    Json known = Json::array();
    Json unknown = Json::array();
    const auto add = [&](const std::string& key, const Variable& var) {
      known.push_back({{"key", key}, {"readonly", var.read_only}, {"value", var.value}});
    };
    if (p.contains("key") && p["key"].is_array() && !p["key"].empty()) {
      for (const auto& key : p["key"]) {
        if (!key.is_string()) throw CallError("TypeConstraintViolation", "key");
        const auto found = variables_.find(key.get<std::string>());
        if (found == variables_.end()) {
          unknown.push_back(key);
        } else {
          add(found->first, found->second);
        }
      }
    } else {
      for (const auto& [key, var] : variables_)
        if (!var.write_only) add(key, var);
    }
    Json result = {{"configurationKey", known}};
    if (!unknown.empty()) result["unknownKey"] = unknown;
    return result;
  }
  if (action == "ChangeConfiguration") {
    const std::string key = require_string(p, "key", v);
    const std::string value = require_string(p, "value", v);
    const auto found = variables_.find(key);
    if (found == variables_.end()) return {{"status", "NotSupported"}};
    if (found->second.read_only) return {{"status", "Rejected"}};
    if (key == "HeartbeatInterval" || key == "MeterValueSampleInterval") {
      int seconds = 0;
      try {
        seconds = std::stoi(value);
      } catch (const std::exception&) {
        return {{"status", "Rejected"}};
      }
      if (seconds <= 0) return {{"status", "Rejected"}};
      if (key == "HeartbeatInterval") {
        heartbeat_interval_s_ = seconds;
        next_heartbeat_ = SteadyClock::now() + real(seconds);
      } else {
        meter_interval_s_ = seconds;
      }
    }
    if (key == "AuthorizationKey") {
      // The key is the password's bytes in hex; the next connection uses it.
      auto password = decode_hex(value);
      if (!password || password->size() < 16) return {{"status", "Rejected"}};
      options_.password = *password;
    }
    found->second.value = value;
    return {{"status", "Accepted"}};
  }
  if (action == "TriggerMessage") {
    const std::string requested = require_string(p, "requestedMessage", v);
    if (requested == "BootNotification" || requested == "Heartbeat" || requested == "MeterValues" ||
        requested == "StatusNotification") {
      triggered_.push_back(requested);
      return {{"status", "Accepted"}};
    }
    if (requested == "DiagnosticsStatusNotification" || requested == "FirmwareStatusNotification") {
      return {{"status", "NotImplemented"}};
    }
    throw CallError("PropertyConstraintViolation", "unknown requestedMessage " + requested);
  }
  if (action == "ClearCache") return {{"status", "Accepted"}};
  if (action == "SetChargingProfile") {
    require_int(p, "connectorId", v);
    const Json& profile = require(p, "csChargingProfiles", v);
    if (!profile.is_object()) throw CallError("TypeConstraintViolation", "csChargingProfiles");
    apply_charging_limit(require(profile, "chargingSchedule", v));
    limit_ends_with_session_ = profile.value("chargingProfilePurpose", "") == "TxProfile";
    return {{"status", "Accepted"}};
  }
  return handle_common(action, p, v);
}

Json Station::handle_v201(const Frame& frame) {
  const auto v = OcppVersion::v201;
  const Json& p = frame.payload;
  const std::string& action = frame.action;
  if (action == "RequestStartTransaction") {
    const Json& token = require(p, "idToken", v);
    const int remote_start_id = require_int(p, "remoteStartId", v);
    const std::string id_token = require_string(token, "idToken", v);
    if (p.contains("evseId") && (!p["evseId"].is_number_integer() || p["evseId"].get<int>() < 1 ||
                                 p["evseId"].get<int>() > options_.connectors)) {
      return {{"status", "Rejected"}};
    }
    if (session_ || remote_start_ || stopping_) return {{"status", "Rejected"}};
    if (p.contains("chargingProfile") && p["chargingProfile"].is_object() &&
        p["chargingProfile"].contains("chargingSchedule") &&
        p["chargingProfile"]["chargingSchedule"].is_array() &&
        !p["chargingProfile"]["chargingSchedule"].empty()) {
      apply_charging_limit(p["chargingProfile"]["chargingSchedule"][0]);
      limit_ends_with_session_ = true;  // a remote start profile is a TxProfile
    }
    remote_start_ = Json{{"idTag", id_token}, {"remoteStartId", remote_start_id}};
    return {{"status", "Accepted"}};
  }
  if (action == "RequestStopTransaction") {
    const std::string transaction_id = require_string(p, "transactionId", v);
    if (session_ && session_->transaction_uid == transaction_id) {
      session_->stop_reason = "Remote";
      return {{"status", "Accepted"}};
    }
    return {{"status", "Rejected"}};
  }
  if (action == "Reset") {
    const std::string type = require_string(p, "type", v);
    if (type != "Immediate" && type != "OnIdle")
      throw CallError("PropertyConstraintViolation", "type");
    if (p.contains("evseId")) return {{"status", "Rejected"}};  // EVSE reset not offered
    if (session_ && type == "Immediate") session_->stop_reason = "ImmediateReset";
    reboot_requested_ = true;
    return {{"status", session_ && type == "OnIdle" ? "Scheduled" : "Accepted"}};
  }
  if (action == "UnlockConnector") {
    const int evse = require_int(p, "evseId", v);
    const int connector = require_int(p, "connectorId", v);
    if (evse < 1 || evse > options_.connectors || connector != 1) {
      return {{"status", "UnknownConnector"}};
    }
    if (session_ && session_->connector == evse) {
      return {{"status", "OngoingAuthorizedTransaction"}};
    }
    return {{"status", "Unlocked"}};
  }
  if (action == "ChangeAvailability") {
    const std::string status = require_string(p, "operationalStatus", v);
    if (status != "Operative" && status != "Inoperative") {
      throw CallError("PropertyConstraintViolation", "operationalStatus");
    }
    int evse = 0;
    if (p.contains("evse") && p["evse"].is_object()) evse = require_int(p["evse"], "id", v);
    if (evse < 0 || evse > options_.connectors) return {{"status", "Rejected"}};
    const bool busy = session_ && (evse == 0 || session_->connector == evse);
    for (auto& [c, available] : connector_available_) {
      if (evse == 0 || c == evse) available = status == "Operative";
    }
    status_dirty_ = true;
    return {{"status", busy && status == "Inoperative" ? "Scheduled" : "Accepted"}};
  }
  if (action == "GetVariables") {
    const Json& requests = require(p, "getVariableData", v);
    if (!requests.is_array() || requests.empty()) {
      throw CallError("OccurrenceConstraintViolation", "getVariableData must not be empty");
    }
    Json results = Json::array();
    for (const auto& item : requests) {
      const std::string component = require_string(require(item, "component", v), "name", v);
      const std::string variable = require_string(require(item, "variable", v), "name", v);
      Json result = {{"component", item["component"]}, {"variable", item["variable"]}};
      const auto found = variables_.find(component + "/" + variable);
      const bool component_known = std::any_of(
          variables_.begin(), variables_.end(),
          [&](const auto& entry) { return entry.first.rfind(component + "/", 0) == 0; });
      if (found != variables_.end() && found->second.write_only) {
        result["attributeStatus"] = "Rejected";
      } else if (found != variables_.end()) {
        result["attributeStatus"] = "Accepted";
        result["attributeValue"] = found->second.value;
      } else {
        result["attributeStatus"] = component_known ? "UnknownVariable" : "UnknownComponent";
      }
      results.push_back(result);
    }
    return {{"getVariableResult", results}};
  }
  if (action == "SetVariables") {
    const Json& requests = require(p, "setVariableData", v);
    if (!requests.is_array() || requests.empty()) {
      throw CallError("OccurrenceConstraintViolation", "setVariableData must not be empty");
    }
    Json results = Json::array();
    for (const auto& item : requests) {
      const std::string component = require_string(require(item, "component", v), "name", v);
      const std::string variable = require_string(require(item, "variable", v), "name", v);
      const std::string value = require_string(item, "attributeValue", v);
      Json result = {{"component", item["component"]}, {"variable", item["variable"]}};
      const std::string key = component + "/" + variable;
      const auto found = variables_.find(key);
      if (found == variables_.end()) {
        const bool component_known = std::any_of(
            variables_.begin(), variables_.end(),
            [&](const auto& entry) { return entry.first.rfind(component + "/", 0) == 0; });
        result["attributeStatus"] = component_known ? "UnknownVariable" : "UnknownComponent";
      } else if (found->second.read_only) {
        result["attributeStatus"] = "Rejected";
      } else {
        std::string status = "Accepted";
        if (key == "OCPPCommCtrlr/HeartbeatInterval" ||
            key == "SampledDataCtrlr/TxUpdatedInterval") {
          int seconds = 0;
          try {
            seconds = std::stoi(value);
          } catch (const std::exception&) {
            seconds = 0;
          }
          if (seconds <= 0) {
            status = "Rejected";
          } else if (key == "OCPPCommCtrlr/HeartbeatInterval") {
            heartbeat_interval_s_ = seconds;
            next_heartbeat_ = SteadyClock::now() + real(seconds);
          } else {
            meter_interval_s_ = seconds;
          }
        }
        if (key == "SecurityCtrlr/BasicAuthPassword") {
          if (value.size() < 16 || value.size() > 40)
            status = "Rejected";
          else if (status == "Accepted")
            options_.password = value;  // used from the next connection on
        }
        if (status == "Accepted") found->second.value = value;
        result["attributeStatus"] = status;
      }
      results.push_back(result);
    }
    return {{"setVariableResult", results}};
  }
  if (action == "TriggerMessage") {
    const std::string requested = require_string(p, "requestedMessage", v);
    if (requested == "BootNotification" && booted_) return {{"status", "Rejected"}};
    if (requested == "TransactionEvent" && !session_) return {{"status", "Rejected"}};
    if (requested == "BootNotification" || requested == "Heartbeat" || requested == "MeterValues" ||
        requested == "StatusNotification" || requested == "TransactionEvent") {
      triggered_.push_back(requested);
      return {{"status", "Accepted"}};
    }
    return {{"status", "NotImplemented"}};
  }
  if (action == "ClearCache") return {{"status", "Accepted"}};
  if (action == "SetChargingProfile") {
    require_int(p, "evseId", v);
    const Json& profile = require(p, "chargingProfile", v);
    const Json& schedules = require(profile, "chargingSchedule", v);
    if (!schedules.is_array() || schedules.empty()) {
      throw CallError("OccurrenceConstraintViolation", "chargingSchedule must not be empty");
    }
    apply_charging_limit(schedules[0]);
    limit_ends_with_session_ = profile.value("chargingProfilePurpose", "") == "TxProfile";
    return {{"status", "Accepted"}};
  }
  return handle_common(action, p, v);
}

}  // namespace chargegrid::sim::detail
