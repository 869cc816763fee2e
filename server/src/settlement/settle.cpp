#include "settlement/settle.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
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

// Where a verified record's exported energy comes from, for its meter evidence: the signed
// export registers, or (said so that nobody takes it for signed) the unsigned ones.
std::string export_source(const MeterCheck& check, bool signed_export, bool signed_shape,
                          const Packets& packets) {
  if (!packets.has_export) return "";
  const auto range = std::to_string(packets.export_start_wh) + " Wh to " +
                     std::to_string(packets.export_stop_wh) + " Wh";
  if (signed_shape)
    return "export cut from the session's signed export registers (OBIS 2.8.x): " + range;
  if (signed_export) return "export from the signed export register (OBIS 2.8.x): " + range;
  return "export from unsigned registers: the signed data holds " +
         std::to_string(check.export_readings) + " export register reading(s)";
}

}  // namespace

namespace {

// What one record covers: the whole session (final, unchained: schema version 2 as ever), or a
// part of it chained to the session's other records (schema version 3).
struct Span {
  ledger::SettlementKind kind = ledger::SettlementKind::kFinal;
  int interim_number = 0;  // for an interim
  std::optional<store::settlements::LastInterim> previous;
  std::optional<std::int64_t> previous_stop_wh;         // the previous record's closing register
  std::optional<std::int64_t> previous_export_stop_wh;  // and its closing export register
  base::TimePoint start, end;
  bool chained() const { return kind == ledger::SettlementKind::kInterim || previous; }
};

std::string interim_id_of(const SessionFacts& s, int number) {
  const auto digest = base::sha256(s.station_id + "\n" + s.transaction_uid + "\n" +
                                   std::to_string(s.id) + "\ninterim\n" + std::to_string(number));
  return "stl-" + base::hex_encode(base::ByteView(digest.data(), 16));
}

std::vector<RegisterReading> readings_of(const std::vector<store::settlements::Reading>& rows) {
  std::vector<RegisterReading> out;
  for (const auto& r : rows) out.push_back({time_of(r.sampled_at), r.wh});
  return out;
}

// The readings that matter for [start, end]: those inside, and the nearest on either side (the
// register at the span's edges is interpolated between them).
std::vector<RegisterReading> around(const std::vector<RegisterReading>& all, base::TimePoint start,
                                    base::TimePoint end) {
  std::optional<RegisterReading> before, after;
  std::vector<RegisterReading> out;
  for (const auto& r : all) {
    if (r.time < start) {
      if (!before || r.time >= before->time) before = r;
    } else if (r.time > end) {
      if (!after || r.time < after->time) after = r;
    } else {
      out.push_back(r);
    }
  }
  if (before) out.push_back(*before);
  if (after) out.push_back(*after);
  return out;
}

Settled record_span(store::Tx& tx, const SessionFacts& session_facts, const Span& span,
                    const SettleOptions& options) {
  namespace settlements = store::settlements;
  const SessionFacts* session = &session_facts;
  const bool interim = span.kind == ledger::SettlementKind::kInterim;
  Settled out;

  // Signed meter data, checked against the EVSE's pinned key: the whole session's for the final
  // settlement; an interim's own day's, when the day holds two readings or more.
  std::vector<SignedSample> all_samples, samples;
  for (auto& row : settlements::signed_samples(tx, *session))
    all_samples.push_back({time_of(row.sampled_at), std::move(row.signed_data)});
  for (const auto& sample : all_samples)
    if (!interim || (sample.time >= span.start && sample.time <= span.end))
      samples.push_back(sample);
  if (interim && samples.size() < 2) samples.clear();
  auto pinned = store::meter_keys::find(tx, session->station_id, session->evse_id);
  const auto pinned_key = pinned ? std::optional(pinned->public_key) : std::nullopt;
  auto check = check_signed(samples, pinned_key);
  if (check.status == SignedStatus::kVerified && check.learnt && check.public_key)
    store::meter_keys::learn(tx, session->station_id, session->evse_id, *check.public_key);
  const bool signed_ends = check.status == SignedStatus::kVerified;

  // Energy: from the verified signed registers, else the session's own start and stop values
  // (1.6) and the sampled registers. A chained record starts at the register its previous one
  // closed with, so the records of a session add up to it; an interim closes at the register
  // interpolated at its day's end.
  PacketInput input;
  input.start = span.start;
  input.end = span.end;
  input.interval = options.interval;
  input.utc_offset = std::chrono::minutes(session->utc_offset_minutes);
  auto registers = settlements::registers(tx, *session);
  input.import = readings_of(registers.import);
  input.export_ = readings_of(registers.export_);
  // A part of a session cuts its export at the register interpolated at the part's edges: from
  // the session's signed export registers when they verify (the station's unsigned ones may
  // disagree with its meter), so that consecutive records cut it at the same place.
  bool signed_shape = false;
  if (span.chained()) {
    const auto whole = interim ? check_signed(all_samples, pinned_key) : check;
    if (whole.status == SignedStatus::kVerified && !whole.exports.empty()) {
      input.export_.clear();
      for (const auto& r : whole.exports)
        input.export_.push_back({r.time, static_cast<double>(r.wh)});
      signed_shape = true;
    }
    input.import = around(input.import, span.start, span.end);
    input.export_ = around(input.export_, span.start, span.end);
  }
  if (span.previous_stop_wh)
    input.import_start_wh = span.previous_stop_wh;
  else
    input.import_start_wh = signed_ends ? std::optional(check.start->wh) : session->meter_start_wh;
  if (!interim)
    input.import_stop_wh = signed_ends ? std::optional(check.stop->wh) : session->meter_stop_wh;
  // Exported energy (V2G): from the signed export registers when the signed data carries them,
  // pinned like the import ones (the first record of the session starts at the signed start,
  // the final one stops at the signed stop); else from the unsigned export registers.
  // A later record starts its export where the previous one closed it, as its import.
  const bool signed_export = signed_ends && check.export_start && check.export_stop;
  if (span.previous_export_stop_wh)
    input.export_start_wh = span.previous_export_stop_wh;
  else if (signed_export && !span.previous)
    input.export_start_wh = check.export_start->wh;
  if (signed_export && !interim) input.export_stop_wh = check.export_stop->wh;
  auto packets = make_packets(input);

  ledger::SettlementRecord record;
  record.schema_version =
      span.chained() ? ledger::kSettlementSchemaVersion3 : ledger::kSettlementSchemaVersion2;
  record.settlement_id =
      interim ? interim_id_of(*session, span.interim_number) : settlement_id_of(*session);
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
  const auto session_start = time_of(session->started_at);
  record.start = ms(span.chained() ? session_start : span.start);
  record.end = ms(std::max(span.start, span.end));
  record.meter_start = {signed_ends && !span.previous ? ms(check.start->time) : ms(span.start),
                        packets.import_start_wh};
  record.meter_stop = {signed_ends && !interim ? ms(check.stop->time) : record.end,
                       packets.import_stop_wh};
  for (const auto& p : packets.intervals)
    record.intervals.push_back({ms(p.start), ms(p.end), p.imported_wh, p.exported_wh, p.estimated});
  record.errors = packets.errors;
  record.settlement_kind = span.kind;
  record.period = {ms(span.start), record.end};
  if (span.previous) record.previous_settlement_id = span.previous->id;

  // Money: an invalid settlement is recorded but earns no credits.
  std::optional<Prices> prices;
  if (options.prices) prices = options.prices(tx, *session);
  std::int64_t exact_total = 0;  // thousandths of a minor unit, rounded once at the end
  if (prices) {
    record.currency = prices->currency;
    auto priced = prices->import_minor_per_kwh ? price(packets.intervals, *prices) : Money{};
    if (check.status == SignedStatus::kInvalid) {
      std::erase_if(priced.components, [](const auto& c) { return c.amount_minor < 0; });
      priced.exact_thousandths = 0;
      for (const auto& c : priced.components)
        priced.exact_thousandths += c.quantity_milli * c.unit_price_minor;
    }
    record.prices = priced.components;
    exact_total = priced.exact_thousandths;
  } else {
    record.currency = "XXX";
  }
  // Demand-response credit: flexibility against the uncontrolled baseline while a window
  // limited the site (flexibility.hpp), deducted from the total. Without a tariff the energy is
  // recorded at no amount.
  if (options.flexibility && check.status != SignedStatus::kInvalid) {
    if (auto window_input = options.flexibility(tx, *session, span.start, span.end)) {
      if (!prices) window_input->credit_minor_per_kwh = 0;
      const auto flex = flexibility(packets.intervals, *window_input);
      record.demand_response_credits = flex.credits;
      exact_total -= flex.exact_credit_thousandths;
    }
  }
  record.total_minor = round_thousandths_half_even(exact_total);

  record.meter_evidence.status = verification_of(check.status);
  record.meter_evidence.signed_data = check.ocmf;
  record.meter_evidence.public_key = check.public_key;
  if (check.status == SignedStatus::kInvalid)
    record.meter_evidence.detail = check.reason + ": " + check.detail;
  else
    record.meter_evidence.detail =
        signed_ends ? export_source(check, signed_export, signed_shape, packets) : check.detail;
  record.settled_at = ms(std::chrono::system_clock::now());

  // The driver's V2G balance: earned, or spent on this record (docs/settlement.md); each record
  // is charged once, an interim like a final one.
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
  if (span.chained()) {
    row.started_at = ledger::format_time(record.period.start);
    row.ended_at = ledger::format_time(record.period.end);
  } else {
    row.started_at = session->started_at;
    row.ended_at = session->ended_at;
  }
  row.kind = ledger::settlement_kind_name(span.kind);
  if (interim) row.interim_number = span.interim_number;
  if (span.previous) row.previous_settlement_id = span.previous->id;
  if (packets.has_export) row.export_stop_wh = packets.export_stop_wh;
  settlements::insert(tx, row);
  store::outbox::append(tx, store::outbox::kSettlementRecorded,
                        {{"settlement_id", out.settlement_id},
                         {"log_index", out.log_index},
                         {"session_id", session->id}});
  return out;
}

// The chain so far: the session's last interim and the register and time it closed with.
void continue_chain(store::Tx& tx, const SessionFacts& session, Span& span) {
  span.previous = store::settlements::last_interim(tx, session.id);
  span.start = time_of(session.started_at);
  if (!span.previous) return;
  const auto last = ledger::record_from_json(nlohmann::json::parse(span.previous->record));
  span.start = last.period.end;
  span.previous_stop_wh = last.meter_stop.register_wh;
  span.previous_export_stop_wh = span.previous->export_stop_wh;
}

}  // namespace

