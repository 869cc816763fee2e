#include "ledger_adapters/service.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>

#include "chargegrid/base/prometheus.hpp"
#include "chargegrid/db/pool.hpp"
#include "chargegrid/ledger/postgres_log.hpp"
#include "chargegrid/server/config.hpp"
#include "ledger_adapters/dispatcher.hpp"
#include "ledger_adapters/evm_anchor.hpp"
#include "logging.hpp"
#include "metrics.hpp"
#include "store/ledger_adapters.hpp"
#include "store/ledger_log.hpp"

namespace chargegrid::server::ledger_adapters {

namespace {

// Held by the node that publishes checkpoints (session-level, on the publisher's connection).
constexpr std::int64_t kPublisherLock = 7283746502;
constexpr auto kMaxBackoff = std::chrono::seconds(60);

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  auto text = out.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  return text;
}

// Creates `path` with `text`, written whole, readable by the owner only — unless another
// process created it first (nodes sharing a data folder start together): then false.
bool create_private(const std::filesystem::path& path, const std::string& text) {
  const auto tmp = path.string() + "." + std::to_string(::getpid()) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + tmp);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + tmp);
  }
  const int linked = ::link(tmp.c_str(), path.c_str());  // fails if the key exists
  const int error = errno;
  ::unlink(tmp.c_str());
  if (linked == 0) return true;
  if (error == EEXIST) return false;
  throw std::runtime_error("cannot create " + path.string() + ": " + std::strerror(error));
}

std::string default_origin() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == 0) return "chargegrid/ledger";
  std::string name;
  for (char c : std::string(host))
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') name += c;
  return (name.empty() ? "chargegrid" : name) + "/ledger";
}

}  // namespace

ledger::NoteSigner load_log_key(const Config& config) {
  try {
    if (!config.ledger_key_file.empty())
      return ledger::NoteSigner::parse(read_text(config.ledger_key_file));
    const auto folder = std::filesystem::path(config.data_dir) / "ledger";
    const auto key_path = folder / "log.key";
    if (std::filesystem::exists(key_path)) return ledger::NoteSigner::parse(read_text(key_path));
    std::filesystem::create_directories(folder);
    auto signer = ledger::NoteSigner::generate(config.ledger_origin.empty() ? default_origin()
                                                                            : config.ledger_origin);
    if (!create_private(key_path, signer.skey() + "\n"))
      return ledger::NoteSigner::parse(read_text(key_path));  // another process's, just made
    std::ofstream(folder / "log.vkey") << signer.verifier().vkey() << "\n";
    log::info("ledger_key_created",
              {{"file", key_path.string()}, {"verifier_key", signer.verifier().vkey()}});
    return signer;
  } catch (const ledger::MalformedInput& e) {
    throw std::runtime_error(std::string("the ledger key is not a signed-note key: ") + e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    throw std::runtime_error(std::string("the ledger key: ") + e.what());
  }
}

LedgerService::LedgerService(const Config& config, std::string database_url,
                             boost::asio::io_context& io, Metrics& metrics)
    : config_(config), url_(std::move(database_url)), io_(io), signer_(load_log_key(config)) {
  std::size_t entry_adapters = 0;
  for (const auto& name : config.ledger_adapters) {
    auto adapter = make_adapter(name, config);
    if (auto* evm = dynamic_cast<EvmAnchorAdapter*>(adapter.get())) {
      // A contract the adapter deploys is remembered per chain, for every node and restart.
      evm->find_contract = [url = url_](std::uint64_t chain_id) {
        pqxx::connection c(url);
        pqxx::read_transaction tx(c);
        return store::ledger_adapters::contract(tx, chain_id);
      };
      evm->remember_contract = [url = url_](std::uint64_t chain_id, const std::string& address,
                                            const std::string& deploy_tx) {
        pqxx::connection c(url);
        pqxx::work tx(c);
        store::ledger_adapters::record_contract(tx, chain_id, address, deploy_tx);
        tx.commit();
      };
    }
    if (adapter->feed() == LedgerAdapter::Feed::Entries) ++entry_adapters;
    adapters_.push_back(std::move(adapter));
  }
  if (entry_adapters > 0) pool_ = std::make_unique<db::ConnectionPool>(url_, entry_adapters);
  for (auto& adapter : adapters_) {
    if (adapter->feed() == LedgerAdapter::Feed::Entries) {
      entry_dispatchers_.push_back(std::make_unique<EntryDispatcher>(
          io_, *pool_, *adapter, kMaxBackoff, std::chrono::milliseconds(500)));
    } else {
      checkpoint_dispatchers_.push_back(std::make_unique<CheckpointDispatcher>(
          url_, *adapter, kMaxBackoff, std::chrono::seconds(1)));
    }
  }
  metrics.add_gauge_source([this](std::string& out) { render_metrics(out); });
}

LedgerService::~LedgerService() {
  stop();
}

void LedgerService::start() {
  {
    std::lock_guard lock(mutex_);
    if (started_) return;
    started_ = true;
  }
  publisher_ = std::thread([this] { publish_loop(); });
  for (auto& d : entry_dispatchers_) d->start();
  for (auto& d : checkpoint_dispatchers_) d->start();
  log::info("ledger_started", {{"origin", signer_.name()},
                               {"verifier_key", signer_.verifier().vkey()},
                               {"checkpoint_interval_s", config_.checkpoint_interval_s},
                               {"adapters", static_cast<std::int64_t>(adapters_.size())}});
}

void LedgerService::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  changed_.notify_all();
  for (auto& d : entry_dispatchers_) d->stop();
  if (pool_) pool_->stop(std::chrono::seconds(10));
  for (auto& d : checkpoint_dispatchers_) d->stop();
  if (publisher_.joinable()) publisher_.join();
}

