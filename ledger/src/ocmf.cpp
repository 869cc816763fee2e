#include "chargegrid/ledger/ocmf.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>

#include "chargegrid/base/enum_names.hpp"
#include "chargegrid/base/openssl_ptr.hpp"
#include "chargegrid/base/time.hpp"
#include "chargegrid/ledger/codec.hpp"

namespace chargegrid::ledger::ocmf {
namespace {

using nlohmann::json;

using Pkey = base::OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::optional<std::string> optional_string(const json& object, const char* name,
                                           const std::string& prefix = {}) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw ParseError(prefix + name, "must be a string");
  return it->get<std::string>();
}

// Header identifiers that some meters send as JSON numbers ("FV": 1.0, "CT": 0); kept as text.
std::optional<std::string> optional_text(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (it->is_number()) return it->dump();
  if (!it->is_string()) throw ParseError(name, "must be a string");
  return it->get<std::string>();
}

std::string required_string(const json& object, const char* name, const std::string& prefix = {}) {
  auto value = optional_string(object, name, prefix);
  if (!value) throw ParseError(prefix + name, "is missing");
  return *value;
}

bool digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

// "2019-08-13T10:03:15,000+0000 I": RFC 3339 with a decimal comma and a compact UTC offset,
// then the time-status flag.
void parse_time(const std::string& text, const std::string& field, Reading& reading) {
  auto fail = [&](const char* why) { throw ParseError(field, std::string(why) + ": " + text); };
  std::string_view t = text;
  if (t.size() != 30 || (t[19] != ',' && t[19] != '.') || (t[23] != '+' && t[23] != '-') ||
      t[28] != ' ') {
    fail("expected YYYY-MM-DDThh:mm:ss,fff+zzzz S");
  }
  std::string stamp(t.substr(0, 28));
  stamp[19] = '.';
  const auto time = base::parse_rfc3339(stamp, {.compact_offset = true, .max_offset_hours = 14});
  if (!time) fail("not a calendar date and time, or its UTC offset is out of range");
  reading.time = std::chrono::time_point_cast<std::chrono::milliseconds>(*time);
  switch (t[29]) {
    case 'U':
      reading.time_status = TimeStatus::kUnknown;
      break;
    case 'I':
      reading.time_status = TimeStatus::kInformative;
      break;
    case 'S':
      reading.time_status = TimeStatus::kSynchronized;
      break;
    case 'R':
      reading.time_status = TimeStatus::kRelative;
      break;
    default:
      fail("time status flag must be U, I, S or R");
  }
  reading.time_text = text;
}

// A decimal number as text (JSON number or numeric string); returns its trimmed text.
std::string decimal_text(const json& value, const std::string& field) {
  std::string text;
  if (value.is_number()) {
    text = value.dump();
  } else if (value.is_string()) {
    text = std::string(trim(value.get<std::string>()));
  } else {
    throw ParseError(field, "must be a number");
  }
  std::string_view t = text;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) t.remove_prefix(1);
  auto dot = t.find('.');
  std::string_view whole = t.substr(0, dot);
  std::string_view fraction =
      dot == std::string_view::npos ? std::string_view{} : t.substr(dot + 1);
  if (!digits(whole) || (dot != std::string_view::npos && !digits(fraction))) {
    throw ParseError(field, "is not a decimal number: " + text);
  }
  return text;
}

