// Transactions: 1.6 StartTransaction / StopTransaction, 2.0.1 TransactionEvent,
// and MeterValues for both. Every message is idempotent: a replay (after a
// reconnect, or the same message sent twice) finds what the first one stored.
// Energy comes from the meter's register readings, never from summing power.

#include <pqxx/pqxx>

#include "events/domain_events.hpp"
#include "logging.hpp"
#include "ocpp/adapters/adapters.hpp"
#include "ocpp/common.hpp"
#include "store/outbox.hpp"

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

// The session event a (first-seen) 2.0.1 TransactionEvent makes.
void publish_transaction_event(Services& services, const std::string& station_id,
                               long long session_id, std::optional<long long> driver_id,
                               const nlohmann::json& p) {
  const auto event_type = p.at("eventType").get<std::string>();
  const auto& info = p.at("transactionInfo");
  std::optional<int> evse_id;
  if (p.contains("evse")) evse_id = p["evse"].at("id").get<int>();
  auto change = session_change(station_id, session_id, evse_id, driver_id);
  change.station_transaction_id = info.at("transactionId").get<std::string>();
  change.seq_no = p.at("seqNo").get<int>();
  change.trigger_reason = p.at("triggerReason").get<std::string>();
  change.charging_state = optional_field<std::string>(info, "chargingState");
  change.stop_reason = optional_field<std::string>(info, "stoppedReason");
  if (event_type == "Started")
    services.events.publish(events::SessionStarted{change});
  else if (event_type == "Ended")
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

std::optional<long long> optional_id(const pqxx::field& field) {
  return field.is_null() ? std::nullopt : std::optional<long long>(field.as<long long>());
}

// ---- OCPP 1.6 -------------------------------------------------------------

Handler start_transaction_16(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto& p = ctx.payload;
    const int connector = p.at("connectorId").get<int>();
    const auto id_tag = p.at("idTag").get<std::string>();
    const auto meter_start = p.at("meterStart").get<long long>();
    const auto timestamp = p.at("timestamp").get<std::string>();
    // What makes a StartTransaction the same one when it is sent again.
    const auto start_key = std::to_string(connector) + "|" + id_tag + "|" + timestamp + "|" +
                           std::to_string(meter_start);

    struct Started {
      int id;
      TokenCheck check;
      std::optional<long long> driver_id;
      bool inserted;
    };
    auto started = co_await services.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto check = check_token(tx, id_tag, services.config.accept_unknown_tokens);
      auto rows = tx.exec_params(
          R"(INSERT INTO transactions (id, station_id, transaction_uid, protocol, evse_id,
                                       connector_id, id_token, driver_id, started_at,
                                       meter_start_wh, import_first_wh, import_last_wh, start_key)
             SELECT n, $1, n::text, 'ocpp1.6', $2, CASE WHEN $2 = 0 THEN 0 ELSE 1 END, $3, $4, $5,
                    $6::bigint, $6::bigint, $6::bigint, $7
             FROM (SELECT nextval('transactions_id_seq')::int AS n) AS next
             ON CONFLICT (station_id, start_key) WHERE start_key IS NOT NULL
               DO UPDATE SET start_key = excluded.start_key  -- a resend: no change, same id
             RETURNING id, driver_id, xmax = 0)",
          ctx.station_id, connector, id_tag, check.driver_id, timestamp, meter_start, start_key);
      tx.commit();
      return Started{rows[0][0].as<int>(), check, optional_id(rows[0][1]), rows[0][2].as<bool>()};
    });
    if (started.inserted) {
      events::SessionStarted event{
          session_change(ctx.station_id, started.id, connector, started.driver_id)};
      event.id_token = id_tag;
      event.started_at = timestamp;
      services.events.publish(event);
    }
    log::info("transaction_started", {{"station", ctx.station_id},
                                      {"transaction", started.id},
                                      {"connector", connector},
                                      {"token_status", started.check.status}});
    co_return CallReply::ok(
        {{"transactionId", started.id}, {"idTagInfo", id_tag_info_16(started.check)}});
  };
}

