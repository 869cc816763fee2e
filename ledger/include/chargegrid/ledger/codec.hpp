// Byte strings and their text spellings: hexadecimal and base64 (RFC 4648), plus SHA-256.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chargegrid::ledger {

using Bytes = std::vector<std::uint8_t>;
using Hash = std::array<std::uint8_t, 32>;

// Upper or lower case; whitespace is not accepted. nullopt when the text is not hex.
std::optional<Bytes> hex_decode(std::string_view text);
std::string hex_encode(const std::uint8_t* data, std::size_t size, bool upper = false);
inline std::string hex_encode(const Bytes& bytes) {
  return hex_encode(bytes.data(), bytes.size());
}
inline std::string hex_encode(const Hash& hash) {
  return hex_encode(hash.data(), hash.size());
}

// Standard alphabet with '=' padding (the padding is required). nullopt on any other input.
std::optional<Bytes> base64_decode(std::string_view text);
std::string base64_encode(const std::uint8_t* data, std::size_t size);
inline std::string base64_encode(const Bytes& bytes) {
  return base64_encode(bytes.data(), bytes.size());
}
inline std::string base64_encode(const Hash& hash) {
  return base64_encode(hash.data(), hash.size());
}

Hash sha256(const std::uint8_t* data, std::size_t size);
inline Hash sha256(std::string_view text) {
  return sha256(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

// A byte string that is exactly 32 bytes long, as a Hash; nullopt otherwise.
std::optional<Hash> to_hash(const Bytes& bytes);

}  // namespace chargegrid::ledger
