// The CA that signs station certificates and the development PKI, checked with the openssl
// command line: what is signed verifies, what should not be signed is not.

#include "security/pki.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <thread>
#include <vector>

#include "test_pki.hpp"

using namespace chargegrid::server::security;
using chargegrid::testing::contains;
using chargegrid::testing::read_file;
using chargegrid::testing::shell;
using chargegrid::testing::TempDir;
using chargegrid::testing::TestPki;

TEST_CASE("the CA signs a station CSR as a TLS client certificate") {
  TestPki pki;
  auto ca = CertificateAuthority::load(pki.file("ca.pem"), pki.file("ca.key"));
  const auto issued =
      ca->sign_station_csr(read_file(pki.file("sign-good.csr")), "SEC-SIGN", "CN", 90);
  {
    std::ofstream out(pki.file("issued.pem"));
    out << issued.chain_pem;
  }
  CHECK(shell("openssl verify -purpose sslclient -CAfile " + pki.file("ca.pem") + " " +
              pki.file("issued.pem") + " > /dev/null") == 0);
  // Not for servers, not a CA.
  CHECK(shell("openssl verify -purpose sslserver -CAfile " + pki.file("ca.pem") + " " +
              pki.file("issued.pem") + " > /dev/null 2>&1") != 0);
  CHECK(shell("openssl x509 -in " + pki.file("issued.pem") +
              " -noout -ext basicConstraints | grep -q 'CA:FALSE'") == 0);
  CHECK(contains(issued.info.subject, "CN=SEC-SIGN"));
  CHECK(issued.info.issuer == ca->info().subject);
  const auto days = std::chrono::duration_cast<std::chrono::hours>(issued.info.not_after -
                                                                   issued.info.not_before);
  CHECK(days.count() / 24 == 90);
  CHECK(issued.info.fingerprint.size() == 64);
  // Each certificate gets its own serial.
  const auto again =
      ca->sign_station_csr(read_file(pki.file("sign-good.csr")), "SEC-SIGN", "CN", 90);
  CHECK(again.info.serial != issued.info.serial);
}

TEST_CASE("the CA refuses CSRs it must not sign") {
  TestPki pki;
  auto ca = CertificateAuthority::load(pki.file("ca.pem"), pki.file("ca.key"));
  auto rejects = [&](const std::string& csr, const std::string& station, const std::string& why) {
    try {
      ca->sign_station_csr(csr, station, "CN", 30);
      FAIL("signed: " + why);
    } catch (const CsrRejected& e) {
      CHECK(contains(e.what(), why));
    }
  };
  rejects(read_file(pki.file("sign-good.csr")), "SEC-OTHER", "not the station id");
  rejects(read_file(pki.file("sign-wrong-cn.csr")), "SEC-SIGN", "'NOT-SEC-SIGN'");
  rejects(read_file(pki.file("sign-weak.csr")), "SEC-SIGN", "RSA key of 1024 bits");
  rejects(read_file(pki.file("sign-good.csr")), "SEC-SIGN-X", "not the station id");
  rejects("garbage", "SEC-SIGN", "not a PEM certificate signing request");
  auto forged = read_file(pki.file("sign-good.csr"));
  const auto end = forged.find("-----END");
  forged[end - 10] = forged[end - 10] == 'A' ? 'B' : 'A';
  CHECK_THROWS_AS(ca->sign_station_csr(forged, "SEC-SIGN", "CN", 30), CsrRejected);
  // Another identity field can be required.
  try {
    ca->sign_station_csr(read_file(pki.file("sign-good.csr")), "SEC-SIGN", "serialNumber", 30);
    FAIL("signed without a serialNumber");
  } catch (const CsrRejected& e) {
    CHECK(contains(e.what(), "has no serialNumber"));
  }
}

TEST_CASE("a CA must come with its own key and be a CA") {
  TestPki pki;
  CHECK_THROWS_AS(CertificateAuthority::load(pki.file("ca.pem"), pki.file("rogue-ca.key")),
                  PkiError);
  CHECK_THROWS_AS(CertificateAuthority::load(pki.file("server.pem"), pki.file("server.key")),
                  PkiError);
  CHECK_THROWS_AS(CertificateAuthority::load(pki.file("missing.pem"), pki.file("ca.key")),
                  PkiError);
}

TEST_CASE("the development PKI is created once, private keys private") {
  TempDir dir;
  const auto pki = ensure_development_pki(dir.path() / "pki");
  CHECK(pki.created);
  CHECK(shell("openssl verify -purpose sslserver -verify_ip 127.0.0.1 -CAfile " +
              pki.ca_cert.string() + " " + pki.server_cert.string() + " > /dev/null") == 0);
  CHECK(shell("openssl verify -verify_hostname localhost -CAfile " + pki.ca_cert.string() + " " +
              pki.server_cert.string() + " > /dev/null") == 0);
  using std::filesystem::perms;
  for (const auto& key : {pki.ca_key, pki.server_key})
    CHECK((std::filesystem::status(key).permissions() & (perms::group_all | perms::others_all)) ==
          perms::none);
  // The development CA signs station certificates too.
  auto ca = CertificateAuthority::load(pki.ca_cert, pki.ca_key);
  CHECK(contains(ca->info().subject, "ChargeGrid development CA"));

  const auto before = read_file(pki.server_cert.string());
  const auto again = ensure_development_pki(dir.path() / "pki");
  CHECK_FALSE(again.created);
  CHECK(read_file(again.server_cert.string()) == before);
}

TEST_CASE("nodes starting together share one development PKI") {
  TempDir dir;
  std::vector<std::thread> nodes;
  std::atomic<int> created{0};
  for (int i = 0; i < 4; ++i)
    nodes.emplace_back([&] {
      if (ensure_development_pki(dir.path() / "pki").created) ++created;
    });
  for (auto& node : nodes) node.join();
  CHECK(created == 1);
  CHECK(shell("openssl verify -purpose sslserver -CAfile " + dir.file("pki/ca.pem") + " " +
              dir.file("pki/server.pem") + " > /dev/null") == 0);
  // The key on disk is the certificate's key.
  CHECK(shell("openssl x509 -in " + dir.file("pki/server.pem") + " -noout -pubkey > " +
              dir.file("a") + " && openssl pkey -in " + dir.file("pki/server.key") + " -pubout > " +
              dir.file("b") + " && cmp -s " + dir.file("a") + " " + dir.file("b")) == 0);
}
