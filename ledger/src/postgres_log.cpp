#include "chargegrid/ledger/postgres_log.hpp"

#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <stdexcept>

namespace chargegrid::ledger {
namespace {

constexpr const char* kSchema = R"SQL(
SELECT pg_advisory_xact_lock(7283746501);
CREATE TABLE IF NOT EXISTS ledger_log_entry (
  idx bigint PRIMARY KEY CHECK (idx >= 0),
  leaf_hash bytea NOT NULL UNIQUE CHECK (length(leaf_hash) = 32),
  record text NOT NULL);
CREATE TABLE IF NOT EXISTS ledger_log_node (
  level smallint NOT NULL CHECK (level >= 1 AND level < 64),
  idx bigint NOT NULL CHECK (idx >= 0),
  hash bytea NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (level, idx));
CREATE TABLE IF NOT EXISTS ledger_log_head (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  origin text NOT NULL,
  size bigint NOT NULL CHECK (size >= 0));
CREATE TABLE IF NOT EXISTS ledger_log_checkpoint (
  size bigint PRIMARY KEY,
  root bytea NOT NULL CHECK (length(root) = 32),
  note text NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now());
CREATE OR REPLACE FUNCTION ledger_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RAISE EXCEPTION 'the ledger log is append-only'; END$$;
CREATE OR REPLACE TRIGGER ledger_log_entry_append_only BEFORE UPDATE OR DELETE ON ledger_log_entry
  FOR EACH ROW EXECUTE FUNCTION ledger_log_refuse_change();
CREATE OR REPLACE TRIGGER ledger_log_node_append_only BEFORE UPDATE OR DELETE ON ledger_log_node
  FOR EACH ROW EXECUTE FUNCTION ledger_log_refuse_change();
CREATE OR REPLACE TRIGGER ledger_log_checkpoint_append_only BEFORE UPDATE OR DELETE
  ON ledger_log_checkpoint FOR EACH ROW EXECUTE FUNCTION ledger_log_refuse_change();
)SQL";

constexpr const char* kFetchNodes = "chargegrid_ledger_fetch_nodes";
constexpr const char* kFetchNodesSql = R"SQL(
SELECT k.level, k.idx, encode(coalesce(n.hash, e.leaf_hash), 'hex'),
       (SELECT size FROM ledger_log_head)
FROM unnest($1::int[], $2::bigint[]) AS k(level, idx)
LEFT JOIN ledger_log_node n ON k.level > 0 AND n.level = k.level AND n.idx = k.idx
LEFT JOIN ledger_log_entry e ON k.level = 0 AND e.idx = k.idx
)SQL";

// Rows per INSERT statement when a batch is written.
constexpr std::size_t kRowsPerStatement = 1000;

std::string bytea(const Hash& hash) {
  return "'\\x" + hex_encode(hash) + "'::bytea";
}

Hash hash_from_hex(const std::string& text) {
  auto bytes = hex_decode(text);
  auto hash = bytes ? to_hash(*bytes) : std::nullopt;
  if (!hash) throw std::runtime_error("ledger log: stored hash is not 32 bytes");
  return *hash;
}

using NodeKey = std::pair<unsigned, std::uint64_t>;

// Reads the given subtree hashes in one statement; when `head` is given it also reads the
// tree size in the same statement (one snapshot, one round trip).
std::map<NodeKey, Hash> fetch_nodes(pqxx::transaction_base& tx, const std::vector<NodeKey>& keys,
                                    std::uint64_t* head = nullptr) {
  std::map<NodeKey, Hash> out;
  if (keys.empty()) {
    if (head != nullptr)
      *head = tx.exec1("SELECT size FROM ledger_log_head")[0].as<std::uint64_t>();
    return out;
  }
  // One prepared statement for any set of subtrees: leaves (level 0) come from the entry
  // table, interior subtrees from the node table.
  std::string levels = "{";
  std::string indices = "{";
  for (const auto& [level, index] : keys) {
    if (levels.size() > 1) {
      levels += ",";
      indices += ",";
    }
    levels += std::to_string(level);
    indices += std::to_string(index);
  }
  auto rows = tx.exec_prepared(kFetchNodes, levels + "}", indices + "}");
  for (const auto& row : rows) {
    if (row[2].is_null()) continue;  // not in the tree (yet)
    out[{row[0].as<unsigned>(), row[1].as<std::uint64_t>()}] =
        hash_from_hex(row[2].as<std::string>());
    if (head != nullptr) *head = row[3].as<std::uint64_t>();
  }
  if (out.size() != std::set<NodeKey>(keys.begin(), keys.end()).size()) {
    throw std::out_of_range("ledger log: the tree does not hold those subtrees (size too large?)");
  }
  return out;
}

