#include "ledger_adapters/dispatcher.hpp"

#include <pqxx/pqxx>
#include <random>

#include "chargegrid/base/text.hpp"
#include "chargegrid/db/errors.hpp"
#include "logging.hpp"
#include "store/ledger_adapters.hpp"
#include "store/ledger_log.hpp"

namespace chargegrid::server::ledger_adapters {

std::chrono::milliseconds retry_delay(int failures, std::chrono::seconds cap) {
  const auto base =
      std::chrono::milliseconds(1000) * (1LL << std::min(std::max(failures - 1, 0), 20));
  const auto capped = std::min<std::chrono::milliseconds>(base, cap);
  thread_local std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<long long> jitter(0, capped.count() / 4);
  return capped + std::chrono::milliseconds(jitter(random));
}

EntryDispatcher::EntryDispatcher(boost::asio::io_context& io, db::ConnectionPool& pool,
                                 LedgerAdapter& adapter, std::chrono::seconds max_backoff,
                                 std::chrono::milliseconds poll_interval)
    : adapter_(adapter),
      max_backoff_(max_backoff),
      consumer_(
          io, pool, consumer_name(adapter.name()), {store::outbox::kSettlementRecorded},
          [this](store::Tx& tx, const store::outbox::Row& row) { handle(tx, row); },
          OutboxConsumer::Options{
              .poll_interval = poll_interval, .rows_per_round = 100, .max_backoff = max_backoff}) {}

void EntryDispatcher::handle(store::Tx& tx, const store::outbox::Row& row) {
  const auto& payload = row.payload;
  if (!payload.contains("log_index") || !payload["log_index"].is_number_unsigned())
    return;  // not an event about a log entry: nothing to deliver
  const auto last = payload["log_index"].get<std::uint64_t>();
  auto state = store::ledger_adapters::lock(tx, adapter_.name(), adapter_.from_start() ? 0 : last);
  if (last < state.next_index) return;  // delivered with an earlier event
  {
    std::lock_guard lock(mutex_);
    if (consecutive_failures_ > 0 && std::chrono::steady_clock::now() < retry_at_)
      throw std::runtime_error("waiting to retry entry " + std::to_string(state.next_index) +
                               " after " + std::to_string(consecutive_failures_) + " failure(s)");
  }
  // Read a thousand records at a time: a new adapter fed from the start of a long log
  // catches up without holding the log in memory.
  constexpr std::uint64_t kChunk = 1000;
  std::uint64_t index = state.next_index;
  try {
    while (index <= last) {
      const auto records =
          store::ledger_log::entries(tx, index, std::min(last + 1, index + kChunk));
      if (records.empty())
        throw std::runtime_error("log entry " + std::to_string(index) + " is not in the log");
      for (const auto& record : records) {
        std::string key = index == last && payload.contains("settlement_id") &&
                                  payload["settlement_id"].is_string()
                              ? payload["settlement_id"].get<std::string>()
                              : entry_key(index, record);
        adapter_.deliver(index, record, key);
        ++index;
      }
    }
  } catch (const pqxx::failure&) {
    throw;  // the database's trouble, not the adapter's: the row is claimed again later
  } catch (const std::exception& e) {
    ++failures_;
    std::lock_guard lock(mutex_);
    ++consecutive_failures_;
    retry_at_ = std::chrono::steady_clock::now() + retry_delay(consecutive_failures_, max_backoff_);
    throw std::runtime_error(adapter_.name() + ": entry " + std::to_string(index) + ": " +
                             base::first_line(e.what()));
  }
  const auto delivered = last + 1 - state.next_index;
  store::ledger_adapters::advance(tx, adapter_.name(), last + 1, delivered);
  delivered_ += delivered;
  std::lock_guard lock(mutex_);
  consecutive_failures_ = 0;
}

CheckpointDispatcher::CheckpointDispatcher(std::string database_url, LedgerAdapter& adapter,
                                           std::chrono::seconds max_backoff,
                                           std::chrono::milliseconds poll_interval)
    : url_(std::move(database_url)),
      adapter_(adapter),
      max_backoff_(max_backoff),
      poll_interval_(poll_interval) {}

CheckpointDispatcher::~CheckpointDispatcher() {
  stop();
}

void CheckpointDispatcher::start() {
  thread_ = std::thread([this] { run(); });
}

void CheckpointDispatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CheckpointDispatcher::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  changed_.notify_all();
}

bool CheckpointDispatcher::round(pqxx::connection_base& c) {
  pqxx::work tx(c);
  auto latest = store::ledger_log::latest_checkpoint(tx);
  if (!latest) return false;
  // A new adapter anchors the newest checkpoint and every later one.
  auto state =
      store::ledger_adapters::lock(tx, adapter_.name(), latest->size > 0 ? latest->size - 1 : 0);
  auto next = store::ledger_log::checkpoints_after(tx, state.next_index, 1);
  if (next.empty()) return false;
  const auto& checkpoint = next.front();
  auto details = adapter_.deliver(checkpoint.size, checkpoint.note,
                                  "checkpoint-" + std::to_string(checkpoint.size));
  if (details.is_object() && details.contains("tx_hash")) {
    store::ledger_adapters::Anchor anchor;
    anchor.size = checkpoint.size;
    anchor.adapter = adapter_.name();
    anchor.root_hex = ledger::hex_encode(checkpoint.root);
    anchor.chain_id = details.value("chain_id", std::uint64_t{0});
    anchor.contract = details.value("contract", "");
    anchor.tx_hash = details.value("tx_hash", "");
    if (details.contains("block_number") && details["block_number"].is_number_unsigned())
      anchor.block_number = details["block_number"].get<std::uint64_t>();
    if (details.contains("block_hash") && details["block_hash"].is_string())
      anchor.block_hash = details["block_hash"].get<std::string>();
    store::ledger_adapters::record_anchor(tx, anchor);
  }
  store::ledger_adapters::advance(tx, adapter_.name(), checkpoint.size, 1);
  tx.commit();
  ++delivered_;
  log::info("ledger_checkpoint_delivered",
            {{"adapter", adapter_.name()}, {"size", checkpoint.size}});
  return true;
}

void CheckpointDispatcher::run() {
  std::unique_ptr<pqxx::connection> connection;
  int failures = 0;
  auto wait = poll_interval_;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, wait, [this] { return stopped_ || woken_; });
      if (stopped_) return;
      woken_ = false;
    }
    try {
      if (!connection || !connection->is_open())
        connection = std::make_unique<pqxx::connection>(url_);
      while (round(*connection)) {
        failures = 0;
        std::lock_guard lock(mutex_);
        if (stopped_) return;
      }
      failures = 0;
      wait = poll_interval_;
    } catch (const std::exception& e) {
      ++failures;
      ++failures_;
      wait = retry_delay(failures, max_backoff_);
      const auto error = base::first_line(e.what());
      log::warn("ledger_delivery_failed", {{"adapter", adapter_.name()},
                                           {"attempt", failures},
                                           {"retry_in_ms", wait.count()},
                                           {"error", error}});
      if (db::classify_failure(e) == db::FailureKind::Transient) {
        connection.reset();
        continue;
      }
      try {
        pqxx::work tx(*connection);
        store::ledger_adapters::record_error(tx, adapter_.name(), adapter_.name() + ": " + error);
        tx.commit();
      } catch (const std::exception&) {
        connection.reset();
      }
    }
  }
}

}  // namespace chargegrid::server::ledger_adapters
