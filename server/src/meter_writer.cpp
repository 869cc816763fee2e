#include "meter_writer.hpp"

#include <algorithm>
#include <pqxx/pqxx>

#include "chargegrid/db/errors.hpp"
#include "chargegrid/db/pool.hpp"
#include "logging.hpp"
#include "metrics.hpp"
#include "store/meter_values.hpp"

namespace chargegrid::server {

namespace asio = boost::asio;

namespace {

void log_foreign(const std::vector<ForeignTransaction>& foreign) {
  for (const auto& f : foreign)
    log::warn("meter_values_foreign_transaction",
              {{"station", f.station_id},
               {"transaction", f.transaction_id},
               {"stored_as", "the station's meter data without a transaction"}});
}

}  // namespace

std::vector<ForeignTransaction> write_meter_rows(pqxx::connection& connection,
                                                 std::vector<MeterRow>::const_iterator begin,
                                                 std::vector<MeterRow>::const_iterator end,
                                                 store::meter_values::TransactionOwners* owners) {
  pqxx::work work(connection);
  auto foreign = store::meter_values::append(work, begin, end, owners);
  work.commit();
  return foreign;
}

std::vector<ForeignTransaction> write_meter_rows(pqxx::connection& connection,
                                                 const std::vector<MeterRow>& rows,
                                                 store::meter_values::TransactionOwners* owners) {
  return write_meter_rows(connection, rows.begin(), rows.end(), owners);
}

MeterWriter::MeterWriter(asio::io_context& io, db::ConnectionPool& pool, Metrics& metrics,
                         std::size_t batch_rows, int batch_delay_ms)
    : pool_(pool),
      metrics_(metrics),
      batch_rows_(batch_rows),
      batch_delay_ms_(batch_delay_ms),
      timer_(io) {}

void MeterWriter::enqueue(std::vector<MeterRow> rows, Done done) {
  if (rows.empty()) {
    done(nullptr, false);
    return;
  }
  std::unique_lock lock(mutex_);
  rows_.insert(rows_.end(), std::make_move_iterator(rows.begin()),
               std::make_move_iterator(rows.end()));
  waiters_.push_back({rows_.size(), std::move(done)});
  if (rows_.size() >= batch_rows_ || batch_delay_ms_ == 0) {
    flush_locked(lock);
    return;
  }
  if (!timer_armed_) {
    timer_armed_ = true;
    timer_.expires_after(std::chrono::milliseconds(batch_delay_ms_));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      std::unique_lock timer_lock(mutex_);
      timer_armed_ = false;
      flush_locked(timer_lock);
    });
  }
}

void MeterWriter::flush() {
  std::unique_lock lock(mutex_);
  flush_locked(lock);
}

namespace {

// Whether rows [begin, end) name one of the foreign transactions.
bool names_foreign(const std::vector<ForeignTransaction>& foreign,
                   std::vector<MeterRow>::const_iterator begin,
                   std::vector<MeterRow>::const_iterator end) {
  if (foreign.empty()) return false;
  return std::any_of(begin, end, [&](const MeterRow& row) {
    return row.transaction_id &&
           std::any_of(foreign.begin(), foreign.end(), [&](const ForeignTransaction& f) {
             return f.transaction_id == *row.transaction_id && f.station_id == row.station_id;
           });
  });
}

}  // namespace

void MeterWriter::flush_locked(std::unique_lock<std::mutex>& lock) {
  if (rows_.empty()) return;
  auto rows = std::make_shared<std::vector<MeterRow>>(std::move(rows_));
  auto waiters = std::make_shared<std::vector<Waiter>>(std::move(waiters_));
  rows_.clear();
  waiters_.clear();
  lock.unlock();
  metrics_.observe_batch(rows->size());
  auto fail_all = [waiters](std::exception_ptr error) {
    for (auto& waiter : *waiters) waiter.done(error, false);
  };
  pool_.submit_or_fail(
      [rows, waiters, owners = owners_](pqxx::connection& connection) {
        try {
          const auto foreign = write_meter_rows(connection, *rows, owners.get());
          log_foreign(foreign);
          std::size_t begin = 0;
          for (auto& waiter : *waiters) {
            waiter.done(nullptr,
                        names_foreign(foreign, rows->begin() + begin, rows->begin() + waiter.end));
            begin = waiter.end;
          }
          return;
        } catch (const std::exception& e) {
          log::warn("meter_batch_failed", {{"rows", rows->size()}, {"error", e.what()}});
          if (db::classify_failure(e) == db::FailureKind::Transient || waiters->size() == 1) {
            for (auto& waiter : *waiters) waiter.done(std::current_exception(), false);
            return;
          }
        }
        // The database refused something in the batch: each message's rows on their own,
        // so that one bad message never fails another station's.
        std::size_t begin = 0;
        for (auto& waiter : *waiters) {
          try {
            const auto first = rows->begin() + begin, last = rows->begin() + waiter.end;
            const auto foreign = write_meter_rows(connection, first, last, owners.get());
            log_foreign(foreign);
            waiter.done(nullptr, names_foreign(foreign, first, last));
          } catch (const std::exception&) {
            waiter.done(std::current_exception(), false);
          }
          begin = waiter.end;
        }
      },
      fail_all);
  lock.lock();
}

}  // namespace chargegrid::server
