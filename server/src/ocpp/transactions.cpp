// Transactions: 1.6 StartTransaction / StopTransaction, 2.0.1 TransactionEvent,
// and MeterValues for both. Every message is idempotent: a replay (after a
// reconnect, or the same message sent twice) finds what the first one stored.
// Energy comes from the meter's register readings, never from summing power.

#include "events/domain_events.hpp"
#include "logging.hpp"
#include "ocpp/adapters/adapters.hpp"
#include "ocpp/common.hpp"
#include "store/outbox.hpp"
#include "store/sessions.hpp"

namespace chargegrid::server::ocpp {

using protocols::OcppVersion;
using protocols::RpcErrorCode;

namespace {

CallReply bad_meter_value(const BadMeterValue& e) {
  return CallReply::fail(RpcErrorCode::PropertyConstraintViolation, e.path + ": " + e.what(),
                         {{"path", e.path}});
}

events::SessionChange session_change(const std::string& station_id, long long session_id,
                                     std::optional<int> evse_id,
                                     std::optional<long long> driver_id) {
  events::SessionChange change;
  change.station_id = station_id;
  change.session_id = session_id;
  change.evse_id = evse_id;
  change.driver_id = driver_id;
  return change;
}

// The session event a (first-seen) 2.x TransactionEvent makes.
void publish_transaction_event(Services& services, const std::string& station_id,
                               long long session_id, std::optional<long long> driver_id,
                               const TransactionUpdate& update) {
  auto change = session_change(station_id, session_id, update.evse_id, driver_id);
  change.station_transaction_id = update.transaction_id;
  change.seq_no = update.seq_no;
  change.trigger_reason = update.trigger_reason;
  change.charging_state = update.charging_state;
  change.stop_reason = update.stopped_reason;
  if (update.event_type == "Started")
    services.events.publish(events::SessionStarted{change});
  else if (update.event_type == "Ended")
    services.events.publish(events::SessionEnded{change});
  else
    services.events.publish(events::SessionUpdated{change});
}

// The readings of one message, for in-process services (built only when one listens).
void publish_readings(Services& services, const std::string& station_id, int evse_id,
                      std::optional<long long> session_id, const std::vector<MeterRow>& rows) {
  if (rows.empty() || !services.events.has_listeners<events::MeterValues>()) return;
  events::MeterValues readings{station_id, evse_id, session_id, {}};
  for (const auto& row : rows)
    if (row.value)
      readings.samples.push_back(
          {row.measurand, row.phase, row.location, *row.value, row.unit, row.sampled_at});
  services.events.publish(readings);
}

// A session write and the check of the token the message names, in one transaction shared
// with other stations' session writes (StateWriters::session_writes).
template <class Session>
struct Checked {
  Session session;
  std::optional<TokenCheck> check;
};

template <class Write>
auto write_checked(Services& services, const std::string& station_id,
                   const std::optional<std::string>& token, const Write& write)
    -> boost::asio::awaitable<
        Checked<std::invoke_result_t<Write&, store::Tx&, const std::optional<TokenCheck>&>>> {
  using Session = std::invoke_result_t<Write&, store::Tx&, const std::optional<TokenCheck>&>;
  Checked<Session> result;
  SessionWrite item{station_id, [&](store::Tx& tx) {
                      // Runs again on its own if its batch failed: nothing kept from before.
                      result = {};
                      if (token)
                        result.check =
                            check_token(tx, *token, services.config.accept_unknown_tokens);
                      result.session = write(tx, result.check);
                    }};
  co_await services.writers.session_writes.write(std::move(item));
  co_return result;
}

// ---- OCPP 1.6 -------------------------------------------------------------

Handler start_transaction_16(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto start = adapters::read<TransactionStart>(ctx.version, ctx.payload);
    store::sessions::IssuedStart issued;
    issued.station_id = ctx.station_id;
    issued.connector_id = start.connector_id;
    issued.id_tag = start.id_tag;
    issued.timestamp = start.timestamp;
    issued.meter_start_wh = start.meter_start_wh;
    // What makes a StartTransaction the same one when it is sent again.
    issued.start_key = std::to_string(start.connector_id) + "|" + start.id_tag + "|" +
                       start.timestamp + "|" + std::to_string(start.meter_start_wh);

    // Named, not a temporary in the co_await's arguments (GCC 12 destroys those twice).
    const auto start_session = [&](store::Tx& tx, const std::optional<TokenCheck>& check) {
      issued.driver_id = check->driver_id;
      return store::sessions::start_issued(tx, issued);
    };
    const std::optional<std::string> token = start.id_tag;
    auto started = co_await write_checked(services, ctx.station_id, token, start_session);
    const auto& check = *started.check;
    const int id = started.session.id;
    if (started.session.inserted) {
      events::SessionStarted event{
          session_change(ctx.station_id, id, start.connector_id, started.session.driver_id)};
      event.id_token = start.id_tag;
      event.started_at = start.timestamp;
      services.events.publish(event);
    }
    log::info("transaction_started", {{"station", ctx.station_id},
                                      {"transaction", id},
                                      {"connector", start.connector_id},
                                      {"token_status", check.status}});
    co_return CallReply::ok({{"transactionId", id}, {"idTagInfo", id_tag_info_16(check)}});
  };
}

Handler stop_transaction_16(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto stop = adapters::read<TransactionStop>(ctx.version, ctx.payload);
    // Validation keeps 1.6 integers within int.
    const int transaction_id = static_cast<int>(stop.transaction_id);
    const auto& timestamp = stop.timestamp;
    const auto& reason = stop.reason;
    const auto meter_stop = stop.meter_stop_wh;

    // The readings are checked before anything is stored: a bad one refuses the message.
    std::vector<MeterRow> rows;
    try {
      rows = meter_rows(ctx.station_id, 0, transaction_id, stop.readings);
    } catch (const BadMeterValue& e) {
      co_return bad_meter_value(e);
    }
    store::sessions::IssuedStop issued{ctx.station_id, transaction_id, timestamp,
                                       meter_stop,     reason,         register_span(rows)};

    // An unknown transaction is this station's (foreign ids are not looked up);
    // an ended one is never rewritten.
    using Found = store::sessions::StopFound;
    const auto end_session = [&](store::Tx& tx, const std::optional<TokenCheck>&) {
      auto stopped = store::sessions::stop_issued(tx, issued);
      // Consumers that must not miss it (settlement, smart charging) learn of it durably.
      if (stopped.found == Found::Ended)
        store::outbox::append(tx, store::outbox::kSessionEnded,
                              {{"session_id", transaction_id},
                               {"station_id", ctx.station_id},
                               {"protocol", "ocpp1.6"},
                               {"ended_at", timestamp},
                               {"stop_reason", reason},
                               {"meter_stop_wh", meter_stop}});
      return stopped;
    };
    auto result = co_await write_checked(services, ctx.station_id, stop.id_tag, end_session);
    const auto& stopped = result.session;

    switch (stopped.found) {
      case Found::Ended: {
        events::SessionEnded event{
            session_change(ctx.station_id, transaction_id, stopped.evse_id, stopped.driver_id)};
        event.ended_at = timestamp;
        event.stop_reason = reason;
        event.meter_stop_wh = meter_stop;
        services.events.publish(event);
      }
        log::info(
            "transaction_ended",
            {{"station", ctx.station_id}, {"transaction", transaction_id}, {"reason", reason}});
        break;
      case Found::AlreadyEnded:
        // The same stop again under a new message id: its readings are stored once anyway.
        log::info("transaction_stop_repeated",
                  {{"station", ctx.station_id}, {"transaction", transaction_id}});
        break;
      case Found::AlreadyEndedOtherwise:
        // Answered, so the station does not retry for ever. The session keeps its first stop;
        // the readings are kept as the station's meter data and do not move its figures.
        log::warn("transaction_stop_conflict", {{"station", ctx.station_id},
                                                {"transaction", transaction_id},
                                                {"timestamp", timestamp},
                                                {"meter_stop", meter_stop},
                                                {"kept", "the session's first stop"}});
        break;
      case Found::ClosedByServer:
        // The server closed and settled it (silent past --session-timeout, or replaced): the
        // late stop is answered and logged, and changes nothing, its readings included.
        log::warn("transaction_stop_after_server_close",
                  {{"station", ctx.station_id},
                   {"transaction", transaction_id},
                   {"timestamp", timestamp},
                   {"meter_stop", meter_stop},
                   {"kept", "the session as the server closed it"}});
        rows.clear();
        break;
      case Found::Unknown:
        // Answered anyway (a station would otherwise resend it for ever); its readings are
        // the station's own meter data, without a transaction.
        log::warn("transaction_unknown",
                  {{"station", ctx.station_id}, {"transaction", transaction_id}});
        for (auto& row : rows) row.transaction_id.reset();
        break;
    }
    for (auto& row : rows) row.evse_id = stopped.evse_id;
    co_await services.meters.write(std::move(rows));
    nlohmann::json answer = nlohmann::json::object();
    if (result.check) answer["idTagInfo"] = id_tag_info_16(*result.check);
    co_return CallReply::ok(std::move(answer));
  };
}

