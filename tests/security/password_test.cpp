// Station password hashing: format, salting, verification, tampering, generation.

#include "security/password.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

using namespace chargegrid::server::security;

TEST_CASE("a station password hash names its scheme and cost and verifies only its password") {
  const std::string password = "CorrectHorse-Battery.Staple";
  const auto stored = hash_station_password(password);
  CHECK(stored.starts_with("pbkdf2-sha256$" + std::to_string(kStationPasswordIterations) + "$"));
  CHECK(stored.find(password) == std::string::npos);
  CHECK(verify_station_password(password, stored));
  CHECK_FALSE(verify_station_password("CorrectHorse-Battery.Stapl", stored));
  CHECK_FALSE(verify_station_password("CorrectHorse-Battery.Staple ", stored));
  CHECK_FALSE(verify_station_password("", stored));
}

TEST_CASE("the same password hashes differently each time (random salt)") {
  const auto a = hash_station_password("same-password-16ch", 1000);
  const auto b = hash_station_password("same-password-16ch", 1000);
  CHECK(a != b);
  CHECK(verify_station_password("same-password-16ch", a));
  CHECK(verify_station_password("same-password-16ch", b));
}

TEST_CASE("a stored hash keeps its own iteration count") {
  const auto cheap = hash_station_password("another-password-x", 1234);
  CHECK(cheap.starts_with("pbkdf2-sha256$1234$"));
  CHECK(verify_station_password("another-password-x", cheap));
  // Changing the recorded cost changes the result: the count is part of the hash.
  auto altered = cheap;
  altered.replace(std::string("pbkdf2-sha256$").size(), 4, "1235");
  CHECK_FALSE(verify_station_password("another-password-x", altered));
}

TEST_CASE("malformed or tampered stored hashes never match") {
  const std::string password = "station-password-01";
  const auto stored = hash_station_password(password, 1000);
  auto flipped = stored;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  CHECK_FALSE(verify_station_password(password, flipped));
  for (const std::string& bad : std::vector<std::string>{
           "", "$", "$$$", password, "pbkdf2-sha256$1000$",
           "pbkdf2-sha256$1000$c2FsdA==", "pbkdf2-sha256$0$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==",
           "pbkdf2-sha256$-5$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==",
           "pbkdf2-sha256$99999999999$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==",
           "pbkdf2-sha256$1000$!!!!$aGFzaGhhc2hoYXNoaGFzaA==",
           "pbkdf2-sha256$1000$c2FsdHNhbHQ=$aGFzaA==",  // hash too short
           "pbkdf2-sha1$1000$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==",
           "pbkdf2-sha256$1000x$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==", stored + "$extra"})
    CHECK_FALSE(verify_station_password(password, bad));
}

TEST_CASE("generated passwords are valid OCPP passwords and do not repeat") {
  std::set<std::string> seen;
  std::set<char> characters;
  for (int i = 0; i < 200; ++i) {
    const auto p = generate_station_password();
    CHECK(p.size() == kGeneratedPasswordLength);
    CHECK(is_valid_station_password(p));
    characters.insert(p.begin(), p.end());
    seen.insert(p);
  }
  CHECK(seen.size() == 200);
  // 4000 draws from 71 characters: every one of them shows up.
  CHECK(characters.size() == 71);
}

TEST_CASE("an operator-set password must be 16 to 40 characters of the OCPP alphabet") {
  CHECK(is_valid_station_password("abcdefghijklmnop"));
  CHECK(is_valid_station_password(std::string(40, 'x')));
  CHECK(is_valid_station_password("A-Z_a=z:0+9|*@.AAAAA"));
  CHECK_FALSE(is_valid_station_password("abcdefghijklmno"));
  CHECK_FALSE(is_valid_station_password(std::string(41, 'x')));
  CHECK_FALSE(is_valid_station_password("abcdefghijklmnop!"));
  CHECK_FALSE(is_valid_station_password("abcdefgh ijklmnop"));
}

TEST_CASE("a 1.6 AuthorizationKey is the password's bytes in hexadecimal") {
  CHECK(authorization_key_hex("AB-z") == "41422D7A");
  CHECK(authorization_key_hex(generate_station_password()).size() == 40);
}
