#include "security/station_auth.hpp"

#include <algorithm>
#include <cctype>

#include "chargegrid/base/encoding.hpp"

namespace chargegrid::server::security {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Verdict accept(int profile) {
  return {Verdict::Kind::Accept, profile, 0, {}, {}};
}

Verdict refuse(int status, std::string_view event, std::string reason) {
  return {Verdict::Kind::Refuse, 0, status, std::string(event), std::move(reason)};
}

std::string profile_text(int profile) {
  return "security profile " + std::to_string(profile);
}

// What a connection that failed to reach `required` offered instead, for the reason text.
std::string offered(const AuthRequest& r) {
  const bool password = r.authorization.state == AuthorizationHeader::State::Basic;
  std::string what = r.tls ? "wss with " : "unencrypted ws with ";
  if (r.tls)
    what += r.certificate.presented ? "a client certificate and " : "no client certificate and ";
  return what + (password ? "a password" : "no password");
}

}  // namespace

AuthorizationHeader parse_authorization(std::string_view header) {
  AuthorizationHeader out;
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t'))
    header.remove_prefix(1);
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t'))
    header.remove_suffix(1);
  if (header.empty()) return out;
  out.state = AuthorizationHeader::State::Malformed;
  const auto space = header.find(' ');
  if (space == std::string_view::npos || !iequals(header.substr(0, space), "Basic")) return out;
  auto token = header.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  auto decoded = base::base64_decode_to_string(token);
  if (!decoded) return out;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return out;
  out.state = AuthorizationHeader::State::Basic;
  out.credentials.user = decoded->substr(0, colon);
  out.credentials.password = decoded->substr(colon + 1);
  return out;
}

Verdict evaluate(const AuthRequest& r) {
  const bool known = r.station.has_value();
  const int configured = known ? r.station->profile : 0;
  const int required = std::max(configured, r.min_profile);
  const bool certificate_ok = r.tls && r.certificate.presented && r.certificate.trusted &&
                              r.certificate.identity == r.station_id;

  if (!known && r.min_profile >= 1)
    return refuse(401, events::kUnknownStation,
                  "unknown station (stations must be registered with a security profile and "
                  "credentials before they connect)");
  if (required == 0) return accept(certificate_ok ? 3 : 0);
  if (certificate_ok) return accept(3);

  // Refused because the connection cannot reach `required` at all.
  const auto too_weak = [&](std::string_view needs) {
    return refuse(403, configured == required ? events::kDowngrade : events::kBelowMinimum,
                  "the station requires " + profile_text(required) + " (" + std::string(needs) +
                      "); this connection is " + offered(r));
  };
  if (required == 3) {
    if (!r.tls) return too_weak("wss with a client certificate");
    if (!r.certificate.presented) return too_weak("a client certificate");
    // A certificate that was presented but does not prove the identity.
    if (!r.certificate.trusted)
      return refuse(401, events::kInvalidCertificate,
                    "client certificate not trusted: " + r.certificate.problem);
    if (!r.certificate.identity)
      return refuse(401, events::kInvalidCertificate,
                    "client certificate has no subject field naming the station");
    return refuse(
        401, events::kInvalidCertificate,
        "client certificate names '" + *r.certificate.identity + "', not '" + r.station_id + "'");
  }
  if (required == 2 && !r.tls) return too_weak("wss with a password");

  // Profiles 1 and 2: HTTP Basic.
  switch (r.authorization.state) {
    case AuthorizationHeader::State::Missing:
      return refuse(401, events::kAuthenticationFailed, "no credentials (HTTP Basic required)");
    case AuthorizationHeader::State::Malformed:
      return refuse(401, events::kAuthenticationFailed,
                    "Authorization header is not HTTP Basic credentials");
    case AuthorizationHeader::State::Basic:
      break;
  }
  if (r.authorization.credentials.user != r.station_id)
    return refuse(401, events::kAuthenticationFailed, "user name does not match the station id");
  if (!known || r.station->password_hash.empty())
    return refuse(401, events::kAuthenticationFailed, "no password is set for this station");
  return {Verdict::Kind::CheckPassword, r.tls ? 2 : 1, 0, {}, {}};
}

Verdict password_verdict(const Verdict& pending, bool password_matches) {
  if (password_matches) return accept(pending.profile);
  return refuse(401, events::kAuthenticationFailed, "wrong password");
}

}  // namespace chargegrid::server::security
