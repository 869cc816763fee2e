// ISO 15118 Plug & Charge: the CSMS's certificate duties. Each message is handled once, in
// OCPP 2.0.1's terms; 2.1 reuses it and OCPP 1.6 reaches it through DataTransfer, whose data
// is the 2.0.1 payload as a JSON string (checked against the 2.0.1 schema here, since 1.6's
// schema leaves it free).

#include "ocpp/iso15118.hpp"

#include <pqxx/pqxx>

#include "chargegrid/base/time.hpp"
#include "chargegrid/protocols/validation.hpp"
#include "commands/command_router.hpp"
#include "connections/station_connection.hpp"
#include "logging.hpp"
#include "ocpp/common.hpp"
#include "plug_and_charge/service.hpp"
#include "security/security.hpp"
#include "store/certificates.hpp"

namespace chargegrid::server::ocpp {

using nlohmann::json;
using protocols::OcppVersion;
namespace pnc = plug_and_charge;

namespace {

constexpr const char* kPncVendor = "org.openchargealliance.iso15118pnc";
constexpr std::string_view kV2gCertificateIssued = "V2GCertificateIssued";

// What a handler needs of the call beyond its payload.
struct Caller {
  std::string station_id;
  OcppVersion version;  // the station's own (1.6 for DataTransfer)
  std::shared_ptr<StationConnection> connection;
};

// The idTokenInfo status a refused contract gives.
std::string token_status_for(pnc::CertificateStatus status) {
  switch (status) {
    case pnc::CertificateStatus::kCertificateExpired:
      return "Expired";
    case pnc::CertificateStatus::kCertificateRevoked:
      return "Blocked";
    default:
      return "Invalid";
  }
}

json status_info(const std::string& reason_code, const std::string& info) {
  return {{"reasonCode", reason_code}, {"additionalInfo", info.substr(0, 512)}};
}

pnc::OcspRequestData request_data(const json& j) {
  return {j.at("hashAlgorithm").get<std::string>(), j.at("issuerNameHash").get<std::string>(),
          j.at("issuerKeyHash").get<std::string>(), j.at("serialNumber").get<std::string>(),
          j.at("responderURL").get<std::string>()};
}

class Iso15118 {
 public:
  Iso15118(Services& services, pnc::PlugAndCharge& service, const HandlerRegistry& registry)
      : services_(services), pnc_(service) {
    // The handlers registered before: they answer what is not Plug & Charge.
    if (auto h = registry.find(OcppVersion::v201, "Authorize")) token_authorize_ = *h;
    if (auto h = registry.find(OcppVersion::v201, "SignCertificate")) sign_201_ = *h;
    if (auto h = registry.find(OcppVersion::v21, "SignCertificate")) sign_21_ = *h;
    if (auto h = registry.find(OcppVersion::v16, "DataTransfer")) data_transfer_16_ = *h;
  }

  // Each handler holds the instance.
  static void register_handlers(HandlerRegistry& registry, const std::shared_ptr<Iso15118>& self) {
    for (auto v : {OcppVersion::v201, OcppVersion::v21}) {
      registry.add(v, "Authorize", [self](CallContext& ctx) { return self->authorize(ctx); });
      registry.add(v, "GetCertificateStatus",
                   [self](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
                     auto answer = co_await self->certificate_status(ctx.payload.json());
                     co_return CallReply::ok(std::move(answer));
                   });
      registry.add(v, "Get15118EVCertificate",
                   [self](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
                     auto answer = co_await self->ev_certificate(ctx.payload.json(), ctx.version);
                     co_return CallReply::ok(std::move(answer));
                   });
      registry.add(v, "SignCertificate", [self](CallContext& ctx) { return self->sign(ctx); });
    }
    registry.add(OcppVersion::v16, "DataTransfer",
                 [self](CallContext& ctx) { return self->data_transfer_16(ctx); });
  }

 private:
  // ---- Authorize ----

  boost::asio::awaitable<CallReply> authorize(CallContext& ctx) {
    const auto& token = ctx.payload.json().at("idToken");
    const bool contract = token.value("type", "") == "eMAID" &&
                          (ctx.payload.json().contains("certificate") ||
                           ctx.payload.json().contains("iso15118CertificateHashData"));
    if (!contract) co_return co_await token_authorize_(ctx);
    // Arguments are named: GCC 12 may destroy temporaries of a co_await expression twice.
    const Caller caller{ctx.station_id, ctx.version, ctx.connection};
    auto answer = co_await authorize_contract(caller, ctx.payload.json());
    co_return CallReply::ok(std::move(answer));
  }

