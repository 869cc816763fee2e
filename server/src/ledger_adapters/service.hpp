#pragma once
// The ledger side of the server: the verifiable log's signing key, the checkpoint publisher
// and one dispatcher per --ledger-adapter.
//
// The publisher runs on a connection of its own. Every second it checks whether a checkpoint
// is due (the newest is --checkpoint-interval old and the log has grown since) and, if so,
// signs and stores one (ledger::PostgresLog::publish_if_due). In cluster mode only the node
// holding a PostgreSQL advisory lock publishes; when it stops, its connection ends and another
// node takes the lock. The first node to sign records the log's verifier key in the database;
// a node holding another key never signs for this log (it logs ledger_key_mismatch).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chargegrid/db/fwd.hpp"
#include "chargegrid/ledger/note.hpp"
#include "ledger_adapters/adapter.hpp"
#include "ledger_adapters/status.hpp"

namespace chargegrid::server {
struct Config;
class Metrics;
}  // namespace chargegrid::server

namespace chargegrid::server::ledger_adapters {

class EntryDispatcher;
class CheckpointDispatcher;

// The log's signing key: --ledger-key-file, or DATA_DIR/ledger/log.key, created (with the
// name --ledger-origin or HOST/ledger) on first start, its verifier key beside it in log.vkey.
// Throws std::runtime_error when a given key file is missing or not a key.
ledger::NoteSigner load_log_key(const Config& config);

class LedgerService {
 public:
  // Throws std::runtime_error when the key cannot be loaded or an adapter cannot be set up.
  LedgerService(const Config& config, std::string database_url, boost::asio::io_context& io,
                Metrics& metrics);
  ~LedgerService();
  LedgerService(const LedgerService&) = delete;
  LedgerService& operator=(const LedgerService&) = delete;

  void start();
  void stop();

  const ledger::NoteSigner& signer() const { return signer_; }

 private:
  void publish_loop();
  void refresh_status(pqxx::connection_base& c);
  void render_metrics(std::string& out) const;

  const Config& config_;
  const std::string url_;
  boost::asio::io_context& io_;
  ledger::NoteSigner signer_;
  std::vector<std::unique_ptr<LedgerAdapter>> adapters_;
  std::unique_ptr<db::ConnectionPool> pool_;  // the entry dispatchers' own connections
  std::vector<std::unique_ptr<EntryDispatcher>> entry_dispatchers_;
  std::vector<std::unique_ptr<CheckpointDispatcher>> checkpoint_dispatchers_;

  std::mutex mutex_;
  std::condition_variable changed_;
  bool stopped_ = false;
  bool started_ = false;
  std::thread publisher_;

  // The last status read, for /metrics.
  mutable std::mutex status_mutex_;
  bool have_status_ = false;
  std::vector<AdapterStatus> statuses_;
  std::uint64_t log_size_ = 0;
  std::uint64_t checkpoint_size_ = 0;
  double checkpoint_age_s_ = 0;
  bool publishing_ = false;  // this node holds the publisher lock
  std::atomic<std::uint64_t> published_{0};
};

}  // namespace chargegrid::server::ledger_adapters
