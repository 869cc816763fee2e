#include "chargegrid/ledger/postgres_log.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace chargegrid::ledger {
namespace {

// The schema's last object (db/migrations/0009_ledger_log.sql): a database that has it has all
// of it.
constexpr const char* kSchemaCurrentSql =
    "SELECT 1 FROM pg_trigger WHERE tgname = 'ledger_log_head_grows' "
    "AND tgrelid = to_regclass('ledger_log_head')";

// Prepared statements (per connection).
constexpr const char* kLockHead = "chargegrid_ledger_lock_head";
constexpr const char* kLockHeadSql = "SELECT size FROM ledger_log_head FOR UPDATE";

constexpr const char* kHeadSize = "chargegrid_ledger_head_size";
constexpr const char* kHeadSizeSql = "SELECT size FROM ledger_log_head";

// Which of the given leaves are already in the log, and where.
constexpr const char* kFindLeaves = "chargegrid_ledger_find_leaves";
constexpr const char* kFindLeavesSql =
    "SELECT encode(leaf_hash, 'hex'), idx FROM ledger_log_entry "
    "WHERE leaf_hash = ANY($1::bytea[])";

// Entries, their new subtrees and the new size, in one statement.
constexpr const char* kWrite = "chargegrid_ledger_write";
constexpr const char* kWriteSql = R"SQL(
WITH entries AS (
  INSERT INTO ledger_log_entry (idx, leaf_hash, record)
  SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::text[])),
nodes AS (
  INSERT INTO ledger_log_node (level, idx, hash)
  SELECT * FROM unnest($4::smallint[], $5::bigint[], $6::bytea[]))
UPDATE ledger_log_head SET size = $7
)SQL";

// Subtrees by (level, index): leaves (level 0) from the entries, the others from the nodes.
// Called through ledger_log_subtrees(), whose one generic plan is kept for the session: a
// prepared statement with array parameters would be planned anew on every call.
constexpr const char* kFetchNodes = "chargegrid_ledger_fetch_nodes";
constexpr const char* kFetchNodesSql = "SELECT * FROM ledger_log_subtrees($1, $2, $3)";

// Leaves only: what a proof reads when the cache holds every stored subtree it needs.
constexpr const char* kFetchLeaves = "chargegrid_ledger_fetch_leaves";
constexpr const char* kFetchLeavesSql =
    "SELECT 0, idx, encode(leaf_hash, 'hex') FROM ledger_log_entry WHERE idx = ANY($1::bigint[])";

// The committed size and every subtree at level >= $2 that the tree of that size has and a
// tree of $1 leaves lacks, from one snapshot (the head and the subtrees are committed together).
constexpr const char* kCatchUp = "chargegrid_ledger_catch_up";
constexpr const char* kCatchUpSql = R"SQL(
SELECT h.size, n.level, n.idx, encode(n.hash, 'hex')
FROM ledger_log_head h
LEFT JOIN LATERAL (
  SELECT nd.level, nd.idx, nd.hash
  FROM generate_series($2::int, 63) AS l(level)
  JOIN ledger_log_node nd ON nd.level = l.level
   AND nd.idx >= ($1::bigint >> l.level) AND nd.idx < (h.size >> l.level)) n ON true
)SQL";

constexpr const char* kFindIndex = "chargegrid_ledger_find_index";
constexpr const char* kFindIndexSql = "SELECT idx FROM ledger_log_entry WHERE leaf_hash = $1";

// Subtrees of 2^kStoredLevel leaves and more are stored; smaller ones are recomputed from
// their leaves when read, which keeps the rows written per entry near one.
constexpr unsigned kStoredLevel = 4;

// Entries per statement when a batch is written; a batch of up to this many records is
// written with one statement.
constexpr std::size_t kRowsPerStatement = 10000;

Hash hash_from_hex(const pqxx::field& field) {
  const auto bytes = hex_decode(std::string_view(field.c_str(), field.size()));
  const auto hash = bytes ? to_hash(*bytes) : std::nullopt;
  if (!hash) throw std::runtime_error("ledger log: stored hash is not 32 bytes");
  return *hash;
}

std::string bytea_text(const Hash& hash) {
  return "\\x" + hex_encode(hash);
}