// Runs a proof computation twice: once to learn which subtrees it reads, then on those
// subtrees fetched in a single query.
std::vector<Hash> with_nodes(pqxx::transaction_base& tx,
                             const std::function<std::vector<Hash>(const NodeReader&)>& make,
                             std::uint64_t* head = nullptr) {
  std::vector<NodeKey> wanted;
  make([&](unsigned level, std::uint64_t index) {
    wanted.emplace_back(level, index);
    return Hash{};
  });
  auto nodes = fetch_nodes(tx, wanted, head);
  return make([&](unsigned level, std::uint64_t index) { return nodes.at({level, index}); });
}

std::uint64_t head_size(pqxx::transaction_base& tx, bool lock) {
  auto row =
      tx.exec1(std::string("SELECT size FROM ledger_log_head") + (lock ? " FOR UPDATE" : ""));
  return row[0].as<std::uint64_t>();
}

Hash root_in(pqxx::transaction_base& tx, std::uint64_t size) {
  if (size == 0) return empty_root();
  return with_nodes(
      tx, [&](const NodeReader& read) { return std::vector<Hash>{root_hash(read, size)}; })[0];
}

std::string hashes_json(const std::vector<Hash>& hashes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& h : hashes) out.push_back(base64_encode(h));
  return out.dump();
}

