#include "chargegrid/base/encoding.hpp"

#include <catch2/catch.hpp>

#include "chargegrid/base/sha256.hpp"

using namespace chargegrid::base;

TEST_CASE("hex encodes in either case and decodes both", "[base][hex]") {
  const Bytes bytes{0x00, 0x01, 0xfe, 0xff, 0x7f};
  CHECK(hex_encode(bytes) == "0001feff7f");
  CHECK(hex_encode(bytes, HexCase::kUpper) == "0001FEFF7F");
  CHECK(hex_encode(std::string_view("ABCD")) == "41424344");
  CHECK(hex_encode(Bytes{}).empty());
  CHECK(hex_decode("0001FEff7f") == bytes);
  CHECK(hex_decode("") == Bytes{});
  CHECK(hex_decode_to_string("41424344") == std::optional<std::string>("ABCD"));
}

TEST_CASE("hex refuses what is not pairs of hex digits", "[base][hex]") {
  for (std::string_view bad : {"0", "0g", "abc", "0x00", " 00", "00 ", "0-", "g0"}) {
    INFO(bad);
    CHECK_FALSE(hex_decode(bad).has_value());
  }
  // A NUL inside the text is not a terminator.
  CHECK_FALSE(hex_decode(std::string_view("00\0zz", 5)).has_value());
  CHECK_FALSE(hex_decode(std::string_view("00\0\0", 4)).has_value());
}

TEST_CASE("base64 matches RFC 4648's vectors", "[base][base64]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    INFO(plain);
    CHECK(base64_encode(std::string_view(plain)) == encoded);
    CHECK(base64_decode_to_string(encoded) == std::optional<std::string>(plain));
  }
  CHECK(base64_encode(Bytes{0xfb, 0xff}) == "+/8=");
  CHECK(base64_decode("+/8=") == Bytes{0xfb, 0xff});
  // Every length of binary data round-trips.
  Bytes prefix;
  for (int i = 0; i < 40; ++i) {
    CHECK(base64_decode(base64_encode(prefix)) == prefix);
    prefix.push_back(static_cast<std::uint8_t>(i * 37));
  }
}

TEST_CASE("base64 refuses anything but padded standard base64", "[base][base64]") {
  for (std::string_view bad : {"Zg", "Zg=", "Z===", "====", "Zg=a", "Zg==Zg==", "Zm9v\n", " Zm9v",
                               "Zm-v", "Zm_v", "Zm9v====", "Zm 9"}) {
    INFO(bad);
    CHECK_FALSE(base64_decode(bad).has_value());
  }
  CHECK_FALSE(base64_decode(std::string_view("Zm\0v", 4)).has_value());
}

TEST_CASE("url-safe base64 uses '-' and '_' without padding", "[base][base64]") {
  CHECK(base64url_encode(Bytes{0xfb, 0xff}) == "-_8");
  CHECK(base64url_encode(Bytes{'f'}) == "Zg");
  CHECK(base64url_encode(Bytes{'f', 'o', 'o'}) == "Zm9v");
  CHECK(base64url_encode(Bytes{}).empty());
}

TEST_CASE("SHA-256 matches the NIST vectors", "[base][sha256]") {
  CHECK(hex_encode(sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256(Bytes{'a', 'b', 'c'}) == sha256("abc"));
}
