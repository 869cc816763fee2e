#pragma once
// outbox: durable events (migration 0008). append() writes one row per consumer subscribed to
// the topic, inside the caller's transaction; a consumer (events/outbox_consumer.hpp) claims
// its rows and marks them done in the transaction that does its work.

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/transaction.hpp"

namespace chargegrid::server::store::outbox {

// Topics written today.
inline constexpr const char* kSessionEnded = "session.ended";
inline constexpr const char* kChargingNeeds = "ev.charging_needs";
inline constexpr const char* kSettlementRecorded = "settlement.recorded";
// {"site_ids": [...]}: the demand-response windows of these sites changed (store/demand_response).
inline constexpr const char* kDemandResponseChanged = "demand_response.changed";
// {"site_ids": [...]}: these sites' limits or tariff changed (the sites and tariff API).
inline constexpr const char* kSiteChanged = "site.changed";

// From now on `consumer` receives every event of `topic`, each due `deliver_after` after it is
// written (a consumer that must wait for what follows an event; not a failure, no backoff).
void subscribe(Tx& tx, const std::string& consumer, const std::string& topic,
               std::chrono::milliseconds deliver_after = std::chrono::milliseconds(0));
// A consumer of one cluster node rather than of the cluster ("name@node"): every node receives
// each event. drop_node_consumers() ends its subscriptions and pending rows when the node leaves
// or is declared dead; such a consumer catches up from the database when its node starts.
std::string node_consumer(const std::string& name, const std::string& node);
// Returns how many pending rows went.
std::size_t drop_node_consumers(Tx& tx, const std::string& node);

// The NOTIFY channel append() names each consumer on when its row commits
// (events/outbox_wakeups.hpp).
inline constexpr const char* kWakeChannel = "chargegrid_outbox";

// Writes the event for each consumer of its topic; returns how many rows.
std::size_t append(Tx& tx, const std::string& topic, const nlohmann::json& payload);

struct Row {
  std::int64_t id = 0;
  std::string topic;
  nlohmann::json payload;
  int attempts = 0;  // failed attempts before this one
};
// Up to `limit` of the consumer's rows that are due, oldest first, locked until the
// transaction ends; rows another transaction holds are skipped.
std::vector<Row> claim(Tx& tx, const std::string& consumer, int limit);
void done(Tx& tx, std::int64_t id);
// A failed attempt: the row waits `retry_after` before it is due again.
void failed(Tx& tx, std::int64_t id, const std::string& error,
            std::chrono::milliseconds retry_after);

// The sessions whose session.ended event `consumer` has yet to process (its payload's
// "session_id").
std::vector<std::int64_t> pending_session_ends(Tx& tx, const std::string& consumer);

// Deletes up to `limit` rows processed more than `keep` ago (a consumer never reads a row
// again once done); returns how many.
std::size_t prune_done(Tx& tx, std::chrono::hours keep, std::size_t limit);

struct Backlog {
  std::string consumer;
  std::int64_t pending = 0;
  double oldest_age_s = 0;
};
std::vector<Backlog> backlog(Tx& tx);

}  // namespace chargegrid::server::store::outbox
