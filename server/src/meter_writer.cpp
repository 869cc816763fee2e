#include "meter_writer.hpp"

#include <algorithm>
#include <pqxx/pqxx>

#include "chargegrid/db/errors.hpp"
#include "chargegrid/db/pool.hpp"
#include "logging.hpp"
#include "metrics.hpp"

namespace chargegrid::server {

namespace asio = boost::asio;

namespace {

// PostgreSQL array literal of text values ({"a","b",NULL}), for unnest().
class ArrayLiteral {
 public:
  void add(const std::string& value) {
    separate();
    out_ += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') out_ += '\\';
      out_ += c;
    }
    out_ += '"';
  }
  void add_null() {
    separate();
    out_ += "NULL";
  }
  void add_number(double v) {
    separate();
    out_ += pqxx::to_string(v);
  }
  void add_int(long long v) {
    separate();
    out_ += std::to_string(v);
  }
  std::string str() const { return "{" + out_ + "}"; }

 private:
  void separate() {
    if (!out_.empty()) out_ += ',';
  }
  std::string out_;
};

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
                                                 std::vector<MeterRow>::const_iterator end) {
  ArrayLiteral station, evse, at, measurand, phase, location, context, format, value, unit, tx, sig;
  for (auto it = begin; it != end; ++it) {
    const auto& r = *it;
    station.add(r.station_id);
    evse.add_int(r.evse_id);
    at.add(r.sampled_at);
    measurand.add(r.measurand);
    phase.add(r.phase);
    location.add(r.location);
    context.add(r.context);
    format.add(r.format);
    r.value ? value.add_number(*r.value) : value.add_null();
    unit.add(r.unit);
    r.transaction_id ? tx.add_int(*r.transaction_id) : tx.add_null();
    r.signed_data ? sig.add(*r.signed_data) : sig.add_null();
  }
  pqxx::work work(connection);
  // A sample names a transaction only if it is the sending station's own: one naming
  // another station's transaction (or one never issued) is kept as the station's meter
  // data without a transaction. Replayed samples hit the primary key and are skipped.
  // Only a running session's register span widens (applying it twice changes nothing);
  // an ended session's figures are final.
  auto foreign = work.exec_params(
      R"(WITH batch AS (
           SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::text[], $5::text[],
                                $6::text[], $7::text[], $8::text[], $9::float8[], $10::text[],
                                $11::int[], $12::text[])
             AS b(station_id, evse_id, sampled_at, measurand, phase, location, context, format,
                  value, unit, transaction_id, signed_data)
         ), checked AS (
           SELECT b.*, t.id IS NOT NULL AS owned, t.state = 'active' AS active
           FROM batch b
           LEFT JOIN transactions t ON t.id = b.transaction_id AND t.station_id = b.station_id
         ), inserted AS (
           INSERT INTO meter_values (station_id, evse_id, sampled_at, measurand, phase, location,
                                     context, format, value, unit, transaction_id, signed_data)
           SELECT station_id, evse_id, sampled_at, measurand, phase, location, context, format,
                  value, unit, CASE WHEN owned THEN transaction_id END, signed_data FROM checked
           ON CONFLICT DO NOTHING
         ), span AS (
           SELECT station_id, transaction_id,
                  min(value) FILTER (WHERE measurand = 'Energy.Active.Import.Register') AS imin,
                  max(value) FILTER (WHERE measurand = 'Energy.Active.Import.Register') AS imax,
                  min(value) FILTER (WHERE measurand = 'Energy.Active.Export.Register') AS emin,
                  max(value) FILTER (WHERE measurand = 'Energy.Active.Export.Register') AS emax
           FROM checked
           WHERE active AND location IN ('', 'Outlet') AND phase = '' AND value IS NOT NULL
           GROUP BY station_id, transaction_id
         ), widened AS (
           UPDATE transactions t SET
             import_first_wh = LEAST(t.import_first_wh, span.imin),
             import_last_wh = GREATEST(t.import_last_wh, span.imax),
             export_first_wh = LEAST(t.export_first_wh, span.emin),
             export_last_wh = GREATEST(t.export_last_wh, span.emax),
             meter_start_wh = LEAST(t.meter_start_wh, round(span.imin)::bigint),
             updated_at = now()
           FROM span
           WHERE t.id = span.transaction_id AND t.station_id = span.station_id
             AND t.state = 'active'
         )
         SELECT DISTINCT station_id, transaction_id FROM checked
         WHERE transaction_id IS NOT NULL AND NOT owned)",
      station.str(), evse.str(), at.str(), measurand.str(), phase.str(), location.str(),
      context.str(), format.str(), value.str(), unit.str(), tx.str(), sig.str());
  work.commit();
  std::vector<ForeignTransaction> out;
  for (const auto& row : foreign)
    out.push_back({row[0].as<std::string>(), row[1].as<std::int64_t>()});
  return out;
}

std::vector<ForeignTransaction> write_meter_rows(pqxx::connection& connection,
                                                 const std::vector<MeterRow>& rows) {
  return write_meter_rows(connection, rows.begin(), rows.end());
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
  const bool queued = pool_.try_submit(
      [rows, waiters](pqxx::connection& connection) {
        try {
          const auto foreign = write_meter_rows(connection, *rows);
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
            const auto foreign = write_meter_rows(connection, first, last);
            log_foreign(foreign);
            waiter.done(nullptr, names_foreign(foreign, first, last));
          } catch (const std::exception&) {
            waiter.done(std::current_exception(), false);
          }
          begin = waiter.end;
        }
      },
      fail_all);
  if (!queued) fail_all(std::make_exception_ptr(db::PoolFull("database queue is full")));
  lock.lock();
}

}  // namespace chargegrid::server
