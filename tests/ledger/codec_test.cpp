#include "chargegrid/ledger/codec.hpp"

#include <catch2/catch.hpp>

using namespace chargegrid::ledger;

TEST_CASE("hex and base64 round-trip and refuse bad text", "[codec]") {
  Bytes bytes{0x00, 0x01, 0xfe, 0xff, 0x7f};
  CHECK(hex_encode(bytes) == "0001feff7f");
  CHECK(hex_decode("0001FEff7f") == bytes);
  CHECK_FALSE(hex_decode("0").has_value());
  CHECK_FALSE(hex_decode("0g").has_value());
  CHECK(base64_encode(Bytes{}) == "");
  CHECK(base64_encode(Bytes{'f'}) == "Zg==");
  CHECK(base64_encode(Bytes{'f', 'o'}) == "Zm8=");
  CHECK(base64_encode(Bytes{'f', 'o', 'o'}) == "Zm9v");
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    Bytes prefix(bytes.begin(), bytes.begin() + n);
    CHECK(base64_decode(base64_encode(prefix)) == prefix);
  }
  CHECK_FALSE(base64_decode("Zg=").has_value());
  CHECK_FALSE(base64_decode("Z===").has_value());
  CHECK_FALSE(base64_decode("Zg=a").has_value());
  CHECK_FALSE(base64_decode("Zg==Zg==").has_value());
  CHECK_FALSE(base64_decode("Zm9v\n").has_value());
  CHECK_FALSE(base64_decode("Zm-v").has_value());
  CHECK(hex_encode(sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