// PostgreSQL array literals for the statements' array parameters.
class ArrayLiteral {
 public:
  void add(std::uint64_t value) { next() += std::to_string(value); }
  void add(const Hash& hash) { next() += "\\\\x" + hex_encode(hash); }  // bytea, hex form
  void add_text(std::string_view text) {
    auto special = [](char c) { return c == '"' || c == '\\'; };
    std::string& out = next();
    std::size_t at = out.size();
    out.resize(at + text.size() + std::count_if(text.begin(), text.end(), special) + 2);
    char* p = out.data() + at;
    *p++ = '"';
    for (char c : text) {
      if (special(c)) *p++ = '\\';
      *p++ = c;
    }
    *p = '"';
  }
  std::string str() const { return text_ + "}"; }

 private:
  std::string& next() {
    if (text_.size() > 1) text_ += ',';
    return text_;
  }
  std::string text_ = "{";
};

using NodeKey = std::pair<unsigned, std::uint64_t>;

struct HashHasher {
  std::size_t operator()(const Hash& hash) const {
    std::size_t out = 0;
    for (std::size_t i = 0; i < sizeof out; ++i) out = (out << 8) | hash[i];
    return out;
  }
};

// The hash of subtree (level, index) computed from its leaves.
Hash hash_from_leaves(const std::map<std::uint64_t, Hash>& leaves, unsigned level,
                      std::uint64_t index) {
  if (level == 0) return leaves.at(index);
  return node_hash(hash_from_leaves(leaves, level - 1, 2 * index),
                   hash_from_leaves(leaves, level - 1, 2 * index + 1));
}

// Reads the given subtrees (any levels) in one statement. Those below kStoredLevel are
// computed from their leaves (fewer than 2^kStoredLevel leaves each).
std::map<NodeKey, Hash> fetch_nodes(pqxx::transaction_base& tx, const std::vector<NodeKey>& keys) {
  std::map<NodeKey, Hash> out;
  if (keys.empty()) return out;
  std::set<std::uint64_t> leaf_indices;
  std::set<NodeKey> node_keys;
  for (const auto& [level, index] : keys) {
    if (level >= kStoredLevel) {
      node_keys.emplace(level, index);
    } else {
      for (std::uint64_t leaf = index << level; leaf < (index + 1) << level; ++leaf) {
        leaf_indices.insert(leaf);
      }
    }
  }
  ArrayLiteral leaf_list, levels, indices;
  for (auto leaf : leaf_indices) leaf_list.add(leaf);
  for (const auto& [level, index] : node_keys) {
    levels.add(level);
    indices.add(index);
  }
  std::map<std::uint64_t, Hash> leaves;
  auto rows = node_keys.empty()
                  ? tx.exec_prepared(kFetchLeaves, leaf_list.str())
                  : tx.exec_prepared(kFetchNodes, leaf_list.str(), levels.str(), indices.str());
  for (const auto& row : rows) {
    auto level = row[0].as<unsigned>();
    auto index = row[1].as<std::uint64_t>();
    if (level == 0) {
      leaves[index] = hash_from_hex(row[2]);
    } else {
      out[{level, index}] = hash_from_hex(row[2]);
    }
  }
  if (leaves.size() != leaf_indices.size() || out.size() != node_keys.size()) {
    throw std::out_of_range("ledger log: the tree does not hold those subtrees (size too large?)");
  }
  for (const auto& [level, index] : keys) {
    if (level < kStoredLevel) out[{level, index}] = hash_from_leaves(leaves, level, index);
  }
  return out;
}

std::uint64_t head_size(pqxx::transaction_base& tx) {
  return tx.exec_prepared(kHeadSize).at(0)[0].as<std::uint64_t>();
}

std::string hashes_json(const std::vector<Hash>& hashes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& h : hashes) out.push_back(base64_encode(h));
  return out.dump();
}

StoredCheckpoint checkpoint_from(const pqxx::row& row) {
  return StoredCheckpoint{row[0].as<std::uint64_t>(), hash_from_hex(row[1]),
                          row[2].as<std::string>()};
}

}  // namespace

std::string InclusionProof::to_json() const {
  return "{\"index\":" + std::to_string(index) + ",\"size\":" + std::to_string(size) +
         ",\"hashes\":" + hashes_json(hashes) + "}";
}

std::string ConsistencyProof::to_json() const {
  return "{\"old_size\":" + std::to_string(old_size) + ",\"new_size\":" + std::to_string(new_size) +
         ",\"hashes\":" + hashes_json(hashes) + "}";
}