// ---- OCPP 2.0.1 / 2.1 -----------------------------------------------------

Handler transaction_event(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto update = adapters::read<TransactionUpdate>(ctx.version, ctx.payload);
    const auto& uid = update.transaction_id;
    const auto& event_type = update.event_type;
    const int seq_no = update.seq_no;

    // The readings are checked before anything is stored; their register span goes into
    // the session with the event itself (the Ended event's final reading included).
    std::vector<MeterRow> rows;
    try {
      rows = meter_rows(ctx.station_id, update.evse_id.value_or(0), std::nullopt, update.readings);
    } catch (const BadMeterValue& e) {
      co_return bad_meter_value(e);
    }

    store::sessions::StationEvent event;
    event.station_id = ctx.station_id;
    event.protocol = std::string(protocols::subprotocol(ctx.version));
    event.transaction_id = uid;
    event.event_type = event_type;
    event.trigger_reason = update.trigger_reason;
    event.timestamp = update.timestamp;
    event.seq_no = seq_no;
    event.offline = update.offline;
    event.evse_id = update.evse_id;
    event.connector_id = update.connector_id;
    if (update.id_token) event.id_token = update.id_token->value;
    event.charging_state = update.charging_state;
    event.stopped_reason = update.stopped_reason;
    event.span = register_span(rows);
    event.payload = ctx.payload.text();

    std::optional<std::string> token_to_check;
    if (update.id_token && update.id_token->type != "NoAuthorization")
      token_to_check = event.id_token;
    const auto record = [&](store::Tx& tx, const std::optional<TokenCheck>& check) {
      auto stored = event;
      stored.driver_id = check ? check->driver_id : std::nullopt;
      auto recorded = store::sessions::record_event(tx, stored);
      // Consumers that must not miss it (settlement, smart charging) learn of it durably.
      if (recorded.ended)
        store::outbox::append(
            tx, store::outbox::kSessionEnded,
            {{"session_id", recorded.id},
             {"station_id", ctx.station_id},
             {"protocol", event.protocol},
             {"station_transaction_id", uid},
             {"ended_at", event.timestamp},
             {"stop_reason", event.stopped_reason ? nlohmann::json(*event.stopped_reason)
                                                  : nlohmann::json(nullptr)}});
      return recorded;
    };
    auto result = co_await write_checked(services, ctx.station_id, token_to_check, record);
    const auto& recorded = result.session;
    if (recorded.after_end)
      log::warn("transaction_event_after_end", {{"station", ctx.station_id},
                                                {"transaction", uid},
                                                {"event", event_type},
                                                {"seq_no", seq_no},
                                                {"kept", "the session as it ended"}});
    if (!recorded.replay && !recorded.after_end)
      publish_transaction_event(services, ctx.station_id, recorded.id, recorded.driver_id, update);

    for (auto& row : rows) row.transaction_id = recorded.id;
    publish_readings(services, ctx.station_id, update.evse_id.value_or(0), recorded.id, rows);
    co_await services.meters.write(std::move(rows));
    if (event_type != "Updated")
      log::info(event_type == "Started" ? "transaction_started" : "transaction_ended",
                {{"station", ctx.station_id}, {"transaction", uid}, {"seq_no", seq_no}});
    nlohmann::json answer = nlohmann::json::object();
    if (result.check)
      answer["idTokenInfo"] = id_token_info_201(*result.check);
    else if (update.id_token)
      answer["idTokenInfo"] = {{"status", "Accepted"}};
    co_return CallReply::ok(std::move(answer));
  };
}

