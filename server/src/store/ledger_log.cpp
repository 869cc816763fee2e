#include "store/ledger_log.hpp"

#include <pqxx/pqxx>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include "chargegrid/ledger/merkle.hpp"

namespace chargegrid::server::store::ledger_log {

namespace {

// Subtrees below this level are not stored: they are computed from their leaves.
constexpr unsigned kStoredLevel = 4;

ledger::Hash hash_of(const pqxx::field& field) {
  auto bytes = ledger::hex_decode(field.c_str());
  if (!bytes || bytes->size() != 32) throw std::runtime_error("ledger log: a stored hash is bad");
  ledger::Hash out;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

std::string id_list(const std::set<std::uint64_t>& ids) {
  std::string out = "{";
  for (auto id : ids) out += (out.size() > 1 ? "," : "") + std::to_string(id);
  return out + "}";
}

ledger::Hash from_leaves(const std::map<std::uint64_t, ledger::Hash>& leaves, unsigned level,
                         std::uint64_t index) {
  if (level == 0) return leaves.at(index);
  return ledger::node_hash(from_leaves(leaves, level - 1, 2 * index),
                           from_leaves(leaves, level - 1, 2 * index + 1));
}

Checkpoint checkpoint_of(const pqxx::row& r) {
  return {r[0].as<std::uint64_t>(), hash_of(r[1]), r[2].as<std::string>(), r[3].as<std::string>(),
          r[4].as<double>()};
}

// Checkpoints as checkpoint_of reads them, with `tail` (a WHERE or ORDER BY). Appended, not
// `+`: g++ 12's -Warray-bounds misfires on a literal added to a std::string.
std::string checkpoint_query(std::string_view tail) {
  std::string sql =
      "SELECT size, encode(root, 'hex'), note, "
      "to_char(published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
      "extract(epoch FROM now() - published_at)::float8 FROM ledger_log_checkpoint ";
  sql += tail;
  return sql;
}

}  // namespace

bool exists(Tx& tx) {
  return !tx.exec("SELECT 1 FROM pg_class WHERE oid = to_regclass('ledger_log_head')").empty();
}

std::uint64_t size(Tx& tx) {
  auto rows = tx.exec("SELECT size FROM ledger_log_head");
  return rows.empty() ? 0 : rows[0][0].as<std::uint64_t>();
}

std::optional<std::string> entry(Tx& tx, std::uint64_t index) {
  auto rows = tx.exec_params("SELECT record FROM ledger_log_entry WHERE idx = $1",
                             static_cast<std::int64_t>(index));
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

std::vector<std::string> entries(Tx& tx, std::uint64_t begin, std::uint64_t end) {
  std::vector<std::string> out;
  if (end <= begin) return out;
  for (const auto& r : tx.exec_params(
           "SELECT idx, record FROM ledger_log_entry WHERE idx >= $1 AND idx < $2 ORDER BY idx",
           static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end))) {
    if (r[0].as<std::uint64_t>() != begin + out.size()) break;  // a gap: the tree ends there
    out.push_back(r[1].as<std::string>());
  }
  return out;
}

std::map<NodeKey, ledger::Hash> nodes(Tx& tx, const std::vector<NodeKey>& keys) {
  std::map<NodeKey, ledger::Hash> out;
  std::set<std::uint64_t> leaf_ids;
  std::map<unsigned, std::set<std::uint64_t>> stored;
  for (const auto& [level, index] : keys) {
    if (level >= kStoredLevel) {
      stored[level].insert(index);
    } else {
      for (std::uint64_t leaf = index << level; leaf < (index + 1) << level; ++leaf)
        leaf_ids.insert(leaf);
    }
  }
  std::map<std::uint64_t, ledger::Hash> leaves;
  if (!leaf_ids.empty()) {
    for (const auto& r : tx.exec_params("SELECT idx, encode(leaf_hash, 'hex') FROM "
                                        "ledger_log_entry WHERE idx = ANY($1::bigint[])",
                                        id_list(leaf_ids)))
      leaves[r[0].as<std::uint64_t>()] = hash_of(r[1]);
    if (leaves.size() != leaf_ids.size())
      throw std::out_of_range("the log does not hold those entries");
  }
  for (const auto& [level, ids] : stored) {
    for (const auto& r : tx.exec_params("SELECT idx, encode(hash, 'hex') FROM ledger_log_node "
                                        "WHERE level = $1 AND idx = ANY($2::bigint[])",
                                        static_cast<int>(level), id_list(ids)))
      out[{level, r[0].as<std::uint64_t>()}] = hash_of(r[1]);
  }
  for (const auto& key : keys) {
    if (key.first < kStoredLevel) {
      out[key] = from_leaves(leaves, key.first, key.second);
    } else if (!out.count(key)) {
      throw std::out_of_range("the log does not hold that subtree");
    }
  }
  return out;
}

std::vector<ledger::Hash> level_range(Tx& tx, unsigned level, std::uint64_t begin,
                                      std::uint64_t end) {
  std::vector<ledger::Hash> out;
  if (end <= begin) return out;
  pqxx::result rows;
  if (level == 0) {
    rows = tx.exec_params(
        "SELECT idx, encode(leaf_hash, 'hex') FROM ledger_log_entry "
        "WHERE idx >= $1 AND idx < $2 ORDER BY idx",
        static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end));
  } else if (level >= kStoredLevel) {
    rows = tx.exec_params(
        "SELECT idx, encode(hash, 'hex') FROM ledger_log_node "
        "WHERE level = $3 AND idx >= $1 AND idx < $2 ORDER BY idx",
        static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end), static_cast<int>(level));
  } else {
    const auto tree = size(tx);
    std::vector<NodeKey> keys;
    for (auto i = begin; i < end && ((i + 1) << level) <= tree; ++i) keys.emplace_back(level, i);
    for (const auto& [key, hash] : nodes(tx, keys)) out.push_back(hash);
    return out;
  }
  for (const auto& r : rows) {
    if (r[0].as<std::uint64_t>() != begin + out.size()) break;
    out.push_back(hash_of(r[1]));
  }
  return out;
}

std::optional<Checkpoint> latest_checkpoint(Tx& tx) {
  auto rows = tx.exec(checkpoint_query("ORDER BY size DESC LIMIT 1"));
  if (rows.empty()) return std::nullopt;
  return checkpoint_of(rows[0]);
}

std::optional<Checkpoint> checkpoint(Tx& tx, std::uint64_t size) {
  auto rows = tx.exec_params(checkpoint_query("WHERE size = $1"), static_cast<std::int64_t>(size));
  if (rows.empty()) return std::nullopt;
  return checkpoint_of(rows[0]);
}

std::vector<Checkpoint> checkpoints_after(Tx& tx, std::uint64_t after, int limit) {
  std::vector<Checkpoint> out;
  for (const auto& r : tx.exec_params(checkpoint_query("WHERE size > $1 ORDER BY size LIMIT $2"),
                                      static_cast<std::int64_t>(after), limit))
    out.push_back(checkpoint_of(r));
  return out;
}

}  // namespace chargegrid::server::store::ledger_log