Handler stop_transaction_16(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto& p = ctx.payload;
    const int transaction_id = p.at("transactionId").get<int>();
    const auto meter_stop = p.at("meterStop").get<long long>();
    const auto timestamp = p.at("timestamp").get<std::string>();
    const auto reason = p.value("reason", "Local");
    const auto id_tag = optional_field<std::string>(p, "idTag");

    // The readings are checked before anything is stored: a bad one refuses the message.
    std::vector<MeterRow> rows;
    if (auto data = p.find("transactionData"); data != p.end()) {
      try {
        rows = meter_rows_16(ctx.station_id, 0, transaction_id, *data, "/transactionData");
      } catch (const BadMeterValue& e) {
        co_return bad_meter_value(e);
      }
    }
    const auto span = register_span(rows);

    // An unknown transaction is this station's (foreign ids are not looked up);
    // an ended one is never rewritten.
    enum class Found { Unknown, Ended, AlreadyEnded, AlreadyEndedOtherwise };
    struct Stopped {
      Found found = Found::Unknown;
      int evse_id = 0;
      std::optional<TokenCheck> check;
      std::optional<long long> driver_id;
    };
    auto stopped = co_await services.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      Stopped result;
      if (id_tag) result.check = check_token(tx, *id_tag, services.config.accept_unknown_tokens);
      auto before = tx.exec_params(
          R"(SELECT state, evse_id, driver_id,
                    ended_at = $3::timestamptz AND meter_stop_wh = $4::bigint
             FROM transactions WHERE station_id = $1 AND id = $2 FOR UPDATE)",
          ctx.station_id, transaction_id, timestamp, meter_stop);
      if (before.empty()) {
        tx.commit();
        return result;
      }
      result.evse_id = before[0][1].is_null() ? 0 : before[0][1].as<int>();
      result.driver_id = optional_id(before[0][2]);
      if (before[0][0].as<std::string>() == "ended") {
        result.found = !before[0][3].is_null() && before[0][3].as<bool>()
                           ? Found::AlreadyEnded
                           : Found::AlreadyEndedOtherwise;
        tx.commit();
        return result;
      }
      tx.exec_params(
          R"(UPDATE transactions SET state = 'ended', ended_at = $2, meter_stop_wh = $3::bigint,
                    import_first_wh = LEAST(import_first_wh, $4::float8),
                    import_last_wh = GREATEST(import_last_wh, $3::bigint, $5::float8),
                    export_first_wh = LEAST(export_first_wh, $6::float8),
                    export_last_wh = GREATEST(export_last_wh, $7::float8),
                    stop_reason = $8, updated_at = now()
             WHERE id = $1)",
          transaction_id, timestamp, meter_stop, span.import_min, span.import_max, span.export_min,
          span.export_max, reason);
      // Consumers that must not miss it (settlement, smart charging) learn of it durably.
      store::outbox::append(tx, store::outbox::kSessionEnded,
                            {{"session_id", transaction_id},
                             {"station_id", ctx.station_id},
                             {"protocol", "ocpp1.6"},
                             {"ended_at", timestamp},
                             {"stop_reason", reason},
                             {"meter_stop_wh", meter_stop}});
      tx.commit();
      result.found = Found::Ended;
      return result;
    });

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
    if (stopped.check) answer["idTagInfo"] = id_tag_info_16(*stopped.check);
    co_return CallReply::ok(std::move(answer));
  };
}

// ---- OCPP 2.0.1 / 2.1 -----------------------------------------------------