Settled settle_session(store::Tx& tx, std::int64_t session_id, const SettleOptions& options) {
  namespace settlements = store::settlements;
  if (settlements::final_exists(tx, session_id)) return {};
  auto session = settlements::session(tx, session_id);
  if (!session) throw std::runtime_error("settlement: no session " + std::to_string(session_id));
  if (session->state != "ended")
    throw std::runtime_error("settlement: session " + std::to_string(session_id) +
                             " has not ended");
  Span span;
  continue_chain(tx, *session, span);
  span.end = std::max(span.start, time_of(session->ended_at));
  return record_span(tx, *session, span, options);
}

Settled settle_next_day(store::Tx& tx, std::int64_t session_id, const SettleOptions& options,
                        std::chrono::milliseconds day) {
  namespace settlements = store::settlements;
  auto session = settlements::session(tx, session_id);
  if (!session) throw std::runtime_error("settlement: no session " + std::to_string(session_id));
  if (session->state != "active") return {};
  Span span;
  span.kind = ledger::SettlementKind::kInterim;
  continue_chain(tx, *session, span);
  span.interim_number = span.previous ? span.previous->number + 1 : 1;
  span.end = span.start + day;
  if (span.end > std::chrono::system_clock::now()) return {};
  return record_span(tx, *session, span, options);
}

}  // namespace chargegrid::server::settlement
