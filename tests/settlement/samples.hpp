// The OCMF samples the settlement tests sign sessions with (tests/data/ocmf-samples): each
// value's OCMF text and its key, and the carriers OCPP sends them in.
#pragma once

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "chargegrid/base/encoding.hpp"
#include "chargegrid/ledger/ocmf.hpp"

namespace chargegrid::settlement_testing {

inline std::vector<ledger::ocmf::SafeValue> ocmf_sample(const std::string& name) {
  std::ifstream in(std::string(CHARGEGRID_TEST_DATA_DIR) + "/ocmf-samples/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return ledger::ocmf::parse_safe_xml(text.str());
}

// A key as the file has it (hex, maybe spaced) in lowercase hex without spaces.
inline std::string key_hex(const std::string& text) {
  std::string out;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  return first == std::string::npos ? "" : text.substr(first, last - first + 1);
}

// OCPP 2.0.1 SignedMeterValueType: signed data and key base64, as stations send them.
inline nlohmann::json signed_meter_value(const ledger::ocmf::SafeValue& value) {
  const auto key = base::hex_decode(key_hex(value.public_key));
  return {{"signedMeterData", base::base64_encode(trimmed(value.signed_data))},
          {"signingMethod", ""},
          {"encodingMethod", "OCMF"},
          {"publicKey", key ? base::base64_encode(base::ByteView(key->data(), key->size())) : ""}};
}

}  // namespace chargegrid::settlement_testing
