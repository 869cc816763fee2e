#include "store/outbox.hpp"

#include <pqxx/pqxx>
#include <set>

#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::outbox {

void subscribe(Tx& tx, const std::string& consumer, const std::string& topic,
               std::chrono::milliseconds deliver_after) {
  tx.exec_params(
      "INSERT INTO outbox_consumers (consumer, topic, deliver_after_ms) VALUES ($1, $2, $3) "
      "ON CONFLICT (consumer, topic) DO UPDATE SET deliver_after_ms = excluded.deliver_after_ms",
      consumer, topic, static_cast<int>(deliver_after.count()));
}

std::string node_consumer(const std::string& name, const std::string& node) {
  return name + "@" + node;
}

std::size_t drop_node_consumers(Tx& tx, const std::string& node) {
  // Node ids may hold '_', a LIKE wildcard: the suffix is compared as text.
  std::set<std::string> names;
  for (const auto& r : tx.exec_params(
           "DELETE FROM outbox_consumers WHERE right(consumer, length($1) + 1) = '@' || $1 "
           "RETURNING consumer",
           node))
    names.insert(r[0].as<std::string>());
  if (names.empty()) return 0;
  const std::vector<std::string> list(names.begin(), names.end());
  return tx
      .exec_params("DELETE FROM outbox WHERE consumer = ANY($1::text[]) AND done_at IS NULL",
                   text_array(list))
      .affected_rows();
}

std::size_t append(Tx& tx, const std::string& topic, const nlohmann::json& payload) {
  return tx
      .exec_params1(
          // Delayed from the moment of writing (clock_timestamp), not the transaction's start.
          // Each consumer's name is NOTIFYed on kWakeChannel, delivered when this commits
          // (PostgreSQL folds repeats within a transaction into one).
          "WITH added AS ("
          "  INSERT INTO outbox (consumer, topic, payload, available_at) "
          "  SELECT consumer, $1, $2::jsonb, "
          "         clock_timestamp() + deliver_after_ms * interval '1 millisecond' "
          "  FROM outbox_consumers WHERE topic = $1 RETURNING consumer) "
          "SELECT count(*) FROM (SELECT pg_notify($3, consumer) FROM added) AS woken",
          topic, payload.dump(), kWakeChannel)[0]
      .as<std::size_t>();
}

std::vector<Row> claim(Tx& tx, const std::string& consumer, int limit) {
  std::vector<Row> rows;
  for (const auto& r :
       tx.exec_params("SELECT id, topic, payload::text, attempts FROM outbox "
                      "WHERE consumer = $1 AND done_at IS NULL AND available_at <= now() "
                      "ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
                      consumer, limit))
    rows.push_back({r[0].as<std::int64_t>(), r[1].as<std::string>(),
                    nlohmann::json::parse(r[2].as<std::string>()), r[3].as<int>()});
  return rows;
}

void done(Tx& tx, std::int64_t id) {
  tx.exec_params("UPDATE outbox SET done_at = now() WHERE id = $1", id);
}

void failed(Tx& tx, std::int64_t id, const std::string& error,
            std::chrono::milliseconds retry_after) {
  tx.exec_params(
      "UPDATE outbox SET attempts = attempts + 1, last_error = $2, "
      "available_at = now() + make_interval(secs => $3) WHERE id = $1",
      id, error, static_cast<double>(retry_after.count()) / 1000.0);
}

std::vector<std::int64_t> pending_session_ends(Tx& tx, const std::string& consumer) {
  std::vector<std::int64_t> out;
  for (const auto& r : tx.exec_params(
           "SELECT (payload->>'session_id')::bigint FROM outbox WHERE consumer = $1 AND topic = $2 "
           "AND done_at IS NULL AND payload->>'session_id' ~ '^[0-9]{1,18}$'",
           consumer, std::string(kSessionEnded)))
    out.push_back(r[0].as<std::int64_t>());
  return out;
}

std::size_t prune_done(Tx& tx, std::chrono::hours keep, std::size_t limit) {
  return tx
      .exec_params(
          "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE done_at < now() - "
          "make_interval(hours => $1) LIMIT $2)",
          static_cast<int>(keep.count()), static_cast<std::int64_t>(limit))
      .affected_rows();
}

std::vector<Backlog> backlog(Tx& tx) {
  std::vector<Backlog> out;
  for (const auto& r :
       tx.exec("SELECT consumer, count(*), extract(epoch FROM now() - min(created_at))::float8 "
               "FROM outbox WHERE done_at IS NULL GROUP BY consumer ORDER BY consumer"))
    out.push_back({r[0].as<std::string>(), r[1].as<std::int64_t>(), r[2].as<double>()});
  return out;
}

}  // namespace chargegrid::server::store::outbox
