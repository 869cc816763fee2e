#include "security/security.hpp"

#include <pqxx/pqxx>
#include <thread>

#include "chargegrid/base/time.hpp"
#include "logging.hpp"
#include "security/tls.hpp"
#include "store/station_reports.hpp"

namespace chargegrid::server::security {

namespace {

// A check takes tens of milliseconds of one core: half the cores check, the rest serve.
std::size_t checker_threads() {
  return std::max(1u, std::thread::hardware_concurrency() / 2);
}

void log_certificate(std::string_view event, const std::string& file, const CertificateInfo& info) {
  log::info(event,
            {{"file", file},
             {"subject", info.subject},
             {"serial", info.serial},
             {"not_after", base::format_rfc3339(info.not_after, base::TimePrecision::kSeconds)}});
  const auto left = info.not_after - std::chrono::system_clock::now();
  if (left < std::chrono::hours(24 * 30))
    log::warn("certificate_expires_soon",
              {{"file", file},
               {"subject", info.subject},
               {"not_after", base::format_rfc3339(info.not_after, base::TimePrecision::kSeconds)}});
}

}  // namespace

Security::Security(const Config& config, db::ConnectionPool& pool)
    : config_(config),
      pool_(pool),
      connections_(config.max_connections, config.max_connections_per_address),
      failures_(config.auth_failures_per_minute),
      passwords_(checker_threads(), 256) {
  subject_field_nid(config.station_cert_identity);  // an unknown field name fails now
  load(false);
}

Security::~Security() {
  stop();
}

void Security::stop() {
  passwords_.stop();
}

void Security::load(bool create_development_ca) {
  namespace fs = std::filesystem;
  std::optional<DevelopmentPki> dev;
  auto development = [&]() -> const DevelopmentPki& {
    if (!dev) {
      dev = ensure_development_pki(fs::path(config_.data_dir) / "pki");
      log::warn(dev->created ? "development_pki_created" : "development_pki_in_use",
                {{"ca", dev->ca_cert.string()},
                 {"certificate", dev->server_cert.string()},
                 {"note",
                  "for development only: stations must trust this CA; configure "
                  "--tls-cert-file and --ca-cert-file for production"}});
    }
    return *dev;
  };

  std::shared_ptr<boost::asio::ssl::context> tls;
  if (config_.tls) {
    TlsFiles files;
    const bool own_certificate = !config_.tls_cert_file.empty();
    files.certificate_chain =
        own_certificate ? fs::path(config_.tls_cert_file) : development().server_cert;
    files.private_key = own_certificate ? fs::path(config_.tls_key_file) : development().server_key;
    files.station_ca = !config_.station_ca_file.empty() ? fs::path(config_.station_ca_file)
                       : !config_.ca_cert_file.empty()  ? fs::path(config_.ca_cert_file)
                                                        : development().ca_cert;
    if (!config_.tls_ciphers.empty()) files.ciphers = config_.tls_ciphers;
    tls = make_station_tls_context(files);
    auto chain = certificates_from_pem(read_text_file(files.certificate_chain));
    if (!chain.empty())
      log_certificate("tls_certificate_loaded", files.certificate_chain.string(),
                      describe(chain.front().get()));
  }

  std::shared_ptr<const CertificateAuthority> ca;
  std::string ca_file = config_.ca_cert_file;
  if (!ca_file.empty()) {
    ca = CertificateAuthority::load(ca_file, config_.ca_key_file);
  } else if (dev || create_development_ca) {
    ca_file = development().ca_cert.string();
    ca = CertificateAuthority::load(development().ca_cert, development().ca_key);
  }
  if (ca) log_certificate("signing_ca_loaded", ca_file, ca->info());

  std::lock_guard lock(mutex_);
  if (tls) tls_ = std::move(tls);
  if (ca) ca_ = std::move(ca);
}

std::shared_ptr<boost::asio::ssl::context> Security::tls_context() const {
  std::lock_guard lock(mutex_);
  return tls_;
}

std::shared_ptr<const CertificateAuthority> Security::certificate_authority() {
  {
    std::lock_guard lock(mutex_);
    if (ca_) return ca_;
  }
  load(true);
  std::lock_guard lock(mutex_);
  if (!ca_) throw std::runtime_error("no certificate authority is configured");
  return ca_;
}

std::vector<std::string> Security::reload() {
  try {
    bool had_ca = false;
    {
      std::lock_guard lock(mutex_);
      had_ca = ca_ != nullptr;
    }
    load(had_ca);
    log::info("security_files_reloaded");
    return {};
  } catch (const std::exception& e) {
    log::error("security_files_reload_failed",
               {{"error", e.what()}, {"note", "the previous certificates stay in use"}});
    return {e.what()};
  }
}

void Security::remember_station(const std::string& station_id, const StationSecurity& security) {
  std::lock_guard lock(mutex_);
  stations_[station_id] = security;
}

std::optional<StationSecurity> Security::recall_station(const std::string& station_id) const {
  std::lock_guard lock(mutex_);
  auto it = stations_.find(station_id);
  if (it == stations_.end()) return std::nullopt;
  return it->second;
}

void Security::record_event(const std::string& station_id, std::string_view type,
                            const std::string& tech_info, const std::string& remote_address) {
  const bool queued = pool_.try_submit(
      [station_id, type = std::string(type), tech_info, remote_address](pqxx::connection& c) {
        pqxx::work tx(c);
        store::station_reports::record_security_event(
            tx, {station_id, type, std::nullopt, tech_info.substr(0, 255), "csms", remote_address});
        tx.commit();
      },
      [station_id, type = std::string(type)](std::exception_ptr) {
        log::error("security_event_not_stored", {{"station", station_id}, {"type", type}});
      });
  if (!queued)
    log::error("security_event_not_stored",
               {{"station", station_id}, {"type", std::string(type)}, {"error", "queue full"}});
}

}  // namespace chargegrid::server::security