// ---- All versions ----------------------------------------------------------

// MeterValues, the same for every version once its adapter has read it. A 1.6 station names
// the server-issued transaction; 2.x meter data of a transaction comes in TransactionEvent.
Handler meter_values(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto report = adapters::read<MeterReport>(ctx.version, ctx.payload);
    std::optional<int> transaction_id;
    if (report.transaction_id) transaction_id = static_cast<int>(*report.transaction_id);
    std::vector<MeterRow> rows;
    try {
      rows = meter_rows(ctx.station_id, report.evse_id, transaction_id, report.values);
    } catch (const BadMeterValue& e) {
      co_return bad_meter_value(e);
    }
    // Kept for listeners only: which session they belong to is known once stored.
    std::vector<MeterRow> readings;
    if (services.events.has_listeners<events::MeterValues>()) readings = rows;
    const bool foreign = co_await services.meters.write(std::move(rows));
    std::optional<long long> session;
    if (transaction_id && !foreign) session = *transaction_id;
    publish_readings(services, ctx.station_id, report.evse_id, session, readings);
    if (session)
      services.events.publish(
          events::SessionUpdated{session_change(ctx.station_id, *session, report.evse_id, {})});
    co_return CallReply::ok(nlohmann::json::object());
  };
}

}  // namespace

void register_transactions(HandlerRegistry& registry, Services& services) {
  registry.add(OcppVersion::v16, "StartTransaction", start_transaction_16(services));
  registry.add(OcppVersion::v16, "StopTransaction", stop_transaction_16(services));
  registry.add(OcppVersion::v16, "MeterValues", meter_values(services));
  add_201_and_21(registry, "TransactionEvent", transaction_event(services));
  add_201_and_21(registry, "MeterValues", meter_values(services));
}

}  // namespace chargegrid::server::ocpp