// Converts a decimal register value to milliwatt-hours, rounding beyond a milliwatt-hour.
std::optional<std::int64_t> to_milli_wh(const std::string& text, const std::string& unit,
                                        const std::string& field) {
  int scale;
  if (unit == "kWh") {
    scale = 6;
  } else if (unit == "Wh") {
    scale = 3;
  } else {
    return std::nullopt;
  }
  std::string_view t = text;
  bool negative = false;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) {
    negative = t[0] == '-';
    t.remove_prefix(1);
  }
  auto dot = t.find('.');
  std::string digits_text(t.substr(0, dot));
  std::string fraction = dot == std::string_view::npos ? "" : std::string(t.substr(dot + 1));
  bool round_up = false;
  if (static_cast<int>(fraction.size()) > scale) {
    round_up = fraction[scale] >= '5';
    fraction.resize(scale);
  }
  fraction.append(scale - fraction.size(), '0');
  digits_text += fraction;
  digits_text.erase(0, std::min(digits_text.find_first_not_of('0'), digits_text.size()));
  if (digits_text.size() > 18) throw ParseError(field, "register value out of range");
  std::int64_t value = digits_text.empty() ? 0 : std::stoll(digits_text);
  if (round_up) ++value;
  return negative ? -value : value;
}

// Later readings may leave out TM, TX, RT, EF and ST; they then repeat the previous reading's.
Reading parse_reading(const json& object, std::size_t index, const Reading* previous) {
  std::string prefix = "RD[" + std::to_string(index) + "].";
  if (!object.is_object())
    throw ParseError("RD[" + std::to_string(index) + "]", "must be an object");
  Reading reading;
  if (previous != nullptr && !object.contains("TM")) {
    reading.time = previous->time;
    reading.time_text = previous->time_text;
    reading.time_status = previous->time_status;
  } else {
    parse_time(required_string(object, "TM", prefix), prefix + "TM", reading);
  }
  reading.transaction = optional_string(object, "TX", prefix);
  if (!reading.transaction && previous != nullptr) reading.transaction = previous->transaction;
  if (reading.transaction &&
      (reading.transaction->size() != 1 ||
       std::string_view("BCXELRAPST").find((*reading.transaction)[0]) == std::string_view::npos)) {
    throw ParseError(prefix + "TX", "unknown transaction type: " + *reading.transaction);
  }
  auto rv = object.find("RV");
  if (rv == object.end()) throw ParseError(prefix + "RV", "is missing");
  reading.value_text = decimal_text(*rv, prefix + "RV");
  reading.obis = required_string(object, "RI", prefix);
  reading.unit = required_string(object, "RU", prefix);
  reading.current_type = optional_string(object, "RT", prefix);
  if (!reading.current_type && previous != nullptr) reading.current_type = previous->current_type;
  if (reading.current_type && *reading.current_type != "AC" && *reading.current_type != "DC") {
    throw ParseError(prefix + "RT", "must be AC or DC");
  }
  if (auto cl = object.find("CL"); cl != object.end() && !cl->is_null()) {
    reading.cable_loss = decimal_text(*cl, prefix + "CL");
  }
  reading.error_flags = optional_string(object, "EF", prefix)
                            .value_or(previous != nullptr ? previous->error_flags : "");
  for (char flag : reading.error_flags) {
    if (flag != 'E' && flag != 't') throw ParseError(prefix + "EF", "unknown error flag");
  }
  if (previous != nullptr && !object.contains("ST")) {
    reading.status = previous->status;
  } else {
    reading.status = required_string(object, "ST", prefix);
  }
  if (reading.status.size() != 1) throw ParseError(prefix + "ST", "must be one status letter");
  reading.milli_wh = to_milli_wh(reading.value_text, reading.unit, prefix + "RV");
  return reading;
}