  // A 2.0.1 AuthorizeResponse for a contract: the certificate first, then the token table
  // (which links the eMAID's driver, as for any token).
  boost::asio::awaitable<json> authorize_contract(const Caller& caller, const json& request) {
    const auto emaid = request.at("idToken").at("idToken").get<std::string>();
    std::optional<std::string> chain;
    if (auto it = request.find("certificate"); it != request.end()) chain = it->get<std::string>();
    std::vector<pnc::OcspRequestData> hash_data;
    if (auto it = request.find("iso15118CertificateHashData"); it != request.end())
      for (const auto& entry : *it) hash_data.push_back(request_data(entry));

    auto check = pnc_.check_contract(emaid, chain, std::move(hash_data));
    const auto verdict = co_await std::move(check);
    const std::string certificate_status = pnc::to_string(verdict.status);
    if (verdict.status != pnc::CertificateStatus::kAccepted) {
      log::warn("contract_refused", {{"station", caller.station_id},
                                     {"emaid", emaid},
                                     {"status", certificate_status},
                                     {"reason", verdict.reason}});
      co_return json{{"idTokenInfo", {{"status", token_status_for(verdict.status)}}},
                     {"certificateStatus", certificate_status}};
    }
    if (!verdict.reason.empty())
      log::warn("contract_accepted_without_ocsp",
                {{"station", caller.station_id}, {"emaid", emaid}, {"reason", verdict.reason}});
    const json token_request{{"idToken", {{"idToken", emaid}, {"type", "eMAID"}}}};
    CallContext token_ctx{caller.station_id, OcppVersion::v201, "Authorize", token_request,
                          caller.connection};
    auto reply = co_await token_authorize_(token_ctx);
    if (reply.error) throw std::runtime_error(reply.description);
    reply.payload["certificateStatus"] = certificate_status;
    co_return reply.payload;
  }

  // ---- GetCertificateStatus ----

  boost::asio::awaitable<json> certificate_status(const json& request) {
    const auto data = request_data(request.at("ocspRequestData"));
    auto ask = pnc_.certificate_status(data);
    const auto answer = co_await std::move(ask);
    if (!answer.accepted) {
      log::warn("certificate_status_failed",
                {{"responder", data.responder_url}, {"reason", answer.failure}});
      co_return json{{"status", "Failed"}, {"statusInfo", status_info("NoStatus", answer.failure)}};
    }
    co_return json{{"status", "Accepted"}, {"ocspResult", answer.ocsp_result}};
  }

  // ---- Get15118EVCertificate ----

  boost::asio::awaitable<json> ev_certificate(const json& request, OcppVersion version) {
    pnc::EvCertificateRequest forward{request.at("iso15118SchemaVersion").get<std::string>(),
                                      request.at("action").get<std::string>(),
                                      request.at("exiRequest").get<std::string>()};
    auto ask = pnc_.ev_certificate(std::move(forward));
    const auto answer = co_await std::move(ask);
    if (!answer.accepted) {
      log::warn("ev_certificate_failed", {{"reason", answer.failure}});
      co_return json{{"status", "Failed"},
                     {"exiResponse", ""},
                     {"statusInfo", status_info("NoCertificate", answer.failure)}};
    }
    json reply{{"status", "Accepted"}, {"exiResponse", answer.exi_response}};
    if (version == OcppVersion::v21 && answer.remaining_contracts)
      reply["remainingContracts"] = *answer.remaining_contracts;
    co_return reply;
  }

  // ---- SignCertificate (V2G) ----

  boost::asio::awaitable<CallReply> sign(CallContext& ctx) {
    const auto type = ctx.payload.json().value("certificateType", "");
    if (type != "V2GCertificate" && type != "V2G20Certificate")
      co_return co_await (ctx.version == OcppVersion::v21 ? sign_21_ : sign_201_)(ctx);
    const Caller caller{ctx.station_id, ctx.version, ctx.connection};
    auto [answer, after] = co_await sign_v2g(caller, ctx.payload.json(), type);
    auto reply = CallReply::ok(std::move(answer));
    reply.after_answer = std::move(after);
    co_return reply;
  }

