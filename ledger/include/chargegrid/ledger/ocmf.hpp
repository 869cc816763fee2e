// Signed meter data in the Open Charge Metering Format (OCMF, S.A.F.E. e.V.):
// parsing, ECDSA signature verification through OpenSSL 3, and decoding of the OCPP carriers.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chargegrid/ledger/codec.hpp"

namespace chargegrid::ledger::ocmf {

// The OCMF text is not well formed; field() names the offending field ("RD[1].TM", "SA", ...).
class ParseError : public std::runtime_error {
 public:
  ParseError(std::string field, const std::string& message)
      : std::runtime_error(field + ": " + message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// TM's time-status flag.
enum class TimeStatus { kUnknown, kInformative, kSynchronized, kRelative };

struct Reading {
  std::chrono::sys_time<std::chrono::milliseconds> time;  // TM, converted to UTC
  std::string time_text;                                  // TM as transmitted
  TimeStatus time_status = TimeStatus::kUnknown;
  std::optional<std::string> transaction;   // TX: B, C, X, E, L, R, A, P, S, T
  std::string value_text;                   // RV as transmitted (trimmed when a string)
  std::string obis;                         // RI
  std::string unit;                         // RU: kWh, Wh, mOhm, uOhm, sec, ...
  std::optional<std::string> current_type;  // RT: AC or DC
  std::optional<std::string> cable_loss;    // CL as its decimal text
  std::string error_flags;                  // EF: 'E' energy, 't' time
  std::string status;                       // ST: G good, E error, ...
  // The register in milliwatt-hours when RU is an energy unit, exact to the meter's decimals.
  std::optional<std::int64_t> milli_wh;

  std::optional<std::int64_t> wh() const {
    return milli_wh ? std::optional<std::int64_t>(*milli_wh / 1000) : std::nullopt;
  }
  bool has_error() const { return !error_flags.empty() || status != "G"; }
  bool time_synchronized() const { return time_status == TimeStatus::kSynchronized; }
};

struct Payload {
  nlohmann::json json;                              // the whole payload, vendor fields included
  std::optional<std::string> format_version;        // FV
  std::optional<std::string> gateway_id;            // GI
  std::optional<std::string> gateway_serial;        // GS
  std::optional<std::string> gateway_version;       // GV
  std::string pagination;                           // PG
  std::optional<std::string> meter_vendor;          // MV
  std::optional<std::string> meter_model;           // MM
  std::optional<std::string> meter_serial;          // MS
  std::optional<std::string> meter_firmware;        // MF
  std::optional<bool> identified;                   // IS
  std::optional<std::string> identification_level;  // IL
  std::vector<std::string> identification_flags;    // IF
  std::optional<std::string> identification_type;   // IT
  std::optional<std::string> identification_data;   // ID
  std::optional<std::string> tariff_text;           // TT
  std::optional<std::string> charge_point_id_type;  // CT
  std::optional<std::string> charge_point_id;       // CI
  std::optional<nlohmann::json> loss_compensation;  // LC
  std::vector<Reading> readings;                    // RD
};

struct Signature {
  std::string algorithm = "ECDSA-secp256r1-SHA256";  // SA
  std::string encoding = "hex";                      // SE
  std::string mime_type = "application/x-der";       // SM
  Bytes data;                                        // SD, decoded
};

struct Document {
  std::string payload_text;  // the exact signed bytes
  Payload payload;
  Signature signature;
};

// Parses "OCMF|{payload}|{signature}" (surrounding whitespace ignored). Throws ParseError.
Document parse(std::string_view text);

enum class Outcome {
  kVerified,
  kSignatureInvalid,
  kKeyMismatch,
  kUnsupportedAlgorithm,
  kMalformed
};
std::string_view to_string(Outcome outcome);

struct Verification {
  Outcome outcome = Outcome::kMalformed;
  std::string message;               // why, when not verified
  std::optional<Document> document;  // present whenever the text parsed
  bool verified() const { return outcome == Outcome::kVerified; }
};

// Decodes a public key: DER SubjectPublicKeyInfo (hex or base64). Returns nullopt when the text
// is neither. Raw X||Y points are accepted when verifying, for meters that send them.
std::optional<Bytes> decode_key_text(std::string_view text);

// Verifies an OCMF string against the public key it came with (hex or base64 DER
// SubjectPublicKeyInfo). When `registered_key` is given, a presented key that is not that key
// is a key mismatch; without a presented key the registered one is used.
Verification verify(std::string_view ocmf_text, std::optional<std::string_view> public_key,
                    std::optional<std::string_view> registered_key = std::nullopt);

// Signed meter data as OCPP carries it, decoded to the OCMF text and the key sent along.
struct Evidence {
  std::string ocmf;
  std::optional<std::string> public_key;  // hex of DER SubjectPublicKeyInfo
};

// OCPP 2.0.1 / 2.1 SignedMeterValueType: {signedMeterData, signingMethod, encodingMethod,
// publicKey}. signedMeterData and publicKey are base64 (plain OCMF text is accepted too).
// Throws ParseError when it is not an OCMF carrier.
Evidence from_ocpp2_signed_meter_value(const nlohmann::json& signed_meter_value);
// OCPP 1.6 SampledValue with format "SignedData"; the value holds the OCMF text (or base64 of it).
Evidence from_ocpp16_sampled_value(const nlohmann::json& sampled_value);

// One value of a S.A.F.E. transparency-software XML file.
struct SafeValue {
  std::string transaction_id;
  std::string context;
  std::string signed_data;
  std::string public_key;    // as in the file
  std::string key_encoding;  // the publicKey's encoding attribute: "hex", "base64" or empty
};
// Reads <values><value ...><signedData/><publicKey/></value>...</values>. Throws ParseError.
std::vector<SafeValue> parse_safe_xml(std::string_view xml);

}  // namespace chargegrid::ledger::ocmf
