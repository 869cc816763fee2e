#include "chargegrid/ledger/ocmf.hpp"

#include <openssl/ec.h>
#include <openssl/objects.h>

#include <catch2/catch.hpp>

#include "test_data.hpp"

using namespace chargegrid::ledger;
using chargegrid::ledger::testing::data_dir;
using chargegrid::ledger::testing::read_file;
using ocmf::Outcome;

namespace {

std::vector<ocmf::SafeValue> sample(const std::string& name) {
  return ocmf::parse_safe_xml(read_file(data_dir() / "ocmf-samples" / name));
}

std::vector<Outcome> outcomes(const std::string& name) {
  std::vector<Outcome> out;
  for (const auto& value : sample(name)) {
    out.push_back(ocmf::verify(value.signed_data, value.public_key).outcome);
  }
  return out;
}

bool openssl_has(const char* curve) {
  EC_GROUP* group = EC_GROUP_new_by_curve_name(OBJ_sn2nid(curve));
  EC_GROUP_free(group);
  return group != nullptr;
}

const char* kKebaOcmf =
    R"(OCMF|{"FV":"1.0","GI":"KEBA_KCP30","GS":"17619300","GV":"2.8.5","PG":"T32","IS":false,"IL":"NONE","IF":["RFID_NONE","OCPP_NONE","ISO15118_NONE","PLMN_NONE"],"IT":"NONE","ID":"","RD":[{"TM":"2019-08-13T10:03:15,000+0000 I","TX":"B","EF":"","ST":"G","RV":0.2596,"RI":"1-b:1.8.0","RU":"kWh"},{"TM":"2019-08-13T10:03:36,000+0000 R","TX":"E","EF":"","ST":"G","RV":0.2597,"RI":"1-b:1.8.0","RU":"kWh"}]}|{"SD":"304502200E2F107C987A300AC1695CA89EA149A8CDFA16188AF0A33EE64B67964AA943F9022100889A72B6D65364BEA8562E7F6A0253157ACFF84FE4929A93B5964D23C4265699"})";
const char* kKebaKey =
    "3059301306072A8648CE3D020106082A8648CE3D030107034200043AEEB45C392357820A58FDFB0857BD77ADA31585"
    "C61C430531DFA53B440AFBFDD95AC887C658EA55260F808F55CA948DF235C2108A0D6DC7D4AB1A5E1A7955BE";

std::string ocmf_with(const std::string& payload,
                      const std::string& signature = R"({"SD":"3000"})") {
  return "OCMF|" + payload + "|" + signature;
}

std::string field_of(const std::string& text) {
  try {
    ocmf::parse(text);
  } catch (const ocmf::ParseError& e) {
    return e.field();
  }
  return "(parsed)";
}

}  // namespace

TEST_CASE("every OCMF sample gives the outcome its SOURCE.md lists", "[ocmf]") {
  const auto V = Outcome::kVerified;
  const auto I = Outcome::kSignatureInvalid;
  struct Case {
    std::string file;
    std::vector<Outcome> expected;
  };
  std::vector<Case> cases = {
      {"safe-transparenzsoftware/test_ocmf_keba_kcp30.xml", {V}},
      {"safe-transparenzsoftware/test_ocmf_keba_kcp30_fail.xml", {I}},
      {"safe-transparenzsoftware/test_ocmf_ebee_01.xml", {V, V}},
      {"safe-transparenzsoftware/test_ocmf_ebee_02.xml", {I, V}},
      {"safe-transparenzsoftware/second_key_fail_ocmf.xml", {V, I}},
      {"safe-transparenzsoftware/brainpoolP256r1.xml", {V, V}},
      {"safe-transparenzsoftware/nistP384_0Wh.xml", {V, V}},
      {"safe-transparenzsoftware/VW_OCMF_load.xml", {V}},
      {"safe-transparenzsoftware/OCMF_Test_Data_00.xml", {V, V}},
      {"safe-transparenzsoftware/Ocmf_Example_OBIS_98.8.0_2.8.0.xml", {V}},
      {"safe-transparenzsoftware/ocmf_sec.xml", {V, V}},
      {"safe-transparenzsoftware/ocmf_tariff_1.xml", {V}},
      {"safe-transparenzsoftware/20211007-device-with-evt-ocmf-sss-ses.xml", {V, V}},
      {"safe-transparenzsoftware/chargepoint_3.xml", {V}},
      {"safe-transparenzsoftware/fromweb.xml", {V}},
      {"safe-transparenzsoftware/keba_test.xml", std::vector<Outcome>(100, V)},
      {"safe-transparenzsoftware/measurements.xml", std::vector<Outcome>(21, V)},
      {"safe-transparenzsoftware/isa-ocmf/OCMF-receipt-with_publickey_and_data.xml", {V}},
      {"safe-transparenzsoftware/isa-ocmf/OCMF-receipt-with_import_and_export.xml", {I}},
      {"pyocmf/working_ocmf.xml", {V}},
      {"pyocmf/base64_ocmf.xml", {V}},
  };
  // secp192k1: verified where OpenSSL has the curve, reported unsupported (never invalid) where
  // not.
  const auto k192 = openssl_has("secp192k1") ? V : Outcome::kUnsupportedAlgorithm;
  cases.push_back({"safe-transparenzsoftware/test_ocmf_transaction_two_values.xml", {k192, k192}});
  for (const auto& c : cases) {
    INFO(c.file);
    CHECK(outcomes(c.file) == c.expected);
  }
}

