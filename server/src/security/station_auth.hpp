#pragma once
// Who may open a station connection: the decision between a WebSocket upgrade request and
// the station's configured security profile (docs/security.md). Pure logic: the session
// gathers the facts (TLS or not, the client certificate, the Authorization header, the
// station's row) and carries out the verdict.
//
//   profile 0  no authentication (only for stations configured 0, and only while
//              --min-security-profile is 0)
//   profile 1  HTTP Basic (user = station id) on ws or wss
//   profile 2  HTTP Basic on wss (TLS)
//   profile 3  wss with a client certificate that chains to a station CA and names the station
//
// A connection may be stronger than the station's profile, never weaker.

#include <optional>
#include <string>
#include <string_view>

namespace chargegrid::server::security {

// What TLS learnt about the client's certificate (nothing on ws).
struct ClientCertificate {
  bool presented = false;
  bool trusted = false;                 // chains to a station CA and is within its validity
  std::string problem;                  // why not trusted, in OpenSSL's words
  std::optional<std::string> identity;  // the configured subject field (CN by default)
};

struct BasicCredentials {
  std::string user;
  std::string password;
};

// The Authorization header of an upgrade request.
struct AuthorizationHeader {
  enum class State { Missing, Malformed, Basic } state = State::Missing;
  BasicCredentials credentials;
};
AuthorizationHeader parse_authorization(std::string_view header);

// The station's row: configured profile and password hash (empty when none is set).
struct StationSecurity {
  int profile = 0;
  std::string password_hash;
};

struct AuthRequest {
  std::string station_id;
  bool tls = false;
  ClientCertificate certificate;
  AuthorizationHeader authorization;
  std::optional<StationSecurity> station;  // nullopt: no such station
  int min_profile = 0;                     // --min-security-profile
};

struct Verdict {
  enum class Kind { Accept, CheckPassword, Refuse } kind = Kind::Refuse;
  int profile = 0;     // Accept/CheckPassword: the profile this connection reaches
  int status = 401;    // Refuse: the HTTP status (401 credentials, 403 too weak a connection)
  std::string event;   // Refuse: the security event type stored
  std::string reason;  // Refuse: for the log, the security event and the response body
};

// Accept, Refuse, or CheckPassword: the answer depends on the password, which the caller
// checks against the station's hash (slowly, off the I/O threads) and passes to
// password_verdict().
Verdict evaluate(const AuthRequest& request);
Verdict password_verdict(const Verdict& pending, bool password_matches);

// Security event types stored for refused connections (source 'csms').
namespace events {
inline constexpr std::string_view kAuthenticationFailed = "AuthenticationFailed";
inline constexpr std::string_view kInvalidCertificate = "InvalidChargingStationCertificate";
inline constexpr std::string_view kDowngrade = "SecurityProfileDowngrade";
inline constexpr std::string_view kBelowMinimum = "SecurityProfileBelowMinimum";
inline constexpr std::string_view kUnknownStation = "UnknownStation";
inline constexpr std::string_view kRateLimited = "AuthenticationRateLimited";
inline constexpr std::string_view kCertificateIssued = "ChargingStationCertificateIssued";
inline constexpr std::string_view kCsrRejected = "CertificateSigningRequestRejected";
}  // namespace events

}  // namespace chargegrid::server::security
