// Byte strings as text: hexadecimal and base64 (RFC 4648), through OpenSSL.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chargegrid::base {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// The bytes of a std::string or string_view, seen as unsigned bytes.
inline ByteView as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

enum class HexCase { kLower, kUpper };

std::string hex_encode(ByteView bytes, HexCase letters = HexCase::kLower);
inline std::string hex_encode(std::string_view bytes, HexCase letters = HexCase::kLower) {
  return hex_encode(as_bytes(bytes), letters);
}
// Pairs of hex digits in either case, nothing else (no "0x", whitespace or separators);
// nullopt otherwise.
std::optional<Bytes> hex_decode(std::string_view text);
std::optional<std::string> hex_decode_to_string(std::string_view text);

// Standard alphabet with '=' padding.
std::string base64_encode(ByteView bytes);
inline std::string base64_encode(std::string_view bytes) {
  return base64_encode(as_bytes(bytes));
}
// The URL- and file-name-safe alphabet ('-', '_') without padding (RFC 4648 §5).
std::string base64url_encode(ByteView bytes);

// Standard alphabet, padding required, no whitespace: nullopt on any other input. An empty
// text is the empty byte string.
std::optional<Bytes> base64_decode(std::string_view text);
std::optional<std::string> base64_decode_to_string(std::string_view text);

}  // namespace chargegrid::base
