#pragma once
// The sessions the credits tests settle, and a lookup in the records they read: plain 1.6 sessions
// (with export registers for V2G), and verified ones signed by a test meter with its own P-256 key
// (OpenSSL), of any energy.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "../server/server_fixture.hpp"
#include "../server/station_messages.hpp"
#include "chargegrid/base/encoding.hpp"

namespace chargegrid::credits_testing {

// The element of the JSON array `items` whose `field` is `value`; null when none is.
inline const nlohmann::json* find_item(const nlohmann::json& items, const std::string& field,
                                       const std::string& value) {
  for (const auto& item : items)
    if (item[field] == value) return &item;
  return nullptr;
}

class TestMeter {
 public:
  TestMeter() : key_(EVP_EC_gen("P-256"), EVP_PKEY_free) {
    if (!key_) throw std::runtime_error("no P-256 key");
    unsigned char* der = nullptr;
    const int size = i2d_PUBKEY(key_.get(), &der);
    public_key_hex_ = base::hex_encode(base::ByteView(der, static_cast<std::size_t>(size)));
    OPENSSL_free(der);
  }
  // DER SubjectPublicKeyInfo, lowercase hex: what PUT .../meter-key takes.
  const std::string& public_key_hex() const { return public_key_hex_; }

  // An OCMF reading of the import register at `utc` ("2026-11-05T08:00:00"); `type` B or E.
  std::string reading(const std::string& utc, const std::string& type, long long wh,
                      int pagination) const {
    const nlohmann::json payload{
        {"FV", "1.0"},
        {"GI", "ChargeGrid test meter"},
        {"GS", "TM-1"},
        {"GV", "1.0"},
        {"PG", "T" + std::to_string(pagination)},
        {"MV", "Test"},
        {"MM", "TM"},
        {"MS", "TM-0001"},
        {"IS", true},
        {"IT", "ISO14443"},
        {"ID", "0a1b2c3d"},
        {"RD", nlohmann::json::array({{{"TM", utc + ",000+0000 " + (type == "B" ? "I" : "R")},
                                       {"TX", type},
                                       {"RV", wh},
                                       {"RI", "1-b:1.8.0"},
                                       {"RU", "Wh"},
                                       {"RT", "AC"},
                                       {"EF", ""},
                                       {"ST", "G"}}})}};
    const auto text = payload.dump();
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::size_t size = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &size,
                       reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 1)
      throw std::runtime_error("cannot sign");
    std::string signature(size, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                       reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 1)
      throw std::runtime_error("cannot sign");
    signature.resize(size);
    const nlohmann::json sig{{"SA", "ECDSA-secp256r1-SHA256"},
                             {"SD", base::hex_encode(signature, base::HexCase::kUpper)}};
    return "OCMF|" + text + "|" + sig.dump();
  }

 private:
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
  std::string public_key_hex_;
};

// A 1.6 session on connector 1 whose start and end registers `meter` signs (its key registered
// for EVSE 1 beforehand); `from` and `to` as "2026-11-05T08:00:00" (UTC). The session's id.
inline long long signed_session_16(sim::OcppTestClient& station, const TestMeter& meter,
                                   const std::string& from, const std::string& to,
                                   long long start_wh, long long stop_wh) {
  using nlohmann::json;
  auto value = [&](const std::string& at, const std::string& type, long long wh,
                   const char* context) {
    return json{
        {"timestamp", at + "Z"},
        {"sampledValue", json::array({{{"value", meter.reading(at, type, wh, type == "B" ? 1 : 2)},
                                       {"format", "SignedData"},
                                       {"context", context},
                                       {"measurand", "Energy.Active.Import.Register"},
                                       {"unit", "Wh"}}})}};
  };
  auto started = station.call("StartTransaction", testing::start_16(1, start_wh, from + "Z"));
  REQUIRE(testing::is_result(started));
  const auto id = started[2]["transactionId"].get<long long>();
  REQUIRE(testing::is_result(station.call(
      "MeterValues",
      {{"connectorId", 1},
       {"transactionId", id},
       {"meterValue", json::array({value(from, "B", start_wh, "Transaction.Begin")})}})));
  REQUIRE(testing::is_result(station.call(
      "StopTransaction",
      {{"transactionId", id},
       {"meterStop", stop_wh},
       {"timestamp", to + "Z"},
       {"transactionData", json::array({value(to, "E", stop_wh, "Transaction.End")})}})));
  return id;
}

// A 1.6 session on connector 1 from `from` to `to` (RFC 3339) with the import registers given;
// with `exported_wh` > 0 an export register reading at the start and the end (V2G).
inline long long session_16(sim::OcppTestClient& station, long long start_wh, long long stop_wh,
                            const std::string& from, const std::string& to,
                            long long exported_wh = 0, const std::string& id_tag = "TAG-1") {
  using nlohmann::json;
  auto started = station.call("StartTransaction", testing::start_16(1, start_wh, from, id_tag));
  REQUIRE(testing::is_result(started));
  const auto id = started[2]["transactionId"].get<long long>();
  if (exported_wh > 0) {
    auto reading = [&](const std::string& at, long long wh) {
      return json{{"timestamp", at},
                  {"sampledValue", json::array({{{"value", std::to_string(wh)},
                                                 {"measurand", "Energy.Active.Export.Register"},
                                                 {"unit", "Wh"}}})}};
    };
    REQUIRE(testing::is_result(station.call(
        "MeterValues",
        {{"connectorId", 1},
         {"transactionId", id},
         {"meterValue", json::array({reading(from, 10000), reading(to, 10000 + exported_wh)})}})));
  }
  REQUIRE(testing::is_result(station.call(
      "StopTransaction",
      {{"transactionId", id}, {"meterStop", stop_wh}, {"timestamp", to}, {"reason", "Local"}})));
  return id;
}

}  // namespace chargegrid::credits_testing
