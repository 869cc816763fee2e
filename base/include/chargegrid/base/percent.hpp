// Percent-encoding (RFC 3986 §2.1) of URL paths, queries and URIs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chargegrid::base {

enum class PercentError {
  kMalformedEscape,  // a '%' not followed by two hex digits
  kNul,              // "%00": a NUL would cut C strings and SQL text short
};

struct PercentDecodeOptions {
  bool plus_is_space = false;  // application/x-www-form-urlencoded ('+' for ' ')
  bool refuse_nul = true;
};

// nullopt, and `*error` says why, when an escape is malformed or (unless allowed) decodes to
// NUL.
std::optional<std::string> percent_decode(std::string_view text,
                                          const PercentDecodeOptions& options = {},
                                          PercentError* error = nullptr);

// Leaves a malformed escape as it stands ("%zz" stays "%zz"); for text that is read, not
// checked (libpq URIs).
std::string percent_decode_lenient(std::string_view text);

// Escapes every byte but ALPHA, DIGIT, "-._~" and those in `keep`, with upper-case digits.
std::string percent_encode(std::string_view text, std::string_view keep = {});

}  // namespace chargegrid::base
