// The connection decision (security/station_auth) for every profile and transport, the
// Authorization header parser, and the limits' building blocks.

#include "security/station_auth.hpp"

#include <catch2/catch.hpp>

#include "security/limits.hpp"

using namespace chargegrid::server::security;
using Kind = Verdict::Kind;
using namespace std::chrono_literals;

namespace {

AuthorizationHeader basic(const std::string& user, const std::string& password) {
  return {AuthorizationHeader::State::Basic, {user, password}};
}

AuthRequest request(int profile, bool tls) {
  AuthRequest r;
  r.station_id = "CS-1";
  r.tls = tls;
  r.station = StationSecurity{profile, "pbkdf2-sha256$1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA=="};
  return r;
}

ClientCertificate good_certificate(const std::string& name = "CS-1") {
  return {true, true, "", name};
}

}  // namespace

TEST_CASE("Authorization headers: Basic credentials or why not") {
  auto h =
      parse_authorization("Basic Q1MtMTpzM2NyZXQ6d2l0aDpjb2xvbnM=");  // CS-1:s3cret:with:colons
  REQUIRE(h.state == AuthorizationHeader::State::Basic);
  CHECK(h.credentials.user == "CS-1");
  CHECK(h.credentials.password == "s3cret:with:colons");
  CHECK(parse_authorization("basic   Q1MtMTpw").state == AuthorizationHeader::State::Basic);
  CHECK(parse_authorization("").state == AuthorizationHeader::State::Missing);
  CHECK(parse_authorization("   ").state == AuthorizationHeader::State::Missing);
  CHECK(parse_authorization("Bearer Q1MtMTpw").state == AuthorizationHeader::State::Malformed);
  CHECK(parse_authorization("Basic").state == AuthorizationHeader::State::Malformed);
  CHECK(parse_authorization("Basic Q1MtMQ==").state ==
        AuthorizationHeader::State::Malformed);  // no ':'
  CHECK(parse_authorization("Basic %%%%").state == AuthorizationHeader::State::Malformed);
  // A 1.6 AuthorizationKey is sent as raw bytes, which may be anything.
  auto raw = parse_authorization("Basic Q1MtMTr/AAE=");  // "CS-1:" + ff 00 01
  REQUIRE(raw.state == AuthorizationHeader::State::Basic);
  CHECK(raw.credentials.password == std::string("\xff\x00\x01", 3));
}

TEST_CASE("profile 0 stations need nothing unless the server requires more") {
  auto r = request(0, false);
  CHECK(evaluate(r).kind == Kind::Accept);
  CHECK(evaluate(r).profile == 0);
  r.min_profile = 1;
  r.authorization = basic("CS-1", "pw");
  auto v = evaluate(r);
  CHECK(v.kind == Kind::CheckPassword);  // a profile 0 station with a password may still log in
  r.station->password_hash.clear();
  v = evaluate(r);
  CHECK(v.kind == Kind::Refuse);
  r.authorization = {};
  v = evaluate(r);
  CHECK(v.kind == Kind::Refuse);
  CHECK(v.status == 401);
  r.min_profile = 2;  // and plain ws cannot reach 2
  v = evaluate(r);
  CHECK(v.status == 403);
  CHECK(v.event == events::kBelowMinimum);
}

TEST_CASE("unknown stations are profile 0, and refused once the server requires a profile") {
  AuthRequest r;
  r.station_id = "NEW";
  CHECK(evaluate(r).kind == Kind::Accept);
  r.min_profile = 1;
  r.authorization = basic("NEW", "whatever-password");
  auto v = evaluate(r);
  CHECK(v.kind == Kind::Refuse);
  CHECK(v.status == 401);
  CHECK(v.event == events::kUnknownStation);
}

TEST_CASE("profiles 1 and 2 check the password, the user must be the station id") {
  for (bool tls : {false, true}) {
    auto r = request(1, tls);
    r.authorization = basic("CS-1", "pw");
    auto v = evaluate(r);
    REQUIRE(v.kind == Kind::CheckPassword);
    CHECK(v.profile == (tls ? 2 : 1));
    CHECK(password_verdict(v, true).kind == Kind::Accept);
    CHECK(password_verdict(v, true).profile == v.profile);
    auto wrong = password_verdict(v, false);
    CHECK(wrong.kind == Kind::Refuse);
    CHECK(wrong.status == 401);
    CHECK(wrong.event == events::kAuthenticationFailed);
    CHECK(wrong.reason == "wrong password");

    r.authorization = basic("cs-1", "pw");  // identities are case-sensitive
    CHECK(evaluate(r).reason == "user name does not match the station id");
    r.authorization = {};
    CHECK(evaluate(r).reason == "no credentials (HTTP Basic required)");
    r.authorization.state = AuthorizationHeader::State::Malformed;
    CHECK(evaluate(r).status == 401);
  }
  auto r = request(2, true);
  r.authorization = basic("CS-1", "pw");
  r.station->password_hash.clear();
  CHECK(evaluate(r).reason == "no password is set for this station");
}

TEST_CASE("profile 2 on plain ws is a downgrade") {
  auto r = request(2, false);
  r.authorization = basic("CS-1", "pw");
  auto v = evaluate(r);
  CHECK(v.kind == Kind::Refuse);
  CHECK(v.status == 403);
  CHECK(v.event == events::kDowngrade);
  r.station->profile = 1;
  r.min_profile = 2;
  CHECK(evaluate(r).event == events::kBelowMinimum);
}

