#include "security/password_checker.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "security/password.hpp"

namespace chargegrid::server::security {

PasswordChecker::PasswordChecker(std::size_t threads, std::size_t max_queued)
    : workers_(threads), max_queued_(max_queued) {
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1)
    throw std::runtime_error("the random number generator failed");
}

PasswordChecker::~PasswordChecker() {
  stop();
  OPENSSL_cleanse(key_.data(), key_.size());
}

void PasswordChecker::stop() {
  workers_.stop();
  workers_.join();
}

PasswordChecker::Mac PasswordChecker::mac(const std::string& station_id,
                                          const std::string& password) const {
  // The station id and the password, length-prefixed so no two pairs share an input.
  std::string input = std::to_string(station_id.size()) + ':' + station_id + password;
  Mac out{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), out.data(), &size);
  OPENSSL_cleanse(input.data(), input.size());
  return out;
}

bool PasswordChecker::remembered(const std::string& station_id, const std::string& password,
                                 const std::string& stored) {
  const auto candidate = mac(station_id, password);
  std::lock_guard lock(mutex_);
  auto it = matched_.find(station_id);
  return it != matched_.end() && it->second.stored == stored &&
         CRYPTO_memcmp(it->second.mac.data(), candidate.data(), candidate.size()) == 0;
}

PasswordCheck PasswordChecker::slow_check(const std::string& station_id,
                                          const std::string& password, const std::string& stored) {
  if (!verify_station_password(password, stored)) return PasswordCheck::Mismatch;
  const auto remembered_mac = mac(station_id, password);
  std::lock_guard lock(mutex_);
  matched_[station_id] = Remembered{stored, remembered_mac};
  return PasswordCheck::Match;
}

PasswordCheck PasswordChecker::check_now(const std::string& station_id, const std::string& password,
                                         const std::string& stored) {
  if (remembered(station_id, password, stored)) return PasswordCheck::Match;
  return slow_check(station_id, password, stored);
}

void PasswordChecker::forget(const std::string& station_id) {
  std::lock_guard lock(mutex_);
  matched_.erase(station_id);
}

}  // namespace chargegrid::server::security