TEST_CASE("a verified reading yields registers in Wh with OBIS codes, times and flags", "[ocmf]") {
  auto result = ocmf::verify(kKebaOcmf, kKebaKey);
  REQUIRE(result.verified());
  const auto& readings = result.document->payload.readings;
  REQUIRE(readings.size() == 2);
  CHECK(readings[0].obis == "1-b:1.8.0");
  CHECK(readings[0].milli_wh == 259600);
  CHECK(readings[0].wh() == 259);
  CHECK(readings[1].milli_wh == 259700);
  CHECK(readings[0].transaction == "B");
  CHECK(readings[1].transaction == "E");
  CHECK(readings[0].time_status == ocmf::TimeStatus::kInformative);
  CHECK_FALSE(readings[0].time_synchronized());
  CHECK(readings[1].time_status == ocmf::TimeStatus::kRelative);
  CHECK_FALSE(readings[0].has_error());
  using namespace std::chrono;
  CHECK(readings[0].time == sys_days(2019y / August / 13) + 10h + 3min + 15s);
  CHECK(result.document->payload.gateway_id == "KEBA_KCP30");
  CHECK(result.document->payload.pagination == "T32");

  // UTC offsets, string register values and error flags.
  auto dzg = sample("safe-transparenzsoftware/OCMF_Test_Data_00.xml");
  auto begin = ocmf::verify(dzg[0].signed_data, dzg[0].public_key);
  REQUIRE(begin.verified());
  const auto& reading = begin.document->payload.readings.at(0);
  CHECK(reading.value_text == "9.038");
  CHECK(reading.milli_wh == 9038000);
  CHECK(reading.wh() == 9038);
  CHECK(reading.obis == "01-00:01.08.00.FF");
  CHECK(reading.time == sys_days(2021y / October / 26) + 8h + 20min + 52s);
  CHECK(begin.document->payload.meter_serial == "1DZG0033016824");

  auto isa = sample("safe-transparenzsoftware/isa-ocmf/OCMF-receipt-with_publickey_and_data.xml");
  auto isa_result = ocmf::verify(isa[0].signed_data, isa[0].public_key);
  REQUIRE(isa_result.verified());
  CHECK(isa_result.document->payload.readings.at(0).has_error());
  CHECK(isa_result.document->payload.readings.at(0).current_type == "DC");
}

TEST_CASE("bit flips in payload, signature or key never verify", "[ocmf]") {
  std::string text = kKebaOcmf;
  std::string key = kKebaKey;
  REQUIRE(ocmf::verify(text, key).verified());
  auto payload_end = text.rfind('|');
  for (std::size_t i = 5; i < text.size(); ++i) {
    // Bit 5 toggles the case of hex digits, which the signature's hex leaves unchanged.
    for (int bit : i < payload_end ? std::vector<int>{0, 5} : std::vector<int>{0}) {
      std::string flipped = text;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      auto result = ocmf::verify(flipped, key);
      INFO("position " << i << " bit " << bit << ": " << result.message);
      CHECK_FALSE(result.verified());
      if (i < payload_end && result.outcome != Outcome::kMalformed) {
        CHECK(result.outcome == Outcome::kSignatureInvalid);
      }
    }
  }
  // The key's SubjectPublicKeyInfo header may be altered harmlessly in a few places (tags that
  // OpenSSL tolerates); the key material itself never.
  for (std::size_t i = 54; i < key.size(); ++i) {
    std::string flipped = key;
    flipped[i] = flipped[i] == '0' ? '1' : '0';
    auto result = ocmf::verify(text, flipped);
    INFO("key position " << i << ": " << result.message);
    CHECK_FALSE(result.verified());
  }
}

