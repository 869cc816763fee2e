#include "plug_and_charge/trust_anchors.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <cctype>

#include "commands/command_router.hpp"
#include "commands/translation.hpp"
#include "logging.hpp"
#include "store/certificate_rollouts.hpp"
#include "store/database.hpp"

namespace chargegrid::server::plug_and_charge {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

bool pnc_type(const std::string& type) {
  return type == "V2GRootCertificate" || type == "MORootCertificate" ||
         type == "V2GCertificateChain";
}

std::string text_of(const json& object, const char* field) {
  const auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

base::CertificateHashData read_hash(const json& h) {
  return {text_of(h, "hashAlgorithm"), text_of(h, "issuerNameHash"), text_of(h, "issuerKeyHash"),
          text_of(h, "serialNumber")};
}

// One station's part of a rollout: the install call, then its outcome stored.
asio::awaitable<void> install_on(Database& database, commands::CommandRouter& router,
                                 std::int64_t rollout_id, std::string station_id, std::string type,
                                 std::string pem, commands::Origin origin) {
  store::certificate_rollouts::StationOutcome outcome;
  try {
    commands::StationCommand command;
    command.station_id = station_id;
    command.name = "install-certificate";
    command.arguments = {{"certificate_type", type}, {"certificate", pem}};
    command.origin = std::move(origin);
    auto result = co_await router.send(std::move(command));
    outcome.outcome = std::string(commands::outcome_name(result.outcome.kind));
    outcome.command_id = result.command_id;
    const auto& payload = result.outcome.payload;
    if (result.outcome.kind == commands::Outcome::Kind::Answered) {
      const auto answer = unwrap(result.ocpp_action, payload);
      outcome.status = answer.status;
    } else if (payload.contains("errorCode") || payload.contains("description")) {
      outcome.detail =
          text_of(payload, "errorCode") +
          (payload.contains("description") ? " " + text_of(payload, "description") : std::string());
    }
  } catch (const commands::NotAvailable& e) {
    outcome.outcome = "not_available";
    outcome.detail = e.what();
  } catch (const std::exception& e) {
    outcome.outcome = "error";
    outcome.detail = e.what();
  }
  try {
    co_await database.transaction([&](store::Tx& tx) {
      store::certificate_rollouts::record(tx, rollout_id, station_id, outcome);
    });
  } catch (const std::exception& e) {
    log::warn("certificate_rollout_record_failed",
              {{"rollout_id", rollout_id}, {"station_id", station_id}, {"error", e.what()}});
  }
}

}  // namespace

const std::vector<std::string>& trust_anchor_types() {
  static const std::vector<std::string> types = {
      "V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate",
      "ManufacturerRootCertificate", "OEMRootCertificate"};
  return types;
}

RootCertificate read_root(const std::string& type, const std::string& pem) {
  const auto& types = trust_anchor_types();
  if (std::find(types.begin(), types.end(), type) == types.end())
    throw InvalidRoot("certificate_type: " + type + " is not a trust anchor type");
  std::vector<std::string> blocks;
  try {
    blocks = base::split_certificate_chain(pem);
  } catch (const base::NotACertificate& e) {
    throw InvalidRoot(std::string("certificate: ") + e.what());
  }
  if (blocks.size() != 1)
    throw InvalidRoot("certificate: holds " + std::to_string(blocks.size()) +
                      " certificates; a trust anchor is one root certificate");
  RootCertificate root{type, blocks.front(), base::describe_certificate(blocks.front())};
  if (!root.facts.ca)
    throw InvalidRoot("certificate: " + root.facts.subject +
                      " is not a CA certificate (basicConstraints CA:TRUE)");
  return root;
}

std::string certificate_id(const InstalledCertificate& c) {
  return c.type + "." + c.hash.hash_algorithm + "." + c.hash.issuer_name_hash + "." +
         c.hash.issuer_key_hash + "." + c.hash.serial_number;
}

std::optional<InstalledCertificate> parse_certificate_id(std::string_view id) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto dot = id.find('.', start);
    parts.emplace_back(id.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 5) return std::nullopt;
  const auto& types = trust_anchor_types();
  if (std::find(types.begin(), types.end(), parts[0]) == types.end() &&
      parts[0] != "V2GCertificateChain")
    return std::nullopt;
  if (parts[1] != "SHA256" && parts[1] != "SHA384" && parts[1] != "SHA512") return std::nullopt;
  const auto hex = [](const std::string& s, std::size_t max) {
    return !s.empty() && s.size() <= max &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
  };
  if (!hex(parts[2], 128) || !hex(parts[3], 128) || !hex(parts[4], 40)) return std::nullopt;
  return InstalledCertificate{parts[0], {parts[1], parts[2], parts[3], parts[4]}};
}

