// Byte strings and their text spellings: hexadecimal and base64 (RFC 4648), plus SHA-256 —
// base's, under the ledger's names.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chargegrid/base/encoding.hpp"
#include "chargegrid/base/sha256.hpp"

namespace chargegrid::ledger {

using Bytes = base::Bytes;
using Hash = base::Sha256Digest;

// Upper or lower case; whitespace is not accepted. nullopt when the text is not hex.
using base::hex_decode;
using base::hex_encode;
inline std::string hex_encode(const std::uint8_t* data, std::size_t size, bool upper = false) {
  return base::hex_encode({data, size}, upper ? base::HexCase::kUpper : base::HexCase::kLower);
}

// Standard alphabet with '=' padding (the padding is required). nullopt on any other input.
using base::base64_decode;
using base::base64_encode;
inline std::string base64_encode(const std::uint8_t* data, std::size_t size) {
  return base::base64_encode(base::ByteView{data, size});
}

using base::sha256;
inline Hash sha256(const std::uint8_t* data, std::size_t size) {
  return base::sha256(base::ByteView{data, size});
}

// A byte string that is exactly 32 bytes long, as a Hash; nullopt otherwise.
std::optional<Hash> to_hash(const Bytes& bytes);

}  // namespace chargegrid::ledger
