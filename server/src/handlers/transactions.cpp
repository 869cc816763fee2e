// Transactions: 1.6 StartTransaction / StopTransaction, 2.0.1 TransactionEvent,
// and MeterValues for both. Every message is idempotent: a replay (after a
// reconnect, or the same message sent twice) finds what the first one stored.
// Energy comes from the meter's register readings, never from summing power.

#include <pqxx/pqxx>

#include "../logging.hpp"
#include "common.hpp"

// g++ reports Asio's coroutine frames in this file's large handlers (allocated
// and freed by the frame's own operator new/delete) as mismatched: a known false
// positive (GCC PR middle-end/109224) that comes and goes with inlining.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace chargegrid::server::handlers {

using protocols::OcppVersion;
using protocols::RpcErrorCode;

namespace {

CallReply bad_meter_value(const BadMeterValue& e) {
  return CallReply::fail(RpcErrorCode::PropertyConstraintViolation, e.path + ": " + e.what());
}

// session.started / session.updated / session.ended for live subscribers.
void publish_session(Services& services, const std::string& type, const std::string& station_id,
                     long long session_id, std::optional<int> evse_id,
                     std::optional<long long> driver_id, nlohmann::json data = {}) {
  Event event;
  event.type = type;
  event.station_id = station_id;
  if (driver_id) event.driver_id = *driver_id;
  if (!data.is_object()) data = nlohmann::json::object();
  data["session_id"] = session_id;
  data["evse_id"] = evse_id ? nlohmann::json(*evse_id) : nullptr;
  data["driver_id"] = driver_id ? nlohmann::json(*driver_id) : nullptr;
  event.data = std::move(data);
  services.events.publish(std::move(event));
}

// The session event a (first-seen) 2.0.1 TransactionEvent makes.
void publish_transaction_event(Services& services, const std::string& station_id,
                               long long session_id, std::optional<long long> driver_id,
                               const nlohmann::json& p) {
  const auto event_type = p.at("eventType").get<std::string>();
  const auto& info = p.at("transactionInfo");
  nlohmann::json data{{"station_transaction_id", info.at("transactionId")},
                      {"seq_no", p.at("seqNo")},
                      {"trigger_reason", p.at("triggerReason")}};
  if (auto it = info.find("chargingState"); it != info.end()) data["charging_state"] = *it;
  if (auto it = info.find("stoppedReason"); it != info.end()) data["stop_reason"] = *it;
  std::optional<int> evse_id;
  if (p.contains("evse")) evse_id = p["evse"].at("id").get<int>();
  publish_session(services,
                  event_type == "Started" ? "session.started"
                  : event_type == "Ended" ? "session.ended"
                                          : "session.updated",
                  station_id, session_id, evse_id, driver_id, std::move(data));
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
               DO UPDATE SET updated_at = now()
             RETURNING id, driver_id, xmax = 0)",
          ctx.station_id, connector, id_tag, check.driver_id, timestamp, meter_start, start_key);
      tx.commit();
      return Started{rows[0][0].as<int>(), check, optional_id(rows[0][1]), rows[0][2].as<bool>()};
    });
    if (started.inserted)
      publish_session(services, "session.started", ctx.station_id, started.id, connector,
                      started.driver_id, {{"id_token", id_tag}, {"started_at", timestamp}});
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

    struct Stopped {
      bool known;
      int evse_id;
      std::optional<TokenCheck> check;
      std::optional<long long> driver_id;
      bool was_active = false;
    };
    auto stopped = co_await services.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      Stopped result{false, 0, std::nullopt, std::nullopt};
      if (id_tag) result.check = check_token(tx, *id_tag, services.config.accept_unknown_tokens);
      auto rows = tx.exec_params(
          R"(UPDATE transactions t SET state = 'ended', ended_at = $3,
                    meter_stop_wh = $4::bigint,
                    import_last_wh = GREATEST(t.import_last_wh, $4::bigint), stop_reason = $5,
                    updated_at = now()
             FROM (SELECT id, state FROM transactions
                   WHERE station_id = $1 AND id = $2 FOR UPDATE) AS before
             WHERE t.id = before.id
             RETURNING t.evse_id, t.driver_id, before.state = 'active')",
          ctx.station_id, transaction_id, timestamp, meter_stop, reason);
      tx.commit();
      if (!rows.empty()) {
        result.known = true;
        result.evse_id = rows[0][0].is_null() ? 0 : rows[0][0].as<int>();
        result.driver_id = optional_id(rows[0][1]);
        result.was_active = rows[0][2].as<bool>();
      }
      return result;
    });
    if (stopped.was_active)
      publish_session(
          services, "session.ended", ctx.station_id, transaction_id, stopped.evse_id,
          stopped.driver_id,
          {{"ended_at", timestamp}, {"stop_reason", reason}, {"meter_stop_wh", meter_stop}});
    if (!stopped.known) {
      // Answer anyway: a station would otherwise resend it forever.
      log::warn("transaction_unknown",
                {{"station", ctx.station_id}, {"transaction", transaction_id}});
    } else if (auto data = p.find("transactionData"); data != p.end()) {
      std::vector<MeterRow> rows;
      try {
        rows = meter_rows_16(ctx.station_id, stopped.evse_id, transaction_id, *data,
                             "/transactionData");
      } catch (const BadMeterValue& e) {
        co_return bad_meter_value(e);
      }
      co_await services.meters.write(std::move(rows));
    }
    log::info("transaction_ended",
              {{"station", ctx.station_id}, {"transaction", transaction_id}, {"reason", reason}});
    nlohmann::json answer = nlohmann::json::object();
    if (stopped.check) answer["idTagInfo"] = id_tag_info_16(*stopped.check);
    co_return CallReply::ok(std::move(answer));
  };
}

