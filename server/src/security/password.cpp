#include "security/password.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <stdexcept>
#include <vector>

#include "chargegrid/base/encoding.hpp"

namespace chargegrid::server::security {

namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
// A stored hash asking for more work than this is refused rather than computed.
constexpr long kMaxIterations = 10'000'000;
constexpr std::string_view kAlphabet =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*-_=:+|@.";

bool derive(std::string_view password, const unsigned char* salt, std::size_t salt_size,
            long iterations, unsigned char* out, std::size_t out_size) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt,
                           static_cast<int>(salt_size), static_cast<int>(iterations), EVP_sha256(),
                           static_cast<int>(out_size), out) == 1;
}

void random_bytes(unsigned char* out, std::size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1)
    throw std::runtime_error("the random number generator failed");
}

}  // namespace

std::string hash_station_password(std::string_view password, int iterations) {
  if (iterations < 1 || iterations > kMaxIterations)
    throw std::invalid_argument("iterations out of range");
  std::array<unsigned char, kSaltBytes> salt{};
  random_bytes(salt.data(), salt.size());
  std::array<unsigned char, kHashBytes> hash{};
  if (!derive(password, salt.data(), salt.size(), iterations, hash.data(), hash.size()))
    throw std::runtime_error("PBKDF2 failed");
  std::string out(kScheme);
  out += '$';
  out += std::to_string(iterations);
  out += '$';
  out += base::base64_encode(base::ByteView(salt));
  out += '$';
  out += base::base64_encode(base::ByteView(hash));
  OPENSSL_cleanse(hash.data(), hash.size());
  return out;
}

bool verify_station_password(std::string_view password, std::string_view stored) {
  // scheme $ iterations $ salt $ hash
  std::array<std::string_view, 4> parts;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto dollar = stored.find('$');
    if ((dollar == std::string_view::npos) != (i == parts.size() - 1)) return false;
    parts[i] = stored.substr(0, dollar);
    if (dollar != std::string_view::npos) stored.remove_prefix(dollar + 1);
  }
  if (parts[0] != kScheme) return false;
  long iterations = 0;
  auto [end, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), iterations);
  if (ec != std::errc() || end != parts[1].data() + parts[1].size() || iterations < 1 ||
      iterations > kMaxIterations)
    return false;
  const auto salt = base::base64_decode(parts[2]);
  const auto expected = base::base64_decode(parts[3]);
  if (!salt || !expected || salt->empty() || expected->size() < 16 || expected->size() > 64)
    return false;
  std::vector<unsigned char> actual(expected->size());
  if (!derive(password, salt->data(), salt->size(), iterations, actual.data(), actual.size()))
    return false;
  const bool same = CRYPTO_memcmp(actual.data(), expected->data(), actual.size()) == 0;
  OPENSSL_cleanse(actual.data(), actual.size());
  return same;
}

std::string generate_station_password() {
  // Rejection sampling keeps every character equally likely: bytes at or above the largest
  // multiple of the alphabet size are drawn again.
  constexpr unsigned limit = 256 / kAlphabet.size() * kAlphabet.size();
  std::string out;
  out.reserve(kGeneratedPasswordLength);
  std::array<unsigned char, 64> pool{};
  while (out.size() < kGeneratedPasswordLength) {
    random_bytes(pool.data(), pool.size());
    for (unsigned char b : pool) {
      if (b >= limit) continue;
      out += kAlphabet[b % kAlphabet.size()];
      if (out.size() == kGeneratedPasswordLength) break;
    }
  }
  OPENSSL_cleanse(pool.data(), pool.size());
  return out;
}

bool is_valid_station_password(std::string_view password) {
  if (password.size() < kStationPasswordMinLength || password.size() > kStationPasswordMaxLength)
    return false;
  for (char c : password)
    if (kAlphabet.find(c) == std::string_view::npos) return false;
  return true;
}

std::string authorization_key_hex(std::string_view password) {
  return base::hex_encode(password, base::HexCase::kUpper);
}

}  // namespace chargegrid::server::security
