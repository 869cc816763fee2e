#include "settlement/settle.hpp"

#include <cmath>
#include <stdexcept>

#include "chargegrid/base/encoding.hpp"
#include "chargegrid/base/sha256.hpp"
#include "chargegrid/ledger/postgres_log.hpp"
#include "chargegrid/ledger/settlement_record.hpp"
#include "credits/driver_balance.hpp"
#include "settlement/meter_evidence.hpp"
#include "settlement/packets.hpp"
#include "store/meter_keys.hpp"
#include "store/outbox.hpp"

namespace chargegrid::server::settlement {
namespace {

using store::settlements::SessionFacts;

base::TimePoint time_of(const std::string& text) {
  auto t = base::parse_rfc3339(text);
  if (!t) throw std::runtime_error("settlement: unreadable time " + text);
  return *t;
}

ledger::TimePoint ms(base::TimePoint t) {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(t);
}

std::int64_t micro(std::optional<double> degrees) {
  return degrees ? static_cast<std::int64_t>(std::llround(*degrees * 1e6)) : 0;
}

// Stable for the session: a repeat produces the same record bytes, which the log keeps once.
std::string settlement_id_of(const SessionFacts& s) {
  const auto digest =
      base::sha256(s.station_id + "\n" + s.transaction_uid + "\n" + std::to_string(s.id));
  return "stl-" + base::hex_encode(base::ByteView(digest.data(), 16));
}

ledger::MeterVerification verification_of(SignedStatus status) {
  switch (status) {
    case SignedStatus::kVerified:
      return ledger::MeterVerification::kVerified;
    case SignedStatus::kInvalid:
      return ledger::MeterVerification::kFailed;
    case SignedStatus::kUnsigned:
      break;
  }
  return ledger::MeterVerification::kNotSigned;
}

}  // namespace

Settled settle_session(store::Tx& tx, std::int64_t session_id, const SettleOptions& options) {
  namespace settlements = store::settlements;
  Settled out;
  if (settlements::exists(tx, session_id)) return out;
  auto session = settlements::session(tx, session_id);
  if (!session) throw std::runtime_error("settlement: no session " + std::to_string(session_id));
  if (session->state != "ended")
    throw std::runtime_error("settlement: session " + std::to_string(session_id) +
                             " has not ended");

  // Signed meter data, checked against the EVSE's pinned key.
  std::vector<SignedSample> samples;
  for (auto& row : settlements::signed_samples(tx, *session))
    samples.push_back({time_of(row.sampled_at), std::move(row.signed_data)});
  auto pinned = store::meter_keys::find(tx, session->station_id, session->evse_id);
  auto check =
      check_signed(std::move(samples), pinned ? std::optional(pinned->public_key) : std::nullopt);
  if (check.status == SignedStatus::kVerified && check.learnt && check.public_key)
    store::meter_keys::learn(tx, session->station_id, session->evse_id, *check.public_key);

  // Energy: from the verified signed registers, else the session's own start and stop values
  // (1.6) and the sampled registers.
  PacketInput input;
  input.start = time_of(session->started_at);
  input.end = time_of(session->ended_at);
  input.interval = options.interval;
  input.utc_offset = std::chrono::minutes(session->utc_offset_minutes);
  auto registers = settlements::registers(tx, *session);
  for (const auto& r : registers.import) input.import.push_back({time_of(r.sampled_at), r.wh});
  for (const auto& r : registers.export_) input.export_.push_back({time_of(r.sampled_at), r.wh});
  if (check.status == SignedStatus::kVerified) {
    input.import_start_wh = check.start->wh;
    input.import_stop_wh = check.stop->wh;
  } else {
    input.import_start_wh = session->meter_start_wh;
    input.import_stop_wh = session->meter_stop_wh;
  }
  auto packets = make_packets(input);

  ledger::SettlementRecord record;
  record.schema_version = ledger::kSettlementSchemaVersion2;
  record.settlement_id = settlement_id_of(*session);
  record.session_id = std::to_string(session->id);
  record.transaction_id = session->transaction_uid;
  record.station_id = session->station_id;
  record.evse_id = session->evse_id;
  record.connector_id = session->connector_id;
  record.id_token = session->id_token;
  record.site.id = session->site_id ? std::to_string(*session->site_id) : "";
  record.site.location = {micro(session->latitude), micro(session->longitude),
                          session->altitude_m
                              ? static_cast<std::int64_t>(std::llround(*session->altitude_m * 1000))
                              : 0};
  record.start = ms(input.start);
  record.end = ms(std::max(input.start, input.end));
  const bool signed_ends = check.status == SignedStatus::kVerified;
  record.meter_start = {signed_ends ? ms(check.start->time) : record.start,
                        packets.import_start_wh};
  record.meter_stop = {signed_ends ? ms(check.stop->time) : record.end, packets.import_stop_wh};
  for (const auto& p : packets.intervals)
    record.intervals.push_back({ms(p.start), ms(p.end), p.imported_wh, p.exported_wh, p.estimated});
  record.errors = packets.errors;

  // Money: an invalid settlement is recorded but earns no credits.
  std::optional<Prices> prices;
  if (options.prices) prices = options.prices(tx, *session);
  if (prices) {
    record.currency = prices->currency;
    auto priced = prices->import_minor_per_kwh ? price(packets.intervals, *prices) : Money{};
    if (check.status == SignedStatus::kInvalid) {
      std::erase_if(priced.components, [](const auto& c) { return c.amount_minor < 0; });
      std::int64_t exact = 0;
      for (const auto& c : priced.components) exact += c.quantity_milli * c.unit_price_minor;
      priced.total_minor = round_thousandths_half_even(exact);
    }
    record.prices = priced.components;
    record.total_minor = priced.total_minor;
  } else {
    record.currency = "XXX";
  }

  record.meter_evidence.status = verification_of(check.status);
  record.meter_evidence.signed_data = check.ocmf;
  record.meter_evidence.public_key = check.public_key;
  record.meter_evidence.detail =
      check.status == SignedStatus::kInvalid ? check.reason + ": " + check.detail : check.detail;
  record.settled_at = ms(std::chrono::system_clock::now());

  // The driver's V2G balance: earned, or spent on this session (docs/settlement.md).
  credits::apply_driver_balance(tx, session->id, record);

  const auto canonical = ledger::canonical_record(record);
  const auto appended = ledger::PostgresLog::append_in(tx, {canonical});
  out.recorded = true;
  out.settlement_id = record.settlement_id;
  out.log_index = appended.indices.at(0);
  out.status = status_name(check.status);

  settlements::Settlement row;
  row.id = record.settlement_id;
  row.session_id = session->id;
  row.station_id = session->station_id;
  row.site_id = session->site_id;
  row.status = out.status;
  if (check.status == SignedStatus::kInvalid) row.reason = check.reason;
  row.log_index = out.log_index;
  row.record = canonical;
  row.currency = record.currency;
  row.total_minor = record.total_minor;
  row.energy_imported_wh = record.energy_imported_wh();
  row.energy_exported_wh = record.energy_exported_wh();
  row.started_at = session->started_at;
  row.ended_at = session->ended_at;
  settlements::insert(tx, row);
  store::outbox::append(tx, store::outbox::kSettlementRecorded,
                        {{"settlement_id", out.settlement_id},
                         {"log_index", out.log_index},
                         {"session_id", session->id}});
  return out;
}

}  // namespace chargegrid::server::settlement
