#include "chargegrid/db/migrations.hpp"

#include <algorithm>
#include <map>
#include <pqxx/pqxx>
#include <set>

#include "chargegrid/base/log.hpp"
#include "chargegrid/base/sha256.hpp"
#include "chargegrid/base/time.hpp"

namespace chargegrid::db {
namespace {

namespace log = base::log;

// pg_advisory_lock key shared by every ChargeGrid node: "chgrdmig" as a 64-bit number.
constexpr long long kMigrationLockKey = 0x6368677264'6d6967LL;

struct AppliedMigration {
  std::string name;
  std::string checksum;
};

// Releases the session-level advisory lock however migrate() ends.
class AdvisoryLock {
 public:
  explicit AdvisoryLock(pqxx::connection& connection) : connection_(connection) {
    pqxx::nontransaction(connection_)
        .exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLockKey) + ")");
  }
  ~AdvisoryLock() {
    try {
      if (connection_.is_open())
        pqxx::nontransaction(connection_)
            .exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLockKey) + ")");
    } catch (const std::exception& e) {
      // The lock dies with the session anyway.
      log::warn("migrations_unlock_failed", {{"error", e.what()}});
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  pqxx::connection& connection_;
};

void check_list(const std::vector<Migration>& migrations) {
  std::set<int> versions;
  for (const auto& m : migrations) {
    if (m.version <= 0)
      throw MigrationError("migration '" + m.name + "' has a non-positive version " +
                           std::to_string(m.version));
    if (!versions.insert(m.version).second)
      throw MigrationError("migration version " + std::to_string(m.version) + " appears twice");
  }
}

std::string label(const Migration& m) {
  char version[16];
  std::snprintf(version, sizeof version, "%04d", m.version);
  return std::string(version) + "_" + m.name;
}

}  // namespace

std::string migration_checksum(const Migration& migration) {
  try {
    return base::sha256_hex(migration.sql);
  } catch (const std::runtime_error&) {
    throw MigrationError("cannot compute SHA-256 of migration " + label(migration));
  }
}

int migrate(pqxx::connection& connection, const std::vector<Migration>& migrations) {
  check_list(migrations);
  std::vector<const Migration*> ordered;
  for (const auto& m : migrations) ordered.push_back(&m);
  std::sort(ordered.begin(), ordered.end(),
            [](const Migration* a, const Migration* b) { return a->version < b->version; });

  AdvisoryLock lock(connection);
  {
    pqxx::work txn(connection);
    txn.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "  version    integer PRIMARY KEY,"
        "  name       text NOT NULL,"
        "  checksum   text NOT NULL,"
        "  applied_at timestamptz NOT NULL DEFAULT now())");
    txn.commit();
  }

  std::map<int, AppliedMigration> applied;
  {
    pqxx::nontransaction txn(connection);
    for (const auto& row : txn.exec("SELECT version, name, checksum FROM schema_migrations"))
      applied[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
  }

  std::set<int> known;
  for (const Migration* m : ordered) {
    known.insert(m->version);
    const auto found = applied.find(m->version);
    if (found == applied.end()) continue;
    if (found->second.checksum != migration_checksum(*m))
      throw MigrationError("migration " + label(*m) +
                           " was changed after it was applied (recorded checksum " +
                           found->second.checksum + ", now " + migration_checksum(*m) +
                           "); add a new migration instead of editing an applied one");
    if (found->second.name != m->name)
      log::warn("migrations_renamed",
                {{"version", m->version}, {"recorded", found->second.name}, {"now", m->name}});
  }
  for (const auto& [version, entry] : applied)
    if (!known.contains(version))
      log::warn("migrations_unknown_applied", {{"version", version},
                                               {"name", entry.name},
                                               {"note", "database was migrated by a newer build"}});

  int count = 0;
  for (const Migration* m : ordered) {
    if (applied.contains(m->version)) continue;
    const auto started = std::chrono::steady_clock::now();
    try {
      pqxx::work txn(connection);
      txn.exec(m->sql);
      txn.exec_params("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                      m->version, m->name, migration_checksum(*m));
      txn.commit();
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (const std::exception& e) {
      throw MigrationError("migration " + label(*m) + " failed: " + e.what());
    }
    ++count;
    log::info("migrations_applied",
              {{"version", m->version},
               {"name", m->name},
               {"ms", base::milliseconds_between(started, std::chrono::steady_clock::now())}});
  }
  return count;
}

}  // namespace chargegrid::db