Payload parse_payload(std::string_view text) {
  Payload payload;
  try {
    payload.json = json::parse(text);
  } catch (const json::parse_error& e) {
    throw ParseError("payload", std::string("is not JSON: ") + e.what());
  }
  const json& p = payload.json;
  if (!p.is_object()) throw ParseError("payload", "must be a JSON object");
  payload.format_version = optional_text(p, "FV");
  payload.gateway_id = optional_text(p, "GI");
  payload.gateway_serial = optional_text(p, "GS");
  payload.gateway_version = optional_text(p, "GV");
  payload.pagination = required_string(p, "PG");
  if (payload.pagination.size() < 2 ||
      (payload.pagination[0] != 'T' && payload.pagination[0] != 'F') ||
      !digits(std::string_view(payload.pagination).substr(1))) {
    throw ParseError("PG", "must be T or F followed by a number");
  }
  payload.meter_vendor = optional_text(p, "MV");
  payload.meter_model = optional_text(p, "MM");
  payload.meter_serial = optional_text(p, "MS");
  payload.meter_firmware = optional_text(p, "MF");
  if (auto is = p.find("IS"); is != p.end()) {
    if (!is->is_boolean()) throw ParseError("IS", "must be true or false");
    payload.identified = is->get<bool>();
  }
  payload.identification_level = optional_text(p, "IL");
  if (auto flags = p.find("IF"); flags != p.end()) {
    if (!flags->is_array()) throw ParseError("IF", "must be an array of strings");
    for (const auto& flag : *flags) {
      if (!flag.is_string()) throw ParseError("IF", "must be an array of strings");
      payload.identification_flags.push_back(flag.get<std::string>());
    }
  }
  payload.identification_type = optional_text(p, "IT");
  payload.identification_data = optional_text(p, "ID");
  payload.tariff_text = optional_text(p, "TT");
  payload.charge_point_id_type = optional_text(p, "CT");
  payload.charge_point_id = optional_text(p, "CI");
  if (auto lc = p.find("LC"); lc != p.end()) {
    if (!lc->is_object()) throw ParseError("LC", "must be an object");
    payload.loss_compensation = *lc;
  }
  auto rd = p.find("RD");
  if (rd == p.end()) throw ParseError("RD", "is missing");
  if (!rd->is_array() || rd->empty()) throw ParseError("RD", "must be a non-empty array");
  for (std::size_t i = 0; i < rd->size(); ++i) {
    payload.readings.push_back(
        parse_reading((*rd)[i], i, i == 0 ? nullptr : &payload.readings.back()));
  }
  return payload;
}

Signature parse_signature(std::string_view text) {
  json s;
  try {
    s = json::parse(text);
  } catch (const json::parse_error& e) {
    throw ParseError("signature", std::string("is not JSON: ") + e.what());
  }
  if (!s.is_object()) throw ParseError("signature", "must be a JSON object");
  Signature signature;
  if (auto sa = optional_string(s, "SA")) signature.algorithm = *sa;
  if (auto se = optional_string(s, "SE")) signature.encoding = *se;
  if (auto sm = optional_string(s, "SM")) signature.mime_type = *sm;
  std::string sd = required_string(s, "SD");
  std::optional<Bytes> data;
  if (signature.encoding == "hex") {
    data = hex_decode(sd);
  } else if (signature.encoding == "base64") {
    data = base64_decode(sd);
  } else {
    throw ParseError("SE", "must be hex or base64");
  }
  if (!data || data->empty()) throw ParseError("SD", "is not " + signature.encoding);
  if (signature.mime_type != "application/x-der") {
    throw ParseError("SM", "only application/x-der is defined");
  }
  signature.data = std::move(*data);
  return signature;
}

struct Algorithm {
  const char* group;  // OpenSSL group name
  const EVP_MD* (*digest)();
  int field_bytes;
};

// SA values: ECDSA-<curve>-<hash>. Curve spellings as meters send them.
std::optional<Algorithm> lookup_algorithm(const std::string& sa) {
  static const std::map<std::string, std::pair<const char*, int>> curves = {
      {"secp192k1", {"secp192k1", 24}},
      {"secp192r1", {"prime192v1", 24}},
      {"secp256k1", {"secp256k1", 32}},
      {"secp256r1", {"prime256v1", 32}},
      {"secp384r1", {"secp384r1", 48}},
      {"secp521r1", {"secp521r1", 66}},
      {"brainpool256r1", {"brainpoolP256r1", 32}},
      {"brainpoolP256r1", {"brainpoolP256r1", 32}},
      {"brainpool384r1", {"brainpoolP384r1", 48}},
      {"brainpoolP384r1", {"brainpoolP384r1", 48}},
  };
  static const std::map<std::string, const EVP_MD* (*)()> hashes = {
      {"SHA256", EVP_sha256}, {"SHA384", EVP_sha384}, {"SHA512", EVP_sha512}};
  if (sa.rfind("ECDSA-", 0) != 0) return std::nullopt;
  auto dash = sa.rfind('-');
  if (dash <= 6) return std::nullopt;
  auto curve = curves.find(sa.substr(6, dash - 6));
  auto hash = hashes.find(sa.substr(dash + 1));
  if (curve == curves.end() || hash == hashes.end()) return std::nullopt;
  return Algorithm{curve->second.first, hash->second, curve->second.second};
}

