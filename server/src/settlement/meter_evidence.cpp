#include "settlement/meter_evidence.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "chargegrid/base/enum_names.hpp"
#include "chargegrid/ledger/ocmf.hpp"

namespace chargegrid::server::settlement {
namespace {

namespace ocmf = ledger::ocmf;

MeterCheck invalid(MeterCheck check, std::string reason, std::string detail) {
  check.status = SignedStatus::kInvalid;
  check.reason = std::move(reason);
  check.detail = std::move(detail);
  check.start.reset();
  check.stop.reset();
  check.export_start.reset();
  check.export_stop.reset();
  check.exports.clear();
  return check;
}

// The reason an invalid reading gives, as the settlement API and records spell it.
constexpr auto kReasons = base::enum_names<ocmf::Outcome>(
    {{ocmf::Outcome::kVerified, "verified"},
     {ocmf::Outcome::kSignatureInvalid, "signature_invalid"},
     {ocmf::Outcome::kKeyMismatch, "key_mismatch"},
     {ocmf::Outcome::kUnsupportedAlgorithm, "unsupported_algorithm"},
     {ocmf::Outcome::kMalformed, "malformed"}});

std::string reason_of(ocmf::Outcome outcome) {
  return std::string(kReasons.name(outcome));
}

ocmf::Evidence decode(const std::string& carrier) {
  const auto first = carrier.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && carrier[first] == '{') {
    auto json = nlohmann::json::parse(carrier, nullptr, false);
    if (json.is_discarded()) throw ocmf::ParseError("signedMeterValue", "is not JSON");
    return ocmf::from_ocpp2_signed_meter_value(json);
  }
  return ocmf::from_ocpp16_sampled_value({{"format", "SignedData"}, {"value", carrier}});
}

std::string at(base::TimePoint time) {
  return base::format_rfc3339(time);
}

// OBIS C.D.E after the optional A-B: prefix, zero-padded or not ("1-b:2.8.0",
// "01-00:02.08.00.FF"): C.D 1.8 is active import, 2.8 active export (V2G).
bool is_export(const std::string& obis) {
  const auto colon = obis.find(':');
  unsigned c = 0, d = 0;
  char dot = 0, after = 0;
  const auto code = obis.substr(colon == std::string::npos ? 0 : colon + 1);
  return std::sscanf(code.c_str(), "%u%c%u%c", &c, &dot, &d, &after) == 4 && dot == '.' &&
         after == '.' && c == 2 && d == 8;
}

// Why the first reading lower than the one before it is wrong; nullopt when none is.
std::optional<std::string> backwards(const std::vector<ocmf::Reading>& registers,
                                     const char* name) {
  for (std::size_t i = 1; i < registers.size(); ++i)
    if (*registers[i].milli_wh < *registers[i - 1].milli_wh)
      return std::string("signed ") + name +
             " register went backwards: " + registers[i].value_text + " at " +
             registers[i].time_text + " after " + registers[i - 1].value_text;
  return std::nullopt;
}

SignedRegister register_of(const ocmf::Reading& reading) {
  return {std::chrono::time_point_cast<base::TimePoint::duration>(reading.time), *reading.wh()};
}

}  // namespace

const char* status_name(SignedStatus status) {
  static constexpr auto kNames =
      base::enum_names<SignedStatus>({{SignedStatus::kVerified, "verified"},
                                      {SignedStatus::kUnsigned, "unsigned"},
                                      {SignedStatus::kInvalid, "invalid"}});
  return kNames.name(status).data();  // every status is listed: never null
}

std::optional<std::string> normalise_key(const std::string& text) {
  auto bytes = ocmf::decode_key_text(text);
  if (!bytes || bytes->empty()) return std::nullopt;
  return ledger::hex_encode(bytes->data(), bytes->size());
}

MeterCheck check_signed(std::vector<SignedSample> samples,
                        const std::optional<std::string>& pinned_key_hex) {
  MeterCheck check;
  if (samples.empty()) return check;
  std::stable_sort(samples.begin(), samples.end(),
                   [](const auto& a, const auto& b) { return a.time < b.time; });
  check.public_key = pinned_key_hex;
  std::vector<ocmf::Reading> registers, export_registers;
  for (const auto& sample : samples) {
    ocmf::Evidence evidence;
    try {
      evidence = decode(sample.carrier);
    } catch (const std::exception& e) {
      return invalid(std::move(check), "malformed",
                     "signed reading at " + at(sample.time) + ": " + e.what());
    }
    if (std::find(check.ocmf.begin(), check.ocmf.end(), evidence.ocmf) != check.ocmf.end())
      continue;  // the same signed reading carried twice (a resent message)
    check.ocmf.push_back(evidence.ocmf);
    std::optional<std::string> presented;
    if (evidence.public_key) presented = normalise_key(*evidence.public_key);
    if (!check.public_key) {
      if (!presented)
        return invalid(std::move(check), "key_missing",
                       "no meter key is registered for this EVSE and the signed reading at " +
                           at(sample.time) + " carries none");
      check.public_key = presented;
      check.learnt = true;
    }
    auto verification = ocmf::verify(evidence.ocmf, presented, check.public_key);
    if (!verification.verified())
      return invalid(std::move(check), reason_of(verification.outcome),
                     "signed reading at " + at(sample.time) + ": " + verification.message);
    for (const auto& reading : verification.document->payload.readings) {
      if (!reading.milli_wh) continue;  // not an energy register
      if (reading.has_error())
        return invalid(std::move(check), "meter_error",
                       "signed reading " + reading.time_text + " is flagged (EF '" +
                           reading.error_flags + "', ST '" + reading.status + "')");
      (is_export(reading.obis) ? export_registers : registers).push_back(reading);
    }
  }
  if (registers.size() < 2)
    return invalid(std::move(check), "single_reading",
                   "the signed data holds " + std::to_string(registers.size()) +
                       " import register reading(s); a start and an end are needed");
  if (auto detail = backwards(registers, "import"))
    return invalid(std::move(check), "register_backwards", *detail);
  if (auto detail = backwards(export_registers, "export"))
    return invalid(std::move(check), "register_backwards", *detail);
  check.status = SignedStatus::kVerified;
  check.start = register_of(registers.front());
  check.stop = register_of(registers.back());
  check.export_readings = export_registers.size();
  for (const auto& reading : export_registers) check.exports.push_back(register_of(reading));
  if (export_registers.size() >= 2) {
    check.export_start = register_of(export_registers.front());
    check.export_stop = register_of(export_registers.back());
  }
  return check;
}

}  // namespace chargegrid::server::settlement
