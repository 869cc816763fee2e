#pragma once
// Signed meter data of a session (OCMF, carried in 2.0.1/2.1 signedMeterValue or in 1.6
// SignedData sampled values) checked with the ledger core against the EVSE's meter key.
//
//   verified  every signed reading verifies with the pinned key, and the session's start and
//             end registers are taken from the first and last signed readings: the import
//             register (OBIS 1.8.x) always, the export register (OBIS 2.8.x, V2G) when the
//             signed readings carry it at least twice;
//   unsigned  the session has no signed readings;
//   invalid   a reading fails (reason: key_mismatch, signature_invalid, unsupported_algorithm,
//             malformed, meter_error, register_backwards, single_reading), or the key is missing.
//
// The key is pinned per EVSE: registered by an operator, or learnt from the first signed reading
// that carries one (the caller stores it), and a later reading presenting another is a
// key_mismatch.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chargegrid/base/time.hpp"

namespace chargegrid::server::settlement {

// One stored signed sample: its time and the carrier as stored (2.x: the signedMeterValue JSON;
// 1.6: the SignedData value).
struct SignedSample {
  base::TimePoint time;
  std::string carrier;
};

enum class SignedStatus { kVerified, kUnsigned, kInvalid };
const char* status_name(SignedStatus status);  // "verified", "unsigned", "invalid"

struct SignedRegister {
  base::TimePoint time;
  std::int64_t wh = 0;
};

struct MeterCheck {
  SignedStatus status = SignedStatus::kUnsigned;
  std::string reason;                         // a code, for an invalid one
  std::string detail;                         // the reading and what is wrong with it
  std::vector<std::string> ocmf;              // the OCMF texts, in time order, each once
  std::optional<std::string> public_key;      // lowercase hex DER; the pinned or learnt key
  bool learnt = false;                        // no key was pinned: public_key is to be pinned now
  std::optional<SignedRegister> start, stop;  // the first and last signed import registers
  // The first and last signed export registers; none when the signed data carries fewer than
  // two export readings (the export is then settled from the unsigned registers).
  std::optional<SignedRegister> export_start, export_stop;
  std::size_t export_readings = 0;      // signed export register readings seen
  std::vector<SignedRegister> exports;  // every signed export register, in time order
};

MeterCheck check_signed(std::vector<SignedSample> samples,
                        const std::optional<std::string>& pinned_key_hex);

// A key as an operator gives it (DER SubjectPublicKeyInfo, hex or base64) in lowercase hex;
// nullopt when it is neither.
std::optional<std::string> normalise_key(const std::string& text);

}  // namespace chargegrid::server::settlement