bool group_available(const char* group) {
  int nid = OBJ_sn2nid(group);
  if (nid == NID_undef) nid = OBJ_txt2nid(group);
  if (nid == NID_undef) return false;
  EC_GROUP* g = EC_GROUP_new_by_curve_name(nid);
  EC_GROUP_free(g);
  return g != nullptr;
}

// A key from DER SubjectPublicKeyInfo or, for meters that send bare points, X||Y or 04||X||Y.
Pkey load_key(const Bytes& key, const Algorithm& algorithm) {
  const unsigned char* p = key.data();
  Pkey pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(key.size())));
  if (pkey && p == key.data() + key.size()) return pkey;
  pkey.reset();
  ERR_clear_error();
  Bytes point;
  auto coordinates = static_cast<std::size_t>(2 * algorithm.field_bytes);
  if (key.size() == coordinates) {
    point.push_back(0x04);
    point.insert(point.end(), key.begin(), key.end());
  } else if (key.size() == coordinates + 1 && key[0] == 0x04) {
    point = key;
  } else {
    return nullptr;
  }
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME, algorithm.group, 0);
  OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(builder);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* raw = nullptr;
  if (ctx && params && EVP_PKEY_fromdata_init(ctx) == 1) {
    EVP_PKEY_fromdata(ctx, &raw, EVP_PKEY_PUBLIC_KEY, params);
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(builder);
  ERR_clear_error();
  return Pkey(raw);
}

std::string key_group(EVP_PKEY* key) {
  char name[80] = {};
  std::size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &length) !=
      1) {
    return {};
  }
  return std::string(name, length);
}

// A complete DER ECDSA-Sig-Value as is; a bare r||s of exactly twice the curve's field size
// re-encoded as DER; nullopt for anything else (the signature cannot be read).
std::optional<Bytes> der_signature(const Bytes& signature, const Algorithm& algorithm) {
  const unsigned char* p = signature.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(signature.size()));
  if (sig != nullptr) {
    ECDSA_SIG_free(sig);
    if (p == signature.data() + signature.size()) return signature;
  }
  ERR_clear_error();
  auto half = static_cast<std::size_t>(algorithm.field_bytes);
  if (signature.size() != 2 * half) return std::nullopt;
  sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(signature.data(), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(signature.data() + half, static_cast<int>(half), nullptr);
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  int length = i2d_ECDSA_SIG(sig, &der);
  std::optional<Bytes> out;
  if (length > 0) out = Bytes(der, der + length);
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

bool all_hex(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
}

Verification result(Outcome outcome, std::string message, std::optional<Document> document = {}) {
  return Verification{outcome, std::move(message), std::move(document)};
}

std::string text_of(xmlNode* node) {
  xmlChar* content = xmlNodeGetContent(node);
  std::string out = content ? reinterpret_cast<const char*>(content) : "";
  xmlFree(content);
  return std::string(trim(out));
}

std::string attribute(xmlNode* node, const char* name) {
  xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  std::string out = value ? reinterpret_cast<const char*>(value) : "";
  xmlFree(value);
  return out;
}

bool named(xmlNode* node, const char* name) {
  return node->type == XML_ELEMENT_NODE &&
         xmlStrcmp(node->name, reinterpret_cast<const xmlChar*>(name)) == 0;
}

}  // namespace