  // A 2.0.1 SignCertificateResponse, and what to send once it is on its way.
  boost::asio::awaitable<std::pair<json, std::function<void()>>> sign_v2g(const Caller& caller,
                                                                          const json& request,
                                                                          const std::string& type) {
    auto& security = services_.security;
    const auto remote = caller.connection->remote_address();
    const auto refuse = [&](const std::string& code, const std::string& why, bool event) {
      log::warn("v2g_csr_rejected", {{"station", caller.station_id}, {"reason", why}});
      if (event)
        security.record_event(caller.station_id, security::events::kCsrRejected, why, remote);
      return std::pair<json, std::function<void()>>{
          {{"status", "Rejected"}, {"statusInfo", status_info(code, why)}}, nullptr};
    };
    // A SECC certificate makes vehicles trust the station: only a station that proved its
    // identity (password or client certificate) gets one.
    if (caller.connection->security_profile() < 1)
      co_return refuse("NotAuthenticated",
                       "V2G certificates are issued to authenticated connections (security "
                       "profile 1 or higher)",
                       true);
    const auto ca = pnc_.v2g_ca();
    if (!ca)
      co_return refuse("NotSupported", "no CPO sub-CA is configured (--cpo-sub-ca2-cert-file)",
                       false);
    security::V2gCsrRules rules;
    rules.profile = type == "V2G20Certificate" ? security::V2gProfile::kIso15118_20
                                               : security::V2gProfile::kIso15118_2;
    rules.secc_id = caller.station_id;
    rules.organisation = services_.config.v2g_organisation;
    rules.ocsp_url = services_.config.v2g_ocsp_url;
    rules.days = services_.config.v2g_cert_days;
    security::CertificateAuthority::Issued issued;
    try {
      issued = ca->sign_v2g_csr(request.at("csr").get<std::string>(), rules);
    } catch (const security::CsrRejected& e) {
      co_return refuse("InvalidCSR", e.what(), true);
    } catch (const std::exception& e) {
      log::error("v2g_csr_not_signed", {{"station", caller.station_id}, {"error", e.what()}});
      co_return std::pair<json, std::function<void()>>{
          {{"status", "Rejected"},
           {"statusInfo", status_info("InternalError", "the CSMS cannot sign now")}},
          nullptr};
    }
    const auto& info = issued.info;
    const auto not_after = base::format_rfc3339(info.not_after, base::TimePrecision::kSeconds);
    co_await services_.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      store::certificates::record_v2g(
          tx, {info.serial, caller.station_id, type, info.subject, info.fingerprint,
               base::format_rfc3339(info.not_before, base::TimePrecision::kSeconds), not_after,
               issued.chain_pem});
      tx.commit();
    });
    security.record_event(caller.station_id, kV2gCertificateIssued,
                          type + " serial " + info.serial + ", valid until " + not_after, remote);
    log::info("v2g_certificate_issued", {{"station", caller.station_id},
                                         {"serial", info.serial},
                                         {"type", type},
                                         {"not_after", not_after}});
    std::optional<int> request_id;
    if (auto it = request.find("requestId"); it != request.end()) request_id = it->get<int>();
    co_return std::pair<json, std::function<void()>>{
        {{"status", "Accepted"}},
        send_certificate(caller.station_id, issued.chain_pem, type, request_id, info.serial)};
  }

  std::function<void()> send_certificate(const std::string& station_id, std::string chain,
                                         std::string type, std::optional<int> request_id,
                                         std::string serial) {
    return [this, station_id, chain = std::move(chain), type = std::move(type), request_id,
            serial = std::move(serial)] {
      commands::StationCommand command;
      command.station_id = station_id;
      command.name = "certificate-signed";
      command.arguments = {{"certificate_chain", chain}, {"certificate_type", type}};
      if (request_id) command.arguments["request_id"] = *request_id;
      command.origin = commands::Origin::internal("pki");
      services_.commands.post(std::move(command), [station_id, serial](commands::CommandResult r) {
        auto payload = r.outcome.payload;
        // 1.6: the answer is in the DataTransfer's data.
        if (payload.contains("data") && payload["data"].is_string())
          payload = json::parse(payload["data"].get<std::string>(), nullptr, false);
        const bool accepted = r.outcome.kind == commands::Outcome::Kind::Answered &&
                              payload.is_object() && payload.value("status", "") == "Accepted";
        if (accepted)
          log::info("v2g_certificate_installed", {{"station", station_id}, {"serial", serial}});
        else
          log::warn(
              "v2g_certificate_not_installed",
              {{"station", station_id}, {"serial", serial}, {"answer", r.outcome.payload.dump()}});
      });
    };
  }

