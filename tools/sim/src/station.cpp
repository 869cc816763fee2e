#include "station.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "actions.hpp"

namespace chargegrid::sim::detail {

namespace net = boost::asio;
using net::awaitable;
using net::use_awaitable;

Station::Station(Strand strand, std::string id, StationOptions options,
                 boost::asio::ssl::context* tls,
                 std::optional<boost::asio::ip::address> source_address,
                 std::chrono::milliseconds start_delay, FleetProbe* probe,
                 std::function<void()> on_finished)
    : model_(std::move(id), std::move(options), stats_, probe),
      transport_(strand, model_.id, model_.options, tls, source_address, probe, stats_,
                 {.on_call = [this](const Frame& frame) { handle_csms_call(frame); },
                  .on_lost = [this] { wake(); }}),
      start_delay_(start_delay),
      probe_(probe),
      on_finished_(std::move(on_finished)),
      strand_(strand),
      wake_timer_(strand) {
  stats_.stations = 1;
}

void Station::start() {
  net::co_spawn(
      strand_, [self = shared_from_this()]() { return self->run(); }, net::detached);
}

void Station::stop() {
  net::post(strand_, [self = shared_from_this()] {
    if (self->model_.stopping) return;
    self->model_.stopping = true;
    self->model_.stop_sessions("Other");
    self->wake();
  });
}

void Station::wake() {
  wake_timer_.cancel();
}

awaitable<void> Station::sleep_until(SteadyClock::time_point until) {
  wake_timer_.expires_at(until);
  co_await wake_timer_.async_wait(net::as_tuple(use_awaitable));
  if (transport_.lost()) throw std::runtime_error("connection lost");
}

awaitable<void> Station::run() {
  if (start_delay_.count() > 0) co_await sleep_until(SteadyClock::now() + start_delay_);
  model_.next_session = model_.options.script.empty()
                            ? SteadyClock::now() + model_.real(model_.options.first_session_delay_s)
                            : model_.scripted_plug_in(0);
  bool finished = false;
  while (!model_.stopping && !finished) {
    if (co_await transport_.open(model_.options.password)) {
      co_await transport_.serve([this] { return behaviour(); });
      if (probe_) probe_->on_disconnected(model_.booted);
      model_.booted = false;
      finished = model_.sessions_complete() && model_.transaction_queue.empty();
      if (model_.reboot_requested) {
        model_.reboot_requested = false;
        model_.boot_reason = "RemoteReset";
        continue;  // a reset station comes straight back
      }
    }
    if (model_.stopping || finished) break;
    // Offline: sessions go on, their transaction messages wait in the queue.
    const auto reconnect_at = SteadyClock::now() + transport_.next_retry_delay();
    while (!model_.stopping && SteadyClock::now() < reconnect_at) {
      model_.advance(SteadyClock::now());
      co_await sleep_until(model_.next_event(reconnect_at));
    }
  }
  if (model_.sessions_complete() && model_.transaction_queue.empty()) ++stats_.stations_finished;
  if (on_finished_) on_finished_();
}

awaitable<Frame> Station::send(OutgoingMessage message) {
  co_return co_await transport_.call(std::move(message.action), std::move(message.payload));
}

awaitable<void> Station::boot() {
  for (;;) {
    const Frame response = co_await send(
        outgoing::boot_notification(model_.version(), model_.options.identity, model_.boot_reason));
    int interval = 0;
    std::string status;
    if (response.type == MessageType::call_result && response.payload.is_object()) {
      interval = response.payload.value("interval", 0);
      status = response.payload.value("status", "");
    }
    if (status == "Accepted") {
      ++stats_.boots_accepted;
      if (probe_) probe_->on_booted();
      if (interval > 0) model_.heartbeat_interval_s = interval;
      model_.booted = true;
      model_.boot_reason = "PowerUp";
      co_return;
    }
    if (status == "Pending") {
      ++stats_.boots_pending;
    } else {
      ++stats_.boots_rejected;
    }
    // Pending: the CSMS may configure us meanwhile (reader answers). Rejected: retry later.
    const double wait_s = interval > 0 ? interval : model_.options.default_heartbeat_s;
    co_await sleep_until(SteadyClock::now() + model_.real(wait_s));
    if (model_.stopping) throw boost::system::system_error(net::error::operation_aborted);
    if (model_.version() != OcppVersion::v16 && !model_.triggered.empty()) {
      // A Pending station may only send what the CSMS triggered; Boot is retried anyway.
      model_.triggered.clear();
    }
  }
}

awaitable<void> Station::send_status(int evse) {
  co_await send(outgoing::status_notification(model_.version(), evse, model_.connector_status(evse),
                                              std::chrono::system_clock::now()));
}

awaitable<void> Station::iso15118_after_boot() {
  auto* vehicle = model_.iso15118.get();
  if (!vehicle) co_return;
  const auto version = model_.version();
  const auto status_of = [version](const Frame& response) {
    if (response.type != MessageType::call_result || !response.payload.is_object())
      return std::string();
    if (version != OcppVersion::v16) return response.payload.value("status", std::string());
    if (response.payload.value("status", "") != "Accepted") return std::string();
    try {
      return Json::parse(response.payload.value("data", std::string("{}")))
          .value("status", std::string());
    } catch (const Json::exception&) {
      return std::string();
    }
  };
  if (vehicle->sign_certificate_due()) {
    const Frame response = co_await send(vehicle->sign_certificate(version));
    vehicle->csr_answered(status_of(response));
  }
  if (auto request = vehicle->ev_certificate_request(version)) {
    const Frame response = co_await send(std::move(*request));
    vehicle->ev_certificate_answered(status_of(response));
  }
}

awaitable<void> Station::send_all_status() {
  model_.status_dirty = false;
  if (model_.version() == OcppVersion::v16) co_await send_status(0);
  for (int evse = 1; evse <= model_.options.connectors; ++evse) co_await send_status(evse);
}

awaitable<void> Station::behaviour() {
  co_await boot();
  co_await send_all_status();
  co_await iso15118_after_boot();
  model_.next_heartbeat = SteadyClock::now() + model_.real(model_.heartbeat_interval_s);
  for (;;) {
    model_.advance(SteadyClock::now());
    co_await flush_transaction_queue();
    co_await handle_triggers();
    if (model_.status_dirty) co_await send_all_status();
    if (model_.reboot_requested && !model_.any_session() && model_.transaction_queue.empty()) {
      co_return;
    }
    if (model_.stopping) {
      model_.stop_sessions("Other");
      model_.advance(SteadyClock::now());
      co_await flush_transaction_queue();
      co_return;
    }
    if (model_.sessions_complete() && model_.transaction_queue.empty()) co_return;

    if (SteadyClock::now() >= model_.next_heartbeat) {
      co_await send(outgoing::heartbeat(model_.version()));
      model_.next_heartbeat = SteadyClock::now() + model_.real(model_.heartbeat_interval_s);
    }
    if (co_await start_due_session()) continue;

    auto until = model_.next_event(model_.next_heartbeat);
    const bool more_sessions =
        model_.options.sessions > 0 && model_.sessions_begun < model_.options.sessions;
    if (!model_.any_session() && more_sessions) until = std::min(until, model_.next_session);
    const auto& queue = model_.transaction_queue;
    const bool queue_ready = !queue.empty() && queue.front().retry_at <= SteadyClock::now();
    if (queue_ready || !model_.triggered.empty() || model_.status_dirty) continue;
    if (!queue.empty()) until = std::min(until, queue.front().retry_at);
    const bool stop_asked = std::any_of(model_.evses.begin(), model_.evses.end(), [](auto& e) {
      return e.session && e.session->stop_reason;
    });
    if (stop_asked) continue;
    co_await sleep_until(until);
  }
}

awaitable<bool> Station::start_due_session() {
  for (auto& evse : model_.evses) {
    if (!evse.remote_start || evse.session) continue;
    // The request stays on the EVSE (keeping it busy) until the session has begun or failed.
    const RemoteStart start = *evse.remote_start;
    const int id = evse.id;
    co_await start_session(id, start.id_tag, true, start.remote_start_id);
    model_.evse(id)->remote_start.reset();
    co_return true;
  }
  const bool more_sessions =
      model_.options.sessions > 0 && model_.sessions_begun < model_.options.sessions;
  if (!model_.any_session() && more_sessions && SteadyClock::now() >= model_.next_session) {
    // The station's own sessions take its EVSEs in turn.
    const int evse = (model_.session_counter % model_.options.connectors) + 1;
    co_await start_session(evse, model_.options.id_tag, false, std::nullopt);
    co_return true;
  }
  co_return false;
}

awaitable<void> Station::start_session(int evse_id, std::string id_tag, bool remote,
                                       std::optional<int> remote_start_id) {
  if (!remote) ++model_.sessions_begun;  // --sessions counts the station's own
  Evse& evse = *model_.evse(evse_id);
  const auto version = model_.version();
  if (!evse.available) {
    model_.next_session = SteadyClock::now() + model_.real(model_.options.idle_between_sessions_s);
    co_return;
  }
  const bool authorize_first =
      !remote || model_.variables[version == OcppVersion::v16 ? "AuthorizeRemoteTxRequests"
                                                              : "AuthCtrlr/AuthorizeRemoteStart"]
                         .value == "true";
  std::string token_type = "ISO14443";
  if (!remote && model_.iso15118) {
    // Plug & Charge: the vehicle's contract certificate authorizes, its eMAID is the token.
    const Frame response = co_await send(model_.iso15118->authorize(version));
    const auto status = Iso15118Vehicle::authorization_status(version, response);
    if (status != "Accepted") {
      ++stats_.pnc_refused;
      spdlog::info("{}: contract {} not authorized ({})", model_.id, model_.iso15118->emaid(),
                   status.empty() ? "no answer" : status);
      model_.next_session =
          SteadyClock::now() + model_.real(model_.options.idle_between_sessions_s);
      co_return;
    }
    ++stats_.pnc_authorized;
    id_tag = model_.iso15118->emaid();
    token_type = "eMAID";
  } else if (authorize_first) {
    const Frame response = co_await send(outgoing::authorize(version, id_tag));
    std::string status;
    if (response.type == MessageType::call_result && response.payload.is_object()) {
      const char* info = version == OcppVersion::v16 ? "idTagInfo" : "idTokenInfo";
      if (response.payload.contains(info) && response.payload[info].is_object()) {
        status = response.payload[info].value("status", "");
      }
    }
    if (status != "Accepted") {
      spdlog::debug("{}: {} not authorized ({})", model_.id, id_tag, status);
      model_.next_session =
          SteadyClock::now() + model_.real(model_.options.idle_between_sessions_s);
      co_return;
    }
  }
  Session& session = model_.begin_session(evse, std::move(id_tag), remote, remote_start_id);
  session.id_token_type = token_type;
  const int local_id = session.local_id;
  const auto wall = std::chrono::system_clock::now();
  if (version == OcppVersion::v16) {
    co_await send(outgoing::status_notification(version, evse_id, "Preparing", wall));
    if (!evse.session) co_return;
    model_.enqueue_transaction(outgoing::transaction_started(version, *evse.session, wall, false),
                               local_id);
    co_await flush_transaction_queue();
    if (evse.session) {
      co_await send(outgoing::status_notification(version, evse_id, "Charging",
                                                  std::chrono::system_clock::now()));
    }
  } else {
    co_await send(outgoing::status_notification(version, evse_id, "Occupied", wall));
    if (!evse.session) co_return;
    model_.enqueue_transaction(
        outgoing::transaction_started(version, *evse.session, wall, !model_.booted), local_id);
    ++evse.session->seq_no;
    // The vehicle says what it needs before it charges on, so a planner can send its profile.
    if (model_.options.ev.notify_charging_needs) {
      const Session& s = *evse.session;
      std::optional<Timestamp> departure;
      if (s.ends != SteadyClock::time_point::max() && model_.options.script.empty())
        departure = wall + std::chrono::duration_cast<Timestamp::duration>(s.ends - s.started);
      model_.enqueue_transaction(outgoing::ev_charging_needs(version, s, departure), local_id,
                                 false);
    }
  }
}

awaitable<void> Station::flush_transaction_queue() {
  auto& queue = model_.transaction_queue;
  while (model_.booted && !queue.empty()) {
    QueuedMessage& message = queue.front();
    // Refused before: it waits for its retry time, and so does everything behind it.
    if (SteadyClock::now() < message.retry_at) co_return;
    if (model_.version() == OcppVersion::v16 && message.action != "StartTransaction") {
      const auto known = model_.transaction_ids.find(message.session);
      if (known != model_.transaction_ids.end()) {
        message.payload["transactionId"] = known->second;
      } else if (message.action == "StopTransaction") {
        // The CSMS never gave this session a transaction id: nothing to stop.
        queue.pop_front();
        continue;
      } else {
        message.payload.erase("transactionId");
      }
    }
    if (message.message_id.empty()) message.message_id = transport_.next_message_id();
    if (message.sent) ++stats_.transaction_messages_resent;
    message.sent = true;
    // The frame is built from the queued payload before waiting; what the response handler
    // needs is copied (it may queue more messages while we wait).
    const QueuedMessage sent{message.action, Json(), message.session, message.message_id, true};
    std::string text = make_call(sent.message_id, sent.action, message.payload);
    std::string action = sent.action;
    std::string message_id = sent.message_id;
    const Frame response =
        co_await transport_.call_text(std::move(action), std::move(text), std::move(message_id));
    QueuedMessage& answered = queue.front();
    if (response.type == MessageType::call_error && answered.resend_refused &&
        answered.refusals + 1 < model_.options.transaction_message_attempts) {
      ++answered.refusals;
      answered.retry_at =
          SteadyClock::now() +
          model_.real(model_.options.transaction_message_retry_interval_s * answered.refusals);
      answered.message_id.clear();  // a retry is a new CALL
      co_return;
    }
    queue.pop_front();
    model_.handle_transaction_response(sent, response);
  }
}

awaitable<void> Station::handle_triggers() {
  const auto version = model_.version();
  while (!model_.triggered.empty()) {
    const Trigger trigger = model_.triggered.front();
    model_.triggered.pop_front();
    const auto now = std::chrono::system_clock::now();
    if (trigger.message == "Heartbeat") {
      co_await send(outgoing::heartbeat(version));
    } else if (trigger.message == "StatusNotification") {
      co_await send_all_status();
    } else if (trigger.message == "BootNotification") {
      co_await send(outgoing::boot_notification(version, model_.options.identity, "Triggered"));
    } else if (trigger.message == "MeterValues") {
      // The EVSE asked for, else the first one charging, else EVSE 1.
      int evse_id = 1;
      if (trigger.evse) {
        evse_id = *trigger.evse;
      } else if (const auto charging =
                     std::find_if(model_.evses.begin(), model_.evses.end(),
                                  [](const Evse& e) { return e.session.has_value(); });
                 charging != model_.evses.end()) {
        evse_id = charging->id;
      }
      const Evse& evse = *model_.evse(evse_id);
      const MeterModel idle(model_.options.meter);
      co_await send(outgoing::triggered_meter_values(
          version, evse_id, evse.session ? evse.session->meter : idle, now));
    } else if (trigger.message == "TransactionEvent") {
      bool queued = false;
      for (auto& evse : model_.evses) {
        if (!evse.session || (trigger.evse && *trigger.evse != evse.id)) continue;
        model_.enqueue_transaction(outgoing::triggered_transaction_event(*evse.session, now),
                                   evse.session->local_id);
        ++evse.session->seq_no;
        queued = true;
      }
      if (queued) co_await flush_transaction_queue();
    }
  }
}

void Station::handle_csms_call(const Frame& frame) {
  ++stats_.calls_received;
  ++stats_.calls_received_by_action[frame.action];
  if (probe_) probe_->on_csms_call(model_.id, frame.action, frame.payload);
  try {
    const Action action = csms_actions().find(model_.version(), frame.action);
    if (!action) {
      throw CallError("NotImplemented", frame.action + " is not supported by this station");
    }
    transport_.reply(frame.message_id, action(model_, frame.payload));
  } catch (const CallError& e) {
    if (e.code == "NotImplemented") ++stats_.not_implemented_sent;
    transport_.reply_error(frame.message_id, e.code, e.what());
  } catch (const std::exception& e) {
    transport_.reply_error(frame.message_id, "FormationViolation", e.what());
  }
  wake();
}

}  // namespace chargegrid::sim::detail
