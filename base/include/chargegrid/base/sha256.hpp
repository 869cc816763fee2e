// SHA-256 through OpenSSL's EVP interface.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "chargegrid/base/encoding.hpp"

namespace chargegrid::base {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(ByteView data);
inline Sha256Digest sha256(std::string_view data) {
  return sha256(as_bytes(data));
}
// Lower-case hex of the digest.
std::string sha256_hex(std::string_view data);

}  // namespace chargegrid::base
