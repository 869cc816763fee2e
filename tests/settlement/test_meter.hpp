// A test meter with its own P-256 key (OpenSSL) that signs OCMF readings of any registers: import
// (OBIS 1.8.0) and export (2.8.0, V2G) in one signed reading, as bidirectional meters send them.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "chargegrid/base/encoding.hpp"

namespace chargegrid::settlement_testing {

struct MeterRegister {
  std::string obis;  // "1-b:1.8.0" import, "1-b:2.8.0" export
  long long wh = 0;
};

class TestMeter {
 public:
  TestMeter() : key_(EVP_EC_gen("P-256"), EVP_PKEY_free) {
    if (!key_) throw std::runtime_error("no P-256 key");
    unsigned char* der = nullptr;
    const int size = i2d_PUBKEY(key_.get(), &der);
    if (size <= 0) throw std::runtime_error("no DER key");
    der_.assign(der, der + size);
    OPENSSL_free(der);
  }

  // DER SubjectPublicKeyInfo in lowercase hex, as meter keys are stored.
  std::string public_key_hex() const {
    return base::hex_encode(base::ByteView(der_.data(), der_.size()));
  }

  // The OCMF text of one signed reading of `registers` at `utc` ("2026-11-05T08:00:00"); `type`
  // B (begin), T (during) or E (end).
  std::string reading(const std::string& utc, const std::string& type,
                      const std::vector<MeterRegister>& registers, int pagination) const {
    auto rd = nlohmann::json::array();
    for (const auto& r : registers)
      rd.push_back({{"TM", utc + ",000+0000 S"},
                    {"TX", type},
                    {"RV", r.wh},
                    {"RI", r.obis},
                    {"RU", "Wh"},
                    {"RT", "AC"},
                    {"EF", ""},
                    {"ST", "G"}});
    const nlohmann::json payload{{"FV", "1.0"},
                                 {"GI", "ChargeGrid test meter"},
                                 {"GS", "TM-2"},
                                 {"GV", "1.0"},
                                 {"PG", "T" + std::to_string(pagination)},
                                 {"MV", "Test"},
                                 {"MM", "TM-BIDI"},
                                 {"MS", "TM-0002"},
                                 {"IS", true},
                                 {"IT", "ISO14443"},
                                 {"ID", "0a1b2c3d"},
                                 {"RD", rd}};
    const auto text = payload.dump();
    const nlohmann::json sig{{"SA", "ECDSA-secp256r1-SHA256"},
                             {"SD", base::hex_encode(sign(text), base::HexCase::kUpper)}};
    return "OCMF|" + text + "|" + sig.dump();
  }

  // OCPP 2.0.1 SignedMeterValueType for an OCMF text: data and key base64.
  nlohmann::json signed_meter_value(const std::string& ocmf) const {
    return {{"signedMeterData", base::base64_encode(ocmf)},
            {"signingMethod", ""},
            {"encodingMethod", "OCMF"},
            {"publicKey", base::base64_encode(base::ByteView(der_.data(), der_.size()))}};
  }

 private:
  std::string sign(const std::string& text) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    const auto* data = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t size = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &size, data, text.size()) != 1)
      throw std::runtime_error("cannot sign");
    std::string signature(size, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, data,
                       text.size()) != 1)
      throw std::runtime_error("cannot sign");
    signature.resize(size);
    return signature;
  }

  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
  std::vector<unsigned char> der_;
};

// A 2.0.1 meterValue of a V2G meter at `at` ("2026-11-05T08:00:00", UTC): the import register
// signed by `meter` together with the export register when `signed_export_wh` is given, and the
// station's own unsigned export register `unsigned_export_wh`. `type` as for TestMeter::reading.
inline nlohmann::json v2g_meter_value(const TestMeter& meter, const std::string& at,
                                      const std::string& type, long long import_wh,
                                      std::optional<long long> signed_export_wh,
                                      long long unsigned_export_wh, int pagination) {
  std::vector<MeterRegister> registers{{"1-b:1.8.0", import_wh}};
  if (signed_export_wh) registers.push_back({"1-b:2.8.0", *signed_export_wh});
  const auto context = type == "B"   ? "Transaction.Begin"
                       : type == "E" ? "Transaction.End"
                                     : "Sample.Periodic";
  return {{"timestamp", at + "Z"},
          {"sampledValue",
           nlohmann::json::array({{{"value", import_wh},
                                   {"context", context},
                                   {"measurand", "Energy.Active.Import.Register"},
                                   {"unitOfMeasure", {{"unit", "Wh"}}},
                                   {"signedMeterValue", meter.signed_meter_value(meter.reading(
                                                            at, type, registers, pagination))}},
                                  {{"value", unsigned_export_wh},
                                   {"context", context},
                                   {"measurand", "Energy.Active.Export.Register"},
                                   {"unitOfMeasure", {{"unit", "Wh"}}}}})}};
}

}  // namespace chargegrid::settlement_testing
