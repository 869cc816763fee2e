// Appends synthetic records to the PostgreSQL log in batches, publishing a checkpoint after
// each batch, until it is killed. Used by the crash-safety test, which kills it with SIGKILL.
// Usage: ledger-log-append-helper DATABASE_URL SIGNER_KEY_FILE
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <random>
#include <sstream>

#include "chargegrid/ledger/postgres_log.hpp"
#include "log_records.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: ledger-log-append-helper DATABASE_URL SIGNER_KEY_FILE\n";
    return 2;
  }
  std::ifstream key_file(argv[2]);
  std::stringstream key;
  key << key_file.rdbuf();
  pqxx::connection connection(argv[1]);
  chargegrid::ledger::PostgresLog log(connection, chargegrid::ledger::NoteSigner::parse(key.str()));
  std::mt19937_64 random(std::random_device{}());
  std::uniform_int_distribution<int> batch_size(1, 300);
  std::string prefix = std::to_string(getpid()) + "-" + std::to_string(random()) + "-";
  for (std::uint64_t n = 0;;) {
    std::vector<std::string> batch;
    int count = batch_size(random);
    for (int i = 0; i < count; ++i) {
      batch.push_back(chargegrid::ledger::canonical_record(
          chargegrid::ledger::testing::synthetic_record(prefix + std::to_string(n++))));
    }
    // Now and then a record that is already in the log, which must not be appended twice.
    if (n > 10 && count % 7 == 0) {
      batch.push_back(chargegrid::ledger::canonical_record(
          chargegrid::ledger::testing::synthetic_record(prefix + "0")));
    }
    log.append(batch);
    log.publish_checkpoint();
  }
}
