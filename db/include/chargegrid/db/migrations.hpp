// Versioned SQL schema migrations.
//
// The schema is the ordered list of db/migrations/NNNN_name.sql files, compiled into the
// binary. migrate() records what it applied in schema_migrations(version, name, checksum,
// applied_at) and applies each pending migration in its own transaction, under an advisory
// lock so that nodes starting together never race.
#pragma once

#include <pqxx/connection>
#include <stdexcept>
#include <string>
#include <vector>

namespace chargegrid::db {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

// A migration failed, or the database's history contradicts the binary's migrations.
class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Every db/migrations/NNNN_name.sql of this build, ordered by version.
std::vector<Migration> builtin_migrations();

// Hex SHA-256 of the migration's SQL, as recorded in schema_migrations.checksum.
std::string migration_checksum(const Migration& migration);

// Brings the database up to the last of `migrations`. Idempotent. Throws MigrationError when
// the list is malformed (duplicate or non-positive versions), when an applied migration's
// checksum differs from the binary's, or when a migration fails (that migration is rolled
// back; those before it stay applied). Migrations recorded in the database but unknown to
// the binary (a newer node migrated it) are logged and left alone. Returns how many it
// applied.
int migrate(pqxx::connection& connection, const std::vector<Migration>& migrations);

}  // namespace chargegrid::db