TEST_CASE("raw X||Y keys and r||s signatures are read only at the curve's exact size", "[ocmf]") {
  // The Isabellenhuette receipt: secp256r1, a bare 64-byte X||Y key and a bare 64-byte r||s.
  auto isa = sample("safe-transparenzsoftware/isa-ocmf/OCMF-receipt-with_publickey_and_data.xml");
  REQUIRE(isa.size() == 1);
  const std::string text = isa[0].signed_data;
  const std::string key = isa[0].public_key;  // hex
  REQUIRE(key.size() == 128);
  REQUIRE(ocmf::verify(text, key).verified());
  // The same point as an uncompressed point (04 || X || Y) is the same key.
  CHECK(ocmf::verify(text, "04" + key).verified());

  // Any other length cannot be read as a key of the curve SA names: malformed, not invalid.
  for (const std::string& wrong :
       {key.substr(0, 126), key + "00", "00" + key, key + key.substr(0, 64), "05" + key}) {
    INFO("key of " << wrong.size() / 2 << " bytes");
    auto result = ocmf::verify(text, wrong);
    CHECK(result.outcome == Outcome::kMalformed);
    CHECK(result.message.find("public key") != std::string::npos);
  }
  // The right length but not a point on the curve cannot be read either.
  std::string off_curve = key;
  off_curve.back() = off_curve.back() == '0' ? '1' : '0';
  CHECK(ocmf::verify(text, off_curve).outcome == Outcome::kMalformed);

  // A signature that is neither DER nor r||s of 64 bytes is malformed; an r||s of the right
  // size that does not match is invalid.
  auto signature_start = text.find("\"SD\":\"") + 6;
  auto signature_end = text.find('"', signature_start);
  std::string signature = text.substr(signature_start, signature_end - signature_start);
  REQUIRE(signature.size() == 128);
  auto with_signature = [&](const std::string& sd) {
    return text.substr(0, signature_start) + sd + text.substr(signature_end);
  };
  CHECK(ocmf::verify(with_signature(signature.substr(0, 126)), key).outcome == Outcome::kMalformed);
  CHECK(ocmf::verify(with_signature(signature + "00"), key).outcome == Outcome::kMalformed);
  std::string other = signature;
  other[10] = other[10] == 'A' ? 'B' : 'A';
  CHECK(ocmf::verify(with_signature(other), key).outcome == Outcome::kSignatureInvalid);
  // A DER signature followed by stray bytes is not DER.
  std::string keba = kKebaOcmf;
  CHECK(ocmf::verify(keba.insert(keba.rfind("\"}"), "00"), kKebaKey).outcome ==
        Outcome::kMalformed);
}

TEST_CASE("a key that is not the meter's registered key is a key mismatch", "[ocmf]") {
  auto values = sample("safe-transparenzsoftware/second_key_fail_ocmf.xml");
  REQUIRE(values.size() == 2);
  // The meter's key is the one its first value was signed with.
  auto registered = values[0].public_key;
  CHECK(ocmf::verify(values[0].signed_data, values[0].public_key, registered).verified());
  CHECK(ocmf::verify(values[1].signed_data, values[1].public_key, registered).outcome ==
        Outcome::kKeyMismatch);
  // With only the registered key (no key sent along), the registered key is used.
  CHECK(ocmf::verify(values[0].signed_data, std::nullopt, registered).verified());
  CHECK(ocmf::verify(values[0].signed_data, std::nullopt).outcome == Outcome::kMalformed);
  // A key on another curve than SA names cannot have made the signature.
  auto p384 = sample("safe-transparenzsoftware/nistP384_0Wh.xml");
  CHECK(ocmf::verify(kKebaOcmf, p384[0].public_key).outcome == Outcome::kSignatureInvalid);
}

