// Signed meter data: the real OCMF samples verify, tampered ones do not, a key other than the
// pinned one is a key mismatch, and the registers come from the signed readings.

#include "settlement/meter_evidence.hpp"

#include <catch2/catch.hpp>

#include "samples.hpp"
#include "test_meter.hpp"

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

namespace {

// A V2G session's signed readings from `meter`: import and export registers in each reading
// (export omitted where `export_wh` holds a negative value).
std::vector<SignedSample> bidirectional(const TestMeter& meter,
                                        const std::vector<std::pair<long long, long long>>& wh) {
  std::vector<SignedSample> out;
  for (std::size_t i = 0; i < wh.size(); ++i) {
    std::vector<MeterRegister> registers{{"1-b:1.8.0", wh[i].first}};
    if (wh[i].second >= 0) registers.push_back({"1-b:2.8.0", wh[i].second});
    const auto type = i == 0 ? "B" : i + 1 == wh.size() ? "E" : "T";
    const auto utc = "2026-11-05T08:0" + std::to_string(i) + ":00";
    out.push_back(
        {TimePoint(std::chrono::seconds(1700000000 + static_cast<int>(i) * 60)),
         meter.signed_meter_value(meter.reading(utc, type, registers, int(i) + 1)).dump()});
  }
  return out;
}

}  // namespace

TEST_CASE("a V2G session's signed export registers are kept with the import ones",
          "[settlement][ocmf][v2g]") {
  TestMeter meter;
  auto check = check_signed(bidirectional(meter, {{1000, 5000}, {1400, 5600}, {2000, 6200}}),
                            meter.public_key_hex());
  REQUIRE(check.status == SignedStatus::kVerified);
  CHECK(check.start->wh == 1000);
  CHECK(check.stop->wh == 2000);
  REQUIRE(check.export_start);
  REQUIRE(check.export_stop);
  CHECK(check.export_start->wh == 5000);
  CHECK(check.export_stop->wh == 6200);
  CHECK(check.export_readings == 3);

  // Import only: no signed export, the export is left to the unsigned registers.
  auto import_only =
      check_signed(bidirectional(meter, {{1000, -1}, {2000, -1}}), meter.public_key_hex());
  CHECK(import_only.status == SignedStatus::kVerified);
  CHECK_FALSE(import_only.export_start);
  CHECK(import_only.export_readings == 0);

  // One export reading is no start and end: the export is not signed-settled, import still is.
  auto one_export =
      check_signed(bidirectional(meter, {{1000, 5000}, {2000, -1}}), meter.public_key_hex());
  CHECK(one_export.status == SignedStatus::kVerified);
  CHECK_FALSE(one_export.export_start);
  CHECK(one_export.export_readings == 1);
}

TEST_CASE("a signed export register going backwards is invalid", "[settlement][ocmf][v2g]") {
  TestMeter meter;
  auto check = check_signed(bidirectional(meter, {{1000, 5000}, {1400, 5600}, {2000, 5500}}),
                            meter.public_key_hex());
  CHECK(check.status == SignedStatus::kInvalid);
  CHECK(check.reason == "register_backwards");
  CHECK(check.detail.find("export register went backwards") != std::string::npos);
  CHECK(check.detail.find("5500") != std::string::npos);
  CHECK_FALSE(check.start);
  CHECK_FALSE(check.export_start);

  // The import register going backwards is named as such.
  auto import_back =
      check_signed(bidirectional(meter, {{1000, 5000}, {900, 5600}}), meter.public_key_hex());
  CHECK(import_back.reason == "register_backwards");
  CHECK(import_back.detail.find("import register went backwards") != std::string::npos);
}

TEST_CASE("zero-padded OBIS codes name import and export registers", "[settlement][ocmf][v2g]") {
  TestMeter meter;
  std::vector<SignedSample> samples;
  for (int i = 0; i < 2; ++i)
    samples.push_back(
        {TimePoint(std::chrono::seconds(1700000000 + i)),
         meter
             .signed_meter_value(meter.reading(
                 "2026-11-05T08:0" + std::to_string(i) + ":00", i == 0 ? "B" : "E",
                 {{"01-00:01.08.00.FF", 100 + i * 10}, {"01-00:02.08.00.FF", 300 + i * 20}}, i + 1))
             .dump()});
  auto check = check_signed(samples, meter.public_key_hex());
  REQUIRE(check.status == SignedStatus::kVerified);
  CHECK(check.stop->wh == 110);
  REQUIRE(check.export_stop);
  CHECK(check.export_stop->wh == 320);
}