PostgresLog::PostgresLog(pqxx::connection& connection, NoteSigner signer,
                         std::shared_ptr<SubtreeCache> cache)
    : connection_(connection),
      signer_(std::move(signer)),
      cache_(cache ? std::move(cache) : std::make_shared<SubtreeCache>()) {
  if (cache_->lowest_level() < kStoredLevel) {
    throw std::invalid_argument("ledger log: the subtree cache must start at level " +
                                std::to_string(kStoredLevel) + " or above");
  }
  pqxx::work tx(connection_);
  if (tx.exec(kSchemaCurrentSql).empty())
    throw std::runtime_error(
        "ledger log: the database has no ledger tables; apply ChargeGrid's migrations "
        "(db/migrations/0009_ledger_log.sql)");
  tx.exec("INSERT INTO ledger_log_head (origin, size) VALUES (" + tx.quote(signer_.name()) +
          ", 0) ON CONFLICT DO NOTHING");
  auto origin = tx.exec1("SELECT origin FROM ledger_log_head")[0].as<std::string>();
  if (origin != signer_.name()) {
    throw std::runtime_error("ledger log: this database holds the log \"" + origin + "\", not \"" +
                             signer_.name() + "\"");
  }
  tx.commit();
  prepare_statements(connection_);
}

void PostgresLog::prepare_statements(pqxx::connection_base& connection) {
  // Prepared lazily, on first use; preparing the same definition again changes nothing.
  connection.prepare(kLockHead, kLockHeadSql);
  connection.prepare(kHeadSize, kHeadSizeSql);
  connection.prepare(kFindLeaves, kFindLeavesSql);
  connection.prepare(kWrite, kWriteSql);
  connection.prepare(kFetchNodes, kFetchNodesSql);
  connection.prepare(kFetchLeaves, kFetchLeavesSql);
  connection.prepare(kCatchUp, kCatchUpSql);
  connection.prepare(kFindIndex, kFindIndexSql);
}

void PostgresLog::cover(pqxx::transaction_base& tx, std::uint64_t tree_size) {
  std::uint64_t from = cache_->size();
  if (tree_size <= from) return;
  auto rows = tx.exec_prepared(kCatchUp, from, cache_->lowest_level());
  std::uint64_t head = rows.at(0)[0].as<std::uint64_t>();
  if (head > from) {
    std::vector<Subtree> subtrees;
    subtrees.reserve(rows.size());
    for (const auto& row : rows) {
      if (row[1].is_null()) continue;
      subtrees.push_back(
          {row[1].as<unsigned>(), row[2].as<std::uint64_t>(), hash_from_hex(row[3])});
    }
    if (!cache_->extend(from, head, std::move(subtrees))) {
      throw std::runtime_error("ledger log: stored subtrees are missing for the committed size");
    }
  }
  if (tree_size > head) throw std::out_of_range("tree size beyond the log");
}

std::vector<Hash> PostgresLog::with_nodes(pqxx::transaction_base& tx, std::uint64_t tree_size,
                                          const ProofMaker& make) {
  cover(tx, tree_size);
  const unsigned cached = cache_->lowest_level();
  // First pass: learn which lower subtrees the computation reads.
  std::vector<NodeKey> wanted;
  make([&](unsigned level, std::uint64_t index) {
    if (level < cached) wanted.emplace_back(level, index);
    return Hash{};
  });
  auto lower = fetch_nodes(tx, wanted);
  return make([&](unsigned level, std::uint64_t index) {
    if (level < cached) return lower.at({level, index});
    auto hash = cache_->find(level, index);
    if (!hash) throw std::logic_error("ledger log: a covered subtree is not in the cache");
    return *hash;
  });
}

Hash PostgresLog::root_in(pqxx::transaction_base& tx, std::uint64_t tree_size) {
  if (tree_size == 0) return empty_root();
  return with_nodes(tx, tree_size, [&](const NodeReader& read) {
    return std::vector<Hash>{root_hash(read, tree_size)};
  })[0];
}

AppendResult PostgresLog::append(const std::vector<std::string>& canonical_records) {
  pqxx::work tx(connection_);
  std::vector<Subtree> cached_subtrees;
  std::array<Hash, 64> frontier{};
  std::uint64_t old_size = 0;
  std::uint64_t known_size = frontier_size_;
  frontier_size_ = kUnknownSize;  // until the commit is known to have happened
  auto result = append_batch(tx, canonical_records, known_size, frontier_, frontier, old_size,
                             cache_->lowest_level(), cached_subtrees);
  tx.commit();
  frontier_ = frontier;
  frontier_size_ = result.tree_size;
  // Committed: the new subtrees may now be served (a no-op when the cache lags behind; it
  // catches up from storage when asked for this size).
  cache_->extend(old_size, result.tree_size, std::move(cached_subtrees));
  return result;
}

