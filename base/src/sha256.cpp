#include "chargegrid/base/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace chargegrid::base {

Sha256Digest sha256(ByteView data) {
  Sha256Digest out;
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != out.size())
    throw std::runtime_error("SHA-256 failed in OpenSSL");
  return out;
}

std::string sha256_hex(std::string_view data) {
  return hex_encode(sha256(data));
}

}  // namespace chargegrid::base
