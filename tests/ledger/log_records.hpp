// Synthetic settlement records for the log's tests, benchmark and crash helper.
#pragma once

#include <string>

#include "chargegrid/ledger/settlement_record.hpp"

namespace chargegrid::ledger::testing {

// A complete, valid record whose settlement id (and so its canonical bytes) is `id`.
inline SettlementRecord synthetic_record(const std::string& id) {
  using namespace std::chrono;
  SettlementRecord r;
  r.settlement_id = id;
  r.session_id = "session-" + id;
  r.transaction_id = "tx-" + id;
  r.station_id = "CP-DE-4711";
  r.evse_id = 1;
  r.connector_id = 1;
  r.id_token = "04ab076a345b85";
  r.site = Site{"depot-berlin", GeodeticReference{52520008, 13404954, 34000}};
  TimePoint start = sys_days(2026y / March / 1) + 8h;
  r.start = start;
  r.end = start + 1h;
  r.meter_start = MeterReading{start, 1000000};
  r.meter_stop = MeterReading{start + 1h, 1011000};
  r.intervals = {EnergyInterval{start, start + 30min, 5000, 0},
                 EnergyInterval{start + 30min, start + 1h, 6000, 0}};
  r.currency = "EUR";
  r.prices = {PriceComponent{"energy", 35, "kWh", 11000, 385}};
  r.total_minor = 385;
  r.settled_at = start + 1h + 1min;
  return r;
}

}  // namespace chargegrid::ledger::testing
