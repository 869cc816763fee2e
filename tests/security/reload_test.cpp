// Rotating the server's own certificate: new files are read on SIGHUP (or
// reload_certificates()); new connections get the new certificate, open ones go on, and a
// broken file leaves the previous certificate in use.

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>

#include "security_fixture.hpp"
#include "tls_station.hpp"

using namespace chargegrid::testing;

namespace {

// The serial number of a PEM certificate, as hexadecimal without leading zeros.
std::string serial_of(const std::string& file) {
  std::string out;
  FILE* pipe = ::popen(("openssl x509 -noout -serial -in " + file).c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
  ::pclose(pipe);
  out = out.substr(out.find('=') + 1);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.substr(out.find_first_not_of('0'));
}

std::string without_leading_zeros(const std::string& hex) {
  return hex.substr(hex.find_first_not_of('0'));
}

// The serial of the certificate the server shows a new connection.
std::string served_serial(ServerFixture& fixture, const TestPki& pki) {
  TlsStation station;
  station.connect(fixture.server().ocpp_tls_port(), "SEC-P0", "ocpp2.0.1",
                  TlsOptions{.ca_file = pki.file("ca.pem")});
  return without_leading_zeros(station.server_certificate_serial());
}

void install(const TestPki& pki, const std::string& name) {
  using std::filesystem::copy_options;
  std::filesystem::copy_file(pki.file(name + ".pem"), pki.file("active.pem"),
                             copy_options::overwrite_existing);
  std::filesystem::copy_file(pki.file(name + ".key"), pki.file("active.key"),
                             copy_options::overwrite_existing);
}

}  // namespace

TEST_CASE("the server certificate is reloaded on SIGHUP without a restart", "[security][reload]") {
  TestPki pki;
  install(pki, "server");
  auto config = tls_config(pki);
  config.tls_cert_file = pki.file("active.pem");
  config.tls_key_file = pki.file("active.key");
  ServerFixture fixture(config);
  fixture.server().handle_signals();
  add_station(fixture, "SEC-P0", 0);
  const auto first = serial_of(pki.file("server.pem"));
  const auto second = serial_of(pki.file("server2.pem"));
  REQUIRE(first != second);
  CHECK(served_serial(fixture, pki) == first);

  TlsStation open;
  open.connect(fixture.server().ocpp_tls_port(), "SEC-OPEN", "ocpp2.0.1",
               TlsOptions{.ca_file = pki.file("ca.pem")});
  install(pki, "server2");
  REQUIRE(std::raise(SIGHUP) == 0);
  CHECK(ServerFixture::eventually([&] { return served_serial(fixture, pki) == second; }));
  // The connection opened before goes on with what it had.
  CHECK(is_result(open.call("BootNotification", boot_201())));

  // A broken certificate file is refused; the current certificate stays.
  {
    std::ofstream out(pki.file("active.pem"));
    out << "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n";
  }
  const auto errors = fixture.server().reload_certificates();
  REQUIRE(errors.size() == 1);
  CHECK(contains(errors[0], "active.pem"));
  CHECK(served_serial(fixture, pki) == second);
}