Handler meter_values_16(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto& p = ctx.payload;
    const int connector = p.at("connectorId").get<int>();
    auto transaction_id = optional_field<int>(p, "transactionId");
    std::vector<MeterRow> rows;
    try {
      rows = meter_rows_16(ctx.station_id, connector, transaction_id, p.at("meterValue"),
                           "/meterValue");
    } catch (const BadMeterValue& e) {
      co_return bad_meter_value(e);
    }
    co_await services.meters.write(std::move(rows));
    if (transaction_id)
      publish_session(services, "session.updated", ctx.station_id, *transaction_id, connector,
                      std::nullopt);
    co_return CallReply::ok(nlohmann::json::object());
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

    struct Recorded {
      int id;
      std::optional<TokenCheck> check;
      std::optional<long long> driver_id;
      bool replay = false;
    };
    auto recorded = co_await services.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      Recorded result{0, std::nullopt, std::nullopt};
      if (token && token_needs_check)
        result.check = check_token(tx, *token, services.config.accept_unknown_tokens);
      auto inserted = tx.exec_params(
          R"(INSERT INTO transaction_events (station_id, transaction_uid, seq_no, event_type,
                                             trigger_reason, occurred_at, offline, payload)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
             ON CONFLICT DO NOTHING)",
          ctx.station_id, uid, seq_no, event_type, trigger, timestamp, offline, p.dump());
      const bool replay = inserted.affected_rows() == 0;
      // Events may arrive in any order (offline queues): each field takes the
      // value that is right whatever order they come in.
      auto rows = tx.exec_params(
          R"(INSERT INTO transactions AS t (station_id, transaction_uid, protocol, evse_id,
                                            connector_id, id_token, driver_id, state,
                                            charging_state, started_at, ended_at, stop_reason,
                                            last_seq_no)
             VALUES ($1, $2, $3, $4, $5, $6, $7,
                     CASE WHEN $8 = 'Ended' THEN 'ended' ELSE 'active' END,
                     $9, $10, CASE WHEN $8 = 'Ended' THEN $10::timestamptz END, $11, $12)
             ON CONFLICT (station_id, transaction_uid) DO UPDATE SET
               evse_id = COALESCE(t.evse_id, excluded.evse_id),
               connector_id = COALESCE(t.connector_id, excluded.connector_id),
               id_token = COALESCE(t.id_token, excluded.id_token),
               driver_id = COALESCE(t.driver_id, excluded.driver_id),
               state = CASE WHEN $13 THEN t.state
                            WHEN t.state = 'ended' OR $8 = 'Ended' THEN 'ended'
                            ELSE 'active' END,
               charging_state = CASE WHEN NOT $13 AND $12 >= COALESCE(t.last_seq_no, -1)
                                     THEN COALESCE(excluded.charging_state, t.charging_state)
                                     ELSE t.charging_state END,
               started_at = CASE WHEN $13 THEN t.started_at
                                 WHEN $8 = 'Started' THEN excluded.started_at
                                 ELSE LEAST(t.started_at, excluded.started_at) END,
               ended_at = CASE WHEN NOT $13 AND $8 = 'Ended' THEN excluded.ended_at
                               ELSE t.ended_at END,
               meter_stop_wh = CASE WHEN NOT $13 AND $8 = 'Ended'
                                    THEN GREATEST(t.meter_stop_wh, round(t.import_last_wh)::bigint)
                                    ELSE t.meter_stop_wh END,
               stop_reason = COALESCE(t.stop_reason, excluded.stop_reason),
               last_seq_no = GREATEST(t.last_seq_no, excluded.last_seq_no),
               updated_at = now()
             RETURNING id, driver_id)",
          ctx.station_id, uid, protocol, evse_id, connector_id, token,
          result.check ? result.check->driver_id : std::nullopt, event_type, charging_state,
          timestamp, stopped_reason, seq_no, replay);
      tx.commit();
      result.id = rows[0][0].as<int>();
      result.driver_id = optional_id(rows[0][1]);
      result.replay = replay;
      return result;
    });
    if (!recorded.replay)
      publish_transaction_event(services, ctx.station_id, recorded.id, recorded.driver_id, p);

    if (auto meter_value = p.find("meterValue"); meter_value != p.end()) {
      std::vector<MeterRow> rows;
      try {
        rows = meter_rows_201(ctx.station_id, evse_id.value_or(0), recorded.id, *meter_value,
                              "/meterValue");
      } catch (const BadMeterValue& e) {
        co_return bad_meter_value(e);
      }
      co_await services.meters.write(std::move(rows));
    }
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

Handler meter_values_201(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto& p = ctx.payload;
    std::vector<MeterRow> rows;
    try {
      rows = meter_rows_201(ctx.station_id, p.at("evseId").get<int>(), std::nullopt,
                            p.at("meterValue"), "/meterValue");
    } catch (const BadMeterValue& e) {
      co_return bad_meter_value(e);
    }
    co_await services.meters.write(std::move(rows));
    co_return CallReply::ok(nlohmann::json::object());
  };
}

}  // namespace

void register_transactions(HandlerRegistry& registry, Services& services) {
  registry.add(OcppVersion::v16, "StartTransaction", start_transaction_16(services));
  registry.add(OcppVersion::v16, "StopTransaction", stop_transaction_16(services));
  registry.add(OcppVersion::v16, "MeterValues", meter_values_16(services));
  add_201_and_21(registry, "TransactionEvent", transaction_event(services));
  add_201_and_21(registry, "MeterValues", meter_values_201(services));
}

}  // namespace chargegrid::server::handlers
