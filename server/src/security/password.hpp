#pragma once
// Station passwords for OCPP security profiles 1 and 2 (HTTP Basic authentication on the
// WebSocket upgrade). Only a salted slow hash is ever stored, in stations.password_hash:
//
//   pbkdf2-sha256$<iterations>$<base64 salt>$<base64 hash>
//
// The string names its own algorithm and cost, so the cost can be raised later without
// invalidating stored hashes.

#include <string>
#include <string_view>

namespace chargegrid::server::security {

// PBKDF2-HMAC-SHA256 iterations for new hashes. Station passwords are random strings of at
// least 16 characters (over 98 bits), so the cost guards operator-chosen passwords in a leaked
// database while keeping a reconnect storm affordable (about 40 ms of one core per check).
inline constexpr int kStationPasswordIterations = 100'000;
// Lengths a station password may have (OCPP 2.0.1 BasicAuthPassword: 16 to 40; OCPP 1.6
// AuthorizationKey: 16 to 20 bytes).
inline constexpr std::size_t kStationPasswordMinLength = 16;
inline constexpr std::size_t kStationPasswordMaxLength = 40;
// Length of generated passwords: fits both a 2.0.1 BasicAuthPassword and a 1.6
// AuthorizationKey (20 bytes, written as 40 hexadecimal digits).
inline constexpr std::size_t kGeneratedPasswordLength = 20;

// Salted slow hash of `password` (16-byte random salt, `iterations` rounds), self-describing.
std::string hash_station_password(std::string_view password,
                                  int iterations = kStationPasswordIterations);

// True when `password` matches `stored` (a string from hash_station_password). The final
// comparison takes constant time; a malformed `stored` never matches.
bool verify_station_password(std::string_view password, std::string_view stored);

// A random password of kGeneratedPasswordLength characters from the OCPP passwordString
// alphabet (a-z A-Z 0-9 * - _ = : + | @ .), drawn uniformly from a cryptographic source.
std::string generate_station_password();

// True when `password` is 16 to 40 characters from the OCPP passwordString alphabet: what an
// operator may set as a station's password.
bool is_valid_station_password(std::string_view password);

// The OCPP 1.6 AuthorizationKey for `password`: its bytes as hexadecimal digits (what a 1.6
// station is configured with; it sends the decoded bytes as its Basic password).
std::string authorization_key_hex(std::string_view password);

}  // namespace chargegrid::server::security