TEST_CASE("unknown signature algorithms are unsupported, never invalid", "[ocmf]") {
  std::string text = kKebaOcmf;
  auto with_sa = [&](const std::string& sa) {
    std::string out = text;
    out.replace(out.rfind("{\"SD\""), 1, "{\"SA\":\"" + sa + "\",");
    return out;
  };
  CHECK(ocmf::verify(with_sa("ECDSA-secp256r1-SHA256"), kKebaKey).verified());
  CHECK(ocmf::verify(with_sa("ECDSA-secp256r1-SHA384"), kKebaKey).outcome ==
        Outcome::kSignatureInvalid);
  CHECK(ocmf::verify(with_sa("ECDSA-secp999r1-SHA256"), kKebaKey).outcome ==
        Outcome::kUnsupportedAlgorithm);
  CHECK(ocmf::verify(with_sa("RSA-2048-SHA256"), kKebaKey).outcome ==
        Outcome::kUnsupportedAlgorithm);
  CHECK(ocmf::verify(with_sa("ECDSA-secp256r1-MD5"), kKebaKey).outcome ==
        Outcome::kUnsupportedAlgorithm);
}

TEST_CASE("malformed OCMF names the field that is wrong", "[ocmf]") {
  const std::string reading =
      R"({"TM":"2019-08-13T10:03:15,000+0000 I","TX":"B","EF":"","ST":"G","RV":1.5,"RI":"1-b:1.8.0","RU":"kWh"})";
  auto payload = [&](const std::string& fields, const std::string& rd) {
    return "{" + fields + (fields.empty() ? "" : ",") + "\"RD\":[" + rd + "]}";
  };
  auto with_reading = [&](const std::string& from, const std::string& to) {
    std::string r = reading;
    r.replace(r.find(from), from.size(), to);
    return ocmf_with(payload(R"("PG":"T1")", r));
  };
  CHECK(field_of(ocmf_with(payload(R"("PG":"T1")", reading))) == "(parsed)");
  CHECK(field_of("OCMX|{}|{}") == "header");
  CHECK(field_of("OCMF|{\"PG\":\"T1\"}") == "signature");
  CHECK(field_of(ocmf_with("{nope")) == "payload");
  CHECK(field_of(ocmf_with("[]")) == "payload");
  CHECK(field_of(ocmf_with(payload("", reading))) == "PG");
  CHECK(field_of(ocmf_with(payload(R"("PG":"X1")", reading))) == "PG");
  CHECK(field_of(ocmf_with(payload(R"("PG":"T1","IS":"yes")", reading))) == "IS");
  CHECK(field_of(ocmf_with(payload(R"("PG":"T1","IF":[1])", reading))) == "IF");
  CHECK(field_of(ocmf_with(payload(R"("PG":"T1","GI":true)", reading))) == "GI");
  CHECK(field_of(ocmf_with(R"({"PG":"T1"})")) == "RD");
  CHECK(field_of(ocmf_with(R"({"PG":"T1","RD":[]})")) == "RD");
  CHECK(field_of(with_reading("2019-08-13T10:03:15,000+0000 I", "2019-08-13 10:03:15")) ==
        "RD[0].TM");
  CHECK(field_of(with_reading("2019-08-13T", "2019-02-30T")) == "RD[0].TM");
  CHECK(field_of(with_reading("+0000 I", "+0000 Q")) == "RD[0].TM");
  CHECK(field_of(with_reading("10:03:15", "25:03:15")) == "RD[0].TM");
  CHECK(field_of(with_reading("\"TX\":\"B\"", "\"TX\":\"Q\"")) == "RD[0].TX");
  CHECK(field_of(with_reading("\"RV\":1.5", "\"RV\":\"1,5\"")) == "RD[0].RV");
  CHECK(field_of(with_reading("\"RV\":1.5", "\"RV\":true")) == "RD[0].RV");
  CHECK(field_of(with_reading("\"RV\":1.5,", "")) == "RD[0].RV");
  CHECK(field_of(with_reading("\"RI\":\"1-b:1.8.0\",", "")) == "RD[0].RI");
  CHECK(field_of(with_reading("\"EF\":\"\"", "\"EF\":\"X\"")) == "RD[0].EF");
  CHECK(field_of(with_reading("\"ST\":\"G\"", "\"ST\":\"GG\"")) == "RD[0].ST");
  CHECK(field_of(with_reading("\"RU\":\"kWh\"", "\"RU\":\"kWh\",\"RT\":\"XC\"")) == "RD[0].RT");
  std::string good_payload = payload(R"("PG":"T1")", reading);
  CHECK(field_of(ocmf_with(good_payload, R"({"SD":"zz"})")) == "SD");
  CHECK(field_of(ocmf_with(good_payload, R"({"SE":"rot13","SD":"00"})")) == "SE");
  CHECK(field_of(ocmf_with(good_payload, R"({"SM":"text/plain","SD":"00"})")) == "SM");
  CHECK(field_of(ocmf_with(good_payload, R"({"SA":"ECDSA-secp256r1-SHA256"})")) == "SD");
  CHECK(field_of(ocmf_with(good_payload, "not json")) == "signature");
  CHECK(ocmf::verify("garbage", kKebaKey).outcome == Outcome::kMalformed);
  CHECK(ocmf::verify(kKebaOcmf, "not a key!").outcome == Outcome::kMalformed);
  CHECK(ocmf::verify(kKebaOcmf, "00112233").outcome == Outcome::kMalformed);
}

