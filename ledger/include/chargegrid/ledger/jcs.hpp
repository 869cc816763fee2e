// RFC 8785 JSON Canonicalization Scheme (JCS).
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace chargegrid::ledger {

// The value cannot be canonicalised: a number that is not finite, or an integer outside
// the range that IEEE 754 doubles hold exactly (|n| > 2^53), which JCS would silently round.
class CanonicalJsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The canonical UTF-8 form: members sorted by UTF-16 code units, no whitespace, ECMAScript
// number serialisation, minimal string escaping.
std::string canonical_json(const nlohmann::json& value);
// Parses JSON text (throwing nlohmann::json::parse_error when it is not JSON) and canonicalises it.
std::string canonicalize(std::string_view json_text);
// ECMAScript Number::toString for a finite double, as JCS requires.
std::string es6_number(double value);

}  // namespace chargegrid::ledger