void LedgerService::publish_loop() {
  std::unique_ptr<pqxx::connection> connection;
  std::unique_ptr<ledger::PostgresLog> ledger_log;
  bool signer_ok = false;
  bool leader = false;
  int failures = 0;
  auto wait = std::chrono::milliseconds(0);
  auto next_status = std::chrono::steady_clock::now();
  const auto vkey = signer_.verifier().vkey();
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, wait, [this] { return stopped_; });
      if (stopped_) break;
    }
    try {
      if (!connection) {
        leader = false;
        connection = std::make_unique<pqxx::connection>(url_);
        ledger_log = std::make_unique<ledger::PostgresLog>(*connection, signer_);
        pqxx::work tx(*connection);
        const auto recorded = store::ledger_adapters::claim_signer(tx, vkey);
        tx.commit();
        signer_ok = recorded == vkey;
        if (!signer_ok)
          log::error("ledger_key_mismatch",
                     {{"this_node", vkey},
                      {"log", recorded},
                      {"consequence", "this node does not sign checkpoints"}});
      }
      if (signer_ok && !leader) {
        pqxx::nontransaction tx(*connection);
        leader =
            tx.exec("SELECT pg_try_advisory_lock(" + std::to_string(kPublisherLock) + ")")[0][0]
                .as<bool>();
        if (leader) log::info("ledger_publisher", {{"role", "publishing checkpoints"}});
      }
      if (leader) {
        if (auto checkpoint =
                ledger_log->publish_if_due(std::chrono::seconds(config_.checkpoint_interval_s))) {
          ++published_;
          log::info("ledger_checkpoint_published", {{"size", checkpoint->size}});
          for (auto& d : checkpoint_dispatchers_) d->wake();
        }
      }
      {
        std::lock_guard lock(status_mutex_);
        publishing_ = leader;
      }
      if (std::chrono::steady_clock::now() >= next_status) {
        refresh_status(*connection);
        next_status = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      }
      failures = 0;
      wait = std::chrono::seconds(1);
    } catch (const std::exception& e) {
      ++failures;
      wait = retry_delay(failures, std::chrono::seconds(30));
      log::warn("ledger_publisher_failed",
                {{"error", std::string(e.what()).substr(0, std::string(e.what()).find('\n'))},
                 {"retry_in_ms", wait.count()}});
      ledger_log.reset();
      connection.reset();
      std::lock_guard lock(status_mutex_);
      publishing_ = false;
    }
  }
  ledger_log.reset();
  connection.reset();
}

void LedgerService::refresh_status(pqxx::connection_base& c) {
  pqxx::read_transaction tx(c);
  auto statuses = adapter_statuses(tx, config_);
  const auto size = store::ledger_log::size(tx);
  auto latest = store::ledger_log::latest_checkpoint(tx);
  std::lock_guard lock(status_mutex_);
  statuses_ = std::move(statuses);
  log_size_ = size;
  checkpoint_size_ = latest ? latest->size : 0;
  checkpoint_age_s_ = latest ? latest->age_s : 0;
  have_status_ = true;
}

void LedgerService::render_metrics(std::string& out) const {
  namespace prometheus = base::prometheus;
  std::lock_guard lock(status_mutex_);
  if (!have_status_) return;
  prometheus::Writer writer(out);
  writer.gauge("chargegrid_ledger_log_size", "Entries in the verifiable log", log_size_);
  writer.gauge("chargegrid_ledger_checkpoint_size", "Tree size of the newest signed checkpoint",
               checkpoint_size_);
  writer.gauge("chargegrid_ledger_checkpoint_age_seconds", "Age of the newest signed checkpoint",
               checkpoint_age_s_);
  writer.gauge("chargegrid_ledger_publisher", "1 on the node that publishes checkpoints",
               publishing_ ? 1 : 0);
  if (statuses_.empty()) return;
  // One gauge or counter per adapter.
  auto by_adapter = [&](const char* name, const char* help, prometheus::Type type, auto value) {
    writer.family(name, help, type);
    for (const auto& s : statuses_)
      writer.sample(name, prometheus::labels({{"adapter", s.name}}), value(s));
  };
  using Status = decltype(statuses_)::value_type;
  by_adapter("chargegrid_ledger_pending", "Ledger deliveries waiting, by adapter",
             prometheus::Type::kGauge, [](const Status& s) { return s.pending; });
  by_adapter("chargegrid_ledger_oldest_pending_age_seconds", "Age of the oldest waiting delivery",
             prometheus::Type::kGauge, [](const Status& s) { return s.oldest_pending_age_s; });
  by_adapter("chargegrid_ledger_alert",
             "1 when a delivery has waited longer than --ledger-alert-after",
             prometheus::Type::kGauge, [](const Status& s) { return s.state == "alert" ? 1 : 0; });
  by_adapter("chargegrid_ledger_delivered_total", "Log entries (or checkpoints) delivered",
             prometheus::Type::kCounter, [](const Status& s) { return s.delivered; });
}

}  // namespace chargegrid::server::ledger_adapters