TEST_CASE("OCPP carriers decode into the same verifier", "[ocmf][ocpp]") {
  std::string ocmf_text = kKebaOcmf;
  auto key_der = hex_decode(kKebaKey).value();
  std::string ocmf_base64 = base64_encode(Bytes(ocmf_text.begin(), ocmf_text.end()));

  // OCPP 2.0.1 / 2.1 SignedMeterValueType with base64 data and a base64 DER key.
  nlohmann::json v2 = {{"signedMeterData", ocmf_base64},
                       {"signingMethod", "ECDSA-secp256r1-SHA256"},
                       {"encodingMethod", "OCMF"},
                       {"publicKey", base64_encode(key_der)}};
  auto evidence = ocmf::from_ocpp2_signed_meter_value(v2);
  CHECK(evidence.ocmf == ocmf_text);
  CHECK(ocmf::verify(evidence.ocmf, evidence.public_key).verified());
  // The key as base64 of its hex spelling, which some stations send.
  std::string hex_key = kKebaKey;
  v2["publicKey"] = base64_encode(Bytes(hex_key.begin(), hex_key.end()));
  evidence = ocmf::from_ocpp2_signed_meter_value(v2);
  CHECK(ocmf::verify(evidence.ocmf, evidence.public_key).verified());
  // 2.1 allows leaving the key out: the meter's registered key is used.
  v2.erase("publicKey");
  evidence = ocmf::from_ocpp2_signed_meter_value(v2);
  CHECK_FALSE(evidence.public_key.has_value());
  CHECK(ocmf::verify(evidence.ocmf, evidence.public_key, std::string(kKebaKey)).verified());

  nlohmann::json wrong = v2;
  wrong["encodingMethod"] = "EDL";
  CHECK_THROWS_AS(ocmf::from_ocpp2_signed_meter_value(wrong), ocmf::ParseError);
  wrong = v2;
  wrong["signedMeterData"] = "%%%";
  CHECK_THROWS_AS(ocmf::from_ocpp2_signed_meter_value(wrong), ocmf::ParseError);
  CHECK_THROWS_AS(ocmf::from_ocpp2_signed_meter_value(nlohmann::json::array()), ocmf::ParseError);

  // OCPP 1.6 SampledValue, format SignedData, plain or base64 value.
  nlohmann::json v16 = {{"value", ocmf_text},
                        {"format", "SignedData"},
                        {"measurand", "Energy.Active.Import.Register"},
                        {"context", "Transaction.End"}};
  CHECK(ocmf::verify(ocmf::from_ocpp16_sampled_value(v16).ocmf, std::string(kKebaKey)).verified());
  v16["value"] = ocmf_base64;
  CHECK(ocmf::verify(ocmf::from_ocpp16_sampled_value(v16).ocmf, std::string(kKebaKey)).verified());
  v16["format"] = "Raw";
  CHECK_THROWS_AS(ocmf::from_ocpp16_sampled_value(v16), ocmf::ParseError);
  v16["format"] = "SignedData";
  v16["value"] = "1234.5";
  CHECK_THROWS_AS(ocmf::from_ocpp16_sampled_value(v16), ocmf::ParseError);
}

TEST_CASE("malformed transparency-software XML is refused", "[ocmf]") {
  CHECK_THROWS_AS(ocmf::parse_safe_xml("<values><value>"), ocmf::ParseError);
  CHECK_THROWS_AS(ocmf::parse_safe_xml("<other/>"), ocmf::ParseError);
  CHECK_THROWS_AS(ocmf::parse_safe_xml("<values/>"), ocmf::ParseError);
  CHECK_THROWS_AS(ocmf::parse_safe_xml("<values><value><publicKey>00</publicKey></value></values>"),
                  ocmf::ParseError);
  auto values = sample("safe-transparenzsoftware/OCMF_Test_Data_00.xml");
  REQUIRE(values.size() == 2);
  CHECK(values[0].transaction_id == "848182519");
  CHECK(values[0].context == "Transaction.Begin");
}
