#include "store/ledger_adapters.hpp"

#include <pqxx/pqxx>

namespace chargegrid::server::store::ledger_adapters {

namespace {

constexpr const char* kTime = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'";

std::string utc(const std::string& column) {
  return "to_char(" + column + " AT TIME ZONE 'UTC', " + kTime + ")";
}

std::optional<std::string> text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<std::string>();
}

State state_of(const pqxx::row& r) {
  return {r[0].as<std::string>(),
          r[1].as<std::uint64_t>(),
          r[2].as<std::uint64_t>(),
          text(r[3]),
          text(r[4]),
          text(r[5])};
}

std::string state_columns() {
  return "SELECT adapter, next_index, delivered, " + utc("last_delivered_at") + ", last_error, " +
         utc("last_error_at") + " FROM ledger_adapter_state ";
}

Anchor anchor_of_row(const pqxx::row& r) {
  Anchor a;
  a.size = r[0].as<std::uint64_t>();
  a.adapter = r[1].as<std::string>();
  a.root_hex = r[2].as<std::string>();
  a.chain_id = r[3].as<std::uint64_t>();
  a.contract = r[4].as<std::string>();
  a.tx_hash = r[5].as<std::string>();
  if (!r[6].is_null()) a.block_number = r[6].as<std::uint64_t>();
  a.block_hash = text(r[7]);
  a.anchored_at = r[8].as<std::string>();
  return a;
}

std::string anchor_columns() {
  return "SELECT size, adapter, encode(root, 'hex'), chain_id, contract, tx_hash, block_number, "
         "block_hash, " +
         utc("anchored_at") + " FROM ledger_checkpoint_anchor ";
}

}  // namespace

State lock(Tx& tx, const std::string& adapter, std::uint64_t initial_next) {
  tx.exec_params(
      "INSERT INTO ledger_adapter_state (adapter, next_index) VALUES ($1, $2) "
      "ON CONFLICT DO NOTHING",
      adapter, static_cast<std::int64_t>(initial_next));
  return state_of(tx.exec_params1(state_columns() + "WHERE adapter = $1 FOR UPDATE", adapter));
}

void advance(Tx& tx, const std::string& adapter, std::uint64_t next_index,
             std::uint64_t delivered_now) {
  tx.exec_params(
      "UPDATE ledger_adapter_state SET next_index = greatest(next_index, $2), "
      "delivered = delivered + $3, last_delivered_at = CASE WHEN $3 > 0 THEN now() ELSE "
      "last_delivered_at END, last_error = CASE WHEN $3 > 0 THEN NULL ELSE last_error END, "
      "updated_at = now() WHERE adapter = $1",
      adapter, static_cast<std::int64_t>(next_index), static_cast<std::int64_t>(delivered_now));
}

void record_error(Tx& tx, const std::string& adapter, const std::string& error) {
  tx.exec_params(
      "INSERT INTO ledger_adapter_state (adapter, last_error, last_error_at) "
      "VALUES ($1, $2, now()) ON CONFLICT (adapter) DO UPDATE SET last_error = $2, "
      "last_error_at = now(), updated_at = now()",
      adapter, error);
}

std::vector<State> states(Tx& tx) {
  std::vector<State> out;
  for (const auto& r : tx.exec(state_columns() + "ORDER BY adapter")) out.push_back(state_of(r));
  return out;
}

std::string claim_signer(Tx& tx, const std::string& vkey) {
  tx.exec_params("INSERT INTO ledger_signer (vkey) VALUES ($1) ON CONFLICT DO NOTHING", vkey);
  return tx.exec1("SELECT vkey FROM ledger_signer")[0].as<std::string>();
}

std::optional<std::string> signer(Tx& tx) {
  auto rows = tx.exec("SELECT vkey FROM ledger_signer");
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

void record_anchor(Tx& tx, const Anchor& a) {
  tx.exec_params(
      "INSERT INTO ledger_checkpoint_anchor (size, adapter, root, chain_id, contract, tx_hash, "
      "block_number, block_hash) VALUES ($1, $2, decode($3, 'hex'), $4, $5, $6, $7, $8) "
      "ON CONFLICT DO NOTHING",
      static_cast<std::int64_t>(a.size), a.adapter, a.root_hex,
      static_cast<std::int64_t>(a.chain_id), a.contract, a.tx_hash,
      a.block_number ? std::optional<std::int64_t>(static_cast<std::int64_t>(*a.block_number))
                     : std::nullopt,
      a.block_hash);
}

std::vector<Anchor> anchors(Tx& tx, int limit) {
  std::vector<Anchor> out;
  for (const auto& r :
       tx.exec_params(anchor_columns() + "ORDER BY size DESC, adapter LIMIT $1", limit))
    out.push_back(anchor_of_row(r));
  return out;
}

std::optional<Anchor> anchor_of(Tx& tx, std::uint64_t size) {
  auto rows = tx.exec_params(anchor_columns() + "WHERE size = $1 ORDER BY adapter LIMIT 1",
                             static_cast<std::int64_t>(size));
  if (rows.empty()) return std::nullopt;
  return anchor_of_row(rows[0]);
}

std::optional<Anchor> anchor_covering(Tx& tx, const std::string& adapter, std::uint64_t index) {
  auto rows =
      tx.exec_params(anchor_columns() + "WHERE adapter = $1 AND size > $2 ORDER BY size LIMIT 1",
                     adapter, static_cast<std::int64_t>(index));
  if (rows.empty()) return std::nullopt;
  return anchor_of_row(rows[0]);
}

Backlog checkpoint_backlog(Tx& tx, std::uint64_t after) {
  auto r = tx.exec_params1(
      "SELECT count(*), coalesce(extract(epoch FROM now() - min(published_at))::float8, 0) "
      "FROM ledger_log_checkpoint WHERE size > $1",
      static_cast<std::int64_t>(after));
  return {r[0].as<std::int64_t>(), r[1].as<double>()};
}

std::optional<std::string> contract(Tx& tx, std::uint64_t chain_id) {
  auto rows = tx.exec_params("SELECT address FROM ledger_evm_contract WHERE chain_id = $1",
                             static_cast<std::int64_t>(chain_id));
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

void record_contract(Tx& tx, std::uint64_t chain_id, const std::string& address,
                     const std::string& deploy_tx) {
  tx.exec_params(
      "INSERT INTO ledger_evm_contract (chain_id, address, deploy_tx) VALUES ($1, $2, $3) "
      "ON CONFLICT DO NOTHING",
      static_cast<std::int64_t>(chain_id), address, deploy_tx);
}

}  // namespace chargegrid::server::store::ledger_adapters

namespace chargegrid::server::store::ledger_adapters {

std::optional<std::string> pending_error(Tx& tx, const std::string& consumer) {
  auto rows = tx.exec_params(
      "SELECT last_error FROM outbox WHERE consumer = $1 AND done_at IS NULL "
      "AND last_error IS NOT NULL ORDER BY attempts DESC, id LIMIT 1",
      consumer);
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

}  // namespace chargegrid::server::store::ledger_adapters
