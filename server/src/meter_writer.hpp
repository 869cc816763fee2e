#pragma once
// Meter samples from all stations are written together: rows queue up and go
// to PostgreSQL in one transaction per batch (when enough rows wait or the
// oldest has waited long enough). A station's MeterValues is answered only
// after its rows are committed.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <vector>

#include "chargegrid/db/fwd.hpp"
#include "store/meter_values.hpp"

namespace chargegrid::server {

class Metrics;

using store::ForeignTransaction;
using store::MeterRow;

class MeterWriter {
 public:
  MeterWriter(boost::asio::io_context& io, db::ConnectionPool& pool, Metrics& metrics,
              std::size_t batch_rows, int batch_delay_ms);

  // co_await writer.write(std::move(rows)): completes once the rows are committed, with
  // true when one of them named a transaction that is not its station's (it was stored
  // without one); throws if they could not be stored.
  auto write(std::vector<MeterRow> rows) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>,
                                       void(std::exception_ptr, bool)>(
        [this, rows = std::move(rows)](auto handler) mutable {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          auto executor = boost::asio::get_associated_executor(*shared);
          enqueue(std::move(rows), [shared, executor](std::exception_ptr error, bool foreign) {
            boost::asio::post(executor,
                              [shared, error, foreign]() mutable { (*shared)(error, foreign); });
          });
        },
        boost::asio::use_awaitable);
  }

  // Writes whatever waits now (used at shutdown).
  void flush();

 private:
  using Done = std::function<void(std::exception_ptr, bool foreign)>;
  struct Waiter {
    std::size_t end;  // its rows are those before this index in the batch
    Done done;
  };
  void enqueue(std::vector<MeterRow> rows, Done done);
  void flush_locked(std::unique_lock<std::mutex>& lock);

  db::ConnectionPool& pool_;
  Metrics& metrics_;
  const std::size_t batch_rows_;
  const int batch_delay_ms_;
  boost::asio::steady_timer timer_;
  std::mutex mutex_;
  std::vector<MeterRow> rows_;
  std::vector<Waiter> waiters_;
  bool timer_armed_ = false;
  // Whose each transaction is, looked up once instead of in every batch naming it (shared
  // with the batches in flight, which may outlive the writer at shutdown).
  std::shared_ptr<store::meter_values::TransactionOwners> owners_ =
      std::make_shared<store::meter_values::TransactionOwners>();
};

// Writes one batch in a transaction (exposed for tests and tools); returns the foreign
// transaction ids it met.
std::vector<ForeignTransaction> write_meter_rows(
    pqxx::connection& connection, const std::vector<MeterRow>& rows,
    store::meter_values::TransactionOwners* owners = nullptr);
std::vector<ForeignTransaction> write_meter_rows(
    pqxx::connection& connection, std::vector<MeterRow>::const_iterator begin,
    std::vector<MeterRow>::const_iterator end,
    store::meter_values::TransactionOwners* owners = nullptr);

}  // namespace chargegrid::server