json hash_json(const base::CertificateHashData& h) {
  return {{"hash_algorithm", h.hash_algorithm},
          {"issuer_name_hash", h.issuer_name_hash},
          {"issuer_key_hash", h.issuer_key_hash},
          {"serial_number", h.serial_number}};
}

json to_json(const InstalledCertificate& c) {
  return {
      {"id", certificate_id(c)}, {"certificate_type", c.type}, {"hash_data", hash_json(c.hash)}};
}

StationAnswer unwrap(const std::string& ocpp_action, const json& response) {
  if (ocpp_action != "DataTransfer") return {text_of(response, "status"), response, false};
  const auto status = text_of(response, "status");
  if (status != "Accepted") return {status, response, status == "UnknownVendorId"};
  json inner;
  try {
    inner = json::parse(text_of(response, "data"));
  } catch (const json::parse_error&) {
    throw std::runtime_error("the station's DataTransfer answer carries no JSON data");
  }
  if (!inner.is_object())
    throw std::runtime_error("the station's DataTransfer answer carries no JSON object");
  return {text_of(inner, "status"), inner, false};
}

std::vector<InstalledCertificate> installed_in(const json& payload,
                                               const std::string& requested_type) {
  std::vector<InstalledCertificate> out;
  if (payload.contains("certificateHashDataChain")) {
    for (const auto& entry : payload["certificateHashDataChain"])
      out.push_back({text_of(entry, "certificateType"),
                     read_hash(entry.value("certificateHashData", json::object()))});
  } else if (payload.contains("certificateHashData") && payload["certificateHashData"].is_array()) {
    for (const auto& entry : payload["certificateHashData"])
      out.push_back({requested_type, read_hash(entry)});
  }
  return out;
}

std::vector<std::vector<std::string>> listing_calls(const std::string& protocol,
                                                    const std::vector<std::string>& types) {
  if (protocol != "ocpp1.6") return {types};
  // 1.6: one security-extension type per call, the Plug & Charge types in one DataTransfer.
  std::vector<std::string> wanted = types;
  if (wanted.empty())
    wanted = {"CSMSRootCertificate", "ManufacturerRootCertificate", "V2GRootCertificate",
              "MORootCertificate"};
  std::vector<std::vector<std::string>> calls;
  std::vector<std::string> pnc;
  for (const auto& type : wanted) {
    if (pnc_type(type))
      pnc.push_back(type);
    else
      calls.push_back({type});
  }
  if (!pnc.empty()) calls.push_back(pnc);
  return calls;
}

asio::awaitable<std::int64_t> start_rollout(Database& database, commands::CommandRouter& router,
                                            std::int64_t site_id, const RootCertificate& root,
                                            const commands::Origin& origin,
                                            const RolloutRunner& runner) {
  store::certificate_rollouts::NewRollout rollout{site_id,
                                                  root.type,
                                                  root.pem,
                                                  certificate_id({root.type, root.facts.hash}),
                                                  root.facts.subject,
                                                  origin.api_key_id,
                                                  runner.node,
                                                  runner.incarnation};
  auto created = co_await database.transaction(
      [&](store::Tx& tx) { return store::certificate_rollouts::create(tx, rollout); });
  auto executor = co_await asio::this_coro::executor;
  for (const auto& station : created.stations)
    asio::co_spawn(executor,
                   install_on(database, router, created.id, station, root.type, root.pem, origin),
                   asio::detached);
  co_return created.id;
}

void resend_rollout(const asio::any_io_executor& executor, Database& database,
                    commands::CommandRouter& router,
                    const store::certificate_rollouts::Orphan& rollout) {
  const auto origin = rollout.api_key_id ? commands::Origin::api_key(*rollout.api_key_id)
                                         : commands::Origin::internal("pki");
  for (const auto& station : rollout.pending)
    asio::co_spawn(executor,
                   install_on(database, router, rollout.id, station, rollout.certificate_type,
                              rollout.certificate, origin),
                   asio::detached);
}

}  // namespace chargegrid::server::plug_and_charge
