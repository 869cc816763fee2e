#include "store/meter_values.hpp"

#include <pqxx/pqxx>

#include "store/sql_arrays.hpp"

namespace chargegrid::server::store::meter_values {

std::vector<ForeignTransaction> append(Tx& work, std::vector<MeterRow>::const_iterator begin,
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
  std::vector<ForeignTransaction> out;
  for (const auto& row : foreign)
    out.push_back({row[0].as<std::string>(), row[1].as<std::int64_t>()});
  return out;
}

}  // namespace chargegrid::server::store::meter_values