Handler transaction_event(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto& p = ctx.payload;
    const auto event_type = p.at("eventType").get<std::string>();
    const auto timestamp = p.at("timestamp").get<std::string>();
    const auto trigger = p.at("triggerReason").get<std::string>();
    const int seq_no = p.at("seqNo").get<int>();
    const bool offline = p.value("offline", false);
    const auto& info = p.at("transactionInfo");
    const auto uid = info.at("transactionId").get<std::string>();
    const auto charging_state = optional_field<std::string>(info, "chargingState");
    const auto stopped_reason = optional_field<std::string>(info, "stoppedReason");
    std::optional<int> evse_id, connector_id;
    if (auto evse = p.find("evse"); evse != p.end()) {
      evse_id = evse->at("id").get<int>();
      connector_id = optional_field<int>(*evse, "connectorId");
    }
    std::optional<std::string> token;
    bool token_needs_check = false;
    if (auto id_token = p.find("idToken"); id_token != p.end()) {
      token = id_token->at("idToken").get<std::string>();
      token_needs_check = id_token->at("type") != "NoAuthorization";
    }
    const std::string protocol(protocols::subprotocol(ctx.version));

    // The readings are checked before anything is stored; their register span goes into
    // the session with the event itself (the Ended event's final reading included).
    std::vector<MeterRow> rows;
    if (auto meter_value = p.find("meterValue"); meter_value != p.end()) {
      try {
        rows = meter_rows_201(ctx.station_id, evse_id.value_or(0), std::nullopt, *meter_value,
                              "/meterValue");
      } catch (const BadMeterValue& e) {
        co_return bad_meter_value(e);
      }
    }
    const auto span = register_span(rows);

    struct Recorded {
      int id = 0;
      std::optional<TokenCheck> check;
      std::optional<long long> driver_id;
      bool replay = false;
      bool after_end = false;  // an event of an ended session that may not change it
    };
    auto recorded = co_await services.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      Recorded result;
      if (token && token_needs_check)
        result.check = check_token(tx, *token, services.config.accept_unknown_tokens);
      auto inserted = tx.exec_params(
          R"(INSERT INTO transaction_events (station_id, transaction_uid, seq_no, event_type,
                                             trigger_reason, occurred_at, offline, payload)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
             ON CONFLICT DO NOTHING)",
          ctx.station_id, uid, seq_no, event_type, trigger, timestamp, offline, p.dump());
      result.replay = inserted.affected_rows() == 0;
      const bool ended = event_type == "Ended";
      const auto driver = result.check ? result.check->driver_id : std::nullopt;
      auto created = tx.exec_params(
          R"(INSERT INTO transactions (station_id, transaction_uid, protocol, evse_id,
                                       connector_id, id_token, driver_id, state, charging_state,
                                       started_at, ended_at, ended_seq_no, stop_reason,
                                       last_seq_no, import_first_wh, import_last_wh,
                                       export_first_wh, export_last_wh, meter_start_wh,
                                       meter_stop_wh)
             VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8 THEN 'ended' ELSE 'active' END,
                     $9, $10, CASE WHEN $8 THEN $10::timestamptz END,
                     CASE WHEN $8 THEN $11::int END, $12, $11, $13::float8, $14::float8, $15::float8, $16::float8,
                     round($13::float8)::bigint, CASE WHEN $8 THEN round($14::float8)::bigint END)
             ON CONFLICT (station_id, transaction_uid) DO NOTHING
             RETURNING id, driver_id)",
          ctx.station_id, uid, protocol, evse_id, connector_id, token, driver, ended,
          charging_state, timestamp, seq_no, stopped_reason, span.import_min, span.import_max,
          span.export_min, span.export_max);
      auto session_ended = [&](std::int64_t id) {
        store::outbox::append(tx, store::outbox::kSessionEnded,
                              {{"session_id", id},
                               {"station_id", ctx.station_id},
                               {"protocol", protocol},
                               {"station_transaction_id", uid},
                               {"ended_at", timestamp},
                               {"stop_reason", stopped_reason ? nlohmann::json(*stopped_reason)
                                                              : nlohmann::json(nullptr)}});
      };
      if (!created.empty()) {
        result.id = created[0][0].as<int>();
        result.driver_id = optional_id(created[0][1]);
        if (ended) session_ended(result.id);
        tx.commit();
        return result;
      }
      auto before = tx.exec_params(
          R"(SELECT id, driver_id, state = 'ended', ended_seq_no, last_seq_no
             FROM transactions WHERE station_id = $1 AND transaction_uid = $2 FOR UPDATE)",
          ctx.station_id, uid);
      result.id = before[0][0].as<int>();
      result.driver_id = optional_id(before[0][1]);
      if (result.replay) {
        tx.commit();
        return result;
      }
      const bool was_ended = before[0][2].as<bool>();
      // seqNo is never negative: -1 stands for "no Ended event recorded".
      const int ended_seq = before[0][3].is_null() ? -1 : before[0][3].as<int>();
      const bool newest = before[0][4].is_null() || seq_no >= before[0][4].as<int>();
      if (!was_ended) {
        // Events may arrive in any order (offline queues): each field takes the value that
        // is right whatever order they come in.
        auto rows_changed = tx.exec_params(
            R"(UPDATE transactions t SET
                 evse_id = COALESCE(evse_id, $2), connector_id = COALESCE(connector_id, $3),
                 id_token = COALESCE(id_token, $4), driver_id = COALESCE(driver_id, $5),
                 state = CASE WHEN $6 THEN 'ended' ELSE 'active' END,
                 charging_state = CASE WHEN $7 THEN COALESCE($8, charging_state)
                                       ELSE charging_state END,
                 started_at = CASE WHEN $9 = 'Started' THEN $10::timestamptz
                                   ELSE LEAST(started_at, $10::timestamptz) END,
                 ended_at = CASE WHEN $6 THEN $10::timestamptz END,
                 ended_seq_no = CASE WHEN $6 THEN $11::int END,
                 stop_reason = COALESCE(stop_reason, $12),
                 last_seq_no = GREATEST(last_seq_no, $11),
                 import_first_wh = LEAST(import_first_wh, $13::float8),
                 import_last_wh = GREATEST(import_last_wh, $14::float8),
                 export_first_wh = LEAST(export_first_wh, $15::float8),
                 export_last_wh = GREATEST(export_last_wh, $16::float8),
                 meter_start_wh = LEAST(meter_start_wh, round($13::float8)::bigint),
                 meter_stop_wh = CASE WHEN $6 THEN round(GREATEST(import_last_wh, $14::float8))::bigint
                                      END,
                 updated_at = now()
               WHERE id = $1
               RETURNING driver_id)",
            result.id, evse_id, connector_id, token, driver, ended, newest, charging_state,
            event_type, timestamp, seq_no, stopped_reason, span.import_min, span.import_max,
            span.export_min, span.export_max);
        result.driver_id = optional_id(rows_changed[0][0]);
        if (ended) session_ended(result.id);
      } else if (!ended && seq_no < ended_seq) {
        // An event from before the end, delivered late: it completes how the session began
        // (its start, its first readings, who it was); how it ended stays as it is.
        tx.exec_params(
            R"(UPDATE transactions SET
                 evse_id = COALESCE(evse_id, $2), connector_id = COALESCE(connector_id, $3),
                 id_token = COALESCE(id_token, $4), driver_id = COALESCE(driver_id, $5),
                 started_at = CASE WHEN $6 = 'Started' THEN $7::timestamptz
                                   ELSE LEAST(started_at, $7::timestamptz) END,
                 import_first_wh = LEAST(import_first_wh, $8::float8),
                 export_first_wh = LEAST(export_first_wh, $9::float8),
                 meter_start_wh = LEAST(meter_start_wh, round($8::float8)::bigint),
                 last_seq_no = GREATEST(last_seq_no, $10),
                 updated_at = now()
               WHERE id = $1)",
            result.id, evse_id, connector_id, token, driver, event_type, timestamp, span.import_min,
            span.export_min, seq_no);
      } else {
        // A second Ended, or an event numbered after the end: kept in transaction_events,
        // but the ended session does not change.
        result.after_end = true;
      }
      tx.commit();
      return result;
    });
    if (recorded.after_end)
      log::warn("transaction_event_after_end", {{"station", ctx.station_id},
                                                {"transaction", uid},
                                                {"event", event_type},
                                                {"seq_no", seq_no},
                                                {"kept", "the session as it ended"}});
    if (!recorded.replay && !recorded.after_end)
      publish_transaction_event(services, ctx.station_id, recorded.id, recorded.driver_id, p);

    for (auto& row : rows) row.transaction_id = recorded.id;
    publish_readings(services, ctx.station_id, evse_id.value_or(0), recorded.id, rows);
    co_await services.meters.write(std::move(rows));
    if (event_type != "Updated")
      log::info(event_type == "Started" ? "transaction_started" : "transaction_ended",
                {{"station", ctx.station_id}, {"transaction", uid}, {"seq_no", seq_no}});
    nlohmann::json answer = nlohmann::json::object();
    if (recorded.check)
      answer["idTokenInfo"] = id_token_info_201(*recorded.check);
    else if (token)
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
