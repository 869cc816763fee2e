#include "trust_anchors.hpp"

#include <algorithm>
#include <cctype>

#include "actions.hpp"
#include "model.hpp"

namespace chargegrid::sim::detail {

namespace {

constexpr auto v16 = OcppVersion::v16;
constexpr auto v201 = OcppVersion::v201;
constexpr auto v21 = OcppVersion::v21;

// The certificate types each form of the messages knows.
const std::vector<std::string> kTypes16 = {"CentralSystemRootCertificate",
                                           "ManufacturerRootCertificate"};
const std::vector<std::string> kTypesPnc16 = {"V2GRootCertificate", "MORootCertificate"};
const std::vector<std::string> kTypes201 = {"V2GRootCertificate", "MORootCertificate",
                                            "CSMSRootCertificate", "ManufacturerRootCertificate"};
const std::vector<std::string> kTypes21 = {"V2GRootCertificate", "MORootCertificate",
                                           "CSMSRootCertificate", "ManufacturerRootCertificate",
                                           "OEMRootCertificate"};

std::string field(const Json& payload, const char* name) {
  if (!payload.is_object() || !payload.contains(name))
    throw CallError("OccurrenceConstraintViolation", std::string("missing required field ") + name);
  if (!payload[name].is_string())
    throw CallError("TypeConstraintViolation", std::string(name) + " must be a string");
  return payload[name].get<std::string>();
}

void require_known(const std::string& type, const std::vector<std::string>& known) {
  if (std::find(known.begin(), known.end(), type) == known.end())
    throw CallError("PropertyConstraintViolation", "certificateType " + type + " is not known");
}

Json hash_json(const base::CertificateHashData& hash) {
  return {{"hashAlgorithm", hash.hash_algorithm},
          {"issuerNameHash", hash.issuer_name_hash},
          {"issuerKeyHash", hash.issuer_key_hash},
          {"serialNumber", hash.serial_number}};
}

base::CertificateHashData read_hash(const Json& payload) {
  if (!payload.is_object() || !payload.contains("certificateHashData"))
    throw CallError("OccurrenceConstraintViolation", "missing required field certificateHashData");
  const Json& h = payload["certificateHashData"];
  base::CertificateHashData hash{field(h, "hashAlgorithm"), field(h, "issuerNameHash"),
                                 field(h, "issuerKeyHash"), field(h, "serialNumber")};
  // Stations compare hex without regard to case.
  for (auto* text : {&hash.issuer_name_hash, &hash.issuer_key_hash, &hash.serial_number})
    std::transform(text->begin(), text->end(), text->begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return hash;
}

const std::vector<std::string>& types_2x(OcppVersion version) {
  return version == v21 ? kTypes21 : kTypes201;
}

// The 2.0.1 / 2.1 forms (also what the 1.6 Plug & Charge DataTransfer carries), with the types
// `known` allows.
Json install_2x(StationModel& st, const Json& p, const std::vector<std::string>& known) {
  const auto type = field(p, "certificateType");
  require_known(type, known);
  return {{"status", st.trust_anchors.install(type, field(p, "certificate"))}};
}

Json list_2x(StationModel& st, const Json& p, const std::vector<std::string>& known) {
  std::vector<std::string> types;
  if (p.is_object() && p.contains("certificateType")) {
    if (!p["certificateType"].is_array())
      throw CallError("TypeConstraintViolation", "certificateType must be an array");
    for (const auto& type : p["certificateType"]) {
      if (!type.is_string()) throw CallError("TypeConstraintViolation", "certificateType");
      // V2GCertificateChain: the station's own SECC chain, which it lists with its roots.
      if (type != "V2GCertificateChain") require_known(type.get<std::string>(), known);
      types.push_back(type.get<std::string>());
    }
  }
  Json chain = Json::array();
  for (const auto& installed : st.trust_anchors.list(types))
    chain.push_back(
        {{"certificateType", installed.type}, {"certificateHashData", hash_json(installed.hash)}});
  if (chain.empty()) return {{"status", "NotFound"}};
  return {{"status", "Accepted"}, {"certificateHashDataChain", chain}};
}

Json delete_any(StationModel& st, const Json& p) {
  return {{"status", st.trust_anchors.remove(read_hash(p)) ? "Accepted" : "NotFound"}};
}

Json install_16(StationModel& st, const Json& p) {
  return install_2x(st, p, kTypes16);
}

Json list_16(StationModel& st, const Json& p) {
  const auto type = field(p, "certificateType");
  require_known(type, kTypes16);
  Json hashes = Json::array();
  for (const auto& installed : st.trust_anchors.list({type}))
    hashes.push_back(hash_json(installed.hash));
  if (hashes.empty()) return {{"status", "NotFound"}};
  return {{"status", "Accepted"}, {"certificateHashData", hashes}};
}

// The SECC certificate chain the CSMS signed (2.x form; 1.6 through DataTransfer).
Json certificate_signed(StationModel& st, const Json& p) {
  const auto chain = field(p, "certificateChain");
  const auto type = p.value("certificateType", std::string("ChargingStationCertificate"));
  if (!st.iso15118) return {{"status", "Rejected"}};
  const auto status = st.iso15118->certificate_signed(chain, type);
  if (status == "Accepted") ++st.stats.secc_certificates_installed;
  return {{"status", status}};
}

Json install_201(StationModel& st, const Json& p) {
  return install_2x(st, p, types_2x(st.version()));
}

Json list_201(StationModel& st, const Json& p) {
  return list_2x(st, p, types_2x(st.version()));
}

}  // namespace

std::string TrustAnchorStore::install(const std::string& type, const std::string& pem) {
  base::CertificateHashData hash;
  try {
    hash = base::certificate_hash_data(pem);
  } catch (const base::NotACertificate&) {
    return "Rejected";
  }
  remove(hash);
  installed_.push_back({type, pem, std::move(hash)});
  return "Accepted";
}

std::vector<InstalledCertificate> TrustAnchorStore::list(
    const std::vector<std::string>& types) const {
  std::vector<InstalledCertificate> out;
  for (const auto& installed : installed_)
    if (types.empty() || std::find(types.begin(), types.end(), installed.type) != types.end())
      out.push_back(installed);
  return out;
}

bool TrustAnchorStore::remove(const base::CertificateHashData& hash) {
  const auto before = installed_.size();
  std::erase_if(installed_, [&](const InstalledCertificate& c) { return c.hash == hash; });
  return installed_.size() != before;
}

void add_trust_anchor_actions(ActionTable& table) {
  table.add(v16, "InstallCertificate", install_16);
  table.add(v16, "GetInstalledCertificateIds", list_16);
  table.add(v16, "DeleteCertificate", delete_any);
  for (const auto version : {v201, v21}) {
    table.add(version, "InstallCertificate", install_201);
    table.add(version, "GetInstalledCertificateIds", list_201);
    table.add(version, "DeleteCertificate", delete_any);
    table.add(version, "CertificateSigned", certificate_signed);
  }
}

Json pnc_data_transfer(StationModel& st, const Json& p) {
  const auto message = p.value("messageId", std::string());
  Json request;
  try {
    request = Json::parse(p.value("data", std::string("{}")));
  } catch (const Json::parse_error&) {
    throw CallError("FormationViolation", "data is not a JSON text");
  }
  Json answer;
  if (message == "InstallCertificate")
    answer = install_2x(st, request, kTypesPnc16);
  else if (message == "GetInstalledCertificateIds")
    answer = list_2x(st, request, kTypesPnc16);
  else if (message == "DeleteCertificate")
    answer = delete_any(st, request);
  else if (message == "CertificateSigned")
    answer = certificate_signed(st, request);
  else
    return {{"status", "UnknownMessageId"}};
  return {{"status", "Accepted"}, {"data", answer.dump()}};
}

}  // namespace chargegrid::sim::detail
