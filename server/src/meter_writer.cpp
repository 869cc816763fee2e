#include "meter_writer.hpp"

#include <pqxx/pqxx>

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

}  // namespace

void write_meter_rows(pqxx::connection& connection, const std::vector<MeterRow>& rows) {
  ArrayLiteral station, evse, at, measurand, phase, location, context, format, value, unit, tx, sig;
  for (const auto& r : rows) {
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
  // Replayed samples hit the primary key and are skipped; a transaction's
  // register span only widens, so applying it twice changes nothing.
  work.exec_params(
      R"(WITH batch AS (
           SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::text[], $5::text[],
                                $6::text[], $7::text[], $8::text[], $9::float8[], $10::text[],
                                $11::int[], $12::text[])
             AS b(station_id, evse_id, sampled_at, measurand, phase, location, context, format,
                  value, unit, transaction_id, signed_data)
         ), inserted AS (
           INSERT INTO meter_values (station_id, evse_id, sampled_at, measurand, phase, location,
                                     context, format, value, unit, transaction_id, signed_data)
           SELECT station_id, evse_id, sampled_at, measurand, phase, location, context, format,
                  value, unit, transaction_id, signed_data FROM batch
           ON CONFLICT DO NOTHING
         ), span AS (
           SELECT station_id, transaction_id,
                  min(value) FILTER (WHERE measurand = 'Energy.Active.Import.Register') AS imin,
                  max(value) FILTER (WHERE measurand = 'Energy.Active.Import.Register') AS imax,
                  min(value) FILTER (WHERE measurand = 'Energy.Active.Export.Register') AS emin,
                  max(value) FILTER (WHERE measurand = 'Energy.Active.Export.Register') AS emax
           FROM batch
           WHERE transaction_id IS NOT NULL AND location IN ('', 'Outlet') AND phase = ''
             AND value IS NOT NULL
           GROUP BY station_id, transaction_id
         )
         UPDATE transactions t SET
           import_first_wh = LEAST(t.import_first_wh, span.imin),
           import_last_wh = GREATEST(t.import_last_wh, span.imax),
           export_first_wh = LEAST(t.export_first_wh, span.emin),
           export_last_wh = GREATEST(t.export_last_wh, span.emax),
           meter_start_wh = LEAST(t.meter_start_wh, round(span.imin)::bigint),
           meter_stop_wh = CASE WHEN t.state = 'ended'
                                THEN GREATEST(t.meter_stop_wh, round(span.imax)::bigint)
                                ELSE t.meter_stop_wh END,
           updated_at = now()
         FROM span WHERE t.id = span.transaction_id AND t.station_id = span.station_id)",
      station.str(), evse.str(), at.str(), measurand.str(), phase.str(), location.str(),
      context.str(), format.str(), value.str(), unit.str(), tx.str(), sig.str());
  work.commit();
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
    done(nullptr);
    return;
  }
  std::unique_lock lock(mutex_);
  rows_.insert(rows_.end(), std::make_move_iterator(rows.begin()),
               std::make_move_iterator(rows.end()));
  waiters_.push_back(std::move(done));
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

void MeterWriter::flush_locked(std::unique_lock<std::mutex>& lock) {
  if (rows_.empty()) return;
  auto rows = std::make_shared<std::vector<MeterRow>>(std::move(rows_));
  auto waiters = std::make_shared<std::vector<Done>>(std::move(waiters_));
  rows_.clear();
  waiters_.clear();
  lock.unlock();
  metrics_.observe_batch(rows->size());
  auto finish = [waiters](std::exception_ptr error) {
    for (auto& done : *waiters) done(error);
  };
  const bool queued = pool_.try_submit(
      [rows, finish](pqxx::connection& connection) {
        try {
          write_meter_rows(connection, *rows);
          finish(nullptr);
        } catch (const std::exception& e) {
          log::warn("meter_batch_failed", {{"rows", rows->size()}, {"error", e.what()}});
          finish(std::current_exception());
        }
      },
      finish);
  if (!queued) finish(std::make_exception_ptr(std::runtime_error("database queue is full")));
  lock.lock();
}

}  // namespace chargegrid::server