StoredCheckpoint checkpoint_from(const pqxx::row& row) {
  return StoredCheckpoint{row[0].as<std::uint64_t>(), hash_from_hex(row[1].as<std::string>()),
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

PostgresLog::PostgresLog(pqxx::connection& connection, NoteSigner signer)
    : connection_(connection), signer_(std::move(signer)) {
  pqxx::work tx(connection_);
  tx.exec(kSchema);
  tx.exec("INSERT INTO ledger_log_head (origin, size) VALUES (" + tx.quote(signer_.name()) +
          ", 0) ON CONFLICT DO NOTHING");
  auto origin = tx.exec1("SELECT origin FROM ledger_log_head")[0].as<std::string>();
  if (origin != signer_.name()) {
    throw std::runtime_error("ledger log: this database holds the log \"" + origin + "\", not \"" +
                             signer_.name() + "\"");
  }
  tx.commit();
  connection_.prepare(kFetchNodes, kFetchNodesSql);
}

AppendResult PostgresLog::append(const std::vector<std::string>& canonical_records) {
  pqxx::work tx(connection_);
  std::uint64_t size = head_size(tx, true);
  AppendResult result;

  std::vector<Hash> leaves;
  leaves.reserve(canonical_records.size());
  for (const auto& record : canonical_records) leaves.push_back(leaf_hash(record));

  // Records already in the log keep their index.
  std::map<Hash, std::uint64_t> known;
  for (std::size_t start = 0; start < leaves.size(); start += kRowsPerStatement) {
    std::string list;
    for (std::size_t i = start; i < std::min(leaves.size(), start + kRowsPerStatement); ++i) {
      if (!list.empty()) list += ",";
      list += bytea(leaves[i]);
    }
    for (const auto& row : tx.exec("SELECT encode(leaf_hash, 'hex'), idx FROM ledger_log_entry "
                                   "WHERE leaf_hash IN (" +
                                   list + ")")) {
      known[hash_from_hex(row[0].as<std::string>())] = row[1].as<std::uint64_t>();
    }
  }

  // The right edge of the tree: one perfect subtree per set bit of the size.
  std::vector<NodeKey> frontier;
  for (unsigned level = 0; level < 64; ++level) {
    if ((size >> level) & 1) frontier.emplace_back(level, (size >> level) - 1);
  }
  std::map<NodeKey, Hash> nodes = fetch_nodes(tx, frontier);

  std::vector<std::pair<NodeKey, Hash>> new_nodes;
  std::vector<std::size_t> new_entries;  // positions in canonical_records
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (auto it = known.find(leaves[i]); it != known.end()) {
      result.indices.push_back(it->second);
      ++result.duplicates;
      continue;
    }
    std::uint64_t index = size++;
    known[leaves[i]] = index;
    result.indices.push_back(index);
    new_entries.push_back(i);
    NodeKey key{0, index};
    nodes[key] = leaves[i];  // stored as the entry's leaf hash
    while (key.second & 1) {
      Hash parent = node_hash(nodes.at({key.first, key.second - 1}), nodes.at(key));
      key = {key.first + 1, key.second >> 1};
      nodes[key] = parent;
      new_nodes.emplace_back(key, parent);
    }
  }

  for (std::size_t start = 0; start < new_entries.size(); start += kRowsPerStatement) {
    std::string values;
    for (std::size_t k = start; k < std::min(new_entries.size(), start + kRowsPerStatement); ++k) {
      std::size_t i = new_entries[k];
      if (!values.empty()) values += ",";
      values += "(" + std::to_string(known[leaves[i]]) + "," + bytea(leaves[i]) + "," +
                tx.quote(canonical_records[i]) + ")";
    }
    tx.exec("INSERT INTO ledger_log_entry (idx, leaf_hash, record) VALUES " + values);
  }
  for (std::size_t start = 0; start < new_nodes.size(); start += kRowsPerStatement) {
    std::string values;
    for (std::size_t k = start; k < std::min(new_nodes.size(), start + kRowsPerStatement); ++k) {
      const auto& [key, hash] = new_nodes[k];
      if (!values.empty()) values += ",";
      values += "(" + std::to_string(key.first) + "," + std::to_string(key.second) + "," +
                bytea(hash) + ")";
    }
    tx.exec("INSERT INTO ledger_log_node (level, idx, hash) VALUES " + values);
  }
  tx.exec("UPDATE ledger_log_head SET size = " + std::to_string(size));
  tx.commit();
  result.tree_size = size;
  return result;
}

std::uint64_t PostgresLog::size() {
  pqxx::read_transaction tx(connection_);
  return head_size(tx, false);
}

StoredCheckpoint PostgresLog::publish_checkpoint() {
  pqxx::work tx(connection_);
  std::uint64_t size = head_size(tx, false);
  Checkpoint checkpoint{signer_.name(), size, root_in(tx, size), {}};
  std::string note = signer_.sign(checkpoint.body());
  tx.exec("INSERT INTO ledger_log_checkpoint (size, root, note) VALUES (" + std::to_string(size) +
          "," + bytea(checkpoint.root) + "," + tx.quote(note) + ") ON CONFLICT (size) DO NOTHING");
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
  // One statement: the subtrees and the committed size, from the same snapshot.
  pqxx::nontransaction tx(connection_);
  std::uint64_t head = 0;
  auto hashes = with_nodes(
      tx, [&](const NodeReader& read) { return inclusion_proof(read, index, tree_size); }, &head);
  if (tree_size > head) throw std::out_of_range("tree size beyond the log");
  return InclusionProof{index, tree_size, std::move(hashes)};
}

InclusionProof PostgresLog::inclusion_by_leaf(const Hash& leaf, std::uint64_t tree_size) {
  std::uint64_t index;
  {
    pqxx::read_transaction tx(connection_);
    auto rows = tx.exec("SELECT idx FROM ledger_log_entry WHERE leaf_hash = " + bytea(leaf));
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
  std::uint64_t head = 0;
  auto hashes = with_nodes(
      tx, [&](const NodeReader& read) { return consistency_proof(read, old_size, new_size); },
      &head);
  if (new_size > head) throw std::out_of_range("tree size beyond the log");
  return ConsistencyProof{old_size, new_size, std::move(hashes)};
}

std::string PostgresLog::record(std::uint64_t index) {
  pqxx::read_transaction tx(connection_);
  auto rows = tx.exec("SELECT record FROM ledger_log_entry WHERE idx = " + std::to_string(index));
  if (rows.empty()) throw std::out_of_range("no entry at that index");
  return rows[0][0].as<std::string>();
}

Hash PostgresLog::root(std::uint64_t tree_size) {
  pqxx::read_transaction tx(connection_);
  if (tree_size > head_size(tx, false)) throw std::out_of_range("tree size beyond the log");
  return root_in(tx, tree_size);
}

}  // namespace chargegrid::ledger