AppendResult PostgresLog::append_in(pqxx::transaction_base& tx,
                                    const std::vector<std::string>& canonical_records) {
  prepare_statements(tx.conn());
  std::uint64_t known_size = kUnknownSize, old_size = 0;
  std::array<Hash, 64> known{}, frontier{};
  std::vector<Subtree> unused;
  return append_batch(tx, canonical_records, known_size, known, frontier, old_size, 64, unused);
}

AppendResult PostgresLog::append_batch(pqxx::transaction_base& tx,
                                       const std::vector<std::string>& canonical_records,
                                       std::uint64_t& edge_size, std::array<Hash, 64>& edge,
                                       std::array<Hash, 64>& frontier, std::uint64_t& old_size_out,
                                       unsigned cached_level,
                                       std::vector<Subtree>& cached_subtrees) {
  std::vector<Hash> leaves;
  leaves.reserve(canonical_records.size());
  for (const auto& record : canonical_records) leaves.push_back(leaf_hash(record));

  const std::uint64_t old_size = tx.exec_prepared(kLockHead).at(0)[0].as<std::uint64_t>();
  std::uint64_t size = old_size;
  AppendResult result;

  // Records already in the log keep their index.
  std::unordered_map<Hash, std::uint64_t, HashHasher> known;
  for (std::size_t start = 0; start < leaves.size(); start += kRowsPerStatement) {
    ArrayLiteral list;
    for (std::size_t i = start; i < std::min(leaves.size(), start + kRowsPerStatement); ++i) {
      list.add(leaves[i]);
    }
    for (const auto& row : tx.exec_prepared(kFindLeaves, list.str())) {
      known[hash_from_hex(row[0])] = row[1].as<std::uint64_t>();
    }
  }

  // The right edge of the tree: kept from this log's last commit, read when another writer
  // has appended since.
  old_size_out = old_size;
  if (edge_size != size) {
    std::vector<NodeKey> keys;
    for (unsigned level = 0; level < 64; ++level) {
      if ((size >> level) & 1) keys.emplace_back(level, (size >> level) - 1);
    }
    auto nodes = fetch_nodes(tx, keys);
    for (const auto& [key, hash] : nodes) edge[key.first] = hash;
    edge_size = size;  // read from the committed tree, whatever becomes of this batch
  }
  frontier = edge;

  // New entries and subtrees, written a statement's worth at a time.
  ArrayLiteral entry_indices, entry_leaves, entry_records, node_levels, node_indices, node_hashes;
  std::size_t pending = 0;
  auto write = [&] {
    tx.exec_prepared(kWrite, entry_indices.str(), entry_leaves.str(), entry_records.str(),
                     node_levels.str(), node_indices.str(), node_hashes.str(), size);
    entry_indices = entry_leaves = entry_records = node_levels = node_indices = node_hashes = {};
    pending = 0;
  };
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (auto it = known.find(leaves[i]); it != known.end()) {
      result.indices.push_back(it->second);
      ++result.duplicates;
      continue;
    }
    const std::uint64_t index = size++;
    known.emplace(leaves[i], index);
    result.indices.push_back(index);
    entry_indices.add(index);
    entry_leaves.add(leaves[i]);
    entry_records.add_text(canonical_records[i]);
    // Each set low bit of the index closes a perfect subtree with the right edge's one.
    Hash hash = leaves[i];
    unsigned level = 0;
    while ((index >> level) & 1) {
      hash = node_hash(frontier[level], hash);
      ++level;
      if (level >= kStoredLevel) {
        node_levels.add(level);
        node_indices.add(index >> level);
        node_hashes.add(hash);
      }
      if (level >= cached_level) cached_subtrees.push_back({level, index >> level, hash});
    }
    frontier[level] = hash;
    if (++pending == kRowsPerStatement) write();
  }
  if (pending > 0) write();
  result.tree_size = size;
  return result;
}

std::uint64_t PostgresLog::size() {
  pqxx::nontransaction tx(connection_);
  return head_size(tx);
}

