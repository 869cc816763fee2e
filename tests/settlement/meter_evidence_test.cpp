// Signed meter data: the real OCMF samples verify, tampered ones do not, a key other than the
// pinned one is a key mismatch, and the registers come from the signed readings.

#include "settlement/meter_evidence.hpp"

#include <catch2/catch.hpp>

#include "samples.hpp"

using namespace chargegrid::server::settlement;
using namespace chargegrid::settlement_testing;
using chargegrid::base::TimePoint;

namespace {

std::vector<SignedSample> as_ocpp2(const std::string& file) {
  std::vector<SignedSample> out;
  int second = 0;
  for (const auto& v : ocmf_sample(file))
    out.push_back(
        {TimePoint(std::chrono::seconds(1700000000 + second++)), signed_meter_value(v).dump()});
  return out;
}

}  // namespace

TEST_CASE("a signed session verifies and its registers come from the signed readings",
          "[settlement][ocmf]") {
  auto check =
      check_signed(as_ocpp2("safe-transparenzsoftware/test_ocmf_ebee_01.xml"), std::nullopt);
  CHECK(check.status == SignedStatus::kVerified);
  CHECK(check.learnt);
  REQUIRE(check.public_key);
  CHECK(check.public_key->rfind("3059301306072a8648ce3d0201", 0) == 0);
  REQUIRE(check.start);
  CHECK(check.start->wh == 7753);
  CHECK(check.stop->wh == 7753);
  CHECK(check.ocmf.size() == 2);

  // The same through 1.6 SignedData values (the OCMF text as the value); the key pinned.
  std::vector<SignedSample> v16;
  for (const auto& v : ocmf_sample("safe-transparenzsoftware/test_ocmf_ebee_01.xml"))
    v16.push_back({TimePoint(std::chrono::seconds(1700000000 + static_cast<int>(v16.size()))),
                   trimmed(v.signed_data)});
  auto pinned = check_signed(v16, check.public_key);
  CHECK(pinned.status == SignedStatus::kVerified);
  CHECK_FALSE(pinned.learnt);
}

TEST_CASE("tampered, foreign-key and keyless signed data is invalid with its reason",
          "[settlement][ocmf]") {
  auto tampered =
      check_signed(as_ocpp2("safe-transparenzsoftware/test_ocmf_ebee_02.xml"), std::nullopt);
  CHECK(tampered.status == SignedStatus::kInvalid);
  CHECK(tampered.reason == "signature_invalid");
  CHECK_FALSE(tampered.start);

  const auto other =
      key_hex(ocmf_sample("safe-transparenzsoftware/test_ocmf_keba_kcp30.xml").at(0).public_key);
  auto mismatch = check_signed(as_ocpp2("safe-transparenzsoftware/test_ocmf_ebee_01.xml"), other);
  CHECK(mismatch.status == SignedStatus::kInvalid);
  CHECK(mismatch.reason == "key_mismatch");

  // 1.6 carries no key: without a pinned one nothing can be verified.
  std::vector<SignedSample> keyless{
      {TimePoint(std::chrono::seconds(1)),
       trimmed(ocmf_sample("safe-transparenzsoftware/test_ocmf_ebee_01.xml").at(0).signed_data)}};
  CHECK(check_signed(keyless, std::nullopt).reason == "key_missing");

  std::vector<SignedSample> garbage{
      {TimePoint(std::chrono::seconds(1)), "{\"signedMeterData\":1}"}};
  CHECK(check_signed(garbage, std::nullopt).reason == "malformed");

  CHECK(check_signed({}, std::nullopt).status == SignedStatus::kUnsigned);
}

TEST_CASE("meter keys are read in hex or base64 and refused otherwise", "[settlement][ocmf]") {
  const auto hex =
      key_hex(ocmf_sample("safe-transparenzsoftware/test_ocmf_keba_kcp30.xml").at(0).public_key);
  auto bytes = chargegrid::base::hex_decode(hex);
  REQUIRE(bytes);
  CHECK(normalise_key(hex) == hex);
  CHECK(normalise_key(chargegrid::base::base64_encode(
            chargegrid::base::ByteView(bytes->data(), bytes->size()))) == hex);
  CHECK_FALSE(normalise_key("not a key"));
  CHECK_FALSE(normalise_key(""));
}