  // ---- OCPP 1.6: the application note's DataTransfer ----

  boost::asio::awaitable<CallReply> data_transfer_16(CallContext& ctx) {
    if (ctx.payload.json().value("vendorId", "") != kPncVendor)
      co_return co_await data_transfer_16_(ctx);
    const auto message = ctx.payload.json().value("messageId", "");
    const bool known = message == "Authorize" || message == "GetCertificateStatus" ||
                       message == "Get15118EVCertificate" || message == "SignCertificate";
    if (!known) co_return CallReply::ok({{"status", "UnknownMessageId"}});
    const auto data =
        ctx.payload.json().contains("data") && ctx.payload.json()["data"].is_string()
            ? json::parse(ctx.payload.json()["data"].get<std::string>(), nullptr, false)
            : json();
    if (!data.is_object())
      co_return rejected_16(message, "data must be the message's JSON object as a string");
    if (auto invalid =
            protocols::validate(OcppVersion::v201, message, protocols::Direction::Request, data))
      co_return rejected_16(message, "data" + invalid->path + ": " + invalid->message);
    if (auto nul = protocols::find_nul_character(data))
      co_return rejected_16(message, "data" + nul->path + ": " + nul->message);

    Caller caller{ctx.station_id, ctx.version, ctx.connection};
    json answer;
    std::function<void()> after;
    if (message == "Authorize") {
      const bool contract =
          data.at("idToken").value("type", "") == "eMAID" &&
          (data.contains("certificate") || data.contains("iso15118CertificateHashData"));
      if (contract) {
        auto contract_answer = co_await authorize_contract(caller, data);
        answer = std::move(contract_answer);
      } else {
        CallContext token_ctx{ctx.station_id, OcppVersion::v201, "Authorize", data, ctx.connection};
        auto reply = co_await token_authorize_(token_ctx);
        if (reply.error) co_return std::move(reply);
        answer = std::move(reply.payload);
      }
    } else if (message == "GetCertificateStatus") {
      auto status_answer = co_await certificate_status(data);
      answer = std::move(status_answer);
    } else if (message == "Get15118EVCertificate") {
      auto ev_answer = co_await ev_certificate(data, OcppVersion::v201);
      answer = std::move(ev_answer);
    } else {
      const auto type = data.value("certificateType", "V2GCertificate");
      if (type != "V2GCertificate")
        co_return CallReply::ok(
            {{"status", "Accepted"},
             {"data", json{{"status", "Rejected"},
                           {"statusInfo", status_info("UnsupportedCertType",
                                                      "the 1.6 Plug & Charge form signs "
                                                      "V2GCertificate; ChargingStationCertificate "
                                                      "goes in SignCertificate")}}
                          .dump()}});
      auto signed_answer = co_await sign_v2g(caller, data, type);
      std::tie(answer, after) = std::move(signed_answer);
    }
    auto reply = CallReply::ok({{"status", "Accepted"}, {"data", answer.dump()}});
    reply.after_answer = std::move(after);
    co_return reply;
  }

  static CallReply rejected_16(const std::string& message, const std::string& why) {
    log::warn("pnc_data_transfer_rejected", {{"message", message}, {"reason", why}});
    return CallReply::ok({{"status", "Rejected"}, {"data", why.substr(0, 512)}});
  }

  Services& services_;
  pnc::PlugAndCharge& pnc_;
  Handler token_authorize_, sign_201_, sign_21_, data_transfer_16_;
};

}  // namespace

void register_iso15118(HandlerRegistry& registry, Services& services, pnc::PlugAndCharge& service) {
  Iso15118::register_handlers(registry, std::make_shared<Iso15118>(services, service, registry));
}

}  // namespace chargegrid::server::ocpp