Document parse(std::string_view text) {
  text = trim(text);
  if (text.substr(0, 5) != "OCMF|") throw ParseError("header", "does not start with OCMF|");
  auto last = text.rfind('|');
  if (last <= 4) throw ParseError("signature", "is missing (no second |)");
  Document document;
  document.payload_text = std::string(text.substr(5, last - 5));
  document.payload = parse_payload(document.payload_text);
  document.signature = parse_signature(text.substr(last + 1));
  return document;
}

std::string_view to_string(Outcome outcome) {
  static constexpr auto kNames =
      base::enum_names<Outcome>({{Outcome::kVerified, "verified"},
                                 {Outcome::kSignatureInvalid, "signature invalid"},
                                 {Outcome::kKeyMismatch, "key mismatch"},
                                 {Outcome::kUnsupportedAlgorithm, "unsupported algorithm"},
                                 {Outcome::kMalformed, "malformed"}});
  return kNames.name(outcome);
}

std::optional<Bytes> decode_key_text(std::string_view text) {
  // Keys copied from displays and XML files often carry spaces or line breaks.
  std::string compact;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) compact.push_back(c);
  }
  if (compact.empty()) return std::nullopt;
  if (all_hex(compact)) return hex_decode(compact);
  return base64_decode(compact);
}