TEST_CASE("profile 3 needs a trusted certificate naming the station") {
  auto r = request(3, true);
  r.certificate = good_certificate();
  CHECK(evaluate(r).kind == Kind::Accept);
  CHECK(evaluate(r).profile == 3);

  r.certificate = good_certificate("CS-2");
  auto v = evaluate(r);
  CHECK(v.status == 401);
  CHECK(v.event == events::kInvalidCertificate);
  CHECK(v.reason == "client certificate names 'CS-2', not 'CS-1'");

  r.certificate = {true, false, "certificate has expired", "CS-1"};
  CHECK(evaluate(r).reason == "client certificate not trusted: certificate has expired");
  r.certificate = {true, true, "", std::nullopt};
  CHECK(evaluate(r).event == events::kInvalidCertificate);

  // A password instead of a certificate, or plain ws, is a downgrade.
  r.certificate = {};
  r.authorization = basic("CS-1", "pw");
  v = evaluate(r);
  CHECK(v.status == 403);
  CHECK(v.event == events::kDowngrade);
  r.tls = false;
  r.certificate = good_certificate();  // cannot be: ws has no certificates
  CHECK(evaluate(r).event == events::kDowngrade);
}

TEST_CASE("a certificate lifts a lower-profile station to profile 3 without a password") {
  for (int profile : {0, 1, 2}) {
    auto r = request(profile, true);
    r.certificate = good_certificate();
    CHECK(evaluate(r).kind == Kind::Accept);
    CHECK(evaluate(r).profile == 3);
  }
  // An untrusted certificate does not stop a password from working (profile 2 stations may
  // carry old certificates).
  auto r = request(2, true);
  r.certificate = {true, false, "unable to get local issuer certificate", "CS-1"};
  r.authorization = basic("CS-1", "pw");
  CHECK(evaluate(r).kind == Kind::CheckPassword);
}

TEST_CASE("token buckets refill at their rate up to their burst") {
  const auto t0 = Clock::now();
  TokenBucket bucket(2.0, 3.0, t0);
  CHECK(bucket.take(t0));
  CHECK(bucket.take(t0));
  CHECK(bucket.take(t0));
  CHECK_FALSE(bucket.take(t0));
  CHECK(bucket.wait_seconds(t0) == Approx(0.5));
  CHECK_FALSE(bucket.take(t0 + 400ms));
  CHECK(bucket.take(t0 + 600ms));
  CHECK_FALSE(bucket.idle(t0 + 1s));
  CHECK(bucket.idle(t0 + 2s));
  // Never more than the burst, however long it waited.
  const auto later = t0 + 1h;
  int taken = 0;
  while (bucket.take(later)) ++taken;
  CHECK(taken == 3);
}

TEST_CASE("failed handshakes block a source once its bucket is empty") {
  FailureThrottle throttle(3);  // 3 a minute
  const auto t0 = Clock::now();
  CHECK(throttle.blocked_for("10.0.0.1", t0) == 0);
  CHECK_FALSE(throttle.record_failure("10.0.0.1", t0));
  CHECK_FALSE(throttle.record_failure("10.0.0.1", t0));
  CHECK(throttle.record_failure("10.0.0.1", t0));  // the third: now blocked
  CHECK(throttle.blocked_for("10.0.0.1", t0) == 20);
  CHECK(throttle.blocked_for("10.0.0.2", t0) == 0);
  CHECK(throttle.blocked_for("10.0.0.1", t0 + 21s) == 0);
  FailureThrottle off(0);
  for (int i = 0; i < 100; ++i) off.record_failure("x", t0);
  CHECK(off.blocked_for("x", t0) == 0);
}

TEST_CASE("limits count IPv4 addresses alone and IPv6 addresses by /64") {
  using boost::asio::ip::make_address;
  CHECK(address_key(make_address("192.0.2.7")) == "192.0.2.7");
  CHECK(address_key(make_address("::ffff:192.0.2.7")) == "192.0.2.7");
  CHECK(address_key(make_address("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64");
  CHECK(address_key(make_address("2001:db8:1:2:bbbb::9")) == "2001:db8:1:2::/64");
}

TEST_CASE("connection tickets hold a place until they are dropped") {
  using boost::asio::ip::make_address;
  ConnectionLimits limits(3, 2);
  auto why = ConnectionLimits::Refusal::None;
  auto a = limits.admit(make_address("192.0.2.1"), why);
  auto b = limits.admit(make_address("192.0.2.1"), why);
  REQUIRE(a);
  REQUIRE(b);
  CHECK_FALSE(limits.admit(make_address("192.0.2.1"), why));
  CHECK(why == ConnectionLimits::Refusal::PerAddress);
  auto c = limits.admit(make_address("192.0.2.2"), why);
  REQUIRE(c);
  CHECK_FALSE(limits.admit(make_address("192.0.2.3"), why));
  CHECK(why == ConnectionLimits::Refusal::Total);
  CHECK(limits.open() == 3);
  a.reset();
  CHECK(limits.open() == 2);
  auto moved = std::move(*b);
  b.reset();  // the moved-from ticket holds nothing
  CHECK(limits.open() == 2);
  CHECK(limits.admit(make_address("192.0.2.1"), why));  // and is given back at once
  CHECK(limits.open() == 2);
}
