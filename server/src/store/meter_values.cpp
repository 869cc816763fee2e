#include "store/meter_values.hpp"

#include <algorithm>
#include <pqxx/pqxx>

#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::meter_values {

namespace {

// A running session's register span widened by `span` (imin, imax, emin, emax): applying it
// twice changes nothing.
constexpr const char* kWidenSpan =
    R"(UPDATE transactions t SET
         import_first_wh = LEAST(t.import_first_wh, span.imin),
         import_last_wh = GREATEST(t.import_last_wh, span.imax),
         export_first_wh = LEAST(t.export_first_wh, span.emin),
         export_last_wh = GREATEST(t.export_last_wh, span.emax),
         meter_start_wh = LEAST(t.meter_start_wh, round(span.imin)::bigint),
         updated_at = now()
       )";

// The batch as one statement that needs no prior knowledge: it checks ownership, skips
// replayed samples (ON CONFLICT) and widens the spans itself. The path for a batch that holds
// a sample already stored.
std::vector<ForeignTransaction> append_checked(Tx& work,
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
    tx.add_int_or_null(r.transaction_id);
    sig.add_or_null(r.signed_data);
  }
  // A sample names a transaction only if it is the sending station's own: one naming
  // another station's transaction (or one never issued) is kept as the station's meter
  // data without a transaction. Replayed samples hit the primary key and are skipped.
  // Only a running session's register span widens, and only from the samples stored now (a
  // resend that differs from what was stored moves nothing); an ended session's figures are
  // final.
  static const std::string statement =
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
           RETURNING station_id, transaction_id, measurand, phase, location, value
         ), span AS (
           SELECT station_id, transaction_id,
                  min(value) FILTER (WHERE measurand = 'Energy.Active.Import.Register') AS imin,
                  max(value) FILTER (WHERE measurand = 'Energy.Active.Import.Register') AS imax,
                  min(value) FILTER (WHERE measurand = 'Energy.Active.Export.Register') AS emin,
                  max(value) FILTER (WHERE measurand = 'Energy.Active.Export.Register') AS emax
           FROM inserted
           WHERE transaction_id IS NOT NULL AND location IN ('', 'Outlet') AND phase = ''
             AND value IS NOT NULL
           GROUP BY station_id, transaction_id
         ), widened AS (
           )" +
      std::string(kWidenSpan) + R"(
           FROM span
           WHERE t.id = span.transaction_id AND t.station_id = span.station_id
             AND t.state = 'active'
         )
         SELECT DISTINCT station_id, transaction_id FROM checked
         WHERE transaction_id IS NOT NULL AND NOT owned)";
  auto foreign = work.exec_params(statement, station.str(), evse.str(), at.str(), measurand.str(),
                                  phase.str(), location.str(), context.str(), format.str(),
                                  value.str(), unit.str(), tx.str(), sig.str());
  std::vector<ForeignTransaction> out;
  for (const auto& row : foreign)
    out.push_back({row[0].as<std::string>(), row[1].as<std::int64_t>()});
  return out;
}

// A transaction a batch names, as the database knows it.
struct NamedTransaction {
  std::string station_id;
  int id = 0;
  bool owned = false;  // the sending station's own
  // The register span the batch's samples show for it.
  std::optional<double> import_min, import_max, export_min, export_max;
};

// The entry of the transaction `row` names (it names one).
template <typename Named>
auto* named_by(Named& named, const MeterRow& row) {
  for (auto& n : named)
    if (n.id == *row.transaction_id && n.station_id == row.station_id) return &n;
  return static_cast<decltype(&named[0])>(nullptr);
}

// The distinct transactions [begin, end) name, with whether each is its station's own: from
// `owners` where it knows the id, else read (and remembered there).
std::vector<NamedTransaction> named_transactions(Tx& work,
                                                 std::vector<MeterRow>::const_iterator begin,
                                                 std::vector<MeterRow>::const_iterator end,
                                                 TransactionOwners* owners) {
  std::vector<NamedTransaction> named;
  for (auto it = begin; it != end; ++it)
    if (it->transaction_id && !named_by(named, *it))
      named.push_back({it->station_id, *it->transaction_id});
  ArrayLiteral unknown;
  bool any_unknown = false;
  for (auto& n : named) {
    const auto owner = owners ? owners->owner(n.id) : std::nullopt;
    if (owner) {
      n.owned = *owner == n.station_id;
    } else {
      unknown.add_int(n.id);
      any_unknown = true;
    }
  }
  if (!any_unknown) return named;
  // By id alone, so that a transaction of another station is known as that station's too.
  const auto rows = work.exec_params(
      "SELECT id, station_id FROM transactions WHERE id = ANY($1::int[])", unknown.str());
  for (const auto& row : rows) {
    const int id = row[0].as<int>();
    const char* station = row[1].c_str();
    if (owners) owners->remember(id, station);
    for (auto& n : named)
      if (n.id == id && n.station_id == station) n.owned = true;
  }
  return named;
}

void widen(std::optional<double>& low, std::optional<double>& high, double value) {
  low = low ? std::min(*low, value) : value;
  high = high ? std::max(*high, value) : value;
}