StoredCheckpoint PostgresLog::publish_checkpoint() {
  pqxx::work tx(connection_);
  std::uint64_t size = head_size(tx);
  Checkpoint checkpoint{signer_.name(), size, root_in(tx, size), {}};
  std::string note = signer_.sign(checkpoint.body());
  tx.exec("INSERT INTO ledger_log_checkpoint (size, root, note) VALUES (" + std::to_string(size) +
          "," + tx.quote(bytea_text(checkpoint.root)) + "::bytea," + tx.quote(note) +
          ") ON CONFLICT (size) DO NOTHING");
  auto row = tx.exec1(
      "SELECT size, encode(root, 'hex'), note FROM ledger_log_checkpoint "
      "WHERE size = " +
      std::to_string(size));
  tx.commit();
  return checkpoint_from(row);
}

std::optional<StoredCheckpoint> PostgresLog::publish_if_due(std::chrono::seconds interval) {
  {
    pqxx::read_transaction tx(connection_);
    auto rows = tx.exec("SELECT c.size, c.published_at <= now() - make_interval(secs => " +
                        std::to_string(interval.count()) +
                        "), h.size FROM ledger_log_head h LEFT JOIN LATERAL (SELECT size, "
                        "published_at FROM ledger_log_checkpoint ORDER BY size DESC LIMIT 1) c "
                        "ON true");
    const auto& row = rows.at(0);
    bool have_checkpoint = !row[0].is_null();
    if (have_checkpoint &&
        (!row[1].as<bool>() || row[0].as<std::uint64_t>() == row[2].as<std::uint64_t>())) {
      return std::nullopt;
    }
  }
  return publish_checkpoint();
}

std::optional<StoredCheckpoint> PostgresLog::latest_checkpoint() {
  pqxx::read_transaction tx(connection_);
  auto rows = tx.exec(
      "SELECT size, encode(root, 'hex'), note FROM ledger_log_checkpoint "
      "ORDER BY size DESC LIMIT 1");
  if (rows.empty()) return std::nullopt;
  return checkpoint_from(rows[0]);
}

std::vector<StoredCheckpoint> PostgresLog::checkpoints() {
  pqxx::read_transaction tx(connection_);
  std::vector<StoredCheckpoint> out;
  for (const auto& row : tx.exec("SELECT size, encode(root, 'hex'), note FROM "
                                 "ledger_log_checkpoint ORDER BY size")) {
    out.push_back(checkpoint_from(row));
  }
  return out;
}

InclusionProof PostgresLog::inclusion(std::uint64_t index, std::uint64_t tree_size) {
  if (index >= tree_size) throw std::out_of_range("index is not below the tree size");
  // Usually one statement: the upper subtrees come from the cache, which covers only
  // committed sizes, so no separate check of the size is needed.
  pqxx::nontransaction tx(connection_);
  auto hashes = with_nodes(tx, tree_size, [&](const NodeReader& read) {
    return inclusion_proof(read, index, tree_size);
  });
  return InclusionProof{index, tree_size, std::move(hashes)};
}

InclusionProof PostgresLog::inclusion_by_leaf(const Hash& leaf, std::uint64_t tree_size) {
  std::uint64_t index;
  {
    pqxx::nontransaction tx(connection_);
    auto rows = tx.exec_prepared(kFindIndex, bytea_text(leaf));
    if (rows.empty()) throw std::out_of_range("no entry has that leaf hash");
    index = rows[0][0].as<std::uint64_t>();
  }
  return inclusion(index, tree_size);
}

ConsistencyProof PostgresLog::consistency(std::uint64_t old_size, std::uint64_t new_size) {
  if (old_size == 0 || old_size > new_size) {
    throw std::out_of_range("consistency proof: sizes must satisfy 0 < old <= new");
  }
  pqxx::nontransaction tx(connection_);
  auto hashes = with_nodes(tx, new_size, [&](const NodeReader& read) {
    return consistency_proof(read, old_size, new_size);
  });
  return ConsistencyProof{old_size, new_size, std::move(hashes)};
}

std::string PostgresLog::record(std::uint64_t index) {
  pqxx::read_transaction tx(connection_);
  auto rows = tx.exec("SELECT record FROM ledger_log_entry WHERE idx = " + std::to_string(index));
  if (rows.empty()) throw std::out_of_range("no entry at that index");
  return rows[0][0].as<std::string>();
}

Hash PostgresLog::root(std::uint64_t tree_size) {
  pqxx::nontransaction tx(connection_);
  return root_in(tx, tree_size);
}

}  // namespace chargegrid::ledger