Verification verify(std::string_view ocmf_text, std::optional<std::string_view> public_key,
                    std::optional<std::string_view> registered_key) {
  Document document;
  try {
    document = parse(ocmf_text);
  } catch (const ParseError& e) {
    return result(Outcome::kMalformed, e.what());
  }
  std::optional<Bytes> presented;
  if (public_key && !trim(*public_key).empty()) {
    presented = decode_key_text(*public_key);
    if (!presented)
      return result(Outcome::kMalformed, "public key is neither hex nor base64", document);
  }
  std::optional<Bytes> registered;
  if (registered_key) {
    registered = decode_key_text(*registered_key);
    if (!registered) {
      return result(Outcome::kMalformed, "registered key is neither hex nor base64", document);
    }
  }
  if (presented && registered && *presented != *registered) {
    return result(Outcome::kKeyMismatch, "the key sent is not the key registered for this meter",
                  document);
  }
  if (!presented && !registered) return result(Outcome::kMalformed, "no public key", document);
  const Bytes& key_bytes = presented ? *presented : *registered;

  auto algorithm = lookup_algorithm(document.signature.algorithm);
  if (!algorithm) {
    return result(Outcome::kUnsupportedAlgorithm,
                  "signature algorithm " + document.signature.algorithm + " is not supported",
                  document);
  }
  if (!group_available(algorithm->group)) {
    return result(Outcome::kUnsupportedAlgorithm,
                  std::string("curve ") + algorithm->group + " is not available in this OpenSSL",
                  document);
  }
  Pkey key = load_key(key_bytes, *algorithm);
  if (!key) {
    return result(Outcome::kMalformed,
                  "public key is neither DER SubjectPublicKeyInfo nor a point (X||Y of " +
                      std::to_string(2 * algorithm->field_bytes) + " bytes, or 04||X||Y) on " +
                      algorithm->group,
                  document);
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC) {
    return result(Outcome::kMalformed, "public key is not an EC public key", document);
  }
  std::string group = key_group(key.get());
  if (OBJ_txt2nid(group.c_str()) != OBJ_txt2nid(algorithm->group)) {
    return result(Outcome::kSignatureInvalid,
                  "public key is on curve " + group + ", but SA names " + algorithm->group,
                  document);
  }
  auto signature = der_signature(document.signature.data, *algorithm);
  if (!signature) {
    return result(Outcome::kMalformed,
                  "signature is neither DER nor r||s of " +
                      std::to_string(2 * algorithm->field_bytes) + " bytes for " + algorithm->group,
                  document);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  int status = -1;
  if (ctx && EVP_DigestVerifyInit(ctx, nullptr, algorithm->digest(), nullptr, key.get()) == 1) {
    status = EVP_DigestVerify(ctx, signature->data(), signature->size(),
                              reinterpret_cast<const unsigned char*>(document.payload_text.data()),
                              document.payload_text.size());
  }
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (status != 1) {
    return result(
        Outcome::kSignatureInvalid,
        "the signature does not match the payload and key (" + document.signature.algorithm + ")",
        document);
  }
  return result(Outcome::kVerified, {}, std::move(document));
}

Evidence from_ocpp2_signed_meter_value(const nlohmann::json& value) {
  if (!value.is_object()) throw ParseError("signedMeterValue", "must be an object");
  std::string data = required_string(value, "signedMeterData");
  std::string encoding = required_string(value, "encodingMethod");
  if (encoding != "OCMF") throw ParseError("encodingMethod", "is not OCMF: " + encoding);
  Evidence evidence;
  if (trim(data).substr(0, 5) == "OCMF|") {
    evidence.ocmf = std::string(trim(data));
  } else {
    auto decoded = base64_decode(trim(data));
    if (!decoded) throw ParseError("signedMeterData", "is neither OCMF text nor base64");
    evidence.ocmf.assign(decoded->begin(), decoded->end());
  }
  if (auto key = optional_string(value, "publicKey"); key && !trim(*key).empty()) {
    // Stations send base64 of the DER key, or base64 of its hex spelling.
    auto decoded = base64_decode(trim(*key));
    if (!decoded) throw ParseError("publicKey", "is not base64");
    std::string as_text(decoded->begin(), decoded->end());
    evidence.public_key = all_hex(as_text) ? as_text : hex_encode(*decoded);
  }
  return evidence;
}

Evidence from_ocpp16_sampled_value(const nlohmann::json& value) {
  if (!value.is_object()) throw ParseError("sampledValue", "must be an object");
  std::string format = optional_string(value, "format").value_or("Raw");
  if (format != "SignedData") throw ParseError("format", "is not SignedData: " + format);
  std::string data = required_string(value, "value");
  Evidence evidence;
  if (trim(data).substr(0, 5) == "OCMF|") {
    evidence.ocmf = std::string(trim(data));
  } else {
    auto decoded = base64_decode(trim(data));
    std::string text = decoded ? std::string(decoded->begin(), decoded->end()) : std::string();
    if (text.substr(0, 5) != "OCMF|") throw ParseError("value", "holds no OCMF data");
    evidence.ocmf = text;
  }
  return evidence;
}

std::vector<SafeValue> parse_safe_xml(std::string_view xml) {
  std::unique_ptr<xmlDoc, void (*)(xmlDoc*)> doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "values.xml", nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
      xmlFreeDoc);
  if (!doc) throw ParseError("xml", "is not well-formed XML");
  xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || !named(root, "values"))
    throw ParseError("xml", "root element is not <values>");
  std::vector<SafeValue> values;
  for (xmlNode* node = root->children; node != nullptr; node = node->next) {
    if (!named(node, "value")) continue;
    SafeValue value;
    value.transaction_id = attribute(node, "transactionId");
    value.context = attribute(node, "context");
    bool has_data = false;
    for (xmlNode* child = node->children; child != nullptr; child = child->next) {
      if (named(child, "signedData")) {
        std::string format = attribute(child, "format");
        if (!format.empty() && format != "OCMF") {
          throw ParseError("signedData", "format is not OCMF: " + format);
        }
        value.signed_data = text_of(child);
        has_data = true;
      } else if (named(child, "publicKey")) {
        value.public_key = text_of(child);
        value.key_encoding = attribute(child, "encoding");
      }
    }
    if (!has_data) throw ParseError("value", "has no <signedData>");
    values.push_back(std::move(value));
  }
  if (values.empty()) throw ParseError("values", "holds no <value>");
  return values;
}

}  // namespace chargegrid::ledger::ocmf