// COPY of [begin, end) straight into meter_values, in a savepoint: false (and nothing
// stored) when a sample is already there.
bool copy_rows(Tx& work, const std::vector<NamedTransaction>& named,
               std::vector<MeterRow>::const_iterator begin,
               std::vector<MeterRow>::const_iterator end) {
  auto* outer = dynamic_cast<pqxx::dbtransaction*>(&work);
  if (!outer) return false;
  try {
    pqxx::subtransaction savepoint(*outer, "meter_copy");
    {
      pqxx::stream_to copy(
          savepoint, "meter_values",
          std::vector<std::string>{"station_id", "evse_id", "sampled_at", "measurand", "phase",
                                   "location", "context", "format", "value", "unit",
                                   "transaction_id", "signed_data"});
      std::string value, transaction;
      for (auto it = begin; it != end; ++it) {
        const auto& r = *it;
        // NULL is a null pointer: libpqxx 6.4 streams no std::optional.
        const char* value_or_null = nullptr;
        if (r.value) {
          value = pqxx::to_string(*r.value);
          value_or_null = value.c_str();
        }
        const char* transaction_or_null = nullptr;
        if (r.transaction_id) {
          if (const auto* n = named_by(named, r); n && n->owned) {
            transaction = std::to_string(*r.transaction_id);
            transaction_or_null = transaction.c_str();
          }
        }
        const char* signed_or_null = r.signed_data ? r.signed_data->c_str() : nullptr;
        copy << std::tie(r.station_id, r.evse_id, r.sampled_at, r.measurand, r.phase, r.location,
                         r.context, r.format, value_or_null, r.unit, transaction_or_null,
                         signed_or_null);
      }
      copy.complete();
    }
    savepoint.commit();
    return true;
  } catch (const pqxx::unique_violation&) {
    return false;  // the savepoint is rolled back; the batch goes the checked way
  }
}

}  // namespace

std::optional<std::string> TransactionOwners::owner(std::int64_t transaction_id) const {
  std::lock_guard lock(mutex_);
  const auto it = owners_.find(transaction_id);
  if (it == owners_.end()) return std::nullopt;
  return it->second;
}

void TransactionOwners::remember(std::int64_t transaction_id, const std::string& station_id) {
  std::lock_guard lock(mutex_);
  if (owners_.size() >= capacity_) owners_.clear();
  owners_.insert_or_assign(transaction_id, station_id);
}

std::size_t TransactionOwners::size() const {
  std::lock_guard lock(mutex_);
  return owners_.size();
}

std::vector<ForeignTransaction> append(Tx& work, std::vector<MeterRow>::const_iterator begin,
                                       std::vector<MeterRow>::const_iterator end,
                                       TransactionOwners* owners) {
  // Most batches hold only new samples: they are copied in (PostgreSQL's cheapest way in, a
  // fifth of the statement's cost), with ownership read first and the spans widened after.
  // A replayed sample makes the copy fail on the primary key and the batch take the checked
  // statement instead, in the same transaction.
  auto named = named_transactions(work, begin, end, owners);
  if (!copy_rows(work, named, begin, end)) return append_checked(work, begin, end);

  // The same rules as the checked statement: only a running session's span widens (the
  // statement below skips ended ones), from its register readings at the outlet (or without a
  // location), all phases together.
  for (auto it = begin; it != end; ++it) {
    const auto& r = *it;
    if (!r.transaction_id || !r.value || !r.phase.empty() ||
        !(r.location.empty() || r.location == "Outlet"))
      continue;
    auto* n = named_by(named, r);
    if (!n || !n->owned) continue;
    if (r.measurand == "Energy.Active.Import.Register")
      widen(n->import_min, n->import_max, *r.value);
    else if (r.measurand == "Energy.Active.Export.Register")
      widen(n->export_min, n->export_max, *r.value);
  }
  ArrayLiteral stations, ids, imin, imax, emin, emax;
  bool any = false;
  const auto add = [](ArrayLiteral& array, const std::optional<double>& v) {
    v ? array.add_number(*v) : array.add_null();
  };
  for (const auto& n : named) {
    if (!n.import_min && !n.export_min) continue;
    any = true;
    stations.add(n.station_id);
    ids.add_int(n.id);
    add(imin, n.import_min);
    add(imax, n.import_max);
    add(emin, n.export_min);
    add(emax, n.export_max);
  }
  if (any) {
    static const std::string statement = std::string(kWidenSpan) + R"(
           FROM unnest($1::text[], $2::int[], $3::float8[], $4::float8[], $5::float8[],
                       $6::float8[]) AS span(station_id, id, imin, imax, emin, emax)
           WHERE t.id = span.id AND t.station_id = span.station_id AND t.state = 'active')";
    work.exec_params(statement, stations.str(), ids.str(), imin.str(), imax.str(), emin.str(),
                     emax.str());
  }
  std::vector<ForeignTransaction> foreign;
  for (const auto& n : named)
    if (!n.owned) foreign.push_back({n.station_id, n.id});
  return foreign;
}

}  // namespace chargegrid::server::store::meter_values
