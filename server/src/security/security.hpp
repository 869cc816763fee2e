#pragma once
// Station security as the server holds it: the wss TLS context and the CA for SignCertificate
// (both reloadable), the connection and failure limits, the password checker, and the
// security events the CSMS detects itself. One per Server; thread-safe.

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chargegrid/db/pool.hpp"
#include "chargegrid/server/config.hpp"
#include "security/limits.hpp"
#include "security/password_checker.hpp"
#include "security/pki.hpp"
#include "security/station_auth.hpp"

namespace chargegrid::server::security {

class Security {
 public:
  // Loads (or, with none configured, creates in data_dir/pki) the TLS certificate and the CA;
  // throws std::runtime_error naming the file at fault.
  Security(const Config& config, db::ConnectionPool& pool);
  ~Security();
  Security(const Security&) = delete;
  Security& operator=(const Security&) = delete;

  // The context new wss connections use; nullptr when TLS is off.
  std::shared_ptr<boost::asio::ssl::context> tls_context() const;
  // The CA that signs station CSRs. Without a configured CA the development CA in
  // data_dir/pki is used, created on first use. Throws std::runtime_error when unavailable.
  std::shared_ptr<const CertificateAuthority> certificate_authority();
  // Reads the certificate, key and CA files again: new connections use them, open ones keep
  // what they had. On a failure the previous ones stay in use; the failures are returned.
  std::vector<std::string> reload();

  ConnectionLimits& connections() { return connections_; }
  FailureThrottle& failures() { return failures_; }
  PasswordChecker& passwords() { return passwords_; }
  LogThrottle& refusal_log() { return refusal_log_; }
  const std::string& identity_field() const { return config_.station_cert_identity; }

  // The last security settings read for a station, used while the database is away.
  void remember_station(const std::string& station_id, const StationSecurity& security);
  std::optional<StationSecurity> recall_station(const std::string& station_id) const;

  // Stores a security event the CSMS detected (source 'csms'), without waiting; logged when
  // the database cannot take it.
  void record_event(const std::string& station_id, std::string_view type,
                    const std::string& tech_info, const std::string& remote_address);

  // Stops the password workers (before the I/O threads go).
  void stop();

 private:
  // Builds the TLS context and the CA from their files (the development PKI standing in for
  // those not configured; for the CA only when it exists or `create_development_ca`).
  void load(bool create_development_ca);

  const Config& config_;
  db::ConnectionPool& pool_;
  ConnectionLimits connections_;
  FailureThrottle failures_;
  PasswordChecker passwords_;
  LogThrottle refusal_log_{std::chrono::seconds(10)};

  mutable std::mutex mutex_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::shared_ptr<const CertificateAuthority> ca_;
  std::unordered_map<std::string, StationSecurity> stations_;
};

}  // namespace chargegrid::server::security
