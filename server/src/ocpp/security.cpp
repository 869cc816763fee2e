// Security: SecurityEventNotification, stored for operators and audits; SignCertificate for
// the station's ChargingStationCertificate (1.6 security extension, 2.0.1, 2.1), answered and
// followed by CertificateSigned with the new chain.

#include "security/security.hpp"

#include <pqxx/pqxx>

#include "chargegrid/base/time.hpp"
#include "commands/command_router.hpp"
#include "connections/station_connection.hpp"
#include "logging.hpp"
#include "ocpp/adapters/adapters.hpp"
#include "ocpp/common.hpp"
#include "store/station_reports.hpp"

namespace chargegrid::server::ocpp {

namespace {

Handler security_event(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto event = adapters::read<SecurityEvent>(ctx.version, ctx.payload);
    const auto& type = event.type;
    const auto& at = event.timestamp;
    const auto& info = event.tech_info;
    co_await services.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      store::station_reports::record_security_event(tx, {ctx.station_id, type, at, info});
      tx.commit();
    });
    log::warn("station_security_event", {{"station", ctx.station_id}, {"type", type}});
    co_return CallReply::ok(nlohmann::json::object());
  };
}

// SignCertificate's answer: 1.6 has only a status; 2.x may say why.
nlohmann::json sign_answer(protocols::OcppVersion version, bool accepted,
                           const std::string& reason_code = {}, const std::string& info = {}) {
  nlohmann::json answer{{"status", accepted ? "Accepted" : "Rejected"}};
  if (!accepted && version != protocols::OcppVersion::v16)
    answer["statusInfo"] = {{"reasonCode", reason_code}, {"additionalInfo", info.substr(0, 512)}};
  return answer;
}

// Sends CertificateSigned once the SignCertificate answer is on its way.
std::function<void()> send_certificate(Services& services, const std::string& station_id,
                                       std::string chain, std::optional<int> request_id,
                                       std::string serial) {
  return [&services, station_id, chain = std::move(chain), request_id, serial = std::move(serial)] {
    commands::StationCommand command;
    command.station_id = station_id;
    command.name = "certificate-signed";
    command.arguments = {{"certificate_chain", chain}};
    if (request_id) command.arguments["request_id"] = *request_id;
    command.origin = commands::Origin::internal("pki");
    services.commands.post(std::move(command), [station_id, serial](commands::CommandResult r) {
      const bool accepted = r.outcome.kind == commands::Outcome::Kind::Answered &&
                            r.outcome.payload.value("status", "") == "Accepted";
      if (accepted)
        log::info("station_certificate_installed", {{"station", station_id}, {"serial", serial}});
      else
        log::warn(
            "station_certificate_not_installed",
            {{"station", station_id}, {"serial", serial}, {"answer", r.outcome.payload.dump()}});
    });
  };
}

Handler sign_certificate(Services& services) {
  return [&services](CallContext& ctx) -> boost::asio::awaitable<CallReply> {
    const auto csr = ctx.payload.json().at("csr").get<std::string>();
    const auto type = optional_field<std::string>(ctx.payload.json(), "certificateType");
    const auto request_id = optional_field<int>(ctx.payload.json(), "requestId");
    const auto remote = ctx.connection->remote_address();
    auto& security = services.security;

    if (type && *type != "ChargingStationCertificate")
      co_return CallReply::ok(sign_answer(ctx.version, false, "UnsupportedCertType",
                                          "this CSMS signs ChargingStationCertificate only"));
    // A client certificate proves the station's identity from then on, so only a connection
    // that proved it already over TLS gets one (profile 2 or 3).
    if (ctx.connection->security_profile() < 2) {
      const std::string why =
          "certificates are issued to connections authenticated over TLS "
          "(security profile 2 or 3); this one is profile " +
          std::to_string(ctx.connection->security_profile());
      log::warn("station_csr_rejected", {{"station", ctx.station_id}, {"reason", why}});
      security.record_event(ctx.station_id, security::events::kCsrRejected, why, remote);
      co_return CallReply::ok(sign_answer(ctx.version, false, "NotAuthenticated", why));
    }

    std::optional<security::CertificateAuthority::Issued> issued;
    std::string rejection;
    bool ca_missing = false;
    try {
      auto ca = security.certificate_authority();
      issued = ca->sign_station_csr(csr, ctx.station_id, security.identity_field(),
                                    services.config.station_cert_days);
    } catch (const security::CsrRejected& e) {
      rejection = e.what();
    } catch (const std::exception& e) {
      rejection = e.what();
      ca_missing = true;
    }
    if (!issued) {
      if (ca_missing) {
        log::error("station_csr_not_signed", {{"station", ctx.station_id}, {"error", rejection}});
        co_return CallReply::ok(sign_answer(ctx.version, false, "InternalError",
                                            "the CSMS cannot sign certificates now"));
      }
      log::warn("station_csr_rejected", {{"station", ctx.station_id}, {"reason", rejection}});
      security.record_event(ctx.station_id, security::events::kCsrRejected, rejection, remote);
      co_return CallReply::ok(sign_answer(ctx.version, false, "InvalidCSR", rejection));
    }

    const auto& info = issued->info;
    const auto not_before = base::format_rfc3339(info.not_before, base::TimePrecision::kSeconds);
    const auto not_after = base::format_rfc3339(info.not_after, base::TimePrecision::kSeconds);
    co_await services.database.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      store::station_reports::record_certificate(
          tx, {info.serial, ctx.station_id, info.subject, info.fingerprint, not_before, not_after,
               issued->chain_pem});
      tx.commit();
    });
    security.record_event(ctx.station_id, security::events::kCertificateIssued,
                          "serial " + info.serial + ", valid until " + not_after, remote);
    log::info("station_certificate_issued", {{"station", ctx.station_id},
                                             {"serial", info.serial},
                                             {"subject", info.subject},
                                             {"not_after", not_after}});
    auto reply = CallReply::ok(sign_answer(ctx.version, true));
    reply.after_answer =
        send_certificate(services, ctx.station_id, issued->chain_pem, request_id, info.serial);
    co_return reply;
  };
}

}  // namespace

void register_security(HandlerRegistry& registry, Services& services) {
  add_201_and_21(registry, "SecurityEventNotification", security_event(services));
  registry.add(protocols::OcppVersion::v16, "SignCertificate", sign_certificate(services));
  add_201_and_21(registry, "SignCertificate", sign_certificate(services));
}

}  // namespace chargegrid::server::ocpp
